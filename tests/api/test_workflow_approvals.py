"""The SCAL2 checklist for approvals (DOMAIN.md §6): the SAD is bound to the exact documents, the
signer and the key; single use; expiry; a document changed after the manifest is not signed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update

from app.db import session, transaction
from app.documents.models import Document
from app.workflow import signing
from app.workflow.models import Approval
from tests.support.clock import FrozenClock
from tests.support.fixtures import clock  # noqa: F401 - fixture
from tests.support.workflow_world import World, build_world, settle

pytestmark = pytest.mark.hsm


@pytest.fixture
def world(app: Flask, clock: FrozenClock, task_worker: object) -> World:  # noqa: F811
    return build_world(app, settle=True)


def _outcome(world: World, approval_id: str) -> dict[str, Any]:
    """The approval's progress once its signing is over (inline: at once; broker run: after the worker)."""
    settle()
    response = world.teacher.client.get(f"/api/v1/approvals/{approval_id}")
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _doc(doc_id: str) -> Document:
    session().expire_all()
    doc = session().get(Document, doc_id)
    assert doc is not None
    session().commit()
    return doc


def _request(world: World, body: dict[str, Any]) -> dict[str, Any]:
    response = world.teacher.client.post("/api/v1/approvals", json=body)
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def _approved_not_signed(world: World, app: Flask, ids: list[str]) -> dict[str, Any]:
    """Approve ``ids`` with the passkey but queue nothing: the test runs the signing itself."""
    from unittest import mock

    celery = app.extensions["celery"]
    eager = celery.conf.task_always_eager
    celery.conf.task_always_eager = False
    world.teacher.settle = False
    try:
        with mock.patch("app.workflow.tasks.enqueue"):
            return world.teacher.approve({"document_ids": ids})
    finally:
        celery.conf.task_always_eager = eager


def test_the_manifest_lists_exact_hashes_and_the_challenge_commits_to_it(world: World) -> None:
    a, b = world.upload(2)
    body = _request(world, {"document_ids": [a, b]})
    items = body["manifest"]["items"]
    assert [(i["document_id"], i["sha256"]) for i in items] == [(a, _doc(a).sha256), (b, _doc(b).sha256)]
    assert items[0]["stamp"][-2] == "Ký bởi: Nguyễn Thị Hồng Vân"
    assert body["publicKey"]["userVerification"] == "required"
    assert len(body["publicKey"]["allowCredentials"]) == 1
    assert body["totp_allowed"] is False


def test_an_approval_for_a_and_b_cannot_sign_c(world: World, app: Flask) -> None:
    a, b, c = world.upload(3)
    result = world.teacher.approve({"document_ids": [a, b]})
    assert (_outcome(world, result["id"])["done"], result["total"]) == (2, 2)
    assert _doc(c).status == "waiting" and _doc(c).signature_count == 0
    # a worker handed C under the approval of {A, B} (a forged or confused task) signs nothing
    with transaction() as s:
        s.execute(
            update(Document)
            .where(Document.id == c)
            .values(status="approved", step=1, approval_id=result["id"])
        )
    assert signing.run(result["id"], [c]) == {"signed": 0, "failed": 0, "completed": 0}
    assert _doc(c).signature_count == 0


def test_an_approval_cannot_be_used_twice(world: World) -> None:
    (a,) = world.upload(1)
    body = _request(world, {"document_ids": [a]})
    assertion = world.teacher.authenticator.get(body["publicKey"])
    first = world.teacher.client.post(
        f"/api/v1/approvals/{body['id']}/passkey", json={"credential": assertion}
    )
    assert first.status_code == 202
    settle()
    again = world.teacher.authenticator.get(body["publicKey"])
    second = world.teacher.client.post(f"/api/v1/approvals/{body['id']}/passkey", json={"credential": again})
    assert second.status_code == 409
    assert second.get_json()["code"] == "approval.already_used"
    assert _doc(a).signature_count == 1


def test_a_failed_assertion_spends_the_challenge(world: World) -> None:
    (a,) = world.upload(1)
    body = _request(world, {"document_ids": [a]})
    world.teacher.authenticator.user_verified = False  # no PIN / biometric: UV flag missing
    bad = world.teacher.client.post(
        f"/api/v1/approvals/{body['id']}/passkey",
        json={"credential": world.teacher.authenticator.get(body["publicKey"])},
    )
    assert bad.status_code == 401 and bad.get_json()["code"] == "auth.failed"
    world.teacher.authenticator.user_verified = True
    retry = world.teacher.client.post(
        f"/api/v1/approvals/{body['id']}/passkey",
        json={"credential": world.teacher.authenticator.get(body["publicKey"])},
    )
    assert retry.status_code == 409
    assert _doc(a).status == "waiting"


def test_an_expired_challenge_is_refused(world: World, clock: FrozenClock) -> None:  # noqa: F811
    (a,) = world.upload(1)
    body = _request(world, {"document_ids": [a]})
    clock.advance(minutes=5, seconds=1)
    late = world.teacher.client.post(
        f"/api/v1/approvals/{body['id']}/passkey",
        json={"credential": world.teacher.authenticator.get(body["publicKey"])},
    )
    assert late.status_code == 410 and late.get_json()["code"] == "approval.expired"
    assert _doc(a).status == "waiting" and _doc(a).signature_count == 0


def test_a_document_changed_after_the_manifest_is_not_signed_and_says_why(world: World) -> None:
    a, b = world.upload(2)
    body = _request(world, {"document_ids": [a, b]})
    replaced = world.clerk.patch(f"/api/v1/documents/{b}", json={"student_name": "Học sinh đổi tên"})
    assert replaced.status_code == 200
    with transaction() as s:  # the file of B changes (a clerk replaced it) after the manifest was built
        s.execute(update(Document).where(Document.id == b).values(sha256="f" * 64))
    started = world.teacher.client.post(
        f"/api/v1/approvals/{body['id']}/passkey",
        json={"credential": world.teacher.authenticator.get(body["publicKey"])},
    )
    assert started.status_code == 202, started.get_json()
    result = _outcome(world, body["id"])
    assert (result["done"], result["failed"]) == (1, 1)
    failed = next(i for i in result["items"] if i["document_id"] == b)
    assert failed["failure_code"] == "approval.document_changed"
    assert _doc(b).signature_count == 0 and _doc(a).signature_count == 1


def test_a_document_changed_after_approval_fails_at_signing_time(world: World, app: Flask) -> None:
    (a,) = world.upload(1)
    result = _approved_not_signed(world, app, [a])  # approve now, sign later
    with transaction() as s:
        s.execute(update(Document).where(Document.id == a).values(sha256="e" * 64))
    assert signing.run(result["id"], [a])["failed"] == 1
    doc = _doc(a)
    assert (doc.status, doc.failure_code, doc.signature_count) == ("failed", "approval.document_changed", 0)


def test_nobody_approves_for_someone_else(world: World) -> None:
    a, b = world.upload(2)
    refused = world.principal.client.post("/api/v1/approvals", json={"document_ids": [a]})
    assert refused.status_code == 403 and refused.get_json()["code"] == "approval.not_assigned"
    clerk = world.clerk.post("/api/v1/approvals", json={"document_ids": [a]})
    assert clerk.status_code == 403
    body = _request(world, {"document_ids": [b]})
    # the principal holds the teacher's approval id: it does not exist for them
    own = world.principal.authenticator.credentials[0]
    hijack = world.principal.client.post(
        f"/api/v1/approvals/{body['id']}/passkey",
        json={"credential": world.principal.authenticator.get(body["publicKey"], credential=own)},
    )
    assert hijack.status_code == 404


def test_totp_approves_one_document_unless_the_school_allows_batches(world: World) -> None:
    a, b = world.upload(2)
    body = _request(world, {"document_ids": [a, b]})
    refused = world.teacher.client.post(f"/api/v1/approvals/{body['id']}/totp", json={"code": "123456"})
    assert refused.status_code == 403 and refused.get_json()["code"] == "approval.totp_batch_forbidden"
    assert session().get(Approval, body["id"]).status == "pending"  # type: ignore[union-attr]


def test_reject_needs_a_reason_and_sends_it_back_to_the_clerk(world: World) -> None:
    (a,) = world.upload(1)
    empty = world.teacher.client.post(f"/api/v1/documents/{a}/reject", json={"reason": ""})
    assert empty.status_code == 422
    not_mine = world.principal.client.post(f"/api/v1/documents/{a}/reject", json={"reason": "Sai điểm"})
    assert not_mine.status_code == 403
    done = world.teacher.client.post(f"/api/v1/documents/{a}/reject", json={"reason": "Sai điểm môn Toán"})
    assert done.status_code == 200
    assert (done.get_json()["status"], done.get_json()["rejected_reason"]) == (
        "rejected",
        "Sai điểm môn Toán",
    )
    back = world.clerk.post(f"/api/v1/documents/{a}/resubmit")
    assert back.status_code == 200 and back.get_json()["status"] == "waiting"


def test_delegate_signs_for_the_principal_with_kt_stamp(world: World, clock: FrozenClock) -> None:  # noqa: F811
    (a,) = world.upload(1)
    world.teacher.approve({"document_ids": [a]})
    created = world.principal.client.post(
        "/api/v1/delegations",
        json={"delegate_id": world.deputy.person.id, "starts_on": "2024-09-01", "ends_on": "2024-09-30"},
    )
    assert created.status_code == 201, created.get_json()
    result = world.deputy.approve({"all_ready": True})
    item = result["request"]["manifest"]["items"][0]
    assert item["stamp"][:2] == ["KT. HIỆU TRƯỞNG", "PHÓ HIỆU TRƯỞNG"]
    assert item["on_behalf_of"] == world.principal.person.id
    assert _doc(a).status == "completed"
    revoked = world.principal.client.post(f"/api/v1/delegations/{created.get_json()['id']}/revoke")
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]


def test_a_chunk_the_database_refuses_is_given_back_and_signed_once_on_retry(
    world: World, app: Flask
) -> None:
    from unittest import mock

    from sqlalchemy.exc import OperationalError

    a, b = world.upload(2)
    result = _approved_not_signed(world, app, [a, b])  # approve now, sign below
    deadlock = OperationalError("UPDATE inbox_notices ...", {}, Exception("deadlock detected"))
    with mock.patch.object(signing, "_finish", side_effect=deadlock), pytest.raises(OperationalError):
        signing.run(result["id"], [a, b])
    assert {(_doc(d).status, _doc(d).lease_token, _doc(d).signature_count) for d in (a, b)} == {
        ("approved", None, 0)  # given back at once, nothing stored: not waiting for the lease to expire
    }
    assert signing.run(result["id"], [a, b])["signed"] == 2  # the task's retry
    assert {(_doc(d).status, _doc(d).signature_count) for d in (a, b)} == {("waiting", 1)}


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param({"sad_mac": "0" * 64}, id="mac-forged"),
        pytest.param({"sad_sealed": None}, id="sad-wiped"),
        pytest.param("expired", id="expired"),
        pytest.param("manifest-edited", id="manifest-edited"),
    ],
)
def test_signing_rechecks_the_activation_data_and_the_manifest(
    world: World, app: Flask, tamper: dict[str, Any] | str
) -> None:
    a, b = world.upload(2)
    result = _approved_not_signed(world, app, [a, b])
    with transaction() as s:
        approval = s.get(Approval, result["id"])
        assert approval is not None
        if tamper == "expired":
            assert approval.sad_expires_at is not None
            values: dict[str, Any] = {"sad_expires_at": approval.sad_expires_at.replace(year=2000)}
        elif tamper == "manifest-edited":  # another signer's stamp, the hash left as it was
            manifest = dict(approval.manifest)
            manifest["signer"] = {**manifest["signer"], "name": "Người Khác"}
            values = {"manifest": manifest}
        else:
            assert isinstance(tamper, dict)
            values = tamper
        s.execute(update(Approval).where(Approval.id == result["id"]).values(**values))
    assert signing.run(result["id"], [a, b]) == {"signed": 0, "failed": 2, "completed": 0}
    for doc_id in (a, b):
        doc = _doc(doc_id)
        assert (doc.status, doc.failure_code, doc.signature_count) == ("failed", "approval.sad_invalid", 0)


def test_an_untouched_approval_signs_under_the_same_checks(world: World, app: Flask) -> None:
    a, b = world.upload(2)
    result = _approved_not_signed(world, app, [a, b])
    assert signing.run(result["id"], [a, b]) == {"signed": 2, "failed": 0, "completed": 0}
