"""Documents API: upload transcripts, fix and release blocked ones, download what is signed.

Uploads come from clerks (session) or the school information system (Bearer token, scope
``documents:write``); reads need ``documents:read`` or a school role.  Other schools' ids are 404.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.guard import current_principal, require_principal, roles_required, scope_required, tenant_id
from app.documents import out, service, webhooks
from app.documents.intake import Metadata
from app.documents.schemas import (
    ChangesQuerySchema,
    ChangesSchema,
    DocumentQuerySchema,
    DocumentReadSchema,
    DocumentUpdateSchema,
    PageQuerySchema,
    UploadFilesSchema,
    UploadFormSchema,
    UploadReportSchema,
    WebhookReadSchema,
    WebhookSetSchema,
)
from app.documents.service import Actor
from app.people.rules import (
    AUDITOR,
    CLERK,
    HOMEROOM_TEACHER,
    PRINCIPAL,
    SCHOOL_ADMIN,
    TEACHER,
    VICE_PRINCIPAL,
)

blp = Blueprint("documents", __name__, url_prefix="/api/v1", description="Transcripts in and out")

WRITERS = (CLERK, SCHOOL_ADMIN)
READERS = (CLERK, SCHOOL_ADMIN, PRINCIPAL, VICE_PRINCIPAL, HOMEROOM_TEACHER, TEACHER, AUDITOR)
NOT_FOUND = {"schema": "Error", "description": "document.not_found — no such document in your school"}
FORBIDDEN = {"schema": "Error", "description": "auth.forbidden — missing scope or role"}
CONFLICT = {"schema": "Error", "description": "document.transition_refused / document.not_editable"}
PDF_RESPONSE = {
    "responses": {
        "200": {
            "description": "the PDF (signed once the transcript is completed)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


def _actor() -> Actor:
    principal = require_principal()
    return Actor(principal.kind, principal.id)


@blp.route("/documents")
class Documents(MethodView):
    @scope_required("documents:write", or_roles=WRITERS)
    @blp.arguments(UploadFormSchema, location="form")
    @blp.arguments(UploadFilesSchema, location="files")
    @blp.response(200, UploadReportSchema)
    @blp.alt_response(400, schema="Error", description="upload.empty — no file was sent")
    @blp.alt_response(422, schema="Error", description="upload.zip_refused / upload.manifest_invalid / …")
    @blp.alt_response(403, **FORBIDDEN)
    def post(self, form: dict[str, Any], _files: dict[str, Any]) -> dict[str, Any]:
        """Upload one PDF, many PDFs, or ZIPs of PDFs with a CSV manifest; a report per file.

        Each file is checked on its own (bad files are refused with their code, the rest accepted),
        stored by SHA-256 and de-duplicated (the same bytes are the same document).  Each document
        is then either waiting for its homeroom teacher or blocked with a visible reason
        (`blocked_code`: document.no_student_code, document.personal_id_malformed,
        document.class_unknown, document.duplicate_of_signed, document.no_homeroom_teacher,
        document.no_seal_credential, …).  Form fields apply to every file; manifest rows win.
        """
        files = [(f.filename or "upload.pdf", f.read()) for f in request.files.getlist("files")]
        manifest_file = request.files.get("manifest")
        defaults = Metadata(
            student_code=form.get("student_code"),
            student_name=form.get("student_name"),
            personal_id=form.get("personal_id"),
            class_name=form.get("class_name"),
            school_year=form.get("school_year"),
            doc_type=form.get("doc_type"),
        )
        results = service.upload(
            tenant_id=tenant_id(),
            actor=_actor(),
            files=files,
            manifest=manifest_file.read() if manifest_file else None,
            defaults=defaults,
            supersedes_id=form.get("supersedes"),
        )
        return {
            "created": sum(r.outcome == "created" for r in results),
            "duplicates": sum(r.outcome == "duplicate" for r in results),
            "refused": sum(r.outcome == "refused" for r in results),
            "blocked": sum(r.status == "blocked" for r in results),
            "files": results,
        }

    @scope_required("documents:read", or_roles=READERS)
    @blp.arguments(DocumentQuerySchema, location="query")
    @blp.response(200, DocumentReadSchema(many=True))
    @blp.alt_response(403, **FORBIDDEN)
    def get(self, args: dict[str, Any]) -> list[Any]:
        """List the school's transcripts (filters: status, class, year, student, blocked code)."""
        return service.list_documents(tenant_id=tenant_id(), **args)


@blp.route("/documents/changes")
class Changes(MethodView):
    @scope_required("documents:read", or_roles=READERS)
    @blp.arguments(ChangesQuerySchema, location="query")
    @blp.response(200, ChangesSchema)
    @blp.alt_response(400, schema="Error", description="changes.bad_cursor")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """What changed since `cursor`, in commit order (for systems that poll)."""
        return out.changes(tenant_id=tenant_id(), cursor=args.get("cursor"), limit=args["limit"])


@blp.route("/documents/<string:document_id>")
class DocumentItem(MethodView):
    @scope_required("documents:read", or_roles=READERS)
    @blp.response(200, DocumentReadSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, document_id: str) -> Any:
        """One transcript, where it is in its chain, and why if it is blocked."""
        return service.get_document(tenant_id=tenant_id(), document_id=document_id)

    @scope_required("documents:write", or_roles=WRITERS)
    @blp.arguments(DocumentUpdateSchema)
    @blp.response(200, DocumentReadSchema)
    @blp.alt_response(404, **NOT_FOUND)
    @blp.alt_response(409, **CONFLICT)
    def patch(self, changes: dict[str, Any], document_id: str) -> Any:
        """Fix the data of a transcript nobody has signed yet; it is judged again at once."""
        return service.update_metadata(
            tenant_id=tenant_id(), actor=_actor(), document_id=document_id, changes=changes
        )


def _transition(name: str, doc_text: str) -> None:
    action = getattr(service, name)

    class View(MethodView):
        @scope_required("documents:write", or_roles=WRITERS)
        @blp.response(200, DocumentReadSchema)
        @blp.alt_response(404, **NOT_FOUND)
        @blp.alt_response(409, **CONFLICT)
        def post(self, document_id: str) -> Any:
            return action(tenant_id=tenant_id(), actor=_actor(), document_id=document_id)

    View.post.__doc__ = doc_text
    View.__name__ = f"Document{name.title()}"
    blp.route(f"/documents/<string:document_id>/{name}")(View)


_transition("release", "Judge a blocked transcript again (409 with its blocked_code if still blocked).")
_transition("resubmit", "Send a rejected transcript back to its homeroom teacher (unsigned file).")
_transition("cancel", "Withdraw a transcript that is not being signed right now.")
_transition("retry", "Try a failed signature again (its signer approves again; a failed seal is re-queued).")


@blp.route("/documents/<string:document_id>/file")
class DocumentFile(MethodView):
    @scope_required("documents:read", or_roles=READERS)
    @blp.doc(**PDF_RESPONSE)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, document_id: str) -> Response:
        """The current revision of the transcript (every signature so far)."""
        doc, data = out.document_file(tenant_id=tenant_id(), document_id=document_id)
        response = Response(data, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{out.download_name(doc)}"'
        response.headers["ETag"] = f'"{doc.sha256}"'
        response.headers["X-Content-SHA256"] = doc.sha256
        return response


@blp.route("/documents/<string:document_id>/pages/<int:page>.png")
class DocumentPage(MethodView):
    @scope_required("documents:read", or_roles=READERS)
    @blp.arguments(PageQuerySchema, location="query")
    @blp.doc(
        responses={
            "200": {
                "description": "the page as PNG",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    )
    @blp.alt_response(404, schema="Error", description="document.not_found / document.page_not_found")
    def get(self, args: dict[str, Any], document_id: str, page: int) -> Response:
        """A preview of page `page` (1-based) of the current revision, `width` pixels wide."""
        png = out.page_png(tenant_id=tenant_id(), document_id=document_id, page=page, width=args["width"])
        response = Response(png, mimetype="image/png")
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response


@blp.route("/classes/<string:class_id>/documents.zip")
class ClassZip(MethodView):
    @scope_required("documents:read", or_roles=READERS)
    @blp.doc(
        responses={
            "200": {
                "description": "a ZIP of the class's completed transcripts",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    )
    @blp.alt_response(404, schema="Error", description="class.not_found")
    def get(self, class_id: str) -> Response:
        """Every signed (completed) transcript of a class, as one ZIP."""
        name, data = out.class_zip(tenant_id=tenant_id(), class_id=class_id)
        response = Response(data, mimetype="application/zip")
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


@blp.route("/webhook")
class Webhook(MethodView):
    @roles_required(SCHOOL_ADMIN)
    @blp.arguments(WebhookSetSchema)
    @blp.response(200, WebhookReadSchema)
    @blp.alt_response(422, schema="Error", description="webhook.url_invalid")
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set the school information system's webhook (`transcript.completed`); returns a new secret once."""
        principal = current_principal()
        school = tenant_id()
        if school is None:
            from app.auth.errors import NotAllowed

            raise NotAllowed()
        endpoint, secret = webhooks.set_endpoint(
            tenant_id=school, actor_id=principal.id if principal else None, url=body["url"]
        )
        return {"url": endpoint.url, "active": endpoint.active, "secret": secret}

    @roles_required(SCHOOL_ADMIN)
    @blp.response(200, WebhookReadSchema)
    @blp.alt_response(404, schema="Error", description="webhook.not_set")
    def get(self) -> dict[str, Any]:
        """The school's webhook (without its secret)."""
        endpoint = webhooks.get_endpoint(tenant_id=tenant_id())
        if endpoint is None:
            from app.errors import NotFound

            raise NotFound("No webhook is set for this school.")
        return {"url": endpoint.url, "active": endpoint.active}
