"""The PDF syntax fast paths read and write exactly what pyHanko's own routines do.

``app.signing.pdf`` replaces pyHanko's dictionary reader and its name and text-string writers
(``app/signing/pdfsyntax.py`` does the plain cases, pyHanko's routines the rest).  Each is held to
the original on the same input: the same objects (class, value, key order, container references),
the stream left at the same place, the same bytes written, or the same exception.  Then every
object of every fixture is read and written back with the replacements and with the originals, a
signature made with them is the same bytes as one made without (but for its time, file ID and CMS),
and it validates in pyHanko and in poppler's ``pdfsig``.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from app.signing import pdf as engine
from app.signing import pdfsyntax
from app.signing.pdf import sign_pdf, verify_pdf
from app.signing.reports import Level
from tests.fixtures.pki import MemoryPki
from tests.unit.test_signing_engine import TEACHER, simple_pdf

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs"

# bytes that matter to a PDF tokenizer, and a few that do not
SYNTAX = b"()<>[]{}/%#\\ \n\r\t\x0c\x00" + b"0123456789" + b"nrtbfA~\x7f\x80\xff"
syntax_bytes = st.lists(st.sampled_from(list(SYNTAX)), max_size=300).map(bytes) | st.binary(max_size=300)


def _outcome(read: Callable[[Any], Any], data: bytes, start: int = 0) -> tuple[Any, ...]:
    stream = io.BytesIO(data)
    stream.seek(start)
    try:
        value = read(stream)
    except Exception as exc:
        return ("raised", type(exc), str(exc), stream.tell())
    return (type(value), value, stream.tell())


def _same(fast: Callable[[Any], Any], original: Callable[[Any], Any], data: bytes, start: int = 0) -> None:
    assert _outcome(fast, data, start) == _outcome(original, data, start), data


# --------------------------------------------------------------------------- names


def _written(write: Callable[..., None], name: str) -> tuple[Any, ...]:
    stream = io.BytesIO()
    try:
        write(generic.NameObject(name), stream)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return ("wrote", stream.getvalue())


@pytest.mark.parametrize(
    "name", ["/Type", "/", "/A B", "/A#B", "/Ký", "/A(B)", "Type", "", "/FormXob.e89f40", "/A\x7f", "/A/B"]
)
def test_names_are_written_as_pyhanko_writes_them(name: str) -> None:
    assert _written(engine._write_name, name) == _written(engine._original_write_name, name)


@settings(max_examples=400, deadline=None)
@given(name=st.text(alphabet=st.sampled_from("/#()<> \tAz~\x7f\x80ýệ0%[]"), max_size=20))
def test_names_are_written_as_pyhanko_writes_them_on_random_text(name: str) -> None:
    assert _written(engine._write_name, name) == _written(engine._original_write_name, name)


# --------------------------------------------------------------------------- literal strings


STRING_INPUTS = [
    b"()",
    b"(plain)",
    b"(plain) rest",
    b"(a (nested (twice)) string)",
    b"(unbalanced (",
    b"(unterminated",
    b"(ReportLab PDF Library - \\(opensource\\))",
    b"(\\376\\377\\000T\\000r\\001\\260\\036\\335)",  # UTF-16 in octal escapes, as reportlab writes
    b"(\\n\\r\\t\\b\\f\\\\\\/\\%\\<\\>\\[\\]\\#\\_\\&\\$\\ )",
    b"(\\0\\00\\000\\0000\\1234)",
    b"(\\8)",  # pyHanko raises on 8 and 9
    b"(\\18)",
    b"(\\0018)",
    b"(\\777)",  # over 255: pyHanko raises
    b"(\\400)",
    b"(\\q)",  # an unknown escape
    b"(line\\\ncontinued)",
    b"(line\\\r\ncontinued)",
    b"(line\\\n\ncontinued)",
    b"(line\\\rcontinued)",
    b"(ends with a backslash\\",
    b"(\\",
    b"(\\1",
    b"(" + b"x" * 1000 + b")",  # longer than one read
    b"(" + b"\\101" * 300 + b")",
    b"(" + b"x" * 254 + b"\\101)",  # an escape across the first read's end
    b"(" + b"x" * 255 + b")",  # the closing parenthesis is the first read's last byte
    b"(" + b"x" * 255 + b"\\)",
]


def _read_literal(stream: Any) -> bytes:
    """``string_literal_at`` over the rest of the stream, read as pyHanko's reader would be."""
    start = stream.tell()
    found = pdfsyntax.string_literal_at(stream.read(), 0)
    if found is None:
        raise LookupError("left to pyHanko")
    stream.seek(start + found[1])
    return found[0]


def _same_literal(data: bytes) -> bool:
    """The same bytes and end as pyHanko's reader, or left to it; whether it was read here."""
    fast = _outcome(_read_literal, data)
    if fast[0] == "raised":
        assert fast[1] is LookupError, fast
        return False
    assert fast == _outcome(generic._read_string_literal_bytes, data), data
    return True


@pytest.mark.parametrize("data", STRING_INPUTS)
def test_literal_strings_read_as_pyhanko_reads_them(data: bytes) -> None:
    _same_literal(data)


@pytest.mark.parametrize("data", [STRING_INPUTS[i] for i in (0, 1, 2, 3, 6, 7, 8, 9, 16, 17, 23, 24, 25)])
def test_plain_literal_strings_are_read_here(data: bytes) -> None:
    assert _same_literal(data)


@settings(max_examples=1000, deadline=None)
@given(body=syntax_bytes, tail=st.sampled_from([b"", b")", b") rest", b"))"]))
def test_literal_strings_on_random_bytes(body: bytes, tail: bytes) -> None:
    _same_literal(b"(" + body + tail)


# --------------------------------------------------------------------------- text strings


def _text_written(write: Callable[..., None], text: str, force: Any) -> tuple[Any, ...]:
    value = generic.TextStringObject(text)
    if force is not None:
        value.force_output_encoding = force
    stream = io.BytesIO()
    try:
        write(value, stream)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return ("wrote", stream.getvalue())


TEXTS = ["", "D:20261123011707Z", "ReportLab PDF Library - (opensource); pyHanko 0.38.0"]
TEXTS += ["Trường THPT Chu Văn An"]
TEXTS += ["Học bạ — Nguyễn Minh Khoa — 12A1", "tab\there", "new\nline", "\x7f\x80\xff", "€ ˘ ˇ", "a\\b(c)"]
FORCED = [None, generic.TextStringEncoding.UTF16BE, generic.TextStringEncoding.PDF_DOC]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("force", FORCED)
def test_text_strings_are_written_as_pyhanko_writes_them(text: str, force: Any) -> None:
    fast = _text_written(engine._write_text, text, force)
    assert fast == _text_written(engine._original_write_text, text, force)


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=40) | st.text(alphabet=st.characters(max_codepoint=0x2122), max_size=40))
def test_text_strings_are_written_as_pyhanko_writes_them_on_random_text(text: str) -> None:
    for force in FORCED:
        fast = _text_written(engine._write_text, text, force)
        assert fast == _text_written(engine._original_write_text, text, force)


def test_every_printable_ascii_character_is_its_pdfdocencoding_byte() -> None:
    text = "".join(chr(c) for c in range(0x20, 0x7F))
    assert pdfsyntax.printable_ascii(text) == generic.encode_pdfdocencoding(text)
    assert pdfsyntax.printable_ascii("tab\t") is None and pdfsyntax.printable_ascii("ệ") is None


def _string_shape(value: Any) -> tuple[Any, ...]:
    encoding = getattr(value, "autodetected_encoding", "none")
    return (type(value), bytes(value) if isinstance(value, bytes) else str(value), encoding)


@settings(max_examples=500, deadline=None)
@given(raw=syntax_bytes | st.binary(max_size=40).map(lambda b: b"\xfe\xff" + b))
def test_strings_read_are_the_text_or_bytes_pyhanko_guesses(raw: bytes) -> None:
    assert _string_shape(engine._pdf_string(raw)) == _string_shape(generic.pdf_string(raw))


def test_printable_ascii_decodes_as_pdfdocencoding() -> None:
    raw = bytes(range(0x20, 0x7F))
    assert pdfsyntax.is_printable_ascii(raw) and not pdfsyntax.is_printable_ascii(b"\x7f")
    assert _string_shape(engine._pdf_string(raw)) == _string_shape(generic.pdf_string(raw))


# --------------------------------------------------------------------------- installed, and whole files


def test_pyhanko_uses_the_fast_paths() -> None:
    assert generic.DictionaryObject.read_from_stream is engine._read_dictionary
    assert generic.NameObject.write_to_stream is engine._write_name
    assert generic.TextStringObject.write_to_stream is engine._write_text
    data = b"<< /Title (a\\(b\\)) /K [/X#20Y 1 0 R] >>"
    parsed = generic.read_object(io.BytesIO(data), generic.TrailerReference(None))  # type: ignore[arg-type]
    assert parsed == {"/Title": "a(b)", "/K": ["/X Y", generic.IndirectObject(1, 0, None)]}


def _originals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        generic.DictionaryObject, "read_from_stream", staticmethod(engine._original_read_dictionary)
    )
    monkeypatch.setattr(generic.NameObject, "write_to_stream", engine._original_write_name)
    monkeypatch.setattr(generic.TextStringObject, "write_to_stream", engine._original_write_text)


def _shape(obj: Any, container: Callable[[Any], Any], handler: Any) -> Any:
    """Everything about a parsed object that pyHanko or a writer can see: its class, value, key
    order, the ``container_ref`` of every value (``container`` names it) and what references
    point to (through ``handler``)."""
    kind = type(obj).__name__
    owner = container(getattr(obj, "container_ref", None))
    if isinstance(obj, dict):
        entries = [
            (type(k).__name__, str(k), k.container_ref, _shape(v, container, handler)) for k, v in obj.items()
        ]
        data = obj.encoded_data if isinstance(obj, generic.StreamObject) else None
        return (kind, owner, entries, data)
    if isinstance(obj, list):
        return (kind, owner, [_shape(v, container, handler) for v in obj])
    if isinstance(obj, generic.IndirectObject):
        return (kind, owner, obj.idnum, obj.generation, obj.reference.pdf is handler)
    if isinstance(obj, generic.TextStringObject):
        return (kind, owner, str(obj), obj.autodetected_encoding, obj.force_output_encoding)
    if isinstance(obj, generic.BooleanObject):
        return (kind, owner, bool(obj))
    if isinstance(obj, generic.NullObject):
        return (kind, owner)
    return (kind, owner, bytes(obj) if isinstance(obj, bytes) else str(obj))


def _where(ref: Any) -> Any:
    if isinstance(ref, generic.Reference):
        return ("ref", ref.idnum, ref.generation)
    return type(ref).__name__


def _every_object(data: bytes) -> list[tuple[Any, Any]]:
    """Every object of every revision, parsed (or its error), and written back out."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    refs: set[generic.Reference] = set()
    for revision in range(reader.xrefs.total_revisions):
        refs |= reader.xrefs.explicit_refs_in_revision(revision)
    out: list[tuple[Any, Any]] = [
        (-1, _shape(reader.trailer.flatten(revision), _where, reader))
        for revision in range(reader.xrefs.total_revisions)
    ]
    for ref in sorted(refs, key=lambda r: (r.idnum, r.generation)):
        try:
            obj = reader.get_object(ref, transparent_decrypt=False)
        except Exception as exc:
            out.append((ref.idnum, ("raised", type(exc), str(exc))))
            continue
        written = io.BytesIO()
        if isinstance(obj, generic.DecryptedObjectProxy):  # as read, still encrypted
            obj = obj.raw_object
        else:
            obj.write_to_stream(written)
        out.append((ref.idnum, (_shape(obj, _where, reader), written.getvalue())))
    return out


@pytest.mark.parametrize("name", [p.name for p in sorted(FIXTURES.glob("*.pdf"))])
def test_whole_files_parse_and_write_as_with_the_originals(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (FIXTURES / name).read_bytes()
    fast = _every_object(data)
    with monkeypatch.context() as m:
        _originals(m)
        assert _every_object(data) == fast
    assert len(fast) > 5


# --------------------------------------------------------------------------- whole dictionaries


@pytest.fixture(scope="module")
def handler() -> PdfFileReader:
    return PdfFileReader(io.BytesIO(simple_pdf()), strict=False)


def _dictionary(
    read: Callable[..., Any], data: bytes, handler: Any, strict: bool, *options: Any
) -> tuple[Any, ...]:
    container = generic.Reference(7, 0, handler)
    stream = io.BytesIO(b"7 0 obj\n" + data)
    stream.seek(8)
    handler.strict = strict
    try:
        value = read(stream, container, *options)
    except Exception as exc:
        return ("raised", type(exc), str(exc), stream.tell())
    finally:
        handler.strict = False
    return (_shape(value, lambda ref: ref is container, handler), stream.tell())


def _same_dictionary(data: bytes, handler: Any, *options: Any) -> None:
    for strict in (False, True):
        fast = _dictionary(engine._read_dictionary, data, handler, strict, *options)
        assert fast == _dictionary(engine._original_read_dictionary, data, handler, strict, *options), data


DICTIONARIES = [
    b"<<>>",
    b"<< >>",
    b"<</Type/Page>>",
    b"<< /Type /Page /Kids [ 4 0 R 5 0 R ] /Count 2 >>\nendobj",
    b"<< /MediaBox [0 0 595.2756 841.8898] /Rotate -90 /UserUnit +1.5 /X .5 /Y -.25 /Z 3. >>",
    b"<< /A true /B false /C null /D [true false null] >>",
    b"<< /Title (Nguy\\341\\273\\205n) /Hex <FEFF 0041 0042> /Odd <414> /E () /H <> >>",
    b"<< /Producer (ReportLab \\(opensource\\)) /N (a (nested) string) >>",
    b"<< /Trans <<\n\n>> /Nested << /Deeper << /Deepest [ [ [ 1 ] ] ] >> >> >>",
    b"<< /Name#20With#20Escapes 1 /K /V#23 >>",  # escapes: pyHanko's reader
    b"<< /A 1 % a comment\n /B 2 >>",
    b"<<%c\n/A%c\r/B%c\r\n%c2\n[%c\n1%c\n]/C 1 0 R%c\n/D(s)%c\n>>",  # comments wherever whitespace may be
    b"<< /A 1 0 %c\nR >>",
    b"<< /A 1 >> % trailing comment\nendobj",
    b"<< /A 1 %" + b"%" * 5000,  # a long comment to the end of the data
    b"<< /A 1 " + b" " * 2040 + b">>",  # the window ends in whitespace
    b"<< /A 1 /A 2 >>",  # a duplicate key: the first kept and a warning, or refused (strict)
    b"<< /A 1 0 R >>",
    b"<< /A 0 0 R >>",  # object 0 cannot be referenced
    b"<< /A 1\x0b0 R >>",  # vertical tab: Python's whitespace, not PDF's
    b"<< /A 1\x000 R >>",
    b"<< /A 1 0 Rx >>",
    b"<< /A 1 0 R/B 2 0 R>>",
    b"<< /A 1          0           R >>",  # the reference longer than pyHanko's 20-byte look
    b"<< /A 12345678901 0 R >>",
    b"<< /A [1 0 R 2 0 R] /B [1 2 R] >>",
    b"<< /A 1.2.3 >>",
    b"<< /A 1,2 >>",
    b"<< /A - >>",
    b"<< /A . >>",
    b"<< /A --1 >>",
    b"<< /A tru >>",
    b"<< /A nul >>",
    b"<< /A truex >>",
    b"<< /A <41 % c\n42> >>",
    b"<< /A <4G> >>",
    b"<< /A (\\8) >>",
    b"<< /A (unterminated >>",
    b"<< /A 1 >x",
    b"<< /A 1 ] >>",
    b"<< /A [1 >> ]",
    b"<< 1 2 >>",
    b"<< /A",
    b"<< /A 1",
    b"<< /A 1 >",
    b"<< /A 12",
    b"<< /A /B",
    b"<<",
    b"<",
    b"",
    b"<< /Length 5 >>\nstream\nhello\nendstream",
    b"<< /Length 5 >> stream\r\nhello\nendstream",
    b"<< /Length 6 >>\nstream\nhello\nendstream",  # a length one too long (reportlab's bug)
    b"<< /Length 5 /Inner << /X 1 >> >>\nstream\nhello\nendstream",
    b"<< /Inner << /Length 1 >> stream\nx\nendstream >>",  # a stream inside: pyHanko's reader
    b"<< /Inner << /X 1 >> % comment\n /Y 2 >>",
    b"<< /Inner << /X 1 >> sx /Y 2 >>",
    b"<< /A 1 >> % a comment\nstream\nx\nendstream",
    b"<< /Deep " + b"[" * 40 + b"]" * 40 + b" >>",
    b"<< /Deep " + b"<< /D " * 40 + b">> " * 40 + b">>",
    b"<< /Long (" + b"x" * 3000 + b") /After 1 >>",  # longer than the first window
    b"<< /Big [" + b" 1 0 R" * 10000 + b"] >>",  # longer than the second window
    b"<< /Names [" + b" /N" * 200000 + b"] >>",  # longer than every window
    # arrays of integers (a font's widths), read in one go
    b"<< /W [1 [500 600 700] 3 [250] 10 20 300] /DW 1000 >>",
    b"<< /Widths [" + b" ".join(b"%d" % n for n in range(2000)) + b"] >>",  # past the first window
    b"<< /A [+1 -2 003 -0 ] /B [] /C [ ] /D [\n1\r2\t3\x0c4\x005] >>",
    b"<< /A [1-2] /B 1 >>",  # one token for pyHanko, which refuses it
    b"<< /A [1,2] >>",
    b"<< /A [1 2 %c\n3] >>",  # a comment: the token loop
    b"<< /A [1 2.5 3] >>",
    b"<< /A [1 2 R] >>",
    b"<< /A [1 0 R 2] >>",
    b"<< /A [1 2] 0 R >>",
    b"<< /A [1\x0b2] >>",
    b"<< /A [1 2",
    b"<< /A [1 2]",
]


@pytest.mark.parametrize("data", DICTIONARIES)
def test_dictionaries_read_as_pyhanko_reads_them(data: bytes, handler: PdfFileReader) -> None:
    _same_dictionary(data, handler)


@pytest.mark.parametrize(
    "options",
    [(True,), (False, generic.ContentOpReading.GRAPHIC_OPS), (False, generic.ContentOpReading.IN_OBJECT)],
)
@pytest.mark.parametrize("data", [d for d in DICTIONARIES if b"stream" in d or b"/Trans" in d])
def test_metadata_streams_and_content_streams_read_as_pyhanko_reads_them(
    data: bytes, options: tuple[Any, ...], handler: PdfFileReader
) -> None:
    _same_dictionary(data, handler, *options)


TOKENS = [
    b"/Type", b"/A#20B", b"/", b"1", b"-2", b"+3", b"4.5", b".6", b"7.", b"0 0 R", b"12 0 R", b"3 1 R",
    b"true", b"false", b"null", b"(s)", b"(a\\(b)", b"(\\101\\n)", b"<41>", b"<4 1>", b"<>", b"[", b"]",
    b"<<", b">>", b"%c\n", b"stream", b"R", b"#", b"\x80", b"{", b"", b" ", b"\n", b"\r\n", b"\x00", b"\x0b",
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=40), glue=st.sampled_from([b" ", b"", b"\n"]))
def test_dictionaries_of_random_tokens(tokens: list[bytes], glue: bytes, handler: PdfFileReader) -> None:
    _same_dictionary(b"<< /K " + glue.join(tokens) + b" >>", handler)
    _same_dictionary(b"<<" + glue.join(tokens), handler)


@settings(max_examples=500, deadline=None)
@given(data=syntax_bytes)
def test_dictionaries_of_random_bytes(data: bytes, handler: PdfFileReader) -> None:
    _same_dictionary(b"<< /K " + data, handler)


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


def test_a_signature_made_with_the_fast_paths_is_byte_for_byte_the_same(
    pki: MemoryPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed with the replacements and with the originals, the files are the same bytes but for
    what two signatures must differ in: the signing time, the new file ID and the CMS."""
    teacher = pki.credential("Nguyễn Thị Hồng Vân")
    source = (FIXTURES / "transcript_reportlab.pdf").read_bytes()
    fast = sign_pdf(source, material=teacher, hsm=pki.hsm, level=Level.BB, stamp=TEACHER)
    with monkeypatch.context() as m:
        _originals(m)
        slow = sign_pdf(source, material=teacher, hsm=pki.hsm, level=Level.BB, stamp=TEACHER)
    assert verify_pdf(fast, trust_roots=[pki.root_der]).valid
    assert fast != slow and _masked(fast) == _masked(slow)
    # the dates: /CreationDate (rewritten as it was), /ModDate and the signature's /M
    assert _masked(fast).count(b"(D:)") == 3 and _masked(fast).count(b"/Contents <>") == 1


def _masked(data: bytes) -> bytes:
    data = re.sub(rb"/Contents <[0-9a-fA-F]+>", b"/Contents <>", data)
    data = re.sub(rb"\(D\\072[0-9]{14}[^)]*\)", b"(D:)", data)
    return re.sub(rb"(/ID \[ <[0-9a-f]+> )<[0-9a-f]+>", rb"\1<>", data)


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils missing")
def test_pdfsig_accepts_a_signature_made_with_the_fast_paths(pki: MemoryPki, tmp_path: Path) -> None:
    teacher = pki.credential("Nguyễn Thị Hồng Vân")
    signed = sign_pdf(simple_pdf(), material=teacher, hsm=pki.hsm, level=Level.BB, stamp=TEACHER)
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    assert "Signature is Valid" in out, out


def test_the_syntax_classes_are_pyhankos() -> None:
    from pyhanko.pdf_utils import misc

    assert pdfsyntax.WHITESPACE == misc.PDF_WHITESPACE and pdfsyntax.DELIMITERS == misc.PDF_DELIMITERS
    assert pdfsyntax._INDIRECT.pattern == generic.INDIRECT_PATTERN.pattern
