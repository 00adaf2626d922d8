"""The approval chain of a transcript, read from the roster — never drawn per document.

Step 1 is the homeroom teacher of the document's class for its school year, step 2 the principal of
the school (or a deputy holding a live delegation), step 3 the school's active seal credential.
Anything missing is a ``Blocker`` with a stable code and a message a clerk can act on.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.keys.models import Credential, CredentialStatus, OwnerKind, Purpose
from app.people import rules as people_rules
from app.people.models import Person, RoleAssignment, SchoolClass
from app.tenants.models import Organisation
from app.workflow.models import Delegation
from app.workflow.rules import Step

ROLE_TITLES = {
    Step.HOMEROOM: "GIÁO VIÊN CHỦ NHIỆM",
    Step.PRINCIPAL: "HIỆU TRƯỞNG",
    Step.SEAL: "CON DẤU ĐƠN VỊ",
}
DEPUTY_TITLE = "PHÓ HIỆU TRƯỞNG"
ON_BEHALF = "KT. HIỆU TRƯỞNG"


@dataclass(frozen=True)
class Blocker:
    code: str
    message: str


@dataclass(frozen=True)
class Chain:
    teacher_id: str
    principal_id: str
    seal_credential_id: str


def find_class(s: Session, *, tenant_id: str, school_year: str, name: str) -> SchoolClass | None:
    return s.execute(
        select(SchoolClass).where(
            SchoolClass.tenant_id == tenant_id,
            SchoolClass.school_year == school_year,
            SchoolClass.name == name,
        )
    ).scalar_one_or_none()


def _active_person(s: Session, person_id: str) -> Person | None:
    person = s.get(Person, person_id)
    return person if person is not None and person.is_active else None


def homeroom_teacher(s: Session, *, tenant_id: str, class_id: str, school_year: str) -> Person | None:
    rows = s.execute(
        select(RoleAssignment)
        .where(
            RoleAssignment.tenant_id == tenant_id,
            RoleAssignment.role == people_rules.HOMEROOM_TEACHER,
            RoleAssignment.class_id == class_id,
            (RoleAssignment.school_year == school_year) | RoleAssignment.school_year.is_(None),
        )
        .order_by(RoleAssignment.created_at)
    ).scalars()
    for row in rows:
        person = _active_person(s, row.person_id)
        if person is not None:
            return person
    return None


def principal(s: Session, *, tenant_id: str) -> Person | None:
    rows = s.execute(
        select(RoleAssignment)
        .where(RoleAssignment.tenant_id == tenant_id, RoleAssignment.role == people_rules.PRINCIPAL)
        .order_by(RoleAssignment.created_at)
    ).scalars()
    for row in rows:
        person = _active_person(s, row.person_id)
        if person is not None:
            return person
    return None


def usable(credential: Credential, now: datetime) -> bool:
    return credential.is_usable_at(now)


def seal_credential(s: Session, *, tenant_id: str, now: datetime) -> Credential | None:
    rows = s.execute(
        select(Credential)
        .where(
            Credential.tenant_id == tenant_id,
            Credential.purpose == Purpose.SEAL,
            Credential.owner_kind == OwnerKind.ORGANISATION,
            Credential.status == CredentialStatus.ACTIVE,
        )
        .order_by(Credential.created_at.desc())
    ).scalars()
    return next((c for c in rows if usable(c, now)), None)


def signing_credential(s: Session, *, person_id: str, now: datetime) -> Credential | None:
    """The person's own active signing credential (one key, one signer, one certificate)."""
    rows = s.execute(
        select(Credential)
        .where(
            Credential.owner_id == person_id,
            Credential.owner_kind == OwnerKind.PERSON,
            Credential.purpose == Purpose.SIGNING,
            Credential.status == CredentialStatus.ACTIVE,
        )
        .order_by(Credential.created_at.desc())
    ).scalars()
    return next((c for c in rows if usable(c, now)), None)


def resolve(s: Session, *, tenant_id: str, class_id: str, school_year: str, now: datetime) -> Chain | Blocker:
    teacher = homeroom_teacher(s, tenant_id=tenant_id, class_id=class_id, school_year=school_year)
    if teacher is None:
        return Blocker(
            "document.no_homeroom_teacher",
            "The class has no homeroom teacher for this school year; assign one in the roster.",
        )
    head = principal(s, tenant_id=tenant_id)
    if head is None:
        return Blocker("document.no_principal", "The school has no principal in the roster; add one.")
    seal = seal_credential(s, tenant_id=tenant_id, now=now)
    if seal is None:
        return Blocker(
            "document.no_seal_credential",
            "The school has no active seal certificate (chứng thư số con dấu đơn vị); "
            "ask the operator to issue or import one.",
        )
    return Chain(teacher_id=teacher.id, principal_id=head.id, seal_credential_id=seal.id)


def delegations_held(
    s: Session, *, tenant_ids: Collection[str], delegate_id: str, on: date
) -> dict[tuple[str, str], list[Delegation]]:
    """Every delegation ``delegate_id`` holds on ``on`` (not revoked, in its dates), in one query,
    by (school, principal); ``delegated`` answers per document from this map."""
    held: dict[tuple[str, str], list[Delegation]] = {}
    if not tenant_ids:
        return held
    rows = s.execute(
        select(Delegation).where(
            Delegation.tenant_id.in_(sorted(tenant_ids)),
            Delegation.delegate_id == delegate_id,
            Delegation.revoked_at.is_(None),
            Delegation.starts_on <= on,
            Delegation.ends_on >= on,
        )
    ).scalars()
    for row in rows:
        held.setdefault((row.tenant_id, row.principal_id), []).append(row)
    return held


def delegated(
    held: dict[tuple[str, str], list[Delegation]],
    *,
    tenant_id: str,
    principal_id: str,
    on: date,
    class_id: str | None,
) -> Delegation | None:
    """The delegation of ``held`` that covers ``on`` and ``class_id``, or None: no query."""
    rows = held.get((tenant_id, principal_id), ())
    return next((d for d in rows if d.covers(on=on, class_id=class_id)), None)


def school(s: Session, tenant_id: str) -> Organisation | None:
    return s.get(Organisation, tenant_id)
