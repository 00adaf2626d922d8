"""Load: teachers reading their inbox and approving while a large batch signs.

A private PostgreSQL cluster and Redis (``tests.hardening.stack``: free ports, never the shared ones),
a real gunicorn (the repository's ``gunicorn.conf.py``, 2 workers × 4 threads) and real Celery workers
(2 processes).  Seeded: ``TEACHERS`` homeroom teachers, each with a class, a signing key in the
SoftHSM token, a passkey, and ``PER_TEACHER`` transcripts waiting; one more class of ``BATCH``
transcripts that its teacher approves at the start (one approval, signed by the workers).

Then every teacher is a thread with its own HTTP connection: ``GET /api/v1/inbox``, and for each
transcript ``POST /api/v1/approvals`` + the passkey assertion (``POST /approvals/{id}/passkey``),
reading the inbox again between approvals, until the batch has finished signing.

Figures: ``load.requests_per_s`` (teacher requests completed per second), ``load.p50_ms``/``p95_ms``/
``p99_ms`` (their latency), ``load.errors`` (non-2xx answers and transport errors; a request sent
again on a new connection after the server closed an idle keep-alive one is counted in
``load.keepalive_reconnects`` instead, as a browser would send it again),
``load.batch_seconds`` (from the batch approval to its last signature) and ``load.batch_size``,
``load.teachers``.  ``BENCH_LOAD_TEACHERS``/``BENCH_LOAD_BATCH``/``BENCH_LOAD_PER_TEACHER`` make it
smaller; the figure names say what was measured (``load.batch2000_seconds`` only for 2000).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmarks.common import BenchContext, percentile
from tests.hardening.stack import PrivatePostgres, PrivateRedis, Worker, free_port, wait_port

TEACHERS = int(os.environ.get("BENCH_LOAD_TEACHERS", "200"))
BATCH = int(os.environ.get("BENCH_LOAD_BATCH", "2000"))
PER_TEACHER = int(os.environ.get("BENCH_LOAD_PER_TEACHER", "2"))
ORIGIN = "http://localhost:5000"  # the software authenticator's origin = PUBLIC_BASE_URL
ROOT = Path(__file__).resolve().parents[2]
YEAR = "2024-2025"


@dataclass
class Teacher:
    cookie: str
    csrf: str
    authenticator: Any
    doc_ids: list[str]
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0


def _manifest(rows: list[tuple[int, str]]) -> bytes:
    lines = ["file,student_code,student_name,class,school_year"]
    lines += [f"hs{i:06d}.pdf,HS{i:06d},Học sinh {i},{klass},{YEAR}" for i, klass in rows]
    return ("\n".join(lines) + "\n").encode()


def _upload(clerk: Any, rows: list[tuple[int, str]]) -> list[str]:
    from tests.support.workflow_world import transcript_pdf

    ids: list[str] = []
    for start in range(0, len(rows), 100):
        chunk = rows[start : start + 100]
        files = [
            (io.BytesIO(transcript_pdf(f"Hoc sinh {i}", f"HS{i:06d}")), f"hs{i:06d}.pdf") for i, _ in chunk
        ]
        response = clerk.post(
            "/api/v1/documents",
            data={"files": files, "manifest": (io.BytesIO(_manifest(chunk)), "manifest.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 200, response.get_json()
        ids += [f["document_id"] for f in response.get_json()["files"]]
    return ids


def _seed(env: dict[str, str]) -> tuple[list[Teacher], Any, list[str], dict[str, str]]:
    from app import create_app
    from app.auth.sessions import SESSION_COOKIE
    from app.keys.tsa import ensure_dev_tsa
    from app.people import rules
    from app.settings import Settings
    from tests.support.factories import make_class, make_person, make_school, sign_in
    from tests.support.webauthn import SoftAuthenticator
    from tests.support.workflow_world import add_passkey, make_credential

    app = create_app(Settings.from_env(env))
    with app.app_context():
        school = make_school("Trường Tiểu học Bench", "BENCH-LOAD")
        clerk = sign_in(app, make_person(school, roles=(rules.CLERK,)))
        make_person(school, roles=(rules.PRINCIPAL,))
        make_credential(school, seal=True)
        ensure_dev_tsa()
        teachers: list[Teacher] = []
        rows: list[tuple[int, str]] = []
        people = []
        for t in range(TEACHERS + 1):  # the last one approves the batch
            klass = make_class(school, f"{1 + t % 5}A{t}", YEAR)
            person = make_person(school, roles=(rules.TEACHER,), homeroom=klass)
            make_credential(person)
            people.append((person, klass))
            if t < TEACHERS:
                rows += [(t * 100 + k, klass.name) for k in range(PER_TEACHER)]
        batch_klass = people[-1][1]
        own_ids = _upload(clerk, rows)
        batch_ids = _upload(clerk, [(1_000_000 + i, batch_klass.name) for i in range(BATCH)])
        by_class: dict[str, list[str]] = {}
        for (_, klass_name), doc_id in zip(rows, own_ids, strict=True):
            by_class.setdefault(klass_name, []).append(doc_id)
        batch_teacher = None
        for t, (person, klass) in enumerate(people):
            authenticator = SoftAuthenticator(ORIGIN)
            add_passkey(person, authenticator)
            signed = sign_in(app, person)
            token = signed.client.get_cookie(SESSION_COOKIE, domain="localhost")
            assert token is not None
            teacher = Teacher(token.value, signed.csrf, authenticator, by_class.get(klass.name, []))
            if t < TEACHERS:
                teachers.append(teacher)
            else:
                batch_teacher = teacher
        return teachers, batch_teacher, batch_ids, {"class_id": batch_klass.id}


class Http:
    """One keep-alive connection of one simulated browser."""

    def __init__(self, port: int, teacher: Teacher) -> None:
        self.port, self.teacher = port, teacher
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: Any = None, *, timed: bool = True) -> tuple[int, Any]:
        from app.auth.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE

        headers = {
            "Cookie": f"{SESSION_COOKIE}={self.teacher.cookie}; {CSRF_COOKIE}={self.teacher.csrf}",
            CSRF_HEADER: self.teacher.csrf,
            "Host": "localhost:5000",
        }
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
                status = response.status
                break
            except (OSError, http.client.HTTPException) as exc:
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                stale = isinstance(
                    exc, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected
                )
                if attempt == 1 and stale:
                    # the server closed an idle keep-alive connection (gunicorn's keepalive is 2 s):
                    # a browser sends the request again on a new connection, and so do we
                    self.teacher.reconnects += 1
                    started = time.perf_counter()
                    continue
                self.teacher.errors.append(f"{method} {path}: {type(exc).__name__}")
                return 0, None
        if timed:
            self.teacher.latencies.append(time.perf_counter() - started)
        if status >= 300:
            self.teacher.errors.append(f"{method} {path}: {status} {payload[:200]!r}")
        return status, (json.loads(payload) if payload and payload[:1] in b"{[" else None)

    def approve(self, selection: dict[str, Any]) -> int:
        status, body = self.call("POST", "/api/v1/approvals", selection)
        if status != 201:
            return status
        assertion = self.teacher.authenticator.get(body["publicKey"])
        status, _ = self.call("POST", f"/api/v1/approvals/{body['id']}/passkey", {"credential": assertion})
        return status


def _batch_done(env: dict[str, str], ids: list[str]) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as c:
            n: int = c.execute(
                sa.text(
                    "SELECT count(*) FROM documents"
                    " WHERE id = ANY(:ids) AND status NOT IN ('signing', 'approved')"
                ),
                {"ids": ids},
            ).scalar_one()
            return n
    finally:
        engine.dispose()


def run(ctx: BenchContext) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="signet-load-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    pg = PrivatePostgres(root / "pg").start()
    redis = PrivateRedis(root / "redis").start()
    processes: list[subprocess.Popen[bytes]] = []
    workers: list[Worker] = []
    try:
        url = pg.create_database("load")
        from app.migrate import upgrade

        upgrade(url)
        env = {
            "SIGNET_ENV": "test",
            "SIGNET_VAR_DIR": str(ctx.var_dir),
            "DATABASE_URL": url,
            "HSM_TOKEN_LABEL": ctx.settings.hsm_token_label,
            "HSM_USER_PIN": ctx.settings.hsm_user_pin or "",
            "SOFTHSM2_CONF": os.environ["SOFTHSM2_CONF"],
            "CELERY_BROKER_URL": redis.url,
            "CELERY_QUEUE": "signet-load",
            "CELERY_ALWAYS_EAGER": "false",
            "PUBLIC_BASE_URL": ORIGIN,
            "AUTH_RATE_LIMIT": "off",
            "LOG_LEVEL": "WARNING",
            "SECRET_KEY": ctx.settings.secret_key,
            "DATA_ENCRYPTION_KEY": ctx.settings.data_encryption_key,
        }
        started = time.perf_counter()
        teachers, batch_teacher, batch_ids, batch_selection = _seed(env)
        print(
            f"    seeded {TEACHERS} teachers, {BATCH} batch in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )

        port = free_port()
        processes.append(
            subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env={**os.environ, **env, "SIGNET_BIND": f"127.0.0.1:{port}"},
                stdout=subprocess.DEVNULL,
                stderr=(root / "gunicorn.log").open("wb"),
            )
        )
        wait_port(port, timeout=120)
        for n in range(1):
            workers.append(Worker(env, root / f"worker-{n}.log", concurrency=2).start())

        batch_http = Http(port, batch_teacher)
        batch_started = time.perf_counter()
        assert batch_http.approve(batch_selection) == 202, batch_teacher.errors
        batch_end: list[float] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                if _batch_done(env, batch_ids) == len(batch_ids):
                    batch_end.append(time.perf_counter())
                    stop.set()
                    return
                time.sleep(1)

        def teacher_loop(teacher: Teacher) -> None:
            client = Http(port, teacher)
            client.call("GET", "/api/v1/inbox")
            for doc_id in teacher.doc_ids:
                client.approve({"document_ids": [doc_id]})
                client.call("GET", "/api/v1/inbox")
            while not stop.is_set():  # keep reading while the batch signs
                client.call("GET", "/api/v1/inbox")
                time.sleep(1.0)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        load_started = time.perf_counter()
        threads = [threading.Thread(target=teacher_loop, args=(t,), daemon=True) for t in teachers]
        for thread in threads:
            thread.start()
        watcher.join(timeout=3600)
        stop.set()
        for thread in threads:
            thread.join(timeout=180)
        elapsed = time.perf_counter() - load_started
    finally:
        for worker in workers:
            worker.stop()
        for process in processes:
            process.terminate()
            process.wait(timeout=60)
        redis.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)

    latencies = [x for t in teachers for x in t.latencies]
    errors = [e for t in teachers for e in t.errors] + batch_teacher.errors
    for line in errors[:5]:
        print(f"    error: {line}", file=sys.stderr)
    batch_seconds = (batch_end[0] - batch_started) if batch_end else float("nan")
    figures = {
        "load.teachers": float(TEACHERS),
        "load.batch_size": float(BATCH),
        "load.requests_per_s": len(latencies) / elapsed,
        "load.p50_ms": percentile(latencies, 50) * 1000,
        "load.p95_ms": percentile(latencies, 95) * 1000,
        "load.p99_ms": percentile(latencies, 99) * 1000,
        "load.errors": float(len(errors)),
        "load.keepalive_reconnects": float(sum(t.reconnects for t in teachers)),
        "load.batch_seconds": batch_seconds,
    }
    if BATCH == 2000:
        figures["load.batch2000_seconds"] = batch_seconds
    return figures
