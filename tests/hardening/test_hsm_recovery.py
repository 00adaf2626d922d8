"""A SoftHSM token that goes away and comes back: the adapter says "unavailable" (not "key not found")
while it is gone, ``status()`` notices, and the same process signs again once it is back.

Runs in a subprocess: SoftHSM reads SOFTHSM2_CONF once per process, and this test needs a token of
its own (moving the session's token away would break every other test)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.hsm

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import hashlib, os, sys
    from pathlib import Path

    base = Path(sys.argv[1])
    from app.keys.devtoken import ensure_dev_token

    conf, _ = ensure_dev_token(base, "recovery")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    from app.keys.hsm import KeyAlgorithm
    from app.keys.pkcs11 import Pkcs11Hsm
    from app.settings import _default_module

    pin = (base / "softhsm" / "user.pin").read_text().strip()
    hsm = Pkcs11Hsm(_default_module(), "recovery", pin)
    key = hsm.generate_keypair(algorithm=KeyAlgorithm.P256, label="k")
    digest = hashlib.sha256(b"transcript").digest()

    def attempt(name, call):
        try:
            call()
            print("RESULT", name, "ok")
        except Exception as exc:
            print("RESULT", name, getattr(exc, "code", type(exc).__name__))

    sign = lambda: hsm.sign_digest(key_id=key.key_id, digest=digest)
    attempt("before", sign)
    tokens = base / "softhsm" / "tokens"
    tokens.rename(base / "softhsm" / "away")
    attempt("gone-sign", sign)
    attempt("gone-status", hsm.status)
    attempt("gone-sign-again", sign)
    (base / "softhsm" / "away").rename(tokens)
    attempt("back-sign", sign)
    attempt("back-status", hsm.status)
    attempt("back-find-other", lambda: hsm.find("00" * 16))
    """
)


def test_token_removed_then_back_the_same_process_recovers(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "var")],
        cwd=ROOT,
        env={**env, "LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ")[1:3] for line in done.stdout.splitlines() if line.startswith("RESULT "))
    assert lines == {
        "before": "ok",
        # while it is gone: the token is unavailable (a 503 upstream), never "that key does not exist"
        "gone-sign": "hsm.unavailable",
        "gone-status": "hsm.unavailable",
        "gone-sign-again": "hsm.unavailable",
        # back: the same process signs again, without a restart
        "back-sign": "ok",
        "back-status": "ok",
        # and a key that really is not there is still "not found"
        "back-find-other": "hsm.key_not_found",
    }, done.stdout + done.stderr[-2000:]
