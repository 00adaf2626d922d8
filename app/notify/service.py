"""Inbox notices and Web Push delivery.

``notify`` is called by other services inside their own transaction.  A notice is unique per
(person, ``dedupe_key``) — the workflow passes e.g. ``work_waiting:<approval-batch id>`` — so a
batch of 40 transcripts produces one notice and one push, not 40.  Pushes go out after the commit,
on the task queue; a push service that says the subscription is gone (404/410) removes it.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy import event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import new_id, transaction, utcnow
from app.db import session as db_session
from app.errors import NotFound, Unprocessable
from app.notify.messages import render
from app.notify.models import Notice, PushSubscription
from app.settings import Settings

log = structlog.get_logger(__name__)
_TO_PUSH = "signet.notify_to_push"


class InvalidSubscription(Unprocessable):
    code = "notify.invalid_subscription"
    default_message = "This push subscription cannot be used."


class NoticeNotFound(NotFound):
    code = "notify.notice_not_found"
    default_message = "No such notice."


def _check_endpoint(endpoint: str, settings: Settings) -> None:
    """Push endpoints are URLs the server will POST to: refuse internal targets (SSRF)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host == "localhost" or host.endswith(".local") or "." not in host:
                raise InvalidSubscription("The push endpoint must be a public push service.") from None
            return
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            raise InvalidSubscription("The push endpoint must be a public push service.")
        return
    if not settings.is_prod and parts.scheme == "http" and host in {"localhost", "127.0.0.1"}:
        return  # development and tests run their own push endpoint
    raise InvalidSubscription("The push endpoint must be an https URL.")


def subscribe(
    *,
    settings: Settings,
    person_id: str,
    tenant_id: str | None,
    endpoint: str,
    p256dh: str,
    auth: str,
    lang: str = "vi",
    user_agent: str | None = None,
) -> PushSubscription:
    _check_endpoint(endpoint, settings)
    with transaction() as s:
        sub = s.execute(
            select(PushSubscription).where(PushSubscription.endpoint == endpoint)
        ).scalar_one_or_none()
        if sub is None:
            sub = PushSubscription(endpoint=endpoint)
            s.add(sub)
        # an endpoint belongs to one browser profile: re-bind it to whoever subscribes now
        sub.person_id, sub.tenant_id = person_id, tenant_id
        sub.p256dh, sub.auth = p256dh, auth
        sub.lang = "en" if lang.startswith("en") else "vi"
        sub.user_agent = (user_agent or "")[:300] or None
        sub.failures = 0
    return sub


def unsubscribe(*, person_id: str, endpoint: str) -> None:
    with transaction() as s:
        sub = s.execute(
            select(PushSubscription).where(
                PushSubscription.endpoint == endpoint, PushSubscription.person_id == person_id
            )
        ).scalar_one_or_none()
        if sub is not None:
            s.delete(sub)


def notify(
    session: Session,
    *,
    person_id: str,
    tenant_id: str | None,
    kind: str,
    dedupe_key: str,
    count: int,
    subject: str | None = None,
    url: str = "/",
) -> Notice:
    """Add (or, for a known ``dedupe_key``, update) a notice; push it once after the commit."""
    notice = session.execute(
        select(Notice).where(Notice.person_id == person_id, Notice.dedupe_key == dedupe_key)
    ).scalar_one_or_none()
    if notice is not None:
        notice.count = count
        return notice
    notice = Notice(
        person_id=person_id,
        tenant_id=tenant_id,
        kind=kind,
        dedupe_key=dedupe_key,
        count=count,
        subject=subject,
        url=url,
    )
    session.add(notice)
    session.flush()
    session.info.setdefault(_TO_PUSH, []).append(notice.id)
    return notice


def notify_work_waiting(
    session: Session,
    *,
    person_id: str,
    tenant_id: str | None,
    group: str,
    subject: str,
    url: str,
    count: int = 1,
) -> Notice:
    """ "N transcripts of 3A are waiting for you": one notice and one push per batch.

    Arrivals (``count`` documents at once) while the person still has an unread notice for the same
    ``group`` (class and step) only raise its count; once they have read it, the next arrival starts a
    new notice and a push.
    """
    prefix = f"work_waiting:{group}:"
    notice = session.execute(
        select(Notice)
        .where(
            Notice.person_id == person_id,
            Notice.dedupe_key.startswith(prefix, autoescape=True),
            Notice.read_at.is_(None),
        )
        .order_by(Notice.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if notice is not None:
        # one atomic UPDATE, run now: a read-modify-write flushed whenever the ORM gets to it would
        # lose increments between concurrent signing chunks, and take this row's lock at a moment
        # that varies (against the billing counters that a chunk updates after it) -> deadlocks
        session.execute(
            update(Notice)
            .where(Notice.id == notice.id)
            .values(count=Notice.count + count)
            .execution_options(synchronize_session=False)
        )
        session.expire(notice, ["count"])
        return notice
    # None unread: the next notice of the group is numbered by how many the person has had, so two
    # transactions that both found none (concurrent signing chunks on PostgreSQL) name the same
    # notice, and the database makes it one: the first inserts it, the other adds to its count.
    had = session.scalar(
        select(func.count())
        .select_from(Notice)
        .where(Notice.person_id == person_id, Notice.dedupe_key.startswith(prefix, autoescape=True))
    )
    values = {
        "id": new_id(),
        "person_id": person_id,
        "tenant_id": tenant_id,
        "kind": "work_waiting",
        "dedupe_key": f"{prefix}{had}",
        "count": count,
        "subject": subject,
        "url": url,
        "created_at": utcnow(),
    }
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(Notice)
    upsert = insert.values(values)
    row = session.execute(
        upsert.on_conflict_do_update(
            index_elements=[Notice.person_id, Notice.dedupe_key],
            set_={"count": Notice.count + upsert.excluded.count},
            where=Notice.read_at.is_(None),  # a notice already read is never counted on
        )
        .returning(Notice.id)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:  # that name belongs to a notice already read: a new one, named at random
        return notify(
            session,
            person_id=person_id,
            tenant_id=tenant_id,
            kind="work_waiting",
            dedupe_key=prefix + new_id(),
            count=count,
            subject=subject,
            url=url,
        )
    if row.id == values["id"]:  # inserted: pushed once, after the commit
        session.info.setdefault(_TO_PUSH, []).append(row.id)
    notice = session.get(Notice, row.id, populate_existing=True)
    assert notice is not None
    return notice


@event.listens_for(Session, "after_commit")
def _enqueue_pushes(session: Session) -> None:
    ids: list[str] | None = session.info.pop(_TO_PUSH, None)
    if not ids:
        return
    from app.notify.tasks import deliver_notice

    for notice_id in ids:
        try:
            deliver_notice.delay(notice_id)
        except Exception as exc:  # the notice is in the inbox either way
            log.warning("push_enqueue_failed", notice_id=notice_id, exc_type=type(exc).__name__)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pushes(session: Session, _previous: object) -> None:
    session.info.pop(_TO_PUSH, None)


def list_notices(*, person_id: str, unread_only: bool = False, limit: int = 50) -> list[Notice]:
    query = select(Notice).where(Notice.person_id == person_id)
    if unread_only:
        query = query.where(Notice.read_at.is_(None))
    return list(db_session().execute(query.order_by(Notice.created_at.desc()).limit(limit)).scalars())


def mark_read(*, person_id: str, notice_id: str) -> None:
    with transaction() as s:
        result = s.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.person_id == person_id)
            .values(read_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 0:
            raise NoticeNotFound()


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    removed: int
    failed: int


def payload(notice: Notice, lang: str) -> dict[str, Any]:
    title, body = render(notice.kind, lang, count=notice.count, subject=notice.subject)
    return {"title": title, "body": body, "url": notice.url, "tag": notice.dedupe_key, "kind": notice.kind}


def deliver(notice_id: str, *, settings: Settings) -> DeliveryReport:
    """Send one notice to every browser of its person (called by the task)."""
    from pywebpush import WebPushException, webpush

    from app.notify.vapid import vapid_key

    s = db_session()
    notice = s.get(Notice, notice_id)
    if notice is None:
        return DeliveryReport(0, 0, 0)
    subs = list(
        s.execute(select(PushSubscription).where(PushSubscription.person_id == notice.person_id)).scalars()
    )
    key = vapid_key(settings)
    sent = removed = failed = 0
    for sub in subs:
        try:
            webpush(
                subscription_info={
                    "endpoint": sub.endpoint,
                    "keys": {"p256dh": sub.p256dh, "auth": sub.auth},
                },
                data=json.dumps(payload(notice, sub.lang), ensure_ascii=False),
                vapid_private_key=key,
                vapid_claims={"sub": settings.vapid_subject},
                ttl=24 * 3600,
                timeout=10,
            )
            sub.last_success_at, sub.failures = utcnow(), 0
            sent += 1
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (404, 410):
                s.delete(sub)
                removed += 1
            else:
                sub.failures += 1
                failed += 1
            log.info("push_failed", notice_id=notice_id, status=status)
        except Exception as exc:  # network errors: keep the subscription, try next time
            sub.failures += 1
            failed += 1
            log.info("push_failed", notice_id=notice_id, exc_type=type(exc).__name__)
    notice.pushed_at = utcnow()
    s.commit()
    return DeliveryReport(sent, removed, failed)
