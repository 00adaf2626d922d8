"""Verification of a three-signature transcript (one core, no network revocation checks) and
``flask audit verify`` over a million audit records.

Figures:
- ``verify.reports_per_s.1proc``: ``POST /api/v1/verify``'s service on the same genuine transcript,
  as parents and universities check the file they were given (the validation is remembered per file
  hash, so this is the steady state: hash, cache, database match);
- ``verify.cold_reports_per_s.1proc``: the same with the cache emptied before every call — a full
  pyHanko validation of three signatures and their timestamps each time;
- ``audit.verify_1m.seconds``: ``flask audit verify`` (chain + checkpoints) over 1,000,000 records,
  bulk-inserted as a valid chain first (``BENCH_AUDIT_RECORDS`` overrides the count).
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, update

from tests.benchmarks.common import BenchContext

SECONDS = float(os.environ.get("BENCH_VERIFY_SECONDS", "5"))


def _three_signature_transcript() -> bytes:
    from app.keys.hsm import KeyAlgorithm
    from app.keys.provider import get_hsm
    from app.keys.service import create_credential, signing_material, tsa_respond
    from app.signing.pdf import add_verification_qr, sign_pdf
    from app.signing.reports import Level
    from app.signing.stamps import Stamp, placement_for
    from tests.support.workflow_world import transcript_pdf

    doc = add_verification_qr(transcript_pdf("Hoc sinh 1", "HS00001"), url="http://localhost:8000/v/bench")
    signers = [
        ("Nguyễn Thị Hồng Vân", "GIÁO VIÊN CHỦ NHIỆM"),
        ("Trần Văn Bình", "HIỆU TRƯỞNG"),
        ("Trường Tiểu học", None),
    ]
    for n, (name, role) in enumerate(signers):
        credential = create_credential(owner_kind="person", owner_name=name, algorithm=KeyAlgorithm.P256)
        material = signing_material(credential.id)
        stamp = Stamp(name, role, date(2024, 8, 12)) if role else None
        doc = sign_pdf(
            doc,
            material=material,
            hsm=get_hsm(),
            level=Level.BT,
            tsa=tsa_respond,
            stamp=stamp,
            placement=placement_for("transcript", n),
        )
    return doc


def _rate(fn: Any, seconds: float = SECONDS) -> float:
    fn()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        done += 1
    return done / (time.perf_counter() - started)


def _bulk_chain(count: int) -> None:
    """A valid chain of ``count`` records, hashed here and inserted in large batches (no ORM objects)."""
    from app.audit.models import GENESIS_HASH, AuditEvent, AuditHead
    from app.audit.service import _canonical, iso
    from app.db import new_id, transaction, utcnow

    start = utcnow() - timedelta(days=30)
    prev = GENESIS_HASH
    batch: list[dict[str, Any]] = []
    table = AuditEvent.__table__
    tenants = [new_id() for _ in range(20)]
    with transaction() as s:
        for seq in range(1, count + 1):
            row = {
                "seq": seq,
                "id": new_id(),
                "occurred_at": start + timedelta(milliseconds=seq),
                "tenant_id": tenants[seq % 20],
                "actor_id": tenants[(seq * 7) % 20],
                "action": "signature.created" if seq % 3 else "auth.sign_in",
                "outcome": "success",
                "target_type": "document",
                "target_id": f"doc-{seq // 3}",
                "details": {
                    "step": seq % 3 + 1,
                    "sha256_after": hashlib.sha256(str(seq).encode()).hexdigest(),
                },
                "prev_hash": prev,
            }
            fields = list(row.values())
            fields[2] = iso(row["occurred_at"])
            row["hash"] = prev = hashlib.sha256(_canonical(*fields)).hexdigest()
            batch.append(row)
            if len(batch) == 20_000:
                s.execute(insert(table), batch)
                batch.clear()
        if batch:
            s.execute(insert(table), batch)
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=count, hash=prev))


def run(ctx: BenchContext) -> dict[str, float]:
    from app import create_app
    from app.verify import service

    figures: dict[str, float] = {}
    app = create_app(ctx.settings)
    with app.app_context():
        transcript = _three_signature_transcript()
        checked = service.check_pdf(transcript)
        assert checked["verdict"]["code"] == "verify.not_issued_here", checked[
            "verdict"
        ]  # valid, not a row here
        assert len(checked["signatures"]) == 3
        figures["verify.reports_per_s.1proc"] = _rate(lambda: service.check_pdf(transcript))

        def cold() -> None:
            service._reports.clear()
            service.check_pdf(transcript)

        figures["verify.cold_reports_per_s.1proc"] = _rate(cold)

        count = int(os.environ.get("BENCH_AUDIT_RECORDS", "1000000"))
        started = time.perf_counter()
        _bulk_chain(count)
        figures["audit.bulk_insert.seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["audit", "verify"])
        elapsed = time.perf_counter() - started
        assert result.exit_code == 0 and f"{count} records" in result.output, result.output
        figures["audit.verify_1m.seconds" if count == 1_000_000 else f"audit.verify_{count}.seconds"] = (
            elapsed
        )
    return figures
