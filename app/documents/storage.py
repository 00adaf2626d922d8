"""Where transcript files live: a content-addressed store behind one small port.

A file's key is derived from its SHA-256, so storing the same bytes twice is a no-op and a key
never points to different content.  The filesystem store writes to a temporary file in the same
directory, fsyncs it, then ``os.replace``s it into place: a reader sees the whole file or nothing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from flask import current_app

from app.errors import DependencyUnavailable, NotFound

_KEY = re.compile(r"^sha256/[0-9a-f]{2}/[0-9a-f]{64}$")


class StoredFileMissing(NotFound):
    code = "document.file_missing"
    default_message = "The stored file of this document is missing; the operator has been alerted."


class StoreFull(DependencyUnavailable):
    code = "document.store_full"
    default_message = "The document store is full or cannot be written; the operator has been alerted."


def _is_full(exc: BaseException) -> bool:
    """A full or read-only disk is an outage (503 ``document.store_full``), not a bug."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_for(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256}"


class DocumentStore(Protocol):
    def put(self, data: bytes) -> tuple[str, str]:
        """Store ``data``; return ``(key, sha256)``.  Idempotent."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...


class FilesystemStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):  # keys are ours; anything else is a bug or an attack
            raise ValueError("not a document store key")
        return self.root / key

    def put(self, data: bytes) -> tuple[str, str]:
        digest = sha256_hex(data)
        key = key_for(digest)
        path = self._path(key)
        if path.exists() and path.stat().st_size == len(data):
            return key, digest
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        except OSError as exc:
            if _is_full(exc):
                raise StoreFull() from exc
            raise
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            if _is_full(exc):
                raise StoreFull() from exc
            raise
        return key, digest

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoredFileMissing() from None

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


class MemoryStore:
    """The same contract in memory (unit tests)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, data: bytes) -> tuple[str, str]:
        digest = sha256_hex(data)
        key = key_for(digest)
        self.files.setdefault(key, data)
        return key, digest

    def get(self, key: str) -> bytes:
        try:
            return self.files[key]
        except KeyError:
            raise StoredFileMissing() from None

    def exists(self, key: str) -> bool:
        return key in self.files


def get_store() -> DocumentStore:
    """The store of the current app (``var/documents`` unless a test put another one in place)."""
    store: DocumentStore | None = current_app.extensions.get("signet.document_store")
    if store is None:
        settings = current_app.extensions["signet.settings"]
        store = FilesystemStore(settings.var_dir / "documents")
        current_app.extensions["signet.document_store"] = store
    return store
