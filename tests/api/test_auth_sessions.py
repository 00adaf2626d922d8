"""Sessions: cookies, CSRF, idle and absolute expiry, revocation, devices; invitations."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app.auth.sessions import ABSOLUTE_TIMEOUT, CSRF_HEADER, IDLE_TIMEOUT, SESSION_COOKIE
from app.people import rules
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.clock import FrozenClock
from tests.support.factories import invitation_token, make_person, sign_in
from tests.support.webauthn import SoftAuthenticator

clock, school = fixtures.clock, fixtures.school


def _enrol_passkey(app: Flask, client: FlaskClient, token: str, authenticator: SoftAuthenticator) -> dict:
    options = client.post(f"/api/v1/invitations/{token}/passkey/options").get_json()["publicKey"]
    response = client.post(
        f"/api/v1/invitations/{token}/passkey", json={"credential": authenticator.create(options)}
    )
    assert response.status_code == 201, response.get_json()
    return response


def test_session_cookie_flags(app: Flask, client: FlaskClient, school: Organisation) -> None:
    person = make_person(school)
    response = _enrol_passkey(app, client, invitation_token(app, person), SoftAuthenticator())
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    session_cookie = cookies["signet_session"]
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # PUBLIC_BASE_URL is http://localhost:5000
    assert "HttpOnly" not in cookies["signet_csrf"]  # the PWA reads it


def test_cookies_are_secure_behind_https(app: Flask, school: Organisation, settings) -> None:  # type: ignore[no-untyped-def]
    from app.auth.sessions import cookie_secure

    assert cookie_secure(settings.with_(public_base_url="https://signet.hanoi.edu.vn"))
    assert not cookie_secure(settings)


def test_csrf_header_is_required_for_unsafe_requests(app: Flask, school: Organisation) -> None:
    person = make_person(school, roles=(rules.CLERK,))
    signed_in = sign_in(app, person)
    client = signed_in.client
    assert client.get("/api/v1/me").status_code == 200  # safe methods need no header
    missing = client.post("/api/v1/classes", json={"name": "1A", "school_year": "2024-2025"})
    assert missing.status_code == 403
    assert missing.get_json()["code"] == "auth.csrf"
    wrong = client.post(
        "/api/v1/classes", json={"name": "1A", "school_year": "2024-2025"}, headers={CSRF_HEADER: "x" * 43}
    )
    assert wrong.status_code == 403
    ok = signed_in.post("/api/v1/classes", json={"name": "1A", "school_year": "2024-2025"})
    assert ok.status_code == 201


def test_csrf_token_of_another_session_is_refused(app: Flask, school: Organisation) -> None:
    alice = sign_in(app, make_person(school, roles=(rules.CLERK,)))
    bob = sign_in(app, make_person(school, roles=(rules.CLERK,)))
    # bob's token in both header and cookie of alice's browser: still not alice's session's token
    alice.client.set_cookie("signet_csrf", bob.csrf, domain="localhost")
    response = alice.client.post(
        "/api/v1/classes", json={"name": "2A", "school_year": "2024-2025"}, headers={CSRF_HEADER: bob.csrf}
    )
    assert response.status_code == 403


def test_idle_expiry(app: Flask, school: Organisation, clock: FrozenClock) -> None:
    signed_in = sign_in(app, make_person(school))
    clock.advance(seconds=IDLE_TIMEOUT.total_seconds() - 60)
    assert signed_in.get("/api/v1/me").status_code == 200  # activity keeps it alive
    clock.advance(seconds=IDLE_TIMEOUT.total_seconds() - 60)
    assert signed_in.get("/api/v1/me").status_code == 200
    clock.advance(seconds=IDLE_TIMEOUT.total_seconds() + 1)
    response = signed_in.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["code"] == "auth.required"


def test_absolute_expiry(app: Flask, school: Organisation, clock: FrozenClock) -> None:
    signed_in = sign_in(app, make_person(school))
    for _ in range(int(ABSOLUTE_TIMEOUT / IDLE_TIMEOUT) * 2 - 1):
        clock.advance(seconds=IDLE_TIMEOUT.total_seconds() / 2)
        assert signed_in.get("/api/v1/me").status_code == 200
    clock.advance(seconds=IDLE_TIMEOUT.total_seconds() / 2)
    assert signed_in.get("/api/v1/me").status_code == 401


def test_sessions_list_and_revoke(app: Flask, school: Organisation) -> None:
    person = make_person(school)
    phone = sign_in(app, person)
    laptop = sign_in(app, person)
    listed = phone.get("/api/v1/me/sessions").get_json()
    assert len(listed) == 2
    assert sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    assert phone.delete(f"/api/v1/me/sessions/{other['id']}").status_code == 204
    assert laptop.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/me").status_code == 200
    # somebody else's session id is simply not found
    stranger = sign_in(app, make_person(school))
    mine = stranger.get("/api/v1/me/sessions").get_json()[0]["id"]
    assert phone.delete(f"/api/v1/me/sessions/{mine}").status_code == 404
    assert stranger.get("/api/v1/me").status_code == 200


def test_suspended_person_loses_sessions_at_once(app: Flask, school: Organisation) -> None:
    teacher = make_person(school)
    session = sign_in(app, teacher)
    clerk = sign_in(app, make_person(school, roles=(rules.CLERK,)))
    assert clerk.post(f"/api/v1/people/{teacher.id}/suspend").get_json()["status"] == "suspended"
    assert session.get("/api/v1/me").status_code == 401


def test_passkeys_add_rename_delete_and_last_factor(
    app: Flask, client: FlaskClient, school: Organisation
) -> None:
    authenticator = SoftAuthenticator()
    person = make_person(school)
    _enrol_passkey(app, client, invitation_token(app, person), authenticator)
    csrf = {CSRF_HEADER: client.get_cookie("signet_csrf").value}
    passkeys = client.get("/api/v1/me/passkeys").get_json()
    assert len(passkeys) == 1 and passkeys[0]["backed_up"] is False
    only = passkeys[0]["id"]
    last = client.delete(f"/api/v1/me/passkeys/{only}", headers=csrf)
    assert last.status_code == 409
    assert last.get_json()["code"] == "auth.last_factor"

    laptop = SoftAuthenticator()
    options = client.post("/api/v1/me/passkeys/options", headers=csrf).get_json()["publicKey"]
    assert len(options["excludeCredentials"]) == 1  # the authenticator will not register twice
    added = client.post(
        "/api/v1/me/passkeys",
        json={"credential": laptop.create(options, backed_up=True), "name": "Máy tính ở trường"},
        headers=csrf,
    )
    assert added.status_code == 201, added.get_json()
    assert added.get_json()["backed_up"] is True
    renamed = client.patch(f"/api/v1/me/passkeys/{only}", json={"name": "iPhone của Vân"}, headers=csrf)
    assert renamed.get_json()["name"] == "iPhone của Vân"
    assert client.delete(f"/api/v1/me/passkeys/{only}", headers=csrf).status_code == 204
    assert client.get("/api/v1/me").get_json()["factors"]["passkeys"] == 1
    # the laptop passkey signs in
    client.post("/api/v1/auth/logout", headers=csrf)
    options = client.post("/api/v1/auth/passkey/options").get_json()["publicKey"]
    assert client.post("/api/v1/auth/passkey", json={"credential": laptop.get(options)}).status_code == 200


def test_invitation_is_single_use(app: Flask, client: FlaskClient, school: Organisation) -> None:
    token = invitation_token(app, make_person(school))
    _enrol_passkey(app, client, token, SoftAuthenticator())
    again = app.test_client().post(f"/api/v1/invitations/{token}/passkey/options")
    assert again.status_code == 410
    assert again.get_json()["code"] == "invitation.used"


def test_invitation_expires_after_72_hours(app: Flask, school: Organisation, clock: FrozenClock) -> None:
    token = invitation_token(app, make_person(school))
    client = app.test_client()
    clock.advance(hours=71, minutes=59)
    assert client.get(f"/api/v1/invitations/{token}").status_code == 200
    clock.advance(minutes=2)
    expired = client.get(f"/api/v1/invitations/{token}")
    assert expired.status_code == 410
    assert expired.get_json()["code"] == "invitation.expired"
    assert client.post(f"/api/v1/invitations/{token}/totp/options").status_code == 410


def test_unknown_invitation(client: FlaskClient) -> None:
    response = client.get("/api/v1/invitations/not-a-real-token")
    assert response.status_code == 404
    assert response.get_json()["code"] == "invitation.invalid"


def test_admin_creates_invitation_with_qr(app: Flask, school: Organisation) -> None:
    teacher = make_person(school)
    clerk = sign_in(app, make_person(school, roles=(rules.CLERK,)))
    created = clerk.post("/api/v1/invitations", json={"person_id": teacher.id})
    assert created.status_code == 201
    body = created.get_json()
    assert body["url"].startswith("http://localhost:5000/enrol/")
    assert body["qr_svg"].startswith("<svg")
    token = body["url"].rsplit("/", 1)[1]
    assert app.test_client().get(f"/api/v1/invitations/{token}").status_code == 200
    # a new invitation replaces the old one
    clerk.post("/api/v1/invitations", json={"person_id": teacher.id})
    assert app.test_client().get(f"/api/v1/invitations/{token}").status_code == 404


def test_teacher_cannot_invite(app: Flask, school: Organisation) -> None:
    teacher = sign_in(app, make_person(school))
    response = teacher.post("/api/v1/invitations", json={"person_id": teacher.person.id})
    assert response.status_code == 403


def test_me_requires_a_session(client: FlaskClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["code"] == "auth.required"
    client.set_cookie(SESSION_COOKIE, "forged", domain="localhost")
    assert client.get("/api/v1/me").status_code == 401


def test_me_shows_roles_with_class(app: Flask, school: Organisation) -> None:
    from tests.support.factories import make_class

    class_3a = make_class(school, "3A")
    person = make_person(school, name="Lê Thị Hoa", roles=(rules.TEACHER,), homeroom=class_3a)
    me = sign_in(app, person).get("/api/v1/me").get_json()
    assert me["school"] == {"id": school.id, "name": "Trường Tiểu học Ngọc Thụy"}
    homeroom = next(r for r in me["roles"] if r["role"] == "homeroom_teacher")
    assert homeroom["class_name"] == "3A" and homeroom["school_year"] == "2024-2025"


def test_rate_limit_per_address(app: Flask, school: Organisation, settings) -> None:  # type: ignore[no-untyped-def]
    from app import create_app

    limited = create_app(settings.with_(auth_rate_limit="3/minute"))
    client = limited.test_client()
    statuses = [
        client.post("/api/v1/auth/totp", json={"username": "x", "code": "1"}).status_code for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    assert client.get("/healthz").status_code == 200
