"""When transcripts arrive, their next signer hears about it once per batch, not once per document."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import get_db, new_id, session, utcnow
from app.notify.models import Notice
from app.notify.service import _TO_PUSH, notify_work_waiting
from tests.conftest import wait_for
from tests.support.workflow_world import build_world

pytestmark = pytest.mark.hsm


def _notices(person_id: str) -> list[Notice]:
    session().expire_all()
    return list(session().execute(select(Notice).where(Notice.person_id == person_id)).scalars())


def test_a_batch_gives_the_teacher_one_notice_with_the_count(app: Flask) -> None:
    world = build_world(app)
    world.upload(12)
    notices = _notices(world.teacher.person.id)
    assert [(n.kind, n.count, n.subject, n.url) for n in notices] == [
        ("work_waiting", 12, world.klass.name, f"/inbox/{world.klass.id}")
    ]
    assert _notices(world.principal.person.id) == []


def test_a_new_batch_after_reading_starts_a_new_notice(app: Flask) -> None:
    world = build_world(app)
    world.upload(2)
    world.upload(3, start=10)  # still unread: the same notice counts on
    assert [n.count for n in _notices(world.teacher.person.id)] == [5]
    listed = world.teacher.client.get("/api/v1/notices").get_json()
    assert world.teacher.client.post(f"/api/v1/notices/{listed[0]['id']}/read").status_code == 204
    world.upload(4, start=20)
    assert sorted(n.count for n in _notices(world.teacher.person.id)) == [4, 5]


def test_the_principal_hears_when_the_teacher_has_signed(app: Flask, task_worker: object) -> None:
    world = build_world(app)
    ids = world.upload(3)
    world.teacher.approve({"document_ids": ids})

    def principal_told() -> bool:
        notices = _notices(world.principal.person.id)
        return [(n.kind, n.count) for n in notices] == [("work_waiting", 3)]

    wait_for(principal_told, timeout=120)


def _arrive(s: Any, person_id: str, count: int) -> list[str]:
    """``count`` transcripts arrive for ``person_id`` in session ``s``: the pushes it would send."""
    notify_work_waiting(
        s, person_id=person_id, tenant_id=None, group="class-3a:1", subject="3A", url="/inbox/3a", count=count
    )
    return list(s.info.get(_TO_PUSH, []))


def _commit_quietly(s: Any) -> None:
    s.info.pop(_TO_PUSH, None)  # what would be pushed was read above; no push service here
    s.commit()
    s.close()


def test_two_transactions_that_find_no_unread_notice_make_one(app: Flask) -> None:
    """Two signing chunks finish for the same class at once; neither sees the other's notice (on
    PostgreSQL both find none unread): one notice, both counts, one push."""
    person_id = new_id()
    first, second = get_db().sessionmaker(), get_db().sessionmaker()
    pushes: dict[str, list[str]] = {"first": _arrive(first, person_id, 2)}  # not committed yet

    def other_chunk() -> None:
        pushes["second"] = _arrive(second, person_id, 3)
        _commit_quietly(second)

    thread = threading.Thread(target=other_chunk)
    thread.start()
    time.sleep(0.5)  # the other chunk is in its transaction (or waiting for ours)
    _commit_quietly(first)
    thread.join(30)
    assert not thread.is_alive()
    assert [n.count for n in _notices(person_id)] == [5]
    assert len(pushes["first"]) + len(pushes["second"]) == 1


def test_a_notice_already_read_is_never_counted_on(app: Flask) -> None:
    person_id = new_id()
    s = session()
    # a read notice that holds the name the next one would take (one notice so far: ":1")
    s.add(
        Notice(
            person_id=person_id,
            kind="work_waiting",
            dedupe_key="work_waiting:class-3a:1:1",
            count=7,
            url="/",
            read_at=utcnow(),
        )
    )
    s.commit()
    assert _arrive(s, person_id, 4)  # a new notice, pushed
    s.commit()
    assert sorted((n.count, n.read_at is None) for n in _notices(person_id)) == [(4, True), (7, False)]
