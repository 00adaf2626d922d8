"""Brokering: a school signs with keys held at a licensed remote-signing provider (CSC API).

A school registers its provider (base URL + how to authenticate; the secret is stored as Fernet
ciphertext under ``settings.data_encryption_key``), pulls the provider's credentials and their
certificates (``credentials/list`` + ``credentials/info``), links each to a person of the school,
and then signs through ``signing_target()``: an ``Hsm``-compatible adapter plus the certificate
material the PAdES engine needs, so ``app.signing.pdf.sign_pdf(pdf, material=m, hsm=h)`` works
unchanged.  Network calls happen outside database transactions.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import structlog
from asn1crypto import x509 as asn1x509
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from app.audit.service import record_event
from app.csc.errors import CscProviderInvalid, CscProviderNotFound
from app.csc.models import CscProvider, CscRemoteCredential
from app.db import session, transaction, utcnow
from app.errors import Conflict, NotFound
from app.keys.csc_remote import (
    Authorizer,
    CscAuth,
    CscAuthMode,
    CscClient,
    CscProviderRefused,
    CscProviderUnreachable,
    CscRemoteHsm,
    RemoteCredential,
    implicit_authorizer,
)
from app.keys.hsm import HashAlgorithm, KeyAlgorithm, SignScheme
from app.settings import Settings

log = structlog.get_logger(__name__)

__all__ = [
    "CscProviderRefused",
    "CscProviderUnreachable",
    "RemoteMaterial",
    "add_provider",
    "get_provider",
    "link_credential",
    "list_remote_credentials",
    "provider_client",
    "sign_digests",
    "signing_target",
    "sync_credentials",
]


class RemoteCredentialNotFound(NotFound):
    code = "csc_provider.credential_not_found"
    default_message = "No such credential at this school's signing provider."


class RemoteCredentialDisabled(Conflict):
    code = "csc_provider.credential_disabled"
    default_message = "The provider's credential is disabled or no longer listed."


@dataclass(frozen=True)
class RemoteMaterial:
    """What the PAdES engine needs (fits ``app.signing.reports.Material``); ``key_id`` = remote id."""

    credential_id: str  # our row id
    key_id: str  # the provider's credentialID
    algorithm: KeyAlgorithm
    certificate_der: bytes
    chain_der: tuple[bytes, ...]
    status: str


def _settings() -> Settings:
    from app import get_settings

    return get_settings()


@lru_cache(maxsize=8)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode("ascii"))


def _encrypt(secret: str) -> str:
    return _fernet(_settings().data_encryption_key).encrypt(secret.encode("utf-8")).decode("ascii")


def _decrypt(ciphertext: str) -> str:
    try:
        return _fernet(_settings().data_encryption_key).decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise CscProviderInvalid(
            "The provider's stored secret cannot be decrypted with the current key."
        ) from None


# ------------------------------------------------------------------------------ providers


def add_provider(
    *,
    tenant_id: str,
    name: str,
    base_url: str,
    auth_mode: str = CscAuthMode.NONE,
    client_id: str | None = None,
    secret: str | None = None,
    token_url: str | None = None,
    timeout_seconds: int = 15,
    actor_id: str | None = None,
) -> CscProvider:
    """Register a school's provider; the secret (client secret or bearer token) is stored encrypted."""
    try:
        mode = CscAuthMode(auth_mode)
    except ValueError:
        raise CscProviderInvalid(f"auth_mode must be one of {[m.value for m in CscAuthMode]}.") from None
    name = name.strip()
    if not name or len(name) > 100:
        raise CscProviderInvalid("The provider name must have 1 to 100 characters.")
    if mode in (CscAuthMode.BASIC, CscAuthMode.OAUTH2) and not (client_id and secret):
        raise CscProviderInvalid(f"auth_mode {mode} needs a client id and a secret.")
    if mode is CscAuthMode.BEARER and not secret:
        raise CscProviderInvalid("auth_mode bearer needs the access token as the secret.")
    if not 1 <= timeout_seconds <= 120:
        raise CscProviderInvalid("timeout_seconds must be between 1 and 120.")
    CscClient(base_url)  # validates the URL
    provider = CscProvider(
        tenant_id=tenant_id,
        name=name,
        base_url=base_url.rstrip("/"),
        auth_mode=mode.value,
        client_id=client_id,
        secret_encrypted=_encrypt(secret) if secret else None,
        token_url=token_url,
        timeout_seconds=timeout_seconds,
        enabled=True,
    )
    with transaction() as s:
        s.add(provider)
        s.flush()
        record_event(
            s,
            action="csc.provider_add",
            actor_id=actor_id,
            tenant_id=tenant_id,
            target_type="csc_provider",
            target_id=provider.id,
            details={"name": name, "base_url": provider.base_url, "auth_mode": mode.value},
        )
    return provider


def get_provider(provider_id: str, *, tenant_id: str | None = None) -> CscProvider:
    provider = session().get(CscProvider, provider_id)
    if provider is None or (tenant_id is not None and provider.tenant_id != tenant_id):
        raise CscProviderNotFound()
    return provider


_clients_lock = threading.Lock()
_clients: dict[tuple[str, str], CscClient] = {}


def provider_client(provider: CscProvider) -> CscClient:
    """One client per provider configuration and process (it caches its access token)."""
    if not provider.enabled:
        raise CscProviderInvalid("This signing provider is disabled.")
    key = (provider.id, provider.updated_at.isoformat())
    with _clients_lock:
        client = _clients.get(key)
    if client is not None:
        return client
    auth = CscAuth(
        mode=CscAuthMode(provider.auth_mode),
        client_id=provider.client_id,
        secret=_decrypt(provider.secret_encrypted) if provider.secret_encrypted else None,
        token_url=provider.token_url,
    )
    client = CscClient(provider.base_url, auth=auth, timeout=float(provider.timeout_seconds))
    with _clients_lock:
        for stale in [k for k in _clients if k[0] == provider.id]:
            _clients.pop(stale, None)
        _clients[key] = client
    return client


# ------------------------------------------------------------------------------ credentials


def _describe(cert_der: bytes) -> tuple[str, Any]:
    cert = asn1x509.Certificate.load(cert_der)
    return cert.subject.human_friendly, cert["tbs_certificate"]["validity"]["not_after"].native


def sync_credentials(
    provider_id: str, *, tenant_id: str, actor_id: str | None = None
) -> list[CscRemoteCredential]:
    """Fetch the provider's credentials and certificates; keep owner links; disable what disappeared."""
    provider = get_provider(provider_id, tenant_id=tenant_id)
    client = provider_client(provider)
    fetched: dict[str, RemoteCredential] = {}
    for remote_id in client.list_credentials():  # network first, outside any transaction
        fetched[remote_id] = client.credential_info(remote_id)
    now = utcnow()
    with transaction() as s:
        rows = {
            r.remote_id: r
            for r in s.scalars(
                select(CscRemoteCredential).where(CscRemoteCredential.provider_id == provider.id)
            )
        }
        for remote_id, info in fetched.items():
            row = rows.get(remote_id)
            if row is None:
                row = CscRemoteCredential(
                    provider_id=provider.id, tenant_id=provider.tenant_id, remote_id=remote_id
                )
                s.add(row)
                rows[remote_id] = row
            subject, not_after = _describe(info.certificate_der)
            row.algorithm = info.algorithm.value
            row.certificate_der = info.certificate_der
            row.chain_b64 = [base64.b64encode(c).decode("ascii") for c in info.chain_der]
            row.sign_algorithms = list(info.sign_algorithms)
            row.multisign = info.multisign
            row.subject_dn = subject
            row.not_after = not_after
            row.enabled = info.enabled
            row.synced_at = now
        for remote_id, row in rows.items():
            if remote_id not in fetched:
                row.enabled = False
        record_event(
            s,
            action="csc.provider_sync",
            actor_id=actor_id,
            tenant_id=provider.tenant_id,
            target_type="csc_provider",
            target_id=provider.id,
            details={"credentials": len(fetched)},
        )
    return sorted(rows.values(), key=lambda r: r.remote_id)


def list_remote_credentials(*, tenant_id: str, owner_id: str | None = None) -> list[CscRemoteCredential]:
    query = select(CscRemoteCredential).where(CscRemoteCredential.tenant_id == tenant_id)
    if owner_id is not None:
        query = query.where(CscRemoteCredential.owner_id == owner_id)
    return list(session().scalars(query.order_by(CscRemoteCredential.remote_id)))


def _remote_credential(remote_credential_id: str, tenant_id: str | None) -> CscRemoteCredential:
    row = session().get(CscRemoteCredential, remote_credential_id)
    if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
        raise RemoteCredentialNotFound()
    return row


def link_credential(
    remote_credential_id: str, *, tenant_id: str, owner_id: str | None, actor_id: str | None = None
) -> CscRemoteCredential:
    """Say whose credential it is (a person of the school); ``None`` unlinks it."""
    row = _remote_credential(remote_credential_id, tenant_id)
    with transaction() as s:
        row.owner_id = owner_id
        record_event(
            s,
            action="csc.provider_link",
            actor_id=actor_id,
            tenant_id=tenant_id,
            target_type="csc_remote_credential",
            target_id=row.id,
            details={"owner_id": owner_id, "remote_id": row.remote_id},
        )
    return row


def signing_target(
    remote_credential_id: str,
    *,
    tenant_id: str | None = None,
    authorizer: Authorizer = implicit_authorizer,
) -> tuple[CscRemoteHsm, RemoteMaterial]:
    """The adapter and the material to sign with a provider's credential (engine-compatible)."""
    row = _remote_credential(remote_credential_id, tenant_id)
    if not row.enabled:
        raise RemoteCredentialDisabled()
    provider = get_provider(row.provider_id)
    hsm = CscRemoteHsm(provider_client(provider), authorizer=authorizer, label=provider.name)
    material = RemoteMaterial(
        credential_id=row.id,
        key_id=row.remote_id,
        algorithm=KeyAlgorithm(row.algorithm),
        certificate_der=row.certificate_der,
        chain_der=tuple(base64.b64decode(c) for c in row.chain_b64 or []),
        status="active",
    )
    return hsm, material


def sign_digests(
    remote_credential_id: str,
    digests: list[bytes],
    *,
    tenant_id: str,
    actor_id: str | None,
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
    scheme: SignScheme | None = None,
    authorizer: Authorizer = implicit_authorizer,
) -> list[bytes]:
    """Sign digests at the provider (one authorize + signHash per ``multisign``), audited either way."""
    hsm, material = signing_target(remote_credential_id, tenant_id=tenant_id, authorizer=authorizer)
    try:
        values = hsm.sign_digests(
            key_id=material.key_id, digests=digests, hash_algorithm=hash_algorithm, scheme=scheme
        )
    except (CscProviderRefused, CscProviderUnreachable) as exc:
        with transaction() as s:
            record_event(
                s,
                action="csc.broker_sign",
                outcome="failure",
                actor_id=actor_id,
                tenant_id=tenant_id,
                target_type="csc_remote_credential",
                target_id=remote_credential_id,
                details={"count": len(digests), "code": exc.code},
            )
        raise
    with transaction() as s:
        record_event(
            s,
            action="csc.broker_sign",
            actor_id=actor_id,
            tenant_id=tenant_id,
            target_type="csc_remote_credential",
            target_id=remote_credential_id,
            details={"count": len(values)},
        )
    return values
