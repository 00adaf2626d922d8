"""When transcripts arrive, their next signer hears about it once per batch, not once per document."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app.db import session
from app.notify.models import Notice
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
