"""Credential lifecycle on the real SoftHSM token: a leaver, renewals, the school seal."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import UserSession
from app.db import session, transaction, utcnow
from app.documents.models import Document
from app.keys import service as keys
from app.keys.hsm import KeyNotFound
from app.keys.models import Credential
from app.keys.provider import get_hsm
from app.lifecycle import seal, service
from app.lifecycle.errors import NotAllowedHere, SealRequestDecided
from app.lifecycle.models import CredentialRenewal
from app.notify.models import Notice
from app.people.models import Person
from app.signing.pdf import Level, sign_pdf, verify_pdf
from tests.integration.test_billing_service import make_person, make_tree

pytestmark = pytest.mark.hsm

PDF = Path(__file__).resolve().parent.parent / "fixtures" / "pdfs" / "transcript_reportlab.pdf"


def _credential_for(person: Person) -> Credential:
    return keys.create_credential(
        owner_kind="person",
        owner_id=person.id,
        owner_name=person.display_name,
        tenant_id=person.tenant_id,
        organisation="Trường Tiểu học Số 1",
    )


def _waiting_document(school_id: str, teacher_id: str) -> Document:
    doc = Document(
        id=str(uuid.uuid4()),
        tenant_id=school_id,
        status="waiting",
        step=1,
        teacher_id=teacher_id,
        class_name="3A",
        student_code=f"HS{uuid.uuid4().hex[:8]}",
        original_sha256="0" * 64,
        sha256="0" * 64,
        storage_key="k",
        size=1,
        verify_token=uuid.uuid4().hex,
    )
    with transaction() as s:
        s.add(doc)
    return doc


def test_offboarding_destroys_the_key_lists_the_certificate_and_keeps_old_signatures_valid(
    app: Flask,
) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    admin = tree.admins[school.id]
    teacher = make_person(school, "homeroom_teacher", "Trần Văn Bình")
    credential = _credential_for(teacher)
    material = keys.signing_material(credential.id)
    signed_before = sign_pdf(PDF.read_bytes(), material=material, hsm=get_hsm(), level=Level.BB)
    doc = _waiting_document(school.id, teacher.id)
    with transaction() as s:
        s.add(
            UserSession(
                person_id=teacher.id,
                tenant_id=school.id,
                token_hash=uuid.uuid4().hex,
                method="passkey",
                expires_at=utcnow() + timedelta(hours=8),
            )
        )

    result = service.offboard(person_id=teacher.id, actor_id=admin.id)

    # the key is gone from the token, asked through PKCS#11
    with pytest.raises(KeyNotFound):
        get_hsm().find(credential.hsm_key_id)
    # the certificate is on the development CA's CRL
    crl = x509.load_der_x509_crl(keys.dev_ca_crl_der())
    serial = x509.load_der_x509_certificate(material.certificate_der).serial_number
    revoked = crl.get_revoked_certificate_by_serial_number(serial)
    assert revoked is not None
    # the account is suspended and its sessions are dead
    s = session()
    s.expire_all()
    assert s.get(Person, teacher.id).status == "suspended"  # type: ignore[union-attr]
    assert all(x.revoked_at is not None for x in s.scalars(select(UserSession)))
    # the waiting transcript is handed to the school admin
    assert result.revoked_credential_ids == [credential.id]
    assert [h["document_id"] for h in result.handed_over] == [doc.id]
    notice = s.scalars(select(Notice).where(Notice.person_id == admin.id)).one()
    assert (notice.kind, notice.count, notice.subject) == ("work_handed_over", 1, "Trần Văn Bình")
    actions = set(s.scalars(select(AuditEvent.action)))
    assert {"lifecycle.offboard", "lifecycle.credential_revoked"} <= actions
    # a transcript signed before the teacher left still validates
    report = verify_pdf(signed_before, trust_roots=keys.trust_roots())
    assert report.valid, report.to_dict()
    assert report.signatures[0].signer == "Trần Văn Bình"


def test_only_a_school_admin_or_an_operator_offboards(app: Flask) -> None:
    tree = make_tree(2)
    teacher = make_person(tree.schools[0], "teacher")
    other_admin = tree.admins[tree.schools[1].id]
    with pytest.raises(NotAllowedHere):
        service.offboard(person_id=teacher.id, actor_id=other_admin.id)
    with pytest.raises(NotAllowedHere):
        service.offboard(person_id=teacher.id, actor_id=teacher.id)
    assert service.offboard(person_id=teacher.id, actor_id=tree.operator.id).revoked_credential_ids == []


def test_renewal_makes_a_new_key_and_keeps_the_old_certificate(app: Flask) -> None:
    tree = make_tree(1)
    teacher = make_person(tree.schools[0], "teacher", "Lê Thị Mai")
    old = _credential_for(teacher)
    assert old.not_after is not None
    far = old.not_after - timedelta(days=31)
    assert service.renew_expiring(days=30, now=far) == []  # not yet
    near = old.not_after - timedelta(days=29)
    renewed = service.renew_expiring(days=30, now=near)
    assert [r.old_credential_id for r in renewed] == [old.id]
    new = keys.get_credential(renewed[0].new_credential_id)
    assert new.hsm_key_id != old.hsm_key_id and new.status == "active"
    # issued now, with the full validity: never ends before the old one (same second in a fast run)
    assert new.not_after is not None and new.not_after >= old.not_after
    assert new.serial_hex != old.serial_hex
    get_hsm().find(old.hsm_key_id)  # the old key and certificate stay, for verification
    assert keys.get_credential(old.id).status == "active"
    # idempotent: a renewed credential is never renewed again (the test clock is frozen near the old
    # expiry, so only the new certificate, issued a moment later, is still in the window)
    again = service.renew_expiring(days=30, now=near)
    assert old.id not in [r.old_credential_id for r in again]
    assert (
        session().scalar(
            select(CredentialRenewal.new_credential_id).where(CredentialRenewal.old_credential_id == old.id)
        )
        == new.id
    )
    kinds = set(session().scalars(select(Notice.kind).where(Notice.person_id == teacher.id)))
    assert kinds == {"certificate_renewed"}


def test_the_seal_needs_the_principals_approval(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    admin = tree.admins[school.id]
    principal = make_person(school, "principal", "Hiệu trưởng")
    teacher = make_person(school, "teacher")
    with pytest.raises(NotAllowedHere):
        seal.request_seal(tenant_id=school.id, actor_id=teacher.id)
    request = seal.request_seal(tenant_id=school.id, actor_id=admin.id)
    assert seal.current_seal(school.id) is None
    with pytest.raises(NotAllowedHere):  # the admin cannot approve their own request
        seal.decide_seal_request(request_id=request.id, principal_id=admin.id, approve=True)
    decided = seal.decide_seal_request(request_id=request.id, principal_id=principal.id, approve=True)
    first = seal.current_seal(school.id)
    assert first is not None and decided.credential_id == first.id and first.purpose == "seal"
    with pytest.raises(SealRequestDecided):
        seal.decide_seal_request(request_id=request.id, principal_id=principal.id, approve=True)
    # rotation after a compromise: a new seal, the old one revoked and its key destroyed
    rotation = seal.request_seal(tenant_id=school.id, actor_id=admin.id, kind="rotate")
    seal.decide_seal_request(
        request_id=rotation.id, principal_id=principal.id, approve=True, compromised=True
    )
    second = seal.current_seal(school.id)
    assert second is not None and second.id != first.id
    assert keys.get_credential(first.id).status == "revoked"
    with pytest.raises(KeyNotFound):
        get_hsm().find(first.hsm_key_id)
    actions = list(
        session().scalars(select(AuditEvent.action).where(AuditEvent.action.like("lifecycle.seal%")))
    )
    assert actions.count("lifecycle.seal.approve") == 2 and actions.count("lifecycle.seal.issued") == 2
