"""Server-side sign-in verification under load: passkey assertions and TOTP codes.

A real gunicorn (the repository's ``gunicorn.conf.py``, 2 workers) on a free port and the run's
database; 50 concurrent clients, each with its own browser state (pre-auth cookie) and its own person.
A passkey round is ``POST /auth/passkey/options`` then ``POST /auth/passkey`` (timed: the verification);
a TOTP round is one ``POST /auth/totp`` (every person's code works once per time step, so each round
uses a different person). Rate limits are switched off for the run (``AUTH_RATE_LIMIT=off``).

Figures: ``auth.passkey_verify.p50_ms``/``p95_ms``/``rps`` and ``auth.totp_verify.p50_ms``/``p95_ms``/
``rps`` (rps = verification requests completed per second of the phase, all clients together).
``auth.passkey_verify.single_client_p50_ms`` is the same request with one client (no queueing).
``auth.http_floor.healthz_rps``/``healthz_p95_ms``: the same server and 50 clients asking
``GET /healthz``, which does nothing: what this machine's HTTP stack (gunicorn, Flask, the app's
request hooks, the Python clients) gives before any sign-in work.
Target: p95 < 50 ms. By Little's law 50 clients in a closed loop see p50 ≈ 50 / throughput, so the
target needs ~1000 verifications per second from the 2 workers.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyotp

from tests.benchmarks.common import BenchContext, median, percentile
from tests.support.webauthn import SoftAuthenticator, StoredCredential

CLIENTS = int(os.environ.get("BENCH_AUTH_CLIENTS", "50"))
ROUNDS = int(os.environ.get("BENCH_AUTH_ROUNDS", "20"))  # per client and phase
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Seeded:
    passkey_people: list[tuple[SoftAuthenticator, StoredCredential]] = field(default_factory=list)
    totp_people: list[tuple[str, str]] = field(default_factory=list)  # (username, secret)


def _seed(ctx: BenchContext, origin: str) -> Seeded:
    from app import create_app, db
    from app.auth import crypto
    from app.auth.models import Passkey, TotpFactor
    from app.people.models import Person, RoleAssignment
    from app.people.rules import TEACHER
    from app.tenants.models import SCHOOL, Organisation

    seeded = Seeded()
    app = create_app(ctx.settings)
    with app.app_context(), db.transaction() as s:
        school = Organisation(kind=SCHOOL, code="BENCH-AUTH", name="Trường Bench Auth", policy={})
        s.add(school)
        s.flush()

        def person(username: str) -> Person:
            row = Person(
                tenant_id=school.id,
                organisation_id=school.id,
                display_name=f"Giáo viên {username}",
                username=username,
                webauthn_user_id=crypto.random_token(32),
            )
            row.roles = [RoleAssignment(organisation_id=school.id, tenant_id=school.id, role=TEACHER)]
            s.add(row)
            s.flush()
            return row

        for n in range(CLIENTS):
            owner = person(f"bench-passkey-{n}")
            authenticator = SoftAuthenticator(origin=origin)
            credential = authenticator.add_credential(
                rp_id=ctx.settings.rp_id, user_handle=owner.webauthn_user_id
            )
            s.add(
                Passkey(
                    person_id=owner.id,
                    tenant_id=school.id,
                    credential_id=credential.b64_id,
                    public_key=authenticator.cose_public_key(credential),
                    sign_count=0,
                    name="bench",
                    backed_up=False,
                )
            )
            seeded.passkey_people.append((authenticator, credential))
        for n in range(CLIENTS * ROUNDS):
            owner = person(f"bench-totp-{n}")
            secret = pyotp.random_base32()
            s.add(
                TotpFactor(
                    person_id=owner.id,
                    tenant_id=school.id,
                    secret_encrypted=crypto.encrypt(ctx.settings, secret),
                )
            )
            seeded.totp_people.append((owner.username, secret))
    app.extensions["signet.db"].dispose()
    return seeded


def _start_gunicorn(ctx: BenchContext, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SIGNET_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "PUBLIC_BASE_URL": f"http://localhost:{port}",
        "WEBAUTHN_RP_ID": ctx.settings.rp_id,
        "AUTH_RATE_LIMIT": "off",
        "LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


class Client:
    """One browser: a keep-alive connection and its cookies."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.host = f"localhost:{port}"

    def get(self, path: str) -> int:
        self.conn.request("GET", path, headers={"Host": self.host})
        response = self.conn.getresponse()
        response.read()
        return response.status

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        headers = {"Host": self.host, "Content-Type": "application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        payload = json.dumps(body or {})
        try:
            self.conn.request("POST", path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.conn.close()  # the server closed an idle keep-alive connection: open a new one
            self.conn.request("POST", path, body=payload, headers=headers)
            response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return response.status, (json.loads(data) if data else {})


def _run_phase(worker: Any, clients: int, rounds: int = ROUNDS) -> tuple[list[float], int, float]:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def body(index: int) -> None:
        barrier.wait()
        for _ in range(rounds):
            ok, elapsed = worker(index)
            latencies[index].append(elapsed)
            errors[index] += 0 if ok else 1

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return [x for per in latencies for x in per], sum(errors), wall


def run(ctx: BenchContext) -> dict[str, float]:
    port = _free_port()
    origin = f"http://localhost:{port}"
    seeded = _seed(ctx, origin)
    log = ctx.var_dir / "bench-auth-gunicorn.log"
    server = _start_gunicorn(ctx, port, log)
    try:
        browsers = [Client(port) for _ in range(CLIENTS)]

        def passkey_round(index: int) -> tuple[bool, float]:
            browser = browsers[index]
            authenticator, credential = seeded.passkey_people[index]
            status, options = browser.post("/api/v1/auth/passkey/options")
            assertion = authenticator.get(options["publicKey"], credential=credential)
            started = time.perf_counter()
            status, _ = browser.post("/api/v1/auth/passkey", {"credential": assertion})
            elapsed = time.perf_counter() - started
            browser.cookies.pop("signet_session", None)
            browser.cookies.pop("signet_csrf", None)
            return status == 200, elapsed

        totp_next = iter(range(len(seeded.totp_people)))
        lock = threading.Lock()

        def totp_round(index: int) -> tuple[bool, float]:
            with lock:
                username, secret = seeded.totp_people[next(totp_next)]
            code = pyotp.TOTP(secret).now()
            started = time.perf_counter()
            status, _ = browsers[index].post("/api/v1/auth/totp", {"username": username, "code": code})
            return status == 200, time.perf_counter() - started

        def healthz_round(index: int) -> tuple[bool, float]:
            started = time.perf_counter()
            status = browsers[index].get("/healthz")
            return status == 200, time.perf_counter() - started

        _run_phase(passkey_round, min(CLIENTS, 5))  # warm-up: imports, connections, caches
        # the floor: the same server, clients and machine answering a request that does nothing
        floor, floor_errors, floor_wall = _run_phase(healthz_round, CLIENTS, ROUNDS * 10)
        alone, _, _ = _run_phase(passkey_round, 1)  # the cost of one verification, without queueing
        passkey, passkey_errors, passkey_wall = _run_phase(passkey_round, CLIENTS)
        totp, totp_errors, totp_wall = _run_phase(totp_round, CLIENTS)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return {
        "auth.passkey_verify.p50_ms": median(passkey) * 1000,
        "auth.passkey_verify.p95_ms": percentile(passkey, 95) * 1000,
        "auth.passkey_verify.rps": len(passkey) / passkey_wall,
        "auth.passkey_verify.errors": float(passkey_errors),
        "auth.passkey_verify.single_client_p50_ms": median(alone) * 1000,
        "auth.totp_verify.p50_ms": median(totp) * 1000,
        "auth.totp_verify.p95_ms": percentile(totp, 95) * 1000,
        "auth.totp_verify.rps": len(totp) / totp_wall,
        "auth.totp_verify.errors": float(totp_errors),
        "auth.http_floor.healthz_rps": len(floor) / floor_wall,
        "auth.http_floor.healthz_p95_ms": percentile(floor, 95) * 1000,
        "auth.http_floor.errors": float(floor_errors),
    }
