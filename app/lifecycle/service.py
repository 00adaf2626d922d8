"""Offboarding a leaver and renewing certificates before they expire.

Offboarding runs in this order, so that no step can leave a usable key behind a suspended account:
1. one transaction: the account is suspended, its sessions revoked, the documents waiting for the
   leaver listed for the school admins (an inbox notice), an ``Offboarding`` row and an audit record;
2. every credential of the leaver revoked through ``keys.service.revoke_credential`` — the
   development CA's CRL lists it from then on — and its key destroyed in the HSM;
3. one transaction recording what was revoked (audit).
Running it again finishes whatever an interrupted run left (it only revokes what is still active).

Renewal makes a new key and a new certificate for a credential within ``days`` of expiry; the old
credential is kept, untouched, so the signatures it made still verify.  The workflow always picks an
owner's newest active credential, so the new one signs from the next approval on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.service import record_event
from app.auth.models import UserSession
from app.billing import notices
from app.db import new_id, session, transaction, utcnow
from app.documents.models import Document
from app.keys import service as keys
from app.keys.hsm import KeyAlgorithm
from app.keys.models import Credential, CredentialStatus, OwnerKind, Purpose
from app.lifecycle.errors import InvalidLifecycleRequest, NotAllowedHere, PersonNotFound
from app.lifecycle.models import CredentialRenewal, Offboarding
from app.people import rules as people_rules
from app.people.models import ACTIVE, SUSPENDED, Person, RoleAssignment
from app.workflow.rules import Status, Step

log = structlog.get_logger(__name__)

OFFBOARD_REASON = "affiliation_changed"
OPEN_FOR_SIGNER = (Status.WAITING.value, Status.FAILED.value)


@dataclass(frozen=True)
class OffboardResult:
    offboarding_id: str
    person_id: str
    revoked_credential_ids: list[str]
    handed_over: list[dict[str, Any]]  # documents waiting for the leaver, for the school admin


def pending_for(person_id: str) -> list[dict[str, Any]]:
    """Documents waiting for this person's signature (their step is next, or failed and retryable)."""
    rows = session().scalars(
        select(Document)
        .where(
            Document.status.in_(OPEN_FOR_SIGNER),
            or_(
                (Document.step == int(Step.HOMEROOM)) & (Document.teacher_id == person_id),
                (Document.step == int(Step.PRINCIPAL)) & (Document.principal_id == person_id),
            ),
        )
        .order_by(Document.class_name, Document.student_code)
    )
    return [
        {
            "document_id": d.id,
            "step": d.step,
            "status": d.status,
            "class_name": d.class_name,
            "student_code": d.student_code,
        }
        for d in rows
    ]


def _require_manager(actor_id: str, person: Person) -> None:
    """An operator, or a school admin of the leaver's school (never the leaver themself)."""
    s = session()
    if actor_id == person.id:
        raise NotAllowedHere("Nobody offboards themself.")
    if actor_id in notices.people_with_role(
        s, organisation_id=person.organisation_id, roles=[people_rules.SCHOOL_ADMIN]
    ):
        return
    operators = s.scalars(
        select(RoleAssignment.person_id).where(
            RoleAssignment.person_id == actor_id, RoleAssignment.role == people_rules.OPERATOR
        )
    ).first()
    if operators is None:
        raise NotAllowedHere()


def offboard(*, person_id: str, actor_id: str | None, reason: str = OFFBOARD_REASON) -> OffboardResult:
    """Suspend, revoke, destroy keys, hand the leaver's waiting documents to the school admins."""
    now = utcnow()
    with transaction() as s:
        person = s.get(Person, person_id, with_for_update=True)
        if person is None:
            raise PersonNotFound()
        if actor_id is not None:
            _require_manager(actor_id, person)
        was = person.status
        person.status = SUSPENDED
        s.execute(
            update(UserSession)
            .where(UserSession.person_id == person.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        handed = pending_for(person.id)
        record = Offboarding(
            id=new_id(),
            person_id=person.id,
            tenant_id=person.tenant_id,
            actor_id=actor_id,
            reason=reason,
            revoked_credential_ids=[],
            handed_over=handed,
        )
        s.add(record)
        if handed and person.tenant_id:
            notices.tell(
                s,
                recipient_ids=notices.school_admins(s, person.tenant_id),
                tenant_id=person.tenant_id,
                kind="work_handed_over",
                dedupe_key=f"work_handed_over:{record.id}",
                count=len(handed),
                subject=person.display_name,
                url=f"/admin/offboardings/{record.id}",
            )
        record_event(
            s,
            action="lifecycle.offboard",
            actor_id=actor_id,
            tenant_id=person.tenant_id,
            target_type="person",
            target_id=person.id,
            details={"status_before": was, "reason": reason, "handed_over": len(handed)},
        )
    revoked: list[str] = []
    for credential in keys.list_credentials(owner_id=person_id):
        if credential.owner_kind != OwnerKind.PERSON or credential.status == CredentialStatus.REVOKED:
            continue
        keys.revoke_credential(credential.id, reason=reason, destroy_key=True)
        revoked.append(credential.id)
    with transaction() as s:
        row = s.get(Offboarding, record.id)
        if row is not None:
            row.revoked_credential_ids = revoked
        for credential_id in revoked:
            record_event(
                s,
                action="lifecycle.credential_revoked",
                actor_id=actor_id,
                tenant_id=person.tenant_id,
                target_type="credential",
                target_id=credential_id,
                details={"reason": reason, "key_destroyed": True, "person_id": person_id},
            )
    log.info("offboarded", person_id=person_id, revoked=len(revoked), handed_over=len(handed))
    return OffboardResult(record.id, person_id, revoked, handed)


# renewal -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Renewal:
    old_credential_id: str
    new_credential_id: str
    owner_id: str | None
    status: str  # active (dev CA issued it) or pending (a CSR waits for a real CA)
    not_after: datetime | None


def expiring(*, days: int, now: datetime | None = None) -> list[Credential]:
    """Active signing and seal credentials that expire within ``days`` and were not renewed yet."""
    if days < 0:
        raise InvalidLifecycleRequest("days must be zero or more.")
    moment = now or utcnow()
    renewed = select(CredentialRenewal.old_credential_id)
    query = (
        select(Credential)
        .where(
            Credential.status == CredentialStatus.ACTIVE,
            Credential.system_role.is_(None),
            Credential.purpose.in_([Purpose.SIGNING.value, Purpose.SEAL.value]),
            Credential.not_after.is_not(None),
            Credential.not_after <= moment + timedelta(days=days),
            Credential.id.not_in(renewed),
        )
        .order_by(Credential.not_after)
    )
    found = []
    s = session()
    for credential in s.scalars(query):
        if credential.owner_kind == OwnerKind.PERSON and credential.owner_id:
            owner = s.get(Person, credential.owner_id)
            if owner is None or owner.status != ACTIVE:
                continue  # a leaver's credential is revoked, never renewed
        found.append(credential)
    return found


def renew_credential(old: Credential, *, actor_id: str | None = None) -> Renewal | None:
    """A new key and certificate for ``old``'s owner; None if someone else renewed it meanwhile."""
    new = keys.create_credential(
        owner_kind=old.owner_kind,
        owner_name=old.owner_name,
        owner_id=old.owner_id,
        tenant_id=old.tenant_id,
        algorithm=KeyAlgorithm(old.algorithm),
        purpose=old.purpose,
        organisation=old.organisation,
        use_dev_ca=old.issued_by_dev_ca,
    )
    try:
        with transaction() as s:
            s.add(
                CredentialRenewal(
                    id=new_id(),
                    old_credential_id=old.id,
                    new_credential_id=new.id,
                    owner_id=old.owner_id,
                    tenant_id=old.tenant_id,
                )
            )
            s.flush()
            _tell_owner(s, old, new)
            record_event(
                s,
                action="lifecycle.credential_renewed",
                actor_id=actor_id,
                tenant_id=old.tenant_id,
                target_type="credential",
                target_id=old.id,
                details={
                    "new_credential_id": new.id,
                    "old_not_after": old.not_after.isoformat() if old.not_after else None,
                    "new_not_after": new.not_after.isoformat() if new.not_after else None,
                    "status": new.status,
                },
            )
    except IntegrityError:
        # another renewer won the race: ours must not stay usable
        with contextlib.suppress(Exception):
            keys.revoke_credential(new.id, reason="superseded", destroy_key=True)
        return None
    return Renewal(old.id, new.id, old.owner_id, new.status, new.not_after)


def _tell_owner(s: Any, old: Credential, new: Credential) -> None:
    subject = f"{new.not_after:%d/%m/%Y}" if new.not_after else "CSR"
    if old.owner_kind == OwnerKind.PERSON and old.owner_id:
        recipients = [old.owner_id]
    elif old.tenant_id:  # the school seal: its admins and its principal
        recipients = notices.people_with_role(
            s, organisation_id=old.tenant_id, roles=[people_rules.SCHOOL_ADMIN, people_rules.PRINCIPAL]
        )
    else:
        return
    notices.tell(
        s,
        recipient_ids=recipients,
        tenant_id=old.tenant_id,
        kind="certificate_renewed",
        dedupe_key=f"certificate_renewed:{old.id}",
        count=1,
        subject=subject,
        url="/me/credentials",
    )


def renew_expiring(
    *, days: int = 30, now: datetime | None = None, actor_id: str | None = None
) -> list[Renewal]:
    """Renew every credential within ``days`` of expiry (idempotent: a renewed one is skipped)."""
    done = []
    for credential in expiring(days=days, now=now):
        try:
            renewal = renew_credential(credential, actor_id=actor_id)
        except Exception:
            log.exception("renewal_failed", credential_id=credential.id)
            continue  # one failure (HSM, CA) must not stop the others; the next run retries it
        if renewal is not None:
            done.append(renewal)
    return done
