"""Reading the audit trail: search (newest first, by a ``before_seq`` cursor) and export (JSON Lines,
oldest first, every field needed to re-verify the chain offline; see schemas/audit-export.schema.json).

Who sees what: auditors and school admins their own school; district (and department) admins the
schools below their organisation; operators everything, including records of no school (sign-in
failures of unknown users, HSM and CA events).  An export is itself an audit record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from app.audit.models import AuditEvent
from app.audit.service import record_event
from app.db import session, transaction
from app.errors import Forbidden
from app.people.rules import AUDITOR, DISTRICT_ADMIN, OPERATOR, SCHOOL_ADMIN
from app.tenants.models import Organisation

READERS = (AUDITOR, SCHOOL_ADMIN, DISTRICT_ADMIN, OPERATOR)
EXPORT_BATCH = 2000


@dataclass(frozen=True)
class Reader:
    """Who reads: the person, their school (if any), their organisation and their roles."""

    person_id: str
    tenant_id: str | None
    organisation_id: str | None
    roles: frozenset[str]


@dataclass(frozen=True)
class EventQuery:
    since: datetime | None = None
    until: datetime | None = None
    actor_id: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." or "*" ("signature.", "auth.*")
    outcome: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    tenant_id: str | None = None  # narrow an operator's or district admin's view to one school
    before_seq: int | None = None
    limit: int = 100


def scope(reader: Reader) -> frozenset[str] | None:
    """The schools ``reader`` may read (None: every record, also those of no school)."""
    if OPERATOR in reader.roles:
        return None
    schools: set[str] = set()
    if reader.roles & {AUDITOR, SCHOOL_ADMIN} and reader.tenant_id:
        schools.add(reader.tenant_id)
    if DISTRICT_ADMIN in reader.roles and reader.organisation_id:
        schools |= _schools_below(reader.organisation_id)
    if not schools:
        raise Forbidden("Only auditors, school, district and service administrators read the audit trail.")
    return frozenset(schools)


def _schools_below(organisation_id: str) -> set[str]:
    s = session()
    found: set[str] = set()
    frontier = [organisation_id]
    for _ in range(4):  # department → district → school: the tree is shallow
        children = s.execute(
            select(Organisation.id, Organisation.kind).where(Organisation.parent_id.in_(frontier))
        ).all()
        if not children:
            break
        found |= {child_id for child_id, kind in children if kind == "school"}
        frontier = [child_id for child_id, _ in children]
    return found


def _filtered(reader: Reader, query: EventQuery) -> Select[AuditEvent]:
    allowed = scope(reader)
    stmt = select(AuditEvent)
    if allowed is not None:
        if query.tenant_id is not None and query.tenant_id not in allowed:
            raise Forbidden("That school is not one of yours.")
        stmt = stmt.where(AuditEvent.tenant_id.in_(sorted(allowed)))
    if query.tenant_id is not None:
        stmt = stmt.where(AuditEvent.tenant_id == query.tenant_id)
    if query.since is not None:
        stmt = stmt.where(AuditEvent.occurred_at >= query.since)
    if query.until is not None:
        stmt = stmt.where(AuditEvent.occurred_at < query.until)
    if query.actor_id is not None:
        stmt = stmt.where(AuditEvent.actor_id == query.actor_id)
    if query.action:
        if query.action.endswith(("*", ".")):
            prefix = query.action.rstrip("*")
            escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(AuditEvent.action.like(f"{escaped}%", escape="\\"))
        else:
            stmt = stmt.where(AuditEvent.action == query.action)
    if query.outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == query.outcome)
    if query.target_type is not None:
        stmt = stmt.where(AuditEvent.target_type == query.target_type)
    if query.target_id is not None:
        stmt = stmt.where(AuditEvent.target_id == query.target_id)
    return stmt


def search(*, reader: Reader, query: EventQuery) -> dict[str, Any]:
    """One page, newest first; ``next_before_seq`` continues it (None at the end)."""
    stmt = _filtered(reader, query)
    if query.before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < query.before_seq)
    limit = max(1, min(query.limit, 500))
    rows = list(session().scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    items = [export_line(r) for r in rows[:limit]]
    return {"items": items, "next_before_seq": items[-1]["seq"] if more and items else None}


def export_line(record: AuditEvent) -> dict[str, Any]:
    """One record with every field its hash covers (``occurred_at`` exactly as hashed)."""
    return {
        "seq": record.seq,
        "id": record.id,
        "occurred_at": record.occurred_at.isoformat(timespec="microseconds"),
        "tenant_id": record.tenant_id,
        "actor_id": record.actor_id,
        "action": record.action,
        "outcome": record.outcome,
        "target_type": record.target_type,
        "target_id": record.target_id,
        "details": record.details or {},
        "prev_hash": record.prev_hash,
        "hash": record.hash,
    }


def export(*, reader: Reader, query: EventQuery) -> Iterator[str]:
    """JSON Lines, oldest first.  The export is recorded (who, which filters) before the first line."""
    stmt = _filtered(reader, query)  # refuses before anything is recorded or sent
    filters = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(query).items()}
    filters = {k: v for k, v in filters.items() if v is not None and k not in ("limit", "before_seq")}
    with transaction() as s:
        record_event(
            s,
            action="audit.exported",
            actor_id=reader.person_id,
            tenant_id=reader.tenant_id,
            target_type="audit",
            details={"filters": filters},
        )
    return _lines(stmt)


def _lines(stmt: Select[AuditEvent]) -> Iterator[str]:
    last = 0
    while True:
        rows = list(
            session().scalars(stmt.where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(EXPORT_BATCH))
        )
        if not rows:
            return
        for row in rows:
            yield json.dumps(export_line(row), ensure_ascii=False, separators=(",", ":")) + "\n"
        last = rows[-1].seq
        session().expunge_all()
