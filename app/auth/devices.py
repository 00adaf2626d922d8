"""What a signed-in person sees of themselves: ``/me``, their passkeys and their sessions."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import factors, passkeys
from app.auth.clock import now
from app.auth.errors import LastFactor, NotFoundHere
from app.auth.guard import Principal
from app.auth.models import Passkey, TotpFactor, UserSession
from app.auth.sessions import csrf_for, is_live, session_binding
from app.db import transaction
from app.people.models import Person
from app.settings import Settings
from app.tenants.models import Organisation

ADD_PASSKEY = "add_passkey"


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def build_me(s: Session, person: Person, csrf_token: str | None) -> dict[str, Any]:
    school = s.get(Organisation, person.tenant_id) if person.tenant_id else None
    passkey_count = s.scalar(select(func.count()).select_from(Passkey).where(Passkey.person_id == person.id))
    has_totp = s.scalar(select(TotpFactor.id).where(TotpFactor.person_id == person.id)) is not None
    return {
        "id": person.id,
        "display_name": person.display_name,
        "username": person.username,
        "school": {"id": school.id, "name": school.name} if school else None,
        "roles": [
            {
                "role": r.role,
                "organisation_id": r.organisation_id,
                "class_id": r.class_id,
                "class_name": r.school_class.name if r.school_class else None,
                "school_year": r.school_year,
            }
            for r in sorted(person.roles, key=lambda r: (r.role, r.school_year or "", r.class_id or ""))
        ],
        "factors": {"passkeys": int(passkey_count or 0), "totp": has_totp},
        "csrf_token": csrf_token,
    }


def me(*, principal: Principal) -> dict[str, Any]:
    with transaction() as s:
        person = s.get(Person, principal.id)
        if person is None:
            raise NotFoundHere()
        token = principal.session_token
        return build_me(s, person, csrf_for(_settings(), token) if token else None)


# passkeys -----------------------------------------------------------------------------------------
def list_passkeys(*, person_id: str) -> list[Passkey]:
    with transaction() as s:
        return list(
            s.scalars(select(Passkey).where(Passkey.person_id == person_id).order_by(Passkey.created_at))
        )


def _own_passkey(s: Session, person_id: str, passkey_id: str) -> Passkey:
    found = s.get(Passkey, passkey_id)
    if found is None or found.person_id != person_id:
        raise NotFoundHere()
    return found


def add_passkey_options(*, principal: Principal) -> dict[str, Any]:
    settings = _settings()
    assert principal.session_token is not None
    with transaction() as s:
        person = s.get(Person, principal.id)
        if person is None:
            raise NotFoundHere()
        existing = list(s.scalars(select(Passkey.credential_id).where(Passkey.person_id == person.id)))
        challenge = factors.put_challenge(
            s,
            purpose=ADD_PASSKEY,
            binding=session_binding(principal.session_token),
            now=now(),
            person_id=person.id,
        )
        return passkeys.registration_options(
            settings,
            challenge=challenge.challenge,
            user_handle=person.webauthn_user_id,
            username=person.username,
            display_name=person.display_name,
            exclude=existing,
        )


def add_passkey(*, principal: Principal, credential: dict[str, Any], name: str | None) -> Passkey:
    settings = _settings()
    assert principal.session_token is not None
    moment = now()
    with factors.auth_transaction() as s:
        challenge = factors.pop_challenge(
            s, purpose=ADD_PASSKEY, binding=session_binding(principal.session_token), now=moment
        )
        if challenge is None or challenge.person_id != principal.id:
            raise factors.Refused("no pending challenge")
        try:
            new = passkeys.verify_registration(settings, credential, challenge=challenge.challenge)
        except passkeys.CeremonyFailed as exc:
            record_event(
                s,
                action="auth.passkey_add",
                outcome="failure",
                actor_id=principal.id,
                tenant_id=principal.tenant_id,
                details={"reason": str(exc)[:200]},
            )
            raise factors.Refused(str(exc)) from None
        if s.scalar(select(Passkey.id).where(Passkey.credential_id == new.credential_id)):
            raise factors.Refused("credential already registered")
        row = new_passkey_row(principal.id, principal.tenant_id, new, name, moment)
        s.add(row)
        s.flush()
        record_event(
            s,
            action="auth.passkey_add",
            actor_id=principal.id,
            tenant_id=principal.tenant_id,
            target_type="passkey",
            target_id=row.id,
        )
        return row


def new_passkey_row(
    person_id: str, tenant_id: str | None, new: passkeys.NewPasskey, name: str | None, moment: Any
) -> Passkey:
    label = (name or "").strip()[:100] or ("Synced passkey" if new.backed_up else "Passkey")
    return Passkey(
        person_id=person_id,
        tenant_id=tenant_id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        name=label,
        backed_up=new.backed_up,
        device_type=new.device_type,
        aaguid=new.aaguid,
        created_at=moment,
    )


def rename_passkey(*, principal: Principal, passkey_id: str, name: str) -> Passkey:
    with transaction() as s:
        row = _own_passkey(s, principal.id, passkey_id)
        row.name = name.strip()[:100] or row.name
        return row


def delete_passkey(*, principal: Principal, passkey_id: str) -> None:
    with transaction() as s:
        row = _own_passkey(s, principal.id, passkey_id)
        others = s.scalar(
            select(func.count())
            .select_from(Passkey)
            .where(Passkey.person_id == principal.id, Passkey.id != row.id)
        )
        has_totp = s.scalar(select(TotpFactor.id).where(TotpFactor.person_id == principal.id))
        if not others and not has_totp:
            raise LastFactor()
        s.delete(row)
        record_event(
            s,
            action="auth.passkey_delete",
            actor_id=principal.id,
            tenant_id=principal.tenant_id,
            target_type="passkey",
            target_id=passkey_id,
        )


# sessions -----------------------------------------------------------------------------------------
def list_sessions(*, principal: Principal) -> list[dict[str, Any]]:
    moment = now()
    with transaction() as s:
        rows = s.scalars(
            select(UserSession)
            .where(UserSession.person_id == principal.id, UserSession.revoked_at.is_(None))
            .order_by(UserSession.created_at.desc())
        )
        return [
            {
                "id": r.id,
                "created_at": r.created_at,
                "last_seen_at": r.last_seen_at,
                "user_agent": r.user_agent,
                "method": r.method,
                "current": r.id == principal.session_id,
            }
            for r in rows
            if is_live(r, moment)
        ]


def revoke_session(*, principal: Principal, session_id: str) -> None:
    with transaction() as s:
        row = s.get(UserSession, session_id)
        if row is None or row.person_id != principal.id or row.revoked_at is not None:
            raise NotFoundHere()
        row.revoked_at = now()
        record_event(
            s,
            action="auth.session_revoke",
            actor_id=principal.id,
            tenant_id=principal.tenant_id,
            target_type="session",
            target_id=row.id,
        )


def sign_out_everywhere(*, person_id: str, actor_id: str | None = None) -> int:
    """Revoke every open session of a person; returns how many."""
    with transaction() as s:
        person = s.get(Person, person_id)
        if person is None:
            raise NotFoundHere()
        result = s.execute(
            update(UserSession)
            .where(UserSession.person_id == person_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        record_event(
            s,
            action="auth.session_revoke_all",
            actor_id=actor_id,
            tenant_id=person.tenant_id,
            target_type="person",
            target_id=person_id,
            details={"sessions": count},
        )
        return count
