"""Auth endpoints: invitations and enrolment, sign-in and sign-out, ``/me``, API clients, OAuth2.

Three blueprints: ``auth`` (anonymous ceremonies, rate-limited per address), ``me`` (the signed-in
person's own account) and ``access`` (school administrators: invitations, unlocks, API clients).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import ValidationError
from werkzeug.exceptions import UnsupportedMediaType

from app.auth import clients, devices, ratelimit, service, sessions, signin
from app.auth.errors import AuthenticationFailed
from app.auth.guard import current_principal, login_required, require_person, roles_required, tenant_id
from app.auth.schemas import (
    ApiClientCreatedSchema,
    ApiClientCreateSchema,
    ApiClientReadSchema,
    CodeSignInSchema,
    CredentialSchema,
    EnrolledSchema,
    InvitationCreatedSchema,
    InvitationCreateSchema,
    InvitationInfoSchema,
    MeSchema,
    PasskeyAddSchema,
    PasskeyEnrolSchema,
    PasskeyReadSchema,
    PasskeyUpdateSchema,
    PersonEnvelopeSchema,
    PublicKeyOptionsSchema,
    RecoverySignedInSchema,
    SessionReadSchema,
    TokenRequestSchema,
    TokenSchema,
    TotpEnrolOptionsSchema,
    TotpEnrolSchema,
    UnlockedSchema,
)
from app.errors import BadRequest
from app.people.rules import ADMIN_ROLES
from app.settings import Settings

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Enrolment and sign-in")
me_blp = Blueprint("me", __name__, url_prefix="/api/v1", description="The signed-in person's account")
access_blp = Blueprint(
    "access", __name__, url_prefix="/api/v1", description="Invitations, unlocks and API clients (admins)"
)
blps = [blp, me_blp, access_blp]

ratelimit.auth_limit(blp)
blp.record_once(lambda state: ratelimit.init_app(state.app))

FAILED = {"schema": "Error", "description": "auth.failed — Verification failed. (the reason is only logged)"}
REQUIRED = {"schema": "Error", "description": "auth.required — no live session"}
FORBIDDEN = {"schema": "Error", "description": "auth.forbidden / auth.csrf"}
NOT_FOUND = {"schema": "Error", "description": "not found (or not of the caller's school)"}
RATE_LIMITED = {"schema": "Error", "description": "rate_limited — too many attempts from this address"}


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def _user_agent() -> str | None:
    return request.headers.get("User-Agent")


def _preauth() -> str | None:
    return sessions.preauth_binding(_settings(), create=False)


def _new_preauth() -> str:
    binding = sessions.preauth_binding(_settings(), create=True)
    assert binding is not None
    return binding


def _signed_in(result: service.SignedIn) -> dict[str, Any]:
    sessions.set_cookies(_settings(), result.session)
    body: dict[str, Any] = {"person": result.me}
    if result.recovery_codes is not None:
        body["recovery_codes"] = result.recovery_codes
    if result.remaining_recovery_codes is not None:
        body["remaining_recovery_codes"] = result.remaining_recovery_codes
    return body


# invitations and enrolment (anonymous) ------------------------------------------------------------------
@blp.route("/invitations/<string:token>")
class InvitationInfo(MethodView):
    @blp.response(200, InvitationInfoSchema)
    @blp.alt_response(404, schema="Error", description="invitation.invalid")
    @blp.alt_response(410, schema="Error", description="invitation.expired / invitation.used")
    def get(self, token: str) -> dict[str, Any]:
        """Who is invited, to which school, until when."""
        return service.inspect_invitation(token=token)


@blp.route("/invitations/<string:token>/passkey/options")
class InvitationPasskeyOptions(MethodView):
    @blp.response(200, PublicKeyOptionsSchema)
    @blp.alt_response(404, schema="Error", description="invitation.invalid")
    @blp.alt_response(410, schema="Error", description="invitation.expired / invitation.used")
    def post(self, token: str) -> dict[str, Any]:
        """Options for navigator.credentials.create() (resident key, user verification required)."""
        return {"publicKey": service.passkey_enrolment_options(token=token, binding=_new_preauth())}


@blp.route("/invitations/<string:token>/passkey")
class InvitationPasskey(MethodView):
    @blp.arguments(PasskeyEnrolSchema)
    @blp.response(201, EnrolledSchema)
    @blp.alt_response(401, **FAILED)
    @blp.alt_response(404, schema="Error", description="invitation.invalid")
    @blp.alt_response(410, schema="Error", description="invitation.expired / invitation.used")
    def post(self, body: dict[str, Any], token: str) -> dict[str, Any]:
        """Register the passkey; signs the person in and returns their 10 recovery codes."""
        return _signed_in(
            service.enrol_passkey(
                token=token,
                binding=_preauth(),
                credential=body["credential"],
                device_name=body.get("device_name"),
                user_agent=_user_agent(),
            )
        )


@blp.route("/invitations/<string:token>/totp/options")
class InvitationTotpOptions(MethodView):
    @blp.response(200, TotpEnrolOptionsSchema)
    @blp.alt_response(404, schema="Error", description="invitation.invalid")
    @blp.alt_response(410, schema="Error", description="invitation.expired / invitation.used")
    def post(self, token: str) -> dict[str, Any]:
        """A new TOTP secret as an otpauth:// URI and its QR code (SVG)."""
        return service.totp_enrolment_options(token=token, binding=_new_preauth())


@blp.route("/invitations/<string:token>/totp")
class InvitationTotp(MethodView):
    @blp.arguments(TotpEnrolSchema)
    @blp.response(201, EnrolledSchema)
    @blp.alt_response(401, **FAILED)
    @blp.alt_response(404, schema="Error", description="invitation.invalid")
    @blp.alt_response(410, schema="Error", description="invitation.expired / invitation.used")
    def post(self, body: dict[str, Any], token: str) -> dict[str, Any]:
        """Confirm the TOTP secret with a first code; signs the person in, returns recovery codes."""
        return _signed_in(
            service.enrol_totp(
                token=token,
                binding=_preauth(),
                enrolment_id=body["enrolment_id"],
                code=body["code"],
                user_agent=_user_agent(),
            )
        )


# sign-in -------------------------------------------------------------------------------------------
@blp.route("/auth/passkey/options")
class PasskeySignInOptions(MethodView):
    @blp.response(200, PublicKeyOptionsSchema)
    @blp.alt_response(429, **RATE_LIMITED)
    def post(self) -> dict[str, Any]:
        """Options for navigator.credentials.get(): usernameless, user verification required."""
        return {"publicKey": signin.passkey_options(binding=_new_preauth())}


@blp.route("/auth/passkey")
class PasskeySignIn(MethodView):
    @blp.arguments(CredentialSchema)
    @blp.response(200, PersonEnvelopeSchema)
    @blp.alt_response(401, **FAILED)
    @blp.alt_response(429, **RATE_LIMITED)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sign in with a passkey assertion."""
        return _signed_in(
            signin.sign_in_passkey(
                binding=_preauth(), credential=body["credential"], user_agent=_user_agent()
            )
        )


@blp.route("/auth/totp")
class TotpSignIn(MethodView):
    @blp.arguments(CodeSignInSchema)
    @blp.response(200, PersonEnvelopeSchema)
    @blp.alt_response(401, **FAILED)
    @blp.alt_response(429, **RATE_LIMITED)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sign in with username and a TOTP code (each time step works once)."""
        return _signed_in(
            signin.sign_in_totp(username=body["username"], code=body["code"], user_agent=_user_agent())
        )


@blp.route("/auth/recovery")
class RecoverySignIn(MethodView):
    @blp.arguments(CodeSignInSchema)
    @blp.response(200, RecoverySignedInSchema)
    @blp.alt_response(401, **FAILED)
    @blp.alt_response(429, **RATE_LIMITED)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sign in with username and a one-time recovery code."""
        return _signed_in(
            signin.sign_in_recovery(username=body["username"], code=body["code"], user_agent=_user_agent())
        )


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.response(204)
    @blp.alt_response(403, **FORBIDDEN)
    def post(self) -> None:
        """End the current session (needs X-CSRF-Token when signed in)."""
        principal = current_principal()
        signin.sign_out(session_id=principal.session_id if principal else None)
        sessions.clear_cookies(_settings())


@blp.route("/oauth2/token")
class OAuth2Token(MethodView):
    @blp.doc(
        requestBody={
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": TokenRequestSchema},
                "application/json": {"schema": TokenRequestSchema},
            },
        },
        description="client_id / client_secret in the body or as HTTP Basic credentials.",
    )
    @blp.response(200, TokenSchema)
    @blp.alt_response(400, schema="Error", description="oauth2.unsupported_grant_type / oauth2.invalid_scope")
    @blp.alt_response(401, **FAILED)
    def post(self) -> dict[str, Any]:
        """OAuth2 client credentials: a Bearer token valid 15 minutes."""
        body = _token_request()
        return clients.issue_token(
            grant_type=body.get("grant_type"),
            client_id=body.get("client_id"),
            client_secret=body.get("client_secret"),
            scope=body.get("scope"),
        )


def _token_request() -> dict[str, Any]:
    if request.mimetype == "application/json":
        raw = request.get_json(silent=True)
        if not isinstance(raw, dict):
            raise UnsupportedMediaType("Send a JSON object or a form.")
        data = {k: v for k, v in raw.items() if isinstance(v, str)}
    else:
        data = request.form.to_dict()
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        if data.get("client_id") and data["client_id"] != auth.username:
            raise AuthenticationFailed()
        data["client_id"], data["client_secret"] = auth.username or "", auth.password or ""
    fields = TokenRequestSchema().fields
    try:
        loaded: dict[str, Any] = TokenRequestSchema().load({k: v for k, v in data.items() if k in fields})
    except ValidationError as exc:  # e.g. no grant_type: a 400 in our shape, not a 500
        raise BadRequest("The token request is not valid.", details={"body": exc.messages}) from None
    return loaded


# the signed-in person ------------------------------------------------------------------------------
@me_blp.route("/me")
class Me(MethodView):
    @me_blp.response(200, MeSchema)
    @me_blp.alt_response(401, **REQUIRED)
    def get(self) -> dict[str, Any]:
        """Who is signed in, their school, roles and factors, and the CSRF token."""
        return devices.me(principal=require_person())


@me_blp.route("/me/passkeys")
class MyPasskeys(MethodView):
    @me_blp.response(200, PasskeyReadSchema(many=True))
    @me_blp.alt_response(401, **REQUIRED)
    def get(self) -> list[Any]:
        """My passkeys."""
        return devices.list_passkeys(person_id=require_person().id)

    @login_required
    @me_blp.arguments(PasskeyAddSchema)
    @me_blp.response(201, PasskeyReadSchema)
    @me_blp.alt_response(401, **FAILED)
    @me_blp.alt_response(403, **FORBIDDEN)
    def post(self, body: dict[str, Any]) -> Any:
        """Register another passkey (after POST /me/passkeys/options)."""
        return devices.add_passkey(
            principal=require_person(), credential=body["credential"], name=body["name"]
        )


@me_blp.route("/me/passkeys/options")
class MyPasskeyOptions(MethodView):
    @me_blp.response(200, PublicKeyOptionsSchema)
    @me_blp.alt_response(401, **REQUIRED)
    @me_blp.alt_response(403, **FORBIDDEN)
    def post(self) -> dict[str, Any]:
        """Options for registering another passkey."""
        return {"publicKey": devices.add_passkey_options(principal=require_person())}


@me_blp.route("/me/passkeys/<string:passkey_id>")
class MyPasskey(MethodView):
    @me_blp.arguments(PasskeyUpdateSchema)
    @me_blp.response(200, PasskeyReadSchema)
    @me_blp.alt_response(404, **NOT_FOUND)
    def patch(self, body: dict[str, Any], passkey_id: str) -> Any:
        """Rename a passkey."""
        return devices.rename_passkey(principal=require_person(), passkey_id=passkey_id, name=body["name"])

    @me_blp.response(204)
    @me_blp.alt_response(404, **NOT_FOUND)
    @me_blp.alt_response(409, schema="Error", description="auth.last_factor")
    def delete(self, passkey_id: str) -> None:
        """Remove a passkey (not the last way to sign in)."""
        devices.delete_passkey(principal=require_person(), passkey_id=passkey_id)


@me_blp.route("/me/sessions")
class MySessions(MethodView):
    @me_blp.response(200, SessionReadSchema(many=True))
    @me_blp.alt_response(401, **REQUIRED)
    def get(self) -> list[dict[str, Any]]:
        """My open sessions; ``current`` marks this one."""
        return devices.list_sessions(principal=require_person())


@me_blp.route("/me/sessions/<string:session_id>")
class MySession(MethodView):
    @me_blp.response(204)
    @me_blp.alt_response(404, **NOT_FOUND)
    def delete(self, session_id: str) -> None:
        """Sign a session out."""
        devices.revoke_session(principal=require_person(), session_id=session_id)


# school administrators -----------------------------------------------------------------------------
@access_blp.route("/invitations")
class Invitations(MethodView):
    @roles_required(*ADMIN_ROLES)
    @access_blp.arguments(InvitationCreateSchema)
    @access_blp.response(201, InvitationCreatedSchema)
    @access_blp.alt_response(404, **NOT_FOUND)
    def post(self, body: dict[str, Any]) -> Any:
        """Invite a person: a one-time enrolment link (72 h) and its QR code."""
        return service.create_invitation(
            tenant_id=tenant_id(), actor_id=require_person().id, person_id=body["person_id"]
        )


@access_blp.route("/people/<string:person_id>/unlock")
class Unlock(MethodView):
    @roles_required(*ADMIN_ROLES)
    @access_blp.response(200, UnlockedSchema)
    @access_blp.alt_response(404, **NOT_FOUND)
    def post(self, person_id: str) -> dict[str, Any]:
        """Clear the person's locked factors and failure counts."""
        unlocked = service.unlock_person(
            tenant_id=tenant_id(), actor_id=require_person().id, person_id=person_id
        )
        return {"unlocked": unlocked}


@access_blp.route("/api-clients")
class ApiClients(MethodView):
    @roles_required(*ADMIN_ROLES)
    @access_blp.response(200, ApiClientReadSchema(many=True))
    def get(self) -> list[Any]:
        """The school's API clients (secrets are never shown again)."""
        return clients.list_clients(tenant_id=tenant_id())

    @roles_required(*ADMIN_ROLES)
    @access_blp.arguments(ApiClientCreateSchema)
    @access_blp.response(201, ApiClientCreatedSchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Create an API client; ``client_secret`` is in this response only."""
        return clients.create_client(
            tenant_id=tenant_id(), actor_id=require_person().id, name=body["name"], scopes=body["scopes"]
        )


@access_blp.route("/api-clients/<string:api_client_id>")
class ApiClientItem(MethodView):
    @roles_required(*ADMIN_ROLES)
    @access_blp.response(204)
    @access_blp.alt_response(404, **NOT_FOUND)
    def delete(self, api_client_id: str) -> None:
        """Revoke an API client and its tokens, at once."""
        clients.revoke_client(
            tenant_id=tenant_id(), actor_id=require_person().id, api_client_id=api_client_id
        )
