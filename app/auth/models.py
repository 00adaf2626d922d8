"""Factors, challenges, sessions, invitations and API clients.

Every secret that a client presents (session token, invitation token, recovery code, client secret,
access token) is stored as a SHA-256 digest only; TOTP secrets are encrypted (they must be read back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, utcnow

PASSKEY = "passkey"
TOTP = "totp"
RECOVERY = "recovery"
FACTORS = (PASSKEY, TOTP, RECOVERY)

SCOPES = ("documents:write", "documents:read", "signing:read")


class Passkey(IdMixin, Base):
    __tablename__ = "passkeys"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    device_type: Mapped[str | None] = mapped_column(String(32))
    aaguid: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class TotpFactor(IdMixin, Base):
    __tablename__ = "totp_factors"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class RecoveryCode(IdMixin, Base):
    __tablename__ = "recovery_codes"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()


class AuthChallenge(IdMixin, Base):
    """A pending ceremony: single use (deleted on the first verify attempt), short-lived."""

    __tablename__ = "auth_challenges"
    __table_args__ = (UniqueConstraint("binding", "purpose", name="uq_auth_challenges_binding_purpose"),)

    purpose: Mapped[str] = mapped_column(String(32))
    # digest of the pre-auth cookie or of the session token the ceremony is bound to
    binding: Mapped[str] = mapped_column(String(64))
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    invitation_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class UserSession(IdMixin, Base):
    __tablename__ = "user_sessions"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(16))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # absolute expiry
    revoked_at: Mapped[datetime | None] = mapped_column()


class FactorLock(IdMixin, Base):
    """Consecutive failures of one factor of one person; locked when they reach the threshold."""

    __tablename__ = "factor_locks"
    __table_args__ = (UniqueConstraint("person_id", "factor", name="uq_factor_locks_person_factor"),)

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    factor: Mapped[str] = mapped_column(String(16))
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column()
    locked_until: Mapped[datetime | None] = mapped_column()


class Invitation(IdMixin, Base):
    __tablename__ = "invitations"

    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class ApiClient(IdMixin, Base):
    __tablename__ = "api_clients"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[str | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class AccessToken(IdMixin, Base):
    __tablename__ = "access_tokens"

    api_client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
