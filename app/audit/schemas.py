"""Search filters and answers of the audit API."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class EventQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    since = fields.AwareDateTime(
        data_key="from", metadata={"description": "records at or after this instant (ISO 8601 with zone)"}
    )
    until = fields.AwareDateTime(data_key="to", metadata={"description": "records before this instant"})
    actor_id = fields.String(metadata={"description": "the person who acted"})
    action = fields.String(
        metadata={"description": "exact action, or a prefix ending in '.' or '*' (e.g. 'signature.*')"}
    )
    outcome = fields.String(validate=validate.OneOf(["success", "failure"]))
    target_type = fields.String(metadata={"description": "document, approval, credential, person, …"})
    target_id = fields.String()
    document_id = fields.String(metadata={"description": "shorthand for target_type=document&target_id=…"})
    tenant_id = fields.String(metadata={"description": "one school (operators and district admins)"})


class EventSearchSchema(EventQuerySchema):
    before_seq = fields.Integer(validate=validate.Range(min=1), metadata={"description": "the next page"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))


class AuditEventSchema(Schema):
    seq = fields.Integer(required=True)
    id = fields.String(required=True)
    occurred_at = fields.String(required=True)
    tenant_id = fields.String(allow_none=True)
    actor_id = fields.String(allow_none=True)
    action = fields.String(required=True)
    outcome = fields.String(required=True)
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    details = fields.Dict(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)
    next_before_seq = fields.Integer(allow_none=True, metadata={"description": "pass as before_seq"})
