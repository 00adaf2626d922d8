"""Background work of the documents domain: webhook deliveries, retried with backoff, and the sweep
that queues again the deliveries whose task was lost."""

from __future__ import annotations

from typing import Any

from celery import Celery, current_app, shared_task
from celery._state import connect_on_app_finalize

WEBHOOK_SWEEP_EVERY_SECONDS = 300.0


@shared_task(name="documents.deliver_webhook", bind=True, max_retries=8, acks_late=True)
def deliver_webhook(self: Any, delivery_id: str) -> None:
    from flask import current_app

    from app.documents.webhooks import MAX_ATTEMPTS, deliver

    if deliver(delivery_id):
        return
    if self.request.is_eager:
        # run inline (no broker): retry at once, as Celery's own eager retry does; a raised Retry would
        # escape (eager propagates) into the approval request that completed the transcript, as a 500
        for _ in range(MAX_ATTEMPTS):
            if deliver(delivery_id):
                return
        return
    first = current_app.extensions["signet.settings"].webhook_retry_seconds
    raise self.retry(countdown=min(3600.0, first * 2**self.request.retries))


@shared_task(name="documents.sweep_webhooks", ignore_result=True)
def sweep_webhooks() -> int:
    """Deliveries whose task was lost are queued again (see ``webhooks.sweep_pending``)."""
    from app.documents.webhooks import sweep_pending

    return sweep_pending()


def schedule(celery: Celery) -> None:
    entry = {"task": "documents.sweep_webhooks", "schedule": WEBHOOK_SWEEP_EVERY_SECONDS}
    celery.conf.beat_schedule = {**(celery.conf.beat_schedule or {}), "documents.sweep_webhooks": entry}


connect_on_app_finalize(schedule)
schedule(current_app)  # the app whose make_celery is importing this module
