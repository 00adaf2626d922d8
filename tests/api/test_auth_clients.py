"""API clients of school information systems: OAuth2 client credentials."""

from __future__ import annotations

import base64

from flask import Flask

from app.auth import crypto
from app.auth.clients import ACCESS_TOKEN_TTL
from app.auth.models import ApiClient
from app.db import session
from app.people import rules
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.clock import FrozenClock
from tests.support.factories import SignedInClient, make_class, make_person, sign_in

clock, school = fixtures.clock, fixtures.school


def _admin(app: Flask, school: Organisation) -> SignedInClient:
    return sign_in(app, make_person(school, roles=(rules.SCHOOL_ADMIN,)))


def _create(admin: SignedInClient, scopes: list[str]) -> dict:
    response = admin.post(
        "/api/v1/api-clients", json={"name": "Phần mềm quản lý trường học", "scopes": scopes}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_secret_is_shown_once_and_stored_hashed(app: Flask, school: Organisation) -> None:
    admin = _admin(app, school)
    created = _create(admin, ["documents:write", "documents:read"])
    assert created["client_id"].startswith("sgc_")
    secret = created["client_secret"]
    assert len(secret) >= 43
    row = session().get(ApiClient, created["id"])
    assert row is not None
    assert secret not in row.secret_hash and row.secret_hash == crypto.digest(secret)
    listed = admin.get("/api/v1/api-clients").get_json()
    assert [c["client_id"] for c in listed] == [created["client_id"]]
    assert "client_secret" not in listed[0]


def test_token_by_form_json_and_basic(app: Flask, school: Organisation) -> None:
    created = _create(_admin(app, school), ["documents:read"])
    client = app.test_client()
    form = client.post(
        "/api/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert form.status_code == 200, form.get_json()
    body = form.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_TOKEN_TTL.total_seconds()
    assert body["scope"] == "documents:read"
    as_json = client.post(
        "/api/v1/oauth2/token",
        json={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert as_json.status_code == 200
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    with_basic = client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert with_basic.status_code == 200


def test_wrong_secret_and_grant(app: Flask, school: Organisation) -> None:
    created = _create(_admin(app, school), ["documents:read"])
    client = app.test_client()
    wrong = client.post(
        "/api/v1/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": "nope"},
    )
    assert wrong.status_code == 401
    assert wrong.get_json()["code"] == "auth.failed"
    grant = client.post(
        "/api/v1/oauth2/token", data={"grant_type": "password", "client_id": created["client_id"]}
    )
    assert grant.status_code == 400
    assert grant.get_json()["code"] == "oauth2.unsupported_grant_type"


def test_scopes_are_enforced(app: Flask, school: Organisation) -> None:
    make_class(school, "4B")
    created = _create(_admin(app, school), ["signing:read"])
    client = app.test_client()
    too_much = client.post(
        "/api/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
            "scope": "documents:write",
        },
    )
    assert too_much.status_code == 400
    assert too_much.get_json()["code"] == "oauth2.invalid_scope"
    token = _token(app, created)
    bearer = {"Authorization": f"Bearer {token}"}
    assert [c["name"] for c in client.get("/api/v1/classes", headers=bearer).get_json()] == ["4B"]
    assert client.get("/api/v1/people", headers=bearer).status_code == 403  # people are not for machines
    assert client.get("/api/v1/me", headers=bearer).status_code == 403


def _token(app: Flask, created: dict) -> str:
    response = app.test_client().post(
        "/api/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert response.status_code == 200
    return str(response.get_json()["access_token"])


def test_token_expires(app: Flask, school: Organisation, clock: FrozenClock) -> None:
    token = _token(app, _create(_admin(app, school), ["documents:read"]))
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/classes", headers=bearer).status_code == 200
    clock.advance(seconds=ACCESS_TOKEN_TTL.total_seconds() + 1)
    expired = client.get("/api/v1/classes", headers=bearer)
    assert expired.status_code == 401
    assert expired.get_json()["code"] == "auth.required"


def test_revocation_is_immediate(app: Flask, school: Organisation) -> None:
    admin = _admin(app, school)
    created = _create(admin, ["documents:read"])
    token = _token(app, created)
    bearer = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert client.get("/api/v1/classes", headers=bearer).status_code == 200
    assert admin.delete(f"/api/v1/api-clients/{created['id']}").status_code == 204
    assert client.get("/api/v1/classes", headers=bearer).status_code == 401
    again = client.post(
        "/api/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["client_id"],
            "client_secret": created["client_secret"],
        },
    )
    assert again.status_code == 401
    listed = admin.get("/api/v1/api-clients").get_json()
    assert listed[0]["revoked_at"] is not None


def test_bearer_requests_need_no_csrf(app: Flask, school: Organisation) -> None:
    token = _token(app, _create(_admin(app, school), ["documents:write"]))
    # a POST with a Bearer token and no cookie: CSRF does not apply (403 here is the role check)
    response = app.test_client().post(
        "/api/v1/classes",
        json={"name": "1A", "school_year": "2024-2025"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "auth.forbidden"


def test_teacher_cannot_manage_clients(app: Flask, school: Organisation) -> None:
    teacher = sign_in(app, make_person(school))
    assert teacher.get("/api/v1/api-clients").status_code == 403
    assert (
        teacher.post("/api/v1/api-clients", json={"name": "x", "scopes": ["documents:read"]}).status_code
        == 403
    )
