"""Faster equivalents of pyHanko's byte-at-a-time PDF tokenizer routines (no pyHanko here).

pyHanko 0.38 reads PDF syntax one byte per ``stream.read(1)``, through generators, and writes a
name one byte per ``stream.write``.  A signature on our 2-page transcript parses the catalog, the
page tree, both pages and the info dictionary and writes half a dozen dictionaries: about a quarter
of the document's cost went to these loops.  Each function here gives the same result and leaves
the stream where pyHanko's routine would; for anything beyond the plain case (an escape, a comment,
the end of the data, a byte pyHanko would refuse) it answers ``None`` with the stream rewound, and
``pdf.py`` hands the input to pyHanko's own routine, which then reads (or refuses) it exactly as
before.  tests/unit/test_pdf_syntax_fast_paths.py holds each one to the original, input by input.
"""

from __future__ import annotations

import functools
import re
from typing import BinaryIO

WHITESPACE = b" \n\r\t\f\x00"  # pyhanko.pdf_utils.misc.PDF_WHITESPACE
DELIMITERS = b"()<>[]{}/%"  # pyhanko.pdf_utils.misc.PDF_DELIMITERS
_CHUNK = 64  # tokens are short; a longer read only copies more

_NON_WHITESPACE = re.compile(rb"[^ \n\r\t\f\x00]")
# a name's bytes that need no escape: printable ASCII (0x21-0x7e) but "#" and the delimiters
_PLAIN_NAME = re.compile(
    b"[" + b"".join(b"\\x%02x" % c for c in range(0x21, 0x7F) if c not in DELIMITERS + b"#") + b"]*"
)
# a literal string: what lies between its parentheses (escaped bytes included), each escape
_STRING_RUN = re.compile(rb"(?:[^()\\]+|\\.)*", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|[\r\n][\r\n]?|.)", re.S)
_BAD_DIGITS = re.compile(rb"\\[0-7]{0,2}[89]")  # pyHanko reads up to three decimal digits
_ESCAPE_VALUES: dict[bytes, bytes] = {
    **{bytes((c,)): bytes((c,)) for c in b"() /%<>[]#_&$\\"},
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"f": b"\f",
    **{eol: b"" for eol in (b"\n", b"\r", b"\n\n", b"\r\r", b"\r\n", b"\n\r")},
    **{
        format(value, f"0{width}o").encode(): bytes((value,))
        for width in (1, 2, 3)
        for value in range(min(256, 8**width))
    },
}


@functools.lru_cache(maxsize=16)
def _class_pattern(class_chars: bytes) -> re.Pattern[bytes]:
    return re.compile(b"[" + b"".join(b"\\x%02x" % c for c in class_chars) + b"]")


def read_until_class(class_chars: bytes, stream: BinaryIO) -> tuple[bytes, bool]:
    """pyHanko's ``misc._read_until_class`` without a limit: the bytes before the first byte of
    ``class_chars`` (non-empty; that byte is consumed), and whether the data ended first."""
    pattern = _class_pattern(class_chars)
    parts: list[bytes] = []
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return b"".join(parts), True
        match = pattern.search(chunk)
        if match is not None:
            end = match.start()
            parts.append(chunk[:end])
            stream.seek(end + 1 - len(chunk), 1)  # just after the stop byte
            return b"".join(parts), False
        parts.append(chunk)


def skip_whitespace(stream: BinaryIO) -> bytes | None:
    """The first byte that is not whitespace, consumed (``read_non_whitespace`` without its
    options); ``None`` when it is a comment's ``%`` or the data ends, with the stream at that point."""
    tok = stream.read(1)  # most often the very next byte
    if tok and tok not in WHITESPACE:
        if tok == b"%":
            stream.seek(-1, 1)
            return None
        return tok
    while True:
        start = stream.tell()
        chunk = stream.read(_CHUNK)
        if not chunk:
            return None
        match = _NON_WHITESPACE.search(chunk)
        if match is None:
            continue
        at = match.start()
        if chunk[at] == 0x25:  # "%": a comment
            stream.seek(start + at)
            return None
        stream.seek(start + at + 1)
        return chunk[at : at + 1]


def plain_name(name_bytes: bytes) -> str | None:
    """The name ``/`` + ``name_bytes`` when it has no escape (what ``generic._decode_name`` returns
    for it); ``None`` when it has one or a byte that must be escaped."""
    if _PLAIN_NAME.fullmatch(name_bytes) is None:
        return None
    return "/" + name_bytes.decode("ascii")


def plain_name_bytes(name: str) -> bytes | None:
    """How ``NameObject.write_to_stream`` writes ``name`` when no byte of it needs an escape."""
    if not name.isascii() or not name.startswith("/"):
        return None
    encoded = name.encode("ascii")
    if _PLAIN_NAME.fullmatch(encoded, 1) is None:
        return None
    return encoded


def read_string_literal(stream: BinaryIO) -> bytes | None:
    """The bytes of the literal string ``( ... )`` at the stream's position, as
    ``generic._read_string_literal_bytes`` reads them; ``None`` (stream rewound) when it is
    unterminated or has an escape that pyHanko refuses or that is not one of the plain ones."""
    start = stream.tell()
    data = stream.read(_CHUNK * 4)
    pos, depth = 1, 1
    while True:
        pos = _STRING_RUN.match(data, pos).end()  # type: ignore[union-attr]  # it matches b""
        if pos >= len(data) - 1:  # ")" not in hand, or a backslash at the very end: read on
            more = stream.read(max(len(data), _CHUNK * 4))
            if not more:  # unterminated: pyHanko's error
                stream.seek(start)
                return None
            data += more
            pos = 1
            depth = 1
            continue
        if data[pos] == 0x28:  # "("
            depth += 1
        else:  # ")": the run stops only at a parenthesis or the end
            depth -= 1
            if depth == 0:
                break
        pos += 1
    stream.seek(start + pos + 1)
    body = data[1:pos]
    if b"\\" not in body:
        return body
    if _BAD_DIGITS.search(body) is not None:
        stream.seek(start)
        return None  # "\8", "\18": pyHanko raises
    parts = _ESCAPE.split(body)
    try:
        parts[1::2] = [_ESCAPE_VALUES[escape] for escape in parts[1::2]]
    except KeyError:  # an unknown escape or an octal value over 255: pyHanko raises
        stream.seek(start)
        return None
    return b"".join(parts)
