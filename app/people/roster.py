"""Reading the roster files clerks actually have: CSV (UTF-8 with or without BOM, comma or semicolon,
or Windows-1258) and XLSX, Vietnamese or English headers, title lines above the header row, and CCCD
numbers that Excel turned into numbers (losing the leading zero).

Pure parsing: ``read_rows`` returns ``(row_number, {field: text})`` pairs with spreadsheet row numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from app.people.rules import RuleError, fold

STAFF = "staff"
CLASSES = "classes"
KINDS = (STAFF, CLASSES)

# canonical field -> accepted headers (compared after ``fold``)
STAFF_COLUMNS: dict[str, tuple[str, ...]] = {
    "display_name": ("ho va ten", "ho ten", "ten giao vien", "full name", "name", "display_name"),
    "username": ("ten dang nhap", "tai khoan", "username", "login"),
    "cccd": (
        "so cccd",
        "cccd",
        "so dinh danh",
        "so dinh danh ca nhan",
        "so cccd/cmnd",
        "cccd/cmnd",
        "personal id",
        "national id",
        "id number",
    ),
    "roles": ("chuc vu", "vai tro", "role", "roles", "position"),
    "homeroom_class": ("lop chu nhiem", "chu nhiem lop", "homeroom class", "homeroom"),
    "school_year": ("nam hoc", "school year", "school_year"),
    "email": ("email", "e-mail", "thu dien tu"),
    "phone": ("dien thoai", "so dien thoai", "sdt", "dt", "phone", "mobile"),
}
CLASS_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("ten lop", "lop", "class", "class name", "name"),
    "grade": ("khoi", "khoi lop", "grade"),
    "school_year": ("nam hoc", "school year", "school_year"),
}
REQUIRED = {STAFF: "display_name", CLASSES: "name"}
NUMBER_WIDTH = {"cccd": 12, "phone": 10}
HEADER_SEARCH_ROWS = 10


@dataclass(frozen=True)
class RosterRow:
    number: int  # the row number the clerk sees in the spreadsheet
    values: dict[str, str]


def columns_for(kind: str) -> dict[str, tuple[str, ...]]:
    return STAFF_COLUMNS if kind == STAFF else CLASS_COLUMNS


def read_rows(content: bytes, *, filename: str, kind: str) -> list[RosterRow]:
    if kind not in KINDS:
        raise RuleError("roster.kind", "Loại danh sách phải là staff hoặc classes.")
    name = (filename or "").lower()
    if name.endswith((".xlsx", ".xlsm")) or content[:4] == b"PK\x03\x04":
        table = _xlsx_table(content)
    elif name.endswith(".xls"):
        raise RuleError("roster.format", "Tệp .xls cũ không được hỗ trợ; hãy lưu lại dạng .xlsx hoặc .csv.")
    else:
        table = _csv_table(content)
    return _to_rows(table, kind)


def _cell_text(value: object, field: str | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and field in NUMBER_WIDTH:
        # Excel stored the number as a number and dropped its leading zero (CCCD 001..., phone 09...)
        return str(value).zfill(NUMBER_WIDTH[field])
    return str(value).strip()


def _xlsx_table(content: bytes) -> Iterator[tuple[int, list[object]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise RuleError("roster.format", "Không đọc được tệp Excel (.xlsx).") from exc
    try:
        sheet = workbook.worksheets[0]
        rows = [(index, list(row)) for index, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()
    return iter(rows)


def _csv_table(content: bytes) -> Iterator[tuple[int, list[object]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1258", errors="replace")
    first_lines = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    delimiter = ";" if first_lines.count(";") > first_lines.count(",") else ","
    if "\t" in first_lines and first_lines.count("\t") > first_lines.count(delimiter):
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return ((reader.line_num, [c.strip() for c in row]) for row in reader)


def _to_rows(table: Iterable[tuple[int, list[object]]], kind: str) -> list[RosterRow]:
    aliases = {alias: field for field, names in columns_for(kind).items() for alias in names}
    header: dict[int, str] | None = None
    rows: list[RosterRow] = []
    for number, cells in table:
        if header is None:
            texts = [fold(_cell_text(c)) for c in cells]
            candidate = {i: aliases[t] for i, t in enumerate(texts) if t in aliases}
            if REQUIRED[kind] in candidate.values():
                header = candidate
            elif number >= HEADER_SEARCH_ROWS:
                break
            continue
        values = {f: (_cell_text(cells[i], f) if i < len(cells) else "") for i, f in header.items()}
        if not any(values.values()):
            continue  # blank line
        rows.append(RosterRow(number, values))
    if header is None:
        wanted = "Họ và tên" if kind == STAFF else "Tên lớp"
        raise RuleError("roster.header", f"Không tìm thấy dòng tiêu đề (cần có cột “{wanted}”).")
    return rows
