"""Every sign-in, success or failure, lands in the audit trail — with the reason, without the secret."""

from __future__ import annotations

import pyotp
from flask import Flask
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth import crypto
from app.auth.models import TotpFactor
from app.db import session, transaction
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.clock import FrozenClock
from tests.support.factories import make_person

clock, school = fixtures.clock, fixtures.school


def test_sign_in_failures_and_success_are_audited(
    app: Flask, school: Organisation, clock: FrozenClock
) -> None:
    person = make_person(school, username="hoalt")
    secret = pyotp.random_base32()
    with transaction() as s:
        s.add(
            TotpFactor(
                person_id=person.id,
                tenant_id=school.id,
                secret_encrypted=crypto.encrypt(app.extensions["signet.settings"], secret),
            )
        )
    client = app.test_client()
    assert client.post("/api/v1/auth/totp", json={"username": "hoalt", "code": "000001"}).status_code == 401
    assert client.post("/api/v1/auth/totp", json={"username": "ghost", "code": "000002"}).status_code == 401
    code = pyotp.TOTP(secret).at(clock.timestamp())
    assert client.post("/api/v1/auth/totp", json={"username": "hoalt", "code": code}).status_code == 200
    events = session().execute(
        select(AuditEvent).where(AuditEvent.action == "auth.sign_in").order_by(AuditEvent.seq)
    )
    rows = [(e.outcome, e.actor_id, e.details.get("factor")) for e in events.scalars()]
    assert rows == [("failure", person.id, "totp"), ("failure", None, "totp"), ("success", person.id, "totp")]
    dumped = str([e.details for e in session().scalars(select(AuditEvent))])
    assert "000001" not in dumped and code not in dumped and secret not in dumped
