"""Classes, people and roster import for the administrators of a school."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.guard import current_principal, require_person, roles_required, scope_required, tenant_id
from app.people import imports, service
from app.people.rules import ADMIN_ROLES, PRINCIPAL, ROLES
from app.people.schemas import (
    ClassCreateSchema,
    ClassQueryArgsSchema,
    ClassReadSchema,
    PersonCreateSchema,
    PersonQueryArgsSchema,
    PersonReadSchema,
    PersonUpdateSchema,
    RosterFileSchema,
    RosterImportFormSchema,
    RosterReportSchema,
)

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="Classes, people and roster import")

NOT_FOUND = {"schema": "Error", "description": "not found (or not of the caller's school)"}
READ_SCOPES = ("documents:read", "documents:write", "signing:read")


def _actor_roles() -> frozenset[str]:
    principal = current_principal()
    return principal.roles if principal else frozenset()


@blp.route("/classes")
class Classes(MethodView):
    @scope_required(*READ_SCOPES, or_roles=ROLES)
    @blp.arguments(ClassQueryArgsSchema, location="query")
    @blp.response(200, ClassReadSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[Any]:
        """The school's classes (people of the school, and its API clients)."""
        return service.list_classes(tenant_id=tenant_id(), school_year=args["school_year"])

    @roles_required(*ADMIN_ROLES)
    @blp.arguments(ClassCreateSchema)
    @blp.response(201, ClassReadSchema)
    @blp.alt_response(409, schema="Error", description="class.exists")
    def post(self, body: dict[str, Any]) -> Any:
        """Add a class for a school year."""
        return service.create_class(tenant_id=tenant_id(), actor_id=require_person().id, **body)


@blp.route("/classes/<string:class_id>")
class ClassItem(MethodView):
    @scope_required(*READ_SCOPES, or_roles=ROLES)
    @blp.response(200, ClassReadSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, class_id: str) -> Any:
        """One class."""
        return service.get_class(tenant_id=tenant_id(), class_id=class_id)


@blp.route("/people")
class People(MethodView):
    @roles_required(*ADMIN_ROLES, PRINCIPAL)  # the principal picks a vice-principal to delegate to
    @blp.arguments(PersonQueryArgsSchema, location="query")
    @blp.response(200, PersonReadSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[Any]:
        """The school's people; filter by name/username (q), role or status."""
        return service.list_people(tenant_id=tenant_id(), **args)

    @roles_required(*ADMIN_ROLES)
    @blp.arguments(PersonCreateSchema)
    @blp.response(201, PersonReadSchema)
    @blp.alt_response(409, schema="Error", description="person.username_taken / person.cccd_taken")
    def post(self, body: dict[str, Any]) -> Any:
        """Add a person (username derived from the name when not given: Nguyễn Thị Vân → vannt)."""
        roles = body.pop("roles")
        return service.create_person(
            tenant_id=tenant_id(),
            actor_id=require_person().id,
            actor_roles=_actor_roles(),
            roles=None if roles is None else [service.RoleSpec(**r) for r in roles],
            **body,
        )


@blp.route("/people/<string:person_id>")
class PersonItem(MethodView):
    @roles_required(*ADMIN_ROLES)
    @blp.response(200, PersonReadSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, person_id: str) -> Any:
        """One person of the school."""
        return service.get_person(tenant_id=tenant_id(), person_id=person_id)

    @roles_required(*ADMIN_ROLES)
    @blp.arguments(PersonUpdateSchema)
    @blp.response(200, PersonReadSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def patch(self, body: dict[str, Any], person_id: str) -> Any:
        """Change a person's details or roles (``roles`` replaces the whole list)."""
        return service.update_person(
            tenant_id=tenant_id(),
            actor_id=require_person().id,
            actor_roles=_actor_roles(),
            person_id=person_id,
            changes=body,
        )


@blp.route("/people/<string:person_id>/suspend")
class PersonSuspend(MethodView):
    @roles_required(*ADMIN_ROLES)
    @blp.response(200, PersonReadSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, person_id: str) -> Any:
        """Suspend a person: no sign-in, open sessions end at once."""
        return service.suspend_person(
            tenant_id=tenant_id(), actor_id=require_person().id, person_id=person_id
        )


@blp.route("/roster/imports")
class RosterImports(MethodView):
    @roles_required(*ADMIN_ROLES)
    @blp.arguments(RosterImportFormSchema, location="form")
    @blp.arguments(RosterFileSchema, location="files")
    @blp.response(200, RosterReportSchema)
    @blp.alt_response(422, schema="Error", description="roster.unreadable — not a CSV/XLSX roster")
    def post(self, form: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        """Import the staff or class list (CSV or XLSX): all rows or none, with a row-by-row report."""
        upload = files["file"]
        return imports.import_roster(
            tenant_id=tenant_id(),
            actor_id=require_person().id,
            kind=form["kind"],
            filename=upload.filename or "",
            content=upload.read(),
            dry_run=form["dry_run"],
            school_year=form["school_year"],
        )
