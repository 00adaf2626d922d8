"""Public verification (no account) and the school's evidence reports.

``GET /api/v1/verify/{token}`` is what the QR code leads to; ``POST /api/v1/verify`` validates an
uploaded PDF (rate-limited per address).  The page a phone opens (``/v/{token}``) is server-rendered
by ``pages.py``, registered with this blueprint.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.guard import require_person, roles_required, tenant_id
from app.auth.ratelimit import limiter
from app.people.rules import AUDITOR, CLERK, PRINCIPAL, SCHOOL_ADMIN, VICE_PRINCIPAL
from app.verify import evidence, pages, service
from app.verify.schemas import (
    EvidenceSchema,
    PublicVerificationSchema,
    UploadVerificationSchema,
    VerifyFileSchema,
)

blp = Blueprint(
    "verify", __name__, url_prefix="/api/v1", description="Public verification and evidence reports"
)
blp.record_once(lambda state: state.app.register_blueprint(pages.bp))

UPLOAD_LIMIT = "10/minute;200/day"
EVIDENCE_READERS = (SCHOOL_ADMIN, CLERK, PRINCIPAL, VICE_PRINCIPAL, AUDITOR)
NOT_FOUND = {"schema": "Error", "description": "verify.not_found — no document has this code"}
DOC_NOT_FOUND = {"schema": "Error", "description": "document.not_found — no such document in your school"}


@blp.route("/verify/<string:token>")
class PublicVerification(MethodView):
    @blp.response(200, PublicVerificationSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, token: str) -> dict[str, Any]:
        """What a transcript's QR code leads to: its status, signers, timestamps, certificates."""
        return service.lookup(token)


@blp.route("/verify")
class UploadVerification(MethodView):
    @limiter.limit(UPLOAD_LIMIT)
    @blp.arguments(VerifyFileSchema, location="files")
    @blp.response(200, UploadVerificationSchema)
    @blp.alt_response(413, schema="Error", description="request.too_large")
    @blp.alt_response(429, schema="Error", description="rate_limited")
    def post(self, files: dict[str, Any]) -> dict[str, Any]:
        """Validate a PDF: the full report, a verdict with its reason, and the document's status here."""
        return service.check_pdf(files["file"].read())


@blp.route("/documents/<string:document_id>/evidence")
@blp.route("/documents/<string:document_id>/evidence.json")
class Evidence(MethodView):
    @roles_required(*EVIDENCE_READERS)
    @blp.response(200, EvidenceSchema)
    @blp.alt_response(404, **DOC_NOT_FOUND)
    def get(self, document_id: str) -> dict[str, Any]:
        """The evidence report of a transcript (JSON): approvals, factors, devices, signatures."""
        return evidence.evidence(tenant_id=tenant_id(), document_id=document_id, actor_id=require_person().id)


@blp.route("/documents/<string:document_id>/evidence.pdf")
class EvidencePdf(MethodView):
    @roles_required(*EVIDENCE_READERS)
    @blp.response(
        200,
        description="the evidence report as a PDF",
        content_type="application/pdf",
    )
    @blp.alt_response(404, **DOC_NOT_FOUND)
    def get(self, document_id: str) -> Response:
        """The evidence report of a transcript as a PDF (Vietnamese font embedded)."""
        data = evidence.evidence(
            tenant_id=tenant_id(), document_id=document_id, actor_id=require_person().id, fmt="pdf"
        )
        return Response(
            evidence.evidence_pdf(data),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="evidence-{document_id}.pdf"'},
        )
