"""Request and response shapes of the billing and operator APIs."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from app.billing.rules import PlanScope, SubscriptionStatus

MONTH = validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="A month is written YYYY-MM.")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class PlanCreate(_Strict):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scope = fields.String(required=True, validate=validate.OneOf([x.value for x in PlanScope]))
    included_signatures = fields.Integer(required=True, validate=validate.Range(min=0))
    price_vnd = fields.Integer(required=True, validate=validate.Range(min=0))
    overage_allowed = fields.Boolean(load_default=False)
    overage_unit_price_vnd = fields.Integer(load_default=0, validate=validate.Range(min=0))
    vat_percent = fields.Integer(load_default=10, validate=validate.Range(min=0, max=100))


class PlanUpdate(_Strict):
    name = fields.String(validate=validate.Length(min=1, max=200))
    included_signatures = fields.Integer(validate=validate.Range(min=0))
    price_vnd = fields.Integer(validate=validate.Range(min=0))
    overage_allowed = fields.Boolean()
    overage_unit_price_vnd = fields.Integer(validate=validate.Range(min=0))
    vat_percent = fields.Integer(validate=validate.Range(min=0, max=100))
    active = fields.Boolean()


class PlanRead(Schema):
    id = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    scope = fields.String(required=True)
    included_signatures = fields.Integer(required=True)
    price_vnd = fields.Integer(required=True)
    overage_allowed = fields.Boolean(required=True)
    overage_unit_price_vnd = fields.Integer(required=True)
    vat_percent = fields.Integer(required=True)
    active = fields.Boolean(required=True)


class BillingSubscriptionCreate(_Strict):
    organisation_id = fields.String(required=True, metadata={"description": "a school or a district office"})
    plan_id = fields.String(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    status = fields.String(
        load_default=SubscriptionStatus.TRIAL.value,
        validate=validate.OneOf([SubscriptionStatus.TRIAL.value, SubscriptionStatus.ACTIVE.value]),
    )


class BillingSubscriptionQueryArgs(_Strict):
    organisation_id = fields.String()


class BillingSubscriptionStatusChange(_Strict):
    status = fields.String(required=True, validate=validate.OneOf([x.value for x in SubscriptionStatus]))


class BillingSubscriptionPlanChange(_Strict):
    plan_id = fields.String(required=True)


class BillingSubscriptionRead(Schema):
    id = fields.String(required=True)
    organisation_id = fields.String(required=True)
    plan_id = fields.String(required=True)
    status = fields.String(required=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    used_signatures = fields.Integer(required=True)
    activated_at = fields.DateTime(allow_none=True)


class QuotaRead(Schema):
    subscription_id = fields.String(required=True)
    organisation_id = fields.String(required=True, metadata={"description": "who pays"})
    status = fields.String(required=True)
    included = fields.Integer(required=True)
    used = fields.Integer(required=True)
    remaining = fields.Integer(required=True)
    overage_allowed = fields.Boolean(required=True)
    percent_used = fields.Float(required=True)


class CostRead(Schema):
    signers = fields.Integer(required=True)
    subscription_cost_vnd = fields.Integer(required=True)
    cost_per_signer_vnd = fields.Integer(required=True)
    reference_certificate_vnd = fields.Integer(required=True)
    reference_total_vnd = fields.Integer(required=True)
    saving_vnd = fields.Integer(required=True)


class DayCountRead(Schema):
    day = fields.Date(required=True)
    count = fields.Integer(required=True)


class ClassCountRead(Schema):
    class_id = fields.String(allow_none=True)
    class_name = fields.String(required=True)
    count = fields.Integer(required=True)


class UsageQueryArgs(_Strict):
    reference_vnd = fields.Integer(
        validate=validate.Range(min=0),
        metadata={"description": "price of a personal certificate per year (default 500,000 VND)"},
    )


class SchoolDashboardRead(Schema):
    tenant_id = fields.String(required=True)
    school_name = fields.String(required=True)
    paid_by = fields.String(allow_none=True)
    quota = fields.Nested(QuotaRead, allow_none=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    year_progress_percent = fields.Float(required=True)
    total = fields.Integer(required=True)
    per_day = fields.List(fields.Nested(DayCountRead), required=True)
    per_class = fields.List(fields.Nested(ClassCountRead), required=True)
    per_doc_type = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    cost = fields.Nested(CostRead, allow_none=True)


class SchoolUsageRead(Schema):
    tenant_id = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    total = fields.Integer(required=True)
    paid_by = fields.String(allow_none=True)


class DistrictDashboardRead(Schema):
    district_id = fields.String(required=True)
    district_name = fields.String(required=True)
    quota = fields.Nested(QuotaRead, allow_none=True)
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    year_progress_percent = fields.Float(required=True)
    total = fields.Integer(required=True)
    per_day = fields.List(fields.Nested(DayCountRead), required=True)
    schools = fields.List(fields.Nested(SchoolUsageRead), required=True)
    cost = fields.Nested(CostRead, allow_none=True)


class StatementQueryArgs(_Strict):
    format = fields.String(load_default="pdf", validate=validate.OneOf(["pdf", "csv"]))
    reference_vnd = fields.Integer(validate=validate.Range(min=0))


STATEMENT_DOC = {
    "responses": {
        "200": {
            "description": "the monthly statement",
            "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
}


# operator console -----------------------------------------------------------------------------------
class TenantRead(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    parent_id = fields.String(allow_none=True)
    quota = fields.Nested(QuotaRead, allow_none=True)


class HsmStatusRead(Schema):
    ok = fields.Boolean(required=True)
    module = fields.String(allow_none=True)
    token_label = fields.String(allow_none=True)
    manufacturer = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    key_count = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class QueueRead(Schema):
    ok = fields.Boolean(required=True)
    broker = fields.String(required=True, metadata={"description": "broker transport, no credentials"})
    queues = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    error = fields.String(allow_none=True)


class StalledRead(Schema):
    available = fields.Boolean(required=True, metadata={"description": "false: no workflow installed"})
    items = fields.List(fields.Dict(), required=True)
