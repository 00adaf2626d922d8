"""The organisation tree. A school's id is the ``tenant_id`` of every row that belongs to it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, TimestampMixin

DEPARTMENT = "department"  # Sở GDĐT
DISTRICT = "district"  # Phòng GDĐT
SCHOOL = "school"
KINDS = (DEPARTMENT, DISTRICT, SCHOOL)

DEFAULT_POLICY: dict[str, Any] = {"totp_batch_approval": False}


class Organisation(IdMixin, TimestampMixin, Base):
    __tablename__ = "organisations"

    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def is_school(self) -> bool:
        return self.kind == SCHOOL

    def policy_value(self, name: str) -> Any:
        return (self.policy or {}).get(name, DEFAULT_POLICY.get(name))
