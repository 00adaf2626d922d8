"""The approval manifest and the signature activation data (SAD).  Pure functions over bytes.

- The manifest lists, per document, the SHA-256 of the exact revision to be signed, the step, the
  signer, the credential, the role and the stamp text.  Its canonical JSON is hashed.
- The WebAuthn challenge is SHA-256(manifest_hash ‖ nonce): the passkey signs over the manifest.
- After the assertion verifies, a SAD of 32 random bytes is minted.  The database keeps its HMAC,
  bound to the approval id, the manifest hash, the signer and the credentials; signing recomputes it.
  A sealed copy (Fernet, key derived from the secret key) is kept while the batch runs so that a
  sweep can resume work after a worker died, and wiped when the approval finishes.  The SAD itself
  is never stored in the clear, logged, or put on the task queue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


def canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def manifest_hash(manifest: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(manifest)).hexdigest()


def challenge_for(manifest_hex: str, nonce: bytes) -> bytes:
    return hashlib.sha256(bytes.fromhex(manifest_hex) + nonce).digest()


def new_nonce() -> bytes:
    return secrets.token_bytes(32)


def mint() -> bytes:
    return secrets.token_bytes(32)


def _key(secret_key: str, purpose: str) -> bytes:
    return hashlib.sha256(f"signet:{purpose}:{secret_key}".encode()).digest()


def binding(*, approval_id: str, manifest_hex: str, person_id: str, credential_ids: list[str]) -> bytes:
    """What the SAD is bound to: the approval, the exact manifest, the signer and the keys."""
    body = {
        "approval": approval_id,
        "manifest": manifest_hex,
        "person": person_id,
        "credentials": sorted(set(credential_ids)),
    }
    return canonical(body)


def mac(secret_key: str, sad: bytes, bound_to: bytes) -> str:
    return hmac.new(_key(secret_key, "sad"), sad + b"\x00" + bound_to, hashlib.sha256).hexdigest()


def matches(secret_key: str, sad: bytes, bound_to: bytes, expected_mac: str) -> bool:
    return hmac.compare_digest(mac(secret_key, sad, bound_to), expected_mac)


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_key(secret_key, "sad-seal")))


def seal(secret_key: str, sad: bytes) -> str:
    return _fernet(secret_key).encrypt(sad).decode("ascii")


def unseal(secret_key: str, sealed: str) -> bytes | None:
    try:
        return _fernet(secret_key).decrypt(sealed.encode("ascii"))
    except (InvalidToken, ValueError):
        return None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
