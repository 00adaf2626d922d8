"""TOTP windows and replay, recovery code format, CSRF tokens: the pure parts of auth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp

from app.auth import crypto, factors, sessions
from app.settings import Settings

T0 = datetime(2024, 9, 16, 8, 0, 15, tzinfo=UTC)
SECRET = pyotp.random_base32()


def _code(at: datetime) -> str:
    return pyotp.TOTP(SECRET).at(int(at.timestamp()))


def test_current_previous_and_next_step_are_accepted() -> None:
    step = int(T0.timestamp()) // 30
    for offset in (-1, 0, 1):
        assert factors.match_totp_step(
            SECRET, _code(T0 + timedelta(seconds=30 * offset)), T0, after_step=None
        ) == (step + offset)


def test_codes_two_steps_away_are_refused() -> None:
    assert factors.match_totp_step(SECRET, _code(T0 - timedelta(seconds=60)), T0, after_step=None) is None
    assert factors.match_totp_step(SECRET, _code(T0 + timedelta(seconds=60)), T0, after_step=None) is None


def test_a_used_step_and_earlier_ones_are_refused() -> None:
    step = int(T0.timestamp()) // 30
    assert factors.match_totp_step(SECRET, _code(T0), T0, after_step=step) is None
    assert factors.match_totp_step(SECRET, _code(T0 - timedelta(seconds=30)), T0, after_step=step) is None
    assert factors.match_totp_step(SECRET, _code(T0 + timedelta(seconds=30)), T0, after_step=step) == step + 1


def test_malformed_codes() -> None:
    for code in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert factors.match_totp_step(SECRET, code, T0, after_step=None) is None
    spaced = _code(T0)
    assert factors.match_totp_step(SECRET, f"{spaced[:3]} {spaced[3:]}", T0, after_step=None) is not None


def test_recovery_code_normalisation() -> None:
    assert factors.normalise_recovery_code(" k7qf-2mzx-9p3a ") == "K7QF2MZX9P3A"


def test_csrf_token_is_bound_to_the_session(base_settings: Settings) -> None:
    one, two = crypto.random_token(), crypto.random_token()
    assert sessions.csrf_for(base_settings, one) == sessions.csrf_for(base_settings, one)
    assert sessions.csrf_for(base_settings, one) != sessions.csrf_for(base_settings, two)
    other_key = base_settings.with_(secret_key="another-secret-key-entirely")
    assert sessions.csrf_for(base_settings, one) != sessions.csrf_for(other_key, one)


def test_fernet_round_trip_and_digest(base_settings: Settings) -> None:
    sealed = crypto.encrypt(base_settings, "001185012345")
    assert "001185012345" not in sealed
    assert crypto.decrypt(base_settings, sealed) == "001185012345"
    assert crypto.same(crypto.digest("a"), crypto.digest("a"))
    assert not crypto.same(crypto.digest("a"), crypto.digest("b"))
