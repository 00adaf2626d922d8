"""Reading uploads: the CSV manifest in English or Vietnamese, and hostile ZIPs."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.documents.intake import (
    ManifestInvalid,
    Metadata,
    ZipRefused,
    is_zip,
    read_manifest,
    read_zip,
    safe_name,
)

PDF = b"%PDF-1.7\n" + b"0" * 500 + b"\nstartxref\n0\n%%EOF\n"


def _zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_vietnamese_headers_with_bom_and_semicolons() -> None:
    csv_text = (
        "\ufeffTên file;Mã học sinh;Họ và tên;Số CCCD;Lớp;Năm học;Loại\n"
        "a.pdf;HS001;Nguyễn Văn An;001203012345;5A;2024-2025;hoc_ba\n"
        ";;;;;;\n"
    )
    rows = read_manifest(csv_text.encode("utf-8"))
    assert rows == {
        "a.pdf": Metadata("HS001", "Nguyễn Văn An", "001203012345", "5A", "2024-2025", "hoc_ba"),
    }


def test_english_headers_and_missing_cells() -> None:
    rows = read_manifest(b"file,student_code,class\nb.pdf,,5B\n")
    assert rows == {"b.pdf": Metadata(student_code=None, class_name="5B")}


@pytest.mark.parametrize("data", [b"", b"student_code\nHS1\n", b"file\na.pdf\na.pdf\n", b"file,class\n,5A\n"])
def test_bad_manifests_are_refused(data: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        read_manifest(data)


def test_zip_with_manifest_and_junk() -> None:
    data = _zip(
        {
            "hoc_ba/a.pdf": PDF,
            "hoc_ba/b.pdf": PDF + b" ",
            "__MACOSX/hoc_ba/._a.pdf": b"junk",
            "notes.txt": b"ignored",
            "manifest.csv": b"file,student_code\na.pdf,HS1\n",
        }
    )
    assert is_zip(data)
    files = read_zip(data, max_member_bytes=10_000, max_total_bytes=100_000)
    assert [(f.name, f.meta.student_code, type(f.error).__name__) for f in files] == [
        ("a.pdf", "HS1", "NoneType"),
        ("b.pdf", None, "NoneType"),
        ("notes.txt", None, "NotPdfInZip"),  # reported as left out; platform junk is not
    ]


def test_path_traversal_names_are_reduced_to_their_last_part() -> None:
    assert safe_name("../../etc/passwd.pdf") == "passwd.pdf"
    assert safe_name("C:\\Windows\\x.pdf") == "x.pdf"
    assert safe_name("dir/") is None
    assert safe_name(".hidden.pdf") is None


def test_duplicate_names_after_reduction_are_refused() -> None:
    with pytest.raises(ZipRefused):
        read_zip(_zip({"a/x.pdf": PDF, "b/x.pdf": PDF}), max_member_bytes=10_000, max_total_bytes=100_000)


def test_zip_bomb_member_is_refused_individually() -> None:
    data = _zip({"bomb.pdf": b"\0" * 5_000_000, "ok.pdf": PDF})
    files = read_zip(data, max_member_bytes=10_000_000, max_total_bytes=100_000_000)
    assert files[0].name == "bomb.pdf" and isinstance(files[0].error, ZipRefused)
    assert files[1].error is None


def test_oversized_member_and_total() -> None:
    data = _zip({"big.pdf": PDF + b"x" * 20_000, "ok.pdf": PDF}, compression=zipfile.ZIP_STORED)
    files = read_zip(data, max_member_bytes=10_000, max_total_bytes=100_000)
    assert isinstance(files[0].error, ZipRefused) and files[1].error is None
    with pytest.raises(ZipRefused):
        read_zip(_zip({f"{i}.pdf": PDF for i in range(5)}), max_member_bytes=10_000, max_total_bytes=1_000)


def test_not_a_zip() -> None:
    with pytest.raises(ZipRefused):
        read_zip(b"PK\x03\x04garbage", max_member_bytes=10, max_total_bytes=10)
