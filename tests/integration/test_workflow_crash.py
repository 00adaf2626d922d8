"""Kill the worker (SIGKILL, a real subprocess on the Redis broker) in the middle of a 200-document
batch, sweep, start it again: 200 signed documents, each signed exactly once."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from flask import Flask

from app.auth.clock import now
from app.db import session
from app.documents.models import Document, DocumentRevision
from app.documents.storage import get_store
from app.signing.pdf import verify_pdf
from app.workflow.signing import sweep
from tests.conftest import wait_for
from tests.support.workflow_world import WorkerProcess, build_world

pytestmark = [
    pytest.mark.slow,
    pytest.mark.hsm,
    pytest.mark.skipif(not os.environ.get("TEST_BROKER_URL"), reason="needs a real broker (TEST_BROKER_URL)"),
]


def test_killed_worker_loses_nothing_and_signs_nothing_twice(app: Flask) -> None:
    from app.keys.service import trust_roots

    settings = app.extensions["signet.settings"]
    world = build_world(app)
    ids = world.upload(200)
    worker = WorkerProcess(settings)
    try:
        world.teacher.approve({"class_id": world.klass.id})
        wait_for(lambda: _count_signed(ids) >= 30, timeout=120, interval=0.01)
        worker.kill()  # mid-batch: some documents are signed, some in flight, most still queued
    finally:
        worker.stop()
    signed_before = _count_signed(ids)
    assert 0 < signed_before < 200
    # the dead worker's leases run out; the sweep hands its documents back and re-queues the rest
    result = sweep(now=now() + timedelta(minutes=10), grace=timedelta(seconds=0))
    assert result["requeued"] > 0
    worker = WorkerProcess(settings)
    try:
        wait_for(lambda: _count_signed(ids) == 200, timeout=300, interval=0.2)
        time.sleep(2)  # anything still running would show up as a second signature below
    finally:
        worker.stop()
    session().expire_all()
    revisions = (
        session()
        .query(DocumentRevision)
        .filter(DocumentRevision.document_id.in_(ids), DocumentRevision.kind == "signature")
    )
    assert revisions.count() == 200
    roots = trust_roots()
    for doc in session().query(Document).filter(Document.id.in_(ids)):
        assert (doc.status, doc.step, doc.signature_count) == ("waiting", 2, 1)
        report = verify_pdf(get_store().get(doc.storage_key), trust_roots=roots)
        assert len(report.signatures) == 1 and report.valid, doc.id


def _count_signed(ids: list[str]) -> int:
    session().expire_all()
    n = session().query(Document).filter(Document.id.in_(ids), Document.signature_count >= 1).count()
    session().commit()
    return n
