"""Why a PDF is refused, one class per reason, each with a stable code.

The messages are written for a school secretary who uploaded the file: they say what to do next, in
plain English (the PWA translates by ``code``).  Parser internals never reach the message; the
exception type goes to the log.
"""

from __future__ import annotations

from app.errors import AppError, Unprocessable


class PdfError(Unprocessable):
    code = "pdf.invalid"
    default_message = "The file could not be used as a PDF document."


class PdfEmpty(PdfError):
    code = "pdf.empty"
    default_message = "The file is empty; choose the PDF again and re-upload it."


class PdfTooLarge(PdfError):
    code = "pdf.too_large"
    http_status = 413
    default_message = "The PDF is larger than the limit; reduce its size (e.g. scan at 150 dpi) and retry."


class PdfNotPdf(PdfError):
    code = "pdf.not_pdf"
    default_message = "The file is not a PDF; export or print the document to PDF first."


class PdfTruncated(PdfError):
    code = "pdf.truncated"
    default_message = "The PDF is incomplete (cut off during upload or copy); upload the original again."


class PdfCorrupt(PdfError):
    code = "pdf.corrupt"
    default_message = "The PDF is damaged and cannot be read safely; re-export it from the original."


class PdfEncrypted(PdfError):
    code = "pdf.encrypted"
    default_message = "The PDF is password-protected or encrypted; save a copy without a password and retry."


class PdfChangesForbidden(PdfError):
    code = "pdf.changes_forbidden"
    default_message = (
        "The PDF does not allow changes (its permissions or an earlier certification signature "
        "forbid them), so it cannot be signed; ask its author for an unlocked copy."
    )


class SigningFailed(AppError):
    """The engine could not produce a signature (TSA down, certificate unusable, ...)."""

    code = "signing.failed"
    http_status = 502
    default_message = "The document could not be signed; nothing was changed. Try again shortly."


class TimestampUnavailable(SigningFailed):
    code = "signing.tsa_unavailable"
    default_message = "The time-stamping service did not answer; the document was not signed."
