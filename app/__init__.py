"""Signet: the application factory."""

from __future__ import annotations

import uuid

import structlog
from flask import Flask, g, request

from app.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    from app.logging import configure_logging

    configure_logging(json=settings.log_json, level=settings.log_level)
    if settings.is_prod and not settings.trust_roots_der:
        # verification would call every signature untrusted: say so where operators look first
        structlog.get_logger(__name__).warning(
            "no_trust_roots", message="TRUST_ROOTS_FILE is not set: verification trusts no CA"
        )

    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_pdf_bytes * 6,
        JSON_SORT_KEYS=False,
    )
    app.extensions["signet.settings"] = settings

    from app import db, errors
    from app.audit import service as _audit  # noqa: F401 - registers the commit hook that chains records
    from app.keys import provider

    db.init_app(app, settings.database_url)
    provider.init_app(app, settings)
    errors.register_error_handlers(app)

    from app import api as api_pkg

    api_pkg.init_app(app)

    from app.cli import register_cli

    register_cli(app)

    from app import web

    web.init_app(app, settings)

    from app.jobs import make_celery

    make_celery(app)

    @app.before_request
    def _bind_request() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    return app


def get_settings() -> Settings:
    from flask import current_app

    settings: Settings = current_app.extensions["signet.settings"]
    return settings
