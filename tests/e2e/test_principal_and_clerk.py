"""Issue 5, the principal and the clerk: school progress by class, approve everything ready (100
transcripts, one passkey prompt), delegation to the vice-principal; upload with a per-file report,
roster import with its row report, printable invitation QR codes, API clients (secret shown once)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Authenticator, LiveServer
from tests.e2e.world import DEPUTY, approve_by_api, browser_passkey, browser_session, build_school, upload
from tests.support.workflow_world import transcript_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

Shot = Callable[[str], Path]
Axe = Callable[[str], None]


def test_principal_approves_everything_ready_with_one_prompt_and_delegates(
    app: Flask,
    live_server: LiveServer,
    page: Page,
    authenticator: Authenticator,
    screenshot: Shot,
    axe_check: Axe,
) -> None:
    school = build_school("5A")
    hundred = upload(app, school, 100)
    upload(app, school, 2, start=101)  # two left waiting for the teacher
    approve_by_api(app, school.teacher, live_server.url, {"document_ids": hundred})
    browser_session(app, page.context, live_server.url, school.principal)
    browser_passkey(authenticator, school.principal)
    asserted: list[object] = []
    authenticator.cdp.on("WebAuthn.credentialAsserted", lambda event: asserted.append(event))

    page.goto("/")
    page.get_by_role("link", name="Tiến độ toàn trường").click()
    expect(page.get_by_role("heading", name="100 học bạ sẵn sàng chờ bạn ký")).to_be_visible()
    row = page.get_by_role("row", name="5A")
    expect(row.get_by_role("cell")).to_have_text(["2", "100", "0", "0", "0"])
    screenshot("principal-1-school")
    axe_check("school progress")

    page.get_by_role("button", name="Ký tất cả học bạ sẵn sàng (100)").click()
    expect(page.get_by_text("100 %")).to_be_visible(timeout=300_000)
    expect(page.get_by_text("Đã ký xong")).to_be_visible()
    assert len(asserted) == 1, "a hundred transcripts, one passkey prompt"
    screenshot("principal-2-progress")

    page.goto("/school")
    expect(page.get_by_role("row", name="5A").get_by_role("cell")).to_have_text(["2", "0", "0", "100", "0"])

    page.get_by_role("link", name="Uỷ quyền ký (KT.)").click()
    expect(page.get_by_text("Chưa có uỷ quyền nào.")).to_be_visible()
    page.get_by_label("Phó hiệu trưởng").select_option(label=DEPUTY)
    page.get_by_role("checkbox", name="5A").check()
    page.get_by_role("button", name="Uỷ quyền", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Đã uỷ quyền.")).to_be_visible()
    current = page.get_by_role("region", name="Uỷ quyền hiện có")
    expect(current.get_by_text(DEPUTY)).to_be_visible()
    expect(current.get_by_text("5A")).to_be_visible()
    screenshot("principal-3-delegation")
    axe_check("delegations")
    current.get_by_role("button", name="Thu hồi uỷ quyền").click()
    expect(current.get_by_text("Đã thu hồi ngày")).to_be_visible()


def test_clerk_uploads_imports_invites_and_creates_an_api_client(
    app: Flask, live_server: LiveServer, page: Page, screenshot: Shot, axe_check: Axe, tmp_path: Path
) -> None:
    school = build_school("3A")
    browser_session(app, page.context, live_server.url, school.clerk)

    # a ZIP with its CSV manifest: one good transcript, one without a student code (blocked), one not a PDF
    archive = tmp_path / "hoc-ba-3A.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hs1.pdf", transcript_pdf("Hoc sinh 1", "HS00001"))
        z.writestr("hs2.pdf", transcript_pdf("Hoc sinh 2", "HS00002"))
        z.writestr("ghi-chu.pdf", b"not a pdf at all")
        z.writestr(
            "manifest.csv",
            "file,student_code,student_name,class,school_year\n"
            "hs1.pdf,HS00001,Học sinh 1,3A,2024-2025\n"
            "hs2.pdf,,Học sinh 2,3A,2024-2025\n"
            "ghi-chu.pdf,HS00003,Học sinh 3,3A,2024-2025\n",
        )
    page.goto("/")
    page.get_by_role("link", name="Tải học bạ lên").click()
    # the class is chosen among the roster's classes of the school year (3A is a class of 2024-2025)
    expect(page.get_by_text("chưa có lớp nào trong danh sách")).to_be_visible()
    page.get_by_label("Năm học (áp dụng cho mọi tệp)").fill("2024-2025")
    expect(page.get_by_label("Lớp (áp dụng cho mọi tệp)").get_by_role("option")).to_have_text(
        ["— Theo bảng CSV —", "3A"]
    )
    expect(page.get_by_text("chưa có lớp nào trong danh sách")).to_have_count(0)
    page.get_by_label("Tệp học bạ (PDF hoặc ZIP)").set_input_files(str(archive))
    page.get_by_role("button", name="Tải lên").click()
    report = page.get_by_role("region", name="Kết quả từng tệp")
    expect(report.get_by_role("status")).to_contain_text("Mới: 2")
    expect(report.get_by_text("Đã nhận nhưng bị chặn: Thiếu mã học sinh")).to_be_visible()
    expect(report.get_by_text("Bị từ chối — Không phải tệp PDF")).to_be_visible()
    screenshot("clerk-1-upload-report")
    axe_check("upload")

    report.get_by_role("link", name="Học bạ bị chặn hoặc trả lại").click()
    blocked = page.get_by_role("region", name="Bị chặn (1)")
    expect(blocked.get_by_text("Thiếu mã học sinh")).to_be_visible()
    blocked.get_by_role("button", name="Sửa thông tin").click()
    blocked.get_by_label("Mã học sinh").fill("HS00002")
    screenshot("clerk-2-blocked-fix")
    axe_check("blocked")
    blocked.get_by_role("button", name="Lưu và kiểm tra lại").click()
    expect(page.get_by_role("region", name="Bị chặn (0)")).to_be_visible()

    staff = tmp_path / "giao-vien.csv"
    staff.write_text(
        "Họ và tên,Tên đăng nhập,CCCD\nĐỗ Minh Châu,chaudm,001185012345\nLê Văn Hùng,hunglv,12345\n",
        encoding="utf-8",
    )
    page.goto("/admin/roster")
    page.get_by_label("Tệp CSV hoặc XLSX").set_input_files(str(staff))
    page.get_by_role("button", name="Nhập danh sách").click()
    expect(page.get_by_role("heading", name="Không nhập: có dòng bị từ chối")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Lê Văn Hùng")).to_contain_text("Từ chối")
    screenshot("clerk-3-roster-report")
    axe_check("roster")

    page.goto("/admin/invitations")
    page.get_by_role("button", name="Tạo lời mời cho 4 người").click()
    expect(page.get_by_role("img", name="Mã QR lời mời của Nguyễn Thị Hồng Vân")).to_be_visible()
    screenshot("clerk-4-invitations")
    axe_check("invitations")
    page.emulate_media(media="print")
    expect(page.get_by_role("banner")).to_be_hidden()
    screenshot("clerk-4-invitations-print")
    page.emulate_media(media="screen")

    page.goto("/admin/api-clients")
    page.get_by_label("Tên phần mềm").fill("Phần mềm quản lý trường")
    page.get_by_role("button", name="Tạo kết nối").click()
    secret_box = page.get_by_role("region", name="Lưu khoá bí mật ngay: nó chỉ hiện một lần này.")
    expect(secret_box).to_be_visible()
    screenshot("clerk-5-api-client")
    axe_check("api clients")
    page.reload()
    expect(page.get_by_text("Phần mềm quản lý trường")).to_be_visible()
    expect(page.get_by_role("region", name="Lưu khoá bí mật ngay: nó chỉ hiện một lần này.")).to_have_count(0)
