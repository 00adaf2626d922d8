"""Server-side sessions in an HttpOnly cookie, and the double-submit CSRF cookie.

The cookie carries a random token; the database keeps its SHA-256 only. A session ends after 30 minutes
without a request (idle), 12 hours after sign-in (absolute), or when revoked. The CSRF token is an HMAC
of the session token: the PWA reads it from the ``signet_csrf`` cookie (or ``GET /me``) and sends it
back in ``X-CSRF-Token`` on every unsafe request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Response, after_this_request, request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth import crypto
from app.auth.models import UserSession
from app.people.models import Person
from app.settings import Settings

SESSION_COOKIE = "signet_session"
CSRF_COOKIE = "signet_csrf"
PREAUTH_COOKIE = "signet_preauth"
CSRF_HEADER = "X-CSRF-Token"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
PREAUTH_MAX_AGE = timedelta(minutes=30)
TOUCH_EVERY = timedelta(seconds=60)  # write last_seen_at at most once a minute per session


@dataclass(frozen=True)
class IssuedSession:
    session_id: str
    token: str
    csrf_token: str
    expires_at: datetime


def cookie_secure(settings: Settings) -> bool:
    return not settings.public_base_url.startswith(("http://localhost", "http://127.0.0.1"))


def csrf_for(settings: Settings, token: str) -> str:
    return crypto.mac(settings, "csrf", token)[:43]


def issue(
    s: Session, settings: Settings, *, person: Person, method: str, user_agent: str | None, now: datetime
) -> IssuedSession:
    """Add a session row to ``s`` (committed by the caller) and return the cookie values."""
    token = crypto.random_token(32)
    row = UserSession(
        person_id=person.id,
        tenant_id=person.tenant_id,
        token_hash=crypto.digest(token),
        method=method,
        user_agent=(user_agent or "")[:300] or None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TIMEOUT,
    )
    s.add(row)
    s.flush()
    return IssuedSession(row.id, token, csrf_for(settings, token), row.expires_at)


def is_live(row: UserSession, now: datetime) -> bool:
    return row.revoked_at is None and now < row.expires_at and now < row.last_seen_at + IDLE_TIMEOUT


def resolve(s: Session, token: str, now: datetime) -> tuple[UserSession, Person] | None:
    """The live session for a cookie value, touching ``last_seen_at``; None when absent or expired."""
    found = s.execute(
        select(UserSession, Person)
        .join(Person, Person.id == UserSession.person_id)
        .where(UserSession.token_hash == crypto.digest(token))
    ).first()
    if found is None:
        return None
    row, person = found
    if not is_live(row, now) or not person.is_active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        s.execute(update(UserSession).where(UserSession.id == row.id).values(last_seen_at=now))
        row.last_seen_at = now
    return row, person


def set_cookies(settings: Settings, issued: IssuedSession) -> None:
    secure = cookie_secure(settings)
    max_age = int(ABSOLUTE_TIMEOUT.total_seconds())

    @after_this_request
    def _set(response: Response) -> Response:
        response.set_cookie(
            SESSION_COOKIE, issued.token, max_age=max_age, httponly=True, secure=secure, samesite="Lax"
        )
        response.set_cookie(
            CSRF_COOKIE, issued.csrf_token, max_age=max_age, httponly=False, secure=secure, samesite="Lax"
        )
        response.delete_cookie(PREAUTH_COOKIE, secure=secure, httponly=True, samesite="Lax")
        return response


def clear_cookies(settings: Settings) -> None:
    secure = cookie_secure(settings)

    @after_this_request
    def _clear(response: Response) -> Response:
        response.delete_cookie(SESSION_COOKIE, secure=secure, httponly=True, samesite="Lax")
        response.delete_cookie(CSRF_COOKIE, secure=secure, samesite="Lax")
        return response


def preauth_binding(settings: Settings, *, create: bool) -> str | None:
    """Digest of the pre-auth cookie that binds a pending ceremony to this browser.

    With ``create``, a new cookie is issued when the browser has none.
    """
    value = request.cookies.get(PREAUTH_COOKIE)
    if value is None or len(value) > 100:
        if not create:
            return None
        value = crypto.random_token(32)
        secure = cookie_secure(settings)
        cookie = value

        @after_this_request
        def _set(response: Response) -> Response:
            response.set_cookie(
                PREAUTH_COOKIE,
                cookie,
                max_age=int(PREAUTH_MAX_AGE.total_seconds()),
                httponly=True,
                secure=secure,
                samesite="Lax",
            )
            return response

    return crypto.digest("preauth:" + value)


def session_binding(token: str) -> str:
    return crypto.digest("session:" + token)
