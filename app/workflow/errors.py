"""Why an approval, a rejection or a delegation is refused; one class per reason, each with a code."""

from __future__ import annotations

from app.errors import AppError, Conflict, Forbidden, NotFound, Unprocessable


class ApprovalNotFound(NotFound):
    code = "approval.not_found"
    default_message = "No such approval."


class NothingToApprove(Unprocessable):
    code = "approval.empty"
    default_message = "None of these documents is waiting for your signature."


class NotAssigned(Forbidden):
    code = "approval.not_assigned"
    default_message = (
        "Some of these documents are not waiting for your signature; only their signer can approve."
    )


class MixedSteps(Unprocessable):
    code = "approval.mixed_steps"
    default_message = (
        "These documents wait for you at different steps; approve one step at a time (step=1 or 2)."
    )


class TooMany(Unprocessable):
    code = "approval.too_many"
    default_message = "At most 5,000 documents can be approved at once."


class NoSigningCredential(Conflict):
    code = "approval.no_signing_credential"
    default_message = "You have no active signing certificate; ask your school administrator."


class NoSealCredential(Conflict):
    code = "approval.no_seal_credential"
    default_message = "The school has no active seal certificate; the principal's approval would stop there."


class ApprovalExpired(AppError):
    code = "approval.expired"
    http_status = 410
    default_message = "The approval request expired (5 minutes); ask for a new one."


class ApprovalUsed(Conflict):
    code = "approval.already_used"
    default_message = "This approval has already been used; each approval signs once."


class TotpBatchForbidden(Forbidden):
    code = "approval.totp_batch_forbidden"
    default_message = "A TOTP code approves one document at a time here; use your passkey for a batch."


class NoTotpFactor(Conflict):
    code = "approval.no_totp"
    default_message = "You have no TOTP authenticator enrolled; approve with your passkey."


class DelegationNotFound(NotFound):
    code = "delegation.not_found"
    default_message = "No such delegation."


class DelegationInvalid(Unprocessable):
    code = "delegation.invalid"
    default_message = "The delegation is not valid."
