"""Periodic lifecycle work: renew certificates within 30 days of expiry, once a day.

Celery beat runs it (``.ci/serve`` starts the worker with ``-B``); ``flask lifecycle renew`` does the
same by hand.  Running it more often is harmless: a renewed credential is never renewed twice.
"""

from __future__ import annotations

from celery import Celery, current_app, shared_task
from celery._state import connect_on_app_finalize

RENEW_EVERY_SECONDS = 24 * 3600.0
RENEW_WITHIN_DAYS = 30


@shared_task(name="lifecycle.renew_expiring", ignore_result=True)
def renew_expiring(days: int = RENEW_WITHIN_DAYS) -> dict[str, int]:
    from app.lifecycle.service import renew_expiring as renew

    return {"renewed": len(renew(days=days))}


def schedule(celery: Celery) -> None:
    """Put the daily renewal in ``celery``'s beat schedule (every app, like ``shared_task`` does)."""
    entry = {
        "task": "lifecycle.renew_expiring",
        "schedule": RENEW_EVERY_SECONDS,
        "kwargs": {"days": RENEW_WITHIN_DAYS},
    }
    celery.conf.beat_schedule = {**(celery.conf.beat_schedule or {}), "lifecycle.renew_expiring": entry}


connect_on_app_finalize(schedule)
schedule(current_app)  # the app whose make_celery is importing this module
