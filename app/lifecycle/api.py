"""Credential lifecycle: offboarding a leaver, renewals, the school seal (admin asks, principal approves)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.errors import NotAllowed
from app.auth.guard import require_person, roles_required
from app.lifecycle import schemas as sch
from app.lifecycle import seal, service
from app.lifecycle.models import SealRequest
from app.people.rules import OPERATOR, PRINCIPAL, SCHOOL_ADMIN

blp = Blueprint("lifecycle", __name__, url_prefix="/api/v1/lifecycle", description="Credential lifecycle")


@blp.route("/people/<person_id>/offboard")
class Offboard(MethodView):
    @roles_required(SCHOOL_ADMIN, OPERATOR)
    @blp.response(200, sch.OffboardRead)
    @blp.alt_response(403, description="not an admin of the leaver's school")
    @blp.alt_response(404, description="no such person")
    def post(self, person_id: str) -> service.OffboardResult:
        """A teacher leaves: suspend, revoke (CRL), destroy the key, hand their waiting work over."""
        return service.offboard(person_id=person_id, actor_id=require_person().id)


@blp.route("/renewals")
class Renewals(MethodView):
    @roles_required(OPERATOR)
    @blp.arguments(sch.RenewCreate)
    @blp.response(200, sch.RenewalRead(many=True))
    def post(self, body: dict[str, Any]) -> list[service.Renewal]:
        """Renew now every certificate expiring within ``days`` (the daily task does the same)."""
        return service.renew_expiring(days=body["days"], actor_id=require_person().id)


@blp.route("/seal-requests")
class SealRequests(MethodView):
    @roles_required(SCHOOL_ADMIN)
    @blp.arguments(sch.SealRequestCreate)
    @blp.response(201, sch.SealRequestRead)
    def post(self, body: dict[str, Any]) -> SealRequest:
        """The school admin asks for the school seal to be created or rotated."""
        person = require_person()
        if person.tenant_id is None:
            raise NotAllowed()
        return seal.request_seal(tenant_id=person.tenant_id, actor_id=person.id, **body)


@blp.route("/seal-requests/<request_id>/decision")
class SealRequestDecision(MethodView):
    @roles_required(PRINCIPAL)
    @blp.arguments(sch.SealDecision)
    @blp.response(200, sch.SealRequestRead)
    @blp.alt_response(409, description="decided already")
    def post(self, body: dict[str, Any], request_id: str) -> SealRequest:
        """The principal approves (the seal is issued) or rejects the request."""
        return seal.decide_seal_request(request_id=request_id, principal_id=require_person().id, **body)
