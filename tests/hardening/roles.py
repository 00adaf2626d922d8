"""One school (and a second one) with a person for every role and an API client: what the matrix,
fuzz and schemathesis tests call with."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.auth.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from app.people import rules
from app.people.models import Person, SchoolClass
from app.tenants.models import Organisation
from tests.support.factories import make_class, make_person, make_school, sign_in
from tests.support.workflow_world import transcript_pdf

ROLES = ("anonymous", "teacher", "principal", "clerk", "school_admin", "auditor", "api_client")
_PERSON_ROLES = {
    "teacher": (rules.TEACHER,),
    "principal": (rules.PRINCIPAL,),
    "clerk": (rules.CLERK,),
    "school_admin": (rules.SCHOOL_ADMIN,),
    "auditor": (rules.AUDITOR,),
}


@dataclass
class Caller:
    role: str
    headers: dict[str, str] = field(default_factory=dict)  # CSRF, or Bearer
    cookies: dict[str, str] = field(default_factory=dict)
    person: Person | None = None


@dataclass
class School:
    org: Organisation
    klass: SchoolClass
    callers: dict[str, Caller]
    ids: dict[str, str]  # path parameter name → an id of this school


def _person_caller(app: Flask, school: Organisation, role: str, klass: SchoolClass) -> Caller:
    person = make_person(school, roles=_PERSON_ROLES[role], homeroom=klass if role == "teacher" else None)
    signed = sign_in(app, person)
    token = signed.client.get_cookie(SESSION_COOKIE, domain="localhost")
    assert token is not None
    cookies = {SESSION_COOKIE: token.value, CSRF_COOKIE: signed.csrf}
    return Caller(role, {CSRF_HEADER: signed.csrf}, cookies, person)


def _api_client(app: Flask, admin: Caller) -> Caller:
    client = client_of(app, admin)
    response = client.post(
        "/api/v1/api-clients",
        json={"name": "SIS", "scopes": ["documents:write", "documents:read", "signing:read"]},
        headers=admin.headers,
    )
    created = response.get_json()
    assert response.status_code == 201, created
    token = client.post(
        "/api/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    ).get_json()["access_token"]
    return Caller("api_client", {"Authorization": f"Bearer {token}"})


def build_school(app: Flask, name: str, code: str) -> School:
    org = make_school(name, code)
    klass = make_class(org, "5A", "2024-2025")
    callers = {"anonymous": Caller("anonymous")}
    for role in _PERSON_ROLES:
        callers[role] = _person_caller(app, org, role, klass)
    callers["api_client"] = _api_client(app, callers["school_admin"])
    upload = client_of(app, callers["clerk"]).post(
        "/api/v1/documents",
        data={
            "files": [(io.BytesIO(transcript_pdf("Hoc sinh", "HS00001")), "hs00001.pdf")],
            "manifest": (
                io.BytesIO(
                    b"file,student_code,student_name,class,school_year\n"
                    b"hs00001.pdf,HS00001,Hoc sinh,5A,2024-2025\n"
                ),
                "manifest.csv",
            ),
        },
        content_type="multipart/form-data",
        headers=callers["clerk"].headers,
    )
    assert upload.status_code == 200, upload.get_json()
    document_id = upload.get_json()["files"][0]["document_id"]
    teacher = callers["teacher"].person
    assert teacher is not None
    ids = {
        "document_id": document_id,
        "class_id": klass.id,
        "person_id": teacher.id,
        "school_id": org.id,
        "tenant_id": org.id,
        "organisation_id": org.id,
    }
    return School(org, klass, callers, ids)


def client_of(app: Flask, caller: Caller) -> FlaskClient:
    client = app.test_client()
    for name, value in caller.cookies.items():
        client.set_cookie(name, value, domain="localhost")
    return client


def request(app: Flask, caller: Caller, method: str, path: str, **kw: Any) -> Any:
    headers = {**caller.headers, **kw.pop("headers", {})}
    return client_of(app, caller).open(path, method=method, headers=headers, **kw)


# ---- the authorisation matrix: every kind of caller -------------------------------------------

MATRIX_ROLES = (
    "anonymous",
    "teacher",
    "homeroom_teacher",
    "principal",
    "vice_principal",
    "clerk",
    "school_admin",
    "district_admin",
    "auditor",
    "operator",
    "api_documents_read",
    "api_documents_write",
    "api_signing_read",
)
_MATRIX_PERSON_ROLES = {
    "teacher": (rules.TEACHER,),
    "homeroom_teacher": (rules.TEACHER,),  # + the homeroom of the class
    "principal": (rules.PRINCIPAL,),
    "vice_principal": (rules.VICE_PRINCIPAL,),
    "clerk": (rules.CLERK,),
    "school_admin": (rules.SCHOOL_ADMIN,),
    "auditor": (rules.AUDITOR,),
}
_STAFF_ROLES = {"district_admin": rules.DISTRICT_ADMIN, "operator": rules.OPERATOR}


def _staff(organisation: Organisation, role: str) -> Person:
    """District or service staff: no school of their own (tenant_id None)."""
    from app import db
    from app.auth import crypto
    from app.people.models import RoleAssignment

    with db.transaction() as s:
        person = Person(
            tenant_id=None,
            organisation_id=organisation.id,
            display_name=f"{role} staff",
            username=f"{role}-{organisation.code}".lower(),
            status="active",
            webauthn_user_id=crypto.random_token(32),
        )
        person.roles = [RoleAssignment(organisation_id=organisation.id, tenant_id=None, role=role)]
        s.add(person)
        s.flush()
        return person


def _signed(app: Flask, person: Person, role: str) -> Caller:
    signed = sign_in(app, person)
    token = signed.client.get_cookie(SESSION_COOKIE, domain="localhost")
    assert token is not None
    return Caller(
        role, {CSRF_HEADER: signed.csrf}, {SESSION_COOKIE: token.value, CSRF_COOKIE: signed.csrf}, person
    )


def _scoped_client(app: Flask, admin: Caller, scope: str) -> Caller:
    client = client_of(app, admin)
    response = client.post(
        "/api/v1/api-clients", json={"name": f"SIS {scope}", "scopes": [scope]}, headers=admin.headers
    )
    created = response.get_json()
    assert response.status_code == 201, created
    token = client.post(
        "/api/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    ).get_json()["access_token"]
    return Caller("api_" + scope.replace(":", "_"), {"Authorization": f"Bearer {token}"})


def build_matrix_school(app: Flask, name: str, code: str) -> School:
    """A school with one caller of every kind in ``MATRIX_ROLES`` (district staff of its district)."""
    from app import db

    org = make_school(name, code)
    district = db.session().get(Organisation, org.parent_id)
    assert district is not None
    klass = make_class(org, "5A", "2024-2025")
    callers = {"anonymous": Caller("anonymous")}
    for role, roles in _MATRIX_PERSON_ROLES.items():
        person = make_person(org, roles=roles, homeroom=klass if role == "homeroom_teacher" else None)
        callers[role] = _signed(app, person, role)
    for role, staff_role in _STAFF_ROLES.items():
        callers[role] = _signed(app, _staff(district, staff_role), role)
    for scope in ("documents:read", "documents:write", "signing:read"):
        caller = _scoped_client(app, callers["school_admin"], scope)
        callers[caller.role] = caller
    assert set(callers) == set(MATRIX_ROLES)
    upload = client_of(app, callers["clerk"]).post(
        "/api/v1/documents",
        data={
            "files": [(io.BytesIO(transcript_pdf("Hoc sinh", "HS00001")), "hs00001.pdf")],
            "manifest": (
                io.BytesIO(
                    b"file,student_code,student_name,class,school_year\n"
                    b"hs00001.pdf,HS00001,Hoc sinh,5A,2024-2025\n"
                ),
                "manifest.csv",
            ),
        },
        content_type="multipart/form-data",
        headers=callers["clerk"].headers,
    )
    assert upload.status_code == 200, upload.get_json()
    teacher = callers["homeroom_teacher"].person
    assert teacher is not None
    ids = {
        "document_id": upload.get_json()["files"][0]["document_id"],
        "class_id": klass.id,
        "person_id": teacher.id,
        "tenant_id": org.id,
        "district_id": district.id,
    }
    return School(org, klass, callers, ids)
