"""TOTP enrolment and sign-in, recovery codes, failure locks."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.auth.factors import LOCK_FOR
from app.people import rules
from app.people.models import Person
from app.tenants.models import Organisation
from tests.support import fixtures
from tests.support.clock import FrozenClock
from tests.support.factories import invitation_token, make_person, sign_in

clock, school = fixtures.clock, fixtures.school


def _enrol_totp(app: Flask, client: FlaskClient, person: Person, clock: FrozenClock) -> tuple[str, list[str]]:
    token = invitation_token(app, person)
    options = client.post(f"/api/v1/invitations/{token}/totp/options")
    assert options.status_code == 200
    body = options.get_json()
    uri = urlparse(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    params = parse_qs(uri.query)
    assert params["issuer"] == ["Signet"]
    secret = params["secret"][0]
    assert body["qr_svg"].startswith("<svg")
    code = pyotp.TOTP(secret).at(clock.timestamp())
    done = client.post(
        f"/api/v1/invitations/{token}/totp", json={"enrolment_id": body["enrolment_id"], "code": code}
    )
    assert done.status_code == 201, done.get_json()
    assert done.get_json()["person"]["factors"] == {"passkeys": 0, "totp": True}
    return secret, done.get_json()["recovery_codes"]


@pytest.fixture
def teacher(app: Flask, school: Organisation) -> Person:
    return make_person(school, name="Trần Văn Minh", username="minhtv", roles=(rules.TEACHER,))


@pytest.mark.parametrize("instant", [0, 59, 1111111109, 1234567890, 2000000000, 1726473600])
def test_pyotp_and_oathtool_agree(instant: int) -> None:
    secret = pyotp.random_base32()
    ours = pyotp.TOTP(secret).at(instant)
    theirs = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "--now", f"@{instant}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert ours == theirs


def test_code_from_oathtool_signs_in_and_works_only_once(
    app: Flask, client: FlaskClient, teacher: Person, clock: FrozenClock
) -> None:
    secret, _ = _enrol_totp(app, client, teacher, clock)
    client.post("/api/v1/auth/logout")  # no session cookie → 204 either way
    clock.advance(seconds=30)
    code = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "--now", f"@{clock.timestamp()}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    fresh = app.test_client()
    first = fresh.post("/api/v1/auth/totp", json={"username": "minhtv", "code": code})
    assert first.status_code == 200
    assert first.get_json()["person"]["username"] == "minhtv"
    again = app.test_client().post("/api/v1/auth/totp", json={"username": "MinhTV", "code": code})
    assert again.status_code == 401
    assert again.get_json()["message"] == "Verification failed."


def test_enrolment_code_cannot_sign_in_again(
    app: Flask, client: FlaskClient, teacher: Person, clock: FrozenClock
) -> None:
    secret, _ = _enrol_totp(app, client, teacher, clock)
    code = pyotp.TOTP(secret).at(clock.timestamp())
    assert (
        app.test_client().post("/api/v1/auth/totp", json={"username": "minhtv", "code": code}).status_code
        == 401
    )


def test_five_wrong_codes_lock_the_factor(
    app: Flask, client: FlaskClient, teacher: Person, school: Organisation, clock: FrozenClock
) -> None:
    secret, _ = _enrol_totp(app, client, teacher, clock)
    totp = pyotp.TOTP(secret)
    anonymous = app.test_client()
    for _ in range(5):
        clock.advance(seconds=1)
        wrong = f"{(int(totp.at(clock.timestamp())) + 1) % 1_000_000:06d}"
        assert (
            anonymous.post("/api/v1/auth/totp", json={"username": "minhtv", "code": wrong}).status_code == 401
        )
    clock.advance(seconds=30)
    right = totp.at(clock.timestamp())
    locked = anonymous.post("/api/v1/auth/totp", json={"username": "minhtv", "code": right})
    assert locked.status_code == 401  # the right code, refused: the factor is locked

    admin = sign_in(app, make_person(school, username="clerk1", roles=(rules.CLERK,)))
    unlocked = admin.post(f"/api/v1/people/{teacher.id}/unlock")
    assert unlocked.status_code == 200
    assert unlocked.get_json() == {"unlocked": ["totp"]}
    assert anonymous.post("/api/v1/auth/totp", json={"username": "minhtv", "code": right}).status_code == 200


def test_lock_ends_after_fifteen_minutes(
    app: Flask, client: FlaskClient, teacher: Person, clock: FrozenClock
) -> None:
    secret, _ = _enrol_totp(app, client, teacher, clock)
    anonymous = app.test_client()
    for _ in range(5):
        anonymous.post("/api/v1/auth/totp", json={"username": "minhtv", "code": "000000"})
    clock.advance(seconds=LOCK_FOR.total_seconds() - 30)
    code = pyotp.TOTP(secret).at(clock.timestamp())
    assert anonymous.post("/api/v1/auth/totp", json={"username": "minhtv", "code": code}).status_code == 401
    clock.advance(seconds=60)
    code = pyotp.TOTP(secret).at(clock.timestamp())
    assert anonymous.post("/api/v1/auth/totp", json={"username": "minhtv", "code": code}).status_code == 200


def test_unknown_username_fails_like_a_wrong_code(app: Flask, client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/totp", json={"username": "nobody", "code": "123456"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "auth.failed"


def test_recovery_codes_are_single_use(
    app: Flask, client: FlaskClient, teacher: Person, clock: FrozenClock
) -> None:
    _, codes = _enrol_totp(app, client, teacher, clock)
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", c) for c in codes)
    used = app.test_client().post(
        "/api/v1/auth/recovery", json={"username": "minhtv", "code": codes[3].lower()}
    )
    assert used.status_code == 200
    assert used.get_json()["remaining_recovery_codes"] == 9
    again = app.test_client().post("/api/v1/auth/recovery", json={"username": "minhtv", "code": codes[3]})
    assert again.status_code == 401


def test_mistyped_enrolment_code_may_be_retried(
    app: Flask, client: FlaskClient, teacher: Person, clock: FrozenClock
) -> None:
    token = invitation_token(app, teacher)
    body = client.post(f"/api/v1/invitations/{token}/totp/options").get_json()
    secret = parse_qs(urlparse(body["otpauth_uri"]).query)["secret"][0]
    bad = client.post(
        f"/api/v1/invitations/{token}/totp", json={"enrolment_id": body["enrolment_id"], "code": "1"}
    )
    assert bad.status_code == 401
    good = client.post(
        f"/api/v1/invitations/{token}/totp",
        json={"enrolment_id": body["enrolment_id"], "code": pyotp.TOTP(secret).at(clock.timestamp())},
    )
    assert good.status_code == 201


def test_totp_codes_at_fixed_instants_match_the_server(
    app: Flask, teacher: Person, clock: FrozenClock
) -> None:
    clock.now = datetime(2025, 1, 10, 7, 30, tzinfo=UTC)
    client = app.test_client()
    secret, _ = _enrol_totp(app, client, teacher, clock)
    clock.advance(seconds=90)
    code = subprocess.run(
        ["oathtool", "--totp", "-b", secret, "--now", f"@{clock.timestamp()}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert (
        app.test_client().post("/api/v1/auth/totp", json={"username": "minhtv", "code": code}).status_code
        == 200
    )
