"""Renewals (old credential → new one) and seal requests (school admin asks, principal approves)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, utcnow

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"

SEAL_CREATE = "create"
SEAL_ROTATE = "rotate"


class CredentialRenewal(IdMixin, Base):
    """One renewal per old credential (the unique column makes a re-run or a race harmless)."""

    __tablename__ = "credential_renewals"

    old_credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), unique=True)
    new_credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(36), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True)
    renewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SealRequest(IdMixin, Base):
    """A school admin's request to create or rotate the school seal; the principal decides."""

    __tablename__ = "seal_requests"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # create | rotate
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    requested_by_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    previous_credential_id: Mapped[str | None] = mapped_column(ForeignKey("credentials.id"))
    credential_id: Mapped[str | None] = mapped_column(ForeignKey("credentials.id"))


class Offboarding(IdMixin, Base):
    """What happened when a person left: kept for the school admin's follow-up page."""

    __tablename__ = "offboardings"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(40))
    revoked_credential_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    handed_over: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
