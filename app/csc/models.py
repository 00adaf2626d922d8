"""CSC: providers a school brokers to, their credentials, and the authorisations of our CSC server.

No foreign keys into other domains' tables (every domain migrates on its own branch); ids are
plain columns with indexes.  Secrets never sit here in the clear: a provider's client secret is
Fernet ciphertext, a SAD is stored as its SHA-256 only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, utcnow


class CscProvider(IdMixin, TimestampMixin, Base):
    """A licensed remote-signing provider one school signs through (CSC API)."""

    __tablename__ = "csc_providers"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_csc_providers_tenant_name"),)

    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(100))
    base_url: Mapped[str] = mapped_column(String(500))
    auth_mode: Mapped[str] = mapped_column(String(16))  # app.keys.csc_remote.CscAuthMode
    client_id: Mapped[str | None] = mapped_column(String(200))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)  # Fernet(settings.data_encryption_key)
    token_url: Mapped[str | None] = mapped_column(String(500))
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=15)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class CscRemoteCredential(IdMixin, TimestampMixin, Base):
    """A credential held at a provider, as last fetched (``credentials/info``), linked to its owner."""

    __tablename__ = "csc_remote_credentials"
    __table_args__ = (
        UniqueConstraint("provider_id", "remote_id", name="uq_csc_remote_credentials_provider_remote"),
    )

    provider_id: Mapped[str] = mapped_column(ForeignKey("csc_providers.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    remote_id: Mapped[str] = mapped_column(String(255))  # the provider's credentialID
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)  # a person of the school
    algorithm: Mapped[str] = mapped_column(String(20))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    chain_b64: Mapped[list[str]] = mapped_column(JSON, default=list)
    sign_algorithms: Mapped[list[str]] = mapped_column(JSON, default=list)
    multisign: Mapped[int] = mapped_column(Integer, default=1)
    subject_dn: Mapped[str | None] = mapped_column(Text)
    not_after: Mapped[datetime | None] = mapped_column()
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthorizationStatus(StrEnum):
    PENDING = "pending"  # waiting for the owner (or the principal, for a seal) in the PWA
    APPROVED = "approved"  # approved; the SAD has not been handed out yet
    ISSUED = "issued"  # the SAD was handed out (once); it signs until used up or expired
    USED = "used"  # every signature of the SAD was made
    REJECTED = "rejected"
    EXPIRED = "expired"


class CscAuthorization(IdMixin, Base):
    """One ``credentials/authorize``: exactly these hashes, this credential, this signer.

    The id is the v2 ``handle``; it only answers to the API client that asked.  The passkey
    challenge is SHA-256(manifest_hash ‖ nonce), where the manifest is the credential id, the hash
    algorithm and the hashes in order, so the assertion is bound to exactly this set.
    """

    __tablename__ = "csc_authorizations"

    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    credential_id: Mapped[str] = mapped_column(String(36), index=True)
    credential_kind: Mapped[str] = mapped_column(String(20))  # person | organisation
    signer_id: Mapped[str | None] = mapped_column(String(36), index=True)  # who must approve
    api_client_id: Mapped[str] = mapped_column(String(36), index=True)
    hash_algorithm: Mapped[str] = mapped_column(String(64))  # OID
    hashes: Mapped[list[str]] = mapped_column(JSON)  # base64, in the order asked
    num_signatures: Mapped[int] = mapped_column(Integer)
    uses_left: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String(500))
    manifest_hash: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), index=True, default=AuthorizationStatus.PENDING)
    approved_by_id: Mapped[str | None] = mapped_column(String(36))
    decided_at: Mapped[datetime | None] = mapped_column()
    sad_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sad_expires_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)  # of the pending request
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
