"""The time, replaceable in tests (``app.extensions["signet.clock"] = callable``)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context


def now() -> datetime:
    if has_app_context():
        clock = current_app.extensions.get("signet.clock")
        if clock is not None:
            value: datetime = clock()
            return value
    return datetime.now(UTC)
