"""Request and response shapes of the auth endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.auth.models import SCOPES


class SchoolRefSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class MeRoleSchema(Schema):
    role = fields.String(required=True)
    organisation_id = fields.String(required=True)
    class_id = fields.String(allow_none=True)
    class_name = fields.String(allow_none=True)
    school_year = fields.String(allow_none=True)


class FactorsSchema(Schema):
    passkeys = fields.Integer(required=True)
    totp = fields.Boolean(required=True)


class MeSchema(Schema):
    id = fields.String(required=True)
    display_name = fields.String(required=True)
    username = fields.String(required=True)
    school = fields.Nested(SchoolRefSchema, allow_none=True)
    roles = fields.List(fields.Nested(MeRoleSchema), required=True)
    factors = fields.Nested(FactorsSchema, required=True)
    csrf_token = fields.String(
        allow_none=True, metadata={"description": "send it back in X-CSRF-Token on unsafe requests"}
    )


class PersonEnvelopeSchema(Schema):
    person = fields.Nested(MeSchema, required=True)


class EnrolledSchema(PersonEnvelopeSchema):
    recovery_codes = fields.List(
        fields.String(), required=True, metadata={"description": "10 one-time codes, shown only now"}
    )


class RecoverySignedInSchema(PersonEnvelopeSchema):
    remaining_recovery_codes = fields.Integer(required=True)


class InvitationInfoSchema(Schema):
    person_name = fields.String(required=True)
    school_name = fields.String(allow_none=True)
    expires_at = fields.DateTime(required=True)
    methods = fields.List(fields.String(), required=True)


class PublicKeyOptionsSchema(Schema):
    publicKey = fields.Dict(
        required=True, metadata={"description": "PublicKeyCredentialCreation/RequestOptionsJSON"}
    )


class CredentialSchema(Schema):
    credential = fields.Dict(required=True, metadata={"description": "PublicKeyCredential.toJSON()"})


class PasskeyEnrolSchema(CredentialSchema):
    device_name = fields.String(load_default=None, validate=validate.Length(max=100))


class TotpEnrolOptionsSchema(Schema):
    enrolment_id = fields.String(required=True)
    otpauth_uri = fields.String(required=True)
    qr_svg = fields.String(required=True)


class TotpEnrolSchema(Schema):
    enrolment_id = fields.String(required=True, validate=validate.Length(max=64))
    code = fields.String(required=True, validate=validate.Length(max=16))


class CodeSignInSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(max=200))
    code = fields.String(required=True, validate=validate.Length(max=64))


class PasskeyReadSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True)
    backed_up = fields.Boolean(required=True)


class PasskeyAddSchema(CredentialSchema):
    name = fields.String(load_default=None, validate=validate.Length(max=100))


class PasskeyUpdateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class SessionReadSchema(Schema):
    id = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    last_seen_at = fields.DateTime(required=True)
    user_agent = fields.String(allow_none=True)
    method = fields.String(required=True)
    current = fields.Boolean(required=True)


class InvitationCreateSchema(Schema):
    person_id = fields.String(required=True, validate=validate.Length(max=36))


class InvitationCreatedSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    qr_svg = fields.String(required=True)


class UnlockedSchema(Schema):
    unlocked = fields.List(fields.String(), required=True)


class ApiClientCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True)


class ApiClientReadSchema(Schema):
    id = fields.String(required=True)
    client_id = fields.String(required=True)
    name = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiClientCreatedSchema(ApiClientReadSchema):
    client_secret = fields.String(required=True, metadata={"description": "shown only in this response"})


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True)
    client_id = fields.String(load_default=None)
    client_secret = fields.String(load_default=None)
    scope = fields.String(load_default=None)


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)
