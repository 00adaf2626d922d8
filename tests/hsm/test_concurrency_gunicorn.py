"""Acceptance: real gunicorn (2 workers x 4 gthreads) signing 40 PDFs at once through SoftHSM.

Every answer must be a PDF whose signature verifies, and the server log must show no PKCS#11
session trouble (one logged-in session per worker, shared by its threads behind the adapter's lock).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask

from app.keys import service
from app.settings import Settings
from app.signing.pdf import verify_pdf

pytestmark = [pytest.mark.hsm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPT = ROOT / "tests" / "fixtures" / "pdfs" / "transcript_reportlab.pdf"
LOG_TROUBLE = re.compile(
    r"CKR_|PKCS11Error|SessionHandleInvalid|UserAlreadyLoggedIn|UserNotLoggedIn|Traceback|segfault"
    r"|Worker \(pid:\d+\) was sent|WORKER TIMEOUT|\[error",
    re.I,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("gunicorn exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("gunicorn did not become ready")


def test_forty_concurrent_signatures_all_verify(app: Flask, settings: Settings, tmp_path: Path) -> None:
    teacher = service.create_credential(owner_kind="person", owner_name="Nguyễn Thị Hồng Vân")
    seal = service.create_credential(
        owner_kind="organisation", owner_name="Trường THPT Chu Văn An", purpose="seal"
    )
    roots = service.trust_roots()
    port = free_port()
    env = {
        **os.environ,
        "SIGNET_ENV": "test",
        "SIGNET_VAR_DIR": str(settings.var_dir),
        "DATABASE_URL": settings.database_url,
        "HSM_TOKEN_LABEL": settings.hsm_token_label,
        "HSM_USER_PIN": settings.hsm_user_pin or "",
        "CELERY_ALWAYS_EAGER": "true",
        "CELERY_BROKER_URL": "memory://",
        "WEB_CONCURRENCY": "2",
        "SIGNET_THREADS": "4",
        "LOG_LEVEL": "WARNING",
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "tests.hsm.concurrency_app:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(f"{base}/healthz", proc)
            pdf = TRANSCRIPT.read_bytes()

            def post(n: int) -> bytes:
                who = teacher if n % 2 == 0 else seal
                level = "B-T" if n % 4 < 2 else "B-B"
                query = f"credential={who.id}&level={level}&step={n % 2}&name={quote(who.owner_name)}"
                url = f"{base}/_test/sign?{query}"
                req = urllib.request.Request(url, data=pdf, headers={"Content-Type": "application/pdf"})
                with urllib.request.urlopen(req, timeout=120) as resp:
                    assert resp.status == 200
                    body: bytes = resp.read()
                    return body

            with ThreadPoolExecutor(max_workers=20) as pool:
                outputs = list(pool.map(post, range(40)))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert len(outputs) == 40
    levels = []
    for out in outputs:
        report = verify_pdf(out, trust_roots=roots)
        assert report.valid, report.to_dict()
        levels.append(report.signatures[0].level)
    assert levels.count("B-T") == 20 and levels.count("B-B") == 20
    lines = log_path.read_text(errors="replace").splitlines()
    assert [line for line in lines if LOG_TROUBLE.search(line)] == []
    # one logged-in PKCS#11 session per worker process, shared by its four threads
    assert sum("hsm_session_opened" in line for line in lines) == 2
