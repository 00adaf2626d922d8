"""Acceptance through the real workflow: a school's quota is checked before the principal's batch is
approved, the upgraded plan lets it through, and the statement counts exactly the signatures the
signed PDFs carry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask

from app.billing import service, statements
from app.db import session
from app.documents.models import Document
from app.documents.storage import get_store
from app.keys.service import trust_roots
from app.people import rules
from app.signing.pdf import verify_pdf
from tests.conftest import wait_for
from tests.support.factories import make_person
from tests.support.workflow_world import build_world

pytestmark = pytest.mark.hsm


def _statuses(ids: list[str]) -> dict[str, int]:
    session().expire_all()
    counts: dict[str, int] = {}
    for doc in session().query(Document).filter(Document.id.in_(ids)):
        key = f"{doc.status}({doc.step})"
        counts[key] = counts.get(key, 0) + 1
    session().commit()
    return counts


def test_quota_refuses_the_principals_batch_until_the_upgrade(app: Flask, task_worker: object) -> None:
    world = build_world(app)
    school = world.school
    admin = make_person(school, roles=(rules.SCHOOL_ADMIN,))
    today = service.today()
    small = service.create_plan(
        actor_id=None, code="wf-5", name="Gói 5", scope="school", included_signatures=5, price_vnd=500_000
    )
    big = service.create_plan(
        actor_id=None, code="wf-50", name="Gói 50", scope="school", included_signatures=50, price_vnd=900_000
    )
    sub = service.create_subscription(
        actor_id=None,
        organisation_id=school.id,
        plan_id=small.id,
        period_start=today - timedelta(days=30),
        period_end=today + timedelta(days=300),
    )
    service.transition_subscription(sub.id, actor_id=None, status="active")

    ids = world.upload(3)
    world.teacher.approve({"class_id": world.klass.id})  # 3 signatures: 3/5
    wait_for(lambda: _statuses(ids) == {"waiting(2)": 3}, timeout=300)

    # the principal's batch is 3 signatures + 3 seals = 6 > 2 left: refused before approval
    refused = world.principal.client.post("/api/v1/approvals", json={"all_ready": True})
    assert refused.status_code == 402, refused.get_json()
    body = refused.get_json()
    assert body["code"] == "billing.quota_exceeded"
    assert {k: body["details"][k] for k in ("needed", "remaining", "included", "used")} == {
        "needed": 6,
        "remaining": 2,
        "included": 5,
        "used": 3,
    }
    assert _statuses(ids) == {"waiting(2)": 3}  # nothing signed

    service.change_plan(sub.id, actor_id=None, plan_id=big.id)
    world.principal.approve({"all_ready": True})
    wait_for(lambda: _statuses(ids) == {"completed(0)": 3}, timeout=300)

    in_pdfs = 0
    for doc in session().query(Document).filter(Document.id.in_(ids)):
        report = verify_pdf(get_store().get(doc.storage_key), trust_roots=trust_roots())
        assert report.valid, report.to_dict()
        in_pdfs += len(report.signatures)
    assert in_pdfs == 9
    st = statements.build_statement(viewer_id=admin.id, subscription_id=sub.id, month=today.strftime("%Y-%m"))
    assert st.signatures == in_pdfs == st.used_after
    assert st.lines[0].by_doc_type == {"hoc_ba": 9}
    assert st.total_vnd == 900_000 + 90_000


def test_approved_work_not_signed_yet_is_spoken_for(app: Flask) -> None:
    """Two batches of 3 on a plan of 5, both requested before either is approved: each fits alone.
    Once the first is approved (and not signed yet: nothing is metered), the second's approval signs
    nothing, its items say why and its documents stay waiting; a new request counts the first batch
    as pending."""
    from unittest import mock

    world = build_world(app)
    today = service.today()
    plan = service.create_plan(
        actor_id=None, code="wf-5b", name="Gói 5", scope="school", included_signatures=5, price_vnd=500_000
    )
    sub = service.create_subscription(
        actor_id=None,
        organisation_id=world.school.id,
        plan_id=plan.id,
        period_start=today - timedelta(days=30),
        period_end=today + timedelta(days=300),
    )
    service.transition_subscription(sub.id, actor_id=None, status="active")
    first, second = world.upload(3), world.upload(3, start=4)
    teacher = world.teacher
    requested = []
    for ids in (first, second):
        response = teacher.client.post("/api/v1/approvals", json={"document_ids": ids})
        assert response.status_code == 201, response.get_json()
        requested.append(response.get_json())
    answers = []
    with mock.patch("app.workflow.tasks.enqueue"):  # approved, not signed: the workers are late
        for body in requested:
            assertion = teacher.authenticator.get(body["publicKey"])
            done = teacher.client.post(
                f"/api/v1/approvals/{body['id']}/passkey", json={"credential": assertion}
            )
            assert done.status_code == 202, done.get_json()
            answers.append(done.get_json())
    assert _statuses(first) == {"approved(1)": 3}
    assert _statuses(second) == {"waiting(1)": 3}  # nothing of it approved
    refused = answers[1]
    assert refused["status"] == "finished" and refused["failed"] == 3, refused
    assert {(i["status"], i["failure_code"]) for i in refused["items"]} == {
        ("failed", "billing.quota_exceeded")
    }

    again = teacher.client.post("/api/v1/approvals", json={"document_ids": second})
    assert again.status_code == 402, again.get_json()
    details = again.get_json()["details"]
    assert {k: details[k] for k in ("needed", "pending", "remaining", "used")} == {
        "needed": 3,
        "pending": 3,
        "remaining": 5,
        "used": 0,
    }
