"""Organisations, people, classes, roles; factors, challenges, sessions, invitations, API clients.

Revision ID: 0003_people
Revises: 0001_base
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UtcDateTime

revision = "0003_people"
down_revision = "0001_base"
branch_labels = None
depends_on = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(36), nullable=False)


def _fk(
    column: str, table: str, referred: str, *, nullable: bool, ondelete: str | None = None
) -> sa.Column[str]:
    return sa.Column(
        column,
        sa.String(36),
        sa.ForeignKey(f"{referred}.id", name=f"fk_{table}_{column}_{referred}", ondelete=ondelete),
        nullable=nullable,
    )


def _index(table: str, *columns: str, unique: bool = False) -> None:
    op.create_index(f"ix_{table}_{columns[0]}", table, list(columns), unique=unique)


def upgrade() -> None:
    op.create_table(
        "organisations",
        _id(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _fk("parent_id", "organisations", "organisations", nullable=True),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        sa.UniqueConstraint("code", name="uq_organisations_code"),
    )
    _index("organisations", "parent_id")

    op.create_table(
        "people",
        _id(),
        _fk("tenant_id", "people", "organisations", nullable=True),
        _fk("organisation_id", "people", "organisations", nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("phone", sa.String(32)),
        sa.Column("cccd_encrypted", sa.Text()),
        sa.Column("cccd_digest", sa.String(64)),
        sa.Column("cccd_masked", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("webauthn_user_id", sa.String(64), nullable=False),
        sa.Column("enrolled_at", UtcDateTime()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
        sa.UniqueConstraint("username", name="uq_people_username"),
        sa.UniqueConstraint("webauthn_user_id", name="uq_people_webauthn_user_id"),
        sa.UniqueConstraint("tenant_id", "cccd_digest", name="uq_people_tenant_cccd"),
    )
    _index("people", "tenant_id")
    _index("people", "organisation_id")

    op.create_table(
        "school_classes",
        _id(),
        _fk("tenant_id", "school_classes", "organisations", nullable=False),
        sa.Column("school_year", sa.String(9), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_school_classes"),
        sa.UniqueConstraint("tenant_id", "school_year", "name", name="uq_school_classes_tenant_year_name"),
    )
    _index("school_classes", "tenant_id")

    op.create_table(
        "role_assignments",
        _id(),
        _fk("person_id", "role_assignments", "people", nullable=False, ondelete="CASCADE"),
        _fk("organisation_id", "role_assignments", "organisations", nullable=False),
        _fk("tenant_id", "role_assignments", "organisations", nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        _fk("class_id", "role_assignments", "school_classes", nullable=True),
        sa.Column("school_year", sa.String(9)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_role_assignments"),
    )
    for column in ("person_id", "organisation_id", "tenant_id", "class_id"):
        _index("role_assignments", column)

    op.create_table(
        "passkeys",
        _id(),
        _fk("person_id", "passkeys", "people", nullable=False, ondelete="CASCADE"),
        _fk("tenant_id", "passkeys", "organisations", nullable=True),
        sa.Column("credential_id", sa.String(1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("backed_up", sa.Boolean(), nullable=False),
        sa.Column("device_type", sa.String(32)),
        sa.Column("aaguid", sa.String(36)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_passkeys"),
        sa.UniqueConstraint("credential_id", name="uq_passkeys_credential_id"),
    )
    _index("passkeys", "person_id")
    _index("passkeys", "tenant_id")

    op.create_table(
        "totp_factors",
        _id(),
        _fk("person_id", "totp_factors", "people", nullable=False, ondelete="CASCADE"),
        _fk("tenant_id", "totp_factors", "organisations", nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("last_used_step", sa.Integer()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_totp_factors"),
        sa.UniqueConstraint("person_id", name="uq_totp_factors_person_id"),
    )
    _index("totp_factors", "tenant_id")

    op.create_table(
        "recovery_codes",
        _id(),
        _fk("person_id", "recovery_codes", "people", nullable=False, ondelete="CASCADE"),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_recovery_codes"),
    )
    _index("recovery_codes", "person_id")

    op.create_table(
        "auth_challenges",
        _id(),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("binding", sa.String(64), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        _fk("person_id", "auth_challenges", "people", nullable=True, ondelete="CASCADE"),
        sa.Column("invitation_id", sa.String(36)),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_auth_challenges"),
        sa.UniqueConstraint("binding", "purpose", name="uq_auth_challenges_binding_purpose"),
    )
    _index("auth_challenges", "person_id")
    _index("auth_challenges", "expires_at")

    op.create_table(
        "user_sessions",
        _id(),
        _fk("person_id", "user_sessions", "people", nullable=False, ondelete="CASCADE"),
        _fk("tenant_id", "user_sessions", "organisations", nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("user_agent", sa.String(300)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_user_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_user_sessions_token_hash"),
    )
    _index("user_sessions", "person_id")
    _index("user_sessions", "tenant_id")

    op.create_table(
        "factor_locks",
        _id(),
        _fk("person_id", "factor_locks", "people", nullable=False, ondelete="CASCADE"),
        sa.Column("factor", sa.String(16), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UtcDateTime()),
        sa.Column("locked_until", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_factor_locks"),
        sa.UniqueConstraint("person_id", "factor", name="uq_factor_locks_person_factor"),
    )

    op.create_table(
        "invitations",
        _id(),
        _fk("tenant_id", "invitations", "organisations", nullable=True),
        _fk("person_id", "invitations", "people", nullable=False, ondelete="CASCADE"),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _fk("created_by_id", "invitations", "people", nullable=True, ondelete="SET NULL"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    _index("invitations", "tenant_id")
    _index("invitations", "person_id")

    op.create_table(
        "api_clients",
        _id(),
        _fk("tenant_id", "api_clients", "organisations", nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        _fk("created_by_id", "api_clients", "people", nullable=True, ondelete="SET NULL"),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime()),
        sa.Column("revoked_at", UtcDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_api_clients"),
        sa.UniqueConstraint("client_id", name="uq_api_clients_client_id"),
    )
    _index("api_clients", "tenant_id")

    op.create_table(
        "access_tokens",
        _id(),
        _fk("api_client_id", "access_tokens", "api_clients", nullable=False, ondelete="CASCADE"),
        _fk("tenant_id", "access_tokens", "organisations", nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
    )
    _index("access_tokens", "api_client_id")
    _index("access_tokens", "tenant_id")
    _index("access_tokens", "expires_at")


def downgrade() -> None:
    for table in (
        "access_tokens",
        "api_clients",
        "invitations",
        "factor_locks",
        "user_sessions",
        "auth_challenges",
        "recovery_codes",
        "totp_factors",
        "passkeys",
        "role_assignments",
        "school_classes",
        "people",
        "organisations",
    ):
        op.drop_table(table)
