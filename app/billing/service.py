"""Plans, subscriptions, metering and quota checks.

Operator actions (plans, subscriptions, status changes, upgrades) own their transaction and write an
audit record in it.  ``record_signature`` and ``check_quota`` work inside the *caller's* session: the
workflow calls them in the transaction that stores a signature or records an approval, so the count
and the signature commit (or roll back) together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import structlog
from flask import current_app
from sqlalchemy import ColumnElement, Date, String, and_, bindparam, case, func, literal, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.billing import notices, rules
from app.billing.errors import (
    InvalidBillingRequest,
    NoSubscription,
    OrganisationNotFound,
    PlanCodeTaken,
    PlanNotFound,
    QuotaExceeded,
    SubscriptionNotFound,
    SubscriptionOverlap,
    TransitionNotAllowed,
)
from app.billing.models import (
    NO_CLASS,
    NO_SUBSCRIPTION,
    Plan,
    SignatureUsage,
    Subscription,
    UsageClass,
    UsageDaily,
)
from app.db import new_id, session, transaction, utcnow
from app.tenants.models import DISTRICT, SCHOOL, Organisation

log = structlog.get_logger(__name__)

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving: a fixed offset is exact
PLAN_FIELDS = (
    "name",
    "included_signatures",
    "price_vnd",
    "overage_allowed",
    "overage_unit_price_vnd",
    "vat_percent",
    "active",
)


def local_day(when: datetime) -> date:
    """The calendar day in Vietnam, which is what a school calls 'today'."""
    return when.astimezone(VIETNAM).date()


def today() -> date:
    return local_day(utcnow())


# plans ---------------------------------------------------------------------------------------------
def _check_plan_values(values: dict[str, Any]) -> None:
    for name in ("included_signatures", "price_vnd", "overage_unit_price_vnd"):
        if name in values and (values[name] is None or int(values[name]) < 0):
            raise InvalidBillingRequest(f"{name} must be zero or more.")
    if "vat_percent" in values and not 0 <= int(values["vat_percent"]) <= 100:
        raise InvalidBillingRequest("vat_percent must be between 0 and 100.")
    if "name" in values and not str(values["name"]).strip():
        raise InvalidBillingRequest("A plan needs a name.")


def create_plan(
    *,
    actor_id: str | None,
    code: str,
    name: str,
    scope: str,
    included_signatures: int,
    price_vnd: int,
    overage_allowed: bool = False,
    overage_unit_price_vnd: int = 0,
    vat_percent: int = 10,
) -> Plan:
    try:
        plan_scope = rules.PlanScope(scope)
    except ValueError:
        raise InvalidBillingRequest("scope must be school or district.") from None
    values: dict[str, Any] = {
        "name": name.strip(),
        "included_signatures": included_signatures,
        "price_vnd": price_vnd,
        "overage_allowed": overage_allowed,
        "overage_unit_price_vnd": overage_unit_price_vnd,
        "vat_percent": vat_percent,
    }
    _check_plan_values(values)
    code = code.strip()
    if not code:
        raise InvalidBillingRequest("A plan needs a code.")
    plan = Plan(id=new_id(), code=code, scope=plan_scope, active=True, **values)
    try:
        with transaction() as s:
            s.add(plan)
            s.flush()
            record_event(
                s,
                action="billing.plan.create",
                actor_id=actor_id,
                tenant_id=None,
                target_type="plan",
                target_id=plan.id,
                details={"code": code, "scope": plan_scope.value, **values},
            )
    except IntegrityError:
        raise PlanCodeTaken() from None
    return plan


def get_plan(plan_id: str) -> Plan:
    plan = session().get(Plan, plan_id)
    if plan is None:
        raise PlanNotFound()
    return plan


def update_plan(plan_id: str, *, actor_id: str | None, **changes: Any) -> Plan:
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise InvalidBillingRequest(f"These plan fields cannot be changed: {sorted(unknown)}.")
    _check_plan_values(changes)
    with transaction() as s:
        plan = s.get(Plan, plan_id, with_for_update=True)
        if plan is None:
            raise PlanNotFound()
        before = {name: getattr(plan, name) for name in changes}
        for name, value in changes.items():
            setattr(plan, name, value)
        record_event(
            s,
            action="billing.plan.update",
            actor_id=actor_id,
            tenant_id=None,
            target_type="plan",
            target_id=plan.id,
            details={"before": before, "after": changes},
        )
    return plan


def list_plans(*, include_inactive: bool = True) -> list[Plan]:
    query = select(Plan).order_by(Plan.scope, Plan.included_signatures, Plan.code)
    if not include_inactive:
        query = query.where(Plan.active.is_(True))
    return list(session().scalars(query))


# subscriptions -------------------------------------------------------------------------------------
def _organisation(s: Session, organisation_id: str) -> Organisation:
    org = s.get(Organisation, organisation_id)
    if org is None:
        raise OrganisationNotFound()
    return org


def _check_scope(org: Organisation, plan: Plan) -> None:
    wanted = SCHOOL if plan.scope == rules.PlanScope.SCHOOL else DISTRICT
    if org.kind != wanted:
        raise InvalidBillingRequest(f"A {plan.scope} plan is for a {wanted}, and {org.name} is a {org.kind}.")


def create_subscription(
    *,
    actor_id: str | None,
    organisation_id: str,
    plan_id: str,
    period_start: date,
    period_end: date,
    status: str = rules.SubscriptionStatus.TRIAL,
) -> Subscription:
    if period_end < period_start:
        raise InvalidBillingRequest("The period ends before it starts.")
    try:
        first = rules.SubscriptionStatus(status)
    except ValueError:
        raise InvalidBillingRequest("status must be trial or active.") from None
    if first not in (rules.SubscriptionStatus.TRIAL, rules.SubscriptionStatus.ACTIVE):
        raise InvalidBillingRequest("A subscription starts as trial or active.")
    with transaction() as s:
        org = _organisation(s, organisation_id)
        plan = s.get(Plan, plan_id)
        if plan is None or not plan.active:
            raise PlanNotFound()
        _check_scope(org, plan)
        # lock the organisation row: two operators cannot create overlapping subscriptions at once
        s.execute(select(Organisation.id).where(Organisation.id == org.id).with_for_update())
        for other in s.scalars(
            select(Subscription).where(
                Subscription.organisation_id == org.id,
                Subscription.status.in_([x.value for x in rules.IN_FORCE]),
            )
        ):
            if rules.overlaps((other.period_start, other.period_end), (period_start, period_end)):
                raise SubscriptionOverlap(details={"subscription_id": other.id})
        sub = Subscription(
            id=new_id(),
            organisation_id=org.id,
            plan_id=plan.id,
            status=first,
            period_start=period_start,
            period_end=period_end,
            used_signatures=0,
            activated_at=utcnow() if first == rules.SubscriptionStatus.ACTIVE else None,
        )
        s.add(sub)
        s.flush()
        record_event(
            s,
            action="billing.subscription.create",
            actor_id=actor_id,
            tenant_id=org.id if org.kind == SCHOOL else None,
            target_type="subscription",
            target_id=sub.id,
            details={
                "organisation_id": org.id,
                "plan": plan.code,
                "status": first.value,
                "period": [period_start.isoformat(), period_end.isoformat()],
            },
        )
    return sub


def get_subscription(subscription_id: str) -> Subscription:
    sub = session().get(Subscription, subscription_id)
    if sub is None:
        raise SubscriptionNotFound()
    return sub


def list_subscriptions(*, organisation_id: str | None = None) -> list[Subscription]:
    query = select(Subscription).order_by(Subscription.period_start.desc(), Subscription.created_at)
    if organisation_id is not None:
        query = query.where(Subscription.organisation_id == organisation_id)
    return list(session().scalars(query))


def transition_subscription(subscription_id: str, *, actor_id: str | None, status: str) -> Subscription:
    with transaction() as s:
        sub = s.get(Subscription, subscription_id, with_for_update=True)
        if sub is None:
            raise SubscriptionNotFound()
        try:
            new = rules.check_transition(sub.status, status)
        except rules.TransitionRefused as exc:
            raise TransitionNotAllowed(str(exc), details={"from": sub.status, "to": status}) from None
        before = sub.status
        sub.status = new
        if new == rules.SubscriptionStatus.ACTIVE and sub.activated_at is None:
            sub.activated_at = utcnow()
        record_event(
            s,
            action="billing.subscription.status",
            actor_id=actor_id,
            tenant_id=None,
            target_type="subscription",
            target_id=sub.id,
            details={"from": before, "to": new.value, "organisation_id": sub.organisation_id},
        )
    return sub


def change_plan(subscription_id: str, *, actor_id: str | None, plan_id: str) -> Subscription:
    """Upgrade (or downgrade) in place: the new plan's quota applies to the whole period at once."""
    with transaction() as s:
        sub = s.get(Subscription, subscription_id, with_for_update=True)
        if sub is None:
            raise SubscriptionNotFound()
        if sub.status == rules.SubscriptionStatus.ENDED:
            raise TransitionNotAllowed("An ended subscription cannot change plan.")
        plan = s.get(Plan, plan_id)
        if plan is None or not plan.active:
            raise PlanNotFound()
        _check_scope(_organisation(s, sub.organisation_id), plan)
        old = sub.plan
        sub.plan_id = plan.id
        sub.plan = plan
        record_event(
            s,
            action="billing.subscription.plan",
            actor_id=actor_id,
            tenant_id=None,
            target_type="subscription",
            target_id=sub.id,
            details={
                "from": old.code,
                "to": plan.code,
                "included_before": old.included_signatures,
                "included_after": plan.included_signatures,
                "used": sub.used_signatures,
            },
        )
    return sub


# which subscription pays ---------------------------------------------------------------------------
def in_force(day: date) -> ColumnElement[bool]:
    """A subscription in force on ``day``: one of ``rules.IN_FORCE``, and ``day`` within its period."""
    return and_(
        Subscription.status.in_([x.value for x in rules.IN_FORCE]),
        Subscription.period_start <= day,
        Subscription.period_end >= day,
    )


def _paying_query(tenant_id: str, day: date) -> Any:
    """The school's own subscription in force on ``day``, else its district's (one query)."""
    parent = select(Organisation.parent_id).where(Organisation.id == tenant_id).scalar_subquery()
    own_first = case((Subscription.organisation_id == tenant_id, 0), else_=1)
    return (
        select(
            Subscription.id,
            Subscription.organisation_id,
            Subscription.used_signatures,
            Plan.included_signatures,
        )
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.organisation_id.in_([literal(tenant_id), parent]),
            in_force(day),
        )
        .order_by(own_first, Subscription.period_start.desc())
        .limit(1)
    )


def paying_subscription(s: Session, *, tenant_id: str, day: date | None = None) -> Subscription | None:
    row = s.execute(_paying_query(tenant_id, day or today())).first()
    return None if row is None else s.get(Subscription, row.id)


# metering ------------------------------------------------------------------------------------------
# The signing task meters a whole chunk in the transaction that stores its signatures: who pays is
# resolved once per school and day, the ledger takes the chunk in one INSERT .. ON CONFLICT DO NOTHING
# RETURNING (what it returns is what is new: a retried task counts nothing twice), the two aggregates
# take one upsert each, and each paying subscription one UPDATE.  Five statements per chunk, on
# PostgreSQL and SQLite >= 3.35 alike.  The statuses are ``rules.IN_FORCE`` (a unit test holds them equal).
_PAYING_SQL = text(
    "SELECT s.id, s.organisation_id, p.included_signatures FROM billing_subscriptions s "
    "JOIN billing_plans p ON p.id = s.plan_id "
    "WHERE s.organisation_id IN (:tenant, (SELECT o.parent_id FROM organisations o WHERE o.id = :tenant)) "
    "AND s.status IN ('trial', 'active', 'past_due') AND s.period_start <= :day AND s.period_end >= :day "
    "ORDER BY CASE WHEN s.organisation_id = :tenant THEN 0 ELSE 1 END, s.period_start DESC LIMIT 1"
).bindparams(bindparam("tenant", type_=String()), bindparam("day", type_=Date()))
_COUNT_SQL = text(
    "UPDATE billing_subscriptions SET used_signatures = used_signatures + :n "
    "WHERE id = :sub RETURNING used_signatures"
)


@dataclass(frozen=True)
class Signature:
    """One signature as metering counts it: the school, the document and step, its type and class."""

    tenant_id: str
    document_id: str
    step: str | int
    doc_type: str
    class_id: str | None
    signed_at: datetime


def record_signature(
    s: Session,
    *,
    tenant_id: str,
    document_id: str,
    step: str | int,
    doc_type: str,
    class_id: str | None,
    signed_at: datetime,
) -> None:
    """Count one signature, once (``record_signatures`` with one)."""
    record_signatures(s, [Signature(tenant_id, document_id, step, doc_type, class_id, signed_at)])


def record_signatures(s: Session, signatures: Sequence[Signature]) -> int:
    """Count signatures, each once: a (document, step) already counted changes nothing.

    Call it in the transaction that stores the signed revisions (the signing task: once per chunk).
    It never refuses: a signature that exists is counted (quota is enforced before approval, by
    ``check_quota``).  Returns how many were counted now.
    """
    if not signatures:
        return 0
    if any(x.signed_at.tzinfo is None for x in signatures):
        raise ValueError("signed_at must be timezone-aware")
    conn = s.connection()
    payers: dict[tuple[str, date], Any] = {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    days: dict[tuple[str, str], date] = {}
    for x in signatures:
        key = (x.document_id, str(x.step))
        if key in rows:
            continue
        day = local_day(x.signed_at)
        if (x.tenant_id, day) not in payers:  # who pays: once per school and day, not per signature
            payers[(x.tenant_id, day)] = conn.execute(
                _PAYING_SQL, {"tenant": x.tenant_id, "day": day}
            ).first()
        paying = payers[(x.tenant_id, day)]
        days[key] = day
        rows[key] = {
            "document_id": x.document_id,
            "step": key[1],
            "tenant_id": x.tenant_id,
            "subscription_id": NO_SUBSCRIPTION if paying is None else paying.id,
            "doc_type": x.doc_type,
            "class_id": x.class_id or NO_CLASS,
            "signed_at": x.signed_at,
        }
    if not rows:
        return 0
    statements = _metering_statements(s)
    inserted = conn.execute(statements.ledger, list(rows.values())).all()
    new = [rows[(document_id, step)] for document_id, step in inserted]
    if not new:
        return 0  # counted already (a retried task, a re-run sweep)
    daily: Counter[tuple[str, date, str, str]] = Counter()
    per_class: Counter[tuple[str, str, str, str]] = Counter()
    per_subscription: Counter[str] = Counter()
    for row in new:
        sub = row["subscription_id"]
        daily[(row["tenant_id"], days[(row["document_id"], row["step"])], row["doc_type"], sub)] += 1
        per_class[(sub, row["tenant_id"], row["class_id"], row["doc_type"])] += 1
        per_subscription[sub] += 1
    conn.execute(
        statements.daily, [{**dict(zip(DAILY_KEY, k, strict=True)), "n": n} for k, n in daily.items()]
    )
    conn.execute(
        statements.per_class, [{**dict(zip(CLASS_KEY, k, strict=True)), "n": n} for k, n in per_class.items()]
    )
    unpaid = per_subscription.pop(NO_SUBSCRIPTION, 0)
    if unpaid:
        log.warning(
            "signature_without_subscription",
            tenant_ids=sorted({r["tenant_id"] for r in new if r["subscription_id"] == NO_SUBSCRIPTION}),
            document_ids=[r["document_id"] for r in new if r["subscription_id"] == NO_SUBSCRIPTION][:20],
            count=unpaid,
        )
    for paying in {p.id: p for p in payers.values() if p is not None}.values():
        n = per_subscription.get(paying.id, 0)
        if not n:
            continue
        used = conn.execute(_COUNT_SQL, {"sub": paying.id, "n": n}).scalar_one()
        crossed = rules.thresholds_crossed(included=paying.included_signatures, before=used - n, after=used)
        if crossed:
            _warn(
                s,
                subscription_id=paying.id,
                payer_id=paying.organisation_id,
                tenant_id=next(r["tenant_id"] for r in new if r["subscription_id"] == paying.id),
                included=paying.included_signatures,
                used=used,
                thresholds=crossed,
            )
    return len(new)


DAILY_KEY = ("tenant_id", "day", "doc_type", "subscription_id")
CLASS_KEY = ("subscription_id", "tenant_id", "class_id", "doc_type")


@dataclass(frozen=True)
class _Metering:
    ledger: Any  # INSERT .. ON CONFLICT DO NOTHING RETURNING document_id, step
    daily: Any  # INSERT .. ON CONFLICT DO UPDATE SET count = count + :n
    per_class: Any


_STATEMENTS: dict[str, _Metering] = {}


def _metering_statements(s: Session) -> _Metering:
    """The three statements, built once per dialect and executed with many rows each (SQLAlchemy
    sends them as multi-row VALUES: one round trip, and a statement it compiles once)."""
    dialect = s.get_bind().dialect.name
    if dialect not in _STATEMENTS:
        ledger = SignatureUsage.__table__
        insert_ledger = (
            notices.insert_ignore(s, ledger)
            .on_conflict_do_nothing(index_elements=[ledger.c.document_id, ledger.c.step])
            .returning(ledger.c.document_id, ledger.c.step)
        )
        _STATEMENTS[dialect] = _Metering(
            ledger=insert_ledger,
            daily=_add_count(s, UsageDaily.__table__, DAILY_KEY),
            per_class=_add_count(s, UsageClass.__table__, CLASS_KEY),
        )
    return _STATEMENTS[dialect]


def _add_count(s: Session, table: Any, key: tuple[str, ...]) -> Any:
    """``count = count + :n`` on the row of ``key`` (made on first use)."""
    upsert = notices.insert_ignore(s, table).values(
        {**{name: bindparam(name, type_=table.c[name].type) for name in key}, "count": bindparam("n")}
    )
    return upsert.on_conflict_do_update(
        index_elements=[table.c[name] for name in key], set_={"count": table.c.count + upsert.excluded.count}
    )


def _warn(
    s: Session,
    *,
    subscription_id: str,
    payer_id: str,
    tenant_id: str,
    included: int,
    used: int,
    thresholds: list[int],
) -> None:
    """Quota warnings (80 %, 100 %) to the school admins (and the district admins of a district plan)."""
    recipients = notices.school_admins(s, tenant_id)
    if payer_id != tenant_id:
        recipients += notices.district_admins(s, payer_id)
        for school_id in s.scalars(
            select(Organisation.id).where(Organisation.parent_id == payer_id, Organisation.kind == SCHOOL)
        ):
            recipients += notices.school_admins(s, school_id)
    plan_name = s.scalar(select(Plan.name).join(Subscription).where(Subscription.id == subscription_id))
    for threshold in thresholds:
        count = notices.tell(
            s,
            recipient_ids=recipients,
            tenant_id=tenant_id,
            kind="quota_warning",
            dedupe_key=f"quota_warning:{subscription_id}:{threshold}",
            count=threshold,
            subject=plan_name,
            url="/billing",
        )
        record_event(
            s,
            action="billing.quota.warning",
            actor_id=None,
            tenant_id=tenant_id,
            target_type="subscription",
            target_id=subscription_id,
            details={"threshold": threshold, "included": included, "used": used, "recipients": count},
        )


# quota ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuotaStatus:
    subscription_id: str
    organisation_id: str  # who pays: the school or its district office
    status: str
    included: int
    used: int
    remaining: int
    overage_allowed: bool
    percent_used: float


def status_of(sub: Subscription) -> QuotaStatus:
    quota = rules.Quota(sub.plan.included_signatures, sub.used_signatures, sub.plan.overage_allowed)
    return QuotaStatus(
        subscription_id=sub.id,
        organisation_id=sub.organisation_id,
        status=sub.status,
        included=quota.included,
        used=quota.used,
        remaining=quota.remaining,
        overage_allowed=quota.overage_allowed,
        percent_used=quota.percent_used,
    )


def quota_status(s: Session, *, tenant_id: str, day: date | None = None) -> QuotaStatus | None:
    sub = paying_subscription(s, tenant_id=tenant_id, day=day)
    return None if sub is None else status_of(sub)


def subscription_required() -> bool:
    """Whether a school with no paying subscription is refused (production) or only logged (dev, tests).

    ``settings.extra["billing_require_subscription"]`` overrides the default.
    """
    settings = current_app.extensions["signet.settings"]
    return bool(settings.extra.get("billing_require_subscription", settings.is_prod))


def check_quota(
    s: Session,
    *,
    tenant_id: str,
    needed: int,
    outstanding: Callable[[Session, list[str]], int] | None = None,
    require_subscription: bool | None = None,
) -> QuotaStatus | None:
    """Refuse a batch of ``needed`` signatures *before* anything is signed, with the numbers.

    Call it in the approval's transaction, before the approval is recorded: it raises
    ``QuotaExceeded`` (402, details needed/pending/remaining/included/used) when the batch does not
    fit and the plan allows no overage.  ``outstanding(session, tenant_ids)`` counts the signatures
    already approved in those schools (every school the subscription pays for) but not made yet, so
    not metered yet: they are spoken for (``pending``).  When nothing pays for the school it raises
    ``NoSubscription`` if a subscription is required (see ``subscription_required``), else returns
    None: unmetered.
    """
    if needed < 0:
        raise InvalidBillingRequest("needed must be zero or more.")
    day = today()
    row = s.execute(_paying_query(tenant_id, day)).first()
    if row is None:
        if subscription_required() if require_subscription is None else require_subscription:
            raise NoSubscription(details={"needed": needed})
        log.warning("approval_without_subscription", tenant_id=tenant_id, needed=needed)
        return None
    # re-read under a row lock so two approvals racing for the last signatures are serialised
    sub = s.execute(
        select(Subscription)
        .where(Subscription.id == row.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    status = status_of(sub)
    quota = rules.Quota(status.included, status.used, status.overage_allowed)
    pending = outstanding(s, _paid_for(s, sub, day)) if outstanding is not None and needed else 0
    if not quota.allows(needed + pending):
        log.info(
            "quota_exceeded",
            tenant_id=tenant_id,
            subscription_id=sub.id,
            needed=needed,
            pending=pending,
            remaining=quota.remaining,
        )
        raise QuotaExceeded(
            details={
                "needed": needed,
                "pending": pending,
                "remaining": quota.remaining,
                "included": quota.included,
                "used": quota.used,
                "subscription_id": sub.id,
            }
        )
    return status


def _paid_for(s: Session, sub: Subscription, day: date) -> list[str]:
    """The schools a subscription pays for on ``day`` (as ``_paying_query`` decides): its own
    organisation, and the schools under it that have no subscription of their own in force."""
    own = (
        select(Subscription.id).where(Subscription.organisation_id == Organisation.id, in_force(day)).exists()
    )
    children = s.scalars(
        select(Organisation.id).where(Organisation.parent_id == sub.organisation_id, ~own)
    ).all()
    return [sub.organisation_id, *children]


def used_between(s: Session, *, subscription_id: str, start: date, end: date) -> int:
    total = s.scalar(
        select(func.coalesce(func.sum(UsageDaily.count), 0)).where(
            UsageDaily.subscription_id == subscription_id, UsageDaily.day >= start, UsageDaily.day <= end
        )
    )
    return int(total or 0)
