"""The evidence report of a signed transcript, as JSON and as PDF, for its school only."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest
from flask import Flask

from app.db import session
from app.people import rules
from app.workflow.models import Approval
from tests.integration.test_verify_public import sign_through_the_chain
from tests.support.factories import make_person, make_school, sign_in
from tests.support.workflow_world import World, build_world

pytestmark = [pytest.mark.hsm, pytest.mark.timeout(900)]  # a whole chain per test; slow on a busy machine


@pytest.fixture
def signed(app: Flask, task_worker: object) -> tuple[World, str]:
    world = build_world(app)
    (doc_id,) = world.upload(1)
    sign_through_the_chain(world, [doc_id])
    return world, doc_id


def test_evidence_names_each_step_factor_device_manifest_and_certificate(signed: tuple[World, str]) -> None:
    world, doc_id = signed
    response = world.clerk.get(f"/api/v1/documents/{doc_id}/evidence")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert world.clerk.get(f"/api/v1/documents/{doc_id}/evidence.json").get_json()["steps"] == report["steps"]
    steps = report["steps"]
    assert [s["step"] for s in steps] == [1, 2, 3]
    assert [s["signer"]["name"] for s in steps[:2]] == ["Nguyễn Thị Hồng Vân", "Trần Văn Bình"]
    approvals = {a.person_id: a for a in session().query(Approval)}
    for step, person in zip(
        steps, (world.teacher.person, world.principal.person, world.principal.person), strict=True
    ):
        approval = step["approval"]
        assert approval["approved_by"]["id"] == person.id
        assert approval["manifest_hash"] == approvals[person.id].manifest_hash
        assert approval["factor"] == "passkey" and approval["device"]["kind"] == "passkey"
        assert approval["device"]["name"] == "test" and approval["authorized_at"]
        assert step["signature"]["timestamp"] and step["signature"]["level"] == "B-T"
        assert step["signature"]["valid"] is True
        cert = step["certificate"]
        assert (
            "DEVELOPMENT CA" in cert["issuer"] and cert["serial"] and cert["not_before"] < cert["not_after"]
        )
    assert "Trường Tiểu học Ngọc Thụy" in steps[2]["certificate"]["subject"]
    actions = [e["action"] for e in report["events"]]
    assert actions[0] == "document.uploaded" and actions.count("signature.created") == 3
    assert actions[-1] == "document.evidence_exported"  # the export itself is on the record
    assert report["verification"]["valid"] is True
    assert report["document"]["student"]["name"] == "Học sinh 1"


def test_evidence_pdf_embeds_a_vietnamese_font(signed: tuple[World, str]) -> None:
    world, doc_id = signed
    response = world.clerk.get(f"/api/v1/documents/{doc_id}/evidence.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    data = response.get_data()
    assert b"NotoSans" in data
    pdf = pdfium.PdfDocument(data)
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    for expected in ("Báo cáo chứng cứ ký số", "Nguyễn Thị Hồng Vân", "GIÁO VIÊN CHỦ NHIỆM", "Mã băm bản kê"):
        assert expected in text, expected


def test_another_school_gets_404_and_teachers_403(signed: tuple[World, str], app: Flask) -> None:
    world, doc_id = signed
    stranger = sign_in(app, make_person(make_school("Trường khác"), roles=(rules.SCHOOL_ADMIN,)))
    assert stranger.get(f"/api/v1/documents/{doc_id}/evidence").status_code == 404
    assert stranger.get(f"/api/v1/documents/{doc_id}/evidence.pdf").status_code == 404
    assert world.teacher.client.get(f"/api/v1/documents/{doc_id}/evidence").status_code == 403
