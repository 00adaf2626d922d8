"""Who is told about billing and lifecycle events, and the dialect helper for idempotent inserts.

Notices themselves are ``app.notify``'s inbox rows (pushed once, after the commit).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notify.service import notify
from app.people import rules as people_rules
from app.people.models import ACTIVE, Person, RoleAssignment


def insert_ignore(session: Session, table: Any) -> Any:
    """An ``INSERT`` with ``on_conflict_do_nothing`` / ``on_conflict_do_update`` for the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def people_with_role(session: Session, *, organisation_id: str, roles: Iterable[str]) -> list[str]:
    """Active people holding one of ``roles`` in ``organisation_id`` (ids, stable order)."""
    rows = session.scalars(
        select(RoleAssignment.person_id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(
            RoleAssignment.organisation_id == organisation_id,
            RoleAssignment.role.in_(list(roles)),
            Person.status == ACTIVE,
        )
        .distinct()
        .order_by(RoleAssignment.person_id)
    )
    return list(rows)


def school_admins(session: Session, organisation_id: str) -> list[str]:
    return people_with_role(session, organisation_id=organisation_id, roles=[people_rules.SCHOOL_ADMIN])


def district_admins(session: Session, organisation_id: str) -> list[str]:
    return people_with_role(session, organisation_id=organisation_id, roles=[people_rules.DISTRICT_ADMIN])


def tell(
    session: Session,
    *,
    recipient_ids: Iterable[str],
    tenant_id: str | None,
    kind: str,
    dedupe_key: str,
    count: int,
    subject: str | None = None,
    url: str = "/",
) -> int:
    """One inbox notice (and one push) per recipient, in the caller's transaction."""
    recipients = list(dict.fromkeys(recipient_ids))
    for person_id in recipients:
        notify(
            session,
            person_id=person_id,
            tenant_id=tenant_id,
            kind=kind,
            dedupe_key=dedupe_key,
            count=count,
            subject=subject,
            url=url,
        )
    return len(recipients)
