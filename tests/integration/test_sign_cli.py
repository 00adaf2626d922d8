"""Acceptance: ``flask sign`` / ``flask verify`` with the real SoftHSM token, dev CA and dev TSA,
checked by pyHanko and independently by poppler's ``pdfsig`` (NSS database trusting the dev root)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from app.keys import service

pytestmark = pytest.mark.hsm
PDFS = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs"
TRANSCRIPT = PDFS / "transcript_reportlab.pdf"


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def nssdb(app: Flask, tmp_path: Path) -> Path:
    """An NSS database in which the dev CA root is a trusted CA, for pdfsig."""
    if shutil.which("certutil") is None or shutil.which("pdfsig") is None:
        missing = "pdfsig/certutil missing (poppler-utils, libnss3-tools: `make system` installs them)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # the independent validator is part of the proof, never skipped in CI
        pytest.skip(missing)
    db = tmp_path / "nssdb"
    db.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True)
    for n, der in enumerate(service.trust_roots()):
        root = tmp_path / f"root{n}.der"
        root.write_bytes(der)
        subprocess.run(
            ["certutil", "-A", "-d", f"sql:{db}", "-n", f"signet-root-{n}", "-t", "CT,C,C", "-i", str(root)],
            check=True,
        )
    return db


def pdfsig(path: Path, db: Path) -> list[tuple[str, str]]:
    """(signature validation, certificate validation) per signature, as pdfsig reports them."""
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{db}", "-no-ocsp", str(path)], capture_output=True, text=True, check=False
    ).stdout
    sigs = re.findall(r"Signature Validation: (.+)\n\s+- Certificate Validation: (.+)", out)
    return [(a.strip(), b.strip()) for a, b in sigs]


def sign(runner: FlaskCliRunner, credential: str, src: Path, dst: Path, *extra: str) -> str:
    result = runner.invoke(args=["sign", "--credential", credential, *extra, str(src), str(dst)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def people(app: Flask) -> Iterator[dict[str, str]]:
    teacher = service.create_credential(owner_kind="person", owner_name="Nguyễn Thị Hồng Vân")
    deputy = service.create_credential(owner_kind="person", owner_name="Trần Văn Bình")
    seal = service.create_credential(
        owner_kind="organisation", owner_name="Trường THPT Chu Văn An", purpose="seal"
    )
    yield {"teacher": teacher.id, "deputy": deputy.id, "seal": seal.id}


@pytest.mark.pdfsig
def test_bt_signed_with_the_cli_validates_in_pyhanko_and_pdfsig(
    runner: FlaskCliRunner, people: dict[str, str], nssdb: Path, tmp_path: Path
) -> None:
    out = tmp_path / "signed.pdf"
    sign(runner, people["teacher"], TRANSCRIPT, out, "--level", "B-T", "--stamp", "--role", "GIÁO VIÊN")
    result = runner.invoke(args=["verify", "--json", str(out)])
    assert result.exit_code == 0, result.output
    (sig,) = json.loads(result.output)["signatures"]
    assert (sig["level"], sig["signer"], sig["valid"]) == ("B-T", "Nguyễn Thị Hồng Vân", True)
    assert sig["timestamp_time"] is not None
    assert pdfsig(out, nssdb) == [("Signature is Valid.", "Certificate is Trusted.")]
    human = runner.invoke(args=["verify", str(out)])
    assert human.exit_code == 0 and "all signatures valid" in human.output


@pytest.mark.pdfsig
def test_teacher_principal_and_seal_are_all_valid(
    runner: FlaskCliRunner, people: dict[str, str], nssdb: Path, tmp_path: Path
) -> None:
    one, two, three = tmp_path / "1.pdf", tmp_path / "2.pdf", tmp_path / "3.pdf"
    sign(runner, people["teacher"], TRANSCRIPT, one, "--stamp", "--role", "GIÁO VIÊN CHỦ NHIỆM")
    sign(runner, people["deputy"], one, two, "--stamp", "--step", "1", "--role", "PHÓ HIỆU TRƯỞNG",
         "--on-behalf", "KT. HIỆU TRƯỞNG")  # fmt: skip
    sign(runner, people["seal"], two, three, "--stamp", "--step", "2", "--role", "CON DẤU ĐƠN VỊ")
    result = runner.invoke(args=["verify", "--json", str(three)])
    assert result.exit_code == 0, result.output
    sigs = json.loads(result.output)["signatures"]
    assert [s["signer"] for s in sigs] == ["Nguyễn Thị Hồng Vân", "Trần Văn Bình", "Trường THPT Chu Văn An"]
    assert all(s["valid"] and s["level"] == "B-T" for s in sigs)
    assert pdfsig(three, nssdb) == [("Signature is Valid.", "Certificate is Trusted.")] * 3
    text = subprocess.run(["pdftotext", str(three), "-"], capture_output=True, text=True, check=True).stdout
    for line in (
        "Ký bởi: Nguyễn Thị Hồng Vân",
        "KT. HIỆU TRƯỞNG",
        "PHÓ HIỆU TRƯỞNG",
        "Ký bởi: Trần Văn Bình",
    ):
        assert line in text
    artifacts = Path(__file__).resolve().parents[1] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(three, artifacts / "three_signatures.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-f", "2", "-l", "2", str(three),
                    str(artifacts / "three_signatures")], check=True)  # fmt: skip


def test_blt_embeds_the_dev_ca_crl(runner: FlaskCliRunner, people: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "lt.pdf"
    sign(runner, people["seal"], TRANSCRIPT, out, "--level", "B-LT")
    data = out.read_bytes()
    assert b"/DSS" in data and b"/CRLs" in data
    result = runner.invoke(args=["verify", "--json", str(out)])
    assert result.exit_code == 0, result.output
    (sig,) = json.loads(result.output)["signatures"]
    assert sig["level"] == "B-LT" and sig["revocation_embedded"]


def test_a_change_after_signing_fails_verification(
    runner: FlaskCliRunner, people: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "signed.pdf"
    sign(runner, people["teacher"], TRANSCRIPT, out, "--level", "B-B")
    data = bytearray(out.read_bytes())
    data[2000] ^= 0x01  # inside the signed byte range (the original document)
    out.write_bytes(bytes(data))
    result = runner.invoke(args=["verify", str(out)])
    assert result.exit_code != 0
    assert "NOT VALID" in result.output


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("encrypted_user.pdf", "pdf.encrypted"),
        ("restricted_owner.pdf", "pdf.changes_forbidden"),
        ("certified_nochanges.pdf", "pdf.changes_forbidden"),
    ],
)
def test_unsafe_input_is_refused_and_nothing_is_written(
    runner: FlaskCliRunner, people: dict[str, str], tmp_path: Path, fixture: str, code: str
) -> None:
    out = tmp_path / "out.pdf"
    result = runner.invoke(args=["sign", "--credential", people["teacher"], str(PDFS / fixture), str(out)])
    assert result.exit_code != 0 and code in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_production_refuses_a_persons_credential(
    app: Flask, runner: FlaskCliRunner, people: dict[str, str], tmp_path: Path
) -> None:
    settings = app.extensions["signet.settings"]
    app.extensions["signet.settings"] = settings.with_(env="prod")
    try:
        out = tmp_path / "out.pdf"
        refused = runner.invoke(args=["sign", "--credential", people["teacher"], "--level", "B-B",
                                      str(TRANSCRIPT), str(out)])  # fmt: skip
        assert refused.exit_code != 0 and "approval" in refused.output and not out.exists()
        allowed = runner.invoke(args=["sign", "--credential", people["seal"], "--level", "B-B",
                                      str(TRANSCRIPT), str(out)])  # fmt: skip
        assert allowed.exit_code == 0, allowed.output
    finally:
        app.extensions["signet.settings"] = settings
