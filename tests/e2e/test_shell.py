"""The PWA shell: served by Flask under its CSP, Vietnamese first, English on request, installable,
and still opening when the phone is offline."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_signed_out_visitor_lands_on_sign_in_in_vietnamese(
    page: Page,
    console_errors: list[str],
    screenshot: Callable[[str], Path],
    axe_check: Callable[[str], None],
) -> None:
    page.goto("/")

    expect(page).to_have_url(re.compile(r"/signin\?next=%2F$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("button", name="Đăng nhập bằng passkey")).to_be_visible()
    expect(page).to_have_title("Đăng nhập — Signet")
    screenshot("signin-vi")
    axe_check("sign-in")
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_language_switch_is_remembered(page: Page, axe_check: Callable[[str], None]) -> None:
    page.goto("/signin")
    page.get_by_role("button", name="English").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.reload()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    axe_check("sign-in (English)")


def test_unknown_screen_says_so_and_links_home(page: Page, axe_check: Callable[[str], None]) -> None:
    page.goto("/no/such/screen")

    expect(page.get_by_role("heading", level=1)).to_have_text("Không tìm thấy trang")
    axe_check("not found")


def test_static_files_and_app_routes(page: Page, live_server: LiveServer) -> None:
    index = page.request.get("/enrol/abc.def")  # tokens may contain dots: still the app
    assert index.status == 200
    assert "text/html" in index.headers["content-type"]
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert page.request.get("/assets/gone-1234.js").status == 404
    sw = page.request.get("/sw.js")
    assert sw.status == 200
    assert sw.headers["cache-control"] == "no-cache"
    redoc = page.request.get("/vendor/redoc.standalone.js")
    assert redoc.status == 200
    assert "javascript" in redoc.headers["content-type"]


@pytest.mark.browser_context_args(service_workers="allow")
def test_installable_and_opens_offline(page: Page, screenshot: Callable[[str], Path]) -> None:
    page.goto("/signin")
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == [], manifest["errors"]
    assert '"short_name":"Signet"' in manifest["data"].replace(" ", "")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    assert page.evaluate("() => !!navigator.serviceWorker.controller")

    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    expect(page.get_by_role("status").filter(has_text="ngoại tuyến")).to_be_visible()
    screenshot("offline-signin")

    page.get_by_role("button", name="Đăng nhập bằng mã TOTP").click()
    page.get_by_label("Tên đăng nhập").fill("vannth")
    page.get_by_label("Mã 6 chữ số từ ứng dụng xác thực").fill("123456")
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Thao tác này cần kết nối mạng. Hãy kết nối rồi thử lại.")
    page.context.set_offline(False)


def test_first_screen_javascript_is_small(page: Page) -> None:
    """Issue 5's budget: at most 60 KB of gzipped JavaScript for the first screen."""
    bodies: list[bytes] = []
    page.on(
        "response",
        lambda r: bodies.append(r.body()) if r.request.resource_type == "script" and r.ok else None,
    )
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    page.wait_for_load_state("networkidle")
    size_kb = sum(len(gzip.compress(body, 9)) for body in bodies) / 1024
    assert bodies
    assert size_kb <= 60, f"first screen loads {size_kb:.1f} KB of gzipped JavaScript"


def test_api_docs_render_from_the_local_redoc_copy(page: Page, console_errors: list[str]) -> None:
    page.goto("/api/docs")

    # a megabyte of script to parse: give a busy two-core machine time; ReDoc then starts its search
    # worker from a blob: URL
    expect(page.get_by_role("heading", name=re.compile(r"^Signet"), level=1)).to_be_visible(timeout=45_000)
    page.wait_for_load_state("networkidle", timeout=45_000)
    blocked = [e for e in console_errors if "script-src" in e or "worker-src" in e]
    assert not blocked, blocked
