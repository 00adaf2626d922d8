"""Record and verify the audit trail.

``record_event`` only queues the record on the caller's session; when that session commits, the
queued records get their sequence number and hash under a row lock on ``audit_head`` (taken last,
at commit, so it cannot deadlock with the caller's own locks) and are inserted in the same
transaction as the change they describe.  Nothing is ever updated or deleted.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from app.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from app.db import new_id, utcnow

_PENDING = "signet.audit_pending"


def record_event(
    session: Session,
    *,
    action: str,
    outcome: str = "success",
    actor_id: str | None,
    tenant_id: str | None,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Queue an audit record; it is written when ``session`` commits (and dropped on rollback)."""
    record = {
        "id": new_id(),
        "occurred_at": utcnow(),
        "tenant_id": tenant_id,
        "actor_id": actor_id,
        "action": action,
        "outcome": outcome,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "details": details or {},
    }
    if not session.in_transaction():
        session.begin()  # so that a rollback (which fires only inside a transaction) drops the record
    session.info.setdefault(_PENDING, []).append(record)


_str = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for strings (C)
_details = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
_parse = json.JSONDecoder().decode


def _opt(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _canonical(
    seq: int,
    record_id: str,
    occurred_at: str,
    tenant_id: str | None,
    actor_id: str | None,
    action: str,
    outcome: str,
    target_type: str | None,
    target_id: str | None,
    details: dict[str, Any] | None,
    prev_hash: str,
) -> bytes:
    """The bytes a record's hash covers: its fields as compact JSON with sorted keys, non-ASCII kept.

    Written out by hand (keys in sorted order) because the chain walk computes it a million times; it
    is byte-for-byte ``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
    (tests/unit/test_audit_canonical.py holds it to that).  ``occurred_at`` is already ISO 8601 text.
    """
    detail_json = "{}" if not details and details is not None else _details(details)
    return (
        f'{{"action":{_str(action)},"actor_id":{_opt(actor_id)},"details":{detail_json},'
        f'"id":{_str(record_id)},"occurred_at":{_str(occurred_at)},"outcome":{_str(outcome)},'
        f'"prev_hash":{_str(prev_hash)},"seq":{int(seq)},"target_id":{_opt(target_id)},'
        f'"target_type":{_opt(target_type)},"tenant_id":{_opt(tenant_id)}}}'
    ).encode()


def iso(moment: datetime) -> str:
    """A record's time as hashed: UTC, microseconds, ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(record: AuditEvent | Mapping[str, Any]) -> bytes:
    """An ``AuditEvent``'s, or a row of its columns (what ``_append_pending`` inserts)."""
    field = record.__getitem__ if isinstance(record, Mapping) else functools.partial(getattr, record)
    return _canonical(
        field("seq"),
        field("id"),
        iso(field("occurred_at")),
        field("tenant_id"),
        field("actor_id"),
        field("action"),
        field("outcome"),
        field("target_type"),
        field("target_id"),
        field("details"),
        field("prev_hash"),
    )


def chain_hash(record: AuditEvent | Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


@event.listens_for(Session, "before_commit")
def _append_pending(session: Session) -> None:
    pending: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS_HASH)
        session.add(head)
    seq, prev = head.seq, head.hash
    for record in pending:
        seq += 1
        record["seq"], record["prev_hash"] = seq, prev
        record["hash"] = prev = chain_hash(record)
    # plain rows in one executemany: a signing chunk audits 16 signatures, and ORM objects through the
    # unit of work cost several times the hashing
    session.execute(insert(AuditEvent), pending)
    head.seq, head.hash = seq, prev
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous_transaction: object) -> None:
    session.info.pop(_PENDING, None)


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    record_id: str | None
    reason: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    head_seq: int
    first_break: ChainBreak | None
    hashes: dict[int, str] = field(default_factory=dict)  # the hash found at each seq asked for

    @property
    def ok(self) -> bool:
        return self.first_break is None


_SELECT = text(
    "SELECT seq, id, occurred_at, tenant_id, actor_id, action, outcome, target_type, target_id, details, "
    "prev_hash, hash FROM audit_events WHERE seq > :last AND seq <= :upto ORDER BY seq LIMIT :n"
)


def _walk(session: Session, upto: int, batch: int = 20_000) -> Iterator[tuple[Any, ...]]:
    """Records 1..``upto`` as raw driver rows, in ``seq`` order, in keyset pages of ``batch``.

    Raw rows (no ORM, no type processing): SQLite gives the time and the details as text, PostgreSQL
    a datetime and a dict; ``_row_canonical`` accepts both.  Each page is read in its own short
    transaction, so a long walk never holds SQLite's write lock for more than a moment.
    """
    last = 0
    while last < upto:
        rows = session.execute(_SELECT, {"last": last, "upto": upto, "n": batch}).all()
        session.rollback()
        if not rows:
            return
        yield from (tuple(r) for r in rows)
        last = rows[-1][0]


def _row_canonical(row: tuple[Any, ...]) -> bytes:
    occurred_at, details = row[2], row[9]
    if isinstance(occurred_at, str):  # SQLite: "YYYY-MM-DD HH:MM:SS.ffffff", always UTC
        occurred_at = f"{occurred_at[:10]}T{occurred_at[11:26]}+00:00"
    else:
        occurred_at = iso(occurred_at)
    if isinstance(details, str):
        details = _parse(details)
    return _canonical(
        row[0], row[1], occurred_at, row[3], row[4], row[5], row[6], row[7], row[8], details, row[10]
    )


def verify_chain(session: Session, *, capture: Collection[int] = ()) -> VerifyResult:
    """Walk the chain up to the head as it is now; report the first record missing, moved or altered.

    ``capture``: sequence numbers whose hash the caller wants back (the checkpoints compare them).
    Records appended while the walk runs are left for the next walk.  Ends ``session``'s transaction.
    """
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    session.rollback()
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    wanted = set(capture)
    hashes: dict[int, str] = {}
    sha256 = hashlib.sha256
    for row in _walk(session, head_seq):
        seq, record_id, prev_hash, stored = row[0], row[1], row[10], row[11]
        if seq != expected_seq:
            return VerifyResult(checked, head_seq, ChainBreak(expected_seq, None, "record missing"), hashes)
        if prev_hash != expected_prev:
            return VerifyResult(
                checked, head_seq, ChainBreak(seq, record_id, "previous hash does not match"), hashes
            )
        if sha256(_row_canonical(row)).hexdigest() != stored:
            return VerifyResult(
                checked, head_seq, ChainBreak(seq, record_id, "record content altered"), hashes
            )
        if seq in wanted:
            hashes[seq] = stored
        expected_prev = stored
        expected_seq += 1
        checked += 1
    if checked != head_seq or expected_prev != head_hash:
        return VerifyResult(
            checked,
            head_seq,
            ChainBreak(checked + 1, None, "records after the last one are missing"),
            hashes,
        )
    return VerifyResult(checked, head_seq, None, hashes)
