"""Telling the school information system that a transcript is complete: an HMAC-signed webhook.

The delivery row is written in the same transaction as the completion (an outbox), then a task
POSTs it with retries.  The receiver checks ``X-Signet-Signature: t=<unix time>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, "<t>." + body)`` and refuses old ``t`` values (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.request
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import structlog
from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import crypto
from app.db import session, transaction, utcnow
from app.documents.models import Document, WebhookDelivery, WebhookEndpoint
from app.errors import Unprocessable
from app.settings import Settings

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Signet-Signature"
EVENT_COMPLETED = "transcript.completed"
MAX_ATTEMPTS = 8


class WebhookUrlInvalid(Unprocessable):
    code = "webhook.url_invalid"
    default_message = "The webhook URL must be an https:// address (http:// only outside production)."


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def set_endpoint(*, tenant_id: str, actor_id: str | None, url: str) -> tuple[WebhookEndpoint, str]:
    """Set the school's webhook URL; a new secret is generated and shown once."""
    settings = _settings()
    scheme = urlparse(url).scheme
    if scheme != "https" and not (scheme == "http" and not settings.is_prod):
        raise WebhookUrlInvalid()
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction() as s:
        endpoint = s.execute(
            select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
        ).scalar_one_or_none()
        if endpoint is None:
            endpoint = WebhookEndpoint(tenant_id=tenant_id, url=url, secret_encrypted="", active=True)
            s.add(endpoint)
        endpoint.url, endpoint.active = url, True
        endpoint.secret_encrypted = crypto.encrypt(settings, secret)
        record_event(
            s,
            action="webhook.configured",
            actor_id=actor_id,
            tenant_id=tenant_id,
            target_type="webhook",
            target_id=tenant_id,
            details={"url": url},
        )
        return endpoint, secret


def get_endpoint(*, tenant_id: str | None) -> WebhookEndpoint | None:
    if tenant_id is None:
        return None
    return (
        session()
        .execute(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id))
        .scalar_one_or_none()
    )


def payload_for(doc: Document) -> dict[str, Any]:
    base = _settings().public_base_url
    return {
        "event": EVENT_COMPLETED,
        "document": {
            "id": doc.id,
            "student_code": doc.student_code,
            "class_name": doc.class_name,
            "school_year": doc.school_year,
            "doc_type": doc.doc_type,
            "version": doc.version,
            "supersedes_id": doc.supersedes_id,
            "sha256": doc.sha256,
            "signature_count": doc.signature_count,
            "completed_at": doc.completed_at.isoformat() if doc.completed_at else None,
            "download_url": f"{base}/api/v1/documents/{doc.id}/file",
            "verify_token": doc.verify_token,
        },
    }


def queue_completed(s: Session, doc: Document) -> None:
    endpoint = s.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant_id == doc.tenant_id, WebhookEndpoint.active.is_(True)
        )
    ).scalar_one_or_none()
    if endpoint is None:
        return
    s.add(
        WebhookDelivery(
            tenant_id=doc.tenant_id, event=EVENT_COMPLETED, document_id=doc.id, payload=payload_for(doc)
        )
    )


def deliver_pending(document_ids: list[str]) -> None:
    s = session()
    ids = list(
        s.scalars(
            select(WebhookDelivery.id).where(
                WebhookDelivery.document_id.in_(document_ids), WebhookDelivery.status == "pending"
            )
        )
    )
    s.commit()
    if not ids:
        return
    from app.documents.tasks import deliver_webhook

    for delivery_id in ids:
        deliver_webhook.apply_async(args=[delivery_id])


LOST_FIRST_ATTEMPT = timedelta(minutes=2)  # queued at completion: a worker takes it within seconds
LOST_RETRIES = timedelta(hours=3)  # the whole backoff (10 s doubling, 8 attempts) is under 45 min


def sweep_pending(*, now: datetime | None = None) -> int:
    """Queue again the deliveries whose task was lost (the process died between the completion's commit
    and the enqueue, or the broker restarted without persistence). Sending one twice is harmless: the
    delivery id is the receiver's idempotency key and ``deliver`` skips what is no longer pending.
    Returns the number queued."""
    moment = now or utcnow()
    s = session()
    ids = list(
        s.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending")
            .where(
                or_(
                    and_(
                        WebhookDelivery.attempts == 0,
                        WebhookDelivery.created_at < moment - LOST_FIRST_ATTEMPT,
                    ),
                    WebhookDelivery.created_at < moment - LOST_RETRIES,
                )
            )
            .order_by(WebhookDelivery.created_at)
            .limit(1000)
        )
    )
    s.commit()
    from app.documents.tasks import deliver_webhook

    for delivery_id in ids:
        deliver_webhook.apply_async(args=[delivery_id])
    if ids:
        log.info("webhook_sweep", queued=len(ids))
    return len(ids)


def deliver(delivery_id: str, *, timeout: float = 10.0) -> bool:
    """POST one delivery; True when it is done (delivered, or given up), False to retry later."""
    settings = _settings()
    with transaction() as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return True
        endpoint = s.execute(
            select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == delivery.tenant_id)
        ).scalar_one_or_none()
        if endpoint is None or not endpoint.active:
            delivery.status = "dropped"
            return True
        url, secret = endpoint.url, crypto.decrypt(settings, endpoint.secret_encrypted)
        body = json.dumps(
            {"id": delivery.id, **delivery.payload}, ensure_ascii=False, sort_keys=True
        ).encode()
    error = None
    try:
        request = urllib.request.Request(  # noqa: S310 - scheme checked when the URL was set
            url,
            data=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature_header(secret, body)},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            ok = 200 <= response.status < 300
            if not ok:
                error = f"HTTP {response.status}"
    except Exception as exc:  # the receiver's trouble is recorded and retried, never raised
        ok, error = False, f"{type(exc).__name__}: {str(exc)[:200]}"
    with transaction() as s:
        delivery = s.get(WebhookDelivery, delivery_id)
        assert delivery is not None
        delivery.attempts += 1
        if ok:
            delivery.status, delivery.delivered_at, delivery.last_error = "delivered", utcnow(), None
        else:
            delivery.last_error = error
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status = "failed"
        done = delivery.status != "pending"
    log.info("webhook_delivery", delivery_id=delivery_id, ok=ok, error=error)
    return done
