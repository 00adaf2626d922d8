"""The audit trail for auditors: search it, export it (JSON Lines under schemas/audit-export.schema.json)."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from app.audit import pages, query
from app.audit.schemas import EventPageSchema, EventQuerySchema, EventSearchSchema
from app.auth.guard import current_person, require_person, roles_required

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The audit trail (auditors)")

blp.record_once(lambda state: state.app.register_blueprint(pages.bp))

FORBIDDEN = {"schema": "Error", "description": "forbidden — not an auditor, or not your school"}


def _reader() -> query.Reader:
    principal = require_person()
    person = current_person()
    return query.Reader(
        person_id=principal.id,
        tenant_id=principal.tenant_id,
        organisation_id=person.organisation_id,
        roles=principal.roles,
    )


def _query(args: dict[str, Any]) -> query.EventQuery:
    document_id = args.pop("document_id", None)
    if document_id is not None:
        args["target_type"], args["target_id"] = "document", document_id
    return query.EventQuery(**args)


@blp.route("/events")
class AuditEvents(MethodView):
    @roles_required(*query.READERS)
    @blp.arguments(EventSearchSchema, location="query")
    @blp.response(200, EventPageSchema)
    @blp.alt_response(403, **FORBIDDEN)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search the audit trail by date range, person, action, document or target (newest first)."""
        return query.search(reader=_reader(), query=_query(args))


@blp.route("/export")
class AuditExport(MethodView):
    @roles_required(*query.READERS)
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(
        200,
        description="JSON Lines, oldest first; each line valid under schemas/audit-export.schema.json",
        content_type="application/x-ndjson",
    )
    @blp.alt_response(403, **FORBIDDEN)
    def get(self, args: dict[str, Any]) -> Response:
        """Export the records you may read as JSON Lines (the export itself is audited)."""
        lines = query.export(reader=_reader(), query=_query(args))
        return Response(
            stream_with_context(lines),
            mimetype="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="audit-export.jsonl"'},
        )
