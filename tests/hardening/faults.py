"""The 200-document batch under fault: a private stack (PostgreSQL, Redis, Celery worker processes)
and the invariant every fault test ends with: each document signed exactly once or failed with a
reason, nothing lost, no partial file served."""

from __future__ import annotations

import hashlib
import io
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.clock import now
from app.db import session
from app.documents.models import Document, DocumentRevision
from app.documents.storage import get_store
from app.settings import Settings
from app.workflow.signing import sweep
from tests.hardening.stack import PrivatePostgres, PrivateRedis, Worker
from tests.support.workflow_world import World

BATCH = 200


@dataclass
class Stack:
    """What a fault test drives: the app (web side, in this process) and the worker processes."""

    app: Flask
    settings: Settings
    pg: PrivatePostgres
    redis: PrivateRedis
    worker_env: dict[str, str]
    logs: Path
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, **env: str) -> Worker:
        worker = Worker({**self.worker_env, **env}, self.logs / f"worker-{len(self.workers)}.log")
        self.workers.append(worker.start())
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def worker_log(self) -> str:
        return "".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.logs.glob("worker-*.log")))


def worker_env(settings: Settings, *, softhsm_conf: Path) -> dict[str, str]:
    """The same configuration as the web side, as the environment a deployed worker would get."""
    assert settings.hsm_user_pin is not None
    return {
        "SIGNET_ENV": "test",
        "SIGNET_VAR_DIR": str(settings.var_dir),
        "DATABASE_URL": settings.database_url,
        "CELERY_BROKER_URL": settings.celery_broker_url,
        "CELERY_QUEUE": settings.celery_queue,
        "HSM_TOKEN_LABEL": settings.hsm_token_label,
        "HSM_USER_PIN": settings.hsm_user_pin,
        "SOFTHSM2_CONF": str(softhsm_conf),
        "SECRET_KEY": settings.secret_key,
        "DATA_ENCRYPTION_KEY": settings.data_encryption_key,
        "PUBLIC_BASE_URL": settings.public_base_url,
        "LOG_LEVEL": "WARNING",
    }


def states(ids: list[str]) -> dict[str, int]:
    s = session()
    s.expire_all()
    counts: dict[str, int] = {}
    for status, step, n in s.execute(
        select(Document.status, Document.step, func.count())
        .where(Document.id.in_(ids))
        .group_by(Document.status, Document.step)
    ):
        counts[f"{status}({step})"] = n
    s.commit()
    return counts


def signed_count(ids: list[str]) -> int:
    return states(ids).get("waiting(2)", 0)


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, what: str, stack: Stack | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tail = stack.worker_log()[-4000:] if stack else ""
            raise AssertionError(f"{what}: not reached within {timeout} s\n{tail}")
        time.sleep(0.25)


def settled(ids: list[str]) -> bool:
    """No document approved-but-not-signed or being signed: the batch has come to rest."""
    counts = states(ids)
    return not any(k.startswith(("approved", "signing")) for k in counts)


def sweep_as_after_lease(settings: Settings) -> dict[str, int]:
    """What the periodic sweep does once the leases of a dead worker have run out."""
    lease = float(settings.extra.get("signing_lease_seconds", 120))
    return sweep(now=now() + timedelta(seconds=lease + 1), grace=timedelta(0))


def start_batch(world: World, n: int = BATCH) -> tuple[list[str], str]:
    ids = world.upload(n)
    approved = world.teacher.approve({"class_id": world.klass.id})
    assert approved["total"] == n
    return ids, approved["id"]


def pdf_signatures(data: bytes) -> int:
    return len(PdfFileReader(io.BytesIO(data)).embedded_signatures)


def assert_exactly_once(world: World, ids: list[str], *, allow_failed: bool) -> dict[str, int]:
    """Every document of the batch is signed exactly once per step (the teacher's, or the teacher's,
    the principal's and the seal) or failed with a reason; the file a client downloads is whole (its
    hash is the recorded one) and carries that many signatures."""
    s = session()
    s.expire_all()
    docs = list(s.scalars(select(Document).where(Document.id.in_(ids))))
    assert len(docs) == len(ids), "a document was lost"
    outcome = {"signed": 0, "failed": 0}
    store = get_store()
    for doc in docs:
        revisions = s.scalar(
            select(func.count())
            .select_from(DocumentRevision)
            .where(DocumentRevision.document_id == doc.id, DocumentRevision.kind == "signature")
        )
        created = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "signature.created", AuditEvent.target_id == doc.id)
        )
        data = store.get(doc.storage_key)
        assert hashlib.sha256(data).hexdigest() == doc.sha256, f"{doc.id}: stored file is not whole"
        # the teacher's signature (waiting for the principal), or all three (principal and seal too)
        expected = {("waiting", 2): 1, ("completed", 0): 3}.get((doc.status, doc.step))
        if expected is not None:
            assert (doc.signature_count, revisions, created) == (expected,) * 3, doc.id
            assert pdf_signatures(data) == expected, f"{doc.id}: a step was signed more than once"
            outcome["signed"] += 1
        else:
            assert allow_failed, f"{doc.id} ended {doc.status}({doc.step}): {doc.failure_code}"
            assert (doc.status, doc.step) == ("failed", 1), f"{doc.id} ended {doc.status}({doc.step})"
            assert doc.failure_code and doc.failure_message, f"{doc.id} failed without a reason"
            assert (doc.signature_count, revisions, created) == (0, 0, 0), doc.id
            assert pdf_signatures(data) == 0
            outcome["failed"] += 1
    s.commit()
    return outcome


def download_is_whole(world: World, doc_id: str) -> None:
    response = world.clerk.get(f"/api/v1/documents/{doc_id}/file")
    assert response.status_code == 200, response.get_json()
    assert hashlib.sha256(response.data).hexdigest() == response.headers["X-Content-SHA256"]


def failure_codes(ids: list[str]) -> dict[str, int]:
    s = session()
    s.expire_all()
    counts: dict[str, int] = {}
    for code, n in s.execute(
        select(Document.failure_code, func.count())
        .where(Document.id.in_(ids), Document.status == "failed")
        .group_by(Document.failure_code)
    ):
        counts[str(code)] = n
    s.commit()
    return counts


def copy_token(softhsm_conf: Path, dest: Path) -> Path:
    """A copy of the session's SoftHSM token directory with its own softhsm2.conf (for one worker)."""
    from app.keys.devtoken import softhsm_conf_text

    source = softhsm_conf.parent / "tokens"
    tokens = dest / "tokens"
    shutil.copytree(source, tokens)
    conf = dest / "softhsm2.conf"
    conf.write_text(softhsm_conf_text(tokens.resolve()), encoding="utf-8")
    return conf


def progress(world: World, approval_id: str) -> dict[str, Any]:
    body: dict[str, Any] = world.teacher.client.get(f"/api/v1/approvals/{approval_id}?items=false").get_json()
    return body


_last: dict[str, tuple[dict[str, int], float]] = {}


def settled_or_stalled(ids: list[str], quiet: float = 10.0) -> bool:
    """At rest, or nothing has moved for ``quiet`` seconds (work is waiting for the sweep)."""
    counts = states(ids)
    if not any(k.startswith(("approved", "signing")) for k in counts):
        return True
    key = ids[0]
    previous = _last.get(key)
    if previous is None or previous[0] != counts:
        _last[key] = (counts, time.monotonic())
        return False
    return time.monotonic() - previous[1] >= quiet


def pdf_file(n: int) -> io.BytesIO:
    from tests.support.workflow_world import transcript_pdf

    return io.BytesIO(transcript_pdf(f"Hoc sinh {n}", f"HS{n:05d}"))


def manifest(world: World, n: int) -> tuple[io.BytesIO, str]:
    text = (
        "file,student_code,student_name,class,school_year\n"
        f"hs{n:05d}.pdf,HS{n:05d},Học sinh {n},{world.klass.name},{world.klass.school_year}\n"
    )
    return io.BytesIO(text.encode()), "manifest.csv"
