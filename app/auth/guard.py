"""Who is calling: a person (session cookie) or a school information system (Bearer token).

Every later domain uses this module and nothing else from auth::

    from app.auth.guard import roles_required, scope_required, current_person, tenant_id

    @roles_required("school_admin", "clerk")
    def post(self, ...): service.do(tenant_id=tenant_id(), actor_id=current_principal().id, ...)

Unsafe requests (POST/PUT/PATCH/DELETE) authenticated by the session cookie must carry
``X-CSRF-Token`` equal to the ``signet_csrf`` cookie and bound to the session (403 ``auth.csrf``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import structlog
from flask import current_app, request

from app import db
from app.auth import crypto
from app.auth.clock import now
from app.auth.errors import AuthRequired, CsrfFailed, NotAllowed
from app.auth.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, csrf_for, resolve
from app.people.models import Person
from app.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MISSING = object()
_ENVIRON_KEY = "signet.principal"  # per request (``g`` lives as long as the app context)


@dataclass(frozen=True)
class Principal:
    kind: Literal["person", "api_client"]
    id: str  # person id or API client id
    tenant_id: str | None
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    session_id: str | None = None
    session_token: str | None = None

    @property
    def is_person(self) -> bool:
        return self.kind == "person"

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def _resolve() -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        from app.auth.clients import resolve_access_token

        return resolve_access_token(header[7:].strip())
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 100:
        return None
    with db.transaction() as s:
        found = resolve(s, token, now())
        if found is None:
            return None
        row, person = found
        roles = frozenset(r.role for r in person.roles)
    if request.method in UNSAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        cookie = request.cookies.get(CSRF_COOKIE, "")
        expected = csrf_for(_settings(), token)
        if not (sent and crypto.same(sent, cookie) and crypto.same(sent, expected)):
            raise CsrfFailed()
    return Principal(
        kind="person",
        id=person.id,
        tenant_id=person.tenant_id,
        roles=roles,
        session_id=row.id,
        session_token=token,
    )


def current_principal() -> Principal | None:
    """The caller, or None for an anonymous request (resolved once per request)."""
    cached = request.environ.get(_ENVIRON_KEY, _MISSING)
    if cached is _MISSING:
        cached = _resolve()
        request.environ[_ENVIRON_KEY] = cached
        if cached is not None:
            structlog.contextvars.bind_contextvars(
                principal_kind=cached.kind, principal_id=cached.id, tenant_id=cached.tenant_id
            )
    return cast(Principal | None, cached)


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        raise AuthRequired()
    return principal


def require_person() -> Principal:
    principal = require_principal()
    if not principal.is_person:
        raise NotAllowed()
    return principal


def current_person() -> Person:
    """The signed-in person (401 ``auth.required`` otherwise; 403 for API clients)."""
    principal = require_person()
    person = db.session().get(Person, principal.id)
    if person is None:
        raise AuthRequired()
    return person


def tenant_id() -> str | None:
    """The school of the caller (None for district, department and operator staff)."""
    principal = current_principal()
    return principal.tenant_id if principal else None


def login_required(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_person()
        return fn(*args, **kwargs)

    return cast(F, wrapper)


def roles_required(*roles: str) -> Callable[[F], F]:
    """A signed-in person holding at least one of ``roles``."""

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not require_person().has_role(*roles):
                raise NotAllowed()
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def scope_required(*scopes: str, or_roles: tuple[str, ...] = ()) -> Callable[[F], F]:
    """An API client granted one of ``scopes`` — or, when ``or_roles`` is given, a person with one of them."""

    def decorator(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = require_principal()
            allowed = (
                bool(principal.scopes.intersection(scopes))
                if principal.kind == "api_client"
                else bool(or_roles) and principal.has_role(*or_roles)
            )
            if not allowed:
                raise NotAllowed()
            return fn(*args, **kwargs)

        return cast(F, wrapper)

    return decorator
