"""Issue 8 in the browser: the school's usage dashboard (quota, signatures per day as an inline SVG
chart, per class, cost per signer) for the principal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.world import approve_by_api, browser_session, build_school, subscribe, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def test_principal_sees_usage_with_charts(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    screenshot: Callable[[str], Path],
    axe_check: Callable[[str], None],
) -> None:
    school = build_school("3A")
    subscribe(school, included=1000, code="SCHOOL-YEAR")
    approve_by_api(app, school.teacher, live_server.url, {"document_ids": upload(app, school, 6)})
    browser_session(app, page.context, live_server.url, school.principal)

    page.goto("/")
    page.get_by_role("link", name="Sử dụng và hạn mức").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sử dụng và hạn mức")
    expect(page.get_by_text("6 / 1.000 lượt ký")).to_be_visible()
    expect(page.get_by_role("img", name="Biểu đồ cột: 6 chữ ký trong 30 ngày gần nhất")).to_be_visible()
    per_class = page.get_by_role("list", name="Chữ ký theo lớp")
    expect(per_class.get_by_role("listitem")).to_have_text(["3A6"])
    expect(page.get_by_role("heading", name="Chi phí")).to_be_visible()
    screenshot("usage-school")
    axe_check("usage dashboard")
