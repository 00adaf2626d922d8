from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings, SettingsError


def test_prod_refuses_placeholder_secrets(tmp_path: Path) -> None:
    env = {
        "SIGNET_ENV": "prod",
        "SIGNET_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "change-me",
        "DATA_ENCRYPTION_KEY": "x" * 44,
        "HSM_USER_PIN": "12345678",
        "DATABASE_URL": "postgresql+psycopg://db/signet",
    }
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env(env)


def test_prod_refuses_sqlite(tmp_path: Path) -> None:
    env = {
        "SIGNET_ENV": "prod",
        "SIGNET_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
        "DATA_ENCRYPTION_KEY": "k" * 44,
        "HSM_USER_PIN": "98765432",
    }
    with pytest.raises(SettingsError, match="PostgreSQL"):
        Settings.from_env(env)


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file-secret-value\n")
    settings = Settings.from_env({"SIGNET_VAR_DIR": str(tmp_path), "SECRET_KEY_FILE": str(secret_file)})
    assert settings.secret_key == "from-a-file-secret-value"


def test_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY_FILE"):
        Settings.from_env({"SIGNET_VAR_DIR": str(tmp_path), "SECRET_KEY_FILE": str(tmp_path / "nope")})


def test_dev_secrets_are_generated_once(tmp_path: Path) -> None:
    first = Settings.from_env({"SIGNET_VAR_DIR": str(tmp_path)})
    second = Settings.from_env({"SIGNET_VAR_DIR": str(tmp_path)})
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 40
    assert (tmp_path / "secrets" / "secret_key").stat().st_mode & 0o077 == 0


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = Settings.from_env({"SIGNET_VAR_DIR": str(tmp_path)})
    with pytest.raises(AttributeError):
        settings.env = "prod"  # type: ignore[misc]
