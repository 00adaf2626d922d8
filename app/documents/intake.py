"""Reading what a school sends: PDFs, or a ZIP of PDFs with a CSV manifest.  Pure: no database.

A ZIP is hostile until proven otherwise: member count, each member's size (read, never trusted from
the header), the total, and the compression ratio are bounded; names are reduced to their last part
(no directories, no ``..``, no absolute paths) and must be unique.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field

from app.errors import Unprocessable

MAX_ZIP_MEMBERS = 2000
MAX_RATIO = 100  # uncompressed / compressed, per member
MANIFEST_MAX_BYTES = 2 * 1024 * 1024


class ZipRefused(Unprocessable):
    code = "upload.zip_refused"
    default_message = "The ZIP file cannot be used; upload PDFs and a CSV manifest in a plain ZIP."


class NotPdfInZip(Unprocessable):
    code = "upload.zip_member_not_pdf"
    default_message = "Only PDF files (and one CSV manifest) are read from a ZIP; this file was left out."


class ManifestInvalid(Unprocessable):
    code = "upload.manifest_invalid"
    default_message = "The CSV manifest cannot be read; it needs a header row with a 'file' column."


@dataclass(frozen=True)
class Metadata:
    """What a school says about one transcript (all optional here; missing data blocks it later)."""

    student_code: str | None = None
    student_name: str | None = None
    personal_id: str | None = None
    class_name: str | None = None
    school_year: str | None = None
    doc_type: str | None = None

    def merged(self, other: Metadata) -> Metadata:
        """``other``'s values where it has them, ours otherwise."""
        return Metadata(
            **{name: getattr(other, name) or getattr(self, name) for name in self.__dataclass_fields__}
        )


@dataclass(frozen=True)
class IncomingFile:
    name: str
    data: bytes
    meta: Metadata = field(default_factory=Metadata)
    error: Unprocessable | None = None  # refused before any PDF check (too large in the ZIP, ...)


# canonical field -> accepted headers, compared after ``fold`` (lower case, no diacritics)
COLUMNS: dict[str, tuple[str, ...]] = {
    "file": ("file", "filename", "file name", "ten file", "ten tep", "tep", "tep tin"),
    "student_code": (
        "student_code",
        "student code",
        "ma hoc sinh",
        "ma hs",
        "ma dinh danh hoc sinh",
        "ma dinh danh",
    ),
    "student_name": ("student_name", "student name", "ho va ten", "ho ten", "ten hoc sinh", "name"),
    "personal_id": (
        "personal_id",
        "personal id",
        "cccd",
        "so cccd",
        "so dinh danh ca nhan",
        "so dinh danh",
        "national id",
    ),
    "class_name": ("class", "class_name", "class name", "lop", "ten lop"),
    "school_year": ("school_year", "school year", "nam hoc"),
    "doc_type": ("doc_type", "doc type", "document type", "loai", "loai tai lieu", "loai ho so"),
}
_HEADER_INDEX = {alias: name for name, aliases in COLUMNS.items() for alias in aliases}


def fold(text: str) -> str:
    """Lower case, no diacritics, single spaces: 'Mã học sinh' -> 'ma hoc sinh'."""
    text = text.replace("đ", "d").replace("Đ", "D")
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return re.sub(r"\s+", " ", stripped).strip().lower()


def clean(value: str | None) -> str | None:
    value = re.sub(r"\s+", " ", value or "").strip()
    return value or None


def safe_name(raw: str) -> str | None:
    """The last path component, or None for directories and platform junk."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name.startswith(".") or "/__MACOSX/" in f"/{raw}" or "\x00" in name:
        return None
    return name[:255]


def read_manifest(data: bytes) -> dict[str, Metadata]:
    """CSV (UTF-8 with or without BOM, or Windows-1258; comma or semicolon) -> {file name: metadata}."""
    if len(data) > MANIFEST_MAX_BYTES:
        raise ManifestInvalid("The manifest is larger than 2 MB.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1258", errors="replace")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise ManifestInvalid()
    header = [_HEADER_INDEX.get(fold(cell)) for cell in rows[0]]
    if "file" not in header:
        raise ManifestInvalid()
    out: dict[str, Metadata] = {}
    for number, row in enumerate(rows[1:], start=2):
        values = {name: clean(cell) for name, cell in zip(header, row, strict=False) if name}
        if not any(values.values()):
            continue
        name = safe_name(values.pop("file") or "")
        if name is None:
            raise ManifestInvalid(f"Row {number} of the manifest names no file.", details={"row": number})
        if name in out:
            raise ManifestInvalid(f"Row {number} names {name!r} a second time.", details={"row": number})
        out[name] = Metadata(**values)
    return out


def read_zip(data: bytes, *, max_member_bytes: int, max_total_bytes: int) -> list[IncomingFile]:
    """The PDFs of a ZIP with their manifest rows (``*.csv`` inside the ZIP), in ZIP order."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ZipRefused("The ZIP file is damaged.") from exc
    if len(infos) > MAX_ZIP_MEMBERS:
        raise ZipRefused(f"The ZIP has {len(infos)} files; at most {MAX_ZIP_MEMBERS} are accepted.")
    total = 0
    files: list[IncomingFile] = []
    manifest: dict[str, Metadata] = {}
    seen: set[str] = set()
    for info in infos:
        name = safe_name(info.filename)
        if name is None:
            continue
        lowered = name.lower()
        if not lowered.endswith((".pdf", ".csv")):  # said in the report, so nothing vanishes unseen
            files.append(IncomingFile(name, b"", error=NotPdfInZip()))
            continue
        if name in seen:
            raise ZipRefused(f"The ZIP holds two files named {name!r}.")
        seen.add(name)
        limit = MANIFEST_MAX_BYTES if lowered.endswith(".csv") else max_member_bytes
        if info.flag_bits & 0x1:
            files.append(IncomingFile(name, b"", error=ZipRefused("The file is encrypted inside the ZIP.")))
            continue
        content, problem = _read_member(archive, info, limit)
        if problem is not None:
            if lowered.endswith(".csv"):
                raise problem
            files.append(IncomingFile(name, b"", error=problem))
            continue
        total += len(content)
        if total > max_total_bytes:
            raise ZipRefused(f"The ZIP unpacks to more than {max_total_bytes // 1048576} MB.")
        if lowered.endswith(".csv"):
            manifest.update(read_manifest(content))
        else:
            files.append(IncomingFile(name, content))
    if all(isinstance(f.error, NotPdfInZip) for f in files):
        return []  # no PDF at all: the upload is empty, not a list of left-out files
    return [IncomingFile(f.name, f.data, manifest.get(f.name, Metadata()), f.error) for f in files]


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int
) -> tuple[bytes, Unprocessable | None]:
    too_large = ZipRefused(f"{info.filename!r} is larger than {limit // 1048576} MB.")
    if info.file_size > limit:
        return b"", too_large
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        return b"", ZipRefused(f"{info.filename!r} is compressed suspiciously well (a ZIP bomb?).")
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as fh:
            while chunk := fh.read(65536):
                size += len(chunk)
                if size > limit or (info.compress_size and size > MAX_RATIO * info.compress_size + 65536):
                    return b"", too_large  # the header lied about the size
                chunks.append(chunk)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        return b"", ZipRefused(f"{info.filename!r} is damaged inside the ZIP: {type(exc).__name__}.")
    return b"".join(chunks), None


def is_zip(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04"
