"""Credentials (one HSM key, one owner, one certificate) and what the development CA has issued."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, utcnow


class OwnerKind(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    SERVICE = "service"


class Purpose(StrEnum):
    SIGNING = "signing"  # a person's signature (teacher, principal)
    SEAL = "seal"  # a school's unit seal ("chứng thư số con dấu đơn vị")
    CA = "ca"  # the development CA's own key
    TSA = "tsa"  # the development TSA's key


class CredentialStatus(StrEnum):
    PENDING = "pending"  # key generated, CSR waiting for a certificate
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class SystemRole(StrEnum):
    """Credentials the service itself needs exactly once; the unique column makes creation race-safe."""

    DEV_CA = "dev-ca"
    DEV_TSA = "dev-tsa"


class Credential(IdMixin, TimestampMixin, Base):
    __tablename__ = "credentials"

    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True)
    owner_kind: Mapped[str] = mapped_column(String(20))
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(20))
    algorithm: Mapped[str] = mapped_column(String(20))
    hsm_key_id: Mapped[str] = mapped_column(String(64), unique=True)
    system_role: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    issued_by_dev_ca: Mapped[bool] = mapped_column(Boolean, default=False)
    certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    # issuer chain as base64 DER, the signer's issuer first and the root last
    chain_b64: Mapped[list[str]] = mapped_column(JSON, default=list)
    csr_pem: Mapped[str | None] = mapped_column(Text)
    subject_dn: Mapped[str | None] = mapped_column(Text)
    issuer_dn: Mapped[str | None] = mapped_column(Text)
    serial_hex: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime | None] = mapped_column()
    not_after: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revocation_reason: Mapped[str | None] = mapped_column(String(40))

    @property
    def chain_der(self) -> tuple[bytes, ...]:
        return tuple(base64.b64decode(item) for item in self.chain_b64 or [])

    @chain_der.setter
    def chain_der(self, certificates: tuple[bytes, ...] | list[bytes]) -> None:
        self.chain_b64 = [base64.b64encode(der).decode("ascii") for der in certificates]

    def is_usable_at(self, when: datetime) -> bool:
        if self.status != CredentialStatus.ACTIVE or self.certificate_der is None:
            return False
        return not (self.not_after is not None and self.not_after <= when)

    def __repr__(self) -> str:
        return f"Credential(id={self.id!r}, purpose={self.purpose!r}, status={self.status!r})"


class IssuedCertificate(IdMixin, Base):
    """Every certificate the development CA signed: what its CRL is built from."""

    __tablename__ = "issued_certificates"

    serial_hex: Mapped[str] = mapped_column(String(64), unique=True)
    issuer_credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    credential_id: Mapped[str | None] = mapped_column(ForeignKey("credentials.id"), index=True)
    subject_dn: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_after: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    revocation_reason: Mapped[str | None] = mapped_column(String(40))
