"""The verification QR is drawn before the first signature, survives signing, and decodes to its URL."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from app.keys.hsm import KeyAlgorithm
from app.signing.pdf import QrPlacement, add_verification_qr, sign_pdf, signed_revisions, verify_pdf
from app.signing.reports import Level
from tests.fixtures.pki import MemoryPki
from tests.unit.test_signing_engine import DEPUTY, TEACHER, simple_pdf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs"
URL = "http://localhost:5000/v/Zq3x-9kW1bYtL0aPq7RsUvWxYz012345"


def decode_qr(pdf: bytes, tmp_path: Path, page: int) -> list[str]:
    """Render one page (pdftoppm) and read every QR on it (zbarimg), as a phone camera would."""
    if not (shutil.which("pdftoppm") and shutil.which("zbarimg")):
        pytest.fail("pdftoppm/zbarimg missing: apt-get install poppler-utils zbar-tools")
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    pages = ["-r", "110", "-f", str(page), "-l", str(page)]
    subprocess.run(["pdftoppm", "-png", *pages, "-singlefile", source, tmp_path / "p"], check=True)
    done = subprocess.run(["zbarimg", "--raw", "-q", tmp_path / "p.png"], capture_output=True, text=True)
    return [line for line in done.stdout.splitlines() if line]


def test_qr_survives_three_signatures_and_decodes_to_the_url(tmp_path: Path) -> None:
    pki = MemoryPki.create()
    tsa = pki.tsa()
    doc = add_verification_qr(simple_pdf(), url=URL)
    signers = [
        (pki.credential("Nguyễn Thị Hồng Vân"), TEACHER),
        (pki.credential("Trần Văn Bình", KeyAlgorithm.P256), DEPUTY),
        (pki.credential("Trường THPT Chu Văn An"), None),
    ]
    doc = pki.sign_in_turn(doc, signers, tsa)
    assert verify_pdf(doc, trust_roots=[pki.root_der]).valid
    assert decode_qr(doc, tmp_path, page=2) == [URL]  # the last page, beside the stamps


def test_qr_on_the_first_page_of_pdfs_from_other_producers(tmp_path: Path) -> None:
    for name in ("transcript_ghostscript.pdf", "transcript_objstreams.pdf", "transcript_linearized.pdf"):
        original = (FIXTURES / name).read_bytes()
        out = add_verification_qr(original, url=URL, placement=QrPlacement(page=0, box=(450, 700, 560, 800)))
        assert out.startswith(original), "an incremental update: the original bytes stay untouched"
        assert decode_qr(out, tmp_path, page=1) == [URL], name


def test_signed_revisions_name_what_each_signature_covers() -> None:
    pki = MemoryPki.create()
    unsigned = add_verification_qr(simple_pdf(), url=URL)
    first = sign_pdf(unsigned, material=pki.credential("Nguyễn Thị Hồng Vân"), hsm=pki.hsm, level=Level.BB)
    second = sign_pdf(first, material=pki.credential("Trường THPT"), hsm=pki.hsm, level=Level.BB)
    appended = second + b"\n% appended after signing\n"
    revisions = signed_revisions(appended)
    assert [r.sha256 for r in revisions] == [hashlib.sha256(d).hexdigest() for d in (first, second)]
    assert [r.covers_whole_file for r in revisions] == [False, False]
    assert signed_revisions(second)[-1].covers_whole_file
    cert = revisions[0].certificate
    assert cert is not None
    assert cert.common_name == "Nguyễn Thị Hồng Vân" and "Signet Test Root CA" in cert.issuer
    assert not cert.self_signed and cert.not_before < cert.not_after
    assert signed_revisions(simple_pdf()) == ()
