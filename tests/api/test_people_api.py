"""Classes and people through the API: creation, roles, CCCD handling, suspension."""

from __future__ import annotations

import pytest
from flask import Flask

from app.audit.models import AuditEvent
from app.db import session
from app.people import rules
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.factories import SignedInClient, make_class, make_person, sign_in

school = fixtures.school


@pytest.fixture
def clerk(app: Flask, school: Organisation) -> SignedInClient:
    return sign_in(app, make_person(school, username="vanthu", roles=(rules.CLERK,)))


def test_create_person_with_derived_username_and_masked_cccd(clerk: SignedInClient) -> None:
    created = clerk.post(
        "/api/v1/people", json={"display_name": "Nguyễn Thị Hồng Vân", "cccd": "001185012345"}
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["username"] == "vannth"
    assert body["cccd_masked"] == "0011******45"
    assert "cccd" not in body
    assert [r["role"] for r in body["roles"]] == ["teacher"]
    twin = clerk.post("/api/v1/people", json={"display_name": "Nguyễn Thị Hồng Vân"})
    assert twin.get_json()["username"] == "vannth2"
    same_cccd = clerk.post("/api/v1/people", json={"display_name": "Người Khác", "cccd": "001185012345"})
    assert same_cccd.status_code == 409
    assert same_cccd.get_json()["code"] == "person.cccd_taken"


def test_invalid_cccd_is_refused_with_a_reason(clerk: SignedInClient) -> None:
    response = clerk.post("/api/v1/people", json={"display_name": "Trần Văn Minh", "cccd": "097185012345"})
    assert response.status_code == 422
    assert response.get_json()["details"]["code"] == "cccd.invalid"


def test_roles_are_replaced_and_audited(clerk: SignedInClient, school: Organisation) -> None:
    class_2b = make_class(school, "2B")
    teacher = clerk.post("/api/v1/people", json={"display_name": "Lê Văn Hùng"}).get_json()
    patched = clerk.patch(
        f"/api/v1/people/{teacher['id']}",
        json={"roles": [{"role": "teacher"}, {"role": "homeroom_teacher", "class_id": class_2b.id}]},
    )
    assert patched.status_code == 200, patched.get_json()
    roles = {(r["role"], r["class_name"], r["school_year"]) for r in patched.get_json()["roles"]}
    assert roles == {("teacher", None, None), ("homeroom_teacher", "2B", "2024-2025")}
    events = (
        session().query(AuditEvent).filter_by(action="person.roles_change", target_id=teacher["id"]).all()
    )
    assert len(events) == 1
    assert events[0].details["added"] == ["homeroom_teacher"]


def test_only_a_school_admin_grants_school_admin(
    app: Flask, clerk: SignedInClient, school: Organisation
) -> None:
    teacher = clerk.post("/api/v1/people", json={"display_name": "Lê Văn Hùng"}).get_json()
    refused = clerk.patch(f"/api/v1/people/{teacher['id']}", json={"roles": [{"role": "school_admin"}]})
    assert refused.status_code == 403
    admin = sign_in(app, make_person(school, roles=(rules.SCHOOL_ADMIN,)))
    granted = admin.patch(f"/api/v1/people/{teacher['id']}", json={"roles": [{"role": "school_admin"}]})
    assert granted.status_code == 200
    operator = admin.patch(f"/api/v1/people/{teacher['id']}", json={"roles": [{"role": "operator"}]})
    assert operator.status_code == 422  # not a school role


def test_classes(clerk: SignedInClient) -> None:
    created = clerk.post("/api/v1/classes", json={"name": "lớp 3a", "school_year": "2024-2025"})
    assert created.status_code == 201
    assert created.get_json()["name"] == "3A" and created.get_json()["grade"] == 3
    again = clerk.post("/api/v1/classes", json={"name": "3A", "school_year": "2024-2025"})
    assert again.status_code == 409
    assert clerk.get("/api/v1/classes?school_year=2025-2026").get_json() == []
    assert len(clerk.get("/api/v1/classes").get_json()) == 1


def test_teacher_reads_classes_but_not_people(app: Flask, school: Organisation) -> None:
    make_class(school, "1A")
    teacher = sign_in(app, make_person(school))
    assert teacher.get("/api/v1/classes").status_code == 200
    assert teacher.get("/api/v1/people").status_code == 403
