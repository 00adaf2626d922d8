"""The HMAC-signed webhook to the school information system, checked by a real HTTP receiver on this
machine the way a school's system would check it: ``X-Signet-Signature: t=<unix>,v1=<hex>``."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.auth.sessions import CSRF_HEADER
from app.db import session
from app.documents.models import WebhookDelivery
from app.documents.webhooks import MAX_ATTEMPTS
from app.people import rules
from app.settings import Settings
from tests.conftest import wait_for
from tests.support.clock import FrozenClock
from tests.support.factories import SignedInClient, make_person, sign_in
from tests.support.fixtures import clock  # noqa: F401 - fixture
from tests.support.workflow_world import World, build_world

# These tests drive approvals and read the result at once: on the broker run a real worker signs and
# each approval waits for it (``settle``).
pytestmark = pytest.mark.hsm


class Receiver:
    """A school information system's endpoint: records every POST, answers with ``statuses`` in turn
    (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/signet/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def verified(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> dict[str, Any]:
    """What a receiver does before trusting a delivery; raises on anything wrong."""
    parts = dict(item.split("=", 1) for item in headers["X-Signet-Signature"].split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        raise ValueError("stale")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["v1"]):
        raise ValueError("bad signature")
    payload: dict[str, Any] = json.loads(body)
    return payload


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.with_(webhook_retry_seconds=0.05)  # the broker run retries for real


@pytest.fixture
def world(app: Flask, clock: FrozenClock, task_worker: object) -> World:  # noqa: F811
    return build_world(app, settle=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def admin_of(app: Flask, world: World) -> SignedInClient:
    return sign_in(app, make_person(world.school, roles=(rules.SCHOOL_ADMIN,)))


def put_webhook(client: SignedInClient, url: str) -> Any:
    return client.client.put("/api/v1/webhook", json={"url": url}, headers={CSRF_HEADER: client.csrf})


def set_webhook(app: Flask, world: World, url: str) -> str:
    response = put_webhook(admin_of(app, world), url)
    assert response.status_code == 200, response.get_json()
    secret: str = response.get_json()["secret"]
    return secret


def complete(world: World, ids: list[str]) -> None:
    world.teacher.approve({"document_ids": ids})
    world.principal.approve({"document_ids": ids})


def deliveries(tenant_id: str | None = None) -> list[WebhookDelivery]:
    session().expire_all()
    query = select(WebhookDelivery).order_by(WebhookDelivery.created_at)
    if tenant_id is not None:
        query = query.where(WebhookDelivery.tenant_id == tenant_id)
    rows = list(session().scalars(query))
    session().commit()
    return rows


def test_only_the_school_admin_sets_the_webhook_and_sees_the_secret_once(
    app: Flask, world: World, receiver: Receiver
) -> None:
    admin = admin_of(app, world)
    put = put_webhook
    assert admin.get("/api/v1/webhook").status_code == 404
    assert put(world.clerk, receiver.url).status_code == 403
    for bad in ("ftp://127.0.0.1/hook", "not a url", "javascript:alert(1)"):
        assert put(admin, bad).status_code == 422, bad
    first = put(admin, receiver.url)
    assert first.status_code == 200
    body = first.get_json()
    assert (body["url"], body["active"]) == (receiver.url, True)
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    shown = admin.get("/api/v1/webhook").get_json()
    assert shown == {"url": receiver.url, "active": True}
    again = put(admin, receiver.url).get_json()
    assert again["secret"] != body["secret"]  # setting it again rotates the secret
    assert world.clerk.get("/api/v1/webhook").status_code == 403


def test_a_completed_transcript_is_posted_signed(app: Flask, world: World, receiver: Receiver) -> None:
    secret = set_webhook(app, world, receiver.url)
    a, b = world.upload(2)
    world.teacher.approve({"document_ids": [a, b]})
    world.principal.approve({"document_ids": [a]})
    wait_for(lambda: receiver.requests)
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["Content-Type"] == "application/json"
    payload = verified(secret, headers, body)
    doc = world.clerk.get(f"/api/v1/documents/{a}").get_json()
    assert payload["event"] == "transcript.completed"
    sent = payload["document"]
    assert (sent["id"], sent["sha256"], sent["signature_count"], sent["student_code"]) == (
        a,
        doc["sha256"],
        3,
        "HS00001",
    )
    assert sent["download_url"].endswith(f"/api/v1/documents/{a}/file")
    assert "personal_id" not in body.decode()
    # a receiver refuses a tampered body, another key, or a replayed old delivery
    with pytest.raises(ValueError, match="bad signature"):
        verified(secret, headers, body.replace(b"HS00001", b"HS00002"))
    with pytest.raises(ValueError, match="bad signature"):
        verified("whsec_other", headers, body)
    with pytest.raises(ValueError, match="stale"):
        verified(secret, headers, body, tolerance=-1)
    [delivery] = deliveries(world.school.id)
    assert (delivery.status, delivery.attempts, delivery.document_id) == ("delivered", 1, a)
    assert payload["id"] == delivery.id  # the receiver's idempotency key
    world.principal.approve({"document_ids": [b]})
    wait_for(lambda: len(receiver.requests) == 2)
    assert verified(secret, *receiver.requests[1])["document"]["id"] == b


def test_a_failing_receiver_is_retried_with_the_same_delivery(app: Flask, world: World) -> None:
    receiver = Receiver(statuses=[500, 503])
    try:
        secret = set_webhook(app, world, receiver.url)
        (a,) = world.upload(1)
        complete(world, [a])
        wait_for(lambda: len(receiver.requests) == 3)
        payloads = [verified(secret, headers, body) for headers, body in receiver.requests]
        assert len({p["id"] for p in payloads}) == 1
        assert {p["document"]["id"] for p in payloads} == {a}
        wait_for(lambda: deliveries()[0].status == "delivered")
        [delivery] = deliveries()
        assert (delivery.attempts, delivery.last_error) == (3, None)
    finally:
        receiver.close()


def test_a_receiver_that_keeps_failing_is_given_up_on(app: Flask, world: World) -> None:
    receiver = Receiver(statuses=[500] * 20)
    try:
        set_webhook(app, world, receiver.url)
        (a,) = world.upload(1)
        complete(world, [a])
        wait_for(lambda: deliveries() and deliveries()[0].status == "failed")
        [delivery] = deliveries()
        assert delivery.attempts == MAX_ATTEMPTS == len(receiver.requests)
        assert delivery.last_error and "500" in delivery.last_error
        assert world.clerk.get(f"/api/v1/documents/{a}").get_json()["status"] == "completed"
    finally:
        receiver.close()


def test_each_school_hears_only_about_its_own_transcripts(
    app: Flask, world: World, receiver: Receiver
) -> None:
    other = build_world(app, settle=True)
    other_receiver = Receiver()
    quiet = build_world(app, settle=True)  # a third school with no webhook
    try:
        secret = set_webhook(app, world, receiver.url)
        other_secret = set_webhook(app, other, other_receiver.url)
        (mine,) = world.upload(1)
        (theirs,) = other.upload(1)
        (silent,) = quiet.upload(1)
        for w, doc_id in ((world, mine), (other, theirs), (quiet, silent)):
            complete(w, [doc_id])
        wait_for(lambda: receiver.requests and other_receiver.requests)
        time.sleep(0.5)  # nothing else is on its way
        assert [verified(secret, *r)["document"]["id"] for r in receiver.requests] == [mine]
        assert [verified(other_secret, *r)["document"]["id"] for r in other_receiver.requests] == [theirs]
        assert deliveries(quiet.school.id) == []
        assert {d.document_id for d in deliveries()} == {mine, theirs}
    finally:
        other_receiver.close()


def test_a_delivery_whose_task_was_lost_is_sent_by_the_sweep(
    app: Flask, world: World, receiver: Receiver
) -> None:
    from datetime import timedelta

    from app.db import transaction, utcnow
    from app.documents import tasks as document_tasks
    from app.documents.models import Document
    from app.documents.webhooks import queue_completed, sweep_pending

    (a,) = world.upload(1)
    complete(world, [a])  # no webhook yet: nothing to deliver
    secret = set_webhook(app, world, receiver.url)
    with transaction() as s:  # the outbox row committed, then the process died before the enqueue
        doc = s.get(Document, a)
        assert doc is not None
        queue_completed(s, doc)
    [lost] = deliveries(world.school.id)
    assert (lost.status, lost.attempts, receiver.requests) == ("pending", 0, [])
    assert sweep_pending() == 0  # young: its task may still be on its way
    assert sweep_pending(now=utcnow() + timedelta(minutes=3)) == 1
    wait_for(lambda: receiver.requests)
    assert verified(secret, *receiver.requests[0])["id"] == lost.id
    wait_for(lambda: deliveries(world.school.id)[0].status == "delivered")
    assert sweep_pending(now=utcnow() + timedelta(hours=4)) == 0  # delivered: never again
    celery = app.extensions["celery"]
    celery.finalize()
    entry = celery.conf.beat_schedule["documents.sweep_webhooks"]
    assert entry["schedule"] == document_tasks.WEBHOOK_SWEEP_EVERY_SECONDS
