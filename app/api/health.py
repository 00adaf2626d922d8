"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

import structlog
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.db import get_db
from app.errors import AppError, dependency_error
from app.keys.provider import get_hsm

log = structlog.get_logger(__name__)
blp = Blueprint("health", __name__, url_prefix="/", description="Process and dependency health")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class CheckSchema(Schema):
    ok = fields.Boolean(required=True)
    code = fields.String(allow_none=True)
    message = fields.String(allow_none=True)


class ReadySchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok or unavailable"})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema), required=True)


@blp.route("healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}


def _check(name: str, probe: Any) -> dict[str, Any]:
    try:
        probe()
        return {"ok": True, "code": None, "message": None}
    except Exception as exc:
        log.warning("readiness_check_failed", check=name, exc_type=type(exc).__name__)
        # our code for it: never a driver's own ``code`` attribute (SQLAlchemy's are "e3q8" and such)
        known = exc if isinstance(exc, AppError) else dependency_error(exc)
        return {
            "ok": False,
            "code": known.code if known is not None else f"{name}.unavailable",
            "message": known.message if known is not None else f"{name} does not answer",
        }


def _queue_ping() -> None:
    """The Redis broker answers (the embedded broker lives in the database and needs no probe)."""
    from app.errors import QueueUnavailable

    url = str(current_app.extensions["celery"].conf.broker_url or "")
    if url.startswith(("redis://", "rediss://")):
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
        except redis.RedisError as exc:
            raise QueueUnavailable() from exc


def _store_writable() -> None:
    """The document store's filesystem has room for a signed transcript."""
    import os

    from app.documents.storage import FilesystemStore, StoreFull, get_store

    store = get_store()
    if isinstance(store, FilesystemStore) and store.root.exists():
        stats = os.statvfs(store.root)
        if stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
            raise StoreFull()


MIN_FREE_BYTES = 1 << 20


def readiness() -> tuple[dict[str, Any], int]:
    checks = {
        "database": _check("database", get_db().ping),
        "hsm": _check("hsm", lambda: get_hsm().status()),
        "queue": _check("queue", _queue_ping),
        "documents": _check("documents", _store_writable),
    }
    for name, probe in current_app.extensions.get("signet.ready_checks", {}).items():
        checks[name] = _check(name, probe)
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503


@blp.route("readyz")
class Ready(MethodView):
    @blp.response(200, ReadySchema)
    @blp.alt_response(
        503, schema=ReadySchema, description="a dependency does not answer; `checks` says which"
    )
    def get(self) -> tuple[dict[str, Any], int]:
        """Database and HSM answer."""
        return readiness()
