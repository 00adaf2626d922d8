"""Documents (transcripts), revisions, change feed, webhooks; approvals, approval items, delegations.

Revision ID: 0005_workflow
Revises: 0002_keys, 0003_people
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision = "0005_workflow"
down_revision = ("0002_keys", "0003_people")
branch_labels = None
depends_on = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), nullable=False)


def _ref(name: str, *, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.String(36), nullable=nullable)


def _index(table: str, *columns: str, unique: bool = False) -> None:
    op.create_index(f"ix_{table}_{columns[0]}", table, list(columns), unique=unique)


def upgrade() -> None:
    op.create_table(
        "documents",
        _id(),
        _ref("tenant_id", nullable=False),
        sa.Column("doc_type", sa.String(32), nullable=False),
        sa.Column("filename", sa.String(255)),
        sa.Column("student_code", sa.String(32)),
        sa.Column("student_name", sa.String(200)),
        sa.Column("personal_id_encrypted", sa.Text()),
        sa.Column("personal_id_digest", sa.String(64)),
        sa.Column("personal_id_masked", sa.String(16)),
        sa.Column("class_name", sa.String(32)),
        _ref("class_id"),
        sa.Column("school_year", sa.String(9)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("blocked_code", sa.String(64)),
        sa.Column("blocked_message", sa.Text()),
        sa.Column("failure_code", sa.String(64)),
        sa.Column("failure_message", sa.Text()),
        sa.Column("rejected_reason", sa.Text()),
        _ref("rejected_by_id"),
        _ref("teacher_id"),
        _ref("principal_id"),
        _ref("seal_credential_id"),
        sa.Column("original_sha256", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("signature_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "supersedes_id",
            sa.String(36),
            sa.ForeignKey("documents.id", name="fk_documents_supersedes_id_documents"),
        ),
        sa.Column(
            "superseded_by_id",
            sa.String(36),
            sa.ForeignKey("documents.id", name="fk_documents_superseded_by_id_documents"),
        ),
        sa.Column("verify_token", sa.String(64), nullable=False),
        _ref("approval_id"),
        sa.Column("lease_token", sa.String(36)),
        sa.Column("lease_until", UtcDateTime()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_kind", sa.String(16), nullable=False),
        _ref("uploaded_by_id"),
        sa.Column("completed_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("tenant_id", "original_sha256", name="uq_documents_tenant_original"),
        sa.UniqueConstraint("verify_token", name="uq_documents_verify_token"),
    )
    for column in (
        "tenant_id",
        "student_code",
        "class_id",
        "status",
        "teacher_id",
        "principal_id",
        "sha256",
        "supersedes_id",
        "approval_id",
        "lease_until",
    ):
        _index("documents", column)

    op.create_table(
        "document_revisions",
        _id(),
        sa.Column(
            "document_id",
            sa.String(36),
            sa.ForeignKey(
                "documents.id", name="fk_document_revisions_document_id_documents", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer()),
        _ref("signer_person_id"),
        _ref("on_behalf_of_id"),
        _ref("credential_id"),
        _ref("approval_id"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_document_revisions"),
        sa.UniqueConstraint("document_id", "number", name="uq_document_revisions_document_number"),
    )
    _index("document_revisions", "document_id")

    op.create_table(
        "document_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        _ref("tenant_id", nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_document_changes"),
    )
    _index("document_changes", "tenant_id")
    op.create_table(
        "document_change_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_document_change_head"),
    )
    op.bulk_insert(
        sa.table("document_change_head", sa.column("id"), sa.column("seq")),
        [{"id": 1, "seq": 0}],
    )

    op.create_table(
        "webhook_endpoints",
        _id(),
        _ref("tenant_id", nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
        sa.UniqueConstraint("tenant_id", name="uq_webhook_endpoints_tenant_id"),
    )
    op.create_table(
        "webhook_deliveries",
        _id(),
        _ref("tenant_id", nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        _ref("document_id"),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(300)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
    )
    _index("webhook_deliveries", "tenant_id")
    _index("webhook_deliveries", "status")

    op.create_table(
        "approvals",
        _id(),
        _ref("tenant_id", nullable=False),
        _ref("person_id", nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        _ref("on_behalf_of_id"),
        _ref("delegation_id"),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("manifest_hash", sa.String(64), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        _ref("passkey_id"),
        sa.Column("sad_mac", sa.String(64)),
        sa.Column("sad_sealed", sa.Text()),
        sa.Column("sad_expires_at", UtcDateTime()),
        sa.Column("authorized_at", UtcDateTime()),
        sa.Column("finished_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    _index("approvals", "tenant_id")
    _index("approvals", "person_id")
    _index("approvals", "status")

    op.create_table(
        "approval_items",
        _id(),
        sa.Column(
            "approval_id",
            sa.String(36),
            sa.ForeignKey("approvals.id", name="fk_approval_items_approval_id_approvals", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_code", sa.String(64)),
        sa.Column("failure_message", sa.Text()),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approval_items"),
        sa.UniqueConstraint("approval_id", "document_id", name="uq_approval_items_approval_document"),
    )
    _index("approval_items", "approval_id")
    _index("approval_items", "document_id")
    _index("approval_items", "status")

    op.create_table(
        "delegations",
        _id(),
        _ref("tenant_id", nullable=False),
        _ref("principal_id", nullable=False),
        _ref("delegate_id", nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("class_ids", sa.JSON()),
        sa.Column("revoked_at", UtcDateTime()),
        _ref("revoked_by_id"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_delegations"),
    )
    for column in ("tenant_id", "principal_id", "delegate_id"):
        _index("delegations", column)


def downgrade() -> None:
    for table in (
        "delegations",
        "approval_items",
        "approvals",
        "webhook_deliveries",
        "webhook_endpoints",
        "document_change_head",
        "document_changes",
        "document_revisions",
        "documents",
    ):
        op.drop_table(table)
