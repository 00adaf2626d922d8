"""Build organisations, people and signed-in clients straight through the models (fast, no HTTP)."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app import db
from app.auth import crypto, sessions
from app.auth.clock import now
from app.people import rules
from app.people.models import ACTIVE, Person, RoleAssignment, SchoolClass
from app.people.service import set_cccd
from app.tenants.models import DISTRICT, SCHOOL, Organisation

_seq = itertools.count(1)
# codes are unique per database: processes that share one (make bench runs each module in its own)
# must not count alike
_RUN = secrets.token_hex(3).upper()


def make_school(
    name: str | None = None, code: str | None = None, policy: dict[str, Any] | None = None
) -> Organisation:
    n = next(_seq)
    with db.transaction() as s:
        district = Organisation(kind=DISTRICT, code=f"PGD-{_RUN}-{n}", name=f"Phòng GDĐT {n}", policy={})
        s.add(district)
        s.flush()
        school = Organisation(
            kind=SCHOOL,
            code=code or f"TH-{_RUN}-{n}",
            name=name or f"Trường Tiểu học số {n}",
            parent_id=district.id,
            policy=policy or {},
        )
        s.add(school)
        s.flush()
        return school


def make_class(school: Organisation, name: str = "3A", school_year: str = "2024-2025") -> SchoolClass:
    with db.transaction() as s:
        row = SchoolClass(
            tenant_id=school.id,
            name=name,
            school_year=school_year,
            grade=rules.grade_from_class_name(name) or 1,
        )
        s.add(row)
        s.flush()
        return row


def make_person(
    school: Organisation,
    *,
    name: str | None = None,
    username: str | None = None,
    roles: tuple[str, ...] = (rules.TEACHER,),
    cccd: str | None = None,
    homeroom: SchoolClass | None = None,
) -> Person:
    from flask import current_app

    n = next(_seq)
    with db.transaction() as s:
        person = Person(
            tenant_id=school.id,
            organisation_id=school.id,
            display_name=name or f"Nguyễn Văn Thử {n}",
            username=username or f"user{_RUN.lower()}{n}",
            status=ACTIVE,
            webauthn_user_id=crypto.random_token(32),
        )
        set_cccd(current_app.extensions["signet.settings"], person, cccd)
        person.roles = [
            RoleAssignment(organisation_id=school.id, tenant_id=school.id, role=role) for role in roles
        ]
        if homeroom is not None:
            person.roles.append(
                RoleAssignment(
                    organisation_id=school.id,
                    tenant_id=school.id,
                    role=rules.HOMEROOM_TEACHER,
                    class_id=homeroom.id,
                    school_year=homeroom.school_year,
                )
            )
        s.add(person)
        s.flush()
        return person


@dataclass
class SignedInClient:
    client: FlaskClient
    person: Person
    csrf: str

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {sessions.CSRF_HEADER: self.csrf, **(headers or {})}

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, **kw)

    def post(self, url: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.post(url, headers=self._headers(headers), **kw)

    def patch(self, url: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.patch(url, headers=self._headers(headers), **kw)

    def delete(self, url: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.delete(url, headers=self._headers(headers), **kw)


def sign_in(app: Flask, person: Person, client: FlaskClient | None = None) -> SignedInClient:
    """A test client holding a live session of ``person`` (as if they had just signed in)."""
    client = client or app.test_client()
    settings = app.extensions["signet.settings"]
    with db.transaction() as s:
        issued = sessions.issue(s, settings, person=person, method="passkey", user_agent="pytest", now=now())
    client.set_cookie(sessions.SESSION_COOKIE, issued.token, domain="localhost")
    client.set_cookie(sessions.CSRF_COOKIE, issued.csrf_token, domain="localhost")
    return SignedInClient(client, person, issued.csrf_token)


def invitation_token(app: Flask, person: Person) -> str:
    from app.auth.service import new_invitation

    with db.transaction() as s:
        created = new_invitation(s, s.get(Person, person.id), actor_id=None, moment=now())  # type: ignore[arg-type]
    return created.url.rsplit("/", 1)[1]
