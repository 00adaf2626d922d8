"""PDF syntax read and written the way pyHanko 0.38 does it, only faster (no pyHanko here).

pyHanko reads a dictionary token by token, each token several calls and ``read(1)``s deep, and
writes names and text strings one byte per ``stream.write``.  Signing our 2-page transcript reads
the trailer, the catalog, the page tree, both pages and the info dictionary and writes half a dozen
dictionaries: about a third of a document's cost went there.  Here:

- ``read_dictionary`` reads ``<< ... >>`` with one regular expression per token over a window of
  the data and builds the same objects through ``Constructors`` (pyHanko's classes, given by
  ``pdf.py``).  Only the plain syntax is taken: names without escapes, integers and decimals,
  references, literal and hex strings, booleans, null, comments, nested arrays and dictionaries.
  A duplicate key, a stream inside, deep nesting, anything pyHanko would refuse or read oddly:
  ``None``, the stream where it was, and ``pdf.py`` lets pyHanko read it all.
- ``plain_name_bytes`` and ``literal_string`` give the bytes pyHanko writes for a name and a text
  string, in one piece.

tests/unit/test_pdf_syntax_fast_paths.py holds each to pyHanko's own routine, input by input.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

WHITESPACE = b" \n\r\t\f\x00"  # pyhanko.pdf_utils.misc.PDF_WHITESPACE
DELIMITERS = b"()<>[]{}/%"  # pyhanko.pdf_utils.misc.PDF_DELIMITERS

# --------------------------------------------------------------------------- names and strings

# a name's bytes that need no escape: printable ASCII (0x21-0x7e) but "#" and the delimiters
_PLAIN = b"".join(b"\\x%02x" % c for c in range(0x21, 0x7F) if c not in DELIMITERS + b"#")
_PLAIN_NAME = re.compile(b"/[" + _PLAIN + b"]*+")
# a literal string: what lies between its parentheses (escaped bytes included), each escape
_STRING_RUN = re.compile(rb"(?:[^()\\]++|\\.)*+", re.S)
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
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")  # where PDFDocEncoding is ASCII
_PRINTABLE_ASCII_BYTES = re.compile(rb"[\x20-\x7e]*")
# how pyHanko writes each byte of a literal string: letters, digits and space as they are, the
# rest as a three-digit octal escape
_STRING_BYTES = tuple(
    bytes((c,)) if bytes((c,)).isalnum() or c == 0x20 else b"\\%03o" % c for c in range(256)
)


def plain_name_bytes(name: str) -> bytes | None:
    """How ``NameObject.write_to_stream`` writes ``name`` when no byte of it needs an escape;
    ``None`` otherwise."""
    if not name.isascii():
        return None
    encoded = name.encode("ascii")
    return encoded if _PLAIN_NAME.fullmatch(encoded) is not None else None


def string_literal_at(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """The literal string whose ``(`` is at ``pos``, as ``generic._read_string_literal_bytes``
    reads it: its bytes and where it ends (after ``)``); ``None`` when ``data`` ends first or it has
    an escape that pyHanko refuses."""
    depth = 1
    end = pos + 1
    while True:
        end = _STRING_RUN.match(data, end).end()  # type: ignore[union-attr]  # it matches b""
        if end >= len(data) or data[end] == 0x5C:  # the end, or a backslash at the very end
            return None
        if data[end] == 0x28:  # "("
            depth += 1
        else:  # ")": the run stops at nothing else
            depth -= 1
            if depth == 0:
                break
        end += 1
    body = data[pos + 1 : end]
    if b"\\" not in body:
        return body, end + 1
    if _BAD_DIGITS.search(body) is not None:
        return None  # "\\8", "\\18": pyHanko raises
    parts = _ESCAPE.split(body)
    try:
        parts[1::2] = [_ESCAPE_VALUES[escape] for escape in parts[1::2]]
    except KeyError:  # an unknown escape or an octal value over 255: pyHanko raises
        return None
    return b"".join(parts), end + 1


def is_printable_ascii(data: bytes) -> bool:
    """Whether ``data`` is all printable ASCII: PDFDocEncoding decodes it as ASCII, no BOM."""
    return _PRINTABLE_ASCII_BYTES.fullmatch(data) is not None


def printable_ascii(text: str) -> bytes | None:
    """``text`` in PDFDocEncoding when all of it is printable ASCII (where that encoding is
    ASCII); ``None`` otherwise (pyHanko's encoder decides)."""
    return text.encode("ascii") if _PRINTABLE_ASCII.fullmatch(text) is not None else None


def literal_string(encoded: bytes) -> bytes:
    """``( ... )`` as ``TextStringObject.write_to_stream`` writes ``encoded`` (no encryption)."""
    return b"(" + b"".join([_STRING_BYTES[c] for c in encoded]) + b")"


# --------------------------------------------------------------------------- dictionaries

_ENDS_NAME = rb"(?=[ \n\r\t\f\x00()<>\[\]{}/%]|\Z)"  # pyHanko reads a name up to one of these
# whitespace and comments between tokens (pyHanko's ``read_non_whitespace`` skips both); possessive
# quantifiers throughout: a failed match never backtracks (no pathological input can make it slow)
_GAP = rb"[ \n\r\t\f\x00]*+(?:%[^\r\n]*+[ \n\r\t\f\x00]*+)*+"
_TOKEN = re.compile(
    _GAP + rb"(?:"
    rb"(/["
    + _PLAIN
    + rb"]*+)"
    + _ENDS_NAME  # 1: a name without escapes
    + rb"|([0-9]++)[ \t\n\r\f]++([0-9]++)[ \t\n\r\f]++R"  # 2 and 3: a reference
    rb"|([+\-.0-9][+,\-.0-9]*+)"  # 4: pyHanko's number bytes
    rb"|(<<)|(>>)|(\[)|(\])"  # 5-8
    rb"|(\()|(<)"  # 9: a literal string, 10: a hex string
    rb"|(true|false|null)"  # 11
    rb"|(.))",  # 12: anything else (a stray byte): pyHanko's
    re.S,
)
_INTEGER = re.compile(rb"[+-]?[0-9]+")
# the rest of an array that holds integers only, each ending at whitespace or "]" (as the number
# token would: "1-2" is one token, which pyHanko refuses), comments excluded (the token loop's)
_INTEGER_ARRAY = re.compile(rb"((?:[ \n\r\t\f\x00]*+[+-]?[0-9]++(?=[ \n\r\t\f\x00\]]))*+)[ \n\r\t\f\x00]*+\]")
_DECIMAL = re.compile(rb"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_INDIRECT = re.compile(rb"(\d+)\s+(\d+)\s+R[^a-zA-Z]")  # pyhanko.pdf_utils.generic.INDIRECT_PATTERN
_AFTER_DICT = re.compile(_GAP + rb"(.)", re.S)
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_MAX_DEPTH = 32
_WINDOWS = (2048, 32768, 524288)


@dataclass(frozen=True)
class Constructors:
    """The object classes to build (pyHanko's ``generic`` ones, given by ``pdf.py``)."""

    name: Callable[[str], Any]
    integer: Callable[[str], Any]
    decimal: Callable[[str], Any]
    string: Callable[[bytes], Any]  # ``pdf_string``: text or bytes, as pyHanko guesses
    reference: Callable[[int, int, Any], Any]  # (number, generation, handler)
    boolean: Callable[[bool], Any]
    null: Callable[[], Any]
    array: Callable[[list[Any]], Any]
    dictionary: Callable[[dict[Any, Any]], Any]


class _Incomplete(Exception):
    """The window ends inside the object."""


class _NotPlain(Exception):
    """Syntax left to pyHanko."""


def read_dictionary(
    stream: BinaryIO, make: Constructors, container: Any, handler: Any
) -> dict[Any, Any] | None:
    """The entries of the dictionary ``<< ... >>`` at the stream's position, as
    ``DictionaryObject.read_from_stream`` reads them (every value's ``container_ref`` set to
    ``container``, references made with ``handler``), the stream left just after ``>>``.
    ``None``, the stream where it was, for anything but the plain syntax."""
    start = stream.tell()
    for size in _WINDOWS:
        stream.seek(start)
        data = stream.read(size)
        eof = len(data) < size
        try:
            entries, end = _parse_dictionary(data, eof, make, container, handler)
        except _Incomplete:
            if eof:
                break
            continue
        except _NotPlain:
            break
        stream.seek(start + end)
        return entries
    stream.seek(start)
    return None


def _parse_dictionary(
    data: bytes, eof: bool, make: Constructors, container: Any, handler: Any
) -> tuple[dict[Any, Any], int]:
    """The dictionary at the start of ``data``; ``eof``: nothing follows ``data``."""
    if not data.startswith(b"<<"):
        raise _NotPlain
    name, new_dict, new_array = make.name, make.dictionary, make.array
    size = len(data)
    # the open containers, innermost last: (entries or items, the key awaiting its value)
    stack: list[tuple[Any, Any]] = []
    current: Any = {}  # a dict (entries) or a list (items)
    key: Any = None
    pos = 2
    while True:
        match = _TOKEN.match(data, pos)
        if match is None:  # only whitespace left in hand
            raise _Incomplete
        kind = match.lastindex
        end = match.end()
        in_dict = type(current) is dict
        if in_dict and key is None:  # a key, or the end of the dictionary
            if kind == 1:
                if end >= size and not eof:
                    raise _Incomplete
                key = name(match.group(1).decode("ascii"))
                if key in current:  # pyHanko keeps the first, and warns (or refuses, strict)
                    raise _NotPlain
                pos = end
                continue
            if kind != 6:
                raise _NotPlain
            value = current
            if not stack:  # the outermost dictionary: the caller looks for a stream after it
                return value, end
            after = _AFTER_DICT.match(data, end)
            if after is None:
                if not eof:
                    raise _Incomplete
            elif after.group(1) == b"s":  # a stream after an inner dictionary: pyHanko's reader
                raise _NotPlain
            value = new_dict(value)
            current, key = stack.pop()
        elif kind == 8 and not in_dict:  # "]"
            value = new_array(current)
            current, key = stack.pop()
        elif kind == 1:
            if end >= size and not eof:
                raise _Incomplete
            value = name(match.group(1).decode("ascii"))
        elif kind == 3:  # a reference (groups 2 and 3: ``lastindex`` is 3)
            start = match.start(2)
            peek_end = start + 20  # pyHanko decides "reference or number" on 20 bytes
            if end >= size or (peek_end > size and not eof):
                raise _Incomplete
            number = int(match.group(2))
            if end >= peek_end or not _INDIRECT.match(data, start, peek_end) or number <= 0:
                raise _NotPlain
            value = make.reference(number, int(match.group(3)), handler)
        elif kind == 4:
            if end >= size and not eof:
                raise _Incomplete
            token = match.group(4)
            start = match.start(4)
            if data[start] in b"0123456789":
                if start + 20 > size and not eof:
                    raise _Incomplete
                if _INDIRECT.match(data, start, start + 20):  # pyHanko: a reference, read oddly
                    raise _NotPlain
            if b"." in token:
                if _DECIMAL.fullmatch(token) is None:
                    raise _NotPlain
                value = make.decimal(token.decode("ascii"))
            elif _INTEGER.fullmatch(token) is None:
                raise _NotPlain
            else:
                value = make.integer(token.decode("ascii"))
        elif (kind == 5 or kind == 7) and len(stack) >= _MAX_DEPTH:
            raise _NotPlain
        elif kind == 7 and (run := _INTEGER_ARRAY.match(data, end)) is not None:
            # "[" integers "]", a font's widths: in one go
            items = [make.integer(token.decode("ascii")) for token in _INTEGER.findall(run.group(1))]
            for item in items:
                item.container_ref = container
            value = new_array(items)
            end = run.end()
        elif kind == 5 or kind == 7:  # "<<" or "["
            stack.append((current, key))
            current = {} if kind == 5 else []
            key = None
            pos = end
            continue
        elif kind == 9:
            found = string_literal_at(data, match.start(9))
            if found is None:
                raise _NotPlain if eof else _Incomplete
            raw, end = found
            value = make.string(raw)
        elif kind == 10:
            close = data.find(b">", end)
            if close < 0:
                raise _NotPlain if eof else _Incomplete
            digits = data[end:close].translate(None, WHITESPACE)
            if digits.translate(None, _HEX_DIGITS):  # a comment or a stray byte
                raise _NotPlain
            if len(digits) % 2:
                digits += b"0"
            value = make.string(binascii.unhexlify(digits))
            end = close + 1
        elif kind == 11:
            word = match.group(11)
            value = make.null() if word == b"null" else make.boolean(word == b"true")
        else:  # ">>" in an array, "]" in a dictionary, anything else
            raise _NotPlain
        value.container_ref = container
        if type(current) is dict:
            current[key] = value
            key = None
        else:
            current.append(value)
        pos = end
