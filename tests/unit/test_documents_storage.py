"""The content-addressed store: same bytes, same key; whole files only; no path games."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.documents.storage import FilesystemStore, MemoryStore, StoredFileMissing, key_for


@pytest.mark.parametrize("kind", ["fs", "memory"])
def test_put_is_idempotent_and_content_addressed(tmp_path: Path, kind: str) -> None:
    store = FilesystemStore(tmp_path) if kind == "fs" else MemoryStore()
    key, digest = store.put(b"%PDF-1.7 hello")
    assert digest == hashlib.sha256(b"%PDF-1.7 hello").hexdigest()
    assert key == key_for(digest)
    assert store.put(b"%PDF-1.7 hello") == (key, digest)
    assert store.get(key) == b"%PDF-1.7 hello"
    assert store.exists(key)
    other = key_for("0" * 64)
    assert not store.exists(other)
    with pytest.raises(StoredFileMissing):
        store.get(other)


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    key, _ = store.put(b"x" * 10_000)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [tmp_path / key]


@pytest.mark.parametrize("key", ["../etc/passwd", "sha256/ab/../../x", "/abs", "sha256/zz/" + "z" * 64])
def test_foreign_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        FilesystemStore(tmp_path).get(key)
