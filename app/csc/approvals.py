"""The signer's side of a CSC authorisation: the PWA inbox, the passkey over the manifest, approve/reject.

Why not the workflow's ``Approval``: its items are documents that Signet itself signs afterwards; a CSC
authorisation is a bare list of hashes that the *calling software* signs through ``signHash``.  The
binding is the same (challenge = SHA-256(manifest_hash ‖ nonce), SAD stored as a hash), and the
assertion is checked with app/auth's passkey verification, sign counter and failure locks.

Who approves: the owner of a person's credential; for the school's seal, a principal of the school.
A failed assertion spends the challenge (a new nonce) and counts against the passkey factor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.csc import rules
from app.csc.models import AuthorizationStatus as St
from app.csc.models import CscAuthorization
from app.db import session, transaction
from app.errors import Conflict, NotFound


class ApprovalNotFound(NotFound):
    code = "csc_approval.not_found"
    default_message = "No such signing request."


class ApprovalClosed(Conflict):
    code = "csc_approval.closed"
    default_message = "This signing request was already decided or has expired."


def _now() -> datetime:
    from app.auth.clock import now

    return now()


def _is_principal(s: Session, person_id: str, tenant_id: str) -> bool:
    from app.people.models import RoleAssignment
    from app.people.rules import PRINCIPAL

    query = select(RoleAssignment.id).where(
        RoleAssignment.person_id == person_id,
        RoleAssignment.tenant_id == tenant_id,
        RoleAssignment.role == PRINCIPAL,
    )
    return s.execute(query.limit(1)).first() is not None


def _may_approve(s: Session, auth: CscAuthorization, person_id: str) -> bool:
    if auth.credential_kind == "person":
        return auth.signer_id == person_id
    return _is_principal(s, person_id, auth.tenant_id)


def inbox(*, person_id: str, tenant_id: str | None) -> list[CscAuthorization]:
    """Pending requests this person may approve, oldest first."""
    if tenant_id is None:
        return []
    s = session()
    seal = CscAuthorization.credential_kind != "person"
    mine = CscAuthorization.signer_id == person_id
    query = (
        select(CscAuthorization)
        .where(CscAuthorization.tenant_id == tenant_id, CscAuthorization.status == St.PENDING)
        .where(CscAuthorization.expires_at > _now())
        .where(or_(mine, seal) if _is_principal(s, person_id, tenant_id) else mine)
        .order_by(CscAuthorization.created_at)
    )
    return list(s.scalars(query))


def get_request(authorization_id: str, *, person_id: str, tenant_id: str | None) -> CscAuthorization:
    s = session()
    auth = s.get(CscAuthorization, authorization_id)
    if auth is None or auth.tenant_id != tenant_id or not _may_approve(s, auth, person_id):
        raise ApprovalNotFound()
    return auth


def describe(auth: CscAuthorization) -> dict[str, Any]:
    """What the PWA shows before the signer approves (hashes included: they are what gets signed)."""
    from app.keys.models import Credential

    credential = session().get(Credential, auth.credential_id)
    return {
        "id": auth.id,
        "status": auth.status,
        "credential_id": auth.credential_id,
        "credential_kind": auth.credential_kind,
        "credential_name": credential.owner_name if credential else None,
        "api_client_id": auth.api_client_id,
        "description": auth.description,
        "num_signatures": auth.num_signatures,
        "hash_algorithm": auth.hash_algorithm,
        "hashes": list(auth.hashes),
        "manifest_hash": auth.manifest_hash,
        "created_at": auth.created_at,
        "expires_at": auth.expires_at,
    }


def _open(s: Session, authorization_id: str, person_id: str, tenant_id: str | None) -> CscAuthorization:
    auth = s.execute(
        select(CscAuthorization)
        .where(CscAuthorization.id == authorization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if auth is None or auth.tenant_id != tenant_id or not _may_approve(s, auth, person_id):
        raise ApprovalNotFound()
    if auth.status != St.PENDING or auth.expires_at <= _now():
        raise ApprovalClosed()
    return auth


def approval_options(authorization_id: str, *, person_id: str, tenant_id: str | None) -> dict[str, Any]:
    """WebAuthn request options whose challenge is SHA-256(manifest_hash ‖ nonce)."""
    from flask import current_app

    from app.auth import passkeys

    with transaction() as s:
        auth = _open(s, authorization_id, person_id, tenant_id)
        challenge = rules.challenge_for(auth.manifest_hash, auth.nonce)
    return passkeys.authentication_options(current_app.extensions["signet.settings"], challenge=challenge)


def approve(
    authorization_id: str, *, person_id: str, tenant_id: str | None, credential: dict[str, Any]
) -> CscAuthorization:
    """Verify the passkey assertion over this request's manifest; then the caller may fetch its SAD."""
    from flask import current_app

    from app.auth import factors, passkeys
    from app.auth.models import PASSKEY, Passkey

    settings = current_app.extensions["signet.settings"]
    moment = _now()
    with factors.auth_transaction() as s:
        auth = _open(s, authorization_id, person_id, tenant_id)
        challenge = rules.challenge_for(auth.manifest_hash, auth.nonce)
        auth.nonce = rules.new_nonce()  # the challenge is single-use, whatever happens next
        if factors.locked_until(s, person_id, PASSKEY, moment) is not None:
            _refuse(s, auth, person_id, "factor locked", moment, count=False)
        try:
            assertion = passkeys.parse_assertion(credential)
        except passkeys.CeremonyFailed as exc:
            _refuse(s, auth, person_id, str(exc), moment)
        passkey = s.execute(
            select(Passkey).where(
                Passkey.credential_id == assertion.credential_id, Passkey.person_id == person_id
            )
        ).scalar_one_or_none()
        if passkey is None:
            _refuse(s, auth, person_id, "not a passkey of the approver", moment)
        try:
            new_count = passkeys.verify_assertion(
                settings,
                assertion,
                challenge=challenge,
                public_key=passkey.public_key,
                sign_count=passkey.sign_count,
            )
        except passkeys.CeremonyFailed as exc:
            _refuse(s, auth, person_id, str(exc), moment)
        moved = s.execute(
            update(Passkey)
            .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
            .values(sign_count=new_count, last_used_at=moment)
        )
        if getattr(moved, "rowcount", 0) != 1:
            _refuse(s, auth, person_id, "sign counter moved concurrently", moment)
        factors.note_success(s, person_id, PASSKEY)
        auth.status = St.APPROVED
        auth.approved_by_id = person_id
        auth.decided_at = moment
        record_event(
            s,
            action="csc.approve",
            actor_id=person_id,
            tenant_id=auth.tenant_id,
            target_type="csc_authorization",
            target_id=auth.id,
            details={
                "credential_id": auth.credential_id,
                "count": auth.num_signatures,
                "passkey_id": passkey.id,
            },
        )
    return auth


def _refuse(
    s: Session, auth: CscAuthorization, person_id: str, reason: str, moment: datetime, *, count: bool = True
) -> NoReturn:
    from app.auth import factors
    from app.auth.models import PASSKEY

    if count:
        factors.note_failure(s, person_id, PASSKEY, moment)
    record_event(
        s,
        action="csc.approve",
        outcome="failure",
        actor_id=person_id,
        tenant_id=auth.tenant_id,
        target_type="csc_authorization",
        target_id=auth.id,
        details={"reason": reason[:200]},
    )
    raise factors.Refused(f"csc approval: {reason}")


def reject(authorization_id: str, *, person_id: str, tenant_id: str | None) -> CscAuthorization:
    with transaction() as s:
        auth = _open(s, authorization_id, person_id, tenant_id)
        auth.status = St.REJECTED
        auth.decided_at = _now()
        auth.approved_by_id = person_id
        record_event(
            s,
            action="csc.reject",
            actor_id=person_id,
            tenant_id=auth.tenant_id,
            target_type="csc_authorization",
            target_id=auth.id,
            details={"credential_id": auth.credential_id},
        )
    return auth
