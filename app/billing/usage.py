"""Dashboards: signatures per day and per class, school-year progress, remaining quota, and the cost
per signer compared with buying each teacher a certificate.

Every figure comes from the aggregate tables (``billing_usage_daily``, ``billing_usage_class``) and
the subscription's running count, never from the ledger, so a district of 100 schools and a million
signatures answers from a few tens of thousands of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing import rules
from app.billing.access import require_viewer
from app.billing.errors import InvalidBillingRequest
from app.billing.models import NO_CLASS, NO_SUBSCRIPTION, Subscription, UsageClass, UsageDaily
from app.billing.service import QuotaStatus, in_force, paying_subscription, quota_status, status_of, today
from app.db import session
from app.people import rules as people_rules
from app.people.models import ACTIVE, Person, RoleAssignment, SchoolClass
from app.tenants.models import DISTRICT, SCHOOL, Organisation

DEFAULT_REFERENCE_CERTIFICATE_VND = 500_000  # a personal signing certificate, per teacher and year
SIGNER_ROLES = (
    people_rules.TEACHER,
    people_rules.HOMEROOM_TEACHER,
    people_rules.PRINCIPAL,
    people_rules.VICE_PRINCIPAL,
)


@dataclass(frozen=True)
class DayCount:
    day: date
    count: int


@dataclass(frozen=True)
class ClassCount:
    class_id: str | None
    class_name: str
    count: int


@dataclass(frozen=True)
class CostComparison:
    """What the paying subscription costs per signer, against one certificate per signer."""

    signers: int
    subscription_cost_vnd: int
    cost_per_signer_vnd: int
    reference_certificate_vnd: int  # per signer and year
    reference_total_vnd: int  # every signer buying a certificate for the same period
    saving_vnd: int


@dataclass(frozen=True)
class SchoolDashboard:
    tenant_id: str
    school_name: str
    paid_by: str | None  # organisation id of the paying subscription
    quota: QuotaStatus | None
    period_start: date
    period_end: date
    year_progress_percent: float
    total: int
    per_day: list[DayCount]
    per_class: list[ClassCount]
    per_doc_type: dict[str, int]
    cost: CostComparison | None


@dataclass(frozen=True)
class SchoolUsage:
    tenant_id: str
    code: str
    name: str
    total: int
    paid_by: str | None


@dataclass(frozen=True)
class DistrictDashboard:
    district_id: str
    district_name: str
    quota: QuotaStatus | None  # the district's own (pooled) subscription, if any
    period_start: date
    period_end: date
    year_progress_percent: float
    total: int
    per_day: list[DayCount]
    schools: list[SchoolUsage]
    cost: CostComparison | None


def reference_certificate_vnd() -> int:
    settings = current_app.extensions["signet.settings"]
    return int(settings.extra.get("billing_reference_certificate_vnd", DEFAULT_REFERENCE_CERTIFICATE_VND))


def school_year_bounds(day: date) -> tuple[date, date]:
    """1 September .. 31 August of the school year ``day`` falls in."""
    start = day.year if day.month >= 9 else day.year - 1
    return date(start, 9, 1), date(start + 1, 8, 31)


def _signers(s: Session, school_ids: list[str]) -> int:
    if not school_ids:
        return 0
    return int(
        s.scalar(
            select(func.count(func.distinct(RoleAssignment.person_id)))
            .join(Person, Person.id == RoleAssignment.person_id)
            .where(
                RoleAssignment.organisation_id.in_(school_ids),
                RoleAssignment.role.in_(SIGNER_ROLES),
                Person.status == ACTIVE,
            )
        )
        or 0
    )


def _covered_schools(s: Session, sub: Subscription) -> list[str]:
    org = s.get(Organisation, sub.organisation_id)
    if org is None:
        return []
    if org.kind == SCHOOL:
        return [org.id]
    return list(
        s.scalars(
            select(Organisation.id).where(Organisation.parent_id == org.id, Organisation.kind == SCHOOL)
        )
    )


def cost_comparison(s: Session, sub: Subscription, *, reference_vnd: int | None = None) -> CostComparison:
    plan = sub.plan
    quota = rules.Quota(plan.included_signatures, sub.used_signatures, plan.overage_allowed)
    billable = sub.status in {x.value for x in rules.BILLABLE}
    cost = (plan.price_vnd + quota.overage * plan.overage_unit_price_vnd) if billable else 0
    signers = _signers(s, _covered_schools(s, sub))
    reference = DEFAULT_REFERENCE_CERTIFICATE_VND if reference_vnd is None else reference_vnd
    days = (sub.period_end - sub.period_start).days + 1
    reference_total = (signers * reference * days + 182) // 365
    return CostComparison(
        signers=signers,
        subscription_cost_vnd=cost,
        cost_per_signer_vnd=(cost // signers) if signers else cost,
        reference_certificate_vnd=reference,
        reference_total_vnd=reference_total,
        saving_vnd=reference_total - cost,
    )


def _per_day(s: Session, tenant_ids: list[str], start: date, end: date) -> list[DayCount]:
    if not tenant_ids:
        return []
    rows = s.execute(
        select(UsageDaily.day, func.sum(UsageDaily.count))
        .where(UsageDaily.tenant_id.in_(tenant_ids), UsageDaily.day >= start, UsageDaily.day <= end)
        .group_by(UsageDaily.day)
        .order_by(UsageDaily.day)
    ).all()
    return [DayCount(day, int(count)) for day, count in rows]


def school_dashboard(*, viewer_id: str, tenant_id: str, reference_vnd: int | None = None) -> SchoolDashboard:
    s = session()
    school = require_viewer(s, person_id=viewer_id, organisation_id=tenant_id)
    if school.kind != SCHOOL:
        raise InvalidBillingRequest("This dashboard is for a school.")
    now = today()
    sub = paying_subscription(s, tenant_id=school.id, day=now)
    start, end = (sub.period_start, sub.period_end) if sub else school_year_bounds(now)
    per_day = _per_day(s, [school.id], start, end)
    per_type = dict(
        s.execute(
            select(UsageDaily.doc_type, func.sum(UsageDaily.count))
            .where(UsageDaily.tenant_id == school.id, UsageDaily.day >= start, UsageDaily.day <= end)
            .group_by(UsageDaily.doc_type)
        ).all()
    )
    class_rows = s.execute(
        select(UsageClass.class_id, SchoolClass.name, func.sum(UsageClass.count))
        .outerjoin(SchoolClass, SchoolClass.id == UsageClass.class_id)
        .where(
            UsageClass.tenant_id == school.id,
            UsageClass.subscription_id == (sub.id if sub else NO_SUBSCRIPTION),
        )
        .group_by(UsageClass.class_id, SchoolClass.name)
        .order_by(SchoolClass.name)
    ).all()
    per_class = [
        ClassCount(None if cid == NO_CLASS else cid, name or ("—" if cid == NO_CLASS else cid), int(n))
        for cid, name, n in class_rows
    ]
    return SchoolDashboard(
        tenant_id=school.id,
        school_name=school.name,
        paid_by=sub.organisation_id if sub else None,
        quota=quota_status(s, tenant_id=school.id, day=now),
        period_start=start,
        period_end=end,
        year_progress_percent=rules.period_progress(start, end, now),
        total=sum(d.count for d in per_day),
        per_day=per_day,
        per_class=per_class,
        per_doc_type={k: int(v) for k, v in per_type.items()},
        cost=cost_comparison(s, sub, reference_vnd=_reference(reference_vnd)) if sub else None,
    )


def district_dashboard(
    *, viewer_id: str, district_id: str, reference_vnd: int | None = None
) -> DistrictDashboard:
    s = session()
    district = require_viewer(s, person_id=viewer_id, organisation_id=district_id)
    if district.kind != DISTRICT:
        raise InvalidBillingRequest("This dashboard is for a district office.")
    now = today()
    schools = list(
        s.scalars(
            select(Organisation)
            .where(Organisation.parent_id == district.id, Organisation.kind == SCHOOL)
            .order_by(Organisation.code)
        )
    )
    ids = [x.id for x in schools]
    own = s.execute(
        select(Subscription).where(
            Subscription.organisation_id == district.id,
            in_force(now),
        )
    ).scalar_one_or_none()
    start, end = (own.period_start, own.period_end) if own else school_year_bounds(now)
    totals: dict[str, int] = {}
    if ids:
        totals = {
            tid: int(n)
            for tid, n in s.execute(
                select(UsageDaily.tenant_id, func.sum(UsageDaily.count))
                .where(UsageDaily.tenant_id.in_(ids), UsageDaily.day >= start, UsageDaily.day <= end)
                .group_by(UsageDaily.tenant_id)
            ).all()
        }
    payers = _payers(s, ids, district.id if own else None, now)
    per_day = _per_day(s, ids, start, end)
    return DistrictDashboard(
        district_id=district.id,
        district_name=district.name,
        quota=status_of(own) if own else None,
        period_start=start,
        period_end=end,
        year_progress_percent=rules.period_progress(start, end, now),
        total=sum(totals.values()),
        per_day=per_day,
        schools=[SchoolUsage(x.id, x.code, x.name, totals.get(x.id, 0), payers.get(x.id)) for x in schools],
        cost=cost_comparison(s, own, reference_vnd=_reference(reference_vnd)) if own else None,
    )


def _payers(
    s: Session, school_ids: list[str], district_payer: str | None, day: date
) -> dict[str, str | None]:
    """Which organisation pays for each school today: its own subscription, else the district's."""
    if not school_ids:
        return {}
    own = set(
        s.scalars(
            select(Subscription.organisation_id).where(
                Subscription.organisation_id.in_(school_ids),
                Subscription.status.in_([x.value for x in rules.IN_FORCE]),
                Subscription.period_start <= day,
                Subscription.period_end >= day,
            )
        )
    )
    return {sid: (sid if sid in own else district_payer) for sid in school_ids}


def _reference(value: int | None) -> int:
    return reference_certificate_vnd() if value is None else value
