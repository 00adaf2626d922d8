"""Transcripts in, as a clerk or a school information system sees it: the upload report (one row per
file), ZIPs with a manifest (and hostile ZIPs), visible blockers, fixing and releasing, corrections."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from flask import Flask

from app.people import rules
from tests.support.clock import FrozenClock
from tests.support.factories import SignedInClient, make_class, make_person, make_school, sign_in
from tests.support.fixtures import clock  # noqa: F401 - fixture
from tests.support.workflow_world import World, build_world, transcript_pdf

# These tests drive approvals and read the result at once: on the broker run a real worker signs and
# each approval waits for it (``settle``).
pytestmark = pytest.mark.hsm

YEAR = "2024-2025"
CCCD = "001215012345"  # Hà Nội, born 2015


@pytest.fixture
def world(app: Flask, clock: FrozenClock, task_worker: object) -> World:  # noqa: F811
    return build_world(app, settle=True)


def _pdf(n: int, pages: int = 1) -> bytes:
    return transcript_pdf(f"Hoc sinh {n}", f"HS{n:05d}", pages)


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def upload(
    client: Any,
    files: list[tuple[bytes, str]],
    *,
    manifest: bytes | None = None,
    headers: dict[str, str] | None = None,
    **form: str,
) -> Any:
    data: dict[str, Any] = {"files": [(io.BytesIO(b), name) for b, name in files], **form}
    if manifest is not None:
        data["manifest"] = (io.BytesIO(manifest), "manifest.csv")
    return client.post(
        "/api/v1/documents", data=data, content_type="multipart/form-data", headers=headers or {}
    )


def report(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def rows(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["file"]: row for row in body["files"]}


def one(world: World, n: int, **form: str) -> dict[str, Any]:
    """Upload one transcript of student n to the world's class; its report row."""
    fields = {"student_code": f"HS{n:05d}", "class": world.klass.name, "school_year": YEAR, **form}
    body = report(upload(world.clerk, [(_pdf(n), f"hs{n}.pdf")], **fields))
    assert len(body["files"]) == 1
    row: dict[str, Any] = body["files"][0]
    return row


def document(client: Any, doc_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/documents/{doc_id}")
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def complete(world: World, ids: list[str]) -> None:
    world.teacher.approve({"document_ids": ids})
    world.principal.approve({"document_ids": ids})
    for doc_id in ids:
        assert document(world.clerk, doc_id)["status"] == "completed"


def outsider(app: Flask) -> SignedInClient:
    other = make_school("Trường Tiểu học Gia Thụy")
    return sign_in(app, make_person(other, roles=(rules.CLERK,)))


# --------------------------------------------------------------------------- the upload report


def test_one_pdf_with_form_fields_waits_for_its_homeroom_teacher(world: World) -> None:
    row = one(world, 1, student_name="Nguyễn Văn An", personal_id=CCCD)
    assert (row["outcome"], row["status"], row["blocked_code"]) == ("created", "waiting", None)
    doc = document(world.clerk, row["document_id"])
    assert (doc["student_code"], doc["student_name"], doc["class_id"], doc["school_year"]) == (
        "HS00001",
        "Nguyễn Văn An",
        world.klass.id,
        YEAR,
    )
    assert (doc["step"], doc["teacher_id"], doc["principal_id"]) == (
        1,
        world.teacher.person.id,
        world.principal.person.id,
    )
    assert doc["personal_id_masked"] == "0012******45"
    assert CCCD not in str(doc)
    inbox = world.teacher.client.get("/api/v1/inbox").get_json()
    assert [d["id"] for d in inbox] == [row["document_id"]]


def test_many_pdfs_in_one_request_are_judged_one_by_one(world: World) -> None:
    good = _pdf(1)
    body = report(
        upload(
            world.clerk,
            [
                (good, "a.pdf"),
                (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "truncated.pdf"),
                (b"MZ\x90\x00 an executable", "virus.pdf"),
                (_pdf(2), "b.pdf"),
                (good, "a-again.pdf"),
            ],
            **{"class": world.klass.name, "school_year": YEAR},
        )
    )
    by_file = rows(body)
    assert (body["created"], body["duplicates"], body["refused"]) == (2, 1, 2)
    assert [r["file"] for r in body["files"]] == [
        "a.pdf",
        "truncated.pdf",
        "virus.pdf",
        "b.pdf",
        "a-again.pdf",
    ]
    assert by_file["truncated.pdf"]["outcome"] == "refused"
    assert by_file["truncated.pdf"]["code"].startswith("pdf.")
    assert by_file["truncated.pdf"]["message"]
    assert (by_file["virus.pdf"]["outcome"], by_file["virus.pdf"]["code"]) == ("refused", "pdf.not_pdf")
    assert by_file["virus.pdf"]["document_id"] is None
    # the same bytes are the same document
    assert by_file["a-again.pdf"]["outcome"] == "duplicate"
    assert by_file["a-again.pdf"]["document_id"] == by_file["a.pdf"]["document_id"]
    # no student code was given: the transcripts are blocked, and the report counts every such row
    assert body["blocked"] == 3
    assert {by_file[f]["blocked_code"] for f in ("a.pdf", "b.pdf")} == {"document.no_student_code"}
    listed = world.clerk.get("/api/v1/documents").get_json()
    assert len(listed) == 2


def test_uploading_the_same_file_again_is_idempotent(world: World) -> None:
    data = _pdf(1)
    fields = {"student_code": "HS00001", "class": world.klass.name, "school_year": YEAR}
    first = report(upload(world.clerk, [(data, "hs1.pdf")], **fields))["files"][0]
    again = report(upload(world.clerk, [(data, "hs1 (1).pdf")], **fields))["files"][0]
    assert again["outcome"] == "duplicate"
    assert (again["document_id"], again["status"]) == (first["document_id"], "waiting")
    assert len(world.clerk.get("/api/v1/documents").get_json()) == 1


def test_an_empty_or_foreign_request_is_refused(world: World, app: Flask) -> None:
    only_junk = upload(world.clerk, [(_zip({"readme.txt": b"hello", "photo.jpg": b"\xff\xd8"}), "x.zip")])
    assert only_junk.status_code == 400 and only_junk.get_json()["code"] == "upload.empty"
    unknown_field = upload(world.clerk, [(_pdf(1), "a.pdf")], grade="5")
    assert unknown_field.status_code == 422
    teacher = upload(world.teacher.client, [(_pdf(1), "a.pdf")])
    assert teacher.status_code == 403
    anonymous = app.test_client().post(
        "/api/v1/documents",
        data={"files": [(io.BytesIO(_pdf(1)), "a.pdf")]},
        content_type="multipart/form-data",
    )
    assert anonymous.status_code == 401
    assert world.clerk.get("/api/v1/documents").get_json() == []


def test_the_school_information_system_uploads_with_its_token(world: World, app: Flask) -> None:
    admin = sign_in(app, make_person(world.school, roles=(rules.SCHOOL_ADMIN,)))

    def token(scopes: list[str]) -> dict[str, str]:
        created = admin.post("/api/v1/api-clients", json={"name": "Phần mềm SMAS", "scopes": scopes})
        assert created.status_code == 201, created.get_json()
        body = created.get_json()
        issued = app.test_client().post(
            "/api/v1/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": body["client_id"],
                "client_secret": body["client_secret"],
            },
        )
        assert issued.status_code == 200, issued.get_json()
        return {"Authorization": f"Bearer {issued.get_json()['access_token']}"}

    writer, reader = token(["documents:write", "documents:read"]), token(["documents:read"])
    anonymous = app.test_client()
    fields = {"student_code": "HS00001", "class": world.klass.name, "school_year": YEAR}
    refused = upload(anonymous, [(_pdf(1), "a.pdf")], headers=reader, **fields)
    assert refused.status_code == 403
    row = report(upload(anonymous, [(_pdf(1), "a.pdf")], headers=writer, **fields))["files"][0]
    assert (row["outcome"], row["status"]) == ("created", "waiting")
    seen = anonymous.get(f"/api/v1/documents/{row['document_id']}", headers=reader)
    assert seen.status_code == 200 and seen.get_json()["student_code"] == "HS00001"


# --------------------------------------------------------------------------- ZIPs and manifests


def test_zip_with_a_vietnamese_manifest_inside(world: World) -> None:
    manifest = (
        "Tên file;Mã học sinh;Họ và tên;Số CCCD;Lớp;Năm học\n"
        f"hs1.pdf;HS00001;Nguyễn Văn An;{CCCD};{world.klass.name};{YEAR}\n"
        f"hs2.pdf;HS00002;Trần Thị Bình;;{world.klass.name};{YEAR}\n"
    ).encode("utf-8-sig")
    archive = _zip({"lop5a/hs1.pdf": _pdf(1), "lop5a/hs2.pdf": _pdf(2), "lop5a/danh_sach.csv": manifest})
    body = report(upload(world.clerk, [(archive, "lop5a.zip")]))
    assert (body["created"], body["blocked"], body["refused"]) == (2, 0, 0)
    by_file = rows(body)
    assert set(by_file) == {"hs1.pdf", "hs2.pdf"}
    an = document(world.clerk, by_file["hs1.pdf"]["document_id"])
    assert (an["student_code"], an["student_name"], an["class_id"], an["status"]) == (
        "HS00001",
        "Nguyễn Văn An",
        world.klass.id,
        "waiting",
    )
    assert an["personal_id_masked"] == "0012******45"
    assert document(world.clerk, by_file["hs2.pdf"]["document_id"])["student_name"] == "Trần Thị Bình"


def test_english_manifest_beside_the_pdfs_wins_over_form_fields(world: World) -> None:
    manifest = (
        "file,student_code,student_name,class,school_year,doc_type\n"
        f"a.pdf,HS00001,Le Van C,{world.klass.name},{YEAR},hoc_ba\n"
        "b.pdf,HS00002,Pham Thi D,9Z,,\n"
    ).encode()
    body = report(
        upload(
            world.clerk,
            [(_pdf(1), "a.pdf"), (_pdf(2), "b.pdf")],
            manifest=manifest,
            school_year=YEAR,
            **{"class": "4B"},
        )
    )
    by_file = rows(body)
    assert (by_file["a.pdf"]["status"], by_file["a.pdf"]["blocked_code"]) == ("waiting", None)
    # b's row names a class the roster does not know: the row wins over the form's 4B, and it is visible
    b = document(world.clerk, by_file["b.pdf"]["document_id"])
    assert (b["status"], b["blocked_code"], b["class_name"], b["school_year"]) == (
        "blocked",
        "document.class_unknown",
        "9Z",
        YEAR,
    )
    assert "9Z" in b["blocked_message"]


@pytest.mark.parametrize(
    "manifest",
    [b"student_code,class\nHS1,5A\n", "Tên tệp,Mã học sinh\n,HS1\n".encode(), b"file\na.pdf\na.pdf\n"],
    ids=["no file column", "row without a file", "a file twice"],
)
def test_a_manifest_that_cannot_be_read_refuses_the_upload(world: World, manifest: bytes) -> None:
    response = upload(world.clerk, [(_pdf(1), "a.pdf")], manifest=manifest)
    assert response.status_code == 422
    assert response.get_json()["code"] == "upload.manifest_invalid"
    assert world.clerk.get("/api/v1/documents").get_json() == []


def test_a_zip_with_too_many_members_is_refused_whole(world: World) -> None:
    archive = _zip({f"hs{i}.pdf": b"%PDF-1.7\n" for i in range(2001)}, compression=zipfile.ZIP_STORED)
    response = upload(world.clerk, [(archive, "all.zip")])
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "upload.zip_refused" and "2001" in body["message"]
    assert world.clerk.get("/api/v1/documents").get_json() == []


def test_a_zip_bomb_member_is_refused_and_the_rest_go_on(world: World) -> None:
    bomb = b"%PDF-1.7\n" + b"\x00" * (4 * 1024 * 1024)
    archive = _zip({"bomb.pdf": bomb, "hs1.pdf": _pdf(1)})
    assert len(archive) < 64 * 1024
    body = report(
        upload(
            world.clerk, [(archive, "lop.zip")], student_code="HS00001", school_year=YEAR, **{"class": "5A"}
        )
    )
    by_file = rows(body)
    assert (by_file["bomb.pdf"]["outcome"], by_file["bomb.pdf"]["code"]) == ("refused", "upload.zip_refused")
    assert "bomb" in by_file["bomb.pdf"]["message"]
    assert (by_file["hs1.pdf"]["outcome"], by_file["hs1.pdf"]["status"]) == ("created", "waiting")


def test_a_damaged_zip_is_refused(world: World) -> None:
    archive = _zip({"hs1.pdf": _pdf(1)})
    response = upload(world.clerk, [(archive[: len(archive) // 2], "lop.zip")])
    assert response.status_code == 422
    assert response.get_json()["code"] == "upload.zip_refused"


def test_path_traversal_names_become_plain_file_names(world: World, app: Flask) -> None:
    manifest = (
        f"file,student_code,class,school_year\nevil.pdf,HS00001,5A,{YEAR}\nwin.pdf,HS00002,5A,{YEAR}\n"
    ).encode()
    archive = _zip(
        {
            "../../../../tmp/evil.pdf": _pdf(1),
            "C:\\Windows\\System32\\win.pdf": _pdf(2),
            "__MACOSX/._evil.pdf": b"\x00\x05\x16\x07",
            "manifest.csv": manifest,
        }
    )
    body = report(upload(world.clerk, [(archive, "lop.zip")]))
    by_file = rows(body)
    assert set(by_file) == {"evil.pdf", "win.pdf"}
    assert {r["status"] for r in body["files"]} == {"waiting"}  # their manifest rows were found by name
    doc = document(world.clerk, by_file["evil.pdf"]["document_id"])
    assert (doc["filename"], doc["student_code"]) == ("evil.pdf", "HS00001")
    var_dir = app.extensions["signet.settings"].var_dir
    assert not list(var_dir.parent.rglob("evil.pdf"))


def test_two_members_with_the_same_name_after_reduction_refuse_the_zip(world: World) -> None:
    archive = _zip({"lop5a/hs1.pdf": _pdf(1), "lop5b/hs1.pdf": _pdf(2)})
    response = upload(world.clerk, [(archive, "lop.zip")])
    assert response.status_code == 422 and response.get_json()["code"] == "upload.zip_refused"


def test_non_pdf_members_are_not_documents(world: World) -> None:
    archive = _zip(
        {
            "hs1.pdf": _pdf(1),
            "readme.txt": b"hello",
            "setup.exe": b"MZ\x90\x00",
            "disguised.pdf": b"MZ\x90\x00 not a pdf at all",
            "hs2.PDF": _pdf(2),
        }
    )
    body = report(upload(world.clerk, [(archive, "lop.zip")]))
    by_file = rows(body)
    assert set(by_file) == {"hs1.pdf", "readme.txt", "setup.exe", "disguised.pdf", "hs2.PDF"}
    assert (by_file["disguised.pdf"]["outcome"], by_file["disguised.pdf"]["code"]) == (
        "refused",
        "pdf.not_pdf",
    )
    for left_out in ("readme.txt", "setup.exe"):  # named in the report, never silently dropped
        assert (by_file[left_out]["outcome"], by_file[left_out]["code"]) == (
            "refused",
            "upload.zip_member_not_pdf",
        )
    assert (body["created"], body["refused"]) == (2, 3)


# --------------------------------------------------------------------------- visible blockers


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"student_code": ""}, "document.no_student_code"),
        ({"personal_id": "12345"}, "document.personal_id_malformed"),
        ({"personal_id": "999215012345"}, "document.personal_id_malformed"),
        ({"class": "9Z"}, "document.class_unknown"),
        ({"class": "not a class"}, "document.class_unknown"),
        ({"school_year": "2024"}, "document.school_year_invalid"),
        ({"doc_type": "bang_tot_nghiep"}, "document.doc_type_unknown"),
    ],
)
def test_incomplete_data_blocks_with_a_visible_reason(world: World, form: dict[str, str], code: str) -> None:
    row = one(world, 1, **form)
    assert (row["outcome"], row["status"], row["blocked_code"]) == ("created", "blocked", code)
    doc = document(world.clerk, row["document_id"])
    assert (doc["status"], doc["step"], doc["blocked_code"]) == ("blocked", 0, code)
    assert doc["blocked_message"]
    assert "release" in doc["actions"]
    if "personal_id" in form:
        assert form["personal_id"] not in str(doc)
    listed = world.clerk.get("/api/v1/documents", query_string={"blocked_code": code}).get_json()
    assert [d["id"] for d in listed] == [row["document_id"]]
    assert world.teacher.client.get("/api/v1/inbox").get_json() == []


def test_a_class_without_homeroom_teacher_blocks(world: World) -> None:
    make_class(world.school, "5B", YEAR)
    row = one(world, 1, **{"class": "5B"})
    assert (row["status"], row["blocked_code"]) == ("blocked", "document.no_homeroom_teacher")


def test_a_second_transcript_of_the_same_student_blocks(world: World) -> None:
    first = one(world, 1)
    other_file = report(
        upload(
            world.clerk,
            [(transcript_pdf("Hoc sinh 1 (ban khac)", "HS00001"), "hs1-b.pdf")],
            student_code="HS00001",
            school_year=YEAR,
            **{"class": world.klass.name},
        )
    )["files"][0]
    assert (other_file["outcome"], other_file["blocked_code"]) == (
        "created",
        "document.duplicate_in_progress",
    )
    assert first["document_id"] in document(world.clerk, other_file["document_id"])["blocked_message"]


def test_a_duplicate_of_a_signed_transcript_blocks_until_sent_as_a_correction(world: World) -> None:
    signed = one(world, 1)["document_id"]
    complete(world, [signed])
    fields = {"student_code": "HS00001", "school_year": YEAR, "class": world.klass.name}
    v2 = transcript_pdf("Hoc sinh 1", "HS00001 v2")
    row = report(upload(world.clerk, [(v2, "v2.pdf")], **fields))["files"][0]
    assert (row["status"], row["blocked_code"]) == ("blocked", "document.duplicate_of_signed")
    message = document(world.clerk, row["document_id"])["blocked_message"]
    assert signed in message and "supersedes" in message
    # the clerk does what the message says: the same file again, as a correction of the signed one
    correction = report(upload(world.clerk, [(v2, "v2.pdf")], supersedes=signed))["files"][0]
    assert (correction["document_id"], correction["status"], correction["blocked_code"]) == (
        row["document_id"],
        "waiting",
        None,
    )
    new = document(world.clerk, correction["document_id"])
    assert (new["version"], new["supersedes_id"], new["student_code"], new["class_id"]) == (
        2,
        signed,
        "HS00001",
        world.klass.id,
    )
    assert document(world.clerk, signed)["status"] == "completed"  # valid until the correction is signed
    # a third file for the same student, while the correction is in progress, is blocked again
    v3 = report(upload(world.clerk, [(transcript_pdf("Hoc sinh 1", "v3"), "v3.pdf")], **fields))["files"][0]
    assert v3["blocked_code"] in ("document.duplicate_in_progress", "document.duplicate_of_signed")


# --------------------------------------------------------------------------- fix and release


def test_patch_fixes_a_blocked_transcript_and_it_goes_on_at_once(world: World) -> None:
    row = one(world, 1, **{"class": "5 A"})  # a typo in the class
    assert row["blocked_code"] == "document.class_unknown"
    still_bad = world.clerk.patch(f"/api/v1/documents/{row['document_id']}", json={"personal_id": "0012"})
    assert still_bad.status_code == 200
    assert (still_bad.get_json()["status"], still_bad.get_json()["blocked_code"]) == (
        "blocked",
        "document.personal_id_malformed",
    )
    fixed = world.clerk.patch(
        f"/api/v1/documents/{row['document_id']}", json={"class_name": "5A", "personal_id": CCCD}
    )
    assert fixed.status_code == 200, fixed.get_json()
    body = fixed.get_json()
    assert (body["status"], body["step"], body["blocked_code"], body["blocked_message"]) == (
        "waiting",
        1,
        None,
        None,
    )
    assert (body["class_id"], body["teacher_id"]) == (world.klass.id, world.teacher.person.id)
    assert [d["id"] for d in world.teacher.client.get("/api/v1/inbox").get_json()] == [row["document_id"]]


def test_patch_is_refused_for_unknown_fields_other_schools_and_signed_work(world: World, app: Flask) -> None:
    doc_id = one(world, 1)["document_id"]
    unknown = world.clerk.patch(f"/api/v1/documents/{doc_id}", json={"status": "completed"})
    assert unknown.status_code == 422
    stranger = outsider(app).patch(f"/api/v1/documents/{doc_id}", json={"student_code": "X"})
    assert stranger.status_code == 404 and stranger.get_json()["code"] == "document.not_found"
    teacher = world.teacher.client.patch(f"/api/v1/documents/{doc_id}", json={"student_code": "X"})
    assert teacher.status_code == 403
    world.teacher.approve({"document_ids": [doc_id]})
    signed = world.clerk.patch(f"/api/v1/documents/{doc_id}", json={"student_name": "Tên khác"})
    assert signed.status_code == 409 and signed.get_json()["code"] == "document.not_editable"
    assert document(world.clerk, doc_id)["student_code"] == "HS00001"


def test_release_after_the_roster_is_fixed(world: World, app: Flask) -> None:
    row = one(world, 1, **{"class": "5B"})
    assert row["blocked_code"] == "document.class_unknown"
    url = f"/api/v1/documents/{row['document_id']}/release"
    refused = world.clerk.post(url)
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["code"] == "document.blocked"
    assert body["details"]["blocked_code"] == "document.class_unknown"
    five_b = make_class(world.school, "5B", YEAR)
    still = world.clerk.post(url)
    assert still.status_code == 409
    assert still.get_json()["details"]["blocked_code"] == "document.no_homeroom_teacher"
    teacher = make_person(world.school, roles=(rules.TEACHER,), homeroom=five_b)
    released = world.clerk.post(url)
    assert released.status_code == 200, released.get_json()
    assert (released.get_json()["status"], released.get_json()["teacher_id"]) == ("waiting", teacher.id)
    again = world.clerk.post(url)
    assert again.status_code == 409 and again.get_json()["code"] == "document.transition_refused"
    assert outsider(app).post(url).status_code == 404


def test_cancel_withdraws_a_blocked_transcript(world: World) -> None:
    row = one(world, 1, student_code="")
    cancelled = world.clerk.post(f"/api/v1/documents/{row['document_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert world.clerk.post(f"/api/v1/documents/{row['document_id']}/release").status_code == 409


# --------------------------------------------------------------------------- corrections


def test_a_correction_of_unfinished_work_replaces_it_at_once(world: World) -> None:
    old = one(world, 1, student_name="Nguyễn Văn An", personal_id=CCCD)["document_id"]
    body = report(
        upload(world.clerk, [(transcript_pdf("Hoc sinh 1", "HS00001 sua"), "sua.pdf")], supersedes=old)
    )
    new = body["files"][0]
    assert (new["outcome"], new["status"]) == ("created", "waiting")
    before = document(world.clerk, old)
    assert (before["status"], before["superseded_by_id"]) == ("superseded", new["document_id"])
    after = document(world.clerk, new["document_id"])
    assert (after["version"], after["student_name"], after["personal_id_masked"]) == (
        2,
        "Nguyễn Văn An",
        "0012******45",
    )
    inbox = world.teacher.client.get("/api/v1/inbox").get_json()
    assert [d["id"] for d in inbox] == [new["document_id"]]


def test_a_correction_is_one_file_of_the_same_school(world: World, app: Flask) -> None:
    old = one(world, 1)["document_id"]
    two = upload(world.clerk, [(_pdf(2), "a.pdf"), (_pdf(3), "b.pdf")], supersedes=old)
    assert two.status_code == 422 and two.get_json()["code"] == "upload.correction_needs_one_file"
    stranger = outsider(app)
    foreign = report(upload(stranger, [(_pdf(4), "c.pdf")], supersedes=old))["files"][0]
    assert (foreign["outcome"], foreign["code"]) == ("refused", "document.not_found")
    assert document(world.clerk, old)["status"] == "waiting"
    assert stranger.get("/api/v1/documents").get_json() == []
