"""Browser tests: the real app (SoftHSM token, database, built ``frontend/dist``) served on a free port,
driven by Debian's headless Chromium through pytest-playwright on a phone (Pixel 5) viewport.

See ../shared/recipes/browser-e2e.md. Two rules that keep these tests from hanging:
- browse to ``http://localhost:PORT`` (the WebAuthn RP ID is ``localhost``), never 127.0.0.1;
- a page that calls ``navigator.credentials`` needs a virtual authenticator first (``authenticator``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import BrowserContext, CDPSession, Page, Playwright, expect
from werkzeug.serving import BaseWSGIServer, make_server

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FRONTEND_DIST = ROOT / "frontend" / "dist"
AXE_JS = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SCREENS = ROOT / "tests" / "artifacts" / "screens"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = "Pixel 5"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
ACTION_TIMEOUT_MS = 15_000  # a WebAuthn call that never settles fails here, not at pytest-timeout
expect.set_options(timeout=ACTION_TIMEOUT_MS)  # two shared cores: the 5 s default is too tight


@pytest.fixture(scope="session", autouse=True)
def _frontend_built() -> None:
    if not (FRONTEND_DIST / "index.html").is_file() or not AXE_JS.is_file():
        pytest.fail("frontend/dist or frontend/node_modules is missing: run `make frontend` (make test does)")


# -- the server ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask


def _not_ready(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


@pytest.fixture
def _http_server() -> Iterator[BaseWSGIServer]:
    """Bound first, so the settings (PUBLIC_BASE_URL = the WebAuthn origin) can name its port."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, _not_ready, threaded=True)
    yield server
    server.server_close()


@pytest.fixture
def settings(base_settings: Settings, _http_server: BaseWSGIServer) -> Settings:
    origin = f"http://localhost:{_http_server.server_port}"
    return base_settings.with_(public_base_url=origin, rp_id="localhost")


@pytest.fixture
def live_server(
    app: Flask, settings: Settings, _http_server: BaseWSGIServer, task_worker: object
) -> Iterator[LiveServer]:
    """The app on a free port; on the broker run with a real worker beside it, as in production."""
    _http_server.app = app
    thread = threading.Thread(target=_http_server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    yield LiveServer(url=settings.public_base_url, app=app)
    _http_server.shutdown()
    thread.join(timeout=10)


# -- the browser (pytest-playwright fixtures, overridden) ----------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(playwright: Playwright, live_server: LiveServer) -> dict[str, Any]:
    phone = {k: v for k, v in playwright.devices[PHONE].items() if k != "default_browser_type"}
    return {
        **phone,
        "base_url": live_server.url,
        "locale": "vi-VN",
        "timezone_id": "Asia/Ho_Chi_Minh",
        "service_workers": "block",
    }


@pytest.fixture
def context(context: BrowserContext) -> BrowserContext:
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of the page (CSP violations show up here)."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


# -- passkeys ------------------------------------------------------------------------------------------


@dataclass
class Authenticator:
    """A CDP virtual authenticator: a platform passkey with user verification, like a phone's."""

    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"])

    def sign_count(self) -> int:
        (credential,) = self.credentials()
        return int(credential["signCount"])

    def set_user_verified(self, verified: bool) -> None:
        self.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified})

    def remove(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


def add_authenticator(page: Page) -> Authenticator:
    """A new virtual authenticator on ``page``: add it before the page calls ``navigator.credentials``."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {
        "protocol": "ctap2",
        "ctap2Version": "ctap2_1",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    authenticator_id = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]
    return Authenticator(cdp=cdp, id=authenticator_id)


@pytest.fixture
def authenticator(page: Page) -> Authenticator:
    """Added before the test navigates: without one, a WebAuthn call never settles in headless mode."""
    return add_authenticator(page)


# -- evidence: screenshots and accessibility -----------------------------------------------------------


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], Path]:
    """``screenshot("enrol-1-landing")`` writes tests/artifacts/screens/enrol-1-landing.png (full page)."""

    def take(name: str) -> Path:
        SCREENS.mkdir(parents=True, exist_ok=True)
        path = SCREENS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def axe_check(page: Page) -> Callable[[str], None]:
    """Runs axe-core on the current screen; fails on any serious or critical violation.

    axe is evaluated through the DevTools protocol rather than ``add_script_tag``: the app's CSP
    (``script-src 'self'``) rightly refuses the inline script that ``add_script_tag`` would insert.
    """
    source = AXE_JS.read_text(encoding="utf-8")

    def check(screen: str) -> None:
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(source)
        result = page.evaluate(
            """async (tags) => {
                const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
            }""",
            AXE_TAGS,
        )
        serious = [v for v in result if v["impact"] in {"serious", "critical"}]
        assert not serious, f"axe on {screen}:\n{json.dumps(serious, indent=2, ensure_ascii=False)}"

    return check
