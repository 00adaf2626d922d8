"""My devices: rename and remove passkeys, add another, sign other sessions out, switch language;
recovery-code sign-in; large text."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.people.models import Person
from tests.e2e.conftest import Authenticator, add_authenticator
from tests.e2e.test_enrolment_and_sign_in import _enrol_with_passkey, _sign_out, invitation, teacher
from tests.support.factories import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
__all__ = ["invitation", "teacher"]  # fixtures shared with the enrolment tests

Shot = Callable[[str], Path]
Axe = Callable[[str], None]


def test_manage_passkeys_and_sessions(
    app: Flask,
    page: Page,
    authenticator: Authenticator,
    teacher: Person,
    invitation: str,
    screenshot: Shot,
    axe_check: Axe,
) -> None:
    _enrol_with_passkey(page, invitation)
    sign_in(app, teacher)  # another session, on some other device
    page.get_by_role("link", name="Cài đặt").click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Thiết bị và đăng nhập")
    expect(heading).to_be_focused()  # route change moves focus to the new screen's heading
    passkeys = page.get_by_role("region", name="Passkey của tôi").get_by_role("listitem")
    sessions = page.get_by_role("region", name="Phiên đăng nhập").get_by_role("listitem")
    expect(passkeys).to_have_count(1)
    expect(passkeys.first).to_contain_text("Android · Chrome")
    expect(sessions).to_have_count(2)
    screenshot("devices-1")
    axe_check("devices")

    passkeys.first.get_by_role("button", name="Đổi tên").click()
    page.get_by_label("Tên passkey").fill("Điện thoại của Vân")
    page.get_by_role("button", name="Lưu").click()
    expect(page.get_by_role("status").filter(has_text="Đã đổi tên.")).to_be_visible()
    expect(passkeys.first).to_contain_text("Điện thoại của Vân")

    passkeys.first.get_by_role("button", name="Xoá", exact=True).click()
    expect(page.get_by_text("Xoá passkey “Điện thoại của Vân”?")).to_be_visible()
    screenshot("devices-2-remove-confirm")
    axe_check("devices: confirm removal")
    page.get_by_role("button", name="Xoá passkey").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Không thể xoá cách đăng nhập cuối cùng của bạn. Hãy thêm một passkey khác trước."
    )
    expect(passkeys).to_have_count(1)

    add = page.get_by_role("button", name="Thêm passkey cho thiết bị này")
    add.click()  # this authenticator already holds one of my passkeys (excludeCredentials)
    expect(page.get_by_role("alert")).to_have_text("Thiết bị này đã có passkey cho tài khoản của bạn.")

    authenticator.remove()
    other = add_authenticator(page)
    add.click()
    expect(page.get_by_role("status").filter(has_text="Đã thêm passkey.")).to_be_visible()
    expect(passkeys).to_have_count(2)
    assert len(other.credentials()) == 1

    passkeys.filter(has_text="Điện thoại của Vân").get_by_role("button", name="Xoá", exact=True).click()
    page.get_by_role("button", name="Xoá passkey").click()
    expect(page.get_by_role("status").filter(has_text="Đã xoá passkey.")).to_be_visible()
    expect(passkeys).to_have_count(1)

    other_session = sessions.filter(has_not_text="Thiết bị này")
    other_session.get_by_role("button", name="Đăng xuất phiên này").click()
    expect(page.get_by_role("status").filter(has_text="Đã đăng xuất phiên.")).to_be_visible()
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text("Thiết bị này")
    screenshot("devices-3-after-changes")

    page.get_by_label("English").check()
    expect(heading).to_have_text("Devices and sign-in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    english_passkeys = page.get_by_role("region", name="My passkeys").get_by_role("listitem")
    expect(english_passkeys.first).to_contain_text(re.compile(r"Created \d{2}/\d{2}/\d{4}"))
    screenshot("devices-4-english")
    axe_check("devices (English)")


def test_recovery_code_signs_in_once(
    page: Page, authenticator: Authenticator, invitation: str, screenshot: Shot
) -> None:
    page.goto(f"/enrol/{invitation}")
    page.get_by_role("button", name="Tạo khoá đăng nhập (passkey)").click()
    items = page.get_by_role("list", name="10 mã khôi phục").get_by_role("listitem")
    expect(items).to_have_count(10)
    codes = items.all_inner_texts()
    page.get_by_label("Tôi đã lưu các mã khôi phục").check()
    page.get_by_role("button", name="Tiếp tục").click()
    _sign_out(page)

    page.get_by_role("button", name="Dùng mã khôi phục").click()
    page.get_by_label("Tên đăng nhập").fill("vannth")
    page.get_by_label("Mã khôi phục").fill(codes[0])
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thiết bị và đăng nhập")
    expect(page.get_by_role("status").filter(has_text="còn lại 9 mã")).to_be_visible()
    screenshot("signin-recovery-done")

    _sign_out(page)
    page.get_by_role("button", name="Dùng mã khôi phục").click()
    page.get_by_label("Tên đăng nhập").fill("vannth")
    page.get_by_label("Mã khôi phục").fill(codes[0])
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Xác minh không thành công. Hãy thử lại.")


@pytest.mark.parametrize("screen", ["/", "/settings/devices", "/signin"])
def test_screens_work_at_200_percent_text(
    page: Page, authenticator: Authenticator, invitation: str, screen: str, screenshot: Shot
) -> None:
    if screen != "/signin":
        _enrol_with_passkey(page, invitation)
    page.goto(screen)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.add_style_tag(content="html { font-size: 200% !important; }")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{screen} scrolls sideways by {overflow}px at 200 % text"
    screenshot(f"text-200pct{screen.replace('/', '-') or '-home'}")
