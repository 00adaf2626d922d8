"""Upload a class's transcripts → homeroom teacher approves the batch with a passkey → principal
approves → the seal is applied → every PDF carries three valid signatures (pyHanko and pdfsig).

On the default run tasks execute inline; with TEST_BROKER_URL they go through Redis to a real
``celery worker`` subprocess (prefork, as in production).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.db import session
from app.documents.models import Document
from app.documents.storage import get_store
from app.keys.service import trust_roots
from app.signing.pdf import verify_pdf
from tests.conftest import wait_for
from tests.support.workflow_world import WorkerProcess, build_world

pytestmark = pytest.mark.hsm


def _statuses(ids: list[str]) -> dict[str, int]:
    session().expire_all()
    counts: dict[str, int] = {}
    for doc in session().query(Document).filter(Document.id.in_(ids)):
        key = f"{doc.status}({doc.step})"
        counts[key] = counts.get(key, 0) + 1
    session().commit()
    return counts


@pytest.fixture
def worker(app: Flask) -> Iterator[WorkerProcess | None]:
    if app.extensions["celery"].conf.task_always_eager:
        yield None
        return
    process = WorkerProcess(app.extensions["signet.settings"])
    yield process
    process.stop()


@pytest.mark.timeout(240)
def test_class_batch_through_the_whole_chain(
    app: Flask, worker: WorkerProcess | None, tmp_path: Path
) -> None:
    world = build_world(app)
    ids = world.upload(40)
    assert _statuses(ids) == {"waiting(1)": 40}

    inbox = world.teacher.client.get("/api/v1/inbox").get_json()
    assert len(inbox) == 40

    first = world.teacher.approve({"class_id": world.klass.id})
    assert first["total"] == 40
    wait_for(lambda: _statuses(ids) == {"waiting(2)": 40}, timeout=120)
    progress = world.teacher.client.get(f"/api/v1/approvals/{first['id']}").get_json()
    assert (progress["done"], progress["failed"], progress["status"]) == (40, 0, "finished")

    second = world.principal.approve({"all_ready": True})
    assert second["total"] == 40
    try:
        wait_for(lambda: _statuses(ids) == {"completed(0)": 40}, timeout=180)
    except AssertionError:
        progress = world.principal.client.get(f"/api/v1/approvals/{second['id']}").get_json()
        raise AssertionError(f"{_statuses(ids)} {progress['items'][:2]}") from None

    roots = trust_roots()
    pdfsig = shutil.which("pdfsig")
    for n, doc in enumerate(session().query(Document).filter(Document.id.in_(ids))):
        assert doc.signature_count == 3 and doc.revision == 3
        data = get_store().get(doc.storage_key)
        report = verify_pdf(data, trust_roots=roots)
        assert report.valid, report.to_dict()
        assert [s.signer for s in report.signatures] == [
            "Nguyễn Thị Hồng Vân",
            "Trần Văn Bình",
            "Trường Tiểu học Ngọc Thụy",
        ]
        assert all(s.level == "B-T" for s in report.signatures)
        if pdfsig and n < 5:  # poppler's second opinion on a sample (it is slow to start)
            path = tmp_path / f"{doc.id}.pdf"
            path.write_bytes(data)
            out = subprocess.run([pdfsig, str(path)], capture_output=True, text=True, check=False).stdout
            assert out.count("Signature is Valid.") == 3, out

    download = world.clerk.get(f"/api/v1/documents/{ids[0]}/file")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    archive = world.clerk.get(f"/api/v1/classes/{world.klass.id}/documents.zip")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
