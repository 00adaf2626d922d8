"""Keys: credentials (HSM key + owner + certificate) and the development CA's issued certificates.

Revision ID: 0002_keys
Revises: 0001_base
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision = "0002_keys"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=True),
        sa.Column("owner_kind", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.String(36), nullable=True),
        sa.Column("owner_name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(200), nullable=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("algorithm", sa.String(20), nullable=False),
        sa.Column("hsm_key_id", sa.String(64), nullable=False),
        sa.Column("system_role", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("issued_by_dev_ca", sa.Boolean(), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=True),
        sa.Column("chain_b64", sa.JSON(), nullable=False),
        sa.Column("csr_pem", sa.Text(), nullable=True),
        sa.Column("subject_dn", sa.Text(), nullable=True),
        sa.Column("issuer_dn", sa.Text(), nullable=True),
        sa.Column("serial_hex", sa.String(64), nullable=True),
        sa.Column("not_before", UtcDateTime(), nullable=True),
        sa.Column("not_after", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(40), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("hsm_key_id", name=op.f("uq_credentials_hsm_key_id")),
        sa.UniqueConstraint("system_role", name=op.f("uq_credentials_system_role")),
    )
    with op.batch_alter_table("credentials") as batch:
        batch.create_index(batch.f("ix_credentials_tenant_id"), ["tenant_id"])
        batch.create_index(batch.f("ix_credentials_owner_id"), ["owner_id"])
        batch.create_index(batch.f("ix_credentials_status"), ["status"])

    op.create_table(
        "issued_certificates",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("serial_hex", sa.String(64), nullable=False),
        sa.Column("issuer_credential_id", sa.String(36), nullable=False),
        sa.Column("credential_id", sa.String(36), nullable=True),
        sa.Column("subject_dn", sa.Text(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("not_after", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("revocation_reason", sa.String(40), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_credential_id"],
            ["credentials.id"],
            name=op.f("fk_issued_certificates_issuer_credential_id_credentials"),
        ),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_issued_certificates_credential_id_credentials"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_certificates")),
        sa.UniqueConstraint("serial_hex", name=op.f("uq_issued_certificates_serial_hex")),
    )
    with op.batch_alter_table("issued_certificates") as batch:
        batch.create_index(batch.f("ix_issued_certificates_issuer_credential_id"), ["issuer_credential_id"])
        batch.create_index(batch.f("ix_issued_certificates_credential_id"), ["credential_id"])


def downgrade() -> None:
    op.drop_table("issued_certificates")
    op.drop_table("credentials")
