"""``flask seed-demo``: one real-looking school to click through (idempotent).

Sở GDĐT Hà Nội → Phòng GDĐT Long Biên → Trường Tiểu học Ngọc Thụy, the current school year (the one
the seed first ran in: a year later, the classes of the new year are added), classes 1A–5E,
a principal, a vice-principal, a clerk (also school administrator) and five homeroom teachers.
Every person not yet enrolled gets a fresh one-time invitation link.  Outside production the school
gets its seal (development CA) and the district a year's trial of a district plan, so that the demo
signs, and meters, as a subscribed district does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from app.auth import crypto
from app.auth.clock import now
from app.auth.service import new_invitation
from app.db import transaction
from app.people import rules
from app.people.models import ACTIVE, Person, RoleAssignment, SchoolClass
from app.people.service import set_cccd, settings_of_app
from app.tenants.models import DEPARTMENT, DISTRICT, SCHOOL, Organisation

ORGANISATIONS = (
    (DEPARTMENT, "SGD-HN", "Sở Giáo dục và Đào tạo Hà Nội", None),
    (DISTRICT, "PGD-LB", "Phòng Giáo dục và Đào tạo quận Long Biên", "SGD-HN"),
    (SCHOOL, "NT-LB", "Trường Tiểu học Ngọc Thụy", "PGD-LB"),
)
CLASSES = [f"{grade}{letter}" for grade in range(1, 6) for letter in "ABCDE"]
# (name, username, CCCD, roles, homeroom class)
PEOPLE = (
    ("Nguyễn Thị Thanh Hương", "huongntt", "001175003481", (rules.PRINCIPAL,), None),
    ("Trần Văn Dũng", "dungtv", "001080012937", (rules.VICE_PRINCIPAL,), None),
    ("Phạm Thị Mai", "maipt", "001188020415", (rules.CLERK, rules.SCHOOL_ADMIN), None),
    ("Lê Thị Hoa", "hoalt", "001186031276", (rules.TEACHER,), "1A"),
    ("Đỗ Minh Tuấn", "tuandm", "001090044518", (rules.TEACHER,), "2A"),
    ("Vũ Thị Lan Anh", "anhvtl", "001192057730", (rules.TEACHER,), "3A"),
    ("Hoàng Văn Nam", "namhv", "001087060192", (rules.TEACHER,), "4A"),
    ("Bùi Thị Ngọc", "ngocbt", "001195071843", (rules.TEACHER,), "5A"),
)


@dataclass(frozen=True)
class DemoInvitation:
    display_name: str
    username: str
    roles: str
    url: str


def seed_demo() -> tuple[Organisation, list[DemoInvitation]]:
    settings = settings_of_app()
    moment = now()
    year = rules.current_school_year(moment)
    with transaction() as s:
        by_code: dict[str, Organisation] = {}
        for kind, code, name, parent in ORGANISATIONS:
            org = s.execute(select(Organisation).where(Organisation.code == code)).scalar_one_or_none()
            if org is None:
                org = Organisation(kind=kind, code=code, name=name, policy={})
                s.add(org)
            org.parent_id = by_code[parent].id if parent else None
            s.flush()
            by_code[code] = org
        school = by_code["NT-LB"]
        existing = s.scalars(
            select(SchoolClass).where(SchoolClass.tenant_id == school.id, SchoolClass.school_year == year)
        )
        classes = {c.name: c for c in existing}
        for name in CLASSES:
            if name not in classes:
                classes[name] = SchoolClass(
                    tenant_id=school.id, school_year=year, name=name, grade=int(name[0])
                )
                s.add(classes[name])
        s.flush()
        invitations = []
        for display_name, username, cccd, roles, homeroom in PEOPLE:
            person = s.execute(select(Person).where(Person.username == username)).scalar_one_or_none()
            if person is None:
                person = Person(
                    tenant_id=school.id,
                    organisation_id=school.id,
                    display_name=display_name,
                    username=username,
                    email=f"{username}@ngocthuy-lb.edu.vn",
                    status=ACTIVE,
                    webauthn_user_id=crypto.random_token(32),
                )
                set_cccd(settings, person, cccd)
                assignments = [
                    RoleAssignment(organisation_id=school.id, tenant_id=school.id, role=role)
                    for role in roles
                ]
                if homeroom:
                    assignments.append(
                        RoleAssignment(
                            organisation_id=school.id,
                            tenant_id=school.id,
                            role=rules.HOMEROOM_TEACHER,
                            class_id=classes[homeroom].id,
                            school_year=year,
                        )
                    )
                person.roles = assignments
                s.add(person)
                s.flush()
            if person.enrolled_at is None and person.is_active:
                created = new_invitation(s, person, actor_id=None, moment=moment)
                label = ", ".join(roles) + (f", homeroom {homeroom}" if homeroom else "")
                invitations.append(DemoInvitation(display_name, username, label, created.url))
    if not settings.is_prod:  # production: a licensed CA certifies the seal; the operator subscribes
        _ensure_seal(school)
        _ensure_trial(by_code["PGD-LB"].id)
    return school, invitations


def _ensure_seal(school: Organisation) -> None:
    """The school seal (the third signature of every transcript), certified by the development CA,
    unless it has one: without it every upload is blocked with document.no_seal_credential."""
    from app.keys.service import create_seal
    from app.workflow.chain import seal_credential

    with transaction() as s:
        if seal_credential(s, tenant_id=school.id, now=now()) is not None:
            return
    create_seal(organisation_id=school.id, organisation_name=school.name)


DEMO_PLAN = "DEMO-PGD"


def _ensure_trial(district_id: str) -> None:
    """A year's trial of a district plan for the demo district, from today, unless a subscription of
    the district is in force today: its schools sign on it (without one, every signature is logged
    ``signature_without_subscription``) and the district's usage pages have something to show."""
    from app.billing import service as billing
    from app.billing.models import Plan, Subscription

    day = billing.today()
    with transaction() as s:
        plan = s.execute(select(Plan).where(Plan.code == DEMO_PLAN)).scalar_one_or_none()
        subscribed = s.scalar(
            select(Subscription.id)
            .where(Subscription.organisation_id == district_id, billing.in_force(day))
            .limit(1)
        )
    if subscribed is not None:
        return
    if plan is None:
        plan = billing.create_plan(
            actor_id=None,
            code=DEMO_PLAN,
            name="Gói dùng thử cấp Phòng (demo)",
            scope="district",
            included_signatures=20_000,
            price_vnd=0,
        )
    billing.create_subscription(
        actor_id=None,
        organisation_id=district_id,
        plan_id=plan.id,
        period_start=day,
        period_end=day + timedelta(days=364),
    )
