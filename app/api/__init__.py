"""Shared HTTP plumbing: the flask-smorest ``Api`` and helpers every blueprint uses."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from app.errors import http_error_response


class ErrorSchema(Schema):
    """The one error shape, as published in the spec (flask-smorest's own is ``{code: int, ...}``)."""

    code = fields.String(
        required=True, metadata={"description": "stable machine code, e.g. document.encrypted"}
    )
    status = fields.Integer(required=True)
    error = fields.String(required=True, metadata={"description": "HTTP reason phrase"})
    message = fields.String(required=True, metadata={"description": "human message"})
    details = fields.Dict()


class SignetApi(Api):
    """flask-smorest's Api with our one error shape for HTTP errors (404, 405, 422 ...)."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error_response(error)


API_TITLE = "Signet"
API_VERSION = "v1"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "status", "error", "message"],
    "properties": {
        "code": {"type": "string", "description": "stable machine code, e.g. document.encrypted"},
        "status": {"type": "integer"},
        "error": {"type": "string", "description": "HTTP reason phrase"},
        "message": {"type": "string", "description": "human message"},
        "details": {"type": "object"},
    },
}


def init_app(app: Flask) -> Api:
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_REDOC_PATH="/docs",
        # served from the PWA build (frontend/ copies it from the npm package ``redoc``): no CDN
        OPENAPI_REDOC_URL="/vendor/redoc.standalone.js",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Signet — shared remote signing for schools. Every error has the shape "
                "`{code, status, error, message}`.",
            },
        },
    )
    api = SignetApi(app)
    app.extensions["signet.api"] = api
    spec = api.spec
    if "Error" not in spec.components.schemas:
        spec.components.schema("Error", ERROR_SCHEMA)
    from app.api import health

    api.register_blueprint(health.blp)
    for blueprint in _domain_blueprints():
        api.register_blueprint(blueprint)
    return api


def _domain_blueprints() -> list[Any]:
    """Every domain's ``api.blp`` (or ``api.blps``); see app/discovery.py."""
    from app.discovery import domain_modules

    found: list[Any] = []
    for module in domain_modules("api"):
        found.extend(getattr(module, "blps", None) or [module.blp])
    return found
