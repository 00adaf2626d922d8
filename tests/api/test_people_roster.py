"""Roster import: CSV and XLSX, Vietnamese headers, all-or-nothing, a row-by-row report, idempotent."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from openpyxl import Workbook

from app.db import session
from app.people import rules
from app.people.models import Person
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.factories import SignedInClient, make_person, sign_in

school = fixtures.school

CLASSES_CSV = """Tên lớp,Khối,Năm học
1A,1,2024-2025
2A,2,2024-2025
3A,3,2024-2025
"""

STAFF_HEADER = [
    "STT",
    "Họ và tên",
    "Tên đăng nhập",
    "Số CCCD",
    "Chức vụ",
    "Lớp chủ nhiệm",
    "Năm học",
    "Email",
    "Điện thoại",
]
GOOD_ROWS = [
    [
        "1",
        "Nguyễn Thị Hồng Vân",
        "",
        "001185012345",
        "Giáo viên chủ nhiệm",
        "1A",
        "2024-2025",
        "van@ntlb.edu.vn",
        "0912345678",
    ],
    ["2", "Trần Văn Minh", "minhtv", "001080054321", "Hiệu trưởng", "", "", "", ""],
    ["3", "Phạm Thị Lan", "", "001190011111", "Phó hiệu trưởng", "", "", "", ""],
    ["4", "Lê Văn Hùng", "hunglv", "", "Giáo viên", "", "", "", ""],
]
BAD_ROWS = [
    ["5", "Đỗ Thị Mai", "", "001185O12345", "Giáo viên", "", "", "", ""],  # letter O in the CCCD
    ["6", "Vũ Văn Nam", "minhtv", "", "Giáo viên", "", "", "", ""],  # same username as row 3
    ["7", "Hoàng Thị Thu", "", "001192022222", "GVCN", "9Z", "2024-2025", "", ""],  # no such class
    ["8", "", "", "001192033333", "Giáo viên", "", "", "", ""],  # no name
    ["9", "Bùi Văn Tú", "", "099192033333", "Giáo viên", "", "", "", ""],  # province 099
]


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([["TRƯỜNG TIỂU HỌC NGỌC THỤY"], ["DANH SÁCH CÁN BỘ GIÁO VIÊN"], STAFF_HEADER, *rows])
    return out.getvalue().encode("utf-8-sig")  # what Excel's "CSV UTF-8" writes


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["DANH SÁCH CÁN BỘ GIÁO VIÊN"])
    sheet.append(STAFF_HEADER)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _upload(
    clerk: SignedInClient, content: bytes, filename: str, kind: str = "staff", **form: str
) -> dict[str, Any]:
    response = clerk.post(
        "/api/v1/roster/imports",
        data={"kind": kind, "file": (io.BytesIO(content), filename), **form},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


@pytest.fixture
def clerk(app: Flask, school: Organisation) -> SignedInClient:
    signed_in = sign_in(app, make_person(school, name="Văn thư", username="vanthu", roles=(rules.CLERK,)))
    report = _upload(signed_in, CLASSES_CSV.encode(), "lop.csv", kind="classes")
    assert report["status"] == "applied" and report["counts"]["accepted"] == 3
    return signed_in


def _people(school: Organisation) -> set[str]:
    session().expire_all()
    return {p.username for p in session().query(Person).filter_by(tenant_id=school.id)}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_mixed_file_is_refused_as_a_whole_with_reasons(
    clerk: SignedInClient, school: Organisation, fmt: str
) -> None:
    before = _people(school)
    content = _csv(GOOD_ROWS + BAD_ROWS) if fmt == "csv" else _xlsx(GOOD_ROWS + BAD_ROWS)
    report = _upload(clerk, content, f"danh-sach.{fmt}")
    assert report["status"] == "refused"
    assert report["counts"] == {"accepted": 4, "updated": 0, "unchanged": 0, "refused": 5, "total": 9}
    refused = {r["row"]: r for r in report["rows"] if r["status"] == "refused"}
    first_data_row = 4 if fmt == "csv" else 3
    codes = {row - first_data_row + 1: r["reason_code"] for row, r in refused.items()}
    assert codes == {
        5: "cccd.invalid",
        6: "duplicate",
        7: "class.unknown",
        8: "name.missing",
        9: "cccd.invalid",
    }
    assert "dòng" in refused[first_data_row + 5]["reason"]  # names the earlier row
    assert "9Z" in refused[first_data_row + 6]["reason"]
    assert refused[first_data_row + 4]["name"] == "Đỗ Thị Mai"
    assert _people(school) == before  # nothing applied


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_good_file_applies_and_reimport_changes_nothing(
    app: Flask, clerk: SignedInClient, school: Organisation, fmt: str
) -> None:
    content = _csv(GOOD_ROWS) if fmt == "csv" else _xlsx(GOOD_ROWS)
    first = _upload(clerk, content, f"ds.{fmt}")
    assert first["status"] == "applied"
    assert [r["status"] for r in first["rows"]] == ["accepted"] * 4
    people = {p["username"]: p for p in clerk.get("/api/v1/people").get_json()}
    assert {"vannth", "minhtv", "lanpt", "hunglv", "vanthu"} == set(people)
    van = people["vannth"]
    assert van["cccd_masked"] == "0011******45"
    assert van["email"] == "van@ntlb.edu.vn" and van["phone"] == "0912345678"
    assert {(r["role"], r["class_name"]) for r in van["roles"]} == {
        ("teacher", None),
        ("homeroom_teacher", "1A"),
    }
    assert {r["role"] for r in people["minhtv"]["roles"]} == {"principal"}
    stored = session().get(Person, van["id"])
    assert stored is not None and stored.cccd_encrypted and "001185012345" not in stored.cccd_encrypted

    again = _upload(clerk, content, f"ds.{fmt}")
    assert again["status"] == "applied"
    assert [r["status"] for r in again["rows"]] == ["unchanged"] * 4

    changed = [row[:] for row in GOOD_ROWS]
    changed[3][4] = "Giáo viên, Văn thư"  # Hùng also becomes a clerk
    changed[2][8] = "0987654321"
    third = _upload(clerk, _csv(changed), "ds.csv")
    assert [r["status"] for r in third["rows"]] == ["unchanged", "unchanged", "updated", "updated"]


def test_excel_number_cells_keep_their_leading_zero(clerk: SignedInClient) -> None:
    rows: list[list[Any]] = [[1, "Ngô Thị Hà", None, 1190044444, "Giáo viên", None, None, None, 912000111]]
    report = _upload(clerk, _xlsx(rows), "ds.xlsx")
    assert report["status"] == "applied", report
    person = clerk.get("/api/v1/people?q=Ngô").get_json()[0]
    assert person["cccd_masked"] == "0011******44"
    assert person["phone"] == "0912000111"


def test_dry_run_changes_nothing(clerk: SignedInClient, school: Organisation) -> None:
    before = _people(school)
    report = _upload(clerk, _csv(GOOD_ROWS), "ds.csv", dry_run="true")
    assert report["status"] == "dry_run"
    assert report["counts"]["accepted"] == 4
    assert _people(school) == before


def test_same_person_matched_by_cccd_is_updated(clerk: SignedInClient) -> None:
    _upload(clerk, _csv(GOOD_ROWS), "ds.csv")
    renamed = [row[:] for row in GOOD_ROWS[:1]]
    renamed[0][1] = "Nguyễn Thị Hồng Vân (Bé)"
    report = _upload(clerk, _csv(renamed), "ds.csv")
    assert report["rows"][0]["status"] == "updated"
    names = [p["display_name"] for p in clerk.get("/api/v1/people?q=vannth").get_json()]
    assert names == ["Nguyễn Thị Hồng Vân (Bé)"]


def test_english_headers_are_accepted(clerk: SignedInClient) -> None:
    content = b"Full name,Username,Role,Homeroom class,School year\nAnna Nguyen,annan,teacher,2A,2024-2025\n"
    report = _upload(clerk, content, "staff.csv")
    assert report["status"] == "applied", report


def test_classes_import_reports_bad_rows(clerk: SignedInClient) -> None:
    lines = ["Tên lớp,Khối,Năm học", "4A,4,2024-2025", "4A,4,2024-2025", ",5,2024-2025", "5A,13,2024-2025"]
    content = "\n".join([*lines, "1A,1,2024-2025"]) + "\n"
    report = _upload(clerk, content.encode(), "lop.csv", kind="classes")
    assert report["status"] == "refused"
    assert [(r["status"], r.get("reason_code")) for r in report["rows"]] == [
        ("accepted", None),
        ("refused", "duplicate"),
        ("refused", "name.missing"),
        ("refused", "class.grade"),
        ("unchanged", None),
    ]


def test_unreadable_file(clerk: SignedInClient) -> None:
    response = clerk.post(
        "/api/v1/roster/imports",
        data={"kind": "staff", "file": (io.BytesIO(b"\x00\x01 not a roster"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "roster.unreadable"


def test_teacher_cannot_import(app: Flask, school: Organisation) -> None:
    teacher = sign_in(app, make_person(school))
    response = teacher.post(
        "/api/v1/roster/imports",
        data={"kind": "staff", "file": (io.BytesIO(_csv(GOOD_ROWS)), "ds.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403
