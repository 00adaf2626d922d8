"""Signing on the task queue: one task per chunk of an approval, and the sweep.

Tasks carry ids only (never the SAD: it is checked against the database's MAC by the task).
Duplicates are harmless: a document is claimed by exactly one worker (see ``signing.run``).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, current_app, shared_task
from celery._state import connect_on_app_finalize
from celery.signals import worker_ready
from sqlalchemy.exc import OperationalError

# documents per signing task: a chunk's fixed statements (claim, finish) spread over more documents;
# progress still moves every ~0.3 s, and a worker killed mid-chunk leaves at most this many to re-sign
CHUNK = 32


@shared_task(
    name="workflow.sign_batch",
    acks_late=True,
    # the database refused the chunk's transaction (a deadlock, a restart): its claim was given back,
    # so a retry signs it; what stays stuck anyway is the sweep's
    autoretry_for=(OperationalError,),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=5,
)
def sign_batch(approval_id: str, document_ids: list[str]) -> dict[str, int]:
    from app.workflow.signing import run

    return run(approval_id, document_ids)


@shared_task(name="workflow.sweep")
def sweep() -> dict[str, int]:
    from app.workflow.signing import sweep as do_sweep

    return do_sweep()


@shared_task(name="workflow.fan_out", acks_late=True)
def fan_out(approval_id: str, document_ids: list[str]) -> int:
    """Queue the chunks of a large approval: done by a worker, so the signer's approval call hands
    the broker one message, not one per chunk (63 for 1,000 documents: on the embedded broker each is
    a commit).  Run twice (a redelivery), it queues the chunks twice: harmless, a document is claimed
    by exactly one worker."""
    return _publish(approval_id, document_ids, CHUNK)


def enqueue(approval_id: str, document_ids: list[str], chunk: int = CHUNK) -> int:
    """Queue the documents of an approval: one chunk task, or one fan-out task that queues the chunks.
    Returns the number of messages sent now."""
    if len(document_ids) <= chunk:
        return _publish(approval_id, document_ids, chunk)
    fan_out.apply_async(args=[approval_id, document_ids])
    return 1


def _publish(approval_id: str, document_ids: list[str], chunk: int) -> int:
    n = 0
    for start in range(0, len(document_ids), chunk):
        sign_batch.apply_async(args=[approval_id, document_ids[start : start + chunk]])
        n += 1
    return n


@worker_ready.connect
def _sweep_on_start(**_: Any) -> None:
    """A worker that starts (again) picks up what a dead one left behind."""
    sweep.apply_async(countdown=5)


SWEEP_EVERY_SECONDS = 60.0


def schedule(celery: Celery) -> None:
    """Put the sweep in ``celery``'s beat schedule: work whose worker died, or whose queue message was
    lost (a broker restarted without persistence), is picked up within a minute of its lease ending."""
    entry = {"task": "workflow.sweep", "schedule": SWEEP_EVERY_SECONDS}
    celery.conf.beat_schedule = {**(celery.conf.beat_schedule or {}), "workflow.sweep": entry}


connect_on_app_finalize(schedule)
schedule(current_app)  # the app whose make_celery is importing this module
