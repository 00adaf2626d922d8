"""Verification of a three-signature transcript (one core, no network revocation checks) and
``flask audit verify`` over a million audit records.

Figures:
- ``verify.reports_per_s.1proc`` (issue 6: >= 50): ``POST /api/v1/verify``'s service on genuine
  three-signature B-T transcripts (QR code, three visible stamps, three timestamps; eight of them,
  in turn) with the report cache emptied before every call, i.e. a file the process has not seen:
  one parse, pyHanko's full validation of each signature, its timestamp and the revisions after it,
  then the database match;
- ``verify.cpu_ms_per_report.1proc``: the same, in CPU milliseconds per report (process time, so a
  busy machine inflates it less than the wall-clock rate above);
- ``verify.unseen_certificates.reports_per_s.1proc``: the same, signed by certificates the process
  has not met either (what it keeps by DER, parsed certificates and X.509 name work, forgotten
  before every call): a district's verification service meets the same CA, TSA and teachers'
  certificates in file after file, so the figure above is the usual case, this one the first file;
- ``verify.cached_reports_per_s.1proc``: the same file again while its validation is remembered
  (``service._reports``, per file hash and trust roots): hash, cache, database match;
- ``audit.verify_1m.seconds``: ``flask audit verify`` (chain + checkpoints) over 1,000,000 records,
  the chain the transcript's credentials started continued as valid bulk-inserted records first
  (``BENCH_AUDIT_RECORDS`` overrides the count).

Where a cold report's time went, and what was done about it (app/signing/pdf.py, "verification"
and "verification fast paths"):
it was ≈ 0.2 s of CPU (1–4 reports/s, depending on the load), most of it waste: pyHanko reads a
signature's /Contents (~13,000 hex digits) one byte at a time, tens of ms per signature dictionary,
and the file was parsed twice (``verify_pdf``, then ``signed_revisions``); asn1crypto re-ran RFC 4518
string preparation for every comparison of freshly parsed certificate names; each signature got a new
event loop and its trust roots and DSS CRLs parsed again.  No time went to the network (fetching is
off) or to the database (≈ 1 ms).  That left ≈ 60–80 ms of CPU (12–16 reports/s): pyHanko's
difference analysis of the revisions after each signature (≈ 45 %, mostly reading PDF objects a
byte at a time and copying them into each revision's view), the CMS, certificate-path and timestamp
checks of three signatures and three tokens (≈ 40 %, asn1crypto and pyhanko_certvalidator), and the
garbage collector (≈ 7 ms a report, most of it full collections of the app's heap).  Then, each
measured (callgrind instructions per report of the validation alone, which the load does not move):
215 M → 180 M reading objects with one regular expression per token instead of a byte at a time;
→ 170 M copying objects into a revision's view without a reference per leaf; → 155 M remembering
X.509 name comparisons and keys by DER (the signing-certificate checks compare the same few names
dozens of times); → 149 M validating the TSA's certificate path once per report instead of once per
token (a memo keyed by the certificate, every candidate certificate and the usage; each signature
still has a context of its own).  The collector, paused during a validation and spared the
reader's object cycle after it: 7.1 → 0.4 ms a report (gc callbacks); freezing the app's heap
(``gc.freeze``) saved nothing more and was left out.  Sharing the difference analysis between
signatures is not possible: pyHanko compares the signed revision with each later one (signature 1
with revisions 3 and 4, signature 2 with 4: different questions), and the parsed revisions it
already shares; the one repeated search (orphaned objects of the last revision) was 0.1 %.

Measured on 2026-11-23 on this 2-vCPU machine while another session's tests kept one or both
vCPUs busy (load average 2–3.5), so in alternating bench runs of the code before and after:
before 11.6–21.8 reports/s (46–73 ms CPU a report), after 19–33 reports/s (29–50 ms CPU); and,
unmoved by the load, callgrind on the whole ``check_pdf`` in the app (collector included): 236 M
instructions a cold report before, 143 M after.  What remains (≈ 30 ms of CPU at best) is spread
thin: the difference analysis (≈ 30 %: two walks of the whole object graph, for the revisions
signed by signatures 1 and 2, and the rules), the three signers' path validations (≈ 9 %), the
tokens' CMS checks (≈ 15 %), the signatures' CMS checks (≈ 10 %), opening the file (≈ 6 %).  No
single item left is worth more than a few per cent: 50 a second (20 ms) would take changes inside
pyHanko's and asn1crypto's own code paths, not more shortcuts around them.

Then (callgrind on ``check_signatures`` alone, five cold reports after a warm one, the instructions
per report): 135 M → 125 M, difference analysis's two walks of a revision's object graph without a
call per leaf (a font's widths array is hundreds of numbers; the walks now visit containers and
references only); → 109 M, a CMS value's certificates taken out once and each certificate parsed
once per DER encoding (pyHanko deep-copied and re-parsed them for each of its nine questions a
report, though the CA's certificate is in all six CMS values and the TSA's in three); → 107 M,
arrays of integers read in one go.  Where the rest goes (removing parts under callgrind): opening the
file and finding its signatures 11 M; difference analysis ≈ 55 M, of which ≈ 37 M is reading,
copying into each revision's view and walking every object of the two revisions that later ones
follow (48 objects parsed, fonts and all: the walk exists to answer "by which paths is this changed
object reachable", which pyHanko computes for the whole graph); the six CMS checks, four path
validations and the report ≈ 41 M.  Tried and not kept, each measured: remembering the
signing-certificate (ESS) check per pair, remembering the orphan search per revision, and copying
leaves without a call (each within callgrind's noise, ±1 M); and a path walk that reused, between
the two revisions, the answers for subgraphs that did not change (fonts, pages' resources): the walk
alone went from 48 M to 39 M but the report did not move, as the rules then read the same objects
into the later revision's view anyway.  What is left is reading objects, not walking them.

Then (2026-11-23, CPU time a report, best of three runs of 300 reports, host at rest; py-spy to find
where): the bench validated the same file over and over, which ran 7 % faster than different files
(processor caches, and nothing else the code keeps: the certificates are the same either way), so it
now cycles through eight transcripts of one class, signed by the same teacher, principal and seal:
19.95 ms a report.  → 18.44 ms, a signing-certificate (ESS) attribute checked against its
certificate once (pyHanko asked two or three times a CMS value, hashing the certificate each time);
→ 18.05 ms, the database match in one statement built once (two ORM queries cost 1.5 ms right after
a validation has been through the caches, 0.3 ms warm); → 16.1 ms, the development CA's certificate
read once per application instead of a query and a commit per verification (production reads its
roots from ``TRUST_ROOTS_FILE`` at start-up, so it never paid this).  ``make bench``: 63 reports/s.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, update

from tests.benchmarks.common import BenchContext

SECONDS = float(os.environ.get("BENCH_VERIFY_SECONDS", "5"))
TRANSCRIPTS = 8  # different files, validated in turn


def _three_signature_transcripts(count: int) -> list[bytes]:
    """``count`` transcripts of different students of one class, each signed by the same homeroom
    teacher, principal and school seal (B-T, visible stamps, QR code): as a school issues them."""
    from app.keys.hsm import KeyAlgorithm
    from app.keys.service import create_credential, signing_material
    from app.signing.pdf import add_verification_qr
    from app.signing.stamps import Stamp
    from tests.support.workflow_world import sign_in_turn, transcript_pdf

    signers = [
        ("Nguyễn Thị Hồng Vân", "GIÁO VIÊN CHỦ NHIỆM"),
        ("Trần Văn Bình", "HIỆU TRƯỞNG"),
        ("Trường Tiểu học", None),
    ]
    materials = [
        signing_material(
            create_credential(owner_kind="person", owner_name=name, algorithm=KeyAlgorithm.P256).id
        )
        for name, _ in signers
    ]
    stamps = [Stamp(name, role, date(2024, 8, 12)) if role else None for name, role in signers]
    transcripts = []
    for student in range(1, count + 1):
        doc = add_verification_qr(
            transcript_pdf(f"Hoc sinh {student}", f"HS{student:05d}"),
            url=f"http://localhost:8000/v/bench{student}",
        )
        transcripts.append(sign_in_turn(doc, list(zip(materials, stamps, strict=True))))
    return transcripts


def _rate(fn: Any, seconds: float = SECONDS) -> float:
    fn()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        done += 1
    return done / (time.perf_counter() - started)


def _bulk_chain(count: int) -> int:
    """The chain grown to ``count`` records (or left as it is if longer): valid records after the ones
    already there (creating the transcript's credentials wrote some), hashed here and inserted in large
    batches (no ORM objects).  Returns the chain's length."""
    from app.audit.models import GENESIS_HASH, AuditEvent, AuditHead
    from app.audit.service import _canonical, iso
    from app.db import new_id, transaction, utcnow

    start = utcnow() - timedelta(days=30)
    batch: list[dict[str, Any]] = []
    table = AuditEvent.__table__
    tenants = [new_id() for _ in range(20)]
    with transaction() as s:
        head = s.get(AuditHead, 1)
        first, prev = (head.seq + 1, head.hash) if head is not None else (1, GENESIS_HASH)
        count = max(count, first - 1)
        for seq in range(first, count + 1):
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
    return count


def _cpu_ms(fn: Any, seconds: float = SECONDS) -> float:
    fn()
    done, started = 0, time.process_time()
    while time.process_time() - started < seconds:
        fn()
        done += 1
    return (time.process_time() - started) / done * 1000


def run(ctx: BenchContext) -> dict[str, float]:
    from app import create_app
    from app.verify import service

    figures: dict[str, float] = {}
    app = create_app(ctx.settings)
    with app.app_context():
        transcripts = _three_signature_transcripts(TRANSCRIPTS)
        for transcript in transcripts:
            checked = service.check_pdf(transcript)
            assert checked["verdict"]["code"] == "verify.not_issued_here", checked[
                "verdict"
            ]  # valid, not a row here
            assert len(checked["signatures"]) == 3
            assert all(s["valid"] and s["level"] == "B-T" for s in checked["signatures"]), checked
        files = itertools.cycle(transcripts)

        def cold() -> None:
            # the next of the school's transcripts, its report forgotten: each call validates a file
            # that differs from the one before (what a report remembers of a file is not reused)
            service._reports.clear()
            service.check_pdf(next(files))

        def unseen_certificates() -> None:
            # a file signed by certificates the process has not met either: the parsed certificates
            # and X.509 name preparations, comparisons and keys it keeps by DER forgotten too
            from app.signing.pdf import forget_certificates

            forget_certificates()
            cold()

        figures["verify.reports_per_s.1proc"] = _rate(cold)
        figures["verify.cpu_ms_per_report.1proc"] = _cpu_ms(cold)
        figures["verify.unseen_certificates.reports_per_s.1proc"] = _rate(unseen_certificates)
        figures["verify.cached_reports_per_s.1proc"] = _rate(lambda: service.check_pdf(transcripts[0]))

        count = int(os.environ.get("BENCH_AUDIT_RECORDS", "1000000"))
        started = time.perf_counter()
        count = _bulk_chain(count)
        figures["audit.bulk_insert.seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        result = app.test_cli_runner().invoke(args=["audit", "verify"])
        elapsed = time.perf_counter() - started
        assert result.exit_code == 0 and f"{count} records" in result.output, result.output
        figures["audit.verify_1m.seconds" if count == 1_000_000 else f"audit.verify_{count}.seconds"] = (
            elapsed
        )
    return figures
