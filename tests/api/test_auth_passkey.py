"""Invitation → passkey registration → sign-out → usernameless sign-in, with a software authenticator."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.auth.models import Passkey
from app.auth.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from app.db import session
from app.people import rules
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.clock import FrozenClock
from tests.support.factories import invitation_token, make_person
from tests.support.webauthn import SoftAuthenticator

clock, school = fixtures.clock, fixtures.school


def _csrf(client: FlaskClient) -> dict[str, str]:
    cookie = client.get_cookie(CSRF_COOKIE)
    return {CSRF_HEADER: cookie.value} if cookie else {}


def _enrol(
    app: Flask, client: FlaskClient, school: Organisation, authenticator: SoftAuthenticator
) -> dict[str, Any]:
    person = make_person(school, name="Nguyễn Thị Hồng Vân", username="vannth", roles=(rules.TEACHER,))
    token = invitation_token(app, person)
    info = client.get(f"/api/v1/invitations/{token}")
    assert info.status_code == 200
    assert info.get_json()["person_name"] == "Nguyễn Thị Hồng Vân"
    assert info.get_json()["school_name"] == "Trường Tiểu học Ngọc Thụy"
    options = client.post(f"/api/v1/invitations/{token}/passkey/options")
    assert options.status_code == 200
    public_key = options.get_json()["publicKey"]
    assert public_key["authenticatorSelection"]["residentKey"] == "required"
    assert public_key["authenticatorSelection"]["userVerification"] == "required"
    credential = authenticator.create(public_key)
    created = client.post(
        f"/api/v1/invitations/{token}/passkey", json={"credential": credential, "device_name": "Điện thoại"}
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert len(body["recovery_codes"]) == 10
    assert body["person"]["username"] == "vannth"
    assert body["person"]["factors"] == {"passkeys": 1, "totp": False}
    return {"token": token, "body": body}


def _sign_in(client: FlaskClient, authenticator: SoftAuthenticator) -> Any:
    options = client.post("/api/v1/auth/passkey/options")
    assert options.status_code == 200
    public_key = options.get_json()["publicKey"]
    assert not public_key.get("allowCredentials")
    assert public_key["userVerification"] == "required"
    return client.post("/api/v1/auth/passkey", json={"credential": authenticator.get(public_key)})


def test_invitation_passkey_logout_and_usernameless_sign_in(
    app: Flask, client: FlaskClient, school: Organisation
) -> None:
    authenticator = SoftAuthenticator()
    enrolled = _enrol(app, client, school, authenticator)
    assert client.get_cookie(SESSION_COOKIE) is not None
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.get_json()["csrf_token"] == client.get_cookie(CSRF_COOKIE).value

    assert client.post("/api/v1/auth/logout", headers=_csrf(client)).status_code == 204
    assert client.get("/api/v1/me").status_code == 401

    first = _sign_in(client, authenticator)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["person"]["display_name"] == "Nguyễn Thị Hồng Vân"
    count_after_first = session().query(Passkey).one().sign_count
    client.post("/api/v1/auth/logout", headers=_csrf(client))
    second = _sign_in(client, authenticator)
    assert second.status_code == 200
    session().expire_all()
    assert session().query(Passkey).one().sign_count == count_after_first + 1 == 2

    # the invitation is spent
    assert client.get(f"/api/v1/invitations/{enrolled['token']}").status_code == 410


def test_replayed_assertion_is_refused(app: Flask, client: FlaskClient, school: Organisation) -> None:
    authenticator = SoftAuthenticator()
    _enrol(app, client, school, authenticator)
    options = client.post("/api/v1/auth/passkey/options").get_json()["publicKey"]
    assertion = authenticator.get(options)
    assert client.post("/api/v1/auth/passkey", json={"credential": assertion}).status_code == 200
    replay = client.post("/api/v1/auth/passkey", json={"credential": assertion})
    assert replay.status_code == 401
    assert replay.get_json() == {
        "code": "auth.failed",
        "status": 401,
        "error": "Unauthorized",
        "message": "Verification failed.",
    }
    # even with a fresh challenge pending, the old assertion does not verify
    client.post("/api/v1/auth/passkey/options")
    assert client.post("/api/v1/auth/passkey", json={"credential": assertion}).status_code == 401


def test_assertion_for_another_challenge_is_refused(
    app: Flask, client: FlaskClient, school: Organisation
) -> None:
    authenticator = SoftAuthenticator()
    _enrol(app, client, school, authenticator)
    first = client.post("/api/v1/auth/passkey/options").get_json()["publicKey"]
    for_first = authenticator.get(first)
    client.post("/api/v1/auth/passkey/options")  # B replaces A
    assert client.post("/api/v1/auth/passkey", json={"credential": for_first}).status_code == 401


def test_expired_challenge_is_refused(
    app: Flask, client: FlaskClient, school: Organisation, clock: FrozenClock
) -> None:
    authenticator = SoftAuthenticator()
    _enrol(app, client, school, authenticator)
    options = client.post("/api/v1/auth/passkey/options").get_json()["publicKey"]
    clock.advance(minutes=5, seconds=1)
    assert (
        client.post("/api/v1/auth/passkey", json={"credential": authenticator.get(options)}).status_code
        == 401
    )


def test_counter_that_does_not_move_is_refused(app: Flask, client: FlaskClient, school: Organisation) -> None:
    authenticator = SoftAuthenticator()
    _enrol(app, client, school, authenticator)
    assert _sign_in(client, authenticator).status_code == 200
    options = client.post("/api/v1/auth/passkey/options").get_json()["publicKey"]
    cloned = authenticator.get(options, advance_counter=False)  # a cloned authenticator
    assert client.post("/api/v1/auth/passkey", json={"credential": cloned}).status_code == 401


def test_assertion_without_user_verification_is_refused(
    app: Flask, client: FlaskClient, school: Organisation
) -> None:
    authenticator = SoftAuthenticator()
    _enrol(app, client, school, authenticator)
    authenticator.user_verified = False
    assert _sign_in(client, authenticator).status_code == 401


def test_wrong_origin_is_refused(app: Flask, client: FlaskClient, school: Organisation) -> None:
    authenticator = SoftAuthenticator()
    _enrol(app, client, school, authenticator)
    options = client.post("/api/v1/auth/passkey/options").get_json()["publicKey"]
    phished = authenticator.get(options, origin="https://signet.example.evil")
    assert client.post("/api/v1/auth/passkey", json={"credential": phished}).status_code == 401


def test_assertion_from_another_browser_has_no_challenge(
    app: Flask, client: FlaskClient, school: Organisation
) -> None:
    authenticator = SoftAuthenticator()
    _enrol(app, client, school, authenticator)
    options = client.post("/api/v1/auth/passkey/options").get_json()["publicKey"]
    stranger = app.test_client()  # no pre-auth cookie: the challenge is bound to the first browser
    assert (
        stranger.post("/api/v1/auth/passkey", json={"credential": authenticator.get(options)}).status_code
        == 401
    )


def test_enrolment_creates_the_signing_credential_once(
    app: Flask, client: FlaskClient, school: Organisation
) -> None:
    from app.keys.models import Credential

    authenticator = SoftAuthenticator()
    body = _enrol(app, client, school, authenticator)["body"]
    person_id = body["person"]["id"]
    credentials = session().query(Credential).filter_by(owner_id=person_id).all()
    assert len(credentials) == 1
    credential = credentials[0]
    assert credential.status == "active" and credential.issued_by_dev_ca
    assert credential.tenant_id == school.id
    assert credential.organisation == "Trường Tiểu học Ngọc Thụy"
    # a second enrolment (lost phone, new invitation) adds a factor, not a second key
    token = invitation_token(app, _person(person_id))
    phone = SoftAuthenticator()
    options = client.post(f"/api/v1/invitations/{token}/passkey/options").get_json()["publicKey"]
    again = client.post(f"/api/v1/invitations/{token}/passkey", json={"credential": phone.create(options)})
    assert again.status_code == 201
    assert session().query(Credential).filter_by(owner_id=person_id).count() == 1


def _person(person_id: str) -> Any:
    from app.people.models import Person

    return session().get(Person, person_id)
