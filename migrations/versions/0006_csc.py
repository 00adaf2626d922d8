"""CSC: brokered providers and their credentials; authorisations of Signet's CSC server.

Revision ID: 0006_csc
Revises: 0001_base
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision = "0006_csc"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "csc_providers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=False),
        sa.Column("auth_mode", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(200)),
        sa.Column("secret_encrypted", sa.Text()),
        sa.Column("token_url", sa.String(500)),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csc_providers")),
        sa.UniqueConstraint("tenant_id", "name", name="uq_csc_providers_tenant_name"),
    )
    op.create_index("ix_csc_providers_tenant_id", "csc_providers", ["tenant_id"])
    op.create_table(
        "csc_remote_credentials",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("provider_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("remote_id", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.String(36)),
        sa.Column("algorithm", sa.String(20), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("chain_b64", sa.JSON(), nullable=False),
        sa.Column("sign_algorithms", sa.JSON(), nullable=False),
        sa.Column("multisign", sa.Integer(), nullable=False),
        sa.Column("subject_dn", sa.Text()),
        sa.Column("not_after", UtcDateTime()),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("synced_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csc_remote_credentials")),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["csc_providers.id"],
            name=op.f("fk_csc_remote_credentials_provider_id_csc_providers"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("provider_id", "remote_id", name="uq_csc_remote_credentials_provider_remote"),
    )
    op.create_index("ix_csc_remote_credentials_provider_id", "csc_remote_credentials", ["provider_id"])
    op.create_index("ix_csc_remote_credentials_tenant_id", "csc_remote_credentials", ["tenant_id"])
    op.create_index("ix_csc_remote_credentials_owner_id", "csc_remote_credentials", ["owner_id"])
    op.create_table(
        "csc_authorizations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("credential_id", sa.String(36), nullable=False),
        sa.Column("credential_kind", sa.String(20), nullable=False),
        sa.Column("signer_id", sa.String(36)),
        sa.Column("api_client_id", sa.String(36), nullable=False),
        sa.Column("hash_algorithm", sa.String(64), nullable=False),
        sa.Column("hashes", sa.JSON(), nullable=False),
        sa.Column("num_signatures", sa.Integer(), nullable=False),
        sa.Column("uses_left", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("manifest_hash", sa.String(64), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approved_by_id", sa.String(36)),
        sa.Column("decided_at", UtcDateTime()),
        sa.Column("sad_hash", sa.String(64)),
        sa.Column("sad_expires_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csc_authorizations")),
        sa.UniqueConstraint("sad_hash", name="uq_csc_authorizations_sad_hash"),
    )
    for column in ("tenant_id", "credential_id", "signer_id", "api_client_id", "status", "expires_at"):
        op.create_index(f"ix_csc_authorizations_{column}", "csc_authorizations", [column])


def downgrade() -> None:
    op.drop_table("csc_authorizations")
    op.drop_table("csc_remote_credentials")
    op.drop_table("csc_providers")
