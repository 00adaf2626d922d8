"""Transcripts, every revision of their file, the change feed, and webhook endpoints.

References to other domains (school, class, people, credentials) are plain indexed ids, so that
this package depends on no other domain's models; the migration adds the foreign keys.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin, utcnow

HOC_BA = "hoc_ba"
DOC_TYPES = (HOC_BA, "certificate")


class Document(IdMixin, TimestampMixin, Base):
    """One transcript (học bạ) of one student for one school year, and where it is in its chain."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("tenant_id", "original_sha256", name="uq_documents_tenant_original"),)

    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    doc_type: Mapped[str] = mapped_column(String(32), default=HOC_BA)
    filename: Mapped[str | None] = mapped_column(String(255))
    student_code: Mapped[str | None] = mapped_column(String(32), index=True)
    student_name: Mapped[str | None] = mapped_column(String(200))
    # CCCD: Fernet ciphertext, keyed digest (look-ups), masked form (display)
    personal_id_encrypted: Mapped[str | None] = mapped_column(Text)
    personal_id_digest: Mapped[str | None] = mapped_column(String(64))
    personal_id_masked: Mapped[str | None] = mapped_column(String(16))
    class_name: Mapped[str | None] = mapped_column(String(32))
    class_id: Mapped[str | None] = mapped_column(String(36), index=True)
    school_year: Mapped[str | None] = mapped_column(String(9))

    status: Mapped[str] = mapped_column(String(16), index=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    blocked_code: Mapped[str | None] = mapped_column(String(64))
    blocked_message: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    rejected_reason: Mapped[str | None] = mapped_column(Text)
    rejected_by_id: Mapped[str | None] = mapped_column(String(36))

    # the chain, resolved from the roster when the document is released
    teacher_id: Mapped[str | None] = mapped_column(String(36), index=True)
    principal_id: Mapped[str | None] = mapped_column(String(36), index=True)
    seal_credential_id: Mapped[str | None] = mapped_column(String(36))

    # the file: the upload's hash (de-duplication) and the current revision
    original_sha256: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=1)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    signature_count: Mapped[int] = mapped_column(Integer, default=0)

    # corrections: a re-issue supersedes an earlier version of the same transcript
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"), index=True)
    superseded_by_id: Mapped[str | None] = mapped_column(ForeignKey("documents.id"))
    verify_token: Mapped[str] = mapped_column(String(64), unique=True)

    # signing in progress: the approval that owns it and the worker's lease
    approval_id: Mapped[str | None] = mapped_column(String(36), index=True)
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)

    uploaded_by_kind: Mapped[str] = mapped_column(String(16), default="person")
    uploaded_by_id: Mapped[str | None] = mapped_column(String(36))
    completed_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"Document(id={self.id!r}, status={self.status!r}, step={self.step})"


class DocumentRevision(IdMixin, Base):
    """Every file a document has had: the upload (0), each signature, each replacement. Never deleted."""

    __tablename__ = "document_revisions"
    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_document_revisions_document_number"),
    )

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # upload | replace | signature
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # public verification matches on it
    storage_key: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    step: Mapped[int | None] = mapped_column(Integer)
    signer_person_id: Mapped[str | None] = mapped_column(String(36))
    on_behalf_of_id: Mapped[str | None] = mapped_column(String(36))
    credential_id: Mapped[str | None] = mapped_column(String(36))
    approval_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentChange(Base):
    """The change feed: ``seq`` is assigned at commit under a lock, so it only ever grows in commit order."""

    __tablename__ = "document_changes"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    document_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentChangeHead(Base):
    __tablename__ = "document_change_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookEndpoint(IdMixin, TimestampMixin, Base):
    """Where a school's information system wants to hear about completed transcripts."""

    __tablename__ = "webhook_endpoints"

    tenant_id: Mapped[str] = mapped_column(String(36), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WebhookDelivery(IdMixin, Base):
    __tablename__ = "webhook_deliveries"

    tenant_id: Mapped[str] = mapped_column(String(36), index=True)
    event: Mapped[str] = mapped_column(String(40))
    document_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
