"""Three signatures in a row (teacher → principal → seal) with stamps at B-T on the real SoftHSM
token and the dev TSA, on several documents one after another, in one thread and across two.

Regression test for the stall on the second signature of an already signed PDF: a TSA token that
had been parsed deep down (its ESSCertIDv2 with the default hash algorithm) was embedded as an
asn1crypto object, and asn1crypto re-encodes a "mutated" tree twice per level on ``dump`` — time
doubling with every level of nesting, minutes per signature.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.keys.service import signing_material, trust_roots
from app.signing.pdf import verify_pdf
from app.signing.stamps import Stamp
from tests.support.factories import make_person, make_school
from tests.support.workflow_world import make_credential, sign_in_turn, transcript_pdf

pytestmark = pytest.mark.hsm

SIGNED_ON = date(2024, 8, 12)


def _signers() -> list[tuple[Any, Stamp]]:
    school = make_school("Trường Tiểu học Ngọc Thụy")
    teacher = make_person(school, name="Nguyễn Thị Hồng Vân")
    principal = make_person(school, name="Trần Văn Bình")
    seal = make_credential(school, seal=True)
    from app.keys.tsa import ensure_dev_tsa

    ensure_dev_tsa()
    return [
        (
            signing_material(make_credential(teacher).id),
            Stamp(teacher.display_name, "GIÁO VIÊN CHỦ NHIỆM", SIGNED_ON),
        ),
        (
            signing_material(make_credential(principal).id),
            Stamp(principal.display_name, "HIỆU TRƯỞNG", SIGNED_ON),
        ),
        (signing_material(seal.id), Stamp(school.name, "TRƯỜNG", SIGNED_ON)),
    ]


def _three_signatures(app: Flask, signers: list[tuple[Any, Stamp]], n: int, out: list[bytes]) -> None:
    with app.app_context():
        for i in range(n):
            out.append(sign_in_turn(transcript_pdf(f"Hoc sinh {i}", f"HS{i:05d}"), signers, reasons=True))


def _assert_three_valid(pdfs: list[bytes], tmp_path: Path) -> None:
    roots = trust_roots()
    for data in pdfs:
        report = verify_pdf(data, trust_roots=roots)
        assert report.valid, report.to_dict()
        assert len(report.signatures) == 3
        assert all(s.level == "B-T" for s in report.signatures)
    pdfsig = shutil.which("pdfsig")
    if pdfsig:
        path = tmp_path / "last.pdf"
        path.write_bytes(pdfs[-1])
        out = subprocess.run([pdfsig, str(path)], capture_output=True, text=True, check=False).stdout
        assert out.count("Signature is Valid.") == 3, out


@pytest.mark.timeout(120)
def test_three_signatures_on_several_documents_in_one_thread(app: Flask, tmp_path: Path) -> None:
    signers = _signers()
    pdfs: list[bytes] = []
    _three_signatures(app, signers, 4, pdfs)
    assert len(pdfs) == 4
    _assert_three_valid(pdfs, tmp_path)


@pytest.mark.timeout(120)
def test_three_signatures_on_several_documents_across_two_threads(app: Flask, tmp_path: Path) -> None:
    signers = _signers()
    results: list[list[bytes]] = [[], []]
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            _three_signatures(app, signers, 3, results[k])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=110)
    assert not any(t.is_alive() for t in threads), "signing stalled"
    assert not errors, errors
    assert [len(r) for r in results] == [3, 3]
    _assert_three_valid(results[0] + results[1], tmp_path)
