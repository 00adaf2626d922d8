"""Plans, subscriptions, metering and quota checks.

Operator actions (plans, subscriptions, status changes, upgrades) own their transaction and write an
audit record in it.  ``record_signature`` and ``check_quota`` work inside the *caller's* session: the
workflow calls them in the transaction that stores a signature or records an approval, so the count
and the signature commit (or roll back) together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import structlog
from flask import current_app
from sqlalchemy import Date, String, bindparam, case, func, literal, select, text
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
    Subscription,
    UsageDaily,
)
from app.db import UtcDateTime, new_id, session, transaction, utcnow
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
            Subscription.status.in_([x.value for x in rules.IN_FORCE]),
            Subscription.period_start <= day,
            Subscription.period_end >= day,
        )
        .order_by(own_first, Subscription.period_start.desc())
        .limit(1)
    )


def paying_subscription(s: Session, *, tenant_id: str, day: date | None = None) -> Subscription | None:
    row = s.execute(_paying_query(tenant_id, day or today())).first()
    return None if row is None else s.get(Subscription, row.id)


# metering ------------------------------------------------------------------------------------------
# The signing path runs these for every signature: plain SQL, compiled once, executed on the
# session's connection (no ORM unit of work).  ON CONFLICT and RETURNING read the same on
# PostgreSQL and SQLite >= 3.35.  The statuses are ``rules.IN_FORCE`` (a unit test holds them equal).
_PAYING_SQL = text(
    "SELECT s.id, s.organisation_id, p.included_signatures FROM billing_subscriptions s "
    "JOIN billing_plans p ON p.id = s.plan_id "
    "WHERE s.organisation_id IN (:tenant, (SELECT o.parent_id FROM organisations o WHERE o.id = :tenant)) "
    "AND s.status IN ('trial', 'active', 'past_due') AND s.period_start <= :day AND s.period_end >= :day "
    "ORDER BY CASE WHEN s.organisation_id = :tenant THEN 0 ELSE 1 END, s.period_start DESC LIMIT 1"
).bindparams(bindparam("tenant", type_=String()), bindparam("day", type_=Date()))
_LEDGER_SQL = text(
    "INSERT INTO billing_signatures "
    "(document_id, step, tenant_id, subscription_id, doc_type, class_id, signed_at) "
    "VALUES (:document, :step, :tenant, :sub, :doc_type, :klass, :signed_at) "
    "ON CONFLICT (document_id, step) DO NOTHING RETURNING id"
).bindparams(bindparam("signed_at", type_=UtcDateTime()))
_DAILY_SQL = text(
    "INSERT INTO billing_usage_daily (tenant_id, day, doc_type, subscription_id, count) "
    "VALUES (:tenant, :day, :doc_type, :sub, 1) "
    "ON CONFLICT (tenant_id, day, doc_type, subscription_id) "
    "DO UPDATE SET count = billing_usage_daily.count + 1"
).bindparams(bindparam("day", type_=Date()))
_CLASS_SQL = text(
    "INSERT INTO billing_usage_class (subscription_id, tenant_id, class_id, doc_type, count) "
    "VALUES (:sub, :tenant, :klass, :doc_type, 1) "
    "ON CONFLICT (subscription_id, tenant_id, class_id, doc_type) "
    "DO UPDATE SET count = billing_usage_class.count + 1"
)
_COUNT_SQL = text(
    "UPDATE billing_subscriptions SET used_signatures = used_signatures + 1 "
    "WHERE id = :sub RETURNING used_signatures"
)


# PostgreSQL: the same five steps as one statement (data-modifying CTEs all run, once), so the signing
# transaction pays one round trip for metering instead of five.
_RECORD_PG_SQL = text(
    "WITH paying AS ("
    " SELECT s.id, s.organisation_id, p.included_signatures FROM billing_subscriptions s"
    " JOIN billing_plans p ON p.id = s.plan_id"
    " WHERE s.organisation_id IN (:tenant, (SELECT o.parent_id FROM organisations o WHERE o.id = :tenant))"
    " AND s.status IN ('trial', 'active', 'past_due') AND s.period_start <= :day AND s.period_end >= :day"
    " ORDER BY CASE WHEN s.organisation_id = :tenant THEN 0 ELSE 1 END, s.period_start DESC LIMIT 1),"
    " ins AS ("
    " INSERT INTO billing_signatures"
    " (document_id, step, tenant_id, subscription_id, doc_type, class_id, signed_at)"
    " SELECT :document, :step, :tenant, COALESCE((SELECT id FROM paying), ''), :doc_type, :klass, :signed_at"
    " ON CONFLICT (document_id, step) DO NOTHING RETURNING subscription_id),"
    " daily AS ("
    " INSERT INTO billing_usage_daily (tenant_id, day, doc_type, subscription_id, count)"
    " SELECT :tenant, :day, :doc_type, subscription_id, 1 FROM ins"
    " ON CONFLICT (tenant_id, day, doc_type, subscription_id)"
    " DO UPDATE SET count = billing_usage_daily.count + 1),"
    " per_class AS ("
    " INSERT INTO billing_usage_class (subscription_id, tenant_id, class_id, doc_type, count)"
    " SELECT subscription_id, :tenant, :klass, :doc_type, 1 FROM ins"
    " ON CONFLICT (subscription_id, tenant_id, class_id, doc_type)"
    " DO UPDATE SET count = billing_usage_class.count + 1),"
    " counted AS ("
    " UPDATE billing_subscriptions SET used_signatures = used_signatures + 1"
    " WHERE id = (SELECT subscription_id FROM ins) RETURNING used_signatures)"
    " SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT used_signatures FROM counted) AS used,"
    " (SELECT id FROM paying) AS id, (SELECT organisation_id FROM paying) AS organisation_id,"
    " (SELECT included_signatures FROM paying) AS included_signatures"
).bindparams(
    bindparam("tenant", type_=String()),
    bindparam("document", type_=String()),
    bindparam("step", type_=String()),
    bindparam("doc_type", type_=String()),
    bindparam("klass", type_=String()),
    bindparam("day", type_=Date()),
    bindparam("signed_at", type_=UtcDateTime()),
)


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
    """Count one signature, once: a second call for the same (document, step) changes nothing.

    Call it in the transaction that stores the signed revision.  It never refuses: a signature that
    exists is counted (quota is enforced before approval, by ``check_quota``).
    """
    if signed_at.tzinfo is None:
        raise ValueError("signed_at must be timezone-aware")
    day = local_day(signed_at)
    conn = s.connection()
    params: dict[str, Any] = {
        "tenant": tenant_id,
        "document": document_id,
        "step": str(step),
        "doc_type": doc_type,
        "klass": class_id or NO_CLASS,
        "signed_at": signed_at,
        "day": day,
    }
    paying: Any
    if conn.dialect.name == "postgresql":
        paying = conn.execute(_RECORD_PG_SQL, params).one()
        if not paying.inserted:
            return  # counted already (a retried task, a re-run sweep)
        if paying.id is None:
            log.warning("signature_without_subscription", tenant_id=tenant_id, document_id=document_id)
            return
        used = int(paying.used)
    else:
        paying = conn.execute(_PAYING_SQL, {"tenant": tenant_id, "day": day}).first()
        params["sub"] = NO_SUBSCRIPTION if paying is None else paying.id
        if conn.execute(_LEDGER_SQL, params).first() is None:
            return  # counted already (a retried task, a re-run sweep)
        conn.execute(_DAILY_SQL, params)
        conn.execute(_CLASS_SQL, params)
        if paying is None:
            log.warning("signature_without_subscription", tenant_id=tenant_id, document_id=document_id)
            return
        used = conn.execute(_COUNT_SQL, params).scalar_one()
    subscription_id = paying.id
    crossed = rules.thresholds_crossed(included=paying.included_signatures, before=used - 1, after=used)
    if crossed:
        _warn(
            s,
            subscription_id=subscription_id,
            payer_id=paying.organisation_id,
            tenant_id=tenant_id,
            included=paying.included_signatures,
            used=used,
            thresholds=crossed,
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
    s: Session, *, tenant_id: str, needed: int, require_subscription: bool | None = None
) -> QuotaStatus | None:
    """Refuse a batch of ``needed`` signatures *before* anything is signed, with the numbers.

    Call it in the approval's transaction, before the approval is recorded: it raises
    ``QuotaExceeded`` (402, details needed/remaining/included/used) when the batch does not fit and
    the plan allows no overage.  When nothing pays for the school it raises ``NoSubscription`` if a
    subscription is required (see ``subscription_required``), else returns None: unmetered.
    """
    if needed < 0:
        raise InvalidBillingRequest("needed must be zero or more.")
    row = s.execute(_paying_query(tenant_id, today())).first()
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
    if not quota.allows(needed):
        log.info(
            "quota_exceeded",
            tenant_id=tenant_id,
            subscription_id=sub.id,
            needed=needed,
            remaining=quota.remaining,
        )
        raise QuotaExceeded(
            details={
                "needed": needed,
                "remaining": quota.remaining,
                "included": quota.included,
                "used": quota.used,
                "subscription_id": sub.id,
            }
        )
    return status


def used_between(s: Session, *, subscription_id: str, start: date, end: date) -> int:
    total = s.scalar(
        select(func.coalesce(func.sum(UsageDaily.count), 0)).where(
            UsageDaily.subscription_id == subscription_id, UsageDaily.day >= start, UsageDaily.day <= end
        )
    )
    return int(total or 0)
