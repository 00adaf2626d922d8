"""The school seal ("chứng thư số con dấu đơn vị"): the school admin asks, the principal approves.

No seal is created or rotated without a ``SealRequest`` decided by a principal of the same school;
both the request and the decision are audited.  A rotation keeps the previous seal (its signatures
must still verify) unless the request says it was compromised, in which case it is revoked and its
key destroyed.  The workflow always uses the school's newest active seal.
"""

from __future__ import annotations

from sqlalchemy import select

from app.audit.service import record_event
from app.billing import notices
from app.db import new_id, session, transaction, utcnow
from app.keys import service as keys
from app.keys.models import Credential, CredentialStatus, OwnerKind, Purpose
from app.lifecycle.errors import (
    InvalidLifecycleRequest,
    NotAllowedHere,
    SealRequestDecided,
    SealRequestNotFound,
)
from app.lifecycle.models import APPROVED, PENDING, REJECTED, SEAL_CREATE, SEAL_ROTATE, SealRequest
from app.people import rules as people_rules
from app.tenants.models import SCHOOL, Organisation


def _has_role(tenant_id: str, person_id: str, role: str) -> bool:
    return person_id in notices.people_with_role(session(), organisation_id=tenant_id, roles=[role])


def current_seal(tenant_id: str) -> Credential | None:
    return (
        session()
        .scalars(
            select(Credential)
            .where(
                Credential.tenant_id == tenant_id,
                Credential.purpose == Purpose.SEAL.value,
                Credential.owner_kind == OwnerKind.ORGANISATION.value,
                Credential.status == CredentialStatus.ACTIVE.value,
            )
            .order_by(Credential.created_at.desc())
        )
        .first()
    )


def request_seal(
    *, tenant_id: str, actor_id: str, kind: str = SEAL_CREATE, reason: str | None = None
) -> SealRequest:
    """A school admin asks for the school's seal to be created or rotated."""
    if kind not in (SEAL_CREATE, SEAL_ROTATE):
        raise InvalidLifecycleRequest("kind must be create or rotate.")
    if not _has_role(tenant_id, actor_id, people_rules.SCHOOL_ADMIN):
        raise NotAllowedHere("Only the school admin manages the school seal.")
    previous = current_seal(tenant_id)
    if kind == SEAL_CREATE and previous is not None:
        raise InvalidLifecycleRequest("The school has a seal; ask for a rotation instead.")
    if kind == SEAL_ROTATE and previous is None:
        raise InvalidLifecycleRequest("The school has no seal to rotate; ask for one to be created.")
    with transaction() as s:
        request = SealRequest(
            id=new_id(),
            tenant_id=tenant_id,
            kind=kind,
            status=PENDING,
            requested_by_id=actor_id,
            reason=(reason or "").strip() or None,
            previous_credential_id=previous.id if previous else None,
        )
        s.add(request)
        s.flush()
        notices.tell(
            s,
            recipient_ids=notices.people_with_role(
                s, organisation_id=tenant_id, roles=[people_rules.PRINCIPAL]
            ),
            tenant_id=tenant_id,
            kind="seal_approval_waiting",
            dedupe_key=f"seal_request:{request.id}",
            count=1,
            subject=kind,
            url=f"/admin/seal-requests/{request.id}",
        )
        record_event(
            s,
            action="lifecycle.seal.request",
            actor_id=actor_id,
            tenant_id=tenant_id,
            target_type="seal_request",
            target_id=request.id,
            details={"kind": kind, "previous_credential_id": request.previous_credential_id},
        )
    return request


def decide_seal_request(
    *, request_id: str, principal_id: str, approve: bool, compromised: bool = False
) -> SealRequest:
    """The principal approves (the seal is created in the HSM and certified) or rejects."""
    s = session()
    request = s.get(SealRequest, request_id)
    if request is None:
        raise SealRequestNotFound()
    if not _has_role(request.tenant_id, principal_id, people_rules.PRINCIPAL):
        raise NotAllowedHere("Only the principal of the school approves its seal.")
    with transaction() as s:
        # claim the decision first: two clicks cannot create two seals
        locked = s.get(SealRequest, request_id, with_for_update=True, populate_existing=True)
        if locked is None or locked.status != PENDING:
            raise SealRequestDecided()
        locked.status = APPROVED if approve else REJECTED
        locked.decided_by_id = principal_id
        locked.decided_at = utcnow()
        record_event(
            s,
            action="lifecycle.seal.approve" if approve else "lifecycle.seal.reject",
            actor_id=principal_id,
            tenant_id=locked.tenant_id,
            target_type="seal_request",
            target_id=locked.id,
            details={"kind": locked.kind, "compromised": compromised},
        )
    if not approve:
        return locked
    school = s.get(Organisation, locked.tenant_id)
    if school is None or school.kind != SCHOOL:
        raise InvalidLifecycleRequest("A seal belongs to a school.")
    seal = keys.create_seal(organisation_id=school.id, organisation_name=school.name)
    if compromised and locked.previous_credential_id:
        keys.revoke_credential(locked.previous_credential_id, reason="key_compromise", destroy_key=True)
    with transaction() as s:
        row = s.get(SealRequest, locked.id)
        assert row is not None
        row.credential_id = seal.id
        record_event(
            s,
            action="lifecycle.seal.issued",
            actor_id=principal_id,
            tenant_id=school.id,
            target_type="credential",
            target_id=seal.id,
            details={
                "seal_request_id": row.id,
                "previous_credential_id": row.previous_credential_id,
                "previous_revoked": bool(compromised and row.previous_credential_id),
            },
        )
    return row
