"""Errors of the documents domain (each with a stable code the PWA translates)."""

from __future__ import annotations

from app.errors import BadRequest, Conflict, NotFound, Unprocessable


class DocumentNotFound(NotFound):
    code = "document.not_found"
    default_message = "No such document."


class ClassNotFound(NotFound):
    code = "class.not_found"
    default_message = "No such class."


class DocumentBlocked(Conflict):
    """Raised when a release is asked for but the data is still incomplete; ``code`` is overridden."""

    code = "document.blocked"
    default_message = "The document is still blocked."

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, details={"blocked_code": code})


class NotEditable(Conflict):
    code = "document.not_editable"
    default_message = "The document can no longer be changed; upload a correction instead."


class NothingUploaded(BadRequest):
    code = "upload.empty"
    default_message = "No file was sent; attach PDFs (field 'files') or one ZIP."


class CorrectionNeedsOneFile(Unprocessable):
    code = "upload.correction_needs_one_file"
    default_message = "A correction replaces one transcript: send exactly one PDF with 'supersedes'."


class ReasonRequired(Unprocessable):
    code = "document.reason_required"
    default_message = "Say why the transcript is rejected (at least 3 characters)."


class PageNotFound(NotFound):
    code = "document.page_not_found"
    default_message = "The document has no such page."


class BadCursor(BadRequest):
    code = "changes.bad_cursor"
    default_message = "The cursor is not one this service gave out."
