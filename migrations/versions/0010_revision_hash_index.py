"""One head again, and an index on document_revisions.sha256.

Public verification (``POST /api/v1/verify``) matches an uploaded file against every revision Signet
ever stored by its SHA-256; without an index that is a scan of the largest table.

Revision ID: 0010_revision_hash_index
Revises: 0005_workflow, 0006_csc, 0007_billing, 0008_notify, 0009_audit_checkpoints
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0010_revision_hash_index"
down_revision = ("0005_workflow", "0006_csc", "0007_billing", "0008_notify", "0009_audit_checkpoints")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("document_revisions") as batch:
        batch.create_index("ix_document_revisions_sha256", ["sha256"])


def downgrade() -> None:
    with op.batch_alter_table("document_revisions") as batch:
        batch.drop_index("ix_document_revisions_sha256")
