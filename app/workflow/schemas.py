"""Request and response shapes of the approvals API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class ApprovalRequestSchema(_Strict):
    document_ids = fields.List(fields.String(), validate=validate.Length(min=1, max=5000))
    class_id = fields.String(metadata={"description": "every document of this class waiting for you"})
    class_ids = fields.List(fields.String(), metadata={"description": "…of these classes (e.g. 1A–5E)"})
    all_ready = fields.Boolean(metadata={"description": "everything waiting for you in the school"})
    step = fields.Integer(validate=validate.OneOf([1, 2]), metadata={"description": "when you hold both"})

    @validates_schema
    def _one_selector(self, data: dict[str, object], **_: object) -> None:
        chosen = [k for k in ("document_ids", "class_id", "class_ids", "all_ready") if data.get(k)]
        if len(chosen) != 1:
            raise ValidationError("Give exactly one of document_ids, class_id, class_ids or all_ready=true.")


class ManifestItemSchema(Schema):
    document_id = fields.String(required=True)
    sha256 = fields.String(required=True, metadata={"description": "the exact revision that will be signed"})
    step = fields.Integer(required=True)
    credential_id = fields.String(required=True)
    role = fields.String(required=True)
    on_behalf_of = fields.String(allow_none=True)
    stamp = fields.List(fields.String(), required=True, metadata={"description": "stamp text, line by line"})
    student_code = fields.String(allow_none=True)
    student_name = fields.String(allow_none=True)
    seal_credential_id = fields.String()
    seal_stamp = fields.List(fields.String())


class ManifestSchema(Schema):
    version = fields.Integer(required=True)
    approval_id = fields.String(required=True)
    step = fields.Integer(required=True)
    signed_on = fields.String(required=True)
    signer = fields.Dict(required=True)
    items = fields.List(fields.Nested(ManifestItemSchema), required=True)


class CredentialDescriptorSchema(Schema):
    type = fields.String(required=True)
    id = fields.String(required=True)


class RequestOptionsSchema(Schema):
    challenge = fields.String(
        required=True, metadata={"description": "base64url(SHA-256(manifest_hash ‖ nonce))"}
    )
    rpId = fields.String(required=True)
    timeout = fields.Integer(required=True)
    userVerification = fields.String(required=True)
    allowCredentials = fields.List(fields.Nested(CredentialDescriptorSchema), required=True)


class ApprovalCreatedSchema(Schema):
    id = fields.String(required=True)
    step = fields.Integer(required=True)
    total = fields.Integer(required=True)
    manifest_hash = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    manifest = fields.Nested(ManifestSchema, required=True)
    publicKey = fields.Nested(RequestOptionsSchema, required=True)
    totp_allowed = fields.Boolean(required=True)


class PasskeyApprovalSchema(_Strict):
    credential = fields.Dict(required=True, metadata={"description": "PublicKeyCredential JSON (assertion)"})


class TotpApprovalSchema(_Strict):
    code = fields.String(required=True, validate=validate.Length(min=6, max=8))


class ProgressItemSchema(Schema):
    document_id = fields.String(required=True)
    sha256 = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["pending", "queued", "done", "failed"]})
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)


class ProgressSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"enum": ["pending", "authorized", "finished", "expired", "refused"]}
    )
    step = fields.Integer(required=True)
    method = fields.String(allow_none=True)
    person_id = fields.String(required=True)
    on_behalf_of_id = fields.String(allow_none=True)
    manifest_hash = fields.String(required=True)
    expires_at = fields.DateTime(required=True)
    created_at = fields.DateTime(required=True)
    authorized_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    total = fields.Integer(required=True)
    pending = fields.Integer(required=True)
    queued = fields.Integer(required=True)
    done = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    items = fields.List(fields.Nested(ProgressItemSchema), required=True)
    progress_url = fields.String()


class ProgressQuerySchema(_Strict):
    items = fields.Boolean(load_default=True, metadata={"description": "false: counts only (cheap polling)"})


class InboxQuerySchema(_Strict):
    class_id = fields.String()


class DelegationCreateSchema(_Strict):
    delegate_id = fields.String(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    class_ids = fields.List(fields.String(), allow_none=True)


class DelegationReadSchema(Schema):
    id = fields.String(required=True)
    principal_id = fields.String(required=True)
    delegate_id = fields.String(required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    class_ids = fields.List(fields.String(), allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
