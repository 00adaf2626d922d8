"""Web Push end to end: a push endpoint run by the test receives Signet's push, and the test
decrypts the payload (RFC 8291, aes128gcm) with the subscription's own keys and reads the text."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select

from app.db import session, transaction
from app.notify import service
from app.notify.models import Notice, PushSubscription
from app.settings import Settings
from tests.conftest import wait_for


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class PushEndpoint:
    """A stand-in for a browser vendor's push service: records what it receives."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    status: int = 201


@pytest.fixture
def push_endpoint() -> Iterator[PushEndpoint]:
    endpoint = PushEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            endpoint.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(endpoint.status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/push/device-1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    server.shutdown()
    server.server_close()


@dataclass
class Browser:
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64u(raw)

    def decrypt(self, body: bytes) -> dict[str, str]:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return json.loads(plain.decode("utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _worker(task_worker: object) -> None:
    """Pushes go out on the task queue: a real worker when the suite runs on Redis."""


@pytest.fixture
def receiver() -> Browser:
    return Browser(private_key=ec.generate_private_key(ec.SECP256R1()), auth_secret=b"0123456789abcdef")


def _subscribe(settings: Settings, endpoint: str, receiver: Browser, lang: str = "vi") -> PushSubscription:
    return service.subscribe(
        settings=settings,
        person_id="person-1",
        tenant_id="school-1",
        endpoint=endpoint,
        p256dh=receiver.p256dh,
        auth=b64u(receiver.auth_secret),
        lang=lang,
    )


def test_one_push_per_batch_with_the_vietnamese_text(
    app: Flask, settings: Settings, push_endpoint: PushEndpoint, receiver: Browser
) -> None:
    _subscribe(settings, push_endpoint.url, receiver)
    for _document in range(12):  # the workflow notifies per document; one notice, one push per batch
        with transaction() as s:
            service.notify(
                s,
                person_id="person-1",
                tenant_id="school-1",
                kind="work_waiting",
                dedupe_key="work_waiting:batch-42",
                count=12,
                subject="3A",
                url="/inbox?class=3A",
            )
    wait_for(lambda: push_endpoint.received)
    time.sleep(0.2)  # a second push would arrive now if there were one
    assert len(push_endpoint.received) == 1
    headers, body = push_endpoint.received[0]
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["authorization"].startswith("vapid t=")
    message = receiver.decrypt(body)
    assert message["body"] == "12 học bạ lớp 3A đang chờ thầy/cô ký"
    assert message["url"] == "/inbox?class=3A"

    def pushed() -> bool:
        session().expire_all()
        notices = session().execute(select(Notice)).scalars().all()
        return [(n.count, n.pushed_at is not None) for n in notices] == [(12, True)]

    wait_for(pushed)


def test_english_subscription_gets_english(
    app: Flask, settings: Settings, push_endpoint: PushEndpoint, receiver: Browser
) -> None:
    _subscribe(settings, push_endpoint.url, receiver, lang="en")
    with transaction() as s:
        service.notify(
            s,
            person_id="person-1",
            tenant_id="school-1",
            kind="work_waiting",
            dedupe_key="b",
            count=3,
            subject="5E",
        )
    wait_for(lambda: push_endpoint.received)
    assert receiver.decrypt(push_endpoint.received[0][1])["body"] == "3 transcripts of 5E are waiting for you"


def test_nothing_is_pushed_when_the_change_rolls_back(
    app: Flask, settings: Settings, push_endpoint: PushEndpoint, receiver: Browser
) -> None:
    _subscribe(settings, push_endpoint.url, receiver)
    with pytest.raises(RuntimeError), transaction() as s:
        service.notify(
            s,
            person_id="person-1",
            tenant_id="school-1",
            kind="work_waiting",
            dedupe_key="c",
            count=1,
            subject="1A",
        )
        raise RuntimeError("the approval failed")
    assert push_endpoint.received == []
    assert session().execute(select(Notice)).first() is None


def test_a_gone_subscription_is_removed(
    app: Flask, settings: Settings, push_endpoint: PushEndpoint, receiver: Browser
) -> None:
    _subscribe(settings, push_endpoint.url, receiver)
    push_endpoint.status = 410
    with transaction() as s:
        service.notify(
            s,
            person_id="person-1",
            tenant_id="school-1",
            kind="work_waiting",
            dedupe_key="d",
            count=1,
            subject="1A",
        )
    wait_for(lambda: push_endpoint.received)

    def removed() -> bool:
        session().rollback()
        return session().execute(select(PushSubscription)).first() is None

    wait_for(removed)


@pytest.mark.parametrize(
    "endpoint",
    ["https://10.0.0.8/push", "https://127.0.0.1/push", "https://localhost/push", "ftp://push.example.com/x"],
)
def test_internal_push_endpoints_are_refused(
    app: Flask, settings: Settings, receiver: Browser, endpoint: str
) -> None:
    with pytest.raises(service.InvalidSubscription):
        _subscribe(settings, endpoint, receiver)


def test_plain_http_endpoints_are_refused_in_production(settings: Settings, receiver: Browser) -> None:
    with pytest.raises(service.InvalidSubscription):
        service._check_endpoint("http://127.0.0.1:9/push", settings.with_(env="prod"))
