"""Errors of the CSC domain.

``CscError`` is what Signet's own CSC server answers (rendered in the CSC shape
``{"error", "error_description"}`` by the blueprint's handler).  What a *remote* provider did to us
while brokering lives with the adapter (``app.keys.csc_remote``: ``csc_provider.unreachable`` 503,
``csc_provider.refused`` 502) and is rendered in the app's usual shape.
"""

from __future__ import annotations

from typing import ClassVar

from app.errors import AppError


class CscError(AppError):
    """A refusal of Signet's CSC server; ``csc_error`` is the CSC/OAuth error string."""

    code = "csc.invalid_request"
    http_status = 400
    csc_error: ClassVar[str] = "invalid_request"
    default_message = "The request is not valid."


class CscInvalidRequest(CscError):
    pass


class CscUnauthorized(CscError):
    code = "csc.invalid_token"
    http_status = 401
    csc_error = "invalid_token"
    default_message = "Verification failed."


class CscInvalidClient(CscError):
    code = "csc.invalid_client"
    http_status = 401
    csc_error = "invalid_client"
    default_message = "Verification failed."


class CscAccessDenied(CscError):
    code = "csc.access_denied"
    http_status = 403
    csc_error = "access_denied"
    default_message = "The signer did not authorise this request."


class CscCredentialNotFound(CscError):
    code = "csc.invalid_credential"
    http_status = 400
    csc_error = "invalid_request"
    default_message = "Invalid parameter credentialID."


class CscCredentialDisabled(CscError):
    code = "csc.credential_disabled"
    http_status = 400
    csc_error = "invalid_request"
    default_message = "The credential is not enabled."


class CscSadInvalid(CscError):
    code = "csc.invalid_sad"
    http_status = 400
    csc_error = "invalid_request"
    default_message = "Invalid SAD."


class CscSadExpired(CscError):
    code = "csc.sad_expired"
    http_status = 400
    csc_error = "invalid_request"
    default_message = "SAD expired."


class CscPending(CscError):
    """Not an error for v2 clients (they get 202); a v1 client whose wait ran out gets this."""

    code = "csc.authorization_pending"
    http_status = 400
    csc_error = "authorization_pending"
    default_message = "The signer has not approved the request yet."


class CscProviderNotFound(AppError):
    code = "csc_provider.not_found"
    http_status = 404
    default_message = "No such signing provider for this school."


class CscProviderInvalid(AppError):
    code = "csc_provider.invalid"
    http_status = 400
    default_message = "The signing provider configuration is not valid."
