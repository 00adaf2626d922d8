"""Metering a chunk of signatures at once (Issue 8): the same counts as one by one, each signature
once, the paying subscription resolved once per chunk, and a fixed number of statements per chunk
however many signatures it holds.  Counted, not timed: the figure lives in bench_billing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.billing import service
from app.billing.models import NO_SUBSCRIPTION, SignatureUsage, Subscription, UsageClass, UsageDaily
from app.billing.service import Signature
from app.db import session, transaction
from tests.integration.test_billing_service import make_class, make_tree, school_plan, this_year
from tests.support.statements import statements


def _chunk(tenant_id: str, n: int, *, class_id: str | None = None, step: int = 1) -> list[Signature]:
    moment = datetime.now(UTC)
    return [
        Signature(tenant_id, str(uuid.uuid4()), step, "hoc_ba" if k % 4 else "certificate", class_id, moment)
        for k in range(n)
    ]


def _used(subscription_id: str) -> int:
    s = session()
    s.expire_all()
    sub = s.get(Subscription, subscription_id)
    assert sub is not None
    return sub.used_signatures


def test_a_chunk_is_counted_once_per_signature_with_its_type_and_class(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    start, end = this_year()
    sub = service.create_subscription(
        actor_id=None,
        organisation_id=school.id,
        plan_id=school_plan(20).id,
        period_start=start,
        period_end=end,
        status="active",
    )
    klass = make_class(school, "4A")
    chunk = _chunk(school.id, 16, class_id=klass.id)
    with transaction() as s:
        assert service.record_signatures(s, chunk) == 16
    assert _used(sub.id) == 16
    # the task is retried with the same chunk and four more signatures: only the four count
    more = _chunk(school.id, 4, class_id=klass.id)
    with transaction() as s:
        assert service.record_signatures(s, chunk + more + more[:1]) == 4
    assert _used(sub.id) == 20
    s = session()
    assert s.scalar(select(func.count()).select_from(SignatureUsage)) == 20
    assert set(s.scalars(select(SignatureUsage.subscription_id))) == {sub.id}
    by_type = {
        doc_type: n
        for doc_type, n in s.execute(
            select(UsageDaily.doc_type, func.sum(UsageDaily.count)).group_by(UsageDaily.doc_type)
        )
    }
    assert by_type == {"hoc_ba": 15, "certificate": 5}
    by_class = {
        doc_type: n
        for doc_type, n in s.execute(
            select(UsageClass.doc_type, UsageClass.count).where(UsageClass.class_id == klass.id)
        )
    }
    assert by_class == {"hoc_ba": 15, "certificate": 5}
    # 80 % was crossed by the first chunk and 100 % by the second: one warning each
    thresholds = sorted(
        e.details["threshold"]
        for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "billing.quota.warning"))
    )
    assert thresholds == [80, 100]


def test_a_chunk_costs_the_same_statements_for_2_or_16_signatures(app: Flask) -> None:
    tree = make_tree(2)
    start, end = this_year()
    plan = service.create_plan(
        actor_id=None,
        code="district-perf",
        name="Gói phòng",
        scope="district",
        included_signatures=10_000,
        price_vnd=1,
    )
    sub = service.create_subscription(
        actor_id=None,
        organisation_id=tree.district.id,
        plan_id=plan.id,
        period_start=start,
        period_end=end,
        status="active",
    )
    school = tree.schools[1]
    with transaction() as s:
        service.record_signatures(s, _chunk(school.id, 1))  # first-use reads
    with transaction() as s, statements() as small:
        service.record_signatures(s, _chunk(school.id, 2))
    with transaction() as s, statements() as large:
        service.record_signatures(s, _chunk(school.id, 16, step=2))
    assert len(large) == len(small) <= 5
    assert _used(sub.id) == 19  # the district pays for its school
    assert (
        session().scalar(select(func.sum(UsageDaily.count)).where(UsageDaily.subscription_id == sub.id)) == 19
    )


def test_signatures_nobody_pays_for_are_kept_and_a_rollback_counts_nothing(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    with transaction() as s:
        assert service.record_signatures(s, _chunk(school.id, 3)) == 3
    assert (
        session().scalar(
            select(func.sum(UsageDaily.count)).where(UsageDaily.subscription_id == NO_SUBSCRIPTION)
        )
        == 3
    )
    try:
        with transaction() as s:
            service.record_signatures(s, _chunk(school.id, 5))
            raise RuntimeError("storing the signed revisions failed")
    except RuntimeError:
        pass
    assert session().scalar(select(func.count()).select_from(SignatureUsage)) == 3
    assert datetime.now(UTC) - timedelta(minutes=5) < max(session().scalars(select(SignatureUsage.signed_at)))
