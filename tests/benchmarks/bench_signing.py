"""Signing throughput: the realistic 2-page transcript, RSA-2048 in SoftHSM, visible stamp on.

B-B and B-T (the dev TSA, whose key is in the same HSM: two HSM signatures per B-T document), in one
process and in two (spawned, each with its own PKCS#11 session, started together on a barrier).
Ratios are to the raw HSM rate measured here, with the same key, right before and right after each
batch (their mean): on a shared machine the load changes within a minute, and a raw rate taken
earlier in the run (``bench_hsm``, also reported) made the ratios swing both ways.
A sample of every batch is verified: a fast wrong answer is not a figure.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from tests.benchmarks.common import BenchContext

DOCS = int(os.environ.get("BENCH_SIGN_DOCS", "500"))
TRANSCRIPT = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs" / "transcript_reportlab.pdf"


def _sign_batch(credential_id: str, level: str, count: int) -> tuple[float, list[bytes]]:
    """Sign ``count`` copies inside an app context; returns (seconds, a few outputs to verify)."""
    from app.keys import service
    from app.keys.provider import get_hsm
    from app.signing.pdf import sign_pdf
    from app.signing.reports import Level
    from app.signing.stamps import Stamp, placement_for

    pdf = TRANSCRIPT.read_bytes()
    material = service.signing_material(credential_id)
    hsm = get_hsm()
    stamp = Stamp("Nguyễn Thị Hồng Vân", "GIÁO VIÊN CHỦ NHIỆM", date(2024, 8, 12))
    kwargs: dict[str, Any] = {
        "material": material,
        "hsm": hsm,
        "level": Level(level),
        "tsa": service.tsa_respond,
        "stamp": stamp,
        "placement": placement_for("transcript", 0),
    }
    for _ in range(3):  # warm-up: stamp typeset, certificates parsed, TSA token size known
        sign_pdf(pdf, **kwargs)
    samples = []
    started = time.perf_counter()
    for n in range(count):
        out = sign_pdf(pdf, **kwargs)
        if n % max(1, count // 4) == 0:
            samples.append(out)
    return time.perf_counter() - started, samples


def _worker(credential_id: str, level: str, count: int, barrier: Any, results: Any) -> None:
    from app import create_app

    app = create_app()
    with app.app_context():
        from app.keys.provider import get_hsm

        get_hsm().status()
        _sign_batch(credential_id, level, 3)
        barrier.wait()
        started = time.perf_counter()
        _, samples = _sign_batch(credential_id, level, count)
        results.put((time.perf_counter() - started, samples[:1]))


def _two_processes(credential_id: str, level: str) -> tuple[float, list[bytes]]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(credential_id, level, DOCS // 2, barrier, results))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return max(o[0] for o in outcomes), [s for o in outcomes for s in o[1]]


def _raw_rate(key_id: str, count: int = 2000) -> float:
    from app.keys.provider import get_hsm

    hsm = get_hsm()
    digest = bytes(32)
    started = time.perf_counter()
    for _ in range(count):
        hsm.sign_digest(key_id=key_id, digest=digest)
    return count / (time.perf_counter() - started)


def run(ctx: BenchContext) -> dict[str, float]:
    from app import create_app
    from app.keys import service
    from app.signing.pdf import verify_pdf

    app = create_app(ctx.settings)
    figures: dict[str, float] = {}
    with app.app_context():
        credential = service.create_credential(owner_kind="person", owner_name="Nguyễn Thị Hồng Vân")
        roots = service.trust_roots()
        if "hsm.rsa2048.signs_per_s.1proc" in ctx.figures:
            figures["sign.raw_hsm.signs_per_s.1proc"] = ctx.figures["hsm.rsa2048.signs_per_s.1proc"]

        def check(samples: list[bytes]) -> None:
            for out in samples:
                report = verify_pdf(out, trust_roots=roots)
                if not report.valid:
                    raise AssertionError(f"benchmark output does not verify: {report.to_dict()}")

        for level, key in (("B-B", "bb"), ("B-T", "bt")):
            before = _raw_rate(credential.hsm_key_id, 1000)
            seconds, samples = _sign_batch(credential.id, level, DOCS)
            after = _raw_rate(credential.hsm_key_id, 1000)
            check(samples)
            raw = (before + after) / 2
            figures[f"sign.{key}.raw_hsm.signs_per_s.1proc"] = raw
            figures[f"sign.{key}.docs_per_s.1proc"] = DOCS / seconds
            figures[f"sign.{key}.ratio_to_raw"] = DOCS / seconds / raw
    for level, key in (("B-B", "bb"), ("B-T", "bt")):
        seconds, samples = _two_processes(credential.id, level)
        with app.app_context():
            check(samples)
        figures[f"sign.{key}.docs_per_s.2proc"] = (DOCS // 2) * 2 / seconds
    return figures
