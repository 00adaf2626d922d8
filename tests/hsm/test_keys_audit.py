"""Every key event is in the audit trail (SCAL2 §7): generation, issuance, CSR, revocation, destruction."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import verify_chain
from app.db import session
from app.keys import service

pytestmark = pytest.mark.hsm


def _actions(credential_id: str) -> list[str]:
    session().expire_all()
    rows = session().execute(
        select(AuditEvent.action).where(AuditEvent.target_id == credential_id).order_by(AuditEvent.seq)
    )
    return list(rows.scalars())


def test_key_lifecycle_is_audited(app: Flask) -> None:
    credential = service.create_credential(
        owner_kind="person", owner_name="Nguyễn Thị Hồng Vân", actor_id="admin-1"
    )
    assert _actions(credential.id) == ["key.generated", "certificate.issued"]
    service.generate_csr(credential.id, actor_id="admin-1")
    service.revoke_credential(credential.id, reason="cessation_of_operation", actor_id="admin-1")
    assert _actions(credential.id) == [
        "key.generated",
        "certificate.issued",
        "certificate.csr_generated",
        "credential.revoked",
        "key.destroyed",
    ]
    actors = (
        session().execute(select(AuditEvent.actor_id).where(AuditEvent.target_id == credential.id)).scalars()
    )
    assert set(actors) == {"admin-1"}
    assert verify_chain(session()).ok
