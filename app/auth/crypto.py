"""Small, boring cryptography: random tokens, digests, constant-time checks, Fernet at rest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from app.settings import Settings


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    """SHA-256 of a high-entropy random secret (tokens, codes): enough, and fast to look up."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def keyed_digest(settings: Settings, purpose: str, value: str) -> str:
    """HMAC of low-entropy personal data (a CCCD) for equality look-ups without decrypting."""
    key = hashlib.sha256(f"signet:{purpose}:{settings.data_encryption_key}".encode()).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def mac(settings: Settings, purpose: str, value: str) -> str:
    """HMAC under the application secret key (CSRF tokens bound to a session)."""
    key = hashlib.sha256(f"signet:{purpose}:{settings.secret_key}".encode()).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


@lru_cache(maxsize=8)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode("ascii"))


def encrypt(settings: Settings, plaintext: str) -> str:
    return _fernet(settings.data_encryption_key).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(settings: Settings, ciphertext: str) -> str:
    try:
        return _fernet(settings.data_encryption_key).decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise ValueError("ciphertext does not decrypt with the configured key") from exc
