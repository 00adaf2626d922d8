"""HTTP: the CSC API under ``/csc/v1`` and ``/csc/v2`` (CSC error bodies), and the PWA's approval inbox.

CSC errors are ``{"error": "invalid_request", "error_description": "..."}`` with the HTTP status, not
the app's usual shape: every exception raised inside a CSC blueprint goes through ``_csc_error``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import structlog
from flask import Response, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from app.auth.guard import login_required
from app.csc import approvals, service
from app.csc.errors import CscError, CscInvalidRequest, CscUnauthorized
from app.csc.schemas import (
    CscApprovalDecisionSchema,
    CscApprovalOptionsSchema,
    CscApprovalReadSchema,
    CscAuthorizeCheckRequestSchema,
    CscAuthorizeRequestSchema,
    CscCredentialInfoSchema,
    CscErrorSchema,
    CscExtendRequestSchema,
    CscInfoRequestSchema,
    CscInfoSchema,
    CscListRequestSchema,
    CscListSchema,
    CscSadSchema,
    CscSignaturesSchema,
    CscSignHashRequestSchema,
    CscTimestampRequestSchema,
    CscTimestampSchema,
    CscTokenRequestSchema,
    CscTokenSchema,
)
from app.errors import AppError

log = structlog.get_logger(__name__)

_STATUS_ERRORS = {401: "invalid_token", 403: "access_denied", 404: "invalid_request", 429: "slow_down"}
BAD = {
    "schema": CscErrorSchema,
    "description": "invalid_request (missing or invalid parameter, SAD, hash...)",
}
UNAUTHORIZED = {"schema": CscErrorSchema, "description": "invalid_token: missing, unknown or expired token"}
DENIED = {"schema": CscErrorSchema, "description": "access_denied: the signer rejected or did not approve"}


def _csc_error(exc: Exception) -> Response:
    if isinstance(exc, CscError):
        status, error, description = exc.http_status, exc.csc_error, exc.message
    elif isinstance(exc, AppError):
        status = exc.http_status
        error = _STATUS_ERRORS.get(status, "server_error" if status >= 500 else "invalid_request")
        description = exc.message
        if status >= 500:
            log.warning("csc_error", code=exc.code, status=status)
    elif isinstance(exc, HTTPException):
        status = exc.code or 500
        description = exc.description or HTTPStatus(status).phrase
        messages = (getattr(exc, "data", None) or {}).get("messages")
        if status == 422:
            status = 400
            fields = sorted({name for location in (messages or {}).values() for name in location})
            description = (
                "Missing or invalid parameter: " + ", ".join(fields) if fields else "Invalid request."
            )
        error = _STATUS_ERRORS.get(status, "server_error" if status >= 500 else "invalid_request")
    else:
        log.exception("csc_unhandled_exception", exc_type=type(exc).__name__)
        status, error, description = 500, "server_error", "Something went wrong on our side."
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="csc"'
    return response


def _caller() -> service.Caller:
    from app.auth.guard import current_principal

    header = request.headers.get("Authorization", "")
    if header[:7].lower() != "bearer ":
        raise CscUnauthorized("An access token is required (Authorization: Bearer).")
    principal = current_principal()
    if principal is None or principal.kind != "api_client" or not principal.tenant_id:
        raise CscUnauthorized()
    return service.Caller(api_client_id=principal.id, tenant_id=principal.tenant_id)


def _basic() -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header[:6].lower() != "basic ":
        return None, None
    try:
        user, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, None
    return user or None, secret or None


def _token_body() -> dict[str, Any]:
    body: dict[str, Any] = dict(request.form) if request.form else (request.get_json(silent=True) or {})
    if not isinstance(body, dict):
        raise CscInvalidRequest("The body must be a form or a JSON object.")
    user, secret = _basic()
    if user and not body.get("client_id"):
        body["client_id"], body["client_secret"] = user, secret
    return body


def _pick(args: dict[str, Any], v1: str, v2: str) -> Any:
    value = args.get(v1)
    return value if value is not None else args.get(v2)


def _sad(outcome: service.AuthorizeOutcome) -> dict[str, Any]:
    return {"SAD": outcome.sad, "expiresIn": outcome.expires_in}


def _build(version: int) -> Blueprint:
    blp = Blueprint(
        f"csc_v{version}",
        __name__,
        url_prefix=f"/csc/v{version}",
        description=f"Cloud Signature Consortium API v{version} ({service.SPECS[version]} field names"
        + (" and v2 names" if version == 2 else ", v2 names accepted")
        + "). Errors: HTTP status + {error, error_description}.",
    )
    blp.register_error_handler(Exception, _csc_error)
    route: Callable[..., Any] = blp.route

    @route("/info", methods=["POST", "GET"])
    @blp.response(200, CscInfoSchema)
    def info() -> dict[str, Any]:
        """Service information (no token needed)."""
        return service.service_info(version)

    @route("/oauth2/token", methods=["POST"])
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": CscTokenRequestSchema},
                "application/json": {"schema": CscTokenRequestSchema},
            },
        },
        description="The school's API client credentials, in the body or as HTTP Basic.",
    )
    @blp.response(200, CscTokenSchema)
    @blp.alt_response(400, **BAD)
    @blp.alt_response(401, schema=CscErrorSchema, description="invalid_client")
    def oauth2_token() -> dict[str, Any]:
        """OAuth2 client credentials: a short-lived Bearer token."""
        body = _token_body()
        return service.issue_token(
            grant_type=body.get("grant_type"),
            client_id=body.get("client_id"),
            client_secret=body.get("client_secret"),
        )

    @route("/auth/login", methods=["POST"])
    @blp.response(200, CscTokenSchema)
    @blp.alt_response(401, schema=CscErrorSchema, description="invalid_client")
    def auth_login() -> dict[str, Any]:
        """HTTP Basic with the API client's id and secret: a short-lived Bearer token."""
        user, secret = _basic()
        if not user:
            raise CscUnauthorized("HTTP Basic credentials are required.")
        return service.issue_token(grant_type="client_credentials", client_id=user, client_secret=secret)

    @route("/credentials/list", methods=["POST"])
    @blp.arguments(CscListRequestSchema)
    @blp.response(200, CscListSchema)
    @blp.alt_response(401, **UNAUTHORIZED)
    def credentials_list(args: dict[str, Any]) -> dict[str, Any]:
        """The school's credentials (``userID``: one person's)."""
        ids = service.list_credentials(
            _caller(), user_id=args.get("userID"), max_results=args.get("maxResults")
        )
        return {"credentialIDs": ids}

    @route("/credentials/info", methods=["POST"])
    @blp.arguments(CscInfoRequestSchema)
    @blp.response(200, CscCredentialInfoSchema)
    @blp.alt_response(400, **BAD)
    @blp.alt_response(401, **UNAUTHORIZED)
    def credentials_info(args: dict[str, Any]) -> dict[str, Any]:
        """Key (signature algorithm OIDs), certificates (signer first), SCAL 2, multisign."""
        return service.credential_info(
            _caller(),
            credential_id=args["credentialID"],
            certificates=args["certificates"],
            cert_info=args["certInfo"],
        )

    if version == 1:
        authorize_doc = "Waits (bounded) until the signer approves on the phone, then returns the SAD."
    else:
        authorize_doc = (
            "Answers 202 with a handle; poll credentials/authorizeCheck until the signer approves."
        )

    @route("/credentials/authorize", methods=["POST"])
    @blp.arguments(CscAuthorizeRequestSchema)
    @blp.response(200 if version == 1 else 202, CscSadSchema, description=authorize_doc)
    @blp.alt_response(400, **BAD)
    @blp.alt_response(401, **UNAUTHORIZED)
    @blp.alt_response(403, **DENIED)
    def credentials_authorize(args: dict[str, Any]) -> Any:
        """A SAD for exactly these hashes, once the credential's owner approves with a passkey."""
        outcome = service.authorize(
            _caller(),
            credential_id=args["credentialID"],
            num_signatures=args.get("numSignatures"),
            hashes_b64=_pick(args, "hash", "hashes"),
            hash_oid=_pick(args, "hashAlgo", "hashAlgorithmOID"),
            description=args.get("description"),
            secrets_offered=any(args.get(k) for k in ("PIN", "OTP", "authData")),
            wait_seconds=service.config().v1_wait_seconds if version == 1 else 0,
        )
        return _sad(outcome) if version == 1 else {"handle": outcome.handle}

    if version >= 2:

        @route("/credentials/authorizeCheck", methods=["POST"])
        @blp.arguments(CscAuthorizeCheckRequestSchema)
        @blp.response(200, CscSadSchema, description="approved: the SAD (handed out once)")
        @blp.alt_response(202, schema=CscSadSchema, description="still waiting for the signer: the handle")
        @blp.alt_response(400, **BAD)
        @blp.alt_response(401, **UNAUTHORIZED)
        @blp.alt_response(403, **DENIED)
        def credentials_authorize_check(args: dict[str, Any]) -> Any:
            """The state of an authorisation: 202 while pending, then the SAD once."""
            outcome = service.authorize_check(
                _caller(), handle=args["handle"], credential_id=args.get("credentialID")
            )
            return ({"handle": outcome.handle}, 202) if outcome.pending else _sad(outcome)

    @route("/credentials/extendTransaction", methods=["POST"])
    @blp.arguments(CscExtendRequestSchema)
    @blp.response(200, CscSadSchema)
    @blp.alt_response(400, **BAD)
    @blp.alt_response(401, **UNAUTHORIZED)
    def credentials_extend(args: dict[str, Any]) -> dict[str, Any]:
        """A fresh SAD for the remaining signatures of a live one (bounded lifetime)."""
        outcome = service.extend_transaction(_caller(), credential_id=args["credentialID"], sad=args["SAD"])
        return _sad(outcome)

    @route("/signatures/signHash", methods=["POST"])
    @blp.arguments(CscSignHashRequestSchema)
    @blp.response(200, CscSignaturesSchema)
    @blp.alt_response(400, **BAD)
    @blp.alt_response(401, **UNAUTHORIZED)
    def signatures_sign_hash(args: dict[str, Any]) -> dict[str, Any]:
        """Raw signatures over hashes the SAD covers, in order."""
        values = service.sign_hash(
            _caller(),
            credential_id=args["credentialID"],
            sad=args["SAD"],
            hashes_b64=_pick(args, "hash", "hashes"),
            hash_oid=_pick(args, "hashAlgo", "hashAlgorithmOID"),
            sign_algo=args["signAlgo"],
            sign_algo_params=args.get("signAlgoParams"),
        )
        return {"signatures": values}

    @route("/signatures/timestamp", methods=["POST"])
    @blp.arguments(CscTimestampRequestSchema)
    @blp.response(200, CscTimestampSchema)
    @blp.alt_response(400, **BAD)
    @blp.alt_response(401, **UNAUTHORIZED)
    def signatures_timestamp(args: dict[str, Any]) -> dict[str, Any]:
        """An RFC 3161 timestamp token over a hash."""
        token = service.timestamp(
            _caller(),
            hash_b64=args["hash"],
            hash_oid=_pick(args, "hashAlgo", "hashAlgorithmOID"),
            nonce_hex=args.get("nonce"),
        )
        return {"timestamp": token}

    return blp


csc_v1 = _build(1)
csc_v2 = _build(2)

# ---------------------------------------------------------------------------------- the PWA inbox

approvals_blp = Blueprint(
    "csc_approvals",
    __name__,
    url_prefix="/api/v1/csc/approvals",
    description="Signing requests from CSC clients that wait for the signer's passkey",
)
NOT_FOUND = {"schema": "Error", "description": "csc_approval.not_found (or not the caller's to approve)"}
CLOSED = {"schema": "Error", "description": "csc_approval.closed — decided or expired"}


def _person() -> tuple[str, str | None]:
    from app.auth.guard import require_person

    principal = require_person()
    return principal.id, principal.tenant_id


@approvals_blp.route("")
class CscApprovals(MethodView):
    @approvals_blp.response(200, CscApprovalReadSchema(many=True))
    @approvals_blp.alt_response(401, schema="Error", description="auth.required")
    def get(self) -> list[dict[str, Any]]:
        """Pending CSC signing requests the signed-in person may approve."""
        person_id, tenant = _person()
        return [approvals.describe(a) for a in approvals.inbox(person_id=person_id, tenant_id=tenant)]


@approvals_blp.route("/<authorization_id>")
class CscApproval(MethodView):
    @approvals_blp.response(200, CscApprovalReadSchema)
    @approvals_blp.alt_response(404, **NOT_FOUND)
    def get(self, authorization_id: str) -> dict[str, Any]:
        """One signing request: the credential, the caller, the exact hashes."""
        person_id, tenant = _person()
        return approvals.describe(
            approvals.get_request(authorization_id, person_id=person_id, tenant_id=tenant)
        )


@approvals_blp.route("/<authorization_id>/options")
class CscApprovalOptions(MethodView):
    @approvals_blp.response(200, CscApprovalOptionsSchema)
    @approvals_blp.alt_response(404, **NOT_FOUND)
    @approvals_blp.alt_response(409, **CLOSED)
    def post(self, authorization_id: str) -> dict[str, Any]:
        """WebAuthn options; the challenge is SHA-256(manifest_hash ‖ nonce)."""
        person_id, tenant = _person()
        options = approvals.approval_options(authorization_id, person_id=person_id, tenant_id=tenant)
        return {"publicKey": options}


@approvals_blp.route("/<authorization_id>/approve")
class CscApprovalApprove(MethodView):
    @login_required
    @approvals_blp.arguments(CscApprovalDecisionSchema)
    @approvals_blp.response(200, CscApprovalReadSchema)
    @approvals_blp.alt_response(401, schema="Error", description="auth.failed — Verification failed.")
    @approvals_blp.alt_response(404, **NOT_FOUND)
    @approvals_blp.alt_response(409, **CLOSED)
    def post(self, args: dict[str, Any], authorization_id: str) -> dict[str, Any]:
        """Approve with a passkey assertion over the request's manifest."""
        person_id, tenant = _person()
        auth = approvals.approve(
            authorization_id, person_id=person_id, tenant_id=tenant, credential=args["credential"]
        )
        return approvals.describe(auth)


@approvals_blp.route("/<authorization_id>/reject")
class CscApprovalReject(MethodView):
    @approvals_blp.response(200, CscApprovalReadSchema)
    @approvals_blp.alt_response(404, **NOT_FOUND)
    @approvals_blp.alt_response(409, **CLOSED)
    def post(self, authorization_id: str) -> dict[str, Any]:
        """Refuse the request; the calling software gets access_denied."""
        person_id, tenant = _person()
        return approvals.describe(approvals.reject(authorization_id, person_id=person_id, tenant_id=tenant))


blps = [csc_v1, csc_v2, approvals_blp]
