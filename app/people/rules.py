"""Pure rules about people: CCCD, roles, usernames, school years. No database, no Flask."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

# roles --------------------------------------------------------------------------------------------
TEACHER = "teacher"
HOMEROOM_TEACHER = "homeroom_teacher"
PRINCIPAL = "principal"
VICE_PRINCIPAL = "vice_principal"
CLERK = "clerk"
SCHOOL_ADMIN = "school_admin"
DISTRICT_ADMIN = "district_admin"
AUDITOR = "auditor"
OPERATOR = "operator"

ROLES = (
    TEACHER,
    HOMEROOM_TEACHER,
    PRINCIPAL,
    VICE_PRINCIPAL,
    CLERK,
    SCHOOL_ADMIN,
    DISTRICT_ADMIN,
    AUDITOR,
    OPERATOR,
)
SCHOOL_ROLES = (TEACHER, HOMEROOM_TEACHER, PRINCIPAL, VICE_PRINCIPAL, CLERK, SCHOOL_ADMIN, AUDITOR)
ADMIN_ROLES = (SCHOOL_ADMIN, CLERK)  # manage the roster, invitations and API clients of their school


class RuleError(ValueError):
    """A value breaks a rule; ``code`` is stable, the message is for a Vietnamese clerk."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def fold(text: str) -> str:
    """Lower case, no diacritics, single spaces: 'Họ và tên' -> 'ho va ten'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return re.sub(r"\s+", " ", stripped).strip().lower()


# CCCD (DOMAIN.md §3) ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cccd:
    value: str
    province: int
    male: bool
    birth_year: int


def parse_cccd(raw: str) -> Cccd:
    """12 digits: province 001–096, century/sex 0–3, 2-digit birth year, 6 random digits."""
    value = re.sub(r"[\s.\-]", "", raw or "")
    if not re.fullmatch(r"\d{12}", value):
        raise RuleError("cccd.invalid", "Số CCCD phải gồm đúng 12 chữ số.")
    province = int(value[0:3])
    if not 1 <= province <= 96:
        raise RuleError("cccd.invalid", f"Số CCCD không hợp lệ: mã tỉnh {value[0:3]} không tồn tại.")
    century_sex = int(value[3])
    if century_sex > 3:
        raise RuleError("cccd.invalid", "Số CCCD không hợp lệ: chữ số thế kỷ/giới tính phải từ 0 đến 3.")
    century = 1900 if century_sex < 2 else 2000
    return Cccd(value, province, century_sex % 2 == 0, century + int(value[4:6]))


def mask_cccd(value: str) -> str:
    """'001203012345' -> '0012******45'."""
    return value[:4] + "*" * (len(value) - 6) + value[-2:]


# usernames -----------------------------------------------------------------------------------------
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")


def check_username(raw: str) -> str:
    value = (raw or "").strip().lower()
    if not USERNAME_RE.fullmatch(value):
        raise RuleError(
            "username.invalid",
            "Tên đăng nhập gồm 3–80 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang.",
        )
    return value


def username_from_name(display_name: str) -> str:
    """The Vietnamese convention: given name + initials of the family and middle names.

    'Nguyễn Thị Hồng Vân' -> 'vannth'.
    """
    words = [w for w in re.split(r"[^a-z0-9]+", fold(display_name)) if w]
    if not words:
        return "user"
    return words[-1] + "".join(w[0] for w in words[:-1])


# school years and classes --------------------------------------------------------------------------
SCHOOL_YEAR_RE = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")


def check_school_year(raw: str) -> str:
    match = SCHOOL_YEAR_RE.fullmatch((raw or "").strip())
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        raise RuleError("school_year.invalid", "Năm học phải có dạng 2024-2025.")
    return f"{match.group(1)}-{match.group(2)}"


def current_school_year(when: datetime) -> str:
    """A Vietnamese school year starts in September (registration in August)."""
    start = when.year if when.month >= 8 else when.year - 1
    return f"{start}-{start + 1}"


def grade_from_class_name(name: str) -> int | None:
    """'3A' -> 3, '12A1' -> 12, 'Lớp 5B' -> 5."""
    match = re.match(r"^(?:lop\s*)?(\d{1,2})", fold(name))
    if not match:
        return None
    grade = int(match.group(1))
    return grade if 1 <= grade <= 12 else None


def check_class_name(raw: str) -> str:
    value = re.sub(r"\s+", " ", (raw or "").strip())
    value = re.sub(r"^(?i:lớp|lop)\s*", "", value)
    if not value or len(value) > 32:
        raise RuleError("class.invalid", "Tên lớp trống hoặc quá dài.")
    return value.upper()


# roles as clerks write them ------------------------------------------------------------------------
ROLE_ALIASES: dict[str, str] = {
    "giao vien": TEACHER,
    "gv": TEACHER,
    "giao vien bo mon": TEACHER,
    "teacher": TEACHER,
    "giao vien chu nhiem": HOMEROOM_TEACHER,
    "gvcn": HOMEROOM_TEACHER,
    "homeroom teacher": HOMEROOM_TEACHER,
    "homeroom_teacher": HOMEROOM_TEACHER,
    "hieu truong": PRINCIPAL,
    "ht": PRINCIPAL,
    "principal": PRINCIPAL,
    "pho hieu truong": VICE_PRINCIPAL,
    "pht": VICE_PRINCIPAL,
    "vice principal": VICE_PRINCIPAL,
    "vice_principal": VICE_PRINCIPAL,
    "van thu": CLERK,
    "clerk": CLERK,
    "can bo cntt": SCHOOL_ADMIN,
    "cntt": SCHOOL_ADMIN,
    "quan tri": SCHOOL_ADMIN,
    "quan tri truong": SCHOOL_ADMIN,
    "school admin": SCHOOL_ADMIN,
    "school_admin": SCHOOL_ADMIN,
    "thanh tra": AUDITOR,
    "auditor": AUDITOR,
}


def parse_roles(raw: str) -> list[str]:
    """'Giáo viên chủ nhiệm; Văn thư' -> ['homeroom_teacher', 'clerk']; empty -> ['teacher']."""
    parts = [fold(p) for p in re.split(r"[,;/]", raw or "") if p.strip()]
    if not parts:
        return [TEACHER]
    roles: list[str] = []
    for part in parts:
        role = ROLE_ALIASES.get(part)
        if role is None:
            raise RuleError("role.unknown", f"Không rõ chức vụ “{part}”.")
        if role not in roles:
            roles.append(role)
    return roles
