"""Billing (plans, subscriptions, signature ledger and aggregates) and credential lifecycle tables.

Revision ID: 0007_billing
Revises: 0002_keys, 0003_people
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision = "0007_billing"
down_revision = ("0002_keys", "0003_people")
branch_labels = None
depends_on = None


def _fk(column: str, table: str, referred: str, *, nullable: bool) -> sa.Column[str]:
    return sa.Column(
        column,
        sa.String(36),
        sa.ForeignKey(f"{referred}.id", name=f"fk_{table}_{column}_{referred}"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "billing_plans",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("included_signatures", sa.Integer(), nullable=False),
        sa.Column("price_vnd", sa.BigInteger(), nullable=False),
        sa.Column("overage_allowed", sa.Boolean(), nullable=False),
        sa.Column("overage_unit_price_vnd", sa.Integer(), nullable=False),
        sa.Column("vat_percent", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_plans"),
        sa.UniqueConstraint("code", name="uq_billing_plans_code"),
    )
    op.create_table(
        "billing_subscriptions",
        sa.Column("id", sa.String(36), nullable=False),
        _fk("organisation_id", "billing_subscriptions", "organisations", nullable=False),
        _fk("plan_id", "billing_subscriptions", "billing_plans", nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("used_signatures", sa.BigInteger(), nullable=False),
        sa.Column("activated_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_subscriptions"),
    )
    op.create_index(
        "ix_billing_subscriptions_org_status", "billing_subscriptions", ["organisation_id", "status"]
    )
    op.create_index("ix_billing_subscriptions_plan_id", "billing_subscriptions", ["plan_id"])

    op.create_table(
        "billing_signatures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("doc_type", sa.String(40), nullable=False),
        sa.Column("class_id", sa.String(36), nullable=False),
        sa.Column("signed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_signatures"),
        sa.UniqueConstraint("document_id", "step", name="uq_billing_signatures_document_step"),
    )
    op.create_index("ix_billing_signatures_tenant_signed", "billing_signatures", ["tenant_id", "signed_at"])

    op.create_table(
        "billing_usage_daily",
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("doc_type", sa.String(40), nullable=False),
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "day", "doc_type", "subscription_id", name="pk_billing_usage_daily"
        ),
    )
    op.create_index(
        "ix_billing_usage_daily_subscription_day", "billing_usage_daily", ["subscription_id", "day"]
    )
    op.create_table(
        "billing_usage_class",
        sa.Column("subscription_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("class_id", sa.String(36), nullable=False),
        sa.Column("doc_type", sa.String(40), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "subscription_id", "tenant_id", "class_id", "doc_type", name="pk_billing_usage_class"
        ),
    )

    op.create_table(
        "credential_renewals",
        sa.Column("id", sa.String(36), nullable=False),
        _fk("old_credential_id", "credential_renewals", "credentials", nullable=False),
        _fk("new_credential_id", "credential_renewals", "credentials", nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=True),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("renewed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credential_renewals"),
        sa.UniqueConstraint("old_credential_id", name="uq_credential_renewals_old_credential_id"),
    )
    op.create_index("ix_credential_renewals_new_credential_id", "credential_renewals", ["new_credential_id"])
    op.create_index("ix_credential_renewals_owner_id", "credential_renewals", ["owner_id"])
    op.create_index("ix_credential_renewals_tenant_id", "credential_renewals", ["tenant_id"])

    op.create_table(
        "seal_requests",
        sa.Column("id", sa.String(36), nullable=False),
        _fk("tenant_id", "seal_requests", "organisations", nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _fk("requested_by_id", "seal_requests", "people", nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        _fk("decided_by_id", "seal_requests", "people", nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        _fk("previous_credential_id", "seal_requests", "credentials", nullable=True),
        _fk("credential_id", "seal_requests", "credentials", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_seal_requests"),
    )
    op.create_index("ix_seal_requests_tenant_id", "seal_requests", ["tenant_id"])

    op.create_table(
        "offboardings",
        sa.Column("id", sa.String(36), nullable=False),
        _fk("person_id", "offboardings", "people", nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("actor_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("revoked_credential_ids", sa.JSON(), nullable=False),
        sa.Column("handed_over", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_offboardings"),
    )
    op.create_index("ix_offboardings_person_id", "offboardings", ["person_id"])
    op.create_index("ix_offboardings_tenant_id", "offboardings", ["tenant_id"])


def downgrade() -> None:
    for table in (
        "offboardings",
        "seal_requests",
        "credential_renewals",
        "billing_usage_class",
        "billing_usage_daily",
        "billing_signatures",
        "billing_subscriptions",
        "billing_plans",
    ):
        op.drop_table(table)
