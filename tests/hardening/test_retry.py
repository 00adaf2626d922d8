"""POST /api/v1/documents/{id}/retry: a failed signature is tried again through the state machine's
``retry`` event, by the school's clerk or admin only, and the retry is audited."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import transaction
from app.documents.models import Document
from app.people import rules
from tests.support.factories import make_person, make_school, sign_in
from tests.support.workflow_world import World, build_world


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def _fail(doc_id: str, step: int) -> None:
    with transaction() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None
        doc.status, doc.step = "failed", step
        doc.failure_code, doc.failure_message = "hsm.unavailable", "The HSM token is unavailable."


def test_clerk_retries_a_failed_signature_and_it_waits_for_its_signer_again(app: Flask, world: World) -> None:
    (doc_id,) = world.upload(1)
    _fail(doc_id, 1)

    response = world.clerk.post(f"/api/v1/documents/{doc_id}/retry")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["step"]) == ("waiting", 1)
    with transaction() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.failure_code is None and doc.failure_message is None
        event = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "document.retried", AuditEvent.target_id == doc_id)
        ).one()
        assert event.actor_id == world.clerk.person.id
        assert event.details["failure_code"] == "hsm.unavailable"
    # the teacher sees it in the inbox again
    inbox = world.teacher.client.get("/api/v1/inbox").get_json()
    assert doc_id in str(inbox)


def test_retry_is_refused_unless_failed_and_unless_clerk_or_admin_of_the_school(
    app: Flask, world: World
) -> None:
    (doc_id,) = world.upload(1)
    not_failed = world.clerk.post(f"/api/v1/documents/{doc_id}/retry")
    assert not_failed.status_code == 409
    assert not_failed.get_json()["code"] == "document.transition_refused"

    _fail(doc_id, 1)
    assert world.teacher.client.post(f"/api/v1/documents/{doc_id}/retry").status_code == 403
    other = make_school("Trường Tiểu học Khác", "KHAC-1")
    stranger = sign_in(app, make_person(other, roles=(rules.CLERK,)))
    assert stranger.post(f"/api/v1/documents/{doc_id}/retry").status_code == 404
    assert app.test_client().post(f"/api/v1/documents/{doc_id}/retry").status_code == 401
