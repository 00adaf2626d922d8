"""``MemoryHsm``: a real implementation of the ``Hsm`` port that keeps its keys in process memory.

For unit tests of other domains that need signatures but not a token (a fake, not a mock: it
signs and verifies for real).  Never for production: its keys are plain Python objects.  Select it
with ``provider.init_app(app, settings, factory=lambda _settings: MemoryHsm())``.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from app.errors import BadRequest
from app.keys.hsm import (
    DigestSigner,
    HashAlgorithm,
    HsmStatus,
    KeyAlgorithm,
    KeyAttributes,
    KeyInfo,
    KeyNotFound,
    SignScheme,
)
from app.keys.x509 import default_scheme

_HASHES: dict[HashAlgorithm, type[hashes.HashAlgorithm]] = {
    HashAlgorithm.SHA256: hashes.SHA256,
    HashAlgorithm.SHA384: hashes.SHA384,
    HashAlgorithm.SHA512: hashes.SHA512,
}


@dataclass(frozen=True)
class _Entry:
    info: KeyInfo
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class MemoryHsm(DigestSigner):
    """Behaves like ``Pkcs11Hsm`` (same refusals, same signature formats), without a token."""

    def __init__(self, token_label: str = "memory") -> None:  # noqa: S107 - a label, not a secret
        self.token_label = token_label
        self._keys: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def generate_keypair(self, *, algorithm: KeyAlgorithm, label: str) -> KeyInfo:
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if algorithm is KeyAlgorithm.P256:
            private = ec.generate_private_key(ec.SECP256R1())
        else:
            private = rsa.generate_private_key(65537, 2048 if algorithm is KeyAlgorithm.RSA2048 else 3072)
        spki = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        info = KeyInfo(secrets.token_bytes(16).hex(), label, algorithm, spki)
        with self._lock:
            self._keys[info.key_id] = _Entry(info, private)
        return info

    def _entry(self, key_id: str) -> _Entry:
        with self._lock:
            entry = self._keys.get(key_id)
        if entry is None:
            raise KeyNotFound()
        return entry

    def sign_digests(
        self,
        *,
        key_id: str,
        digests: list[bytes],
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        scheme: SignScheme | None = None,
    ) -> list[bytes]:
        self.check_digests(digests, hash_algorithm)
        entry = self._entry(key_id)
        scheme = scheme or default_scheme(entry.info.algorithm)
        if entry.info.algorithm.is_rsa == (scheme is SignScheme.ECDSA):
            raise BadRequest(f"A {entry.info.algorithm.value} key cannot sign with {scheme.value}.")
        prehashed = utils.Prehashed(_HASHES[hash_algorithm]())
        out = []
        for value in digests:
            if isinstance(entry.private, ec.EllipticCurvePrivateKey):
                out.append(entry.private.sign(value, ec.ECDSA(prehashed)))
            elif scheme is SignScheme.RSA_PSS:
                pss = padding.PSS(
                    mgf=padding.MGF1(_HASHES[hash_algorithm]()), salt_length=hash_algorithm.digest_size
                )
                out.append(entry.private.sign(value, pss, prehashed))
            else:
                out.append(entry.private.sign(value, padding.PKCS1v15(), prehashed))
        return out

    def find(self, key_id: str) -> KeyInfo:
        return self._entry(key_id).info

    def attributes(self, key_id: str) -> KeyAttributes:
        self._entry(key_id)
        # what a token reports for a key generated in it; memory cannot enforce it: tests only
        return KeyAttributes(True, True, False, True, True, True)

    def list_keys(self) -> list[KeyInfo]:
        with self._lock:
            return [entry.info for entry in self._keys.values()]

    def destroy(self, key_id: str) -> None:
        with self._lock:
            if self._keys.pop(key_id, None) is None:
                raise KeyNotFound()

    def status(self) -> HsmStatus:
        with self._lock:
            count = len(self._keys)
        return HsmStatus("memory", self.token_label, "Signet", "MemoryHsm (tests only)", count)

    def close(self) -> None:
        """Nothing to close; the keys stay for the life of the object, like a token's."""
