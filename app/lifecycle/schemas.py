"""Request and response shapes of the lifecycle API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from app.lifecycle.models import SEAL_CREATE, SEAL_ROTATE


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class HandOverRead(Schema):
    document_id = fields.String(required=True)
    step = fields.Integer(required=True)
    status = fields.String(required=True)
    class_name = fields.String(allow_none=True)
    student_code = fields.String(allow_none=True)


class OffboardRead(Schema):
    offboarding_id = fields.String(required=True)
    person_id = fields.String(required=True)
    revoked_credential_ids = fields.List(fields.String(), required=True)
    handed_over = fields.List(fields.Nested(HandOverRead), required=True)


class RenewCreate(_Strict):
    days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=365))


class RenewalRead(Schema):
    old_credential_id = fields.String(required=True)
    new_credential_id = fields.String(required=True)
    owner_id = fields.String(allow_none=True)
    status = fields.String(required=True)
    not_after = fields.DateTime(allow_none=True)


class SealRequestCreate(_Strict):
    kind = fields.String(load_default=SEAL_CREATE, validate=validate.OneOf([SEAL_CREATE, SEAL_ROTATE]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class SealDecision(_Strict):
    approve = fields.Boolean(required=True)
    compromised = fields.Boolean(
        load_default=False,
        metadata={"description": "rotation only: revoke the previous seal and destroy its key"},
    )


class SealRequestRead(Schema):
    id = fields.String(required=True)
    tenant_id = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True)
    requested_by_id = fields.String(required=True)
    requested_at = fields.DateTime(required=True)
    decided_by_id = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    previous_credential_id = fields.String(allow_none=True)
    credential_id = fields.String(allow_none=True)
