"""Real PDFs from several producers sign and validate; unsafe inputs are refused with their code."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from app.signing.errors import PdfError
from app.signing.inputs import write_atomically
from app.signing.pdf import inspect_pdf, sign_pdf, verify_pdf
from app.signing.reports import Level
from app.signing.stamps import Stamp
from tests.fixtures.pki import Material, MemoryPki, Tsa

PDFS = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs"
LIMIT = 20 * 1024 * 1024
PRODUCERS = [
    "transcript_reportlab.pdf",
    "transcript_ghostscript.pdf",
    "transcript_linearized.pdf",
    "transcript_objstreams.pdf",
    "form_fields.pdf",
]


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


@pytest.fixture(scope="module")
def tsa(pki: MemoryPki) -> Tsa:
    return pki.tsa()


@pytest.fixture(scope="module")
def teacher(pki: MemoryPki) -> Material:
    return pki.credential("Nguyễn Thị Hồng Vân")


def read(name: str) -> bytes:
    return (PDFS / name).read_bytes()


@pytest.mark.parametrize("name", PRODUCERS)
def test_every_producer_signs_and_validates(name: str, pki: MemoryPki, teacher: Material, tsa: Tsa) -> None:
    original = read(name)
    info = inspect_pdf(original, max_bytes=LIMIT)
    assert info.pages >= 1 and info.signature_count == 0
    stamp = Stamp("Nguyễn Thị Hồng Vân", "GIÁO VIÊN CHỦ NHIỆM", date(2024, 8, 12))
    signed = pki.sign_in_turn(original, [(teacher, stamp)], tsa)
    assert signed.startswith(original)  # an incremental revision: the original bytes are untouched
    report = verify_pdf(signed, trust_roots=[pki.root_der])
    assert report.valid, report.to_dict()
    assert inspect_pdf(signed, max_bytes=LIMIT).signature_count == 1


def test_another_producers_signature_stays_intact(pki: MemoryPki, teacher: Material, tsa: Tsa) -> None:
    signed = sign_pdf(read("already_signed.pdf"), material=teacher, hsm=pki.hsm, level=Level.BT, tsa=tsa)
    earlier, ours = verify_pdf(signed, trust_roots=[pki.root_der]).signatures
    assert earlier.field == "OtherSig" and earlier.intact and not earlier.trusted  # not our CA
    assert earlier.modified_after == "form filling or later signatures"
    assert ours.valid and ours.level == "B-T"


def _corrupt_xref() -> bytes:
    data = read("transcript_reportlab.pdf")
    start = data.rindex(b"\nxref\n") + 1
    return data[:start] + b"xref\n0 9999\nthis is not an xref table\n" + data[data.rindex(b"trailer") :]


def _deep_nesting() -> bytes:
    body = b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R /X " + b"[" * 100_000 + b"]" * 100_000 + b" >>\nendobj\n"
    pages = b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    head = b"%PDF-1.7\n"
    xref_at = len(head) + len(body) + len(pages)
    xref = b"xref\n0 3\n0000000000 65535 f \n%010d 00000 n \n%010d 00000 n \n" % (
        len(head),
        len(head) + len(body),
    )
    trailer = b"trailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return head + body + pages + xref + trailer


def _xref_cut_short() -> bytes:
    """A cross-reference table ending a few bytes before the end of the file: pyHanko 0.38's table
    reader stepped back and read again forever (a worker lost per upload, verification too)."""
    head = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    table = b"xref\n0 1\n0000000000 65535 f \n\n98128 0\r\nx"
    startxref = len(head) + len(b"startxref\n00\n%%EOF\n")
    return head + b"startxref\n%d\n%%%%EOF\n" % startxref + table


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        (b"", "pdf.empty", 422),
        (b" \n\t ", "pdf.empty", 422),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "pdf.not_pdf", 422),
        (b"Hello, this is a Word document", "pdf.not_pdf", 422),
        (read("transcript_reportlab.pdf")[:60_000], "pdf.truncated", 422),
        (b"%PDF-1.7\n" + b"garbage " * 200 + b"\nstartxref\n9\n%%EOF\n", "pdf.corrupt", 422),
        (_corrupt_xref(), "pdf.corrupt", 422),
        (_deep_nesting(), "pdf.corrupt", 422),
        (_xref_cut_short(), "pdf.corrupt", 422),
        (read("encrypted_user.pdf"), "pdf.encrypted", 422),
        (read("restricted_owner.pdf"), "pdf.changes_forbidden", 422),
        (read("certified_nochanges.pdf"), "pdf.changes_forbidden", 422),
    ],
    ids=[
        "empty",
        "blank",
        "png",
        "text",
        "truncated",
        "garbage",
        "bad-xref",
        "deep-nesting",
        "xref-cut-short",
        "encrypted",
        "owner-restricted",
        "docmdp-p1",
    ],
)
def test_unsafe_input_is_refused_with_its_code(
    data: bytes, code: str, status: int, pki: MemoryPki, teacher: Material
) -> None:
    with pytest.raises(PdfError) as inspected:
        inspect_pdf(data, max_bytes=LIMIT)
    assert (inspected.value.code, inspected.value.http_status) == (code, status)
    with pytest.raises(PdfError) as signing:
        sign_pdf(data, material=teacher, hsm=pki.hsm, level=Level.BB)
    assert signing.value.code == code
    if code == "pdf.corrupt":  # the public verification reads it too
        with pytest.raises(PdfError) as verifying:
            verify_pdf(data, trust_roots=[pki.root_der], max_bytes=LIMIT)
        assert verifying.value.code == code


def test_too_large_is_413(pki: MemoryPki, teacher: Material) -> None:
    data = read("transcript_reportlab.pdf")
    with pytest.raises(PdfError) as info:
        inspect_pdf(data, max_bytes=len(data) - 1)
    assert (info.value.code, info.value.http_status) == ("pdf.too_large", 413)


def test_random_damage_never_escapes_as_another_error() -> None:
    """Flip, cut and splice bytes: the answer is a clean PdfError or a readable PDF, never a crash."""
    original = read("transcript_objstreams.pdf")
    rnd = random.Random(2024)
    outcomes = set()
    for _ in range(60):
        data = bytearray(original)
        for _ in range(rnd.randint(1, 40)):
            pos = rnd.randrange(len(data))
            data[pos : pos + rnd.randint(1, 64)] = rnd.randbytes(rnd.randint(0, 64))
        try:
            inspect_pdf(bytes(data), max_bytes=LIMIT)
            outcomes.add("ok")
        except PdfError as exc:
            outcomes.add(exc.code)
    assert outcomes - {"ok"} <= {"pdf.corrupt", "pdf.truncated", "pdf.not_pdf"}


def test_output_files_are_replaced_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out.pdf"
    target.write_bytes(b"old")
    write_atomically(target, b"%PDF-new")
    assert target.read_bytes() == b"%PDF-new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]
