"""The task queue: Celery, with Redis in production and CI and an embedded broker by default.

The embedded default is kombu's SQLAlchemy transport on a SQLite file under ``var/`` — no server to
install, and it survives restarts.  Tasks run inside a Flask application context.  Workers ack late
and re-queue work whose worker died, so a killed worker loses nothing; the tasks themselves are
idempotent (see each domain's ``tasks.py``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init
from flask import Flask
from kombu.transport import sqlalchemy as kombu_sqlalchemy

from app.settings import Settings


def make_celery(app: Flask) -> Celery:
    settings: Settings = app.extensions["signet.settings"]

    class AppContextTask(Task):
        abstract = True

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return super().__call__(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=AppContextTask)
    celery.conf.update(
        broker_url=settings.celery_broker_url,
        result_backend=settings.celery_result_backend,
        task_ignore_result=settings.celery_result_backend is None,
        task_always_eager=settings.celery_always_eager,
        task_default_queue=settings.celery_queue,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=2,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings.celery_broker_url),
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
    )
    celery.set_default()
    app.extensions["celery"] = celery
    from app.discovery import domain_modules

    domain_modules("tasks")
    return celery


# The embedded broker is polled: kombu's default of once a second left a worker idle for up to a second
# between two chunks of a batch (1,000 transcripts took 35 s where Redis takes 10).  An idle worker's
# poll is one indexed SELECT on a local file.  (A class attribute: kombu's SQLAlchemy transport hands
# every transport option, polling_interval included, to create_engine, which refuses it.)
EMBEDDED_POLL_SECONDS = 0.05
kombu_sqlalchemy.Transport.polling_interval = EMBEDDED_POLL_SECONDS


def _transport_options(broker_url: str) -> dict[str, Any]:
    if broker_url.startswith("redis"):
        return {"visibility_timeout": 3600}  # a task whose worker died is redelivered after this (acks late)
    return {}


@worker_process_init.connect
def _open_hsm_after_fork(**_: Any) -> None:
    """Each worker process logs in to the token itself, after the fork."""
    from app.keys import provider

    with contextlib.suppress(Exception):  # the task that needs the HSM reports HsmUnavailable
        provider.hsm_for(Settings.from_env()).status()
