"""The HSM port, in our own words.  No pkcs11 import here (see ``pkcs11.py`` for the adapter).

Keys are generated inside the token and never leave it: the port offers no way to read a private
key, only to sign a digest that the caller has computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from app.errors import AppError, BadRequest, DependencyUnavailable, NotFound


class KeyAlgorithm(StrEnum):
    RSA2048 = "rsa2048"
    RSA3072 = "rsa3072"
    P256 = "p256"

    @property
    def is_rsa(self) -> bool:
        return self is not KeyAlgorithm.P256


class SignScheme(StrEnum):
    """How a digest is turned into a signature value."""

    RSA_PKCS1V15 = "rsa-pkcs1v15"  # DigestInfo built by us, then CKM_RSA_PKCS
    RSA_PSS = "rsa-pss"  # CKM_RSA_PKCS_PSS, salt length = digest length
    ECDSA = "ecdsa"  # CKM_ECDSA; raw r||s converted to DER


class HashAlgorithm(StrEnum):
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @property
    def digest_size(self) -> int:
        return {"sha256": 32, "sha384": 48, "sha512": 64}[self.value]


@dataclass(frozen=True)
class KeyInfo:
    key_id: str  # hex of CKA_ID; our stable handle
    label: str
    algorithm: KeyAlgorithm
    public_key_der: bytes  # SubjectPublicKeyInfo, DER


@dataclass(frozen=True)
class KeyAttributes:
    """What the token says about a private key (read back through PKCS#11, not assumed)."""

    private: bool
    sensitive: bool
    extractable: bool
    always_sensitive: bool
    never_extractable: bool
    local: bool  # generated on the token


@dataclass(frozen=True)
class HsmStatus:
    module: str
    token_label: str
    manufacturer: str
    model: str
    key_count: int


class HsmError(AppError):
    code = "hsm.error"
    http_status = 502
    default_message = "The HSM refused the operation."


class HsmUnavailable(DependencyUnavailable):
    code = "hsm.unavailable"
    http_status = 503
    default_message = "The HSM is not reachable (module, token or PIN); signing is paused."


class KeyNotFound(NotFound):
    code = "hsm.key_not_found"
    default_message = "No key with this id exists in the HSM."


class InvalidDigest(BadRequest):
    code = "hsm.invalid_digest"
    default_message = "The digest does not have the length of its hash algorithm."


class DigestSigner:
    """What every adapter shares: one digest is a batch of one, and digests are checked first."""

    def sign_digests(
        self,
        *,
        key_id: str,
        digests: list[bytes],
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        scheme: SignScheme | None = None,
    ) -> list[bytes]:
        raise NotImplementedError

    def sign_digest(
        self,
        *,
        key_id: str,
        digest: bytes,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        scheme: SignScheme | None = None,
    ) -> bytes:
        return self.sign_digests(
            key_id=key_id, digests=[digest], hash_algorithm=hash_algorithm, scheme=scheme
        )[0]

    @staticmethod
    def check_digests(digests: list[bytes], hash_algorithm: HashAlgorithm) -> None:
        size = hash_algorithm.digest_size
        for value in digests:
            if len(value) != size:
                raise InvalidDigest(f"A {hash_algorithm.value} digest has {size} bytes, not {len(value)}.")


class Hsm(Protocol):
    """A PKCS#11 token (or anything that behaves like one)."""

    def generate_keypair(self, *, algorithm: KeyAlgorithm, label: str) -> KeyInfo: ...

    def sign_digest(
        self,
        *,
        key_id: str,
        digest: bytes,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        scheme: SignScheme | None = None,
    ) -> bytes:
        """Sign a digest computed by the caller. ``scheme`` defaults to PKCS#1 v1.5 or ECDSA.

        Returns the signature value as it goes into CMS (ECDSA as a DER SEQUENCE of r and s).
        """
        ...

    def sign_digests(
        self,
        *,
        key_id: str,
        digests: list[bytes],
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
        scheme: SignScheme | None = None,
    ) -> list[bytes]:
        """Several digests with one key, in order (one lock, one key lookup)."""
        ...

    def find(self, key_id: str) -> KeyInfo: ...

    def attributes(self, key_id: str) -> KeyAttributes: ...

    def list_keys(self) -> list[KeyInfo]: ...

    def destroy(self, key_id: str) -> None: ...

    def status(self) -> HsmStatus: ...

    def close(self) -> None: ...
