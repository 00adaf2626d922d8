"""An approval is set-based: asking for it and approving it cost the same number of SQL statements
for 3 documents as for 12 (Issue 4: the 1,000-document approval was one eligibility query, one item
row and one document update per document).  Counted, not timed: the figures live in the benchmark.

The chunks the approval queues are caught (not signed) so that only the approval call is counted;
the test then checks that the documents, the items and the queue say what the rules say."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.db import session, transaction
from app.documents.models import Document
from app.workflow import tasks
from app.workflow.models import ApprovalItem
from tests.support.clock import FrozenClock
from tests.support.fixtures import clock  # noqa: F401 - fixture
from tests.support.statements import statements
from tests.support.workflow_world import Signer, World, build_world

pytestmark = pytest.mark.hsm


@pytest.fixture
def world(app: Flask, clock: FrozenClock, task_worker: object) -> World:  # noqa: F811
    return build_world(app, settle=True)


def _ask(signer: Signer, selection: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """POST /approvals; its answer and the number of statements it ran."""
    with statements() as ran:
        created = signer.client.post("/api/v1/approvals", json=selection)
    assert created.status_code == 201, created.get_json()
    body: dict[str, Any] = created.get_json()
    return body, len(ran)


def _confirm(
    signer: Signer, body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], int, list[tuple[str, list[str]]]]:
    """POST /approvals/{id}/passkey; its answer, its statements, and the chunks it queued (not run)."""
    queued: list[tuple[str, list[str]]] = []
    assertion = signer.authenticator.get(body["publicKey"])
    with monkeypatch.context() as patch:
        patch.setattr(tasks, "enqueue", lambda approval_id, ids: queued.append((approval_id, list(ids))))
        with statements() as ran:
            done = signer.client.post(
                f"/api/v1/approvals/{body['id']}/passkey", json={"credential": assertion}
            )
    assert done.status_code == 202, done.get_json()
    progress: dict[str, Any] = done.get_json()
    return progress, len(ran), queued


def _states(ids: list[str]) -> set[tuple[str, int, str | None]]:
    s = session()
    s.expire_all()
    rows = s.execute(
        select(Document.status, Document.step, Document.approval_id).where(Document.id.in_(ids))
    ).all()
    s.commit()
    return {tuple(r) for r in rows}  # type: ignore[misc]


def _item_states(approval_id: str) -> set[str]:
    s = session()
    states = set(s.scalars(select(ApprovalItem.status).where(ApprovalItem.approval_id == approval_id)))
    s.commit()
    return states


def test_the_teachers_approval_costs_the_same_statements_for_3_or_12_documents(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = world.upload(1)
    _confirm(world.teacher, _ask(world.teacher, {"document_ids": warm})[0], monkeypatch)  # first-use reads
    small = world.upload(3, start=10)
    body, asked_small = _ask(world.teacher, {"document_ids": small})
    progress, approved_small, queued = _confirm(world.teacher, body, monkeypatch)
    assert queued == [(body["id"], small)]
    assert _states(small) == {("approved", 1, body["id"])}
    large = world.upload(12, start=20)
    body, asked_large = _ask(world.teacher, {"class_id": world.klass.id, "step": 1})
    assert sorted(i["document_id"] for i in body["manifest"]["items"]) == sorted(large)
    progress, approved_large, queued = _confirm(world.teacher, body, monkeypatch)
    assert [(a, sorted(ids)) for a, ids in queued] == [(body["id"], sorted(large))]
    assert (progress["queued"], progress["failed"]) == (12, 0)
    assert _states(large) == {("approved", 1, body["id"])}
    assert _item_states(body["id"]) == {"queued"}
    assert (asked_large, approved_large) == (asked_small, approved_small)


def test_a_deputys_approval_is_set_based_too_and_still_fails_what_changed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = world.upload(13)
    world.teacher.approve({"document_ids": ids})  # signed for real: now waiting for the principal
    assert _states(ids) == {("waiting", 2, None)}
    created = world.principal.client.post(
        "/api/v1/delegations",
        json={"delegate_id": world.deputy.person.id, "starts_on": "2024-09-01", "ends_on": "2024-09-30"},
    )
    assert created.status_code == 201, created.get_json()
    deputy = world.deputy
    _confirm(deputy, _ask(deputy, {"document_ids": ids[:1]})[0], monkeypatch)  # first-use reads
    body, asked_small = _ask(deputy, {"document_ids": ids[1:4]})
    progress, approved_small, _ = _confirm(deputy, body, monkeypatch)
    assert (progress["queued"], progress["failed"]) == (3, 0)

    body, asked_large = _ask(deputy, {"document_ids": ids[4:]})
    items = body["manifest"]["items"]
    assert {i["on_behalf_of"] for i in items} == {world.principal.person.id}
    assert {tuple(i["stamp"][:2]) for i in items} == {("KT. HIỆU TRƯỞNG", "PHÓ HIỆU TRƯỞNG")}
    with transaction() as s:  # one document changes between the manifest and the passkey
        s.execute(update(Document).where(Document.id == ids[4]).values(sha256="0" * 64))
    progress, approved_large, queued = _confirm(deputy, body, monkeypatch)
    assert (progress["queued"], progress["failed"]) == (8, 1)
    (failed,) = [i for i in progress["items"] if i["status"] == "failed"]
    assert failed["document_id"] == ids[4] and failed["failure_code"] == "approval.document_changed"
    assert [(a, sorted(d)) for a, d in queued] == [(body["id"], sorted(ids[4:]))]  # the claim skips it
    assert _states(ids[5:]) == {("approved", 2, body["id"])}
    assert _states(ids[4:5]) == {("waiting", 2, None)}
    assert asked_large == asked_small
    assert approved_large == approved_small + 1  # + the one UPDATE that fails the changed item
