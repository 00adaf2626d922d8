"""A person or API client of school B gets 404 for anything of school A, and sees nothing of it in lists."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask

from app.auth.models import Passkey, UserSession
from app.db import session
from app.people import rules
from tests.support.factories import SignedInClient, make_class, make_person, make_school, sign_in
from tests.support.webauthn import b64url


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    a, b = make_school("Trường A", "TA"), make_school("Trường B", "TB")
    a_class = make_class(a, "5A")
    a_teacher = make_person(a, username="teacher_a", homeroom=a_class)
    a_admin = sign_in(app, make_person(a, username="admin_a", roles=(rules.SCHOOL_ADMIN, rules.CLERK)))
    b_class = make_class(b, "5A")
    b_teacher = make_person(b, username="teacher_b")
    b_admin = sign_in(app, make_person(b, username="admin_b", roles=(rules.SCHOOL_ADMIN, rules.CLERK)))
    s = session()
    passkey = Passkey(
        person_id=a_admin.person.id,
        tenant_id=a.id,
        credential_id=b64url(b"a-credential"),
        public_key=b"cose",
        sign_count=0,
        name="A's phone",
        backed_up=False,
    )
    s.add(passkey)
    s.commit()
    a_client = a_admin.post(
        "/api/v1/api-clients", json={"name": "SIS A", "scopes": ["documents:read"]}
    ).get_json()
    b_client = b_admin.post(
        "/api/v1/api-clients", json={"name": "SIS B", "scopes": ["documents:read"]}
    ).get_json()
    b_token = (
        app.test_client()
        .post(
            "/api/v1/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": b_client["client_id"],
                "client_secret": b_client["client_secret"],
            },
        )
        .get_json()["access_token"]
    )
    a_session = s.query(UserSession).filter_by(person_id=a_admin.person.id).one()
    return {
        "a_class": a_class,
        "a_teacher": a_teacher,
        "a_admin": a_admin,
        "a_client": a_client,
        "a_passkey": passkey,
        "a_session": a_session,
        "b_class": b_class,
        "b_teacher": b_teacher,
        "b_admin": b_admin,
        "b_bearer": {"Authorization": f"Bearer {b_token}"},
    }


def _assert_not_found(response: Any) -> None:
    assert response.status_code == 404, (response.status_code, response.get_json())
    body = response.get_json()
    assert set(body) == {"code", "status", "error", "message"}  # no details about what exists


def test_person_of_another_school_gets_404_for_every_id(world: dict[str, Any]) -> None:
    b: SignedInClient = world["b_admin"]
    teacher_a = world["a_teacher"].id
    class_a = world["a_class"].id
    _assert_not_found(b.get(f"/api/v1/classes/{class_a}"))
    _assert_not_found(b.get(f"/api/v1/people/{teacher_a}"))
    _assert_not_found(b.patch(f"/api/v1/people/{teacher_a}", json={"display_name": "Hacked"}))
    _assert_not_found(b.post(f"/api/v1/people/{teacher_a}/suspend"))
    _assert_not_found(b.post(f"/api/v1/people/{teacher_a}/unlock"))
    _assert_not_found(b.post("/api/v1/invitations", json={"person_id": teacher_a}))
    _assert_not_found(b.delete(f"/api/v1/api-clients/{world['a_client']['id']}"))
    _assert_not_found(b.patch(f"/api/v1/me/passkeys/{world['a_passkey'].id}", json={"name": "mine"}))
    _assert_not_found(b.delete(f"/api/v1/me/passkeys/{world['a_passkey'].id}"))
    _assert_not_found(b.delete(f"/api/v1/me/sessions/{world['a_session'].id}"))
    # another school's class cannot be used in one's own data either
    own = world["b_teacher"].id
    _assert_not_found(
        b.patch(f"/api/v1/people/{own}", json={"roles": [{"role": "homeroom_teacher", "class_id": class_a}]})
    )
    _assert_not_found(
        b.post(
            "/api/v1/people",
            json={"display_name": "X Y", "roles": [{"role": "homeroom_teacher", "class_id": class_a}]},
        )
    )
    # and nothing changed for school A
    assert world["a_admin"].get(f"/api/v1/people/{teacher_a}").get_json()["status"] == "active"


def test_lists_show_only_ones_own_school(world: dict[str, Any]) -> None:
    b: SignedInClient = world["b_admin"]
    people = {p["username"] for p in b.get("/api/v1/people").get_json()}
    assert people == {"teacher_b", "admin_b"}
    assert {c["id"] for c in b.get("/api/v1/classes").get_json()} == {world["b_class"].id}
    assert [c["name"] for c in b.get("/api/v1/api-clients").get_json()] == ["SIS B"]
    assert b.get("/api/v1/me/passkeys").get_json() == []
    assert all(s["current"] for s in b.get("/api/v1/me/sessions").get_json())
    assert b.get("/api/v1/people?q=teacher_a").get_json() == []


def test_api_client_of_another_school(app: Flask, world: dict[str, Any]) -> None:
    client = app.test_client()
    bearer = world["b_bearer"]
    assert [c["id"] for c in client.get("/api/v1/classes", headers=bearer).get_json()] == [
        world["b_class"].id
    ]
    _assert_not_found(client.get(f"/api/v1/classes/{world['a_class'].id}", headers=bearer))
    # people endpoints are closed to every API client, whatever the id: no difference to learn from
    own = client.get(f"/api/v1/people/{world['b_teacher'].id}", headers=bearer)
    theirs = client.get(f"/api/v1/people/{world['a_teacher'].id}", headers=bearer)
    assert own.status_code == theirs.status_code == 403
    assert own.get_json() == theirs.get_json()


def test_roster_import_cannot_reach_another_school(world: dict[str, Any]) -> None:
    b: SignedInClient = world["b_admin"]
    csv = "Họ và tên,Tên đăng nhập\nNguyễn Văn A,teacher_a\n".encode()
    report = b.post(
        "/api/v1/roster/imports",
        data={"kind": "staff", "file": (io.BytesIO(csv), "ds.csv")},
        content_type="multipart/form-data",
    ).get_json()
    assert report["status"] == "refused"
    assert report["rows"][0]["reason_code"] == "username.taken"
    assert "Trường A" not in str(report)


def test_district_admin_has_no_school(app: Flask, world: dict[str, Any]) -> None:
    district_school = make_school("Trường C", "TC")
    person = make_person(district_school, roles=(rules.SCHOOL_ADMIN,))
    s = session()
    db_person = s.get(type(person), person.id)
    assert db_person is not None
    db_person.tenant_id = None  # staff of a district office belong to no school
    s.commit()
    admin = sign_in(app, db_person)
    assert admin.get("/api/v1/people").get_json() == []
    _assert_not_found(admin.get(f"/api/v1/people/{world['a_teacher'].id}"))
