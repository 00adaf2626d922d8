"""Push subscriptions of a person's browsers, and the notices shown in their inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin, utcnow


class PushSubscription(IdMixin, Base):
    __tablename__ = "push_subscriptions"

    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    endpoint: Mapped[str] = mapped_column(Text, unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    lang: Mapped[str] = mapped_column(String(5), default="vi")
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0)


class Notice(IdMixin, Base):
    """One line in a person's inbox. ``dedupe_key`` makes "once per batch" a database rule."""

    __tablename__ = "inbox_notices"
    __table_args__ = (UniqueConstraint("person_id", "dedupe_key", name="uq_inbox_notices_person_dedupe"),)

    tenant_id: Mapped[str | None] = mapped_column(String(36), index=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer, default=0)
    subject: Mapped[str | None] = mapped_column(String(200))  # e.g. the class name "3A"
    url: Mapped[str] = mapped_column(String(500), default="/")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column()
    pushed_at: Mapped[datetime | None] = mapped_column()
