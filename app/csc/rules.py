"""Pure CSC rules: algorithm identifiers, hash lists, the approval manifest and the SAD.  Bytes in, bytes out.

- The manifest of an authorisation names the credential, the hash algorithm and the hashes in the
  order asked; its canonical JSON is hashed, and the passkey challenge is
  SHA-256(manifest_hash ‖ nonce) — the same binding the workflow's approvals use.
- A SAD is 32 random bytes (base64url); the database keeps SHA-256 of it only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos

from app.csc.errors import CscInvalidRequest
from app.keys.hsm import HashAlgorithm, KeyAlgorithm, SignScheme

HASH_OIDS: dict[str, HashAlgorithm] = {
    "2.16.840.1.101.3.4.2.1": HashAlgorithm.SHA256,
    "2.16.840.1.101.3.4.2.2": HashAlgorithm.SHA384,
    "2.16.840.1.101.3.4.2.3": HashAlgorithm.SHA512,
}
OID_OF_HASH = {v: k for k, v in HASH_OIDS.items()}
BY_LENGTH = {h.digest_size: h for h in HashAlgorithm}

RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
RSASSA_PSS = "1.2.840.113549.1.1.10"
RSA_PKCS1 = {
    "1.2.840.113549.1.1.11": HashAlgorithm.SHA256,
    "1.2.840.113549.1.1.12": HashAlgorithm.SHA384,
    "1.2.840.113549.1.1.13": HashAlgorithm.SHA512,
}
ECDSA = {
    "1.2.840.10045.4.3.2": HashAlgorithm.SHA256,
    "1.2.840.10045.4.3.3": HashAlgorithm.SHA384,
    "1.2.840.10045.4.3.4": HashAlgorithm.SHA512,
}
P256_OID = "1.2.840.10045.3.1.7"
KEY_BITS = {KeyAlgorithm.RSA2048: 2048, KeyAlgorithm.RSA3072: 3072, KeyAlgorithm.P256: 256}


def signature_oids(algorithm: KeyAlgorithm) -> list[str]:
    """``key.algo`` of ``credentials/info``: the SIGNATURE algorithms the key can make."""
    if algorithm.is_rsa:
        return [*RSA_PKCS1, RSASSA_PSS, RSA_ENCRYPTION]
    return list(ECDSA)


def hash_algorithm(oid: str | None, hashes: list[bytes]) -> HashAlgorithm:
    """The named algorithm, or the one the hash length implies (v1 authorize has no hashAlgo)."""
    if oid is not None:
        if oid not in HASH_OIDS:
            raise CscInvalidRequest("Invalid parameter hashAlgo: unsupported hash algorithm.")
        chosen = HASH_OIDS[oid]
    elif hashes and len(hashes[0]) in BY_LENGTH:
        chosen = BY_LENGTH[len(hashes[0])]
    else:
        raise CscInvalidRequest("Invalid parameter hash: not a SHA-256/384/512 value.")
    if any(len(h) != chosen.digest_size for h in hashes):
        raise CscInvalidRequest(
            f"Invalid parameter hash: every {chosen} hash has {chosen.digest_size} bytes."
        )
    return chosen


def decode_hashes(values: list[str] | None, *, field: str = "hash") -> list[bytes]:
    if not values:
        raise CscInvalidRequest(f"Missing parameter {field}: SCAL 2 binds the SAD to the hashes.")
    out = []
    for value in values:
        try:
            out.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError, TypeError):
            raise CscInvalidRequest(f"Invalid parameter {field}: not base64.") from None
    return out


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class SignRequest:
    hash_algorithm: HashAlgorithm
    scheme: SignScheme


def sign_request(
    key: KeyAlgorithm, *, sign_algo: str | None, hash_algo: str | None, sign_algo_params: str | None
) -> SignRequest:
    """Map ``signAlgo`` (+ ``hashAlgo`` / ``signAlgoParams``) onto our HSM schemes; refuse the rest."""
    if not sign_algo:
        raise CscInvalidRequest("Missing parameter signAlgo.")
    named_hash = HASH_OIDS.get(hash_algo) if hash_algo else None
    if hash_algo and named_hash is None:
        raise CscInvalidRequest("Invalid parameter hashAlgo: unsupported hash algorithm.")
    if key.is_rsa and sign_algo in RSA_PKCS1:
        implied = RSA_PKCS1[sign_algo]
        if named_hash not in (None, implied):
            raise CscInvalidRequest("Invalid parameter hashAlgo: it contradicts signAlgo.")
        return SignRequest(implied, SignScheme.RSA_PKCS1V15)
    if key.is_rsa and sign_algo == RSA_ENCRYPTION:
        if named_hash is None:
            raise CscInvalidRequest("Missing parameter hashAlgo: signAlgo rsaEncryption needs it.")
        return SignRequest(named_hash, SignScheme.RSA_PKCS1V15)
    if key.is_rsa and sign_algo == RSASSA_PSS:
        return SignRequest(_pss_hash(sign_algo_params, named_hash), SignScheme.RSA_PSS)
    if not key.is_rsa and sign_algo in ECDSA:
        implied = ECDSA[sign_algo]
        if named_hash not in (None, implied):
            raise CscInvalidRequest("Invalid parameter hashAlgo: it contradicts signAlgo.")
        return SignRequest(implied, SignScheme.ECDSA)
    raise CscInvalidRequest("Invalid parameter signAlgo: the credential's key cannot make this signature.")


def _pss_hash(params_b64: str | None, named_hash: HashAlgorithm | None) -> HashAlgorithm:
    """Only the PSS the HSM makes: MGF1 with the same hash, salt length = digest length."""
    if not params_b64:
        raise CscInvalidRequest("Missing parameter signAlgoParams: RSASSA-PSS needs them.")
    try:
        params = algos.RSASSAPSSParams.load(base64.b64decode(params_b64, validate=True))
        digest = HashAlgorithm(params["hash_algorithm"]["algorithm"].native)
        mgf = params["mask_gen_algorithm"]
        mgf_hash = mgf["parameters"]["algorithm"].native
        salt = int(params["salt_length"].native)
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise CscInvalidRequest("Invalid parameter signAlgoParams.") from None
    if mgf["algorithm"].native != "mgf1" or mgf_hash != digest.value or salt != digest.digest_size:
        raise CscInvalidRequest(
            "Invalid parameter signAlgoParams: MGF1 with the same hash and salt length only."
        )
    if named_hash not in (None, digest):
        raise CscInvalidRequest("Invalid parameter hashAlgo: it contradicts signAlgoParams.")
    return digest


def manifest(*, credential_id: str, hash_oid: str, hashes: list[str], client_id: str) -> dict[str, Any]:
    return {
        "kind": "csc",
        "credential": credential_id,
        "hash_algorithm": hash_oid,
        "hashes": hashes,
        "client": client_id,
    }


def manifest_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


def challenge_for(manifest_hex: str, nonce: bytes) -> bytes:
    return hashlib.sha256(bytes.fromhex(manifest_hex) + nonce).digest()


def new_nonce() -> bytes:
    return secrets.token_bytes(32)


def new_sad() -> str:
    return secrets.token_urlsafe(32)


def sad_digest(sad: str) -> str:
    return hashlib.sha256(("csc-sad:" + sad).encode("utf-8")).hexdigest()
