"""Push delivery on the task queue."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from app.notify import service


@shared_task(name="notify.deliver_notice", ignore_result=True)
def deliver_notice(notice_id: str) -> None:
    service.deliver(notice_id, settings=current_app.extensions["signet.settings"])
