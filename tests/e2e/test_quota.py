"""The school's plan runs out, seen from the teacher's phone: a batch approved after another one took
the last signatures signs nothing, and its progress page says why in Vietnamese; asking again for the
documents still waiting is refused with the plan's words, not a server message."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.people.models import Person
from tests.e2e.conftest import Authenticator, LiveServer
from tests.e2e.world import api_signer, browser_passkey, browser_session, build_school, subscribe, upload
from tests.support.workflow_world import settle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

QUOTA_WORDS = "Gói dịch vụ của trường không còn đủ lượt ký"


def _two_batches(app: Flask, person: Person, origin: str, batches: list[list[str]]) -> list[dict[str, Any]]:
    """Both batches asked for first (each fits the plan alone), then approved one after the other."""
    with app.app_context():
        client, soft = api_signer(app, person, origin)
        requested = []
        for ids in batches:
            created = client.post("/api/v1/approvals", json={"document_ids": ids})
            assert created.status_code == 201, created.get_json()
            requested.append(created.get_json())
        answers = []
        for body in requested:
            done = client.post(
                f"/api/v1/approvals/{body['id']}/passkey", json={"credential": soft.get(body["publicKey"])}
            )
            assert done.status_code == 202, done.get_json()
            settle()  # the first batch is signed (metered) before the second is approved
            answers.append(done.get_json())
        return answers


def test_the_plan_running_out_is_said_in_the_teachers_words(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    authenticator: Authenticator,
    screenshot: Callable[[str], Path],
    axe_check: Callable[[str], None],
) -> None:
    school = build_school("3A")
    subscribe(school, included=4, code="SMALL-4", name="Gói nhỏ")
    first, second = upload(app, school, 3), upload(app, school, 3, start=4)
    with ThreadPoolExecutor(1) as pool:  # eager signing runs asyncio, which Playwright's thread refuses
        answers = pool.submit(_two_batches, app, school.teacher, live_server.url, [first, second]).result()
    assert answers[0]["failed"] == 0 and answers[1]["failed"] == 3, answers

    browser_session(app, page.context, live_server.url, school.teacher)
    page.goto(f"/approvals/{answers[1]['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tiến độ ký")
    expect(page.get_by_role("heading", name="Chưa ký được học bạ nào")).to_be_visible()
    reasons = page.get_by_role("list", name="Lý do chưa ký được")
    expect(reasons.get_by_role("listitem")).to_have_text([re.compile(rf"^{QUOTA_WORDS}.*\(3\)$")])
    screenshot("quota-1-progress-reasons")
    axe_check("progress with reasons")

    browser_passkey(authenticator, school.teacher)
    page.goto("/")
    card = page.get_by_role("listitem").filter(
        has=page.get_by_role("heading", name="Lớp 3A — 3 học bạ chờ ký")
    )
    card.get_by_role("link", name="Xem và chọn").click()
    page.get_by_role("button", name="Ký cả lớp (3)").click()
    expect(page.get_by_text(QUOTA_WORDS)).to_be_visible()
    screenshot("quota-2-refused")
