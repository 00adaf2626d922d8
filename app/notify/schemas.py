from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class VapidKeySchema(Schema):
    public_key = fields.String(required=True, metadata={"description": "applicationServerKey, base64url"})


class PushSubscriptionKeys(Schema):
    class Meta:
        unknown = RAISE

    p256dh = fields.String(required=True, validate=validate.Length(min=20, max=200))
    auth = fields.String(required=True, validate=validate.Length(min=8, max=100))


class PushSubscriptionCreate(Schema):
    """What ``PushSubscription.toJSON()`` gives in the browser, plus the UI language."""

    class Meta:
        unknown = RAISE

    endpoint = fields.String(required=True, validate=validate.Length(min=10, max=2000))
    expirationTime = fields.Raw(allow_none=True, load_default=None)
    keys = fields.Nested(PushSubscriptionKeys, required=True)
    lang = fields.String(load_default="vi", validate=validate.OneOf(["vi", "en"]))


class PushSubscriptionDelete(Schema):
    class Meta:
        unknown = RAISE

    endpoint = fields.String(required=True, validate=validate.Length(min=10, max=2000))


class PushSubscriptionRead(Schema):
    id = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    lang = fields.String(required=True)


class InboxNoticeQueryArgs(Schema):
    class Meta:
        unknown = RAISE

    unread = fields.Boolean(load_default=False)


class InboxNoticeRead(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    count = fields.Integer(required=True)
    subject = fields.String(allow_none=True)
    url = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(allow_none=True)
