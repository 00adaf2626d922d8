"""Errors of the auth domain. Authentication failures never say why (see AuthenticationFailed)."""

from __future__ import annotations

from app.errors import AppError, AuthenticationFailed, Conflict, Forbidden, NotFound

__all__ = [
    "AuthRequired",
    "AuthenticationFailed",
    "CsrfFailed",
    "InvitationExpired",
    "InvitationInvalid",
    "InvitationUsed",
    "LastFactor",
    "NotAllowed",
]


class AuthRequired(AppError):
    code = "auth.required"
    http_status = 401
    default_message = "Sign in first."


class CsrfFailed(AppError):
    code = "auth.csrf"
    http_status = 403
    default_message = "The request is missing its CSRF token; reload the page and try again."


class NotAllowed(Forbidden):
    code = "auth.forbidden"
    default_message = "You are not allowed to do this."


class InvitationInvalid(NotFound):
    code = "invitation.invalid"
    default_message = "This invitation link is not valid."


class InvitationExpired(AppError):
    code = "invitation.expired"
    http_status = 410
    default_message = "This invitation has expired; ask your school for a new one."


class InvitationUsed(AppError):
    code = "invitation.used"
    http_status = 410
    default_message = "This invitation has already been used."


class LastFactor(Conflict):
    code = "auth.last_factor"
    default_message = "This is your last way to sign in; add another one first."


class NotFoundHere(NotFound):
    """Anything that does not exist *for the caller* (including other schools' ids)."""

    code = "not_found"
