"""People, classes and role assignments. Every row of a school carries ``tenant_id``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, IdMixin, TimestampMixin, utcnow

ACTIVE = "active"
SUSPENDED = "suspended"


class Person(IdMixin, TimestampMixin, Base):
    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("tenant_id", "cccd_digest", name="uq_people_tenant_cccd"),)

    # the school the person belongs to; None for district / department / operator staff
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    # CCCD: Fernet ciphertext, a keyed digest for look-ups, and the masked form for display
    cccd_encrypted: Mapped[str | None] = mapped_column(Text)
    cccd_digest: Mapped[str | None] = mapped_column(String(64))
    cccd_masked: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    # the WebAuthn user handle: random, never personal data
    webauthn_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    enrolled_at: Mapped[datetime | None] = mapped_column()

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE


class SchoolClass(IdMixin, TimestampMixin, Base):
    __tablename__ = "school_classes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "school_year", "name", name="uq_school_classes_tenant_year_name"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    school_year: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(32))
    grade: Mapped[int] = mapped_column(Integer)


class RoleAssignment(IdMixin, Base):
    __tablename__ = "role_assignments"

    person_id: Mapped[str] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    class_id: Mapped[str | None] = mapped_column(ForeignKey("school_classes.id"), index=True)
    school_year: Mapped[str | None] = mapped_column(String(9))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="roles")
    school_class: Mapped[SchoolClass | None] = relationship(lazy="joined")

    def key(self) -> tuple[str, str, str | None, str | None]:
        return (self.role, self.organisation_id, self.class_id, self.school_year)
