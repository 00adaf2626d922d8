"""The operator console: tenants and what pays for them, the HSM, the task queue, stalled work.

Read-only views over other domains; every probe of an external system reports its failure instead
of raising, so the console still renders when the HSM or the broker is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import select

from app.billing.models import Subscription
from app.billing.service import QuotaStatus, in_force, quota_status, status_of, today
from app.db import session, utcnow
from app.documents.models import Document
from app.tenants.models import DISTRICT, SCHOOL, Organisation

STALLED_GRACE = timedelta(minutes=5)


@dataclass(frozen=True)
class TenantInfo:
    id: str
    kind: str
    code: str
    name: str
    parent_id: str | None
    quota: QuotaStatus | None


def tenants() -> list[TenantInfo]:
    """Every organisation, with the quota that pays for it today (schools) or its own (districts)."""
    s = session()
    now = today()
    found = []
    for org in s.scalars(select(Organisation).order_by(Organisation.kind, Organisation.code)):
        quota: QuotaStatus | None = None
        if org.kind == SCHOOL:
            quota = quota_status(s, tenant_id=org.id, day=now)
        elif org.kind == DISTRICT:
            own = s.scalars(
                select(Subscription).where(
                    Subscription.organisation_id == org.id,
                    in_force(now),
                )
            ).first()
            quota = status_of(own) if own else None
        found.append(TenantInfo(org.id, org.kind, org.code, org.name, org.parent_id, quota))
    return found


def hsm_status() -> dict[str, Any]:
    from app.keys.provider import get_hsm

    try:
        status = get_hsm().status()
    except Exception as exc:  # the console shows the failure; it never hides behind a 500
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": True,
        "module": status.module,
        "token_label": status.token_label,
        "manufacturer": status.manufacturer,
        "model": status.model,
        "key_count": status.key_count,
    }


def queue_depth(queues: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Messages waiting in each queue of the Celery broker (Redis, SQLAlchemy or memory transport);
    by default the queue Signet's tasks go to (``CELERY_QUEUE``)."""
    celery = current_app.extensions["celery"]
    queues = queues or (str(celery.conf.task_default_queue),)
    url = str(celery.conf.broker_url or "")
    broker = urlsplit(url).scheme or url.split(":", 1)[0]  # the transport only: never the credentials
    depths: dict[str, int] = {}
    try:
        with celery.connection_for_read() as conn:
            channel = conn.default_channel
            for name in queues:
                try:
                    depths[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
                except Exception:
                    depths[name] = 0  # a queue nobody declared yet holds nothing
    except Exception as exc:
        return {"ok": False, "broker": broker, "queues": depths, "error": type(exc).__name__}
    return {"ok": True, "broker": broker, "queues": depths}


def stalled(grace: timedelta = STALLED_GRACE) -> dict[str, Any]:
    """Documents whose signing lease ran out more than ``grace`` ago (the sweep should take them)."""
    cutoff = utcnow() - grace
    rows = session().scalars(
        select(Document)
        .where(Document.lease_until.is_not(None), Document.lease_until < cutoff)
        .order_by(Document.lease_until)
        .limit(500)
    )
    items = [
        {
            "document_id": d.id,
            "tenant_id": d.tenant_id,
            "status": d.status,
            "step": d.step,
            "approval_id": d.approval_id,
            "lease_until": d.lease_until.isoformat() if d.lease_until else None,
            "attempts": d.attempts,
        }
        for d in rows
    ]
    return {"available": True, "items": items}
