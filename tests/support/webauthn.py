"""A software WebAuthn authenticator: ES256, "none" attestation, resident credentials, UP+UV flags,
a signature counter that moves on every assertion. It produces exactly what a browser's
``PublicKeyCredential.toJSON()`` gives the PWA."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class StoredCredential:
    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0
    backed_up: bool = False

    @property
    def b64_id(self) -> str:
        return b64url(self.credential_id)


class SoftAuthenticator:
    def __init__(self, origin: str = "http://localhost:5000") -> None:
        self.origin = origin
        self.credentials: list[StoredCredential] = []
        self.user_verified = True
        self.aaguid = bytes(16)

    def add_credential(self, *, rp_id: str, user_handle: str) -> StoredCredential:
        """A credential created out of band (benchmarks seed the database directly)."""
        stored = StoredCredential(
            os.urandom(32), ec.generate_private_key(ec.SECP256R1()), rp_id, unb64url(user_handle)
        )
        self.credentials.append(stored)
        return stored

    def cose_public_key(self, credential: StoredCredential) -> bytes:
        return self._cose_key(credential.private_key)

    def _cose_key(self, key: ec.EllipticCurvePrivateKey) -> bytes:
        numbers = key.public_key().public_numbers()
        return cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def _flags(self, extra: int = 0, *, backed_up: bool = False) -> int:
        flags = UP | extra
        if self.user_verified:
            flags |= UV
        if backed_up:
            flags |= BE | BS
        return flags

    def create(
        self, options: dict[str, Any], *, backed_up: bool = False, origin: str | None = None
    ) -> dict[str, Any]:
        """``navigator.credentials.create({publicKey: options})`` then ``.toJSON()``."""
        options = options.get("publicKey", options)
        rp_id = options["rp"]["id"]
        selection = options.get("authenticatorSelection", {})
        assert selection.get("residentKey") == "required", "the RP must ask for a discoverable credential"
        assert selection.get("userVerification") == "required"
        excluded = {c["id"] for c in options.get("excludeCredentials", [])}
        if any(b64url(c.credential_id) in excluded for c in self.credentials):
            raise RuntimeError("InvalidStateError: credential already registered")
        key = ec.generate_private_key(ec.SECP256R1())
        credential_id = os.urandom(32)
        stored = StoredCredential(credential_id, key, rp_id, unb64url(options["user"]["id"]), 0, backed_up)
        client_data = json.dumps(
            {
                "type": "webauthn.create",
                "challenge": options["challenge"],
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()
        attested = self.aaguid + struct.pack(">H", len(credential_id)) + credential_id + self._cose_key(key)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(AT, backed_up=backed_up)])
            + struct.pack(">I", stored.sign_count)
            + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.credentials.append(stored)
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": True}},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        credential: StoredCredential | None = None,
        origin: str | None = None,
        advance_counter: bool = True,
    ) -> dict[str, Any]:
        """``navigator.credentials.get({publicKey: options})`` then ``.toJSON()`` (usernameless)."""
        options = options.get("publicKey", options)
        rp_id = options["rpId"]
        allowed = {c["id"] for c in options.get("allowCredentials") or []}
        candidates = [
            c
            for c in self.credentials
            if c.rp_id == rp_id and (not allowed or b64url(c.credential_id) in allowed)
        ]
        chosen = credential or (candidates[-1] if candidates else None)
        if chosen is None:
            raise RuntimeError("NotAllowedError: no credential for this RP")
        if advance_counter:
            chosen.sign_count += 1
        client_data = json.dumps(
            {"type": "webauthn.get", "challenge": options["challenge"], "origin": origin or self.origin}
        ).encode()
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([self._flags(backed_up=chosen.backed_up)])
            + struct.pack(">I", chosen.sign_count)
        )
        signature = chosen.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64url(chosen.credential_id),
            "rawId": b64url(chosen.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(chosen.user_handle),
            },
        }
