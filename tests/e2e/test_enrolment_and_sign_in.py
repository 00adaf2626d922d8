"""Issue 3, in a phone browser: invitation → passkey (or TOTP) → recovery codes → sign-out → sign-in.

The passkey lives in a CDP virtual authenticator (a platform authenticator with user verification);
the TOTP secret is read back from a screenshot of the QR code with Debian's ``zbarimg``.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.people import rules
from app.people.models import Person
from tests.e2e.conftest import SCREENS, Authenticator, LiveServer
from tests.support.clock import FrozenClock
from tests.support.factories import invitation_token, make_class, make_person, make_school

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

Shot = Callable[[str], Path]
Axe = Callable[[str], None]

TEACHER = "Nguyễn Thị Hồng Vân"
SCHOOL = "Trường Tiểu học Ngọc Thụy"

# What the PWA does, without its buttons: the server's options → navigator.credentials.get → toJSON().
ASSERT_JS = """async () => {
  const options = await fetch('/api/v1/auth/passkey/options', {method: 'POST', credentials: 'same-origin'});
  const {publicKey} = await options.json();
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey)});
  return credential.toJSON();
}"""
POST_JS = """async ([path, body]) => {
  const csrf = document.cookie.split('; ').find((c) => c.startsWith('signet_csrf='));
  const headers = {'Content-Type': 'application/json'};
  if (csrf) headers['X-CSRF-Token'] = decodeURIComponent(csrf.split('=')[1]);
  const r = await fetch('/api/v1' + path, {method: 'POST', credentials: 'same-origin', headers,
                                           body: JSON.stringify(body)});
  return {status: r.status, body: r.status === 204 ? null : await r.json()};
}"""


@pytest.fixture
def teacher(app: Flask, live_server: LiveServer) -> Person:
    school = make_school(SCHOOL, "NT-LB")
    return make_person(
        school, name=TEACHER, username="vannth", roles=(rules.TEACHER,), homeroom=make_class(school, "3A")
    )


@pytest.fixture
def invitation(app: Flask, teacher: Person) -> str:
    return invitation_token(app, teacher)


def _post(page: Page, path: str, body: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(POST_JS, [path, body])
    return result


def _enrol_with_passkey(page: Page, token: str, shot: Shot | None = None, axe: Axe | None = None) -> None:
    page.goto(f"/enrol/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào {TEACHER}")
    expect(page.get_by_text(f"Trường: {SCHOOL}")).to_be_visible()
    if shot and axe:
        shot("enrol-1-invitation")
        axe("enrolment: invitation")
    page.get_by_role("button", name="Tạo khoá đăng nhập (passkey)").click()
    codes = page.get_by_role("list", name="10 mã khôi phục").get_by_role("listitem")
    expect(codes).to_have_count(10)
    if shot and axe:
        shot("enrol-2-recovery-codes")
        axe("enrolment: recovery codes")
    continue_button = page.get_by_role("button", name="Tiếp tục")
    expect(continue_button).to_be_disabled()
    page.get_by_label("Tôi đã lưu các mã khôi phục").check()
    continue_button.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào, {TEACHER}")


def _sign_out(page: Page) -> None:
    page.get_by_role("link", name="Cài đặt").click()
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    expect(page).to_have_url(re.compile(r"/signin$"))  # signing out is not "sign in again to see this"


def test_invitation_passkey_sign_out_and_usernameless_sign_in(
    page: Page, authenticator: Authenticator, invitation: str, screenshot: Shot, axe_check: Axe
) -> None:
    _enrol_with_passkey(page, invitation, screenshot, axe_check)
    (credential,) = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    registered = int(credential["signCount"])

    expect(page.get_by_text("Chưa có học bạ nào chờ bạn ký.")).to_be_visible()
    expect(page.get_by_text("Giáo viên chủ nhiệm, lớp 3A, năm học 2024-2025")).to_be_visible()
    screenshot("home-empty-inbox")
    axe_check("home")

    _sign_out(page)
    screenshot("signin-passkey")
    authenticator.set_user_verified(False)  # the fingerprint does not match: the browser refuses
    page.get_by_role("button", name="Đăng nhập bằng passkey").click()
    expect(page.get_by_role("alert")).to_contain_text("Chưa tạo hoặc dùng được passkey")
    axe_check("sign-in: passkey refused")
    authenticator.set_user_verified(True)
    page.get_by_role("button", name="Đăng nhập bằng passkey").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào, {TEACHER}")
    assert authenticator.sign_count() > registered
    page.reload()  # the session is a server-side one: it survives a reload
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào, {TEACHER}")


def test_replayed_assertion_and_assertion_for_another_challenge_are_refused(
    page: Page, authenticator: Authenticator, invitation: str
) -> None:
    _enrol_with_passkey(page, invitation)
    assert _post(page, "/auth/logout", {})["status"] == 204

    assertion = page.evaluate(ASSERT_JS)
    first = _post(page, "/auth/passkey", {"credential": assertion})
    assert first["status"] == 200, first
    assert first["body"]["person"]["username"] == "vannth"
    count = authenticator.sign_count()

    replay = _post(page, "/auth/passkey", {"credential": assertion})
    assert replay["status"] == 401
    assert replay["body"]["code"] == "auth.failed"

    # an assertion made for challenge A, sent while challenge B is the pending one
    assert _post(page, "/auth/logout", {})["status"] == 204
    for_a = page.evaluate(ASSERT_JS)
    page.evaluate("() => fetch('/api/v1/auth/passkey/options', {method: 'POST', credentials: 'same-origin'})")
    foreign = _post(page, "/auth/passkey", {"credential": for_a})
    assert foreign["status"] == 401
    assert foreign["body"] == {
        "code": "auth.failed",
        "status": 401,
        "error": "Unauthorized",
        "message": "Verification failed.",
    }
    assert authenticator.sign_count() == count + 1  # the authenticator signed; the server said no


def _decode_qr(page: Page) -> str:
    SCREENS.mkdir(parents=True, exist_ok=True)
    image = SCREENS / "enrol-totp-qr.png"
    page.get_by_role("img", name="Mã QR để thêm Signet vào ứng dụng xác thực").screenshot(path=str(image))
    decoded = subprocess.run(
        ["zbarimg", "--raw", "--quiet", str(image)], capture_output=True, text=True, check=True
    )
    return decoded.stdout.strip()


def _oathtool(secret: str, at: int) -> str:
    when = f"@{at}"
    out = subprocess.run(["oathtool", "--totp", "-b", secret, "--now", when], capture_output=True, text=True)
    return out.stdout.strip()


def test_totp_enrolment_fallback_and_sign_in(
    page: Page, invitation: str, screenshot: Shot, axe_check: Axe
) -> None:
    page.goto(f"/enrol/{invitation}")
    with page.expect_response(lambda r: r.url.endswith("/totp/options")) as options:
        page.get_by_role("button", name="Dùng mã TOTP thay thế").click()
    uri = options.value.json()["otpauth_uri"]
    expect(page.get_by_role("heading", name="Đăng ký ứng dụng xác thực (TOTP)")).to_be_visible()
    screenshot("enrol-3-totp")
    axe_check("enrolment: TOTP")

    assert _decode_qr(page) == uri
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    expect(page.locator("code.secret")).to_have_text(
        " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    )

    totp = pyotp.TOTP(secret)
    step_start = int(time.time())
    assert totp.at(step_start) == _oathtool(secret, step_start)
    page.get_by_label("Mã xác thực").fill(totp.at(step_start))
    page.get_by_role("button", name="Xác nhận").click()
    expect(page.get_by_role("list", name="10 mã khôi phục").get_by_role("listitem")).to_have_count(10)
    used_code = totp.at(step_start)
    page.get_by_label("Tôi đã lưu các mã khôi phục").check()
    page.get_by_role("button", name="Tiếp tục").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào, {TEACHER}")
    expect(page.get_by_text("Thêm passkey để đăng nhập và ký nhanh hơn.")).to_be_visible()

    _sign_out(page)
    page.get_by_role("button", name="Đăng nhập bằng mã TOTP").click()
    page.get_by_label("Tên đăng nhập").fill("vannth")
    code_field = page.get_by_label("Mã 6 chữ số từ ứng dụng xác thực")
    code_field.fill(used_code)  # the time step used for enrolment works only once
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text("Xác minh không thành công. Hãy thử lại.")
    screenshot("signin-totp-refused")
    axe_check("sign-in: TOTP, refused")

    next_step = int(time.time()) + 30  # the next step, which the server also accepts (clock drift)
    code_field.fill(_oathtool(secret, next_step))
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào, {TEACHER}")


def test_used_unknown_and_expired_invitations_say_what_to_do(
    app: Flask, page: Page, authenticator: Authenticator, teacher: Person, screenshot: Shot, axe_check: Axe
) -> None:
    page.goto("/enrol/not-a-real-token")
    expect(page.get_by_role("alert")).to_contain_text("Liên kết mời không hợp lệ")
    axe_check("enrolment: invalid link")

    token = invitation_token(app, teacher)
    with _clock_moved(app, hours=73):
        page.goto(f"/enrol/{token}")
        expect(page.get_by_role("alert")).to_contain_text("Lời mời này đã hết hạn")
        screenshot("enrol-expired")

    _enrol_with_passkey(page, token)
    page.goto(f"/enrol/{token}")
    expect(page.get_by_role("alert")).to_contain_text("Lời mời này đã được dùng")
    expect(page.get_by_role("link", name="Đến trang đăng nhập")).to_be_visible()
    axe_check("enrolment: used link")


class _clock_moved:
    """The server's clock moved forward while inside the block."""

    def __init__(self, app: Flask, **delta: float) -> None:
        self.app = app
        self.clock = FrozenClock(datetime.now(UTC) + timedelta(**delta))

    def __enter__(self) -> FrozenClock:
        self.app.extensions["signet.clock"] = self.clock
        return self.clock

    def __exit__(self, *exc: object) -> None:
        self.app.extensions.pop("signet.clock", None)
