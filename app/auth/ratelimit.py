"""Rate limits per client address on every authentication endpoint (flask-limiter).

Storage is ``settings.ratelimit_storage_uri`` (memory by default, Redis in production);
``settings.auth_rate_limit`` is the limit per address and endpoint ("off" disables it, e.g. for the
benchmark). Per-person failures are counted separately (``factors.note_failure``).
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.settings import Settings

limiter = Limiter(get_remote_address, key_prefix="signet", headers_enabled=True)


def _auth_limit() -> str:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings.auth_rate_limit


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["signet.settings"]
    enabled = settings.auth_rate_limit.strip().lower() not in {"off", "none", "0", ""}
    app.config["RATELIMIT_ENABLED"] = enabled
    app.config["RATELIMIT_STORAGE_URI"] = settings.ratelimit_storage_uri
    app.config.setdefault(
        "RATELIMIT_SWALLOW_ERRORS", settings.is_prod
    )  # Redis down: do not lock everyone out
    limiter.enabled = enabled
    limiter.init_app(app)


auth_limit = limiter.limit(_auth_limit)
