"""Raw signing rate of SoftHSM through our ``Pkcs11Hsm``: the ceiling every signing path sits under.

1 process (one session, key handle cached) and 2 processes (``spawn``, a session each), RSA-2048;
P-256 in one process.  Each measurement signs in a loop for at least ``SECONDS``.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time

from app.keys.hsm import KeyAlgorithm
from app.keys.pkcs11 import Pkcs11Hsm
from tests.benchmarks.common import BenchContext

SECONDS = 2.0


def _rate(module: str, label: str, pin: str, key_id: str, seconds: float, start_at: float = 0.0) -> float:
    """Signatures per second of one session signing one key for ``seconds`` (after a warm-up)."""
    hsm = Pkcs11Hsm(module, label, pin)
    digest = hashlib.sha256(b"bench").digest()
    hsm.sign_digest(key_id=key_id, digest=digest)  # log in, cache the handle
    while time.time() < start_at:  # processes start measuring together
        time.sleep(0.001)
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for _ in range(20):
            hsm.sign_digest(key_id=key_id, digest=digest)
        count += 20
    return count / (time.perf_counter() - started)


def run(ctx: BenchContext) -> dict[str, float]:
    settings = ctx.settings
    pin = settings.hsm_user_pin or ""
    hsm = Pkcs11Hsm(settings.pkcs11_module, settings.hsm_token_label, pin)
    rsa = hsm.generate_keypair(algorithm=KeyAlgorithm.RSA2048, label="bench-rsa2048")
    p256 = hsm.generate_keypair(algorithm=KeyAlgorithm.P256, label="bench-p256")
    try:
        args = (settings.pkcs11_module, settings.hsm_token_label, pin)
        one = _rate(*args, rsa.key_id, SECONDS)
        ec_one = _rate(*args, p256.key_id, SECONDS)
        spawn = multiprocessing.get_context("spawn")
        env_conf = os.environ.get("SOFTHSM2_CONF")  # inherited by the children: same token directory
        assert env_conf, "BenchContext sets SOFTHSM2_CONF"
        start_at = time.time() + 3.0  # after both children have imported and logged in
        with spawn.Pool(2) as pool:
            rates = pool.starmap(_rate, [(*args, rsa.key_id, SECONDS, start_at)] * 2)
        two = sum(rates)
    finally:
        hsm.destroy(rsa.key_id)
        hsm.destroy(p256.key_id)
    return {
        "hsm.rsa2048.signs_per_s.1proc": one,
        "hsm.rsa2048.signs_per_s.2proc": two,
        "hsm.p256.signs_per_s.1proc": ec_one,
    }
