"""A parent opens the verification page from the QR code on a phone, then checks files: genuine,
altered (a byte changed; an incremental update appended), foreign-signed, and superseded.
Headless Chromium on a Pixel 5 viewport, axe-core on every screen, screenshots as evidence."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.db import session
from app.documents.models import Document
from app.documents.storage import get_store
from app.signing.pdf import QrPlacement, add_verification_qr, sign_pdf
from app.signing.reports import Level
from tests.conftest import wait_for
from tests.e2e.conftest import LiveServer
from tests.fixtures.pki import MemoryPki
from tests.integration.test_verify_public import sign_through_the_chain
from tests.support.workflow_world import World, build_world, transcript_pdf
from tests.unit.test_verify_qr import decode_qr

pytestmark = [pytest.mark.e2e, pytest.mark.hsm, pytest.mark.timeout(900)]
T = TypeVar("T")


def off_the_loop(app: Flask, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread of its own (with an app context): Playwright's sync API keeps an event
    loop running on this thread, and pyHanko's signing runs one of its own."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        with app.app_context():
            try:
                result.append(fn())
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _doc(doc_id: str) -> Document:
    session().expire_all()
    found = session().get(Document, doc_id)
    assert found is not None
    session().commit()
    return found


def test_verification_page_on_a_phone(
    page: Page,
    live_server: LiveServer,
    app: Flask,
    tmp_path: Path,
    axe_check: Callable[[str], None],
    screenshot: Callable[[str], Path],
    console_errors: list[str],
) -> None:
    def issue() -> tuple[World, str]:
        world = build_world(app)
        for signer in (world.teacher, world.principal):
            signer.authenticator.origin = live_server.url  # the WebAuthn origin of this server
        (doc_id,) = world.upload(1)
        sign_through_the_chain(world, [doc_id])
        return world, doc_id

    world, doc_id = off_the_loop(app, issue)
    doc = _doc(doc_id)
    signed = get_store().get(doc.storage_key)

    # the QR printed on the transcript leads to its page
    (url,) = decode_qr(signed, tmp_path, page=1)
    assert url.startswith(live_server.url)
    page.goto(url)
    verdict = page.locator("[data-verdict]")
    expect(verdict).to_have_attribute("data-verdict", "verify.valid")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_text("GIÁO VIÊN CHỦ NHIỆM")).to_be_visible()
    expect(page.get_by_text("Nguyễn Thị Hồng Vân")).to_be_visible()
    expect(page.locator("[data-signature]")).to_have_count(3)
    axe_check("verify-valid-vi")
    screenshot("verify-1-valid-vi")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(verdict).to_contain_text("Genuine")
    axe_check("verify-valid-en")
    screenshot("verify-2-valid-en")

    def check(data: bytes, name: str) -> str:
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(data)
        page.set_input_files("#file", str(path))
        page.locator("form button[type=submit]").click()
        code = page.locator("[data-verdict]").get_attribute("data-verdict")
        assert code is not None
        axe_check(name)
        screenshot(f"verify-upload-{name}")
        return code

    assert check(signed, "genuine") == "verify.valid"
    expect(page.get_by_text("Học sinh 1").first).to_be_visible()  # the holder of the file sees the name

    altered = bytearray(signed)
    altered[altered.index(b"stream", altered.index(b"/Contents")) + 12] ^= 0x01
    assert check(bytes(altered), "altered") == "verify.altered"
    expect(page.locator("[data-verdict]")).to_contain_text("changed after signing")

    appended = add_verification_qr(
        signed, url="https://evil.example", placement=QrPlacement(0, (400, 700, 560, 800))
    )
    assert check(appended, "appended") == "verify.modified_after_signing"

    pki = MemoryPki.create("Trường Tiểu học Ngọc Thụy")
    unsigned = get_store().get(f"sha256/{doc.original_sha256[:2]}/{doc.original_sha256}")
    material = pki.credential("Trường Tiểu học Ngọc Thụy")
    foreign = off_the_loop(app, lambda: sign_pdf(unsigned, material=material, hsm=pki.hsm, level=Level.BB))
    assert check(foreign, "foreign") == "verify.untrusted_signer"

    # a corrected re-issue supersedes it; the old page says so, with a link to the new one
    def correct() -> str:
        response = world.clerk.post(
            "/api/v1/documents",
            data={
                "files": [(io.BytesIO(transcript_pdf("Hoc sinh 1", "HS00001 v2")), "v2.pdf")],
                "supersedes": doc_id,
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 200, response.get_json()
        new_id: str = response.get_json()["files"][0]["document_id"]
        sign_through_the_chain(world, [new_id])
        return new_id

    new_id = off_the_loop(app, correct)
    wait_for(lambda: _doc(doc_id).status == "superseded")
    page.goto(url)
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "verify.superseded")
    expect(page.locator("[data-superseded]")).to_contain_text("bởi phiên bản 2")
    axe_check("verify-superseded")
    screenshot("verify-3-superseded")
    page.get_by_role("link", name="Xem bản đính chính").click()
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "verify.valid")
    assert page.url.endswith(f"/v/{_doc(new_id).verify_token}?lang=vi")
    assert check(signed, "superseded-file") == "verify.superseded"
    assert console_errors == []
