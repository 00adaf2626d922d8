"""One error family for the whole service.

Every failure a client can see is an ``AppError`` subclass with a stable machine ``code`` and an HTTP
status.  They are turned into one JSON shape in one place (``register_error_handlers``)::

    {"code": "document.encrypted", "status": 422, "error": "Unprocessable Entity",
     "message": "The PDF is encrypted; upload it without a password."}
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = structlog.get_logger(__name__)


class AppError(Exception):
    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "status": self.http_status,
            "error": HTTPStatus(self.http_status).phrase,
            "message": self.message,
        }
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(AppError):
    code = "request.invalid"
    http_status = 400
    default_message = "The request is not valid."


class NotFound(AppError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class Conflict(AppError):
    code = "conflict"
    http_status = 409
    default_message = "The request conflicts with the current state."


class Unprocessable(AppError):
    code = "unprocessable"
    http_status = 422
    default_message = "The content could not be processed."


class AuthenticationFailed(AppError):
    """Deliberately says nothing about why; the reason goes to the log and the audit trail."""

    code = "auth.failed"
    http_status = 401
    default_message = "Verification failed."


class Forbidden(AppError):
    code = "forbidden"
    http_status = 403
    default_message = "You are not allowed to do this."


class TooManyRequests(AppError):
    code = "rate_limited"
    http_status = 429
    default_message = "Too many attempts; wait a moment and try again."


class DependencyUnavailable(AppError):
    code = "unavailable"
    http_status = 503
    default_message = "A service Signet depends on is unavailable; try again shortly."


class DatabaseUnavailable(DependencyUnavailable):
    code = "database.unavailable"
    default_message = "The database does not answer; try again shortly."


class QueueUnavailable(DependencyUnavailable):
    code = "queue.unavailable"
    default_message = "The task queue does not answer; try again shortly."


def dependency_error(exc: BaseException) -> DependencyUnavailable | None:
    """The outage behind a driver exception (connection refused, server restarting), if it is one."""
    from kombu.exceptions import OperationalError as QueueError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout
    from sqlalchemy.exc import DBAPIError, InterfaceError
    from sqlalchemy.exc import OperationalError as SqlOperationalError

    if isinstance(exc, QueueError | RedisConnectionError | RedisTimeout):
        return QueueUnavailable()
    if isinstance(exc, SqlOperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return DatabaseUnavailable()
    return None


def error_response(body: dict[str, Any], status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def http_error_body(exc: HTTPException) -> dict[str, Any]:
    status = exc.code or 500
    body: dict[str, Any] = {
        "code": _HTTP_CODES.get(status, f"http.{status}"),
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": exc.description or HTTPStatus(status).description,
    }
    data = getattr(exc, "data", None)  # flask-smorest / webargs validation messages
    if isinstance(data, dict) and data.get("messages"):
        body["code"] = "request.validation"
        body["message"] = "Some fields are missing or not valid."
        body["details"] = data["messages"]
    return body


def http_error_response(exc: HTTPException) -> Response:
    """Werkzeug/flask-smorest HTTP errors in our shape, keeping headers such as Retry-After."""
    body = http_error_body(exc)
    response = error_response(body, body["status"])
    for name, value in ((getattr(exc, "data", None) or {}).get("headers") or {}).items():
        response.headers[name] = value
    return response


_HTTP_CODES = {
    400: "request.invalid",
    401: "auth.required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    422: "request.validation",
    429: "rate_limited",
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> Response:
        if exc.http_status >= 500:
            log.warning("app_error", code=exc.code, status=exc.http_status, message=exc.message)
        return error_response(exc.to_dict(), exc.http_status)

    app.register_error_handler(HTTPException, http_error_response)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        outage = dependency_error(exc)
        if outage is not None:  # a dependency is down: 503 with its code, not a 500
            log.warning("dependency_unavailable", code=outage.code, exc_type=type(exc).__name__)
            return error_response(outage.to_dict(), outage.http_status)
        log.exception("unhandled_exception", exc_type=type(exc).__name__)
        body = {
            "code": "internal",
            "status": 500,
            "error": "Internal Server Error",
            "message": "Something went wrong on our side; the incident has been logged.",
        }
        return error_response(body, 500)
