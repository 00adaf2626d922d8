"""Background work of the documents domain: webhook deliveries, retried with backoff."""

from __future__ import annotations

from typing import Any

from celery import shared_task


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
