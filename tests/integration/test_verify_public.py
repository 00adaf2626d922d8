"""Public verification of real transcripts signed through the whole chain (SoftHSM, dev CA and TSA):
the QR leads to the page; genuine, altered (a byte inside the content; an incremental update appended),
foreign-signed and superseded files each get the right verdict with its reason, in the API and the page.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.db import session
from app.documents.models import Document
from app.documents.storage import get_store
from app.signing.pdf import QrPlacement, add_verification_qr, sign_pdf
from app.signing.reports import Level
from tests.conftest import wait_for
from tests.fixtures.pki import MemoryPki
from tests.support.workflow_world import World, build_world, transcript_pdf
from tests.unit.test_verify_qr import decode_qr

pytestmark = [pytest.mark.hsm, pytest.mark.timeout(900)]  # a whole chain per test; slow on a busy machine


@dataclass
class Issued:
    world: World
    ids: list[str]

    def doc(self, n: int = 0) -> Document:
        session().expire_all()
        found = session().get(Document, self.ids[n])
        assert found is not None
        return found

    def file(self, n: int = 0) -> bytes:
        return get_store().get(self.doc(n).storage_key)


def _status(ids: list[str]) -> set[str]:
    session().expire_all()
    found = {d.status for d in session().query(Document).filter(Document.id.in_(ids))}
    session().commit()
    return found


def sign_through_the_chain(world: World, ids: list[str]) -> None:
    world.teacher.approve({"document_ids": ids})
    wait_for(lambda: _status(ids) == {"waiting"}, timeout=120)
    world.principal.approve({"document_ids": ids})
    wait_for(lambda: _status(ids) == {"completed"}, timeout=120)


@pytest.fixture
def issued(app: Flask, task_worker: object) -> Issued:
    world = build_world(app)
    ids = world.upload(2)
    sign_through_the_chain(world, ids)
    return Issued(world, ids)


def upload(client: FlaskClient, data: bytes) -> dict[str, object]:
    response = client.post(
        "/api/v1/verify", data={"file": (io.BytesIO(data), "hoc-ba.pdf")}, content_type="multipart/form-data"
    )
    assert response.status_code == 200, response.get_json()
    body: dict[str, object] = response.get_json()
    return body


def verdict(body: dict[str, object]) -> str:
    v = body["verdict"]
    assert isinstance(v, dict)
    return str(v["code"])


def page_verdict(html: str) -> str:
    found = re.search(r'data-verdict="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def test_the_qr_on_a_signed_transcript_leads_to_its_page(
    issued: Issued, client: FlaskClient, app: Flask, tmp_path: Path
) -> None:
    doc = issued.doc()
    (url,) = decode_qr(issued.file(), tmp_path, page=1)
    base = app.extensions["signet.settings"].public_base_url
    assert url == f"{base}/v/{doc.verify_token}"
    assert len(doc.verify_token) >= 22  # ≥ 128 bits, url-safe

    page = client.get(url.removeprefix(base))
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert page_verdict(html) == "verify.valid"
    assert "Hợp lệ" in html and "GIÁO VIÊN CHỦ NHIỆM" in html and "Nguyễn Thị Hồng Vân" in html
    assert "<script" not in html
    english = client.get(url.removeprefix(base) + "?lang=en").get_data(as_text=True)
    assert "Genuine" in english and "Homeroom teacher" in english and 'lang="en"' in english

    body = client.get(f"/api/v1/verify/{doc.verify_token}").get_json()
    assert body["status"] == "valid" and verdict(body) == "verify.valid"
    assert body["integrity"] == {"checked": True, "intact": True}
    assert [s["role_en"] for s in body["signatures"]] == ["Homeroom teacher", "Principal", "School seal"]
    assert [s["signer"] for s in body["signatures"]] == [
        "Nguyễn Thị Hồng Vân",
        "Trần Văn Bình",
        "Trường Tiểu học Ngọc Thụy",
    ]
    assert all(s["level"] == "B-T" and s["timestamped"] and s["valid"] for s in body["signatures"])
    assert all("DEVELOPMENT CA" in s["certificate"]["issuer"] for s in body["signatures"])
    student = body["document"]["student"]
    assert student == {"name": None, "initials": "H. S. 1.", "personal_id_masked": None}
    assert "Học sinh 1" not in html  # personal data minimised for whoever holds only the link


def test_unknown_codes_are_404(client: FlaskClient) -> None:
    assert client.get("/api/v1/verify/not-a-real-code").status_code == 404
    page = client.get("/v/not-a-real-code")
    assert page.status_code == 404 and page_verdict(page.get_data(as_text=True)) == "verify.not_found"


def test_genuine_file_uploaded_is_valid_and_names_the_student(issued: Issued, client: FlaskClient) -> None:
    body = upload(client, issued.file())
    assert verdict(body) == "verify.valid" and body["status"] == "valid"
    document = body["document"]
    assert isinstance(document, dict) and document["student"]["name"] == "Học sinh 1"
    report = body["report"]
    assert isinstance(report, dict) and report["valid"] and len(report["signatures"]) == 3


def test_a_byte_changed_inside_the_content_is_altered(issued: Issued, client: FlaskClient) -> None:
    data = bytearray(issued.file())
    start = data.index(b"stream", data.index(b"/Contents")) + 12  # inside the first page's content
    data[start] ^= 0x01
    body = upload(client, bytes(data))
    assert verdict(body) == "verify.altered"
    assert body["verdict"]["ok"] is False  # type: ignore[index]
    assert "changed after signing" in body["verdict"]["en"]  # type: ignore[index]


def test_an_incremental_update_appended_after_signing_is_refused(issued: Issued, client: FlaskClient) -> None:
    signed = issued.file()
    forged = add_verification_qr(
        signed, url="https://evil.example/ok", placement=QrPlacement(0, (400, 700, 560, 800))
    )
    assert forged.startswith(signed)
    body = upload(client, forged)
    assert verdict(body) == "verify.modified_after_signing"
    assert body["status"] == "valid"  # we still recognise what was signed: our document, unchanged here
    html = client.post(
        "/v/check?lang=en",
        data={"file": (io.BytesIO(forged), "x.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert page_verdict(html) == "verify.modified_after_signing" and "added to the file" in html


def test_a_foreign_self_signed_key_is_untrusted(issued: Issued, client: FlaskClient) -> None:
    """Someone re-signs the unsigned transcript with their own CA and the school's name."""
    pki = MemoryPki.create("Trường Tiểu học Ngọc Thụy")  # a self-signed root of their own
    unsigned = get_store().get(f"sha256/{issued.doc().original_sha256[:2]}/{issued.doc().original_sha256}")
    forged = sign_pdf(
        unsigned,
        material=pki.credential("Trường Tiểu học Ngọc Thụy"),
        hsm=pki.hsm,
        level=Level.BT,
        tsa=pki.tsa(),
    )
    body = upload(client, forged)
    assert verdict(body) == "verify.untrusted_signer"
    assert "untrusted issuer" in body["verdict"]["en"]  # type: ignore[index]
    signatures = body["signatures"]
    assert isinstance(signatures, list) and signatures[0]["certificate"]["issuer"].endswith("Country: VN")
    assert body["document"] is None


def test_unsigned_and_unreadable_files_say_so(client: FlaskClient) -> None:
    assert verdict(upload(client, transcript_pdf("X", "HS1"))) == "verify.unsigned"
    body = upload(client, b"this is not a pdf at all")
    assert verdict(body) == "verify.unreadable" and body["reason_code"] == "pdf.not_pdf"


def test_an_intermediate_copy_is_not_final(issued: Issued, client: FlaskClient) -> None:
    from app.documents.models import DocumentRevision

    rev = (
        session()
        .query(DocumentRevision)
        .filter(DocumentRevision.document_id == issued.ids[0], DocumentRevision.step == 1)
        .one()
    )
    body = upload(client, get_store().get(rev.storage_key))
    assert verdict(body) == "verify.not_final"


def test_a_superseded_transcript_says_by_which_version_and_since_when(
    issued: Issued, client: FlaskClient
) -> None:
    old = issued.doc()
    old_file = issued.file()
    response = issued.world.clerk.post(
        "/api/v1/documents",
        data={
            "files": [(io.BytesIO(transcript_pdf("Hoc sinh 1", "HS00001 sua")), "hs00001-v2.pdf")],
            "supersedes": old.id,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    new_id = response.get_json()["files"][0]["document_id"]
    sign_through_the_chain(issued.world, [new_id])
    wait_for(lambda: _status([old.id]) == {"superseded"})
    new = session().get(Document, new_id)
    assert new is not None

    body = client.get(f"/api/v1/verify/{old.verify_token}").get_json()
    assert body["status"] == "superseded" and verdict(body) == "verify.superseded"
    assert body["superseded"]["by_version"] == 2 and body["superseded"]["token"] == new.verify_token
    assert body["superseded"]["url"].endswith(f"/v/{new.verify_token}")
    html = client.get(f"/v/{old.verify_token}").get_data(as_text=True)
    assert page_verdict(html) == "verify.superseded"
    assert "Được thay thế ngày" in html and "bởi phiên bản 2" in html and f"/v/{new.verify_token}" in html

    assert verdict(upload(client, old_file)) == "verify.superseded"
    assert client.get(f"/api/v1/verify/{new.verify_token}").get_json()["status"] == "valid"


def test_uploads_are_rate_limited(client: FlaskClient, app: Flask) -> None:
    from app.auth.ratelimit import limiter

    if not limiter.enabled:
        pytest.skip("rate limits are off in these settings")
    codes = [
        client.post("/api/v1/verify", data={"file": (io.BytesIO(b"x"), "x.pdf")}).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [200] * 10 and codes[-1] == 429
