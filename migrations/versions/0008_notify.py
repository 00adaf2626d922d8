"""Notifications: push subscriptions and inbox notices.

Revision ID: 0008_notify
Revises: 0001_base
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision = "0008_notify"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36)),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(100), nullable=False),
        sa.Column("lang", sa.String(5), nullable=False),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_success_at", UtcDateTime()),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_subscriptions")),
        sa.UniqueConstraint("endpoint", name=op.f("uq_push_subscriptions_endpoint")),
    )
    op.create_index("ix_push_subscriptions_tenant_id", "push_subscriptions", ["tenant_id"])
    op.create_index("ix_push_subscriptions_person_id", "push_subscriptions", ["person_id"])
    op.create_table(
        "inbox_notices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36)),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(200)),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("read_at", UtcDateTime()),
        sa.Column("pushed_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_notices")),
        sa.UniqueConstraint("person_id", "dedupe_key", name="uq_inbox_notices_person_dedupe"),
    )
    op.create_index("ix_inbox_notices_tenant_id", "inbox_notices", ["tenant_id"])
    op.create_index("ix_inbox_notices_person_id", "inbox_notices", ["person_id"])
    op.create_index("ix_inbox_notices_created_at", "inbox_notices", ["created_at"])


def downgrade() -> None:
    op.drop_table("inbox_notices")
    op.drop_table("push_subscriptions")
