"""Issue 5: a transcript already viewed opens offline (app shell + cached page image, and the app
says that signing needs the network); Web Push opt-in from settings, a push decrypted by the test's
own push service, shown by the service worker, and listed among the notices."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.db import session, transaction
from app.notify import service
from app.notify.models import PushSubscription
from tests.e2e.conftest import LiveServer
from tests.e2e.world import browser_session, build_school, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

Shot = Callable[[str], Path]
Axe = Callable[[str], None]
IMAGE_READY = (
    "() => { const i = document.querySelector('.preview img'); "
    "return !!i && i.complete && i.naturalWidth > 0; }"
)


def _controlled(page: Page) -> None:
    """Wait for the service worker, then reload so that it controls the page (no clients.claim)."""
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("() => !!navigator.serviceWorker.controller")


@pytest.mark.browser_context_args(service_workers="allow")
def test_viewed_transcript_opens_offline_and_signing_says_it_needs_the_network(
    app: Flask, live_server: LiveServer, page: Page, screenshot: Shot, axe_check: Axe
) -> None:
    school = build_school("3A")
    (doc_id,) = upload(app, school, 1)
    browser_session(app, page.context, live_server.url, school.teacher)
    page.goto("/")
    expect(page.get_by_role("heading", name="Lớp 3A — 1 học bạ chờ ký")).to_be_visible()
    _controlled(page)
    page.goto(f"/documents/{doc_id}")
    page.wait_for_function(IMAGE_READY)

    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("Học sinh 001")
        page.wait_for_function(IMAGE_READY)  # the page image comes from the service worker's cache
        expect(page.get_by_role("status").filter(has_text="Bạn đang ngoại tuyến")).to_be_visible()
        screenshot("offline-preview")
        axe_check("offline preview")
        page.get_by_role("button", name="Ký học bạ này").click()
        expect(page.get_by_role("alert")).to_have_text(
            "Thao tác này cần kết nối mạng. Hãy kết nối rồi thử lại."
        )

        page.goto("/")  # the shell still opens; the inbox itself needs the network
        expect(page.get_by_role("heading", level=1)).to_have_text("Xin chào, Nguyễn Thị Hồng Vân")
    finally:
        page.context.set_offline(False)


# -- Web Push -------------------------------------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class PushService:
    """A stand-in for the browser vendor's push service: records what Signet POSTs to it."""

    url: str = ""
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
def push_service() -> Iterator[PushService]:
    push = PushService()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            push.received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    push.url = f"http://127.0.0.1:{server.server_address[1]}/push/phone-1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield push
    server.shutdown()
    server.server_close()


# Headless Chromium has no vendor push service: the page's PushManager hands out a subscription to the
# test's push service, with keys the test holds, exactly as PushSubscription.toJSON() shapes it.
FAKE_PUSH_MANAGER = """(() => {
  const [endpoint, p256dh, auth] = %s;
  let current = null;
  const subscription = {
    endpoint, expirationTime: null,
    toJSON: () => ({endpoint, expirationTime: null, keys: {p256dh, auth}}),
    unsubscribe: async () => { current = null; return true; },
  };
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.__signetPushKey = btoa(String.fromCharCode(...key));
    current = subscription;
    return subscription;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();"""


def _wait_for(page: Page, predicate: Callable[[], object], timeout: float = 20) -> None:
    """Polls while letting Playwright deliver its events (a plain sleep would block them)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        page.wait_for_timeout(100)


@pytest.mark.browser_context_args(service_workers="allow", permissions=["notifications"])
def test_push_opt_in_then_one_notification_for_the_batch(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    push_service: PushService,
    screenshot: Shot,
    axe_check: Axe,
) -> None:
    school = build_school("3A")
    browser_session(app, page.context, live_server.url, school.teacher)
    key = ec.generate_private_key(ec.SECP256R1())
    auth_secret = b"0123456789abcdef"
    p256dh = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    page.add_init_script(FAKE_PUSH_MANAGER % json.dumps([push_service.url, b64u(p256dh), b64u(auth_secret)]))

    page.goto("/settings/devices")
    push = page.get_by_role("region", name="Thông báo trên điện thoại")
    expect(push.get_by_text("Đang tắt trên thiết bị này.")).to_be_visible()
    push.get_by_role("button", name="Bật thông báo").click()
    expect(push.get_by_role("status")).to_have_text("Đã bật thông báo.")
    expect(push.get_by_role("button", name="Tắt thông báo")).to_be_visible()
    screenshot("settings-push-on")
    axe_check("settings with push")

    vapid = page.request.get("/api/v1/push/vapid-key").json()["public_key"]
    used = base64.b64decode(page.evaluate("() => window.__signetPushKey"))
    assert used == base64.urlsafe_b64decode(vapid + "=" * (-len(vapid) % 4))  # subscribed with Signet's key
    session().expire_all()
    (stored,) = session().execute(select(PushSubscription)).scalars().all()
    assert (stored.person_id, stored.endpoint, stored.lang) == (school.teacher.id, push_service.url, "vi")

    for _document in range(12):  # work arrives document by document; one notice and one push per batch
        with transaction() as s:
            service.notify(
                s,
                person_id=school.teacher.id,
                tenant_id=school.org.id,
                kind="work_waiting",
                dedupe_key="work_waiting:upload-1",
                count=12,
                subject="3A",
                url="/inbox?class=3A",
            )
    _wait_for(page, lambda: push_service.received)
    time.sleep(0.3)
    assert len(push_service.received) == 1
    plain = http_ece.decrypt(
        push_service.received[0], private_key=key, auth_secret=auth_secret, version="aes128gcm"
    )
    message: dict[str, Any] = json.loads(plain.decode("utf-8"))
    assert message["title"] == "Học bạ chờ ký"
    assert message["body"] == "12 học bạ lớp 3A đang chờ thầy/cô ký"
    assert message["url"] == "/inbox?class=3A"

    # the service worker shows it (the same payload, delivered through DevTools as a push would be)
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    _wait_for(page, lambda: [r for r in registrations if not r["isDeleted"]])
    registration = next(r for r in registrations if not r["isDeleted"])
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_server.url, "registrationId": registration["registrationId"], "data": plain.decode()},
    )
    shown = page.wait_for_function(
        """() => navigator.serviceWorker.ready.then((r) => r.getNotifications())
                   .then((ns) => ns.length ? ns.map((n) => [n.title, n.body, n.data.url]) : null)"""
    ).json_value()
    assert shown == [["Học bạ chờ ký", "12 học bạ lớp 3A đang chờ thầy/cô ký", "/inbox?class=3A"]]

    page.goto("/notices")
    notice = page.get_by_role("link", name="12 học bạ lớp 3A đang chờ thầy/cô ký")
    expect(notice).to_be_visible()
    screenshot("notices")
    axe_check("notices")
    notice.click()
    expect(page).to_have_url(f"{live_server.url}/inbox?class=3A")
    expect(page.get_by_role("heading", level=1)).to_have_text("Xin chào, Nguyễn Thị Hồng Vân")
