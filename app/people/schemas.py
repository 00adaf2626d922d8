"""Request and response shapes of the people endpoints."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.people.roster import KINDS
from app.people.rules import SCHOOL_ROLES


class ClassReadSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True, metadata={"example": "3A"})
    grade = fields.Integer(required=True)
    school_year = fields.String(required=True, metadata={"example": "2024-2025"})


class ClassCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=32))
    school_year = fields.String(required=True, validate=validate.Length(max=9))
    grade = fields.Integer(load_default=None, validate=validate.Range(min=1, max=12))


class ClassQueryArgsSchema(Schema):
    school_year = fields.String(load_default=None)


class RoleReadSchema(Schema):
    role = fields.String(required=True)
    organisation_id = fields.String(required=True)
    class_id = fields.String(allow_none=True)
    class_name = fields.Function(lambda r: r.school_class.name if r.school_class else None)
    school_year = fields.String(allow_none=True)


class RoleWriteSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(SCHOOL_ROLES))
    class_id = fields.String(load_default=None)


class PersonReadSchema(Schema):
    id = fields.String(required=True)
    display_name = fields.String(required=True)
    username = fields.String(required=True)
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    cccd_masked = fields.String(allow_none=True, metadata={"example": "0012******45"})
    status = fields.String(required=True, metadata={"description": "active or suspended"})
    enrolled_at = fields.DateTime(allow_none=True)
    roles = fields.List(fields.Nested(RoleReadSchema), required=True)
    created_at = fields.DateTime(required=True)


class PersonCreateSchema(Schema):
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    username = fields.String(load_default=None, validate=validate.Length(max=80))
    email = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))
    cccd = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))
    roles = fields.List(fields.Nested(RoleWriteSchema), load_default=None)


class PersonUpdateSchema(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=200))
    email = fields.String(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    cccd = fields.String(allow_none=True, validate=validate.Length(max=20))
    roles = fields.List(fields.Nested(RoleWriteSchema))


class PersonQueryArgsSchema(Schema):
    q = fields.String(load_default=None)
    role = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "suspended"]))


class RosterImportFormSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    dry_run = fields.Boolean(load_default=False)
    school_year = fields.String(
        load_default=None, metadata={"description": "for rows without Năm học; default: the current one"}
    )


class RosterFileSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class RosterRowSchema(Schema):
    row = fields.Integer(required=True, metadata={"description": "row number in the spreadsheet"})
    status = fields.String(required=True, metadata={"description": "accepted, updated, unchanged or refused"})
    name = fields.String(allow_none=True)
    reason = fields.String(metadata={"description": "why the row was refused (Vietnamese)"})
    reason_code = fields.String(metadata={"example": "cccd.invalid"})


class RosterCountsSchema(Schema):
    accepted = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    total = fields.Integer(required=True)


class RosterReportSchema(Schema):
    status = fields.String(required=True, metadata={"description": "applied, refused or dry_run"})
    kind = fields.String(required=True)
    rows = fields.List(fields.Nested(RosterRowSchema), required=True)
    counts = fields.Nested(RosterCountsSchema, required=True)
