"""Approvals (a manifest of exact document hashes + a single-use challenge + the SAD's MAC), their
items, and delegations.  Other domains are referenced by plain indexed ids."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, utcnow

# approval status
PENDING = "pending"  # manifest built, challenge issued, waiting for the passkey / TOTP
AUTHORIZED = "authorized"  # SAD minted; items queued or being signed
FINISHED = "finished"  # every item done or failed; the SAD is dead
EXPIRED = "expired"  # the challenge (or the SAD) ran out before use
REFUSED = "refused"  # the assertion or code did not verify; the challenge is spent

# item status
ITEM_PENDING = "pending"
ITEM_QUEUED = "queued"
ITEM_DONE = "done"
ITEM_FAILED = "failed"
ITEM_FINAL = (ITEM_DONE, ITEM_FAILED)


class Approval(IdMixin, Base):
    __tablename__ = "approvals"

    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)  # the signer; never anyone else
    step: Mapped[int] = mapped_column(Integer)
    method: Mapped[str | None] = mapped_column(String(16))  # passkey | totp, once used
    status: Mapped[str] = mapped_column(String(16), index=True, default=PENDING)
    on_behalf_of_id: Mapped[str | None] = mapped_column(String(36))  # the principal, when a delegate signs
    delegation_id: Mapped[str | None] = mapped_column(String(36))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    manifest_hash: Mapped[str] = mapped_column(String(64))
    challenge: Mapped[bytes] = mapped_column(LargeBinary)  # SHA-256(manifest_hash ‖ nonce)
    expires_at: Mapped[datetime] = mapped_column()
    total: Mapped[int] = mapped_column(Integer)
    passkey_id: Mapped[str | None] = mapped_column(String(36))
    # the signature activation data: only its MAC is kept, and (while the batch runs) a sealed copy
    # that lets the sweep resume work; both are bound to this approval, its manifest and its signer
    sad_mac: Mapped[str | None] = mapped_column(String(64))
    sad_sealed: Mapped[str | None] = mapped_column(Text)
    sad_expires_at: Mapped[datetime | None] = mapped_column()
    authorized_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApprovalItem(IdMixin, Base):
    """One document of an approval: the exact hash that may be signed, and what became of it."""

    __tablename__ = "approval_items"
    __table_args__ = (
        UniqueConstraint("approval_id", "document_id", name="uq_approval_items_approval_document"),
    )

    approval_id: Mapped[str] = mapped_column(ForeignKey("approvals.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    position: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    credential_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), index=True, default=ITEM_PENDING)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Delegation(IdMixin, TimestampMixin, Base):
    """A principal lets a deputy sign for them ("KT. HIỆU TRƯỞNG") for a date range, maybe some classes."""

    __tablename__ = "delegations"

    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    principal_id: Mapped[str] = mapped_column(String(36), index=True)
    delegate_id: Mapped[str] = mapped_column(String(36), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    class_ids: Mapped[list[str] | None] = mapped_column(JSON)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by_id: Mapped[str | None] = mapped_column(String(36))

    def covers(self, *, on: date, class_id: str | None) -> bool:
        if self.revoked_at is not None or not (self.starts_on <= on <= self.ends_on):
            return False
        return not self.class_ids or (class_id is not None and class_id in self.class_ids)
