"""Delegation: a principal lets a deputy sign for them ("KT. HIỆU TRƯỞNG"); revocable at once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.audit.service import record_event
from app.auth.clock import now as clock_now
from app.db import session, transaction
from app.people import rules as people_rules
from app.people.models import Person, RoleAssignment, SchoolClass
from app.workflow.errors import DelegationInvalid, DelegationNotFound
from app.workflow.models import Delegation


def create(
    *,
    tenant_id: str | None,
    principal_id: str,
    delegate_id: str,
    starts_on: date,
    ends_on: date,
    class_ids: list[str] | None = None,
) -> Delegation:
    if tenant_id is None:
        raise DelegationInvalid("Delegations belong to a school.")
    if ends_on < starts_on:
        raise DelegationInvalid("The delegation ends before it starts.")
    if delegate_id == principal_id:
        raise DelegationInvalid("A principal cannot delegate to themselves.")
    with transaction() as s:
        is_principal = s.scalar(
            select(RoleAssignment.id).where(
                RoleAssignment.person_id == principal_id,
                RoleAssignment.tenant_id == tenant_id,
                RoleAssignment.role == people_rules.PRINCIPAL,
            )
        )
        if not is_principal:
            raise DelegationInvalid("Only the principal can delegate their signature.")
        delegate = s.get(Person, delegate_id)
        if delegate is None or delegate.tenant_id != tenant_id or not delegate.is_active:
            raise DelegationInvalid("The delegate must be an active member of the school.")
        is_deputy = s.scalar(
            select(RoleAssignment.id).where(
                RoleAssignment.person_id == delegate_id,
                RoleAssignment.tenant_id == tenant_id,
                RoleAssignment.role == people_rules.VICE_PRINCIPAL,
            )
        )
        if not is_deputy:
            raise DelegationInvalid("The principal's signature can be delegated to a vice-principal only.")
        if class_ids:
            known = set(
                s.scalars(
                    select(SchoolClass.id).where(
                        SchoolClass.tenant_id == tenant_id, SchoolClass.id.in_(class_ids)
                    )
                )
            )
            if known != set(class_ids):
                raise DelegationInvalid("Some classes do not exist in this school.")
        delegation = Delegation(
            tenant_id=tenant_id,
            principal_id=principal_id,
            delegate_id=delegate_id,
            starts_on=starts_on,
            ends_on=ends_on,
            class_ids=list(class_ids) if class_ids else None,
        )
        s.add(delegation)
        s.flush()
        record_event(
            s,
            action="delegation.created",
            actor_id=principal_id,
            tenant_id=tenant_id,
            target_type="delegation",
            target_id=delegation.id,
            details={
                "delegate_id": delegate_id,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
                "class_ids": class_ids or None,
            },
        )
        return delegation


def revoke(*, tenant_id: str | None, person_id: str, delegation_id: str) -> Delegation:
    """The principal (or the delegate, giving it back) ends a delegation now."""
    with transaction() as s:
        delegation = s.get(Delegation, delegation_id)
        if delegation is None or delegation.tenant_id != tenant_id:
            raise DelegationNotFound()
        if person_id not in (delegation.principal_id, delegation.delegate_id):
            raise DelegationNotFound()
        if delegation.revoked_at is None:
            delegation.revoked_at, delegation.revoked_by_id = clock_now(), person_id
            record_event(
                s,
                action="delegation.revoked",
                actor_id=person_id,
                tenant_id=tenant_id,
                target_type="delegation",
                target_id=delegation.id,
                details={"principal_id": delegation.principal_id, "delegate_id": delegation.delegate_id},
            )
        return delegation


def list_for(*, tenant_id: str | None, person_id: str) -> list[Delegation]:
    if tenant_id is None:
        return []
    return list(
        session().scalars(
            select(Delegation)
            .where(
                Delegation.tenant_id == tenant_id,
                (Delegation.principal_id == person_id) | (Delegation.delegate_id == person_id),
            )
            .order_by(Delegation.created_at.desc())
        )
    )
