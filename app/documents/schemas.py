"""Request and response shapes of the documents API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from app.workflow.rules import Status, events_from


class _Strict(Schema):
    class Meta:
        unknown = RAISE


STATUSES = [s.value for s in Status]


class DocumentReadSchema(Schema):
    id = fields.String(required=True)
    doc_type = fields.String(required=True)
    filename = fields.String(allow_none=True)
    student_code = fields.String(allow_none=True)
    student_name = fields.String(allow_none=True)
    personal_id_masked = fields.String(allow_none=True, metadata={"description": "CCCD, masked"})
    class_name = fields.String(allow_none=True)
    class_id = fields.String(allow_none=True)
    school_year = fields.String(allow_none=True)
    status = fields.String(required=True, metadata={"enum": STATUSES})
    step = fields.Integer(
        required=True, metadata={"description": "0 none, 1 homeroom teacher, 2 principal, 3 school seal"}
    )
    blocked_code = fields.String(allow_none=True, metadata={"description": "why it is blocked (stable code)"})
    blocked_message = fields.String(allow_none=True)
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    rejected_reason = fields.String(allow_none=True)
    rejected_by_id = fields.String(allow_none=True)
    teacher_id = fields.String(allow_none=True)
    principal_id = fields.String(allow_none=True)
    sha256 = fields.String(required=True, metadata={"description": "SHA-256 of the current revision"})
    size = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    revision = fields.Integer(required=True)
    signature_count = fields.Integer(required=True)
    version = fields.Integer(required=True)
    supersedes_id = fields.String(allow_none=True)
    superseded_by_id = fields.String(allow_none=True)
    approval_id = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    completed_at = fields.DateTime(allow_none=True)
    actions = fields.Method(
        "_actions", metadata={"description": "state-machine events possible now", "type": "array"}
    )

    def _actions(self, doc: object) -> list[str]:
        from app.documents.service import state_of

        return [e.value for e in events_from(state_of(doc))]  # type: ignore[arg-type]


class DocumentQuerySchema(_Strict):
    status = fields.String(validate=validate.OneOf(STATUSES))
    class_id = fields.String()
    school_year = fields.String()
    student_code = fields.String()
    blocked_code = fields.String()
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))


class UploadFormSchema(_Strict):
    student_code = fields.String()
    student_name = fields.String()
    personal_id = fields.String(metadata={"description": "CCCD, 12 digits (optional)"})
    class_name = fields.String(data_key="class")
    school_year = fields.String(metadata={"example": "2024-2025"})
    doc_type = fields.String(metadata={"example": "hoc_ba"})
    supersedes = fields.String(metadata={"description": "id of the transcript this file corrects"})


class UploadFilesSchema(Schema):
    files = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        required=True,
        metadata={"description": "one or more PDFs, or ZIPs of PDFs (+ a CSV manifest inside)"},
    )
    manifest = fields.Raw(
        metadata={
            "type": "string",
            "format": "binary",
            "description": "CSV: file, student_code, student_name, personal_id, class, school_year, "
            "doc_type (Vietnamese headers accepted)",
        }
    )


class FileResultSchema(Schema):
    file = fields.String(required=True)
    outcome = fields.String(required=True, metadata={"enum": ["created", "duplicate", "refused"]})
    document_id = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    blocked_code = fields.String(allow_none=True)
    code = fields.String(allow_none=True, metadata={"description": "why the file was refused"})
    message = fields.String(allow_none=True)
    details = fields.Dict()


class UploadReportSchema(Schema):
    created = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    blocked = fields.Integer(required=True)
    files = fields.List(fields.Nested(FileResultSchema), required=True)


class DocumentUpdateSchema(_Strict):
    student_code = fields.String(allow_none=True)
    student_name = fields.String(allow_none=True)
    personal_id = fields.String(allow_none=True)
    class_name = fields.String(allow_none=True)
    school_year = fields.String(allow_none=True)
    doc_type = fields.String(allow_none=True)


class RejectSchema(_Strict):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=2000))


class PageQuerySchema(_Strict):
    width = fields.Integer(load_default=800, validate=validate.Range(min=100, max=2000))


class ChangesQuerySchema(_Strict):
    cursor = fields.String(metadata={"description": "next_cursor of the previous page; omit to start"})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000))


class ChangeSchema(Schema):
    cursor = fields.String(required=True)
    document_id = fields.String(required=True)
    status = fields.String(required=True)
    step = fields.Integer(required=True)
    occurred_at = fields.DateTime(required=True)


class ChangesSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema), required=True)
    next_cursor = fields.String(required=True)
    has_more = fields.Boolean(required=True)


class WebhookSetSchema(_Strict):
    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)


class WebhookReadSchema(Schema):
    url = fields.String(required=True)
    active = fields.Boolean(required=True)
    secret = fields.String(
        metadata={"description": "shown once, when set; HMAC key of X-Signet-Signature (t=…,v1=…)"}
    )
