"""Web security: CSP, HSTS in production, frame-ancestors, Referrer-Policy, cookie flags, CSRF on
every state-changing route authenticated by the session cookie, and no session fixation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.auth.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from app.people import rules
from app.settings import Settings
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.clock import FrozenClock
from tests.support.factories import invitation_token, make_person, make_school, sign_in

clock, school = fixtures.clock, fixtures.school

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# routes a browser reaches before it has a session: they read no session cookie, so there is no
# cookie authority to forge (sign-in, enrolment by invitation, the OAuth token endpoint, CSC with
# Bearer tokens, the public verification page)
COOKIELESS = re.compile(
    r"^/api/v1/(auth/(passkey|totp|recovery|logout)|invitations/|oauth2/token|verify)|^/csc/|^/api/v1/csc/"
)


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in csp.split(";") if part.strip()}


@pytest.fixture
def prod_app(settings: Settings) -> Iterator[Flask]:
    """The production configuration (served behind HTTPS)."""
    application = create_app(settings.with_(env="prod", public_base_url="https://signet.hanoi.edu.vn"))
    with application.app_context():
        yield application


@pytest.mark.parametrize("path", ["/", "/api/v1/me", "/healthz", "/api/openapi.json", "/inbox"])
def test_strict_csp_and_framing_and_referrer_on_every_kind_of_response(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == "default-src 'self'"
    script = csp["script-src"]
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script and "*" not in script
    assert csp["object-src"] == "object-src 'none'"
    assert csp["base-uri"] == "base-uri 'none'"
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] in {"same-origin", "no-referrer", "strict-origin"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_in_production(client: FlaskClient, prod_app: Flask) -> None:
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    hsts = prod_app.test_client().get("/healthz").headers["Strict-Transport-Security"]
    max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))  # type: ignore[union-attr]
    assert max_age >= 31536000 and "includeSubDomains" in hsts
    # also on errors and on the PWA shell
    assert "Strict-Transport-Security" in prod_app.test_client().get("/api/v1/nothing").headers
    assert "Strict-Transport-Security" in prod_app.test_client().get("/").headers


def _enrol_totp(client: FlaskClient, app: Flask, person_id: str, clock: FrozenClock) -> tuple[str, object]:
    from app.db import session
    from app.people.models import Person

    person = session().get(Person, person_id)
    assert person is not None
    token = invitation_token(app, person)
    body = client.post(f"/api/v1/invitations/{token}/totp/options").get_json()
    assert "otpauth_uri" in body, body
    secret = parse_qs(urlparse(body["otpauth_uri"]).query)["secret"][0]
    done = client.post(
        f"/api/v1/invitations/{token}/totp",
        json={"enrolment_id": body["enrolment_id"], "code": pyotp.TOTP(secret).at(clock.timestamp())},
    )
    assert done.status_code == 201, done.get_json()
    return secret, done


def _cookies(response: object) -> dict[str, str]:
    headers = response.headers.getlist("Set-Cookie")  # type: ignore[attr-defined]
    return {c.split("=", 1)[0]: c for c in headers}


def test_cookie_flags_in_production(prod_app: Flask, clock: FrozenClock) -> None:
    prod_app.extensions["signet.clock"] = clock
    school = make_school("Trường Tiểu học Ngọc Thụy", "NT-PROD")
    person = make_person(school, username="prodtotp")
    _, done = _enrol_totp(prod_app.test_client(), prod_app, person.id, clock)
    cookies = _cookies(done)
    session_cookie, csrf_cookie = cookies[SESSION_COOKIE], cookies[CSRF_COOKIE]
    for cookie in (session_cookie, csrf_cookie):
        assert "Secure" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "HttpOnly" in session_cookie
    assert "HttpOnly" not in csrf_cookie  # the PWA reads it to send X-CSRF-Token


def test_session_id_changes_at_sign_in(app: Flask, school: Organisation, clock: FrozenClock) -> None:
    """A session cookie planted before sign-in (or an earlier session) is never the one signed in."""
    person = make_person(school, username="fixation")
    secret, _ = _enrol_totp(app.test_client(), app, person.id, clock)
    earlier = sign_in(app, person)  # a live session of the same person
    planted = earlier.client.get_cookie(SESSION_COOKIE, domain="localhost").value  # type: ignore[union-attr]

    victim = app.test_client()
    victim.set_cookie(SESSION_COOKIE, planted, domain="localhost")
    clock.advance(seconds=30)
    code = pyotp.TOTP(secret).at(clock.timestamp())
    response = victim.post(
        "/api/v1/auth/totp", json={"username": "fixation", "code": code}, headers={CSRF_HEADER: "x"}
    )
    assert response.status_code == 200, response.get_json()
    issued = _cookies(response)[SESSION_COOKIE].split(";", 1)[0].split("=", 1)[1]
    assert issued != planted
    assert victim.get_cookie(SESSION_COOKIE, domain="localhost").value == issued  # type: ignore[union-attr]
    assert victim.get("/api/v1/me").get_json()["username"] == "fixation"


def _rules(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & set(UNSAFE)):
            path = re.sub(
                r"<(?:[^:>]+:)?([^>]+)>", lambda m: "1" if "int" in m.group(0) else "x" * 8, rule.rule
            )
            found.append((method, path))
    return found


def test_csrf_is_required_on_every_state_changing_route(app: Flask, school: Organisation) -> None:
    """Each POST/PUT/PATCH/DELETE sent with a live session cookie of a person holding every school
    role, but without the X-CSRF-Token header (or with a forged one), changes nothing: 403 auth.csrf
    (a route that reads no session: never a 2xx on the cookie's authority)."""
    everyone = make_person(
        school,
        username="allroles",
        roles=(rules.SCHOOL_ADMIN, rules.CLERK, rules.PRINCIPAL, rules.TEACHER, rules.AUDITOR),
    )
    routes = _rules(app)
    assert len(routes) > 30
    checked = 0
    for method, path in routes:
        for headers in ({}, {CSRF_HEADER: "forged-" + "x" * 36}):
            signed_in = sign_in(app, everyone)
            response = signed_in.client.open(path, method=method, json={}, headers=headers)
            body = response.get_json(silent=True) or {}
            if COOKIELESS.search(path):
                assert response.status_code < 500, (method, path, body)
                continue
            assert response.status_code not in range(200, 300), (method, path, response.status_code)
            assert response.status_code < 500, (method, path, body)
            if response.status_code == 403:
                assert body.get("code") in {"auth.csrf", "forbidden"}, (method, path, body)
            checked += 1
    assert checked > 30


def test_csrf_checked_before_validation_on_session_routes(app: Flask, school: Organisation) -> None:
    """The classic forged form post (form-encoded, no header) is refused for a signed-in clerk."""
    clerk = sign_in(app, make_person(school, roles=(rules.CLERK,)))
    for path, data in (
        ("/api/v1/classes", {"name": "9Z", "school_year": "2024-2025"}),
        ("/api/v1/documents", {"manifest": "x"}),
    ):
        response = clerk.client.post(path, data=data, headers={"Origin": "https://evil.example"})
        assert response.status_code in {403, 415, 422}, (path, response.get_json())
        assert response.status_code != 201
