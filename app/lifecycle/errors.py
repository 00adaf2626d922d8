"""The lifecycle error family."""

from __future__ import annotations

from app.errors import BadRequest, Conflict, Forbidden, NotFound


class PersonNotFound(NotFound):
    code = "lifecycle.person_not_found"
    default_message = "No such person."


class NotAllowedHere(Forbidden):
    code = "lifecycle.forbidden"
    default_message = "You cannot do this for this school."


class SealRequestNotFound(NotFound):
    code = "lifecycle.seal_request_not_found"
    default_message = "No such seal request."


class SealRequestDecided(Conflict):
    code = "lifecycle.seal_request_decided"
    default_message = "This seal request has been decided already."


class InvalidLifecycleRequest(BadRequest):
    code = "lifecycle.invalid"
    default_message = "The request is not valid."
