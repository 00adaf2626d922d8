"""Shapes of the public verification answers and the evidence report (documented in OpenAPI)."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields


class VerdictSchema(Schema):
    code = fields.String(
        required=True,
        metadata={
            "description": "verify.valid | verify.superseded | verify.cancelled | verify.in_progress | "
            "verify.not_final | verify.not_issued_here | verify.altered | verify.modified_after_signing | "
            "verify.untrusted_signer | verify.timestamp_invalid | verify.unsigned | verify.unreadable"
        },
    )
    ok = fields.Boolean(required=True, metadata={"description": "the signatures hold"})
    vi = fields.String(required=True, metadata={"description": "why, in Vietnamese"})
    en = fields.String(required=True, metadata={"description": "why, in English"})


class SupersededSchema(Schema):
    on = fields.String(required=True, metadata={"description": "when the corrected version replaced it"})
    by_version = fields.Integer(required=True)
    by_status = fields.String(required=True)
    token = fields.String(required=True)
    url = fields.String(required=True, metadata={"description": "the newer version's verification page"})


class PublicVerificationSchema(Schema):
    status = fields.String(
        required=True, metadata={"description": "valid | superseded | cancelled | in_progress"}
    )
    verdict = fields.Nested(VerdictSchema, required=True)
    document = fields.Dict(
        required=True,
        metadata={"description": "school, year, type, version; the student's initials and masked ID only"},
    )
    superseded = fields.Nested(SupersededSchema, allow_none=True)
    signatures = fields.List(
        fields.Dict(),
        metadata={"description": "role, signer, time (RFC 3161 timestamp), PAdES level, certificate issuer"},
    )
    integrity = fields.Dict(
        metadata={"description": "{checked, intact}: our stored file against its signatures"}
    )
    sha256 = fields.String(allow_none=True)


class UploadVerificationSchema(Schema):
    verdict = fields.Nested(VerdictSchema, required=True)
    reason_code = fields.String(allow_none=True, metadata={"description": "pdf.corrupt, pdf.encrypted, …"})
    sha256 = fields.String(required=True)
    report = fields.Dict(allow_none=True, metadata={"description": "the full validation report"})
    signatures = fields.List(fields.Dict())
    document = fields.Dict(allow_none=True, metadata={"description": "the document we signed, if it is one"})
    status = fields.String(allow_none=True)
    superseded = fields.Nested(SupersededSchema, allow_none=True)


class VerifyFileSchema(Schema):
    class Meta:
        unknown = RAISE

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class EvidenceSchema(Schema):
    generated_at = fields.String(required=True)
    document = fields.Dict(required=True)
    steps = fields.List(
        fields.Dict(),
        required=True,
        metadata={
            "description": "per step: signer, approval (time, factor, device, manifest hash), "
            "signature, certificate"
        },
    )
    revisions = fields.List(fields.Dict())
    events = fields.List(fields.Dict(), metadata={"description": "the audit records about this document"})
    verification = fields.Dict(allow_none=True)
