"""Plans, subscriptions, metering and quota on a real database (SQLite, or PG with TEST_DATABASE_URL)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.billing import service
from app.billing.errors import (
    InvalidBillingRequest,
    NoSubscription,
    QuotaExceeded,
    SubscriptionOverlap,
    TransitionNotAllowed,
)
from app.billing.models import Plan, SignatureUsage, Subscription, UsageClass, UsageDaily
from app.db import session, transaction
from app.notify.models import Notice
from app.people.models import Person, RoleAssignment, SchoolClass
from app.tenants.models import DISTRICT, SCHOOL, Organisation

_n = itertools.count(1)


@dataclass
class Tree:
    district: Organisation
    schools: list[Organisation]
    admins: dict[str, Person]  # school id / district id -> admin
    operator: Person


def make_org(kind: str, name: str, parent: Organisation | None = None) -> Organisation:
    org = Organisation(
        id=str(uuid.uuid4()), kind=kind, code=f"{kind[:3].upper()}{next(_n):04d}", name=name, policy={}
    )
    org.parent_id = parent.id if parent else None
    with transaction() as s:
        s.add(org)
    return org


def make_person(org: Organisation, role: str, name: str = "Nguyễn Thị Hồng Vân") -> Person:
    n = next(_n)
    tenant = org.id if org.kind == SCHOOL else None
    person = Person(
        id=str(uuid.uuid4()),
        tenant_id=tenant,
        organisation_id=org.id,
        display_name=name,
        username=f"user{n}",
        webauthn_user_id=uuid.uuid4().hex,
        status="active",
    )
    with transaction() as s:
        s.add(person)
        s.flush()
        s.add(RoleAssignment(person_id=person.id, organisation_id=org.id, tenant_id=tenant, role=role))
    return person


def make_tree(schools: int = 3) -> Tree:
    department = make_org("department", "Sở GDĐT Hà Nội")
    district = make_org(DISTRICT, "Phòng GDĐT Long Biên", department)
    orgs = [make_org(SCHOOL, f"Trường Tiểu học Số {i + 1}", district) for i in range(schools)]
    admins = {o.id: make_person(o, "school_admin", f"Quản trị {o.code}") for o in orgs}
    admins[district.id] = make_person(district, "district_admin", "Kế toán phòng")
    operator = make_person(department, "operator", "Vận hành")
    return Tree(district, orgs, admins, operator)


def make_class(school: Organisation, name: str) -> SchoolClass:
    klass = SchoolClass(
        id=str(uuid.uuid4()), tenant_id=school.id, school_year="2024-2025", name=name, grade=int(name[0])
    )
    with transaction() as s:
        s.add(klass)
    return klass


def this_year() -> tuple[date, date]:
    today = service.today()
    return today - timedelta(days=60), today + timedelta(days=300)


def school_plan(included: int, *, code: str | None = None, overage: bool = False) -> Plan:
    return service.create_plan(
        actor_id=None,
        code=code or f"school-{included}-{next(_n)}",
        name=f"Gói trường {included}",
        scope="school",
        included_signatures=included,
        price_vnd=included * 1_000,
        overage_allowed=overage,
        overage_unit_price_vnd=1_500 if overage else 0,
    )


def sign(
    school: Organisation,
    count: int,
    *,
    doc_type: str = "transcript",
    klass: SchoolClass | None = None,
    step: str = "teacher",
) -> list[str]:
    ids = []
    with transaction() as s:
        for _ in range(count):
            doc = str(uuid.uuid4())
            service.record_signature(
                s,
                tenant_id=school.id,
                document_id=doc,
                step=step,
                doc_type=doc_type,
                class_id=klass.id if klass else None,
                signed_at=datetime.now(UTC),
            )
            ids.append(doc)
    return ids


def test_plan_and_subscription_changes_are_audited(app: Flask) -> None:
    tree = make_tree(1)
    plan = school_plan(100)
    start, end = this_year()
    sub = service.create_subscription(
        actor_id=tree.operator.id,
        organisation_id=tree.schools[0].id,
        plan_id=plan.id,
        period_start=start,
        period_end=end,
    )
    assert sub.status == "trial"
    service.transition_subscription(sub.id, actor_id=tree.operator.id, status="active")
    bigger = school_plan(1000)
    service.change_plan(sub.id, actor_id=tree.operator.id, plan_id=bigger.id)
    service.update_plan(plan.id, actor_id=tree.operator.id, price_vnd=90_000)
    actions = list(session().scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions == [
        "billing.plan.create",
        "billing.subscription.create",
        "billing.subscription.status",
        "billing.plan.create",
        "billing.subscription.plan",
        "billing.plan.update",
    ]
    assert session().get(Subscription, sub.id).activated_at is not None  # type: ignore[union-attr]


def test_refused_transitions_and_overlaps(app: Flask) -> None:
    tree = make_tree(1)
    plan = school_plan(100)
    start, end = this_year()
    sub = service.create_subscription(
        actor_id=None, organisation_id=tree.schools[0].id, plan_id=plan.id, period_start=start, period_end=end
    )
    with pytest.raises(SubscriptionOverlap):
        service.create_subscription(
            actor_id=None,
            organisation_id=tree.schools[0].id,
            plan_id=plan.id,
            period_start=end,
            period_end=end + timedelta(days=30),
        )
    with pytest.raises(TransitionNotAllowed) as refused:
        service.transition_subscription(sub.id, actor_id=None, status="past_due")
    assert refused.value.details == {"from": "trial", "to": "past_due"}
    service.transition_subscription(sub.id, actor_id=None, status="ended")
    with pytest.raises(TransitionNotAllowed):
        service.transition_subscription(sub.id, actor_id=None, status="active")
    # a school plan cannot be given to a district office
    with pytest.raises(InvalidBillingRequest):
        service.create_subscription(
            actor_id=None,
            organisation_id=tree.district.id,
            plan_id=plan.id,
            period_start=start,
            period_end=end,
        )


def test_a_signature_is_counted_once_and_aggregated(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    start, end = this_year()
    sub = service.create_subscription(
        actor_id=None,
        organisation_id=school.id,
        plan_id=school_plan(100).id,
        period_start=start,
        period_end=end,
        status="active",
    )
    klass = make_class(school, "3A")
    doc = sign(school, 1, klass=klass)[0]
    for _ in range(3):  # the signing task retried: still one signature
        with transaction() as s:
            service.record_signature(
                s,
                tenant_id=school.id,
                document_id=doc,
                step="teacher",
                doc_type="transcript",
                class_id=klass.id,
                signed_at=datetime.now(UTC),
            )
    sign(school, 1, klass=klass, step="principal")
    s = session()
    assert s.scalar(select(func.count()).select_from(SignatureUsage)) == 2
    assert s.scalar(select(func.sum(UsageDaily.count))) == 2
    assert s.scalar(select(UsageClass.count).where(UsageClass.class_id == klass.id)) == 2
    s.expire_all()
    assert s.get(Subscription, sub.id).used_signatures == 2  # type: ignore[union-attr]


def test_a_rolled_back_signature_is_not_counted(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    start, end = this_year()
    sub = service.create_subscription(
        actor_id=None,
        organisation_id=school.id,
        plan_id=school_plan(100).id,
        period_start=start,
        period_end=end,
        status="active",
    )
    with pytest.raises(RuntimeError), transaction() as s:
        service.record_signature(
            s,
            tenant_id=school.id,
            document_id="d1",
            step="1",
            doc_type="transcript",
            class_id=None,
            signed_at=datetime.now(UTC),
        )
        raise RuntimeError("storing the signed revision failed")
    session().expire_all()
    assert session().get(Subscription, sub.id).used_signatures == 0  # type: ignore[union-attr]
    assert session().scalar(select(func.count()).select_from(SignatureUsage)) == 0


def test_quota_refuses_a_batch_before_signing_with_the_numbers(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    start, end = this_year()
    service.create_subscription(
        actor_id=None,
        organisation_id=school.id,
        plan_id=school_plan(10).id,
        period_start=start,
        period_end=end,
        status="active",
    )
    sign(school, 7)
    with transaction() as s:
        status = service.check_quota(s, tenant_id=school.id, needed=3)
    assert (status.included, status.used, status.remaining) == (10, 7, 3)
    with pytest.raises(QuotaExceeded) as exceeded, transaction() as s:
        service.check_quota(s, tenant_id=school.id, needed=4)
    details = exceeded.value.details
    assert {k: details[k] for k in ("needed", "remaining", "included", "used")} == {
        "needed": 4,
        "remaining": 3,
        "included": 10,
        "used": 7,
    }
    assert exceeded.value.http_status == 402 and exceeded.value.code == "billing.quota_exceeded"


def test_overage_plans_never_refuse(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    start, end = this_year()
    service.create_subscription(
        actor_id=None,
        organisation_id=school.id,
        plan_id=school_plan(5, overage=True).id,
        period_start=start,
        period_end=end,
        status="active",
    )
    sign(school, 5)
    with transaction() as s:
        assert service.check_quota(s, tenant_id=school.id, needed=500).remaining == 0


def test_no_subscription_is_refused_but_a_signature_is_still_counted(app: Flask) -> None:
    tree = make_tree(1)
    with pytest.raises(NoSubscription), transaction() as s:
        service.check_quota(s, tenant_id=tree.schools[0].id, needed=1, require_subscription=True)
    with transaction() as s:  # outside production, an unsubscribed school is only logged
        assert service.check_quota(s, tenant_id=tree.schools[0].id, needed=1) is None
    sign(tree.schools[0], 1)
    assert session().scalar(select(SignatureUsage.subscription_id)) == ""


def test_own_subscription_pays_before_the_districts(app: Flask) -> None:
    tree = make_tree(2)
    own, pooled = tree.schools
    start, end = this_year()
    district_plan = service.create_plan(
        actor_id=None,
        code="district",
        name="Gói phòng",
        scope="district",
        included_signatures=1000,
        price_vnd=10_000_000,
    )
    dsub = service.create_subscription(
        actor_id=None,
        organisation_id=tree.district.id,
        plan_id=district_plan.id,
        period_start=start,
        period_end=end,
        status="active",
    )
    osub = service.create_subscription(
        actor_id=None,
        organisation_id=own.id,
        plan_id=school_plan(50).id,
        period_start=start,
        period_end=end,
        status="active",
    )
    with transaction() as s:
        assert service.check_quota(s, tenant_id=own.id, needed=1).subscription_id == osub.id
        assert service.check_quota(s, tenant_id=pooled.id, needed=1).subscription_id == dsub.id
    service.transition_subscription(osub.id, actor_id=None, status="ended")
    with transaction() as s:
        assert service.check_quota(s, tenant_id=own.id, needed=1).subscription_id == dsub.id


def test_warnings_at_80_and_100_percent_reach_school_admins_once(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    admin = tree.admins[school.id]
    start, end = this_year()
    service.create_subscription(
        actor_id=None,
        organisation_id=school.id,
        plan_id=school_plan(10, overage=True).id,
        period_start=start,
        period_end=end,
        status="active",
    )
    sign(school, 7)
    assert session().scalar(select(func.count()).select_from(Notice)) == 0
    sign(school, 1)  # 8/10
    sign(school, 5)  # 13/10: crosses 100 once
    notices = list(
        session().scalars(select(Notice).where(Notice.person_id == admin.id).order_by(Notice.count))
    )
    assert [(n.kind, n.count) for n in notices] == [("quota_warning", 80), ("quota_warning", 100)]
    warnings = session().scalars(select(AuditEvent).where(AuditEvent.action == "billing.quota.warning")).all()
    assert sorted(w.details["threshold"] for w in warnings) == [80, 100]
