"""Every workflow screen at 200 % text on a phone: nothing scrolls sideways (tables scroll inside
their own region), and axe finds no serious or critical violation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer
from tests.e2e.world import browser_session, build_school, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_workflow_screens_at_200_percent_text(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    screenshot: Callable[[str], Path],
    axe_check: Callable[[str], None],
) -> None:
    school = build_school("3A")
    (doc_id, *_rest) = upload(app, school, 3)
    screens = {
        school.teacher: ["/", f"/inbox/{school.klass.id}", f"/documents/{doc_id}", "/history", "/notices"],
        school.principal: ["/school", "/delegations", "/usage"],
        school.clerk: [
            "/admin/upload",
            "/admin/blocked",
            "/admin/roster",
            "/admin/invitations",
            "/admin/api-clients",
        ],
    }
    for person, paths in screens.items():
        page.context.clear_cookies()
        browser_session(app, page.context, live_server.url, person)
        for path in paths:
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            expect(page.get_by_text("Đang tải…")).to_have_count(0)
            page.add_style_tag(content="html { font-size: 200% !important; }")
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            name = path.strip("/").split("/")[0] + (
                "-" + path.strip("/").split("/")[-1] if "admin" in path else ""
            )
            screenshot(f"text-200pct-{name or 'home'}")
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 200 % text"
            axe_check(f"{path} at 200 % text")
