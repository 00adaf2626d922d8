"""Push subscriptions and inbox notices of the signed-in person."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.guard import login_required, require_person
from app.notify import service
from app.notify.models import Notice, PushSubscription
from app.notify.schemas import (
    InboxNoticeQueryArgs,
    InboxNoticeRead,
    PushSubscriptionCreate,
    PushSubscriptionDelete,
    PushSubscriptionRead,
    VapidKeySchema,
)
from app.notify.vapid import application_server_key

blp = Blueprint("notify", __name__, url_prefix="/api/v1", description="Push notifications and inbox notices")


@blp.route("/push/vapid-key")
class VapidKey(MethodView):
    @blp.response(200, VapidKeySchema)
    def get(self) -> dict[str, str]:
        """The key a browser needs to subscribe to Signet's pushes."""
        return {"public_key": application_server_key(current_app.extensions["signet.settings"])}


@blp.route("/push/subscriptions")
class Subscriptions(MethodView):
    @login_required
    @blp.arguments(PushSubscriptionCreate)
    @blp.response(201, PushSubscriptionRead)
    @blp.alt_response(422, description="the endpoint is not a usable push service")
    def post(self, body: dict[str, Any]) -> PushSubscription:
        """Opt in: this browser receives "N transcripts are waiting" pushes."""
        person = require_person()
        return service.subscribe(
            settings=current_app.extensions["signet.settings"],
            person_id=person.id,
            tenant_id=person.tenant_id,
            endpoint=body["endpoint"],
            p256dh=body["keys"]["p256dh"],
            auth=body["keys"]["auth"],
            lang=body["lang"],
            user_agent=request.headers.get("User-Agent"),
        )

    @login_required
    @blp.arguments(PushSubscriptionDelete)
    @blp.response(204)
    def delete(self, body: dict[str, Any]) -> None:
        """Opt out for this browser."""
        service.unsubscribe(person_id=require_person().id, endpoint=body["endpoint"])


@blp.route("/notices")
class Notices(MethodView):
    @login_required
    @blp.arguments(InboxNoticeQueryArgs, location="query")
    @blp.response(200, InboxNoticeRead(many=True))
    def get(self, args: dict[str, Any]) -> list[Notice]:
        """My notices, newest first."""
        return service.list_notices(person_id=require_person().id, unread_only=args["unread"])


@blp.route("/notices/<notice_id>/read")
class NoticeReadMark(MethodView):
    @login_required
    @blp.response(204)
    @blp.alt_response(404, description="no such notice of mine")
    def post(self, notice_id: str) -> None:
        """Mark a notice as read."""
        service.mark_read(person_id=require_person().id, notice_id=notice_id)
