"""Approvals API: the signer's inbox, approvals bound to exact documents, rejection, delegation.

A signer asks for an approval (documents, classes, or everything ready), gets the manifest and the
WebAuthn request options, asserts with a passkey (or a TOTP code for one document), and receives
202 with the progress URL; signing runs on the task queue.  Nobody approves for someone else.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.guard import login_required, require_person, scope_required, tenant_id
from app.documents.api import NOT_FOUND, READERS
from app.documents.schemas import DocumentReadSchema, RejectSchema
from app.people.rules import PRINCIPAL
from app.workflow import delegations, service
from app.workflow.schemas import (
    ApprovalCreatedSchema,
    ApprovalRequestSchema,
    DelegationCreateSchema,
    DelegationReadSchema,
    InboxQuerySchema,
    PasskeyApprovalSchema,
    ProgressQuerySchema,
    ProgressSchema,
    TotpApprovalSchema,
)

blp = Blueprint("approvals", __name__, url_prefix="/api/v1", description="Approvals and signing")

APPROVAL_NOT_FOUND = {"schema": "Error", "description": "approval.not_found — not yours, or no such approval"}


def _progress(approval_id: str, *, items: bool = True) -> dict[str, Any]:
    body = service.progress(tenant_id=tenant_id(), approval_id=approval_id, with_items=items)
    body["progress_url"] = url_for("approvals.ApprovalItem", approval_id=approval_id, items="false")
    return body


@blp.route("/inbox")
class Inbox(MethodView):
    @login_required
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, DocumentReadSchema(many=True))
    @blp.alt_response(401, schema="Error", description="auth.required")
    def get(self, args: dict[str, Any]) -> list[Any]:
        """Transcripts waiting for my signature (as homeroom teacher, principal, or delegate)."""
        me = require_person()
        class_ids = [args["class_id"]] if args.get("class_id") else None
        return service.inbox(tenant_id=tenant_id(), person_id=me.id, class_ids=class_ids)


@blp.route("/approvals")
class Approvals(MethodView):
    @login_required
    @blp.arguments(ApprovalRequestSchema)
    @blp.response(201, ApprovalCreatedSchema)
    @blp.alt_response(403, schema="Error", description="approval.not_assigned — not waiting for you")
    @blp.alt_response(404, schema="Error", description="document.not_found")
    @blp.alt_response(
        409, schema="Error", description="approval.no_signing_credential / approval.no_seal_credential"
    )
    @blp.alt_response(422, schema="Error", description="approval.empty / approval.mixed_steps / too_many")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Ask to approve documents: returns the manifest and WebAuthn request options (5 minutes).

        The challenge is SHA-256(manifest_hash ‖ nonce): the passkey signs over the exact list of
        document hashes.  Pass `publicKey` to `navigator.credentials.get`.
        """
        me = require_person()
        class_ids = body.get("class_ids") or ([body["class_id"]] if body.get("class_id") else None)
        approval, options = service.request_approval(
            tenant_id=tenant_id(),
            person_id=me.id,
            document_ids=body.get("document_ids"),
            class_ids=class_ids,
            all_ready=bool(body.get("all_ready")),
            step=body.get("step"),
        )
        return {
            "id": approval.id,
            "step": approval.step,
            "total": approval.total,
            "manifest_hash": approval.manifest_hash,
            "expires_at": approval.expires_at,
            "manifest": approval.manifest,
            "publicKey": options,
            "totp_allowed": service.totp_allowed(approval),
        }


@blp.route("/approvals/<string:approval_id>")
class ApprovalItem(MethodView):
    @scope_required("signing:read", or_roles=READERS)
    @blp.arguments(ProgressQuerySchema, location="query")
    @blp.response(200, ProgressSchema)
    @blp.alt_response(404, **APPROVAL_NOT_FOUND)
    def get(self, args: dict[str, Any], approval_id: str) -> dict[str, Any]:
        """Progress of an approval: total, done, failed, and each document's outcome."""
        return _progress(approval_id, items=args["items"])


@blp.route("/approvals/<string:approval_id>/passkey")
class ApprovalPasskey(MethodView):
    @login_required
    @blp.arguments(PasskeyApprovalSchema)
    @blp.response(202, ProgressSchema)
    @blp.alt_response(401, schema="Error", description="auth.failed — the assertion did not verify")
    @blp.alt_response(404, **APPROVAL_NOT_FOUND)
    @blp.alt_response(409, schema="Error", description="approval.already_used — each approval is used once")
    @blp.alt_response(410, schema="Error", description="approval.expired — ask for a new approval")
    def post(self, body: dict[str, Any], approval_id: str) -> dict[str, Any]:
        """Approve with the passkey assertion; signing is queued (202) and progress can be polled."""
        me = require_person()
        service.approve_with_passkey(
            tenant_id=tenant_id(), person_id=me.id, approval_id=approval_id, credential=body["credential"]
        )
        return _progress(approval_id)


@blp.route("/approvals/<string:approval_id>/totp")
class ApprovalTotp(MethodView):
    @login_required
    @blp.arguments(TotpApprovalSchema)
    @blp.response(202, ProgressSchema)
    @blp.alt_response(401, schema="Error", description="auth.failed — wrong or reused code")
    @blp.alt_response(
        403, schema="Error", description="approval.totp_batch_forbidden — TOTP approves one document"
    )
    @blp.alt_response(404, **APPROVAL_NOT_FOUND)
    @blp.alt_response(409, schema="Error", description="approval.already_used / approval.no_totp")
    @blp.alt_response(410, schema="Error", description="approval.expired")
    def post(self, body: dict[str, Any], approval_id: str) -> dict[str, Any]:
        """Approve ONE document with a TOTP code (batches only where the school allows it)."""
        me = require_person()
        service.approve_with_totp(
            tenant_id=tenant_id(), person_id=me.id, approval_id=approval_id, code=body["code"]
        )
        return _progress(approval_id)


@blp.route("/documents/<string:document_id>/reject")
class Reject(MethodView):
    @login_required
    @blp.arguments(RejectSchema)
    @blp.response(200, DocumentReadSchema)
    @blp.alt_response(403, schema="Error", description="approval.not_assigned — not your step")
    @blp.alt_response(404, **NOT_FOUND)
    @blp.alt_response(422, schema="Error", description="document.reason_required")
    def post(self, body: dict[str, Any], document_id: str) -> Any:
        """Refuse to sign: the transcript goes back to the clerk with the (mandatory) reason."""
        me = require_person()
        return service.reject(
            tenant_id=tenant_id(), person_id=me.id, document_id=document_id, reason=body["reason"]
        )


@blp.route("/delegations")
class Delegations(MethodView):
    @login_required
    @blp.arguments(DelegationCreateSchema)
    @blp.response(201, DelegationReadSchema)
    @blp.alt_response(403, schema="Error", description="auth.forbidden — principals only")
    @blp.alt_response(422, schema="Error", description="delegation.invalid")
    def post(self, body: dict[str, Any]) -> Any:
        """Delegate my principal's signature to a vice-principal for a date range (some classes)."""
        me = require_person()
        if not me.has_role(PRINCIPAL):
            from app.auth.errors import NotAllowed

            raise NotAllowed()
        return delegations.create(tenant_id=tenant_id(), principal_id=me.id, **body)

    @login_required
    @blp.response(200, DelegationReadSchema(many=True))
    def get(self) -> list[Any]:
        """Delegations I gave or hold."""
        me = require_person()
        return delegations.list_for(tenant_id=tenant_id(), person_id=me.id)


@blp.route("/delegations/<string:delegation_id>/revoke")
class DelegationRevoke(MethodView):
    @login_required
    @blp.response(200, DelegationReadSchema)
    @blp.alt_response(404, schema="Error", description="delegation.not_found")
    def post(self, delegation_id: str) -> Any:
        """End a delegation now (the principal, or the delegate giving it back)."""
        me = require_person()
        return delegations.revoke(tenant_id=tenant_id(), person_id=me.id, delegation_id=delegation_id)
