"""Issue 8 in the browser: the operator console (tenants and their quota, plans, subscriptions, the
HSM, the queue, stalled work) and the district office's dashboard (pooled quota, signatures per day
as an inline SVG chart, one row per school); a teacher is refused both."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app import db
from app.auth import crypto
from app.billing import service as billing
from app.people import rules
from app.people.models import ACTIVE, Person, RoleAssignment
from app.tenants.models import SCHOOL, Organisation
from tests.e2e.conftest import LiveServer
from tests.e2e.world import SCHOOL as SCHOOL_NAME
from tests.e2e.world import approve_by_api, browser_session, build_school, upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

STAFF_NAV = "Quản trị hệ thống và Phòng"
OTHER_SCHOOL = "Trường Tiểu học Gia Thụy"


def staff(organisation_id: str, role: str, name: str, username: str) -> Person:
    """Operator or district office staff: no school of their own (tenant None)."""
    with db.transaction() as s:
        person = Person(
            tenant_id=None,
            organisation_id=organisation_id,
            display_name=name,
            username=username,
            status=ACTIVE,
            webauthn_user_id=crypto.random_token(32),
        )
        person.roles = [RoleAssignment(organisation_id=organisation_id, tenant_id=None, role=role)]
        s.add(person)
        s.flush()
        return person


def subscribe(organisation_id: str, *, code: str, scope: str, included: int) -> None:
    plan = billing.create_plan(
        actor_id=None,
        code=code,
        name=f"Gói {code}",
        scope=scope,
        included_signatures=included,
        price_vnd=6_000_000,
    )
    today = date.today()
    billing.create_subscription(
        actor_id=None,
        organisation_id=organisation_id,
        plan_id=plan.id,
        period_start=today - timedelta(days=60),
        period_end=today + timedelta(days=300),
        status="active",
    )


def test_operator_sees_the_console(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    screenshot: Callable[[str], Path],
    axe_check: Callable[[str], None],
) -> None:
    school = build_school("3A")
    subscribe(school.org.id, code="SCHOOL-YEAR", scope="school", included=1000)
    assert school.org.parent_id is not None
    operator = staff(school.org.parent_id, rules.OPERATOR, "Đỗ Minh Vận Hành", "vanhanh")
    browser_session(app, page.context, live_server.url, operator)

    page.goto("/")
    page.get_by_role("navigation", name=STAFF_NAV).get_by_role("link", name="Bảng điều hành").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bảng điều hành")

    tenants = page.get_by_role("table", name="2 đơn vị: lượt ký đã dùng / được cấp")
    school_row = tenants.get_by_role("row", name=re.compile(SCHOOL_NAME))
    expect(school_row).to_contain_text("0 / 1.000 lượt ký")
    expect(school_row).to_contain_text("Đang hoạt động")
    expect(tenants.get_by_role("row", name=re.compile("Phòng GDĐT"))).to_contain_text("Chưa có gói")

    expect(
        page.get_by_role("table", name="1 gói dịch vụ").get_by_role("row", name=re.compile("SCHOOL-YEAR"))
    ).to_contain_text("1.000")
    subscriptions = page.get_by_role("table", name="1 thuê bao, kỳ mới nhất trước")
    expect(subscriptions.get_by_role("row", name=re.compile(SCHOOL_NAME))).to_contain_text("Gói SCHOOL-YEAR")

    hsm = page.get_by_role("table", name="HSM hoạt động bình thường")
    expect(hsm.get_by_role("row", name=re.compile("Số khoá"))).to_contain_text(re.compile(r"[1-9]"))
    queue = page.get_by_role("table", name=re.compile(r"^Hàng đợi \(\w+\): [\d.]+ việc đang chờ$"))
    signet_queue = app.extensions["celery"].conf.task_default_queue  # CELERY_QUEUE, where the tasks go
    expect(queue.get_by_role("row", name=re.compile(re.escape(signet_queue)))).to_be_visible()
    expect(page.get_by_text("Không có học bạ nào bị treo")).to_be_visible()
    screenshot("operator-console")
    axe_check("operator console")


def test_district_admin_sees_pooled_quota_chart_and_schools(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    screenshot: Callable[[str], Path],
    axe_check: Callable[[str], None],
) -> None:
    school = build_school("3A")
    district_id = school.org.parent_id
    assert district_id is not None
    with db.transaction() as s:
        s.add(Organisation(kind=SCHOOL, code="GT-LB", name=OTHER_SCHOOL, parent_id=district_id, policy={}))
    subscribe(district_id, code="DISTRICT-YEAR", scope="district", included=5000)
    approve_by_api(app, school.teacher, live_server.url, {"document_ids": upload(app, school, 3)})
    admin = staff(district_id, rules.DISTRICT_ADMIN, "Hoàng Thị Kế Toán", "ketoan")
    browser_session(app, page.context, live_server.url, admin)

    page.goto("/")
    expect(
        page.get_by_role("navigation", name=STAFF_NAV).get_by_role("link", name="Bảng điều hành")
    ).to_have_count(0)
    page.get_by_role("navigation", name=STAFF_NAV).get_by_role("link", name="Sử dụng toàn Phòng").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sử dụng toàn Phòng")
    expect(page.get_by_text("3 / 5.000 lượt ký")).to_be_visible()

    chart = page.get_by_role("img", name="Biểu đồ cột: 3 chữ ký trong 30 ngày gần nhất")
    expect(chart).to_be_visible()
    expect(chart.locator("rect.chart-bar")).to_have_count(30)
    assert chart.evaluate("svg => svg.tagName.toLowerCase()") == "svg"

    schools = page.get_by_role("table", name="2 trường")
    expect(schools.get_by_role("row", name=re.compile(SCHOOL_NAME))).to_contain_text("3")
    expect(schools.get_by_role("row", name=re.compile(SCHOOL_NAME))).to_contain_text("Gói của Phòng")
    expect(schools.get_by_role("row", name=re.compile(OTHER_SCHOOL))).to_contain_text("GT-LB")
    screenshot("district-dashboard")
    axe_check("district dashboard")


def test_teacher_is_refused_both_pages(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    axe_check: Callable[[str], None],
) -> None:
    school = build_school("3A")
    browser_session(app, page.context, live_server.url, school.teacher)

    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Xin chào")
    expect(page.get_by_role("navigation", name=STAFF_NAV)).to_have_count(0)

    page.goto("/operator")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bảng điều hành")
    expect(page.get_by_text("Trang này chỉ dành cho người vận hành hệ thống")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    axe_check("operator console, refused")

    page.goto("/district")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sử dụng toàn Phòng")
    expect(page.get_by_text("Trang này dành cho quản trị Phòng GDĐT")).to_be_visible()
    axe_check("district dashboard, refused")
