"""API clients of school information systems: OAuth2 client credentials, short-lived Bearer tokens.

The client secret is shown once and stored as a SHA-256 digest (it is 32 random bytes, so a slow hash
adds nothing); access tokens live 15 minutes and die with their client.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import crypto, factors
from app.auth.clock import now
from app.auth.errors import NotFoundHere
from app.auth.guard import Principal
from app.auth.models import SCOPES, AccessToken, ApiClient
from app.db import transaction
from app.errors import AppError, BadRequest
from app.people.service import get_school

ACCESS_TOKEN_TTL = timedelta(minutes=15)
_DUMMY_HASH = crypto.digest("not a secret")


class UnsupportedGrantType(BadRequest):
    code = "oauth2.unsupported_grant_type"
    default_message = "Only grant_type=client_credentials is supported."


class InvalidScope(BadRequest):
    code = "oauth2.invalid_scope"
    default_message = "A requested scope is not granted to this client."


class InvalidClientRequest(AppError):
    code = "api_client.invalid"
    http_status = 422
    default_message = "The API client is not valid."


@dataclass(frozen=True)
class NewClient:
    """The created client, with its secret: the only time the secret is ever available."""

    id: str
    client_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    client_secret: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


def _scopes(raw: list[str]) -> list[str]:
    scopes = sorted(set(raw))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        raise InvalidClientRequest(
            "Choose at least one scope among " + ", ".join(SCOPES) + ".", details={"unknown": unknown}
        )
    return scopes


def create_client(*, tenant_id: str | None, actor_id: str, name: str, scopes: list[str]) -> NewClient:
    if not tenant_id:
        raise NotFoundHere()
    name = re.sub(r"\s+", " ", name or "").strip()[:100]
    if not name:
        raise InvalidClientRequest("Give the client a name.")
    granted = _scopes(scopes)
    secret = crypto.random_token(32)
    with transaction() as s:
        get_school(s, tenant_id)
        client = ApiClient(
            tenant_id=tenant_id,
            client_id="sgc_" + crypto.random_token(12),
            name=name,
            secret_hash=crypto.digest(secret),
            scopes=granted,
            created_by_id=actor_id,
            created_at=now(),
        )
        s.add(client)
        s.flush()
        record_event(
            s,
            action="api_client.create",
            actor_id=actor_id,
            tenant_id=tenant_id,
            target_type="api_client",
            target_id=client.id,
            details={"client_id": client.client_id, "scopes": granted},
        )
        return NewClient(client.id, client.client_id, name, granted, client.created_at, secret)


def list_clients(*, tenant_id: str | None) -> list[ApiClient]:
    if not tenant_id:
        return []
    with transaction() as s:
        return list(
            s.scalars(
                select(ApiClient).where(ApiClient.tenant_id == tenant_id).order_by(ApiClient.created_at)
            )
        )


def revoke_client(*, tenant_id: str | None, actor_id: str, api_client_id: str) -> None:
    """Revoked at once: its tokens are deleted and the client can get no new ones."""
    with transaction() as s:
        client = s.get(ApiClient, api_client_id)
        if client is None or tenant_id is None or client.tenant_id != tenant_id:
            raise NotFoundHere()
        if client.revoked_at is None:
            client.revoked_at = now()
            s.execute(delete(AccessToken).where(AccessToken.api_client_id == client.id))
            record_event(
                s,
                action="api_client.revoke",
                actor_id=actor_id,
                tenant_id=tenant_id,
                target_type="api_client",
                target_id=client.id,
                details={"client_id": client.client_id},
            )


def _token_failure(s: Session, client: ApiClient | None, reason: str) -> NoReturn:
    record_event(
        s,
        action="oauth2.token",
        outcome="failure",
        actor_id=None,
        tenant_id=client.tenant_id if client else None,
        target_type="api_client" if client else None,
        target_id=client.id if client else None,
        details={"reason": reason},
    )
    raise factors.Refused(f"oauth2: {reason}")


def issue_token(
    *, grant_type: str | None, client_id: str | None, client_secret: str | None, scope: str | None
) -> dict[str, Any]:
    if grant_type != "client_credentials":
        raise UnsupportedGrantType()
    moment = now()
    with factors.auth_transaction() as s:
        client = (
            s.execute(select(ApiClient).where(ApiClient.client_id == client_id)).scalar_one_or_none()
            if client_id and len(client_id) <= 64
            else None
        )
        secret_ok = crypto.same(
            client.secret_hash if client else _DUMMY_HASH, crypto.digest(client_secret or "")
        )
        if client is None or not secret_ok:
            _token_failure(s, client, "unknown client or wrong secret")
        if client.revoked_at is not None:
            _token_failure(s, client, "client revoked")
        requested = sorted(set((scope or "").split())) or list(client.scopes)
        if any(r not in client.scopes for r in requested):
            raise InvalidScope()
        token = "sgt_" + crypto.random_token(32)
        s.execute(delete(AccessToken).where(AccessToken.expires_at < moment))
        s.add(
            AccessToken(
                api_client_id=client.id,
                tenant_id=client.tenant_id,
                token_hash=crypto.digest(token),
                scopes=requested,
                created_at=moment,
                expires_at=moment + ACCESS_TOKEN_TTL,
            )
        )
        client.last_used_at = moment
        record_event(
            s,
            action="oauth2.token",
            actor_id=None,
            tenant_id=client.tenant_id,
            target_type="api_client",
            target_id=client.id,
            details={"scopes": requested},
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "scope": " ".join(requested),
        }


def resolve_access_token(token: str) -> Principal | None:
    """The API client behind a Bearer token; None when unknown, expired or revoked."""
    if not token or len(token) > 100:
        return None
    with transaction() as s:
        found = s.execute(
            select(AccessToken, ApiClient)
            .join(ApiClient, ApiClient.id == AccessToken.api_client_id)
            .where(AccessToken.token_hash == crypto.digest(token))
        ).first()
        if found is None:
            return None
        access, client = found
        if access.expires_at <= now() or client.revoked_at is not None:
            return None
        return Principal(
            kind="api_client", id=client.id, tenant_id=client.tenant_id, scopes=frozenset(access.scopes)
        )
