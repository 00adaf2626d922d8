"""The PAdES engine against an in-memory HSM, test CA and TSA (no SoftHSM needed)."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from reportlab.pdfgen import canvas

from app.keys.hsm import KeyAlgorithm
from app.signing import pdf as engine
from app.signing.errors import PdfChangesForbidden, SigningFailed, TimestampUnavailable
from app.signing.pdf import sign_pdf, verify_pdf
from app.signing.reports import Level, Revocation
from app.signing.stamps import Stamp, StampPlacement, placement_for
from tests.fixtures.pki import Material, MemoryPki, Tsa

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TEACHER = Stamp("Nguyễn Thị Hồng Vân", "GIÁO VIÊN CHỦ NHIỆM", date(2024, 8, 12))
DEPUTY = Stamp("Trần Văn Bình", "PHÓ HIỆU TRƯỞNG", date(2024, 8, 12), on_behalf="KT. HIỆU TRƯỞNG")


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


@pytest.fixture(scope="module")
def tsa(pki: MemoryPki) -> Tsa:
    return pki.tsa()


@pytest.fixture(scope="module")
def teacher(pki: MemoryPki) -> Material:
    return pki.credential("Nguyễn Thị Hồng Vân")


@pytest.fixture(scope="module")
def principal(pki: MemoryPki) -> Material:
    return pki.credential("Trần Văn Bình", KeyAlgorithm.P256)


@pytest.fixture(scope="module")
def seal(pki: MemoryPki) -> Material:
    return pki.credential("Trường THPT Chu Văn An")


def simple_pdf(text: str = "Bảng điểm lớp 12A1") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=0)
    c.drawString(72, 760, "HOC BA - page 1")
    c.showPage()
    c.drawString(72, 760, "SCORE 8.5 - page 2")
    c.save()
    return buf.getvalue()


def test_bb_signature_is_valid_and_untimestamped(pki: MemoryPki, teacher: Material) -> None:
    signed = sign_pdf(simple_pdf(), material=teacher, hsm=pki.hsm, level=Level.BB)
    report = verify_pdf(signed, trust_roots=[pki.root_der])
    assert report.valid
    (sig,) = report.signatures
    assert (sig.level, sig.signer, sig.timestamp_time) == ("B-B", "Nguyễn Thị Hồng Vân", None)
    assert sig.covers_whole_file and sig.modified_after is None


def test_bt_carries_a_tsa_timestamp(pki: MemoryPki, teacher: Material, tsa: Tsa) -> None:
    before = tsa.calls
    signed = sign_pdf(simple_pdf(), material=teacher, hsm=pki.hsm, level=Level.BT, tsa=tsa)
    (sig,) = verify_pdf(signed, trust_roots=[pki.root_der]).signatures
    assert sig.valid and sig.level == "B-T" and sig.timestamp_time is not None
    assert tsa.calls > before


def test_three_signers_each_revision_stays_valid(
    pki: MemoryPki, teacher: Material, principal: Material, seal: Material, tsa: Tsa
) -> None:
    doc = pki.sign_in_turn(simple_pdf(), [(teacher, TEACHER), (principal, DEPUTY), (seal, None)], tsa)
    report = verify_pdf(doc, trust_roots=[pki.root_der])
    assert report.valid
    assert [s.signer for s in report.signatures] == [
        "Nguyễn Thị Hồng Vân",
        "Trần Văn Bình",
        "Trường THPT Chu Văn An",
    ]
    assert [s.covers_whole_file for s in report.signatures] == [False, False, True]
    assert report.signatures[0].modified_after == "form filling or later signatures"


def test_blt_embeds_the_crl(pki: MemoryPki, seal: Material, tsa: Tsa) -> None:
    revocation = Revocation(trust_roots=(pki.root_der,), crls=(pki.crl_der(),))
    signed = sign_pdf(
        simple_pdf(), material=seal, hsm=pki.hsm, level=Level.BLT, tsa=tsa, revocation=revocation
    )
    (sig,) = verify_pdf(signed, trust_roots=[pki.root_der]).signatures
    assert sig.valid and sig.level == "B-LT" and sig.revocation_embedded
    assert b"/DSS" in signed and b"/CRLs" in signed


def test_a_byte_changed_after_signing_is_detected(pki: MemoryPki, teacher: Material) -> None:
    signed = sign_pdf(simple_pdf(), material=teacher, hsm=pki.hsm, level=Level.BB)
    assert signed.count(b"SCORE 8.5") == 1
    tampered = signed.replace(b"SCORE 8.5", b"SCORE 9.5")
    report = verify_pdf(tampered, trust_roots=[pki.root_der])
    assert not report.valid
    assert not report.signatures[0].intact


def test_an_untrusted_root_is_reported(pki: MemoryPki, teacher: Material) -> None:
    signed = sign_pdf(simple_pdf(), material=teacher, hsm=pki.hsm, level=Level.BB)
    other = MemoryPki.create("Someone Else's CA")
    (sig,) = verify_pdf(signed, trust_roots=[other.root_der]).signatures
    assert sig.intact and not sig.trusted and not sig.valid


def test_a_tsa_outage_fails_cleanly(pki: MemoryPki, teacher: Material) -> None:
    down = pki.tsa()
    down.down = True
    with pytest.raises(TimestampUnavailable) as info:
        sign_pdf(simple_pdf(), material=teacher, hsm=pki.hsm, level=Level.BT, tsa=down)
    assert info.value.code == "signing.tsa_unavailable"


def test_bt_without_a_tsa_is_refused(pki: MemoryPki, teacher: Material) -> None:
    with pytest.raises(SigningFailed):
        sign_pdf(simple_pdf(), material=teacher, hsm=pki.hsm, level=Level.BT, tsa=None)


def test_a_certified_no_changes_document_is_not_signed_again(
    pki: MemoryPki, teacher: Material, seal: Material
) -> None:
    certified = sign_pdf(simple_pdf(), material=seal, hsm=pki.hsm, level=Level.BB, certify_docmdp=1)
    assert verify_pdf(certified, trust_roots=[pki.root_der]).valid
    with pytest.raises(PdfChangesForbidden) as info:
        sign_pdf(certified, material=teacher, hsm=pki.hsm, level=Level.BB)
    assert info.value.code == "pdf.changes_forbidden"


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")
def test_the_stamp_shows_vietnamese_text(pki: MemoryPki, teacher: Material, principal: Material) -> None:
    doc = pki.sign_in_turn(simple_pdf(), [(teacher, TEACHER), (principal, DEPUTY)], None, Level.BB)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "stamp_unit.pdf"
    path.write_bytes(doc)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True).stdout.decode()
    for line in (*TEACHER.lines(), *DEPUTY.lines()):
        assert line in text
    assert "Ký bởi: Nguyễn Thị Hồng Vân" in text and "Ngày 12/08/2024" in text
    assert "KT. HIỆU TRƯỞNG" in text
    subprocess.run(
        ["pdftoppm", "-png", "-r", "100", "-f", "2", "-l", "2", str(path), str(ARTIFACTS / "stamp_unit")],
        check=True,
    )


def test_the_stamp_is_typeset_once(
    pki: MemoryPki, teacher: Material, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []
    real = engine._render_template

    def counting(lines: tuple[str, ...], width: float, height: float) -> bytes:
        calls.append(lines)
        return real(lines, width, height)

    monkeypatch.setattr(engine, "_render_template", counting)
    stamp = Stamp("Lê Thị Mai", "GIÁO VIÊN", date(2024, 5, 31))
    for _ in range(3):
        signed = sign_pdf(
            simple_pdf(),
            material=teacher,
            hsm=pki.hsm,
            level=Level.BB,
            stamp=stamp,
            placement=placement_for("transcript", 0),
        )
        assert verify_pdf(signed, trust_roots=[pki.root_der]).valid
    assert calls == [stamp.lines()]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")
def test_each_document_gets_its_own_stamp_from_the_caches(
    pki: MemoryPki, teacher: Material, principal: Material, tmp_path: Path
) -> None:
    """Stamps that differ in one field only (the date, the role, "KT.", the box) signed in turn, each
    twice, so that every appearance comes once fresh and once from the caches: each page shows its
    own text and none of another's, and every signature is valid."""
    base = Stamp("Lê Thị Mai", "GIÁO VIÊN", date(2024, 5, 31))
    deputy = Stamp("Lê Thị Mai", "GIÁO VIÊN", date(2024, 5, 31), "KT. HIỆU TRƯỞNG")
    stamps = [
        (base, placement_for("transcript", 0)),
        (Stamp("Lê Thị Mai", "GIÁO VIÊN", date(2024, 6, 1)), placement_for("transcript", 0)),
        (Stamp("Lê Thị Mai", "HIỆU TRƯỞNG", date(2024, 5, 31)), placement_for("transcript", 0)),
        (deputy, placement_for("transcript", 0)),
        (base, placement_for("transcript", 2)),  # the same text in another box of the same size
        (base, StampPlacement(page=-1, box=(40.0, 60.0, 200.0, 160.0))),  # and of another size
        (Stamp("Lê Thị Mây", "GIÁO VIÊN", date(2024, 5, 31)), placement_for("transcript", 1)),
    ]
    for round_ in range(2):
        for n, (stamp, placement) in enumerate(stamps):
            signer = teacher if n % 2 else principal
            signed = sign_pdf(
                simple_pdf(), material=signer, hsm=pki.hsm, level=Level.BB, stamp=stamp, placement=placement
            )
            assert verify_pdf(signed, trust_roots=[pki.root_der]).valid
            path = tmp_path / f"{round_}-{n}.pdf"
            path.write_bytes(signed)
            text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
            shown = {line.strip() for line in text.stdout.decode().splitlines() if line.strip()}
            expected = set(stamp.lines())
            assert expected <= shown, (n, expected, shown)
            others = {line for other, _ in stamps for line in other.lines()} - expected
            assert not others & shown, (n, others & shown)
            box = [round(v) for v in placement.box]
            assert f"/Rect [ {box[0]} {box[1]} {box[2]} {box[3]} ]".encode() in signed
            width, height = round(placement.width), round(placement.height)
            assert f"/BBox [ 0 {height} {width} 0 ]".encode() in signed  # the appearance's own size
