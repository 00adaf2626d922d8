"""The billing error family."""

from __future__ import annotations

from app.errors import AppError, BadRequest, Conflict, Forbidden, NotFound


class BillingError(AppError):
    code = "billing.error"


class QuotaExceeded(BillingError):
    """Raised before approval: nothing of the batch has been signed."""

    code = "billing.quota_exceeded"
    http_status = 402
    default_message = "Gói dịch vụ không còn đủ lượt ký cho lô này; hãy nâng cấp gói hoặc giảm số văn bản."


class NoSubscription(BillingError):
    code = "billing.no_subscription"
    http_status = 402
    default_message = "Trường chưa có gói dịch vụ đang hiệu lực (của trường hoặc của phòng GDĐT)."


class PlanNotFound(NotFound):
    code = "billing.plan_not_found"
    default_message = "No such plan."


class SubscriptionNotFound(NotFound):
    code = "billing.subscription_not_found"
    default_message = "No such subscription."


class OrganisationNotFound(NotFound):
    code = "billing.organisation_not_found"
    default_message = "No such school or district office."


class InvalidBillingRequest(BadRequest):
    code = "billing.invalid"
    default_message = "The billing request is not valid."


class PlanCodeTaken(Conflict):
    code = "billing.plan_code_taken"
    default_message = "A plan with this code exists already."


class SubscriptionOverlap(Conflict):
    code = "billing.subscription_overlap"
    default_message = "This organisation already has a subscription in force for part of that period."


class TransitionNotAllowed(Conflict):
    code = "billing.transition_refused"
    default_message = "The subscription cannot change to that status."


class NotYourOrganisation(Forbidden):
    code = "billing.forbidden"
    default_message = "You cannot see the usage of this organisation."
