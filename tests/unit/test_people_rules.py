"""CCCD, usernames, school years and roles as clerks write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.people import roster, rules


@pytest.mark.parametrize(
    ("raw", "province", "male", "year"),
    [
        ("001203012345", 1, True, 2003),
        ("079185000123", 79, False, 1985),
        ("096 3 00 123456", 96, False, 2000),
        ("030.0.90.123456", 30, True, 1990),
    ],
)
def test_valid_cccd(raw: str, province: int, male: bool, year: int) -> None:
    cccd = rules.parse_cccd(raw)
    assert (cccd.province, cccd.male, cccd.birth_year) == (province, male, year)
    assert len(cccd.value) == 12


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("00120301234", "12"),  # 11 digits
        ("0012030123456", "12"),  # 13 digits
        ("00120301234A", "12"),
        ("000203012345", "mã tỉnh 000"),
        ("097203012345", "mã tỉnh 097"),
        ("001403012345", "thế kỷ"),
        ("", "12"),
    ],
)
def test_invalid_cccd(raw: str, why: str) -> None:
    with pytest.raises(rules.RuleError) as info:
        rules.parse_cccd(raw)
    assert info.value.code == "cccd.invalid"
    assert why in info.value.message


def test_mask_cccd() -> None:
    assert rules.mask_cccd("001203012345") == "0012******45"


@pytest.mark.parametrize(
    ("name", "username"),
    [
        ("Nguyễn Thị Hồng Vân", "vannth"),
        ("Trần Văn Minh", "minhtv"),
        ("Đặng Quốc Đạt", "datdq"),
        ("Lê Ánh", "anhl"),
    ],
)
def test_username_from_name(name: str, username: str) -> None:
    assert rules.username_from_name(name) == username


def test_school_year() -> None:
    assert rules.check_school_year("2024 - 2025") == "2024-2025"
    with pytest.raises(rules.RuleError):
        rules.check_school_year("2024-2026")
    assert rules.current_school_year(datetime(2024, 9, 5, tzinfo=UTC)) == "2024-2025"
    assert rules.current_school_year(datetime(2025, 5, 20, tzinfo=UTC)) == "2024-2025"


@pytest.mark.parametrize(("name", "grade"), [("3A", 3), ("Lớp 5B", 5), ("12A1", 12), ("A1", None)])
def test_grade_from_class_name(name: str, grade: int | None) -> None:
    assert rules.grade_from_class_name(name) == grade


def test_roles_as_clerks_write_them() -> None:
    assert rules.parse_roles("Giáo viên chủ nhiệm; Văn thư") == ["homeroom_teacher", "clerk"]
    assert rules.parse_roles("HIỆU TRƯỞNG") == ["principal"]
    assert rules.parse_roles("Phó Hiệu trưởng") == ["vice_principal"]
    assert rules.parse_roles("") == ["teacher"]
    with pytest.raises(rules.RuleError):
        rules.parse_roles("Bảo vệ")


def test_header_row_below_title_lines_and_semicolons() -> None:
    text = (
        "TRƯỜNG TIỂU HỌC NGỌC THỤY;;;\n"
        "DANH SÁCH CÁN BỘ, GIÁO VIÊN NĂM HỌC 2024-2025;;;\n"
        ";;;\n"
        "STT;Họ và tên;Số CCCD;Chức vụ\n"
        "1;Nguyễn Thị Hồng Vân;001185012345;Giáo viên\n"
        ";;;\n"
        "2;Trần Văn Minh;001080054321;Hiệu trưởng\n"
    )
    rows = roster.read_rows(text.encode("utf-8-sig"), filename="ds.csv", kind="staff")
    assert [r.number for r in rows] == [5, 7]
    assert rows[0].values == {
        "display_name": "Nguyễn Thị Hồng Vân",
        "cccd": "001185012345",
        "roles": "Giáo viên",
    }


def test_missing_header_is_reported() -> None:
    with pytest.raises(rules.RuleError) as info:
        roster.read_rows(b"a,b\n1,2\n", filename="x.csv", kind="staff")
    assert info.value.code == "roster.header"
