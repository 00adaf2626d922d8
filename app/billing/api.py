"""Billing: plans and subscriptions (operator), usage dashboards and monthly statements
(school and district), and the operator console."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.guard import login_required, require_person, roles_required
from app.billing import console, service, statements, usage
from app.billing import schemas as sch
from app.billing.models import Plan, Subscription
from app.people.rules import OPERATOR

blp = Blueprint("billing", __name__, url_prefix="/api/v1/billing", description="Plans, subscriptions, usage")
operator_blp = Blueprint(
    "operator", __name__, url_prefix="/api/v1/operator", description="Operator console (operators only)"
)
blps = [blp, operator_blp]


@blp.route("/plans")
class Plans(MethodView):
    @roles_required(OPERATOR)
    @blp.response(200, sch.PlanRead(many=True))
    def get(self) -> list[Plan]:
        """Every plan."""
        return service.list_plans()

    @roles_required(OPERATOR)
    @blp.arguments(sch.PlanCreate)
    @blp.response(201, sch.PlanRead)
    @blp.alt_response(409, description="a plan with this code exists (billing.plan_code_taken)")
    def post(self, body: dict[str, Any]) -> Plan:
        """Define a plan: a school plan, or a district plan with a pooled quota."""
        return service.create_plan(actor_id=require_person().id, **body)


@blp.route("/plans/<plan_id>")
class PlanItem(MethodView):
    @roles_required(OPERATOR)
    @blp.arguments(sch.PlanUpdate)
    @blp.response(200, sch.PlanRead)
    @blp.alt_response(404, description="no such plan")
    def patch(self, body: dict[str, Any], plan_id: str) -> Plan:
        """Change a plan (prices, quota, overage); audited."""
        return service.update_plan(plan_id, actor_id=require_person().id, **body)


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @roles_required(OPERATOR)
    @blp.arguments(sch.BillingSubscriptionQueryArgs, location="query")
    @blp.response(200, sch.BillingSubscriptionRead(many=True))
    def get(self, args: dict[str, Any]) -> list[Subscription]:
        """Subscriptions, newest period first."""
        return service.list_subscriptions(organisation_id=args.get("organisation_id"))

    @roles_required(OPERATOR)
    @blp.arguments(sch.BillingSubscriptionCreate)
    @blp.response(201, sch.BillingSubscriptionRead)
    @blp.alt_response(409, description="overlaps a subscription in force (billing.subscription_overlap)")
    def post(self, body: dict[str, Any]) -> Subscription:
        """Subscribe a school or a district office to a plan for a period."""
        return service.create_subscription(actor_id=require_person().id, **body)


@blp.route("/subscriptions/<subscription_id>/status")
class SubscriptionStatus(MethodView):
    @roles_required(OPERATOR)
    @blp.arguments(sch.BillingSubscriptionStatusChange)
    @blp.response(200, sch.BillingSubscriptionRead)
    @blp.alt_response(409, description="transition refused (billing.transition_refused)")
    def post(self, body: dict[str, Any], subscription_id: str) -> Subscription:
        """Move a subscription: trial → active → past due ⇄ active → ended."""
        return service.transition_subscription(
            subscription_id, actor_id=require_person().id, status=body["status"]
        )


@blp.route("/subscriptions/<subscription_id>/plan")
class SubscriptionPlan(MethodView):
    @roles_required(OPERATOR)
    @blp.arguments(sch.BillingSubscriptionPlanChange)
    @blp.response(200, sch.BillingSubscriptionRead)
    def post(self, body: dict[str, Any], subscription_id: str) -> Subscription:
        """Upgrade or downgrade: the new plan's quota applies at once."""
        return service.change_plan(subscription_id, actor_id=require_person().id, plan_id=body["plan_id"])


@blp.route("/subscriptions/<subscription_id>/statements/<month>")
class Statement(MethodView):
    @login_required
    @blp.arguments(sch.StatementQueryArgs, location="query")
    @blp.doc(**sch.STATEMENT_DOC)
    @blp.alt_response(403, description="not an operator nor an admin of the paying organisation")
    def get(self, args: dict[str, Any], subscription_id: str, month: str) -> Response:
        """The monthly statement (PDF or CSV) for a district accountant."""
        st = statements.build_statement(
            viewer_id=require_person().id,
            subscription_id=subscription_id,
            month=month,
            reference_vnd=args.get("reference_vnd"),
        )
        name = f"bang-ke-{st.organisation_code}-{st.month}"
        if args["format"] == "csv":
            body, mimetype, filename = statements.statement_csv(st), "text/csv; charset=utf-8", f"{name}.csv"
        else:
            body, mimetype, filename = statements.statement_pdf(st), "application/pdf", f"{name}.pdf"
        response = Response(body, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/usage/schools/<tenant_id>")
class SchoolUsage(MethodView):
    @login_required
    @blp.arguments(sch.UsageQueryArgs, location="query")
    @blp.response(200, sch.SchoolDashboardRead)
    @blp.alt_response(403, description="not a viewer of this school")
    def get(self, args: dict[str, Any], tenant_id: str) -> usage.SchoolDashboard:
        """A school's dashboard: per day, per class, year progress, remaining quota, cost per teacher."""
        return usage.school_dashboard(
            viewer_id=require_person().id, tenant_id=tenant_id, reference_vnd=args.get("reference_vnd")
        )


@blp.route("/usage/districts/<district_id>")
class DistrictUsage(MethodView):
    @login_required
    @blp.arguments(sch.UsageQueryArgs, location="query")
    @blp.response(200, sch.DistrictDashboardRead)
    @blp.alt_response(403, description="not a viewer of this district office")
    def get(self, args: dict[str, Any], district_id: str) -> usage.DistrictDashboard:
        """A district office's dashboard: every school's usage and the pooled quota."""
        return usage.district_dashboard(
            viewer_id=require_person().id, district_id=district_id, reference_vnd=args.get("reference_vnd")
        )


@operator_blp.route("/tenants")
class Tenants(MethodView):
    @roles_required(OPERATOR)
    @operator_blp.response(200, sch.TenantRead(many=True))
    def get(self) -> list[console.TenantInfo]:
        """Every organisation and the quota that pays for it."""
        return console.tenants()


@operator_blp.route("/hsm")
class HsmStatus(MethodView):
    @roles_required(OPERATOR)
    @operator_blp.response(200, sch.HsmStatusRead)
    def get(self) -> dict[str, Any]:
        """The HSM token: reachable, how many keys."""
        return console.hsm_status()


@operator_blp.route("/queue")
class Queue(MethodView):
    @roles_required(OPERATOR)
    @operator_blp.response(200, sch.QueueRead)
    def get(self) -> dict[str, Any]:
        """Messages waiting on the task queue."""
        return console.queue_depth()


@operator_blp.route("/stalled")
class Stalled(MethodView):
    @roles_required(OPERATOR)
    @operator_blp.response(200, sch.StalledRead)
    def get(self) -> dict[str, Any]:
        """Documents whose signing lease has run out (the sweep will take them back)."""
        return console.stalled()
