"""Documents out: the file, a class's signed transcripts as a ZIP, page previews, and the change feed
a school information system polls."""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
from typing import Any

import pytest
from flask import Flask

from app.people import rules
from tests.support.clock import FrozenClock
from tests.support.factories import SignedInClient, make_person, make_school, sign_in
from tests.support.fixtures import clock  # noqa: F401 - fixture
from tests.support.workflow_world import World, build_world, transcript_pdf

# These tests drive approvals and read the result at once: on the broker run a real worker signs and
# each approval waits for it (``settle``).
pytestmark = pytest.mark.hsm

YEAR = "2024-2025"


@pytest.fixture
def world(app: Flask, clock: FrozenClock, task_worker: object) -> World:  # noqa: F811
    return build_world(app, settle=True)


@pytest.fixture
def outsider(app: Flask, world: World) -> SignedInClient:
    """A clerk of another school, with a transcript of their own."""
    other = make_school("Trường Tiểu học Gia Thụy")
    clerk = sign_in(app, make_person(other, roles=(rules.CLERK,)))
    response = clerk.post(
        "/api/v1/documents",
        data={
            "files": [(io.BytesIO(transcript_pdf("Khac", "GT00001")), "gt1.pdf")],
            "student_code": "GT00001",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and response.get_json()["created"] == 1
    return clerk


def _get(client: Any, url: str, **kw: Any) -> Any:
    response = client.get(url, **kw)
    assert response.status_code == 200, response.get_json()
    return response


def _doc(client: Any, doc_id: str) -> dict[str, Any]:
    body: dict[str, Any] = _get(client, f"/api/v1/documents/{doc_id}").get_json()
    return body


def _complete(world: World, ids: list[str]) -> None:
    world.teacher.approve({"document_ids": ids})
    world.principal.approve({"document_ids": ids})


def _blocked(world: World) -> str:
    """A transcript of the world's class that is blocked (no student code)."""
    response = world.clerk.post(
        "/api/v1/documents",
        data={
            "files": [(io.BytesIO(transcript_pdf("Chua co ma", "-")), "noname.pdf")],
            "class": world.klass.name,
            "school_year": YEAR,
        },
        content_type="multipart/form-data",
    )
    row = response.get_json()["files"][0]
    assert row["blocked_code"] == "document.no_student_code"
    doc_id: str = row["document_id"]
    return doc_id


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


# --------------------------------------------------------------------------- the file


def test_the_file_is_the_current_revision_with_its_hash(world: World, outsider: SignedInClient) -> None:
    (a,) = world.upload(1)
    unsigned = _get(world.clerk, f"/api/v1/documents/{a}/file")
    assert unsigned.mimetype == "application/pdf"
    assert unsigned.headers["X-Content-SHA256"] == hashlib.sha256(unsigned.data).hexdigest()
    assert unsigned.headers["X-Content-SHA256"] == _doc(world.clerk, a)["sha256"]
    assert 'filename="HS00001_H' in unsigned.headers["Content-Disposition"]
    assert unsigned.headers["Content-Disposition"].endswith('_2024-2025_v1.pdf"')
    _complete(world, [a])
    signed = _get(world.teacher.client, f"/api/v1/documents/{a}/file")
    doc = _doc(world.clerk, a)
    assert (doc["status"], doc["signature_count"]) == ("completed", 3)
    assert hashlib.sha256(signed.data).hexdigest() == doc["sha256"] == signed.headers["X-Content-SHA256"]
    assert signed.data.startswith(unsigned.data)  # incremental updates: the upload is kept, signed over
    assert signed.data.count(b"/ByteRange") == 3
    stranger = outsider.get(f"/api/v1/documents/{a}/file")
    assert stranger.status_code == 404 and stranger.get_json()["code"] == "document.not_found"
    assert outsider.get(f"/api/v1/documents/{a}").status_code == 404


# --------------------------------------------------------------------------- the class ZIP


def test_the_class_zip_holds_only_completed_transcripts(world: World, outsider: SignedInClient) -> None:
    done, waiting, half = world.upload(3)
    blocked = _blocked(world)
    _complete(world, [done])
    world.teacher.approve({"document_ids": [half]})  # signed by its teacher only
    assert [_doc(world.clerk, d)["status"] for d in (done, waiting, half, blocked)] == [
        "completed",
        "waiting",
        "waiting",
        "blocked",
    ]
    response = _get(world.principal.client, f"/api/v1/classes/{world.klass.id}/documents.zip")
    assert response.mimetype == "application/zip"
    assert 'filename="hoc_ba_5A_2024-2025.zip"' in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        names = archive.namelist()
        assert len(names) == 1 and names[0].startswith("HS00001_") and names[0].endswith("_v1.pdf")
        pdf = archive.read(names[0])
    assert hashlib.sha256(pdf).hexdigest() == _doc(world.clerk, done)["sha256"]
    assert pdf.count(b"/ByteRange") == 3
    stranger = outsider.get(f"/api/v1/classes/{world.klass.id}/documents.zip")
    assert stranger.status_code == 404 and stranger.get_json()["code"] == "class.not_found"
    unknown = world.clerk.get("/api/v1/classes/00000000-0000-0000-0000-000000000000/documents.zip")
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "class.not_found"


def test_a_class_with_nothing_signed_yet_is_an_empty_zip(world: World) -> None:
    world.upload(2)
    response = _get(world.clerk, f"/api/v1/classes/{world.klass.id}/documents.zip")
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        assert archive.namelist() == []


# --------------------------------------------------------------------------- page previews


def test_page_previews_are_pngs_of_the_asked_width(world: World, outsider: SignedInClient) -> None:
    response = world.clerk.post(
        "/api/v1/documents",
        data={
            "files": [(io.BytesIO(transcript_pdf("Hai trang", "HS00009", pages=2)), "two.pdf")],
            "student_code": "HS00009",
            "class": world.klass.name,
            "school_year": YEAR,
        },
        content_type="multipart/form-data",
    )
    doc_id = response.get_json()["files"][0]["document_id"]
    assert _doc(world.clerk, doc_id)["pages"] == 2
    first = _get(world.teacher.client, f"/api/v1/documents/{doc_id}/pages/1.png", query_string={"width": 300})
    assert first.mimetype == "image/png"
    width, height = _png_size(first.data)
    assert width == 300 and height > width  # an A4 page stands upright
    default = _get(world.clerk, f"/api/v1/documents/{doc_id}/pages/2.png")
    assert _png_size(default.data)[0] == 800
    again = _get(world.clerk, f"/api/v1/documents/{doc_id}/pages/1.png", query_string={"width": 300})
    assert again.data == first.data
    for width_asked in (50, 5000, "wide"):
        bad = world.clerk.get(f"/api/v1/documents/{doc_id}/pages/1.png", query_string={"width": width_asked})
        assert bad.status_code == 422
    missing = world.clerk.get(f"/api/v1/documents/{doc_id}/pages/3.png")
    assert missing.status_code == 404 and missing.get_json()["code"] == "document.page_not_found"
    zero = world.clerk.get(f"/api/v1/documents/{doc_id}/pages/0.png")
    assert zero.status_code == 404
    stranger = outsider.get(f"/api/v1/documents/{doc_id}/pages/1.png")
    assert stranger.status_code == 404 and stranger.get_json()["code"] == "document.not_found"


# --------------------------------------------------------------------------- the change feed


def _changes(client: Any, **query: Any) -> dict[str, Any]:
    body: dict[str, Any] = _get(client, "/api/v1/documents/changes", query_string=query).get_json()
    return body


def test_the_change_feed_pages_with_a_monotonic_cursor(world: World) -> None:
    ids = world.upload(3)
    blocked = _blocked(world)
    first = _changes(world.clerk, limit=3)
    assert first["has_more"] is True and len(first["changes"]) == 3
    rest = _changes(world.clerk, cursor=first["next_cursor"], limit=3)
    assert rest["has_more"] is False and len(rest["changes"]) == 1
    seen = first["changes"] + rest["changes"]
    cursors = [int(c["cursor"]) for c in seen]
    assert cursors == sorted(cursors) and len(set(cursors)) == 4
    assert rest["next_cursor"] == seen[-1]["cursor"]
    assert {c["document_id"]: c["status"] for c in seen} == {
        **dict.fromkeys(ids, "waiting"),
        blocked: "blocked",
    }
    quiet = _changes(world.clerk, cursor=rest["next_cursor"])
    assert quiet == {"changes": [], "next_cursor": rest["next_cursor"], "has_more": False}
    # the clerk fixes the blocked transcript; the teacher signs another: both show up after the cursor
    fixed = world.clerk.patch(f"/api/v1/documents/{blocked}", json={"student_code": "HS00099"})
    assert fixed.status_code == 200 and fixed.get_json()["status"] == "waiting"
    world.teacher.approve({"document_ids": [ids[0]]})
    later = _changes(world.clerk, cursor=rest["next_cursor"])["changes"]
    assert all(int(c["cursor"]) > int(rest["next_cursor"]) for c in later)
    assert (later[0]["document_id"], later[0]["status"]) == (blocked, "waiting")
    assert (later[-1]["document_id"], later[-1]["status"], later[-1]["step"]) == (ids[0], "waiting", 2)


def test_the_change_feed_shows_completion_and_only_the_own_school(
    world: World, outsider: SignedInClient
) -> None:
    (a,) = world.upload(1)
    _complete(world, [a])
    mine = _changes(world.clerk)["changes"]
    assert {c["document_id"] for c in mine} == {a}
    assert mine[-1]["status"] == "completed"
    theirs = _changes(outsider)["changes"]
    assert len(theirs) == 1 and theirs[0]["document_id"] != a
    # a cursor from the other school's feed shows no more of ours than our own cursor would
    after_theirs = _changes(world.clerk, cursor=theirs[0]["cursor"])["changes"]
    assert {c["document_id"] for c in after_theirs} <= {a}


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5"])
def test_a_cursor_we_never_gave_out_is_refused(world: World, cursor: str) -> None:
    response = world.clerk.get("/api/v1/documents/changes", query_string={"cursor": cursor})
    assert response.status_code == 400 and response.get_json()["code"] == "changes.bad_cursor"


def test_the_change_feed_limit_is_bounded(world: World) -> None:
    for limit in (0, 1001):
        response = world.clerk.get("/api/v1/documents/changes", query_string={"limit": limit})
        assert response.status_code == 422
