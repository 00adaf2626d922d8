"""Backup and restore (``.ci/backup DIR``, ``.ci/restore DIR``): a transcript signed on one
installation, backed up, restored into an EMPTY var dir and an EMPTY database; then the transcript
verifies and downloads intact, a new one is signed through the whole chain with the restored HSM
token, and ``flask audit verify`` finds the audit chain intact.  SQLite, and PostgreSQL on a private
cluster (pg_dump -Fc / pg_restore)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hardening.stack import PrivatePostgres

pytestmark = [pytest.mark.slow, pytest.mark.hsm, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = (
    "SOFTHSM2_CONF",
    "HSM_USER_PIN",
    "DATABASE_URL",
    "SIGNET_VAR_DIR",
    "SECRET_KEY",
    "DATA_ENCRYPTION_KEY",
)


def _env(var: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LEFT_OUT and not k.startswith("CELERY_")}
    return {
        **env,
        "SIGNET_ENV": "test",
        "SIGNET_VAR_DIR": str(var),
        "DATABASE_URL": url,
        "CELERY_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "memory://",
        "PUBLIC_BASE_URL": "http://localhost:5000",  # the software authenticator's origin
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _phase(env: dict[str, str], *args: str) -> dict[str, object]:
    out = _run([sys.executable, "-m", "tests.hardening.backup_phases", *args], env)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, object] = json.loads(line.removeprefix("RESULT "))
    return result


def _flask(env: dict[str, str], *args: str) -> str:
    return _run([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args], env)


def _round_trip(tmp: Path, old_url: str, new_url: str) -> None:
    old, new, backup = tmp / "old-var", tmp / "new-var", tmp / "backup"
    old_env, new_env = _env(old, old_url), _env(new, new_url)
    _flask(old_env, "db-upgrade")
    _flask(old_env, "hsm", "init-dev-token")
    signed = _phase(old_env, "sign")

    _run([str(ROOT / ".ci" / "backup"), str(backup)], old_env)
    shutil.rmtree(old)  # the old machine is gone
    assert not new.exists()
    _run([str(ROOT / ".ci" / "restore"), str(backup)], new_env)
    _flask(new_env, "db-upgrade")

    checked = _phase(new_env, "check", str(signed["document_id"]))
    assert checked["old_sha256"] == signed["sha256"], "the restored file is not the signed one"
    assert checked["old_verdict"] == "verify.valid", checked
    assert checked["new_status"] == ["completed", 3], checked
    assert checked["new_verdict"] == "verify.valid", checked
    assert "audit chain intact" in _flask(new_env, "audit", "verify")


def test_backup_restore_sqlite(tmp_path: Path) -> None:
    _round_trip(
        tmp_path,
        f"sqlite:///{tmp_path / 'old-var' / 'signet.db'}",
        f"sqlite:///{tmp_path / 'new-var' / 'signet.db'}",
    )


@pytest.fixture
def cluster() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="signet-backup-pg-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    pg = PrivatePostgres(root / "cluster").start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_backup_restore_postgresql(tmp_path: Path, cluster: PrivatePostgres) -> None:
    old_url = cluster.create_database(f"old_{uuid.uuid4().hex[:8]}")
    new_url = cluster.create_database(f"new_{uuid.uuid4().hex[:8]}")  # empty: no tables
    _round_trip(tmp_path, old_url, new_url)
