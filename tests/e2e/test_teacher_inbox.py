"""Issue 5, the teacher's day on a phone: invitation → passkey → inbox by class → preview → approve the
whole class with ONE passkey prompt → progress to 100 % → history; send one back with a reason, and
the clerk sees it with that reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Authenticator, LiveServer
from tests.e2e.world import TEACHER, browser_session, build_school, shoot, upload
from tests.support.factories import invitation_token

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

Shot = Callable[[str], Path]
Axe = Callable[[str], None]
SIGNING_TIMEOUT_MS = 120_000  # eager tasks: the approval call itself signs every document


IMAGE_READY = (
    "() => { const i = document.querySelector('.preview img'); "
    "return !!i && i.complete && i.naturalWidth > 0; }"
)


def test_teacher_enrols_reviews_and_approves_the_class_with_one_prompt(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    authenticator: Authenticator,
    screenshot: Shot,
    axe_check: Axe,
) -> None:
    school = build_school("3A")
    upload(app, school, 12, pages=2)
    asserted: list[dict[str, object]] = []
    authenticator.cdp.on("WebAuthn.credentialAsserted", lambda event: asserted.append(event))

    page.goto(f"/enrol/{invitation_token(app, school.teacher)}")
    page.get_by_role("button", name="Tạo khoá đăng nhập (passkey)").click()
    page.get_by_label("Tôi đã lưu các mã khôi phục").check()
    page.get_by_role("button", name="Tiếp tục").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Xin chào, {TEACHER}")

    heading = page.get_by_role("heading", name="Lớp 3A — 12 học bạ chờ ký")
    card = page.get_by_role("listitem").filter(has=heading)
    expect(card).to_be_visible()
    screenshot("inbox-1-home")
    axe_check("inbox home")

    card.get_by_role("link", name="Xem và chọn").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lớp 3A")
    expect(page.get_by_role("list", name="Danh sách học bạ chờ ký").get_by_role("listitem")).to_have_count(12)
    page.get_by_role("checkbox", name=re.compile("Học sinh 001")).check()
    expect(page.get_by_text("Đã chọn 1/12 học bạ")).to_be_visible()
    screenshot("inbox-2-class")
    axe_check("class inbox")

    page.get_by_role("link", name="Xem học bạ của Học sinh 001").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Học sinh 001")
    expect(page.get_by_role("img", name="Trang 1/2 học bạ của Học sinh 001")).to_be_visible()
    page.wait_for_function(IMAGE_READY)
    width = page.evaluate("() => document.querySelector('.preview img').naturalWidth")
    assert 700 <= width <= 1600, width  # sized for the phone's pixels, not the PDF's
    screenshot("inbox-3-preview")
    axe_check("document preview")
    page.get_by_role("button", name="Trang sau").click()
    expect(page.get_by_text("Trang 2/2")).to_be_visible()
    page.wait_for_function(IMAGE_READY)
    page.get_by_role("button", name="Phóng to").click()
    expect(page.get_by_role("button", name="Thu nhỏ")).to_have_attribute("aria-pressed", "true")

    page.get_by_role("link", name="← Quay lại").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lớp 3A")
    before = len(asserted)
    page.get_by_role("button", name="Ký cả lớp (12)").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Tiến độ ký")
    expect(page.get_by_text("100 %")).to_be_visible(timeout=SIGNING_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="Đã ký xong")).to_be_visible()
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    assert len(asserted) - before == 1, "the whole class takes exactly one passkey prompt"
    screenshot("inbox-4-progress")
    axe_check("progress")

    page.get_by_role("link", name="Học bạ tôi đã ký").click()
    expect(page.get_by_role("heading", name="Lớp 3A — 12 học bạ")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Học sinh \d{3}$"))).to_have_count(12)
    expect(page.get_by_text("Chờ hiệu trưởng ký").first).to_be_visible()
    screenshot("inbox-5-history")
    axe_check("history")

    page.get_by_role("link", name="Hộp thư").first.click()
    expect(page.get_by_text("Chưa có học bạ nào chờ bạn ký.")).to_be_visible()


def test_rejected_transcript_returns_to_the_clerk_with_its_reason(
    app: Flask,
    live_server: LiveServer,
    browser: Browser,
    page: Page,
    screenshot: Shot,
    axe_check: Axe,
    browser_context_args: dict[str, object],
) -> None:
    school = build_school("3A")
    (first, *_rest) = upload(app, school, 3)
    browser_session(app, page.context, live_server.url, school.teacher)

    page.goto(f"/documents/{first}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Học sinh 001")
    # the page's picture has its place before it arrives: the buttons below it do not move under a
    # finger (they did, and a tap on "Trả lại" could land elsewhere once the picture loaded)
    expect(page.get_by_role("img", name="Trang 1/1 học bạ của Học sinh 001")).to_have_css(
        "aspect-ratio", "auto 210 / 297"
    )
    page.get_by_role("button", name="Trả lại").click()
    send = page.get_by_role("button", name="Trả lại cho văn thư")
    expect(send).to_be_disabled()  # the reason is mandatory
    page.get_by_label("Lý do trả lại (bắt buộc)").fill("Sai ngày sinh của học sinh")
    screenshot("reject-1-reason")
    axe_check("reject form")
    send.click()
    expect(page.get_by_role("status").filter(has_text="Đã trả lại học bạ của Học sinh 001")).to_be_visible()
    expect(page.get_by_role("heading", name="Lớp 3A — 2 học bạ chờ ký")).to_be_visible()

    clerk_context = browser.new_context(**browser_context_args)  # type: ignore[arg-type]
    try:
        browser_session(app, clerk_context, live_server.url, school.clerk)
        clerk = clerk_context.new_page()
        clerk.goto("/")
        clerk.get_by_role("link", name="Học bạ bị chặn hoặc trả lại").click()
        returned = clerk.get_by_role("region", name="Bị trả lại (1)")
        expect(returned.get_by_text("Lý do trả lại: Sai ngày sinh của học sinh")).to_be_visible()
        expect(returned.get_by_role("link", name="Học sinh 001")).to_be_visible()
        shoot(clerk, "reject-2-clerk-returned")
        returned.get_by_role("button", name="Gửi lại cho GVCN").click()
        expect(clerk.get_by_text("Không có học bạ nào bị trả lại.")).to_be_visible()
    finally:
        clerk_context.close()
