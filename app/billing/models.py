"""Plans, subscriptions, the signature ledger and its aggregates, and inbox notices.

The ledger (``billing_signatures``) has one row per signature, unique on (document_id, step), so a
signature is counted once however often the signing task is retried.  Two aggregate tables are kept
up to date in the same transaction (per school and day, per school and class) so dashboards never
scan the ledger; the subscription row carries the running count its quota is checked against.
The usage tables carry no foreign keys on purpose: they are append-mostly and written on the signing
path; the ids are resolved when the signature is recorded.  Notices go to ``app.notify``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, IdMixin, TimestampMixin

NO_SUBSCRIPTION = ""  # key of usage counted while no subscription paid (kept, never lost)
NO_CLASS = ""


class Plan(IdMixin, TimestampMixin, Base):
    __tablename__ = "billing_plans"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))  # rules.PlanScope
    included_signatures: Mapped[int] = mapped_column(Integer)
    price_vnd: Mapped[int] = mapped_column(BigInteger)  # for the whole period
    overage_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    overage_unit_price_vnd: Mapped[int] = mapped_column(Integer, default=0)
    vat_percent: Mapped[int] = mapped_column(Integer, default=10)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Subscription(IdMixin, TimestampMixin, Base):
    __tablename__ = "billing_subscriptions"
    __table_args__ = (Index("ix_billing_subscriptions_org_status", "organisation_id", "status"),)

    # a school (its own quota) or a district office (pooled for all its schools)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("billing_plans.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # rules.SubscriptionStatus
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    used_signatures: Mapped[int] = mapped_column(BigInteger, default=0)
    # first time it became active: the subscription fee is on that month's statement
    activated_at: Mapped[datetime | None] = mapped_column()

    plan: Mapped[Plan] = relationship()


class SignatureUsage(Base):
    """The ledger: one row per signature produced."""

    __tablename__ = "billing_signatures"
    __table_args__ = (
        UniqueConstraint("document_id", "step", name="uq_billing_signatures_document_step"),
        Index("ix_billing_signatures_tenant_signed", "tenant_id", "signed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    document_id: Mapped[str] = mapped_column(String(36))
    step: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str] = mapped_column(String(36))
    subscription_id: Mapped[str] = mapped_column(String(36), default=NO_SUBSCRIPTION)
    doc_type: Mapped[str] = mapped_column(String(40))
    class_id: Mapped[str] = mapped_column(String(36), default=NO_CLASS)
    signed_at: Mapped[datetime] = mapped_column()


class UsageDaily(Base):
    """Signatures per school, day, document type and paying subscription."""

    __tablename__ = "billing_usage_daily"
    __table_args__ = (Index("ix_billing_usage_daily_subscription_day", "subscription_id", "day"),)

    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class UsageClass(Base):
    """Signatures per paying subscription, school, class and document type."""

    __tablename__ = "billing_usage_class"

    subscription_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    class_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
