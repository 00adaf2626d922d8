"""Classes, people and their roles, always within one school (``tenant_id``).

Anything of another school is "not found" (404), never "forbidden": a school cannot learn what
another school holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import crypto
from app.db import transaction
from app.people import rules
from app.people.errors import (
    CccdTaken,
    ClassExists,
    ClassNotFound,
    InvalidValue,
    OrganisationNotFound,
    PersonNotFound,
    UsernameTaken,
)
from app.people.models import ACTIVE, SUSPENDED, Person, RoleAssignment, SchoolClass
from app.settings import Settings
from app.tenants.models import Organisation

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^(?:\+84|0)\d{9,10}$")


@dataclass(frozen=True)
class RoleSpec:
    role: str
    class_id: str | None = None
    school_year: str | None = None


def settings_of_app() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def _require_tenant(tenant_id: str | None) -> str:
    if not tenant_id:
        raise PersonNotFound()
    return tenant_id


# values -------------------------------------------------------------------------------------------
def clean_email(raw: str | None) -> str | None:
    value = (raw or "").strip()
    if not value:
        return None
    if not EMAIL_RE.fullmatch(value) or len(value) > 254:
        raise rules.RuleError("email.invalid", "Email không hợp lệ.")
    return value.lower()


def clean_phone(raw: str | None) -> str | None:
    value = re.sub(r"[\s.\-()]", "", raw or "")
    if not value:
        return None
    if not PHONE_RE.fullmatch(value):
        raise rules.RuleError("phone.invalid", "Số điện thoại không hợp lệ.")
    return value


def cccd_digest(settings: Settings, value: str) -> str:
    return crypto.keyed_digest(settings, "cccd", value)


def set_cccd(settings: Settings, person: Person, value: str | None) -> None:
    if value is None:
        person.cccd_encrypted = person.cccd_digest = person.cccd_masked = None
        return
    person.cccd_encrypted = crypto.encrypt(settings, value)
    person.cccd_digest = cccd_digest(settings, value)
    person.cccd_masked = rules.mask_cccd(value)


def unique_username(s: Session, base: str, taken: set[str] | None = None) -> str:
    """``base``, or ``base2``, ``base3`` ... — the first one nobody has."""
    base = re.sub(r"[^a-z0-9._-]", "", base.lower())[:70] or "user"
    if len(base) < 3:
        base = base + "gv"
    existing = set(s.scalars(select(Person.username).where(Person.username.like(f"{base}%"))).all())
    existing |= taken or set()
    candidate, n = base, 1
    while candidate in existing:
        n += 1
        candidate = f"{base}{n}"
    return candidate


# organisations ------------------------------------------------------------------------------------
def get_school(s: Session, tenant_id: str) -> Organisation:
    school = s.get(Organisation, tenant_id)
    if school is None or not school.is_school:
        raise OrganisationNotFound()
    return school


# classes ------------------------------------------------------------------------------------------
def list_classes(*, tenant_id: str | None, school_year: str | None = None) -> list[SchoolClass]:
    if not tenant_id:
        return []
    with transaction() as s:
        query = select(SchoolClass).where(SchoolClass.tenant_id == tenant_id)
        if school_year:
            query = query.where(SchoolClass.school_year == school_year)
        return list(s.scalars(query.order_by(SchoolClass.school_year, SchoolClass.grade, SchoolClass.name)))


def get_class(*, tenant_id: str | None, class_id: str) -> SchoolClass:
    with transaction() as s:
        found = s.get(SchoolClass, class_id)
        if found is None or found.tenant_id != tenant_id:
            raise ClassNotFound()
        return found


def create_class(
    *, tenant_id: str | None, actor_id: str | None, name: str, school_year: str, grade: int | None = None
) -> SchoolClass:
    tenant = _require_tenant(tenant_id)
    try:
        name = rules.check_class_name(name)
        school_year = rules.check_school_year(school_year)
    except rules.RuleError as exc:
        raise InvalidValue(exc.message, details={"code": exc.code}) from exc
    grade = grade or rules.grade_from_class_name(name)
    if grade is None or not 1 <= grade <= 12:
        raise InvalidValue("Khối lớp phải từ 1 đến 12.", details={"code": "class.grade"})
    with transaction() as s:
        get_school(s, tenant)
        exists = s.scalar(
            select(SchoolClass.id).where(
                SchoolClass.tenant_id == tenant,
                SchoolClass.school_year == school_year,
                SchoolClass.name == name,
            )
        )
        if exists:
            raise ClassExists()
        row = SchoolClass(tenant_id=tenant, school_year=school_year, name=name, grade=grade)
        s.add(row)
        s.flush()
        record_event(
            s,
            action="class.create",
            actor_id=actor_id,
            tenant_id=tenant,
            target_type="class",
            target_id=row.id,
            details={"name": name, "school_year": school_year},
        )
        return row


# people -------------------------------------------------------------------------------------------
def list_people(
    *, tenant_id: str | None, q: str | None = None, role: str | None = None, status: str | None = None
) -> list[Person]:
    if not tenant_id:
        return []
    with transaction() as s:
        query = select(Person).where(Person.tenant_id == tenant_id)
        if q:
            like = f"%{q.strip()}%"
            query = query.where(or_(Person.display_name.ilike(like), Person.username.ilike(like)))
        if role:
            query = query.where(
                Person.id.in_(select(RoleAssignment.person_id).where(RoleAssignment.role == role))
            )
        if status:
            query = query.where(Person.status == status)
        return list(s.scalars(query.order_by(Person.display_name)))


def load_person(s: Session, tenant_id: str | None, person_id: str) -> Person:
    person = s.get(Person, person_id)
    if person is None or tenant_id is None or person.tenant_id != tenant_id:
        raise PersonNotFound()
    return person


def get_person(*, tenant_id: str | None, person_id: str) -> Person:
    with transaction() as s:
        return load_person(s, tenant_id, person_id)


def _resolve_roles(s: Session, tenant_id: str, specs: list[RoleSpec]) -> list[RoleAssignment]:
    wanted: list[RoleAssignment] = []
    seen: set[tuple[str, str | None]] = set()
    for spec in specs:
        if spec.role not in rules.SCHOOL_ROLES:
            raise InvalidValue(
                f"A school cannot grant the role {spec.role!r}.", details={"code": "role.invalid"}
            )
        class_id, school_year = None, None
        if spec.role == rules.HOMEROOM_TEACHER:
            if not spec.class_id:
                raise InvalidValue("A homeroom teacher needs a class.", details={"code": "class.missing"})
            found = s.get(SchoolClass, spec.class_id)
            if found is None or found.tenant_id != tenant_id:
                raise ClassNotFound()
            class_id, school_year = found.id, found.school_year
        if (spec.role, class_id) in seen:
            continue
        seen.add((spec.role, class_id))
        wanted.append(
            RoleAssignment(
                organisation_id=tenant_id,
                tenant_id=tenant_id,
                role=spec.role,
                class_id=class_id,
                school_year=school_year,
            )
        )
    return wanted


def _replace_roles(person: Person, wanted: list[RoleAssignment]) -> tuple[list[str], list[str]]:
    """Make the person's roles exactly ``wanted``; returns (added, removed) role names."""
    current = {r.key(): r for r in person.roles}
    target = {r.key(): r for r in wanted}
    removed = [r.role for k, r in current.items() if k not in target]
    added = [r.role for k, r in target.items() if k not in current]
    person.roles = [current.get(k) or r for k, r in target.items()]
    return added, removed


def _check_grant(actor_roles: frozenset[str], added: list[str], removed: list[str]) -> None:
    if rules.SCHOOL_ADMIN in (*added, *removed) and rules.SCHOOL_ADMIN not in actor_roles:
        from app.auth.errors import NotAllowed

        raise NotAllowed("Only a school administrator can grant or remove that role.")


def _checked(field: str, fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except rules.RuleError as exc:
        raise InvalidValue(exc.message, details={"field": field, "code": exc.code}) from exc


def create_person(
    *,
    tenant_id: str | None,
    actor_id: str | None,
    actor_roles: frozenset[str] = frozenset({rules.SCHOOL_ADMIN}),
    display_name: str,
    username: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    cccd: str | None = None,
    roles: list[RoleSpec] | None = None,
) -> Person:
    tenant = _require_tenant(tenant_id)
    settings = settings_of_app()
    display_name = re.sub(r"\s+", " ", display_name or "").strip()
    if not display_name:
        raise InvalidValue("Họ và tên không được để trống.", details={"field": "display_name"})
    email = _checked("email", clean_email, email)
    phone = _checked("phone", clean_phone, phone)
    cccd_value = _checked("cccd", rules.parse_cccd, cccd).value if cccd else None
    with transaction() as s:
        get_school(s, tenant)
        if username:
            username = _checked("username", rules.check_username, username)
            if s.scalar(select(Person.id).where(Person.username == username)):
                raise UsernameTaken()
        else:
            username = unique_username(s, rules.username_from_name(display_name))
        if cccd_value and s.scalar(
            select(Person.id).where(
                Person.tenant_id == tenant, Person.cccd_digest == cccd_digest(settings, cccd_value)
            )
        ):
            raise CccdTaken()
        person = Person(
            tenant_id=tenant,
            organisation_id=tenant,
            display_name=display_name,
            username=username,
            email=email,
            phone=phone,
            status=ACTIVE,
            webauthn_user_id=crypto.random_token(32),
        )
        set_cccd(settings, person, cccd_value)
        wanted = _resolve_roles(s, tenant, roles if roles is not None else [RoleSpec(rules.TEACHER)])
        person.roles = wanted
        _check_grant(actor_roles, [r.role for r in wanted], [])
        s.add(person)
        s.flush()
        record_event(
            s,
            action="person.create",
            actor_id=actor_id,
            tenant_id=tenant,
            target_type="person",
            target_id=person.id,
            details={"roles": sorted({r.role for r in wanted})},
        )
        return person


def update_person(
    *,
    tenant_id: str | None,
    actor_id: str | None,
    actor_roles: frozenset[str],
    person_id: str,
    changes: dict[str, Any],
) -> Person:
    settings = settings_of_app()
    with transaction() as s:
        person = load_person(s, tenant_id, person_id)
        tenant = _require_tenant(tenant_id)
        changed: list[str] = []
        if "display_name" in changes:
            name = re.sub(r"\s+", " ", changes["display_name"] or "").strip()
            if not name:
                raise InvalidValue("Họ và tên không được để trống.", details={"field": "display_name"})
            if name != person.display_name:
                person.display_name = name
                changed.append("display_name")
        for field, fn in (("email", clean_email), ("phone", clean_phone)):
            if field in changes:
                value = _checked(field, fn, changes[field])
                if value != getattr(person, field):
                    setattr(person, field, value)
                    changed.append(field)
        if "cccd" in changes:
            raw = changes["cccd"]
            value = _checked("cccd", rules.parse_cccd, raw).value if raw else None
            digest = cccd_digest(settings, value) if value else None
            if digest != person.cccd_digest:
                if digest and s.scalar(
                    select(Person.id).where(
                        Person.tenant_id == tenant, Person.cccd_digest == digest, Person.id != person.id
                    )
                ):
                    raise CccdTaken()
                set_cccd(settings, person, value)
                changed.append("cccd")
        details: dict[str, Any] = {"fields": changed}
        if "roles" in changes:
            specs = [RoleSpec(**r) if isinstance(r, dict) else r for r in changes["roles"]]
            added, removed = _replace_roles(person, _resolve_roles(s, tenant, specs))
            _check_grant(actor_roles, added, removed)
            if added or removed:
                details |= {"roles_added": added, "roles_removed": removed}
                record_event(
                    s,
                    action="person.roles_change",
                    actor_id=actor_id,
                    tenant_id=tenant,
                    target_type="person",
                    target_id=person.id,
                    details={"added": added, "removed": removed},
                )
        if changed:
            record_event(
                s,
                action="person.update",
                actor_id=actor_id,
                tenant_id=tenant,
                target_type="person",
                target_id=person.id,
                details={"fields": changed},
            )
        s.flush()
        return person


def suspend_person(*, tenant_id: str | None, actor_id: str | None, person_id: str) -> Person:
    """Suspended people cannot sign in; their open sessions stop working at once."""
    with transaction() as s:
        person = load_person(s, tenant_id, person_id)
        if person.status != SUSPENDED:
            person.status = SUSPENDED
            record_event(
                s,
                action="person.suspend",
                actor_id=actor_id,
                tenant_id=person.tenant_id,
                target_type="person",
                target_id=person.id,
            )
        return person


def count_people(s: Session, tenant_id: str) -> int:
    return int(s.scalar(select(func.count()).select_from(Person).where(Person.tenant_id == tenant_id)) or 0)


def school_by_code(code: str) -> Organisation:
    with transaction() as s:
        school = s.execute(select(Organisation).where(Organisation.code == code)).scalar_one_or_none()
        if school is None or not school.is_school:
            raise OrganisationNotFound(f"No school with the code {code!r}.")
        return school


def person_by_username(username: str) -> Person:
    with transaction() as s:
        person = s.execute(
            select(Person).where(Person.username == username.strip().lower())
        ).scalar_one_or_none()
        if person is None:
            raise PersonNotFound(f"No person with the username {username!r}.")
        return person
