"""The VAPID key pair that identifies Signet to browsers' push services.

Production mounts it (``VAPID_PRIVATE_KEY_FILE``); development generates one under ``var/secrets``.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02

from app.settings import Settings


def _key_path(settings: Settings) -> Path:
    configured = os.environ.get("VAPID_PRIVATE_KEY_FILE")
    return Path(configured) if configured else settings.var_dir / "secrets" / "vapid_private.pem"


@lru_cache(maxsize=4)
def _load(path: str) -> Vapid02:
    return Vapid02.from_file(path)


def vapid_key(settings: Settings) -> Vapid02:
    path = _key_path(settings)
    if not path.exists():
        if settings.is_prod:
            raise RuntimeError("VAPID_PRIVATE_KEY_FILE is required in production for Web Push")
        key = Vapid02()
        key.generate_keys()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key.private_pem())
        os.replace(tmp, path)
    return _load(str(path))


def application_server_key(settings: Settings) -> str:
    """The public key as the browser's ``pushManager.subscribe`` wants it (base64url, raw point)."""
    raw = vapid_key(settings).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
