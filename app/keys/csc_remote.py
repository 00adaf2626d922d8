"""The signing port over a licensed provider's Cloud Signature Consortium (CSC) API.

``CscRemoteHsm`` behaves like our ``Hsm`` for what signing needs (``sign_digest``, ``sign_digests``,
``find``, ``list_keys``, ``status``): the key id is the provider's ``credentialID``; every call to
sign becomes one ``credentials/authorize`` bound to exactly those hashes (SCAL 2) and one
``signatures/signHash``.  Key management (generate, destroy, attributes) belongs to the provider and
is refused here.  No pkcs11 and no pyHanko: plain HTTP through the standard library.

Every failure of the provider is one of two errors: ``CscProviderUnreachable`` (503: refused
connection, DNS, timeout, a dropped connection) or ``CscProviderRefused`` (502: a 4xx/5xx answer,
with the provider's ``error_description``, or an answer that is not what the API promises).  SADs,
tokens and secrets are never logged.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog
from asn1crypto import keys as asn1keys
from asn1crypto import x509 as asn1x509

from app.errors import AppError
from app.keys.hsm import (
    DigestSigner,
    HashAlgorithm,
    HsmError,
    HsmStatus,
    HsmUnavailable,
    KeyAlgorithm,
    KeyAttributes,
    KeyInfo,
    KeyNotFound,
    SignScheme,
)
from app.keys.x509 import default_scheme, ecdsa_raw_to_der, signature_algorithm

log = structlog.get_logger(__name__)

HASH_OIDS: dict[HashAlgorithm, str] = {
    HashAlgorithm.SHA256: "2.16.840.1.101.3.4.2.1",
    HashAlgorithm.SHA384: "2.16.840.1.101.3.4.2.2",
    HashAlgorithm.SHA512: "2.16.840.1.101.3.4.2.3",
}
RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class CscProviderUnreachable(HsmUnavailable):
    code = "csc_provider.unreachable"
    http_status = 503
    default_message = "The remote signing provider cannot be reached; try again shortly."


class CscProviderRefused(HsmError):
    code = "csc_provider.refused"
    http_status = 502
    default_message = "The remote signing provider refused the request."

    def __init__(
        self, message: str | None = None, *, status: int | None = None, error: str | None = None
    ) -> None:
        details: dict[str, Any] = {}
        if status is not None:
            details["provider_status"] = status
        if error is not None:
            details["provider_error"] = error
        super().__init__(message, details=details)


class CscAuthMode(StrEnum):
    NONE = "none"  # the provider needs no access token (test servers, mutual TLS at the edge)
    BEARER = "bearer"  # a long-lived access token given by the provider
    BASIC = "basic"  # auth/login with HTTP Basic (client id / secret) -> access token
    OAUTH2 = "oauth2"  # OAuth 2.0 client credentials at the token URL -> access token


@dataclass(frozen=True)
class CscAuth:
    mode: CscAuthMode = CscAuthMode.NONE
    client_id: str | None = None
    secret: str | None = field(default=None, repr=False)  # client secret or bearer token
    token_url: str | None = None  # OAUTH2: default {base}/csc/v1/oauth2/token


@dataclass(frozen=True)
class RemoteCredential:
    """A provider's credential as ``credentials/info`` describes it; fits the engine's ``Material``."""

    credential_id: str
    certificate_der: bytes
    chain_der: tuple[bytes, ...]  # issuer first
    algorithm: KeyAlgorithm
    sign_algorithms: tuple[str, ...]  # signature algorithm OIDs the provider accepts
    multisign: int
    scal: int
    enabled: bool
    public_key_der: bytes

    @property
    def key_id(self) -> str:
        return self.credential_id


Authorizer = Callable[["CscClient", str, list[bytes], HashAlgorithm], str]
"""Obtains a SAD for exactly these hashes of one credential (``credentials/authorize``)."""


def implicit_authorizer(
    client: CscClient, credential_id: str, hashes: list[bytes], alg: HashAlgorithm
) -> str:
    """No PIN/OTP from us: the provider authorises on its own terms (its app, implicit test mode)."""
    return client.authorize(credential_id, hashes, hash_algorithm=alg)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise CscProviderRefused(f"The signing provider sent no valid {what}.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CscProviderRefused(f"The signing provider sent an undecodable {what}.") from None


def key_algorithm(public_key_der: bytes) -> KeyAlgorithm:
    info = asn1keys.PublicKeyInfo.load(public_key_der)
    if info.algorithm == "rsa":
        bits = info.bit_size
        if bits == 2048:
            return KeyAlgorithm.RSA2048
        if bits == 3072:
            return KeyAlgorithm.RSA3072
    elif info.algorithm == "ec" and info.curve == ("named", "secp256r1"):
        return KeyAlgorithm.P256
    raise CscProviderRefused("The provider's key is neither RSA-2048/3072 nor ECDSA P-256.")


class CscClient:
    """A small CSC v1 client (the field names every provider accepts), thread-safe."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: CscAuth | None = None,
        timeout: float = 15.0,
        api_version: str = "v1",
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CscProviderRefused("The provider's base URL must be an http(s) URL.")
        self.base_url = base_url.rstrip("/")
        self.auth = auth or CscAuth()
        self.timeout = timeout
        self.api_version = api_version
        self._opener = opener or urllib.request.build_opener()
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- HTTP

    def url(self, endpoint: str) -> str:
        return f"{self.base_url}/csc/{self.api_version}/{endpoint}"

    def _send(self, url: str, *, data: bytes, headers: Mapping[str, str], endpoint: str) -> dict[str, Any]:
        request = urllib.request.Request(url, data=data, headers=dict(headers), method="POST")  # noqa: S310
        started = time.perf_counter()
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                raw = response.read(MAX_RESPONSE_BYTES + 1)
                status = response.status
        except urllib.error.HTTPError as exc:
            body = b""
            try:
                body = exc.read(64 * 1024)
            except (OSError, http.client.HTTPException):
                body = b""
            raise self._refused(endpoint, exc.code, body) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            log.warning(
                "csc_provider_unreachable", endpoint=endpoint, host=self._host(), error=str(reason)[:200]
            )
            raise CscProviderUnreachable() from None
        except http.client.HTTPException as exc:
            log.warning(
                "csc_provider_unreachable", endpoint=endpoint, host=self._host(), error=type(exc).__name__
            )
            raise CscProviderUnreachable() from None
        log.debug(
            "csc_provider_call",
            endpoint=endpoint,
            status=status,
            ms=round(1000 * (time.perf_counter() - started)),
        )
        if len(raw) > MAX_RESPONSE_BYTES:
            raise CscProviderRefused("The signing provider's answer is too large.")
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            raise CscProviderRefused(f"The signing provider's answer to {endpoint} is not JSON.") from None
        if not isinstance(payload, dict):
            raise CscProviderRefused(f"The signing provider's answer to {endpoint} is not a JSON object.")
        if status >= 300 or ("error" in payload and "error_description" in payload):
            raise self._refused(endpoint, status, raw)
        return payload

    def _host(self) -> str:
        return urllib.parse.urlsplit(self.base_url).netloc

    def _refused(self, endpoint: str, status: int, body: bytes) -> CscProviderRefused:
        error: str | None = None
        description: str | None = None
        try:
            payload = json.loads(body)
            if isinstance(payload, dict):
                error = str(payload.get("error"))[:100] if payload.get("error") else None
                description = (
                    str(payload.get("error_description"))[:300] if payload.get("error_description") else None
                )
        except (ValueError, UnicodeDecodeError):
            pass
        log.warning("csc_provider_refused", endpoint=endpoint, host=self._host(), status=status, error=error)
        message = f"The signing provider refused {endpoint} (HTTP {status})"
        message += f": {description}" if description else "."
        return CscProviderRefused(message, status=status, error=error)

    def post(self, endpoint: str, body: Mapping[str, Any], *, authenticated: bool = True) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if authenticated:
            headers.update(self._auth_headers())
        data = json.dumps(body).encode("utf-8")
        return self._send(self.url(endpoint), data=data, headers=headers, endpoint=endpoint)

    def _auth_headers(self) -> dict[str, str]:
        mode = self.auth.mode
        if mode is CscAuthMode.NONE:
            return {}
        if mode is CscAuthMode.BEARER:
            return {"Authorization": f"Bearer {self.auth.secret or ''}"}
        return {"Authorization": f"Bearer {self._access_token()}"}

    def _access_token(self) -> str:
        with self._lock:
            if self._token is not None and time.monotonic() < self._token_expires - 30:
                return self._token
            if self.auth.mode is CscAuthMode.OAUTH2:
                url = self.auth.token_url or self.url("oauth2/token")
                form = urllib.parse.urlencode(
                    {
                        "grant_type": "client_credentials",
                        "client_id": self.auth.client_id or "",
                        "client_secret": self.auth.secret or "",
                    }
                ).encode("ascii")
                headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
                payload = self._send(url, data=form, headers=headers, endpoint="oauth2/token")
            else:  # BASIC: auth/login
                basic = _b64(f"{self.auth.client_id or ''}:{self.auth.secret or ''}".encode())
                headers = {
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "Authorization": f"Basic {basic}",
                }
                payload = self._send(
                    self.url("auth/login"), data=b"{}", headers=headers, endpoint="auth/login"
                )
            token = payload.get("access_token")
            if not isinstance(token, str) or not token:
                raise CscProviderRefused("The signing provider issued no access token.")
            try:
                lifetime = float(payload.get("expires_in", 3600))
            except (TypeError, ValueError):
                lifetime = 3600.0
            self._token, self._token_expires = token, time.monotonic() + lifetime
            return token

    # ----------------------------------------------------------------- the API

    def info(self) -> dict[str, Any]:
        return self.post("info", {}, authenticated=False)

    def list_credentials(self) -> list[str]:
        payload = self.post("credentials/list", {"maxResults": 1000})
        ids = payload.get("credentialIDs")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise CscProviderRefused("The signing provider's credential list is not valid.")
        return list(ids)

    def credential_info(self, credential_id: str) -> RemoteCredential:
        payload = self.post(
            "credentials/info", {"credentialID": credential_id, "certificates": "chain", "certInfo": False}
        )
        try:
            certs = [_unb64(c, "certificate") for c in payload["cert"]["certificates"]]
            key = payload["key"]
            algos = tuple(str(a) for a in key["algo"])
        except (KeyError, TypeError):
            raise CscProviderRefused(
                "The signing provider's credential info lacks the certificate or key."
            ) from None
        if not certs:
            raise CscProviderRefused("The signing provider sent no certificate for the credential.")
        try:
            cert = asn1x509.Certificate.load(certs[0])
            public_key_der = cert.public_key.dump()
        except ValueError:
            raise CscProviderRefused("The signing provider's certificate cannot be read.") from None
        try:
            multisign = int(payload.get("multisign", 1))
            scal = int(payload.get("SCAL", 1))
        except (TypeError, ValueError):
            raise CscProviderRefused("The signing provider's multisign or SCAL is not a number.") from None
        return RemoteCredential(
            credential_id=credential_id,
            certificate_der=certs[0],
            chain_der=tuple(certs[1:]),
            algorithm=key_algorithm(public_key_der),
            sign_algorithms=algos,
            multisign=max(1, multisign),
            scal=scal,
            enabled=str(key.get("status", "enabled")) == "enabled",
            public_key_der=public_key_der,
        )

    def authorize(
        self,
        credential_id: str,
        hashes: list[bytes],
        *,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        pin: str | None = None,
        otp: str | None = None,
        description: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "credentialID": credential_id,
            "numSignatures": len(hashes),
            "hash": [_b64(h) for h in hashes],
            "hashAlgo": HASH_OIDS[hash_algorithm],
        }
        if pin is not None:
            body["PIN"] = pin
        if otp is not None:
            body["OTP"] = otp
        if description:
            body["description"] = description[:500]
        payload = self.post("credentials/authorize", body)
        sad = payload.get("SAD")
        if not isinstance(sad, str) or not sad:
            raise CscProviderRefused("The signing provider issued no SAD.")
        return sad

    def sign_hash(
        self,
        credential_id: str,
        *,
        sad: str,
        hashes: list[bytes],
        hash_algorithm: HashAlgorithm,
        sign_algorithm_oid: str,
        sign_algorithm_params: bytes | None = None,
    ) -> list[bytes]:
        body: dict[str, Any] = {
            "credentialID": credential_id,
            "SAD": sad,
            "hash": [_b64(h) for h in hashes],
            "hashAlgo": HASH_OIDS[hash_algorithm],
            "signAlgo": sign_algorithm_oid,
        }
        if sign_algorithm_params is not None:
            body["signAlgoParams"] = _b64(sign_algorithm_params)
        payload = self.post("signatures/signHash", body)
        values = payload.get("signatures")
        if not isinstance(values, list) or len(values) != len(hashes):
            raise CscProviderRefused("The signing provider returned the wrong number of signatures.")
        return [_unb64(v, "signature") for v in values]


class CscRemoteHsm(DigestSigner):
    """The ``Hsm`` port over one provider: ``key_id`` is the provider's ``credentialID``."""

    def __init__(
        self,
        client: CscClient,
        *,
        authorizer: Authorizer = implicit_authorizer,
        label: str = "csc",
        info_ttl: float = 300.0,
    ) -> None:
        self.client = client
        self.authorizer = authorizer
        self.label = label
        self.info_ttl = info_ttl
        self._infos: dict[str, tuple[float, RemoteCredential]] = {}
        self._lock = threading.Lock()

    def credential(self, key_id: str) -> RemoteCredential:
        """``credentials/info``, cached for ``info_ttl`` seconds."""
        with self._lock:
            cached = self._infos.get(key_id)
        if cached is not None and time.monotonic() - cached[0] < self.info_ttl:
            return cached[1]
        try:
            info = self.client.credential_info(key_id)
        except CscProviderRefused as exc:
            if exc.details.get("provider_status") in (400, 404):
                raise KeyNotFound(f"The signing provider has no credential {key_id!r}.") from None
            raise
        with self._lock:
            self._infos[key_id] = (time.monotonic(), info)
        return info

    # ------------------------------------------------------------- signing

    def sign_digests(
        self,
        *,
        key_id: str,
        digests: list[bytes],
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        scheme: SignScheme | None = None,
    ) -> list[bytes]:
        """One authorize + one signHash per ``multisign`` digests, in order."""
        if not digests:
            return []
        self.check_digests(digests, hash_algorithm)
        info = self.credential(key_id)
        if not info.enabled:
            raise CscProviderRefused("The provider says this credential is disabled.")
        scheme = scheme or default_scheme(info.algorithm)
        oid, params = self._sign_algorithm(info, hash_algorithm, scheme)
        out: list[bytes] = []
        for start in range(0, len(digests), info.multisign):
            chunk = digests[start : start + info.multisign]
            sad = self.authorizer(self.client, key_id, chunk, hash_algorithm)
            values = self.client.sign_hash(
                key_id,
                sad=sad,
                hashes=chunk,
                hash_algorithm=hash_algorithm,
                sign_algorithm_oid=oid,
                sign_algorithm_params=params,
            )
            out.extend(self._normalise(info, scheme, v) for v in values)
        log.info("csc_remote_signed", provider=self.label, credential=key_id, count=len(out))
        return out

    @staticmethod
    def _sign_algorithm(
        info: RemoteCredential, hash_algorithm: HashAlgorithm, scheme: SignScheme
    ) -> tuple[str, bytes | None]:
        algorithm = signature_algorithm(info.algorithm, hash_algorithm, scheme)
        oid = algorithm["algorithm"].dotted
        params = algorithm["parameters"].dump() if scheme is SignScheme.RSA_PSS else None
        if oid in info.sign_algorithms:
            return oid, params
        if scheme is SignScheme.RSA_PKCS1V15 and RSA_ENCRYPTION_OID in info.sign_algorithms:
            return RSA_ENCRYPTION_OID, None  # the hash comes from hashAlgo
        raise CscProviderRefused(
            f"The provider does not offer {algorithm['algorithm'].native} for this credential."
        )

    @staticmethod
    def _normalise(info: RemoteCredential, scheme: SignScheme, value: bytes) -> bytes:
        """ECDSA as DER (some providers answer raw r||s); RSA as is."""
        if scheme is SignScheme.ECDSA and value[:1] != b"\x30" and len(value) == 64:
            return ecdsa_raw_to_der(value)
        return value

    # ------------------------------------------------------------- the rest of the port

    def find(self, key_id: str) -> KeyInfo:
        info = self.credential(key_id)
        return KeyInfo(
            key_id=key_id, label=key_id, algorithm=info.algorithm, public_key_der=info.public_key_der
        )

    def list_keys(self) -> list[KeyInfo]:
        return [self.find(cid) for cid in self.client.list_credentials()]

    def status(self) -> HsmStatus:
        info = self.client.info()
        return HsmStatus(
            module=self.client.base_url,
            token_label=self.label,
            manufacturer=str(info.get("name", "?"))[:100],
            model=f"CSC {info.get('specs', '?')}",
            key_count=len(self.client.list_credentials()),
        )

    def generate_keypair(self, *, algorithm: KeyAlgorithm, label: str) -> KeyInfo:
        raise _ProviderManaged()

    def attributes(self, key_id: str) -> KeyAttributes:
        raise _ProviderManaged()

    def destroy(self, key_id: str) -> None:
        raise _ProviderManaged()

    def close(self) -> None:
        return None


class _ProviderManaged(AppError):
    code = "csc_provider.key_management"
    http_status = 409
    default_message = "Keys at a remote signing provider are managed by the provider, not by Signet."
