"""Signet as a CSC server: what ``/csc/v1`` and ``/csc/v2`` do, for API clients of one school.

Sole control: ``authorize`` never trusts the calling software with the signer's consent, even when it
sends a PIN or OTP.  It records an authorisation for exactly the submitted hashes and notifies whoever
must approve: the owner of a person's credential, or the school's principal for the school's seal.
The SAD is minted only after that approval (a passkey assertion over the manifest, see
``approvals.py``), handed out once, stored as a hash, bound to the hashes, the credential, the
signer and the API client, and dies when its ``numSignatures`` are used or it expires.

HSM work happens between two short transactions: consume the SAD's uses under a row lock → sign
(one ``Hsm.sign_digests`` call: one lock, one key lookup) → audit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.csc import rules
from app.csc.errors import (
    CscAccessDenied,
    CscCredentialDisabled,
    CscCredentialNotFound,
    CscError,
    CscInvalidRequest,
    CscSadExpired,
    CscSadInvalid,
)
from app.csc.models import AuthorizationStatus as St
from app.csc.models import CscAuthorization
from app.db import session, transaction
from app.errors import AuthenticationFailed
from app.keys.hsm import KeyAlgorithm

log = structlog.get_logger(__name__)

SPECS = {1: "1.0.4.0", 2: "2.0.0.2"}
METHODS = [
    "auth/login",
    "oauth2/token",
    "credentials/list",
    "credentials/info",
    "credentials/authorize",
    "credentials/extendTransaction",
    "signatures/signHash",
    "signatures/timestamp",
]


@dataclass(frozen=True)
class Caller:
    """An API client of one school, authenticated by its Bearer token."""

    api_client_id: str
    tenant_id: str


@dataclass(frozen=True)
class CscConfig:
    v1_wait_seconds: float = 60.0  # how long a v1 authorize waits for the signer's approval
    poll_seconds: float = 0.25
    approval_ttl_seconds: int = 600  # a pending request dies unapproved after this
    sad_ttl_seconds: int = 300
    sad_max_lifetime_seconds: int = 3600  # extendTransaction never goes past this
    multisign: int = 100


@dataclass(frozen=True)
class AuthorizeOutcome:
    handle: str
    sad: str | None = None
    expires_in: int | None = None

    @property
    def pending(self) -> bool:
        return self.sad is None


def config() -> CscConfig:
    """``CSC_*`` from the Flask config (or ``settings.extra``), read at call time."""
    if not has_app_context():
        return CscConfig()
    extra = dict(getattr(current_app.extensions.get("signet.settings"), "extra", {}) or {})
    source = {**extra, **{k: v for k, v in current_app.config.items() if k.startswith("CSC_")}}
    defaults = CscConfig()
    return CscConfig(
        v1_wait_seconds=float(source.get("CSC_V1_AUTHORIZE_WAIT_SECONDS", defaults.v1_wait_seconds)),
        poll_seconds=float(source.get("CSC_POLL_SECONDS", defaults.poll_seconds)),
        approval_ttl_seconds=int(source.get("CSC_APPROVAL_TTL_SECONDS", defaults.approval_ttl_seconds)),
        sad_ttl_seconds=int(source.get("CSC_SAD_TTL_SECONDS", defaults.sad_ttl_seconds)),
        sad_max_lifetime_seconds=int(
            source.get("CSC_SAD_MAX_LIFETIME_SECONDS", defaults.sad_max_lifetime_seconds)
        ),
        multisign=int(source.get("CSC_MULTISIGN", defaults.multisign)),
    )


def _now() -> datetime:
    from app.auth.clock import now

    return now()


# ------------------------------------------------------------------------------ service info / tokens


def service_info(version: int) -> dict[str, Any]:
    from app import get_settings

    base = get_settings().public_base_url
    methods = [*METHODS, "credentials/authorizeCheck"] if version >= 2 else METHODS
    return {
        "specs": SPECS[version],
        "name": "Signet",
        "logo": f"{base}/icons/icon-192.png",
        "region": "VN",
        "lang": "vi",
        "description": "Signet — remote signing for schools (SCAL 2: the signer approves with a passkey).",
        "authType": ["basic", "oauth2client"],
        "oauth2": base,
        "methods": methods,
    }


def issue_token(
    *, grant_type: str | None, client_id: str | None, client_secret: str | None
) -> dict[str, Any]:
    """OAuth2 client credentials of the school's API clients (the same tokens as ``/api/v1``)."""
    from app.auth import clients

    try:
        return clients.issue_token(
            grant_type=grant_type, client_id=client_id, client_secret=client_secret, scope=None
        )
    except clients.UnsupportedGrantType:
        raise _OAuthError(
            "unsupported_grant_type", "Only grant_type=client_credentials is supported."
        ) from None
    except AuthenticationFailed:  # auth_transaction turns its Refused into this, after the audit
        raise _OAuthError("invalid_client", "Verification failed.", status=401) from None


class _OAuthError(CscError):
    code = "csc.oauth2"

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.csc_error = error  # type: ignore[misc]
        self.http_status = status  # type: ignore[misc]


# ------------------------------------------------------------------------------ credentials


def _credential(caller: Caller, credential_id: str | None) -> Any:
    from app.keys.service import CredentialNotFound, get_credential

    if not credential_id or len(credential_id) > 64:
        raise CscCredentialNotFound()
    try:
        credential = get_credential(credential_id, tenant_id=caller.tenant_id)
    except CredentialNotFound:
        raise CscCredentialNotFound() from None
    if credential.system_role is not None:
        raise CscCredentialNotFound()
    return credential


def _usable(credential: Any, now: datetime) -> None:
    if not credential.is_usable_at(now):
        raise CscCredentialDisabled(f"The credential is not enabled (status {credential.status}).")


def list_credentials(
    caller: Caller, *, user_id: str | None = None, max_results: int | None = None
) -> list[str]:
    from app.keys.service import list_credentials as keys_list

    rows = keys_list(tenant_id=caller.tenant_id, owner_id=user_id)
    ids = [c.id for c in rows if c.status not in ("pending", "revoked")]
    return ids[: max_results or None]


def _generalized(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%SZ") if value else None


def credential_info(
    caller: Caller, *, credential_id: str | None, certificates: str = "single", cert_info: bool = False
) -> dict[str, Any]:
    credential = _credential(caller, credential_id)
    if certificates not in ("none", "single", "chain"):
        raise CscInvalidRequest("Invalid parameter certificates: none, single or chain.")
    algorithm = KeyAlgorithm(credential.algorithm)
    now = _now()
    key: dict[str, Any] = {
        "status": "enabled" if credential.is_usable_at(now) else "disabled",
        "algo": rules.signature_oids(algorithm),
        "len": rules.KEY_BITS[algorithm],
    }
    if algorithm is KeyAlgorithm.P256:
        key["curve"] = rules.P256_OID
    cert_status = {"active": "valid", "suspended": "suspended", "revoked": "revoked"}.get(
        credential.status, "expired"
    )
    if credential.not_after is not None and credential.not_after <= now and cert_status == "valid":
        cert_status = "expired"
    cert: dict[str, Any] = {"status": cert_status}
    if certificates != "none" and credential.certificate_der:
        chain = list(credential.chain_der) if certificates == "chain" else []
        cert["certificates"] = [rules.b64(d) for d in [credential.certificate_der, *chain]]
    if cert_info:
        cert.update(
            issuerDN=credential.issuer_dn,
            subjectDN=credential.subject_dn,
            serialNumber=credential.serial_hex,
            validFrom=_generalized(credential.not_before),
            validTo=_generalized(credential.not_after),
        )
    return {
        "description": f"{credential.owner_name} ({credential.purpose})",
        "key": key,
        "cert": cert,
        "authMode": "implicit",  # Signet asks the signer itself (passkey on the phone), not the caller
        "SCAL": "2",
        "multisign": multisign_for(caller.tenant_id),
        "lang": "vi",
    }


def multisign_for(tenant_id: str) -> int:
    """The tenant may switch batches off (policy ``csc_batch: false``) or lower the ceiling."""
    from app.tenants.models import Organisation

    ceiling = config().multisign
    school = session().get(Organisation, tenant_id)
    policy = (school.policy if school is not None else None) or {}
    if policy.get("csc_batch") is False:
        return 1
    limit = policy.get("csc_multisign")
    return max(1, min(ceiling, int(limit))) if isinstance(limit, int) else ceiling


# ------------------------------------------------------------------------------ authorize


def _approvers(s: Session, credential: Any) -> list[str]:
    """Who may approve: the owner of a person's credential; the principal(s) for the school's seal."""
    if credential.owner_kind == "person":
        return [credential.owner_id] if credential.owner_id else []
    from app.people.models import Person, RoleAssignment
    from app.people.rules import PRINCIPAL

    query = (
        select(Person.id)
        .join(RoleAssignment, RoleAssignment.person_id == Person.id)
        .where(RoleAssignment.tenant_id == credential.tenant_id, RoleAssignment.role == PRINCIPAL)
        .where(Person.status == "active")
    )
    return sorted(set(s.scalars(query)))


def authorize(
    caller: Caller,
    *,
    credential_id: str | None,
    num_signatures: int | None,
    hashes_b64: list[str] | None,
    hash_oid: str | None,
    description: str | None,
    secrets_offered: bool,
    wait_seconds: float,
) -> AuthorizeOutcome:
    """Record an authorisation for exactly these hashes and ask the signer; wait up to ``wait_seconds``."""
    credential = _credential(caller, credential_id)
    hashes = rules.decode_hashes(hashes_b64)
    count = len(hashes) if num_signatures is None else num_signatures
    limit = multisign_for(caller.tenant_id)
    if count < 1:
        raise CscInvalidRequest("Invalid parameter numSignatures.")
    if count > limit:
        raise CscInvalidRequest(f"Invalid parameter numSignatures: more than multisign ({limit}).")
    if len(hashes) != count:
        raise CscInvalidRequest("Invalid parameter numSignatures: it must equal the number of hashes.")
    if len(set(hashes)) != len(hashes):
        raise CscInvalidRequest("Invalid parameter hash: a hash is listed twice.")
    algorithm = rules.hash_algorithm(hash_oid, hashes)
    now = _now()
    _usable(credential, now)
    cfg = config()
    hashes_text = [rules.b64(h) for h in hashes]
    oid = rules.OID_OF_HASH[algorithm]
    body = rules.manifest(
        credential_id=credential.id, hash_oid=oid, hashes=hashes_text, client_id=caller.api_client_id
    )
    with transaction() as s:
        approvers = _approvers(s, credential)
        if not approvers:
            raise CscAccessDenied("Nobody can approve signatures with this credential.")
        auth = CscAuthorization(
            tenant_id=caller.tenant_id,
            credential_id=credential.id,
            credential_kind=credential.owner_kind,
            signer_id=credential.owner_id if credential.owner_kind == "person" else None,
            api_client_id=caller.api_client_id,
            hash_algorithm=oid,
            hashes=hashes_text,
            num_signatures=count,
            uses_left=count,
            description=(description or "").strip()[:500] or None,
            manifest_hash=rules.manifest_hash(body),
            nonce=rules.new_nonce(),
            status=St.PENDING,
            created_at=now,
            expires_at=now + timedelta(seconds=cfg.approval_ttl_seconds),
            details={"signed": []},
        )
        s.add(auth)
        s.flush()
        _notify(s, auth, approvers)
        record_event(
            s,
            action="csc.authorize",
            outcome="pending",
            actor_id=caller.api_client_id,
            tenant_id=caller.tenant_id,
            target_type="credential",
            target_id=credential.id,
            details={
                "authorization_id": auth.id,
                "count": count,
                "manifest_hash": auth.manifest_hash,
                "caller_secrets_ignored": secrets_offered,
            },
        )
    log.info("csc_authorize_pending", authorization_id=auth.id, count=count, credential_id=credential.id)
    if wait_seconds <= 0:
        return AuthorizeOutcome(handle=auth.id)
    return _wait(caller, auth.id, wait_seconds, cfg.poll_seconds)


def _notify(s: Session, auth: CscAuthorization, approvers: list[str]) -> None:
    from app.notify.service import notify

    for person_id in approvers:
        notify(
            s,
            person_id=person_id,
            tenant_id=auth.tenant_id,
            kind="csc_approval",
            dedupe_key=f"csc:{auth.id}",
            count=auth.num_signatures,
            subject=auth.description,
            url=f"/approve/csc/{auth.id}",
        )


def _wait(caller: Caller, handle: str, seconds: float, poll: float) -> AuthorizeOutcome:
    """v1 clients have no handle: hold the request until the signer decides (bounded)."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = authorize_check(caller, handle=handle)
        if not outcome.pending:
            return outcome
        if time.monotonic() >= deadline:
            break
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
    _expire(handle, reason="v1 wait elapsed")
    raise CscAccessDenied(f"The signer did not approve within {int(seconds)} seconds.")


def _load(s: Session, handle: str, *, lock: bool = False) -> CscAuthorization | None:
    query = (
        select(CscAuthorization)
        .where(CscAuthorization.id == handle)
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update()
    return s.execute(query).scalar_one_or_none()


def _expire(handle: str, *, reason: str) -> None:
    with transaction() as s:
        auth = _load(s, handle, lock=True)
        if auth is None or auth.status != St.PENDING:
            return
        auth.status = St.EXPIRED
        auth.decided_at = _now()
        record_event(
            s,
            action="csc.authorize",
            outcome="failure",
            actor_id=auth.api_client_id,
            tenant_id=auth.tenant_id,
            target_type="credential",
            target_id=auth.credential_id,
            details={"authorization_id": auth.id, "reason": reason},
        )


def authorize_check(
    caller: Caller, *, handle: str | None, credential_id: str | None = None
) -> AuthorizeOutcome:
    """Pending → still pending; approved → the SAD, handed out exactly once."""
    if not handle or len(handle) > 64:
        raise CscInvalidRequest("Missing parameter handle.")
    refusal: CscError | None = None
    with transaction() as s:
        auth = _load(s, handle, lock=True)
        if auth is None or auth.api_client_id != caller.api_client_id or auth.tenant_id != caller.tenant_id:
            raise CscInvalidRequest("Invalid parameter handle.")
        if credential_id is not None and credential_id != auth.credential_id:
            raise CscInvalidRequest("Invalid parameter credentialID.")
        now = _now()
        if auth.status == St.PENDING and auth.expires_at <= now:
            auth.status, auth.decided_at = St.EXPIRED, now
        if auth.status == St.PENDING:
            return AuthorizeOutcome(handle=auth.id)
        if auth.status == St.APPROVED:
            sad = rules.new_sad()
            ttl = config().sad_ttl_seconds
            auth.sad_hash = rules.sad_digest(sad)
            auth.sad_expires_at = now + timedelta(seconds=ttl)
            auth.status = St.ISSUED
            record_event(
                s,
                action="csc.authorize",
                actor_id=auth.api_client_id,
                tenant_id=auth.tenant_id,
                target_type="credential",
                target_id=auth.credential_id,
                details={"authorization_id": auth.id, "approved_by": auth.approved_by_id, "expires_in": ttl},
            )
            return AuthorizeOutcome(handle=auth.id, sad=sad, expires_in=ttl)
        if auth.status == St.REJECTED:
            refusal = CscAccessDenied("The signer rejected the request.")
        elif auth.status == St.EXPIRED:
            refusal = CscAccessDenied("The request expired before the signer approved it.")
        else:
            refusal = CscInvalidRequest("The SAD of this request was already handed out.")
    raise refusal


def extend_transaction(caller: Caller, *, credential_id: str | None, sad: str | None) -> AuthorizeOutcome:
    """A new SAD for the remaining signatures of a live one (the old SAD dies), within the lifetime cap."""
    credential = _credential(caller, credential_id)
    refusal: CscError | None = None
    with transaction() as s:
        auth = _by_sad(s, sad)
        now = _now()
        refusal = _sad_refusal(auth, caller, credential.id, now)
        if refusal is None and auth is not None:
            cfg = config()
            cap = auth.created_at + timedelta(seconds=cfg.sad_max_lifetime_seconds)
            expires = min(now + timedelta(seconds=cfg.sad_ttl_seconds), cap)
            if expires <= now:
                refusal = CscSadExpired("The transaction cannot be extended any further.")
            else:
                new = rules.new_sad()
                auth.sad_hash, auth.sad_expires_at = rules.sad_digest(new), expires
                record_event(
                    s,
                    action="csc.extend_transaction",
                    actor_id=caller.api_client_id,
                    tenant_id=caller.tenant_id,
                    target_type="credential",
                    target_id=credential.id,
                    details={"authorization_id": auth.id},
                )
                return AuthorizeOutcome(
                    handle=auth.id, sad=new, expires_in=int((expires - now).total_seconds())
                )
    assert refusal is not None
    raise refusal


def _by_sad(s: Session, sad: str | None) -> CscAuthorization | None:
    if not sad or len(sad) > 200:
        raise CscInvalidRequest("Missing parameter SAD.")
    query = (
        select(CscAuthorization)
        .where(CscAuthorization.sad_hash == rules.sad_digest(sad))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return s.execute(query).scalar_one_or_none()


def _sad_refusal(
    auth: CscAuthorization | None, caller: Caller, credential_id: str, now: datetime
) -> CscError | None:
    if auth is None or auth.tenant_id != caller.tenant_id or auth.api_client_id != caller.api_client_id:
        return CscSadInvalid()
    if auth.credential_id != credential_id:
        return CscSadInvalid("Invalid SAD: it was issued for another credential.")
    if auth.status == St.USED or auth.uses_left <= 0:
        return CscSadInvalid("Invalid SAD: every signature it allowed has been made.")
    if auth.status != St.ISSUED:
        return CscSadInvalid()
    if auth.sad_expires_at is None or auth.sad_expires_at <= now:
        return CscSadExpired()
    return None


# ------------------------------------------------------------------------------ signHash / timestamp


def sign_hash(
    caller: Caller,
    *,
    credential_id: str | None,
    sad: str | None,
    hashes_b64: list[str] | None,
    hash_oid: str | None,
    sign_algo: str | None,
    sign_algo_params: str | None,
) -> list[str]:
    """Signatures for hashes the SAD covers, in order; each hash of the SAD can be signed once."""
    from app.keys.provider import get_hsm
    from app.keys.service import signing_material

    credential = _credential(caller, credential_id)
    hashes = rules.decode_hashes(hashes_b64)
    request = rules.sign_request(
        KeyAlgorithm(credential.algorithm),
        sign_algo=sign_algo,
        hash_algo=hash_oid,
        sign_algo_params=sign_algo_params,
    )
    rules.hash_algorithm(rules.OID_OF_HASH[request.hash_algorithm], hashes)
    wanted = [rules.b64(h) for h in hashes]
    refusal: CscError | None = None
    with transaction() as s:
        auth = _by_sad(s, sad)
        now = _now()
        refusal = _sad_refusal(auth, caller, credential.id, now)
        if refusal is None and auth is not None:
            refusal = _consume(auth, credential, wanted, request.hash_algorithm, now)
        record_event(
            s,
            action="csc.sign_hash",
            outcome="failure" if refusal else "authorized",
            actor_id=caller.api_client_id,
            tenant_id=caller.tenant_id,
            target_type="credential",
            target_id=credential.id,
            details={
                "authorization_id": auth.id if auth else None,
                "count": len(hashes),
                "reason": refusal.message if refusal else None,
            },
        )
        authorization_id = auth.id if auth else None
    if refusal is not None:
        raise refusal
    material = signing_material(credential.id)
    try:
        values = get_hsm().sign_digests(
            key_id=material.key_id,
            digests=hashes,
            hash_algorithm=request.hash_algorithm,
            scheme=request.scheme,
        )
    except Exception as exc:
        with transaction() as s:
            record_event(
                s,
                action="csc.sign_hash",
                outcome="failure",
                actor_id=caller.api_client_id,
                tenant_id=caller.tenant_id,
                target_type="credential",
                target_id=credential.id,
                details={"authorization_id": authorization_id, "error": type(exc).__name__},
            )
        raise
    with transaction() as s:
        record_event(
            s,
            action="csc.sign_hash",
            actor_id=caller.api_client_id,
            tenant_id=caller.tenant_id,
            target_type="credential",
            target_id=credential.id,
            details={
                "authorization_id": authorization_id,
                "count": len(values),
                "scheme": request.scheme.value,
            },
        )
    return [rules.b64(v) for v in values]


def _consume(
    auth: CscAuthorization, credential: Any, wanted: list[str], algorithm: Any, now: datetime
) -> CscError | None:
    if rules.HASH_OIDS.get(auth.hash_algorithm) != algorithm:
        return CscInvalidRequest("Invalid parameter hashAlgo: the SAD was issued for another hash algorithm.")
    if len(set(wanted)) != len(wanted):
        return CscInvalidRequest("Invalid parameter hash: a hash is listed twice.")
    signed = set(auth.details.get("signed", []))
    remaining = [h for h in auth.hashes if h not in signed]
    if any(h not in remaining for h in wanted):
        return CscInvalidRequest("Invalid parameter hash: not covered by the SAD, or already signed.")
    if len(wanted) > auth.uses_left:
        return CscInvalidRequest("Invalid parameter hash: more signatures than the SAD allows.")
    if not credential.is_usable_at(now):
        return CscCredentialDisabled(f"The credential is not enabled (status {credential.status}).")
    auth.details = {**auth.details, "signed": [*signed, *wanted]}
    auth.uses_left -= len(wanted)
    if auth.uses_left <= 0:
        auth.status = St.USED
    return None


def timestamp(caller: Caller, *, hash_b64: str | None, hash_oid: str | None, nonce_hex: str | None) -> str:
    """An RFC 3161 token over ``hash`` from Signet's TSA (base64 DER of the TimeStampToken)."""
    from asn1crypto import algos, core, tsp

    from app.keys.service import tsa_respond

    digest = rules.decode_hashes([hash_b64] if hash_b64 else None)[0]
    algorithm = rules.hash_algorithm(hash_oid, [digest])
    fields: dict[str, Any] = {
        "version": 1,
        "message_imprint": tsp.MessageImprint(
            {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm.value}),
                "hashed_message": digest,
            }
        ),
        "cert_req": True,
    }
    if nonce_hex:
        try:
            fields["nonce"] = core.Integer(int(nonce_hex, 16))
        except ValueError:
            raise CscInvalidRequest("Invalid parameter nonce: hexadecimal expected.") from None
    response = tsp.TimeStampResp.load(tsa_respond(tsp.TimeStampReq(fields).dump()))
    if response["status"]["status"].native not in ("granted", "granted_with_mods"):
        raise CscInvalidRequest("The time-stamping service refused the request.")
    with transaction() as s:
        record_event(
            s,
            action="csc.timestamp",
            actor_id=caller.api_client_id,
            tenant_id=caller.tenant_id,
            details={"hash_algorithm": algorithm.value},
        )
    return rules.b64(response["time_stamp_token"].dump())
