"""Test fixtures shared by every folder.

- one real SoftHSM token per test session (its own directory; SOFTHSM2_CONF set before the module
  is loaded);
- one migrated database per session: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set;
  every table is emptied after each test that used it;
- ``app`` / ``client`` built from the factory with test settings.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from celery import Celery
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text

from app import create_app
from app.settings import Settings

TEST_TOKEN_LABEL = "signet-test"


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def softhsm_token(var_dir: Path) -> Path:
    """A fresh SoftHSM token for this test session. Returns the softhsm2.conf path."""
    if shutil.which("softhsm2-util") is None:
        pytest.fail("softhsm2-util missing: run `make test`, which installs Debian's softhsm2")
    from app.keys.devtoken import ensure_dev_token

    conf, _ = ensure_dev_token(var_dir, TEST_TOKEN_LABEL)
    os.environ["SOFTHSM2_CONF"] = str(conf)
    return conf


@pytest.fixture(scope="session")
def database_url(var_dir: Path) -> Iterator[str]:
    """SQLite file by default; with TEST_DATABASE_URL, a schema of its own in that PostgreSQL
    database (so parallel runs never share tables), dropped at the end."""
    from app.migrate import upgrade

    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        url = f"sqlite:///{var_dir / 'test.db'}"
        upgrade(url)
        yield url
        return
    schema = f"test_{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def base_settings(var_dir: Path, softhsm_token: Path, database_url: str) -> Settings:
    pin = (var_dir / "softhsm" / "user.pin").read_text().strip()
    env = {
        "SIGNET_ENV": "test",
        "SIGNET_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "HSM_TOKEN_LABEL": TEST_TOKEN_LABEL,
        "HSM_USER_PIN": pin,
        "CELERY_BROKER_URL": os.environ.get("TEST_BROKER_URL", "memory://"),
        "CELERY_ALWAYS_EAGER": "false" if os.environ.get("TEST_BROKER_URL") else "true",
        "CELERY_QUEUE": f"signet-test-{os.getpid()}",  # parallel runs never take each other's tasks
        "PUBLIC_BASE_URL": "http://localhost:5000",
        "LOG_LEVEL": "WARNING",
    }
    return Settings.from_env(env)


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    application.config["TESTING"] = True
    with application.app_context():
        yield application
    _empty_tables(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def task_worker(app: Flask) -> Iterator[Celery | None]:
    """A real Celery worker (in-process thread) when the suite runs on a real broker
    (TEST_BROKER_URL); with the eager default, tasks already run inline and this is a no-op."""
    celery: Celery = app.extensions["celery"]
    if celery.conf.task_always_eager:
        yield None
        return
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"):
        yield celery


def wait_for(predicate: Callable[[], object], *, timeout: float = 30, interval: float = 0.05) -> None:
    """Poll until ``predicate()`` is truthy (work done by a real worker is asynchronous)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def _empty_tables(application: Flask) -> None:
    from app.db import Base
    from app.models import import_all_models

    import_all_models()
    engine = application.extensions["signet.db"].engine
    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in existing:  # a model whose migration is still being written
                conn.execute(table.delete())
    engine.dispose()
