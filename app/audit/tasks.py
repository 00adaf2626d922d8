"""The periodic checkpoint of the audit chain (Celery beat runs it; ``flask audit checkpoint`` by hand)."""

from __future__ import annotations

from celery import Celery, current_app, shared_task
from celery._state import connect_on_app_finalize

CHECKPOINT_EVERY_SECONDS = 3600.0


@shared_task(name="audit.checkpoint", ignore_result=True)
def checkpoint() -> int | None:
    """Seal the chain head if it moved; returns the sealed sequence number."""
    from app.audit.checkpoints import create_checkpoint

    made = create_checkpoint()
    return made.seq if made is not None else None


def schedule(celery: Celery) -> None:
    """Put the checkpoint in ``celery``'s beat schedule (every app, like ``shared_task`` does)."""
    entry = {"task": "audit.checkpoint", "schedule": CHECKPOINT_EVERY_SECONDS}
    celery.conf.beat_schedule = {**(celery.conf.beat_schedule or {}), "audit.checkpoint": entry}


connect_on_app_finalize(schedule)
schedule(current_app)  # the app whose make_celery is importing this module
