"""Errors of the people domain."""

from __future__ import annotations

from app.errors import AppError, Conflict, NotFound, Unprocessable


class PersonNotFound(NotFound):
    code = "person.not_found"
    default_message = "No such person."


class ClassNotFound(NotFound):
    code = "class.not_found"
    default_message = "No such class."


class OrganisationNotFound(NotFound):
    code = "organisation.not_found"
    default_message = "No such organisation."


class UsernameTaken(Conflict):
    code = "person.username_taken"
    default_message = "This username is already in use."


class CccdTaken(Conflict):
    code = "person.cccd_taken"
    default_message = "A person with this personal identification number already exists in this school."


class ClassExists(Conflict):
    code = "class.exists"
    default_message = "This class already exists for that school year."


class InvalidValue(Unprocessable):
    code = "person.invalid"
    default_message = "A value is not valid."


class RosterUnreadable(AppError):
    code = "roster.unreadable"
    http_status = 422
    default_message = "The roster file could not be read."
