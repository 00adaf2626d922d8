"""The hand-written canonical form of an audit record is byte-for-byte the JSON it stands for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.audit.service import _canonical, _row_canonical, iso

text = st.text(max_size=40)
maybe = st.none() | text
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)


@given(
    seq=st.integers(min_value=1, max_value=10**12),
    record_id=text,
    moment=st.datetimes(timezones=st.just(UTC)),
    tenant_id=maybe,
    actor_id=maybe,
    action=text,
    outcome=text,
    target_type=maybe,
    target_id=maybe,
    details=st.dictionaries(text, json_values, max_size=4),
    prev_hash=text,
)
def test_fast_canonical_equals_json_dumps(
    seq: int,
    record_id: str,
    moment: datetime,
    tenant_id: str | None,
    actor_id: str | None,
    action: str,
    outcome: str,
    target_type: str | None,
    target_id: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> None:
    body = {
        "seq": seq,
        "id": record_id,
        "occurred_at": iso(moment),
        "tenant_id": tenant_id,
        "actor_id": actor_id,
        "action": action,
        "outcome": outcome,
        "target_type": target_type,
        "target_id": target_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    expected = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    fields = (seq, record_id, iso(moment), tenant_id, actor_id, action, outcome, target_type, target_id)
    assert _canonical(*fields, details, prev_hash) == expected
    # a raw SQLite row (time and details as text) gives the same bytes
    stored = moment.replace(tzinfo=None).isoformat(" ", "microseconds")  # SQLAlchemy's SQLite format
    row = (
        seq,
        record_id,
        stored,
        tenant_id,
        actor_id,
        action,
        outcome,
        target_type,
        target_id,
        json.dumps(details),
        prev_hash,
        "",
    )
    assert _row_canonical(row) == expected
