"""Roster import: all-or-nothing per file, with a row-by-row report.

Every row is checked first and gets a status — ``accepted`` (new), ``updated``, ``unchanged`` or
``refused`` with a reason. Only when no row is refused (and it is not a dry run) are the changes
applied, in one transaction. Importing the same file again reports every row ``unchanged``.
Blank cells never erase what Signet already knows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import crypto
from app.auth.clock import now
from app.db import transaction
from app.people import roster, rules
from app.people.errors import RosterUnreadable
from app.people.models import ACTIVE, Person, RoleAssignment, SchoolClass
from app.people.service import (
    cccd_digest,
    clean_email,
    clean_phone,
    get_school,
    set_cccd,
    settings_of_app,
    unique_username,
)
from app.settings import Settings

ACCEPTED, UPDATED, UNCHANGED, REFUSED = "accepted", "updated", "unchanged", "refused"


class RowRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Plan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    actions: list[Callable[[], None]] = field(default_factory=list)

    def add(
        self, number: int, status: str, name: str | None, action: Callable[[], None] | None = None
    ) -> None:
        self.rows.append({"row": number, "status": status, "name": name})
        if action is not None:
            self.actions.append(action)

    def refuse(self, number: int, name: str | None, exc: RowRefused | rules.RuleError) -> None:
        self.rows.append(
            {"row": number, "status": REFUSED, "name": name, "reason": exc.message, "reason_code": exc.code}
        )

    def counts(self) -> dict[str, int]:
        counts = {ACCEPTED: 0, UPDATED: 0, UNCHANGED: 0, REFUSED: 0}
        for row in self.rows:
            counts[row["status"]] += 1
        return {**counts, "total": len(self.rows)}


def import_roster(
    *,
    tenant_id: str | None,
    actor_id: str | None,
    kind: str,
    filename: str,
    content: bytes,
    dry_run: bool = False,
    school_year: str | None = None,
) -> dict[str, Any]:
    if not tenant_id:
        raise RosterUnreadable("Only a school can import a roster.")
    try:
        rows = roster.read_rows(content, filename=filename, kind=kind)
        default_year = rules.check_school_year(school_year) if school_year else None
    except rules.RuleError as exc:
        raise RosterUnreadable(exc.message, details={"code": exc.code}) from exc
    if not rows:
        raise RosterUnreadable("Tệp không có dòng dữ liệu nào.", details={"code": "roster.empty"})
    settings = settings_of_app()
    with transaction() as s:
        get_school(s, tenant_id)
        year = default_year or rules.current_school_year(now())
        if kind == roster.CLASSES:
            plan = _plan_classes(s, tenant_id, rows, year)
        else:
            plan = _plan_staff(s, settings, tenant_id, rows, year)
        counts = plan.counts()
        status = "refused" if counts[REFUSED] else "dry_run" if dry_run else "applied"
        if status == "applied":
            for action in plan.actions:
                action()
            s.flush()
        record_event(
            s,
            action="roster.import",
            outcome="failure" if status == "refused" else "success",
            actor_id=actor_id,
            tenant_id=tenant_id,
            target_type="roster",
            details={"kind": kind, "filename": filename[:200], "status": status, "counts": counts},
        )
        return {"status": status, "kind": kind, "rows": plan.rows, "counts": counts}


def _classes_by_key(s: Session, tenant_id: str) -> dict[tuple[str, str], SchoolClass]:
    rows = s.scalars(select(SchoolClass).where(SchoolClass.tenant_id == tenant_id))
    return {(c.school_year, c.name): c for c in rows}


# classes ------------------------------------------------------------------------------------------
def _grade(raw: str, name: str) -> int:
    if raw.strip():
        digits = re.findall(r"\d+", raw)
        grade = int(digits[0]) if digits else None
    else:
        grade = rules.grade_from_class_name(name)
    if grade is None or not 1 <= grade <= 12:
        raise RowRefused("class.grade", "Khối lớp phải từ 1 đến 12.")
    return grade


def _plan_classes(s: Session, tenant_id: str, rows: list[roster.RosterRow], default_year: str) -> Plan:
    existing = {
        (c.school_year, c.name): c
        for c in s.scalars(select(SchoolClass).where(SchoolClass.tenant_id == tenant_id))
    }
    seen: dict[tuple[str, str], int] = {}
    plan = Plan()
    for row in rows:
        values = row.values
        label = values.get("name", "").strip() or None
        try:
            if not label:
                raise RowRefused("name.missing", "Thiếu tên lớp.")
            name = rules.check_class_name(label)
            year = rules.check_school_year(values.get("school_year") or default_year)
            grade = _grade(values.get("grade", ""), name)
            key = (year, name)
            if key in seen:
                raise RowRefused("duplicate", f"Trùng với dòng {seen[key]} (lớp {name}, năm học {year}).")
            seen[key] = row.number
        except (RowRefused, rules.RuleError) as exc:
            plan.refuse(row.number, label, exc)
            continue
        found = existing.get(key)
        if found is None:
            plan.add(row.number, ACCEPTED, name, _add_class(s, tenant_id, year, name, grade))
        elif found.grade != grade:
            plan.add(row.number, UPDATED, name, _set_grade(found, grade))
        else:
            plan.add(row.number, UNCHANGED, name)
    return plan


def _set_grade(school_class: SchoolClass, grade: int) -> Callable[[], None]:
    def apply() -> None:
        school_class.grade = grade

    return apply


def _add_class(s: Session, tenant_id: str, year: str, name: str, grade: int) -> Callable[[], None]:
    return lambda: s.add(SchoolClass(tenant_id=tenant_id, school_year=year, name=name, grade=grade))


# staff --------------------------------------------------------------------------------------------
@dataclass
class StaffRow:
    name: str
    username: str | None
    cccd: str | None
    email: str | None
    phone: str | None
    roles: list[tuple[str, str | None, str | None]]  # (role, class_id, school_year)


def _check_staff_row(
    values: dict[str, str], classes: dict[tuple[str, str], SchoolClass], default_year: str
) -> StaffRow:
    name = re.sub(r"\s+", " ", values.get("display_name", "")).strip()
    if not name:
        raise RowRefused("name.missing", "Thiếu họ và tên.")
    cccd = rules.parse_cccd(values["cccd"]).value if values.get("cccd", "").strip() else None
    username = rules.check_username(values["username"]) if values.get("username", "").strip() else None
    if username is None and cccd is None:
        raise RowRefused("identifier.missing", "Cần có Tên đăng nhập hoặc Số CCCD để nhận ra người này.")
    email = clean_email(values.get("email"))
    phone = clean_phone(values.get("phone"))
    roles = rules.parse_roles(values.get("roles", ""))
    for role in roles:
        if role not in rules.SCHOOL_ROLES:
            raise RowRefused("role.invalid", "Chức vụ này không thể gán từ danh sách của trường.")
    year = rules.check_school_year(values.get("school_year") or default_year)
    homeroom = values.get("homeroom_class", "").strip()
    school_class = None
    if homeroom:
        class_name = rules.check_class_name(homeroom)
        school_class = classes.get((year, class_name))
        if school_class is None:
            raise RowRefused("class.unknown", f"Không có lớp {class_name} trong năm học {year}.")
        if rules.HOMEROOM_TEACHER not in roles:
            roles.append(rules.HOMEROOM_TEACHER)
    elif rules.HOMEROOM_TEACHER in roles:
        raise RowRefused("class.missing", "Giáo viên chủ nhiệm cần có Lớp chủ nhiệm.")
    if rules.HOMEROOM_TEACHER in roles and rules.TEACHER not in roles:
        roles.insert(0, rules.TEACHER)
    specs: list[tuple[str, str | None, str | None]] = []
    for role in roles:
        if role == rules.HOMEROOM_TEACHER and school_class is not None:
            specs.append((role, school_class.id, school_class.school_year))
        else:
            specs.append((role, None, None))
    return StaffRow(name, username, cccd, email, phone, specs)


def _plan_staff(
    s: Session, settings: Settings, tenant_id: str, rows: list[roster.RosterRow], default_year: str
) -> Plan:
    classes = {
        (c.school_year, c.name): c
        for c in s.scalars(select(SchoolClass).where(SchoolClass.tenant_id == tenant_id))
    }
    seen_username: dict[str, int] = {}
    seen_cccd: dict[str, int] = {}
    seen_person: dict[str, int] = {}
    new_usernames: set[str] = set()
    plan = Plan()
    for row in rows:
        label = re.sub(r"\s+", " ", row.values.get("display_name", "")).strip() or None
        try:
            staff = _check_staff_row(row.values, classes, default_year)
            if staff.username and staff.username in seen_username:
                raise RowRefused(
                    "duplicate", f"Trùng tên đăng nhập với dòng {seen_username[staff.username]}."
                )
            if staff.cccd and staff.cccd in seen_cccd:
                raise RowRefused("duplicate", f"Trùng số CCCD với dòng {seen_cccd[staff.cccd]}.")
            person = _match(s, settings, tenant_id, staff)
            if person is not None and person.id in seen_person:
                raise RowRefused("duplicate", f"Cùng một người với dòng {seen_person[person.id]}.")
        except (RowRefused, rules.RuleError) as exc:
            plan.refuse(row.number, label, exc)
            continue
        if staff.username:
            seen_username[staff.username] = row.number
        if staff.cccd:
            seen_cccd[staff.cccd] = row.number
        if person is None:
            if staff.username is None:
                staff.username = unique_username(
                    s, rules.username_from_name(staff.name), new_usernames | set(seen_username)
                )
            new_usernames.add(staff.username)
            plan.add(row.number, ACCEPTED, staff.name, _create(s, settings, tenant_id, staff))
            continue
        seen_person[person.id] = row.number
        apply = _update(settings, tenant_id, person, staff)
        plan.add(row.number, UPDATED if apply else UNCHANGED, staff.name, apply)
    return plan


def _match(s: Session, settings: Settings, tenant_id: str, staff: StaffRow) -> Person | None:
    by_username = (
        s.execute(select(Person).where(Person.username == staff.username)).scalar_one_or_none()
        if staff.username
        else None
    )
    if by_username is not None and by_username.tenant_id != tenant_id:
        raise RowRefused("username.taken", "Tên đăng nhập này đã được dùng.")
    by_cccd = (
        s.execute(
            select(Person).where(
                Person.tenant_id == tenant_id, Person.cccd_digest == cccd_digest(settings, staff.cccd)
            )
        ).scalar_one_or_none()
        if staff.cccd
        else None
    )
    if by_username is not None and by_cccd is not None and by_username.id != by_cccd.id:
        raise RowRefused("conflict", "Tên đăng nhập và số CCCD thuộc về hai người khác nhau.")
    return by_username or by_cccd


def _role_rows(tenant_id: str, staff: StaffRow) -> list[RoleAssignment]:
    return [
        RoleAssignment(organisation_id=tenant_id, tenant_id=tenant_id, role=r, class_id=c, school_year=y)
        for r, c, y in staff.roles
    ]


def _create(s: Session, settings: Settings, tenant_id: str, staff: StaffRow) -> Callable[[], None]:
    def apply() -> None:
        assert staff.username is not None
        person = Person(
            tenant_id=tenant_id,
            organisation_id=tenant_id,
            display_name=staff.name,
            username=staff.username,
            email=staff.email,
            phone=staff.phone,
            status=ACTIVE,
            webauthn_user_id=crypto.random_token(32),
        )
        set_cccd(settings, person, staff.cccd)
        person.roles = _role_rows(tenant_id, staff)
        s.add(person)

    return apply


def _update(settings: Settings, tenant_id: str, person: Person, staff: StaffRow) -> Callable[[], None] | None:
    """The changes a row brings to an existing person, or None when it brings none."""
    changes: dict[str, Any] = {}
    if staff.name != person.display_name:
        changes["display_name"] = staff.name
    if staff.username and staff.username != person.username:
        changes["username"] = staff.username
    for name in ("email", "phone"):
        value = getattr(staff, name)
        if value is not None and value != getattr(person, name):
            changes[name] = value
    new_cccd = staff.cccd and cccd_digest(settings, staff.cccd) != person.cccd_digest
    current = {r.key() for r in person.roles}
    missing = [r for r in _role_rows(tenant_id, staff) if r.key() not in current]
    if not changes and not new_cccd and not missing:
        return None

    def apply() -> None:
        for name, value in changes.items():
            setattr(person, name, value)
        if new_cccd:
            set_cccd(settings, person, staff.cccd)
        person.roles.extend(missing)

    return apply
