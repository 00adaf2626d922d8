"""Sign-in: usernameless passkey, TOTP, recovery code; and sign-out.

Every failure is 401 ``auth.failed`` "Verification failed."; the reason goes to the log and the audit
trail. Wrong codes and failed assertions count against the factor (5 → locked for 15 minutes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import crypto, factors, passkeys, sessions
from app.auth.clock import now
from app.auth.devices import build_me
from app.auth.models import PASSKEY, RECOVERY, TOTP, Passkey, TotpFactor, UserSession
from app.auth.service import SignedIn
from app.db import transaction
from app.people.models import Person
from app.settings import Settings

AUTHENTICATE = "authenticate"
# compared against when the username is unknown, so both paths do the same work
_DUMMY_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 - a well-known dummy


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def _refuse(
    s: Session, factor: str, reason: str, *, person: Person | None = None, moment: datetime | None = None
) -> NoReturn:
    locked_now = False
    if person is not None and moment is not None:
        locked_now = factors.note_failure(s, person.id, factor, moment)
    record_event(
        s,
        action="auth.sign_in",
        outcome="failure",
        actor_id=person.id if person else None,
        tenant_id=person.tenant_id if person else None,
        target_type="person" if person else None,
        target_id=person.id if person else None,
        details={"factor": factor, "reason": reason[:200]},
    )
    if locked_now and person is not None:
        record_event(
            s,
            action="auth.factor_lock",
            actor_id=None,
            tenant_id=person.tenant_id,
            target_type="person",
            target_id=person.id,
            details={"factor": factor, "failures": factors.MAX_FAILURES},
        )
    raise factors.Refused(f"{factor}: {reason}")


def _signed_in(
    s: Session, settings: Settings, person: Person, factor: str, user_agent: str | None, moment: datetime
) -> SignedIn:
    factors.note_success(s, person.id, factor)
    issued = sessions.issue(s, settings, person=person, method=factor, user_agent=user_agent, now=moment)
    record_event(
        s,
        action="auth.sign_in",
        actor_id=person.id,
        tenant_id=person.tenant_id,
        target_type="session",
        target_id=issued.session_id,
        details={"factor": factor},
    )
    return SignedIn(me=build_me(s, person, issued.csrf_token), session=issued)


def _check_person(s: Session, person: Person | None, factor: str, moment: datetime) -> Person:
    if person is None:
        _refuse(s, factor, "unknown person")
    if not person.is_active:
        _refuse(s, factor, "person suspended", person=person)
    if factors.locked_until(s, person.id, factor, moment) is not None:
        _refuse(s, factor, "factor locked", person=person)
    return person


# passkey ------------------------------------------------------------------------------------------
def passkey_options(*, binding: str) -> dict[str, Any]:
    with transaction() as s:
        challenge = factors.put_challenge(s, purpose=AUTHENTICATE, binding=binding, now=now())
        return passkeys.authentication_options(_settings(), challenge=challenge.challenge)


def sign_in_passkey(*, binding: str | None, credential: dict[str, Any], user_agent: str | None) -> SignedIn:
    settings = _settings()
    moment = now()
    with factors.auth_transaction() as s:
        challenge = factors.pop_challenge(s, purpose=AUTHENTICATE, binding=binding, now=moment)
        if challenge is None:
            _refuse(s, PASSKEY, "no pending challenge (missing, used or expired)")
        try:
            assertion = passkeys.parse_assertion(credential)
        except passkeys.CeremonyFailed as exc:
            _refuse(s, PASSKEY, str(exc))
        found = s.execute(
            select(Passkey, Person)
            .join(Person, Person.id == Passkey.person_id)
            .where(Passkey.credential_id == assertion.credential_id)
        ).first()
        if found is None:
            _refuse(s, PASSKEY, "unknown credential")
        passkey, person = found
        _check_person(s, person, PASSKEY, moment)
        if assertion.user_handle is not None and not crypto.same(
            assertion.user_handle, person.webauthn_user_id
        ):
            _refuse(s, PASSKEY, "user handle does not match", person=person, moment=moment)
        try:
            new_count = passkeys.verify_assertion(
                settings,
                assertion,
                challenge=challenge.challenge,
                public_key=passkey.public_key,
                sign_count=passkey.sign_count,
            )
        except passkeys.CeremonyFailed as exc:
            _refuse(s, PASSKEY, str(exc), person=person, moment=moment)
        moved = s.execute(
            update(Passkey)
            .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
            .values(sign_count=new_count, last_used_at=moment)
        )
        if getattr(moved, "rowcount", 0) != 1:
            _refuse(s, PASSKEY, "sign counter moved concurrently", person=person, moment=moment)
        return _signed_in(s, settings, person, PASSKEY, user_agent, moment)


# TOTP and recovery codes ----------------------------------------------------------------------------
def _person_by_username(s: Session, username: str) -> Person | None:
    name = (username or "").strip().lower()
    if not name or len(name) > 80:
        return None
    return s.execute(select(Person).where(Person.username == name)).scalar_one_or_none()


def sign_in_totp(*, username: str, code: str, user_agent: str | None) -> SignedIn:
    settings = _settings()
    moment = now()
    with factors.auth_transaction() as s:
        person = _person_by_username(s, username)
        factor = (
            s.execute(select(TotpFactor).where(TotpFactor.person_id == person.id)).scalar_one_or_none()
            if person is not None
            else None
        )
        if person is None or factor is None:
            factors.match_totp_step(_DUMMY_TOTP_SECRET, code, moment, after_step=None)
            _refuse(s, TOTP, "unknown person or no TOTP factor")
        _check_person(s, person, TOTP, moment)
        secret = crypto.decrypt(settings, factor.secret_encrypted)
        step = factors.match_totp_step(secret, code, moment, after_step=factor.last_used_step)
        if step is None:
            _refuse(s, TOTP, "wrong or already used code", person=person, moment=moment)
        if not factors.consume_totp_step(s, factor, step, moment):
            _refuse(s, TOTP, "time step used concurrently", person=person, moment=moment)
        return _signed_in(s, settings, person, TOTP, user_agent, moment)


def sign_in_recovery(*, username: str, code: str, user_agent: str | None) -> SignedIn:
    settings = _settings()
    moment = now()
    with factors.auth_transaction() as s:
        person = _person_by_username(s, username)
        person = _check_person(s, person, RECOVERY, moment)
        if not factors.consume_recovery_code(s, person.id, code, moment):
            _refuse(s, RECOVERY, "wrong or used recovery code", person=person, moment=moment)
        signed_in = _signed_in(s, settings, person, RECOVERY, user_agent, moment)
        remaining = factors.remaining_recovery_codes(s, person.id)
        return SignedIn(me=signed_in.me, session=signed_in.session, remaining_recovery_codes=remaining)


def sign_out(*, session_id: str | None) -> None:
    if session_id is None:
        return
    with transaction() as s:
        row = s.get(UserSession, session_id)
        if row is None or row.revoked_at is not None:
            return
        row.revoked_at = now()
        record_event(
            s,
            action="auth.sign_out",
            actor_id=row.person_id,
            tenant_id=row.tenant_id,
            target_type="session",
            target_id=row.id,
        )
