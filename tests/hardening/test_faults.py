"""Faults in the middle of a 200-document batch, on a private stack: PostgreSQL cluster, Redis and
real ``celery worker`` processes started by the test (the machine's shared services are never
touched).  Each test injects one fault, checks what the API and ``/readyz`` say while it lasts,
recovers, and ends with the invariant of ``faults.assert_exactly_once``.

Recovery uses the sweep exactly as the periodic one (``workflow.sweep`` in the beat schedule) would
run it once the dead worker's leases have run out (``sweep_as_after_lease``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from app import create_app
from app.migrate import upgrade
from app.settings import Settings
from app.workflow.signing import sweep
from tests.hardening import faults
from tests.hardening.faults import BATCH, Stack, signed_count, states, wait_until
from tests.hardening.stack import PrivatePostgres, PrivateRedis, fill, tmpfs
from tests.support.workflow_world import World, build_world

pytestmark = [pytest.mark.slow, pytest.mark.hsm, pytest.mark.timeout(1500)]

SIGN_TIMEOUT = 900  # 200 B-T signatures by 2 worker processes on a loaded 2-core machine
MIDWAY = 30  # inject the fault once this many documents are signed


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="signet-fault-pg-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must reach its data dir
    cluster = PrivatePostgres(root / "cluster").start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(
    base_settings: Settings, pg_cluster: PrivatePostgres, redis_server: PrivateRedis, tmp_path: Path
) -> Settings:
    """The web side of the private stack (overrides the suite's settings for this module)."""
    url = pg_cluster.create_database(f"fault_{uuid.uuid4().hex[:10]}")
    upgrade(url)
    var_dir = tmp_path / "var"
    (var_dir / "documents").mkdir(parents=True)
    return base_settings.with_(
        var_dir=var_dir,
        database_url=url,
        celery_broker_url=redis_server.url,
        celery_always_eager=False,
        celery_queue=f"signet-fault-{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
def stack(
    app: Flask,
    settings: Settings,
    pg_cluster: PrivatePostgres,
    redis_server: PrivateRedis,
    softhsm_token: Path,
    tmp_path: Path,
) -> Iterator[Stack]:
    logs = tmp_path / "logs"
    logs.mkdir()
    env = faults.worker_env(settings, softhsm_conf=softhsm_token)
    running = Stack(app, settings, pg_cluster, redis_server, env, logs)
    try:
        yield running
    finally:
        running.stop_all()


@pytest.fixture
def world(app: Flask, stack: Stack) -> World:
    from app.keys.tsa import ensure_dev_tsa

    built = build_world(app)
    # provisioned before the workers start: created lazily by two worker processes at once, the dev
    # TSA's key made in one is not usable in the other and the first documents fail with
    # signing.tsa_unavailable (found by the SIGKILL test; see RELIABILITY.md)
    ensure_dev_tsa()
    return built


def _readiness(app: Flask) -> tuple[int, dict[str, dict[str, object]]]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()["checks"]


def _more_signing_works(world: World, start: int) -> None:
    """After recovery a new batch is signed by the worker as usual."""
    ids = world.upload(5, start=start)
    world.teacher.approve({"document_ids": ids})
    wait_until(lambda: signed_count(ids) == 5, timeout=300, what="post-recovery batch")
    faults.assert_exactly_once(world, ids, allow_failed=False)


def test_worker_killed_with_sigkill_mid_batch(stack: Stack, world: World) -> None:
    """SIGKILL of the worker (and its pool) mid-batch, a new worker, the sweep: 200 signed, each once."""
    worker = stack.start_worker()
    ids, approval_id = faults.start_batch(world)
    wait_until(lambda: signed_count(ids) >= MIDWAY, timeout=SIGN_TIMEOUT, what="midway", stack=stack)
    worker.kill()
    during = states(ids)
    assert sum(during.values()) == BATCH

    # the web side does not depend on a worker: still ready, progress readable
    assert _readiness(stack.app)[0] == 200
    assert faults.progress(world, approval_id)["total"] == BATCH

    taken = faults.sweep_as_after_lease(stack.settings)
    assert taken["leases_taken_back"] == during.get("signing(1)", 0)
    stack.start_worker()
    wait_until(lambda: signed_count(ids) == BATCH, timeout=SIGN_TIMEOUT, what="all signed", stack=stack)
    assert faults.assert_exactly_once(world, ids, allow_failed=False) == {"signed": BATCH, "failed": 0}
    faults.download_is_whole(world, ids[0])
    body = faults.progress(world, approval_id)
    assert (body["done"], body["failed"], body["status"]) == (BATCH, 0, "finished")


def test_redis_stops_mid_batch(stack: Stack, world: World) -> None:
    """Redis (no persistence: its queue is lost) stops mid-batch: /readyz names the queue, an approval
    answers 503 queue.unavailable; after Redis is back the sweep re-queues, all 200 signed once."""
    stack.start_worker()
    ids, _ = faults.start_batch(world)
    wait_until(lambda: signed_count(ids) >= MIDWAY, timeout=SIGN_TIMEOUT, what="midway", stack=stack)
    stack.redis.stop()

    status, checks = _readiness(stack.app)
    assert status == 503
    assert checks["queue"] == {
        "ok": False,
        "code": "queue.unavailable",
        "message": checks["queue"]["message"],
    }
    assert checks["database"]["ok"] and checks["hsm"]["ok"]
    # the principal approves one transcript the teacher signed: authorised, but it cannot be queued
    first = next(i for i in ids if states([i]) == {"waiting(2)": 1})
    refused = world.principal.approve({"document_ids": [first]}, expect=503)
    assert refused["code"] == "queue.unavailable" and refused["status"] == 503
    # reading still works without the queue
    assert world.teacher.client.get("/api/v1/inbox").status_code == 200

    time.sleep(3)  # the batch is stalled, the worker retries its connection
    stack.redis.start()
    wait_until(lambda: _readiness(stack.app)[0] == 200, timeout=60, what="ready again")
    wait_until(lambda: faults.settled_or_stalled(ids), timeout=SIGN_TIMEOUT, what="quiet", stack=stack)
    sweep(grace=timedelta(0))  # the periodic sweep: approved work nobody is doing goes back on the queue
    faults.sweep_as_after_lease(stack.settings)
    wait_until(
        lambda: signed_count(ids) + states(ids).get("completed(0)", 0) == BATCH,
        timeout=SIGN_TIMEOUT,
        what="all signed",
        stack=stack,
    )
    assert faults.assert_exactly_once(world, ids, allow_failed=False) == {"signed": BATCH, "failed": 0}


def test_database_restarts_mid_batch(stack: Stack, world: World) -> None:
    """PostgreSQL stops (fast shutdown: every connection cut) and starts again mid-batch: meanwhile the
    API answers 503 database.unavailable and /readyz names the database; afterwards all 200 signed once."""
    stack.start_worker()
    ids, _ = faults.start_batch(world)
    wait_until(lambda: signed_count(ids) >= MIDWAY, timeout=SIGN_TIMEOUT, what="midway", stack=stack)
    stack.pg.pg_ctl("stop", "-m", "fast", "-w", "-t", "60")
    try:
        status, checks = _readiness(stack.app)
        assert status == 503 and checks["database"]["ok"] is False
        assert checks["database"]["code"] == "database.unavailable"
        response = world.clerk.get("/api/v1/documents")
        assert response.status_code == 503, response.get_json()
        assert response.get_json()["code"] == "database.unavailable"
        time.sleep(5)  # the worker's transactions fail meanwhile
    finally:
        stack.pg.start()
    wait_until(lambda: _readiness(stack.app)[0] == 200, timeout=60, what="ready again")
    wait_until(lambda: faults.settled_or_stalled(ids), timeout=SIGN_TIMEOUT, what="quiet", stack=stack)
    faults.sweep_as_after_lease(stack.settings)
    wait_until(lambda: signed_count(ids) == BATCH, timeout=SIGN_TIMEOUT, what="all signed", stack=stack)
    assert faults.assert_exactly_once(world, ids, allow_failed=False) == {"signed": BATCH, "failed": 0}


def test_hsm_token_removed_mid_batch(
    stack: Stack, world: World, softhsm_token: Path, tmp_path: Path, settings: Settings
) -> None:
    """The worker's token directory disappears mid-batch (a removed token): the documents it could not
    sign fail with a reason, none is signed twice; a web process without its token is not ready
    (503, hsm); with the token back the same worker signs again."""
    conf = faults.copy_token(softhsm_token, tmp_path / "worker-hsm")
    stack.start_worker(SOFTHSM2_CONF=str(conf))
    ids, _ = faults.start_batch(world)
    wait_until(lambda: signed_count(ids) >= MIDWAY, timeout=SIGN_TIMEOUT, what="midway", stack=stack)
    tokens = conf.parent / "tokens"
    removed = conf.parent / "removed"
    tokens.rename(removed)

    # a web process whose token is gone (a token label it cannot find) says so
    lost = create_app(settings.with_(hsm_token_label=f"removed-{uuid.uuid4().hex[:6]}"))
    status, checks = _readiness(lost)
    assert status == 503 and checks["hsm"]["ok"] is False and checks["hsm"]["code"] == "hsm.unavailable"
    assert checks["database"]["ok"]

    wait_until(lambda: faults.settled(ids), timeout=SIGN_TIMEOUT, what="batch at rest", stack=stack)
    outcome = faults.assert_exactly_once(world, ids, allow_failed=True)
    assert outcome["signed"] >= MIDWAY and outcome["failed"] > 0, outcome
    codes = faults.failure_codes(ids)
    # the signer's key, or the dev TSA's key in the same token, when the token went away in between
    assert all(c.startswith("hsm.") or c == "signing.tsa_unavailable" for c in codes), codes

    removed.rename(tokens)  # the token is back: the same worker signs again, no restart
    _more_signing_works(world, start=5000)
    assert faults.assert_exactly_once(world, ids, allow_failed=True) == outcome


def test_document_store_disk_fills_up_mid_batch(stack: Stack, world: World, settings: Settings) -> None:
    """The document store is a real 256 MB tmpfs (200 transcripts and their signed
    revisions take ~50 MB); it is filled to the last byte mid-batch: signatures
    that cannot be stored fail with document.store_full (no half-written file), uploads answer 503,
    /readyz names the store; once space is freed, signing works again."""
    store_dir = settings.var_dir / "documents"
    try:
        mounted = tmpfs(store_dir, "256m")
        mounted.__enter__()
    except OSError as exc:
        pytest.skip(f"no tmpfs here: {exc}")
    try:
        stack.start_worker()
        ids, _ = faults.start_batch(world)
        wait_until(lambda: signed_count(ids) >= MIDWAY, timeout=SIGN_TIMEOUT, what="midway", stack=stack)
        ballast = fill(store_dir)

        status, checks = _readiness(stack.app)
        assert status == 503 and checks["documents"]["code"] == "document.store_full"
        refused = world.clerk.post(
            "/api/v1/documents",
            data={
                "files": [(faults.pdf_file(9999), "hs09999.pdf")],
                "manifest": faults.manifest(world, 9999),
            },
            content_type="multipart/form-data",
        )
        assert refused.status_code == 503, refused.get_json()
        assert refused.get_json()["code"] == "document.store_full"

        wait_until(lambda: faults.settled(ids), timeout=SIGN_TIMEOUT, what="batch at rest", stack=stack)
        outcome = faults.assert_exactly_once(world, ids, allow_failed=True)
        assert outcome["failed"] > 0 and outcome["signed"] >= MIDWAY, outcome
        assert set(faults.failure_codes(ids)) == {"document.store_full"}
        assert not list(store_dir.rglob(".tmp-*")), "a half-written file was left behind"

        ballast.unlink()
        assert _readiness(stack.app)[0] == 200
        _more_signing_works(world, start=6000)
        assert faults.assert_exactly_once(world, ids, allow_failed=True) == outcome
    finally:
        stack.stop_all()
        mounted.__exit__(None, None, None)
