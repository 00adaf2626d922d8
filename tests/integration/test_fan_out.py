"""A large approval hands the broker one message; a worker fans it out into chunks, each signed once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery
from flask import Flask
from sqlalchemy import func, select

from app.db import session
from app.documents.models import Document
from app.workflow import signing, tasks
from tests.support.workflow_world import World, build_world

pytestmark = pytest.mark.hsm


def _drain(celery: Celery) -> list[tuple[str, list[object]]]:
    """The signing tasks waiting on the broker (name, args), taken off it.  Other tasks (an inbox
    notice's push) are not this test's business."""
    found: list[tuple[str, list[object]]] = []
    with celery.connection_for_write() as conn:
        while (
            message := conn.default_channel.basic_get(celery.conf.task_default_queue, no_ack=True)
        ) is not None:
            if message.headers["task"].startswith("workflow."):
                found.append((message.headers["task"], message.decode()[0]))
    return found


@pytest.fixture
def queued(app: Flask) -> Iterator[Celery]:
    """Tasks go to the broker and stay there (no worker, not inline): the test runs them itself."""
    celery: Celery = app.extensions["celery"]
    eager, queue = celery.conf.task_always_eager, celery.conf.task_default_queue
    celery.conf.task_always_eager = False
    with celery.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue)
        conn.default_channel.queue_purge(queue)
    try:
        yield celery
    finally:
        with celery.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
        celery.conf.task_always_eager = eager


def test_a_class_batch_is_one_message_for_the_approval_and_one_per_chunk_from_the_worker(
    app: Flask, queued: Celery
) -> None:
    world: World = build_world(app)
    ids = world.upload(2 * tasks.CHUNK + 3)
    approval = world.teacher.approve({"document_ids": ids})
    assert _drain(queued) == [("workflow.fan_out", [approval["id"], ids])]  # one message from the call

    assert tasks.fan_out.run(approval["id"], ids) == 3  # what the worker does with it
    chunks = [ids[: tasks.CHUNK], ids[tasks.CHUNK : 2 * tasks.CHUNK], ids[2 * tasks.CHUNK :]]
    assert _drain(queued) == [("workflow.sign_batch", [approval["id"], chunk]) for chunk in chunks]

    for chunk_ids in chunks + chunks[:1]:  # a chunk delivered twice signs nothing twice
        signing.run(approval["id"], chunk_ids)
    counts = session().execute(
        select(Document.signature_count, func.count())
        .where(Document.id.in_(ids))
        .group_by(Document.signature_count)
    )
    assert dict(counts.all()) == {1: len(ids)}


def test_a_small_approval_is_queued_as_its_chunk_directly(app: Flask, queued: Celery) -> None:
    world: World = build_world(app)
    ids = world.upload(3)
    approval = world.teacher.approve({"document_ids": ids})
    assert _drain(queued) == [("workflow.sign_batch", [approval["id"], ids])]
