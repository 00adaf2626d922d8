"""Cold verification's speed-ups change no verdict (issue 6).

``app.signing.pdf`` replaces two library routines with faster equivalents (pyHanko's hex-string reader,
asn1crypto's RFC 4518 name preparation) and validates all signatures of a file from one parse, on one
event loop, with the trust roots parsed once.  Here each replacement is held to the original on the
same input, and whole reports (genuine, tampered, appended, untrusted, B-LT) are held to what the
original routines and the old one-``asyncio.run``-per-signature flow produce.
"""

from __future__ import annotations

import io
import socket
from typing import Any

import pytest
from asn1crypto import cms, crl, x509
from pyhanko.pdf_utils import generic
from pyhanko_certvalidator import ValidationContext

from app.keys.hsm import KeyAlgorithm
from app.signing import pdf as engine
from app.signing.pdf import add_verification_qr, check_signatures, sign_pdf, signed_revisions, verify_pdf
from app.signing.reports import Level, Revocation, VerificationReport
from tests.fixtures.pki import MemoryPki
from tests.unit.test_signing_engine import DEPUTY, TEACHER, simple_pdf

URL = "http://localhost:5000/v/fast-paths"


# --------------------------------------------------------------------------- hex strings

HEX_INPUTS = [
    b"<>",
    b"<41>",
    b"<4>",
    b"<414>",
    b"<41 42\n43\r44\t45\x0c46\x0047>",
    b"<48656c6c6F>rest of the file",
    b"<feff00410042>",  # UTF-16 with a BOM: a text string
    b"<" + b"0123456789abcdef" * 1000 + b">",  # a signature's /Contents, longer than one chunk
    b"<" + b"ab" * 127 + b" " + b"cd" * 200 + b">",  # the closing > in the second chunk
    b"<41 % a comment\n42>",  # comments: pyHanko's own reader
    b"<41 % a comment with > inside\n42>",
    b"<41zz>",  # an invalid byte
    b"<4142",  # no end
    b"<41>>",
]


def _read(reader: Any, data: bytes) -> tuple[Any, ...]:
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return (type(value), bytes(value.original_bytes), str(value), stream.tell())


@pytest.mark.parametrize("data", HEX_INPUTS)
def test_hex_strings_read_as_pyhanko_reads_them(data: bytes) -> None:
    assert _read(engine._read_hex_string, data) == _read(engine._original_read_hex_string, data)


def test_the_parser_uses_the_fast_hex_reader() -> None:
    assert generic.read_hex_string_from_stream is engine._read_hex_string
    parsed = generic.read_object(io.BytesIO(b"<3082 01>"), None)  # type: ignore[arg-type]
    assert isinstance(parsed, generic.ByteStringObject) and bytes(parsed) == b"\x30\x82\x01"


# --------------------------------------------------------------------------- X.509 name preparation

NAMES = [
    "Nguyễn Thị Hồng Vân",
    "Trường THPT Chu Văn An",
    "Signet DEVELOPMENT CA — NOT TRUSTED",
    "  Many   spaces  ",
    "soft\u00adhyphen and zero\u200bwidth",
    "VN",
    "",
]


@pytest.mark.parametrize("value", NAMES)
def test_name_preparation_is_the_original(value: str) -> None:
    assert engine._ldap_string_prep(None, value) == engine._original_ldap_string_prep(None, value)
    assert engine._ldap_string_prep(None, value) == engine._original_ldap_string_prep(None, value)


def test_a_name_the_original_refuses_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ValueError):
            engine._ldap_string_prep(None, "private \ue000 use")


def test_names_compare_as_before() -> None:
    def name(cn: str) -> x509.Name:
        return x509.Name.build({"common_name": cn, "country_name": "VN"})

    assert name("Nguyễn  Thị Hồng Vân") == name("nguyễn thị hồng vân")
    assert name("Nguyễn Thị Hồng Vân") != name("Nguyen Thi Hong Van")


# --------------------------------------------------------------------------- whole reports


def _old_verify(pdf: bytes, roots: list[bytes]) -> VerificationReport:
    """The flow before issue 6: a fresh context (roots and DSS CRLs parsed again) and an
    ``asyncio.run`` per signature, through pyHanko's synchronous wrapper."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    embedded = list(reader.embedded_signatures)
    dss = reader.root.get("/DSS")
    dss = dss.get_object() if dss is not None else None
    crl_issuers = {crl.CertificateList.load(der).issuer.dump() for der in engine._dss_crls(dss)}
    reports = []
    for sig in embedded:
        context = ValidationContext(
            trust_roots=[x509.Certificate.load(der) for der in roots],
            crls=[crl.CertificateList.load(der) for der in engine._dss_crls(dss)],
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        try:
            status = validate_pdf_signature(
                sig, signer_validation_context=context, ts_validation_context=context
            )
        except Exception as exc:
            reports.append(engine._broken_signature(sig, type(exc).__name__))
            continue
        reports.append(engine._signature_report(sig, status, crl_issuers))
    return VerificationReport(signatures=tuple(reports))


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


@pytest.fixture(scope="module")
def files(pki: MemoryPki) -> dict[str, bytes]:
    tsa = pki.tsa()
    doc = add_verification_qr(simple_pdf(), url=URL)
    signers = [
        (pki.credential("Nguyễn Thị Hồng Vân"), TEACHER),
        (pki.credential("Trần Văn Bình", KeyAlgorithm.P256), DEPUTY),
        (pki.credential("Trường THPT Chu Văn An"), None),
    ]
    doc = pki.sign_in_turn(doc, signers, tsa)
    one = sign_pdf(simple_pdf(), material=signers[0][0], hsm=pki.hsm, level=Level.BB)
    blt = sign_pdf(
        simple_pdf(),
        material=signers[2][0],
        hsm=pki.hsm,
        level=Level.BLT,
        tsa=tsa,
        revocation=Revocation(trust_roots=(pki.root_der,), crls=(pki.crl_der(),)),
    )
    start = doc.rindex(b"/Contents <") + len(b"/Contents <")
    signed_data = cms.ContentInfo.load(bytes.fromhex(doc[start : doc.index(b">", start)].decode()))["content"]
    value = signed_data["signer_infos"][0]["signature"].native.hex().upper().encode()
    at = doc.index(value, start) + 20
    corrupt_cms = bytearray(doc)
    corrupt_cms[at : at + 2] = b"00" if doc[at : at + 2] != b"00" else b"11"
    return {
        "three signatures": doc,
        "tampered": one.replace(b"SCORE 8.5", b"SCORE 9.5"),
        "incremental update": add_verification_qr(doc, url=URL + "/forged"),
        "bytes appended": doc + b"\n% appended\n",
        "b-lt": blt,
        "signature value damaged": bytes(corrupt_cms),
    }


def _originals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generic, "read_hex_string_from_stream", engine._original_read_hex_string)
    monkeypatch.setattr(x509.NameTypeAndValue, "_ldap_string_prep", engine._original_ldap_string_prep)


CASES = ("three signatures", "tampered", "incremental update", "bytes appended", "b-lt")


@pytest.mark.parametrize("name", [*CASES, "signature value damaged"])
@pytest.mark.parametrize("roots", ["ours", "someone else's"])
def test_reports_are_what_the_old_flow_and_the_original_routines_give(
    pki: MemoryPki, files: dict[str, bytes], name: str, roots: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = files[name]
    trust = [pki.root_der] if roots == "ours" else [MemoryPki.create("Someone Else's CA").root_der]
    report, revisions = check_signatures(data, trust_roots=trust)
    assert report == verify_pdf(data, trust_roots=trust)
    assert revisions == signed_revisions(data)
    with monkeypatch.context() as m:
        _originals(m)
        assert report == _old_verify(data, trust)
        assert revisions == signed_revisions(data)
    assert report.signatures, name


def test_the_verdicts_themselves(pki: MemoryPki, files: dict[str, bytes]) -> None:
    def valid(name: str) -> list[bool]:
        return [s.valid for s in verify_pdf(files[name], trust_roots=[pki.root_der]).signatures]

    assert valid("three signatures") == [True, True, True]
    assert valid("tampered") == [False]
    assert valid("incremental update") == [False, False, False]
    assert valid("bytes appended") == [True, True, True]  # a comment changes no object
    assert valid("b-lt") == [True]
    assert valid("signature value damaged")[:2] == [True, True]
    assert valid("signature value damaged")[2] is False


def test_verification_opens_no_connection(
    pki: MemoryPki, files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificates name CRL and CA-issuer URLs; none is fetched (no network revocation checks)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("verification tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert verify_pdf(files["three signatures"], trust_roots=[pki.root_der]).valid
    assert verify_pdf(files["b-lt"], trust_roots=[pki.root_der]).valid
