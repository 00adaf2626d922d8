"""Invitations and enrolment: a one-time link (72 h) lets a person register a passkey or TOTP,
receive 10 recovery codes, get signed in, and have their signing credential created in the HSM."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

import segno
import structlog
from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import crypto, factors, passkeys, sessions
from app.auth.clock import now
from app.auth.devices import build_me, new_passkey_row
from app.auth.errors import InvitationExpired, InvitationInvalid, InvitationUsed
from app.auth.models import PASSKEY, TOTP, Invitation, Passkey, TotpFactor
from app.db import transaction
from app.people.errors import PersonNotFound
from app.people.models import Person
from app.people.service import load_person
from app.settings import Settings
from app.tenants.models import Organisation

log = structlog.get_logger(__name__)

INVITATION_TTL = timedelta(hours=72)
ENROL_PASSKEY = "enrol_passkey"
ENROL_TOTP = "enrol_totp"
TOTP_ENROL_ATTEMPTS = 5
METHODS = ["passkey", "totp"]


@dataclass(frozen=True)
class CreatedInvitation:
    id: str
    url: str
    expires_at: datetime
    qr_svg: str
    person_id: str


@dataclass(frozen=True)
class SignedIn:
    me: dict[str, Any]
    session: sessions.IssuedSession
    recovery_codes: list[str] | None = None
    remaining_recovery_codes: int | None = None


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def qr_svg(data: str) -> str:
    return str(segno.make(data, error="m").svg_inline(scale=4, border=2))


def invitation_url(settings: Settings, token: str) -> str:
    return f"{settings.public_base_url}/enrol/{token}"


# invitations --------------------------------------------------------------------------------------
def new_invitation(
    s: Session, person: Person, *, actor_id: str | None, moment: datetime
) -> CreatedInvitation:
    """Invite ``person`` (replacing their earlier unused invitations); the caller commits."""
    settings = _settings()
    s.execute(delete(Invitation).where(Invitation.person_id == person.id, Invitation.used_at.is_(None)))
    token = crypto.random_token(32)
    row = Invitation(
        tenant_id=person.tenant_id,
        person_id=person.id,
        token_hash=crypto.digest(token),
        created_by_id=actor_id,
        created_at=moment,
        expires_at=moment + INVITATION_TTL,
    )
    s.add(row)
    s.flush()
    record_event(
        s,
        action="auth.invitation_create",
        actor_id=actor_id,
        tenant_id=person.tenant_id,
        target_type="person",
        target_id=person.id,
        details={"invitation_id": row.id, "expires_at": row.expires_at.isoformat()},
    )
    url = invitation_url(settings, token)
    return CreatedInvitation(row.id, url, row.expires_at, qr_svg(url), person.id)


def create_invitation(*, tenant_id: str | None, actor_id: str | None, person_id: str) -> CreatedInvitation:
    with transaction() as s:
        person = load_person(s, tenant_id, person_id)
        if not person.is_active:
            raise PersonNotFound("This person is suspended.")
        return new_invitation(s, person, actor_id=actor_id, moment=now())


def _open_invitation(s: Session, token: str, moment: datetime) -> tuple[Invitation, Person]:
    if not token or len(token) > 100:
        raise InvitationInvalid()
    invitation = s.execute(
        select(Invitation).where(Invitation.token_hash == crypto.digest(token))
    ).scalar_one_or_none()
    if invitation is None:
        raise InvitationInvalid()
    if invitation.used_at is not None:
        raise InvitationUsed()
    if invitation.expires_at <= moment:
        raise InvitationExpired()
    person = s.get(Person, invitation.person_id)
    if person is None or not person.is_active:
        raise InvitationInvalid()
    return invitation, person


def inspect_invitation(*, token: str) -> dict[str, Any]:
    with transaction() as s:
        invitation, person = _open_invitation(s, token, now())
        school = s.get(Organisation, person.tenant_id) if person.tenant_id else None
        return {
            "person_name": person.display_name,
            "school_name": school.name if school else None,
            "expires_at": invitation.expires_at,
            "methods": METHODS,
        }


# enrolment ----------------------------------------------------------------------------------------
def passkey_enrolment_options(*, token: str, binding: str) -> dict[str, Any]:
    settings = _settings()
    moment = now()
    with transaction() as s:
        invitation, person = _open_invitation(s, token, moment)
        existing = list(s.scalars(select(Passkey.credential_id).where(Passkey.person_id == person.id)))
        challenge = factors.put_challenge(
            s,
            purpose=ENROL_PASSKEY,
            binding=binding,
            now=moment,
            person_id=person.id,
            invitation_id=invitation.id,
        )
        return passkeys.registration_options(
            settings,
            challenge=challenge.challenge,
            user_handle=person.webauthn_user_id,
            username=person.username,
            display_name=person.display_name,
            exclude=existing,
        )


def enrol_passkey(
    *,
    token: str,
    binding: str | None,
    credential: dict[str, Any],
    device_name: str | None,
    user_agent: str | None,
) -> SignedIn:
    settings = _settings()
    moment = now()
    with factors.auth_transaction() as s:
        invitation, person = _open_invitation(s, token, moment)
        challenge = factors.pop_challenge(s, purpose=ENROL_PASSKEY, binding=binding, now=moment)
        if challenge is None or challenge.invitation_id != invitation.id:
            _enrol_failure(s, person, PASSKEY, "no pending challenge")
        try:
            new = passkeys.verify_registration(settings, credential, challenge=challenge.challenge)
        except passkeys.CeremonyFailed as exc:
            _enrol_failure(s, person, PASSKEY, str(exc))
        if s.scalar(select(Passkey.id).where(Passkey.credential_id == new.credential_id)):
            _enrol_failure(s, person, PASSKEY, "credential already registered")
        s.add(new_passkey_row(person.id, person.tenant_id, new, device_name, moment))
        result, first = _finish_enrolment(s, settings, invitation, person, PASSKEY, user_agent, moment)
    if first:
        provision_signing_credential(person)
    return result


def totp_enrolment_options(*, token: str, binding: str) -> dict[str, Any]:
    settings = _settings()
    moment = now()
    with transaction() as s:
        invitation, person = _open_invitation(s, token, moment)
        secret = factors.new_totp_secret()
        challenge = factors.put_challenge(
            s,
            purpose=ENROL_TOTP,
            binding=binding,
            now=moment,
            ttl=factors.TOTP_ENROL_TTL,
            person_id=person.id,
            invitation_id=invitation.id,
            data={"secret": crypto.encrypt(settings, secret), "attempts": 0},
        )
        uri = factors.totp_uri(secret, account=person.username, issuer=settings.rp_name)
        return {"enrolment_id": challenge.id, "otpauth_uri": uri, "qr_svg": qr_svg(uri)}


def enrol_totp(
    *, token: str, binding: str | None, enrolment_id: str, code: str, user_agent: str | None
) -> SignedIn:
    """A mistyped code may be retried a few times; the pending secret is then dropped."""
    settings = _settings()
    moment = now()
    with factors.auth_transaction() as s:
        invitation, person = _open_invitation(s, token, moment)
        challenge = factors.pop_challenge(s, purpose=ENROL_TOTP, binding=binding, now=moment)
        if challenge is None or challenge.id != enrolment_id or challenge.invitation_id != invitation.id:
            _enrol_failure(s, person, TOTP, "no pending TOTP enrolment")
        secret = crypto.decrypt(settings, challenge.data["secret"])
        step = factors.match_totp_step(secret, code, moment, after_step=None)
        if step is None:
            attempts = int(challenge.data.get("attempts", 0)) + 1
            if attempts < TOTP_ENROL_ATTEMPTS:  # put it back, same id, for another try
                s.add(
                    type(challenge)(
                        id=challenge.id,
                        purpose=challenge.purpose,
                        binding=challenge.binding,
                        challenge=challenge.challenge,
                        person_id=challenge.person_id,
                        invitation_id=challenge.invitation_id,
                        data={**challenge.data, "attempts": attempts},
                        created_at=challenge.created_at,
                        expires_at=challenge.expires_at,
                    )
                )
            _enrol_failure(s, person, TOTP, "wrong code")
        factor = s.execute(select(TotpFactor).where(TotpFactor.person_id == person.id)).scalar_one_or_none()
        if factor is None:
            factor = TotpFactor(person_id=person.id, tenant_id=person.tenant_id, created_at=moment)
            s.add(factor)
        factor.secret_encrypted = crypto.encrypt(settings, secret)
        factor.last_used_step = step  # the code just shown cannot sign in again
        factor.last_used_at = moment
        result, first = _finish_enrolment(s, settings, invitation, person, TOTP, user_agent, moment)
    if first:
        provision_signing_credential(person)
    return result


def _enrol_failure(s: Session, person: Person, method: str, reason: str) -> NoReturn:
    record_event(
        s,
        action="auth.enrol",
        outcome="failure",
        actor_id=person.id,
        tenant_id=person.tenant_id,
        target_type="person",
        target_id=person.id,
        details={"method": method, "reason": reason[:200]},
    )
    raise factors.Refused(f"enrolment: {reason}")


def _finish_enrolment(
    s: Session,
    settings: Settings,
    invitation: Invitation,
    person: Person,
    method: str,
    user_agent: str | None,
    moment: datetime,
) -> tuple[SignedIn, bool]:
    used = s.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
        .values(used_at=moment)
    )
    if getattr(used, "rowcount", 0) != 1:
        raise InvitationUsed()
    first = person.enrolled_at is None
    if first:
        person.enrolled_at = moment
    codes = factors.new_recovery_codes(s, person.id, moment)
    factors.unlock(s, person.id)
    issued = sessions.issue(s, settings, person=person, method=method, user_agent=user_agent, now=moment)
    record_event(
        s,
        action="auth.enrol",
        actor_id=person.id,
        tenant_id=person.tenant_id,
        target_type="person",
        target_id=person.id,
        details={"method": method, "invitation_id": invitation.id, "first": first},
    )
    s.flush()
    return SignedIn(me=build_me(s, person, issued.csrf_token), session=issued, recovery_codes=codes), first


def provision_signing_credential(person: Person) -> None:
    """Create the person's signing key in the HSM: a development CA certificate, or — in production,
    where the development CA is refused — a pending CSR for the licensed CA.

    Runs after the enrolment transaction: the key takes ~0.4 s to generate, and enrolment does not
    depend on it (the operator can create the credential later with ``flask keys create``).
    """
    settings = _settings()
    try:
        keys_service: Any = importlib.import_module("app.keys.service")
    except ImportError:
        log.warning("signing_credential_skipped", person_id=person.id, reason="keys service not installed")
        return
    with transaction() as s:
        school = s.get(Organisation, person.tenant_id) if person.tenant_id else None
    try:
        keys_service.create_credential(
            owner_kind="person",
            owner_name=person.display_name,
            owner_id=person.id,
            tenant_id=person.tenant_id,
            organisation=school.name if school else None,
            use_dev_ca=not settings.is_prod,
        )
    except Exception as exc:
        log.exception("signing_credential_failed", person_id=person.id, exc_type=type(exc).__name__)


def unlock_person(*, tenant_id: str | None, actor_id: str | None, person_id: str) -> list[str]:
    """An administrator clears a person's factor locks; returns the factors that were locked."""
    with transaction() as s:
        person = load_person(s, tenant_id, person_id)
        unlocked = factors.unlock(s, person.id)
        record_event(
            s,
            action="auth.factor_unlock",
            actor_id=actor_id,
            tenant_id=person.tenant_id,
            target_type="person",
            target_id=person.id,
            details={"factors": unlocked},
        )
        return unlocked
