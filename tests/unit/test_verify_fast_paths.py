"""Cold verification's speed-ups change no verdict (issue 6).

``app.signing.pdf`` replaces library routines with faster equivalents (pyHanko's hex-string reader,
its copying of historical objects and its walks of their graphs, asn1crypto's RFC 4518 name
preparation, name comparison and name keys, pyHanko's certificate-usage validation answered from a
per-report memo, its extraction of a CMS value's certificates), validates all signatures of a file
from one parse, on one event loop, with the trust roots parsed once, and pauses the cyclic garbage
collector meanwhile.  Here each replacement is held to the original on the same input, and whole
reports (genuine, tampered, appended, untrusted, B-LT, a timestamp path only one token can build, an
illegal revision between two signatures) are held to what the original routines and the old
one-``asyncio.run``-per-signature flow produce.
"""

from __future__ import annotations

import gc
import io
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asn1crypto import cms, crl, x509
from cryptography import x509 as pyca_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader
from pyhanko.sign.validation import generic_cms
from pyhanko_certvalidator import ValidationContext

from app.keys.hsm import KeyAlgorithm
from app.signing import pdf as engine
from app.signing.pdf import add_verification_qr, check_signatures, sign_pdf, signed_revisions, verify_pdf
from app.signing.reports import Level, Revocation, VerificationReport
from tests.fixtures.pki import MemoryPki, Tsa
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


# --------------------------------------------------------------------------- PDF objects, described


def _describe(obj: Any, handler: Any = None) -> Any:
    """Everything about a parsed object that a reader of it could see: types, values, container
    references (also on keys, which pyHanko leaves unset), the handler references point to."""
    if isinstance(obj, generic.DecryptedObjectProxy):
        return ("proxy", _describe(obj.raw_object, handler))
    ref = obj.__dict__.get("container_ref", "unset") if hasattr(obj, "__dict__") else "none"
    if isinstance(ref, generic.Reference):
        ref = ("ref", ref.idnum, ref.generation, ref.pdf is handler)
    elif ref is not None and ref != "unset":
        ref = type(ref).__name__
    head = (type(obj).__name__, ref)
    if isinstance(obj, dict):
        entries = tuple(
            (key, type(key).__name__, "container_ref" in key.__dict__, _describe(value, handler))
            for key, value in obj.items()
        )
        data = obj.encoded_data if isinstance(obj, generic.StreamObject) else None
        return (*head, entries, data)
    if isinstance(obj, list):
        return (*head, tuple(_describe(item, handler) for item in obj))
    if isinstance(obj, generic.IndirectObject):
        return (*head, obj.idnum, obj.generation, obj.reference.pdf is handler)
    if isinstance(obj, generic.BooleanObject):
        return (*head, obj.value)
    if isinstance(obj, generic.NullObject):
        return head
    if isinstance(obj, generic.TextStringObject):
        return (*head, str(obj), obj.original_bytes, obj.autodetected_encoding)
    return (*head, repr(obj), str(obj))


def test_the_resolvers_use_the_fast_copy() -> None:
    assert HistoricalResolver._subsume_object is engine.subsume_object


# --------------------------------------------------------------------------- historical revisions


def _copies(data: bytes) -> list[Any]:
    """Every object as each revision's resolver sees it (what ``_subsume_object`` made)."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    out = []
    for revision in range(reader.xrefs.total_revisions):
        resolver = reader.get_historical_resolver(revision)
        for ref in sorted(reader.xrefs.explicit_refs_in_revision(revision), key=lambda r: r.idnum):
            for back in range(revision, reader.xrefs.total_revisions):
                view = reader.get_historical_resolver(back)
                out.append((revision, back, ref.idnum, _describe(view(ref), view)))
        out.append((revision, "trailer", _describe(resolver.trailer_view, resolver)))
    return out


def test_revisions_are_copied_as_before(files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("three signatures", "incremental update", "illegal revision between signatures"):
        fast = _copies(files[name])
        with monkeypatch.context() as m:
            m.setattr(HistoricalResolver, "_subsume_object", engine._original_subsume)
            assert fast == _copies(files[name]), name


# --------------------------------------------------------------------------- reference walks


def _raw_pdf(objects: dict[int, bytes], root: int = 1) -> bytes:
    """A classic PDF file of ``objects`` (number -> body), with its cross-reference table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = {}
    for number, body in sorted(objects.items()):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    size = max(objects) + 1
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number] if number in offsets else b"0000000000 00000 f \n"
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, xref)
    return bytes(out)


def _tagged_pdf() -> bytes:
    """Three pages in a nested page tree, linked to one another, under a structure tree (the
    special cases of pyHanko's path walk: pages entered from elsewhere, /Parent, the structure
    tree's /P, a form field's widget and its /Parent), with a font's widths array (leaves)."""
    page = (
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents 20 0 R "
        b"/Resources << /Font << /F1 30 0 R >> >> %s >>"
    )
    stream = b"BT /F1 12 Tf 72 760 Td (HOC BA) Tj ET"
    return _raw_pdf(
        {
            1: b"<< /Type /Catalog /Pages 2 0 R /StructTreeRoot 10 0 R /MarkInfo << /Marked true >> "
            b"/AcroForm << /Fields [50 0 R] >> >>",
            2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 3 >>",
            3: page % (2, b"/Annots [40 0 R] /StructParents 0"),
            4: b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R] /Count 2 >>",
            5: page % (4, b"/Annots [41 0 R]"),
            6: page % (4, b"/Annots [51 0 R]"),
            10: b"<< /Type /StructTreeRoot /K 11 0 R /ParentTree << /Nums [0 [12 0 R]] >> >>",
            11: b"<< /Type /StructElem /S /Document /P 10 0 R /K [12 0 R 13 0 R] >>",
            12: b"<< /S /P /P 11 0 R /Pg 3 0 R /K 0 >>",
            13: b"<< /Type /StructElem /S /Link /P 11 0 R /K [<< /Type /OBJR /Obj 40 0 R >> 14 0 R] >>",
            14: b"<< /Type /StructElem /S /Span /P 13 0 R /Pg 5 0 R /K 1 >>",
            20: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
            30: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 32 /LastChar 126 "
            b"/Widths [" + b" ".join(b"%d" % (500 + n) for n in range(95)) + b"] >>",
            40: b"<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /Dest [5 0 R /Fit] /P 3 0 R "
            b"/StructParent 1 >>",
            41: b"<< /Type /Annot /Subtype /Link /Rect [72 700 200 720] /Dest [3 0 R /XYZ 0 0 0] >>",
            50: b"<< /FT /Tx /T (ghi chu) /Kids [51 0 R] >>",
            51: b"<< /Type /Annot /Subtype /Widget /Rect [72 600 200 620] /Parent 50 0 R /P 6 0 R >>",
        }
    )


def _walks(data: bytes) -> list[Any]:
    """What both walks find in every revision: each object's paths from the trailer, and the new
    objects reached from the trailer and from each object the revision writes."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    out: list[Any] = []
    for revision in range(reader.xrefs.total_revisions):
        resolver = reader.get_historical_resolver(revision)
        resolver._load_reverse_xref_cache()
        cache = resolver._indirect_object_access_cache
        out.append({(ref.idnum, ref.generation): {p.path for p in paths} for ref, paths in cache.items()})
        starts = [resolver.trailer_view, *(resolver(ref) for ref in resolver.explicit_refs_in_revision())]
        for start in starts:
            for since in (None, revision, max(revision - 1, 0)):
                found = resolver.collect_dependencies(start, since_revision=since)
                out.append((since, sorted((ref.idnum, ref.generation) for ref in found)))
    return out


def test_the_resolvers_use_the_fast_walks() -> None:
    assert HistoricalResolver._load_reverse_xref_cache is engine.load_reverse_xref_cache
    assert HistoricalResolver._collect_indirect_references is engine.collect_indirect_references


def test_walks_find_what_the_original_walks_find(
    pki: MemoryPki, files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    tagged = _tagged_pdf()
    signers = [(pki.credential("Nguyễn Thị Hồng Vân"), TEACHER), (pki.credential("Trường THPT"), None)]
    documents = {
        "tagged, linked, nested pages": tagged,
        "the same, signed twice": pki.sign_in_turn(tagged, signers, None, level=Level.BB),
        **{name: files[name] for name in ("three signatures", "incremental update", "b-lt")},
    }
    for name, data in documents.items():
        fast = _walks(data)
        with monkeypatch.context() as m:
            m.setattr(HistoricalResolver, "_load_reverse_xref_cache", engine._original_reverse_xref_cache)
            m.setattr(HistoricalResolver, "_collect_indirect_references", engine._original_collect_references)
            assert fast == _walks(data), name
        revisions = [revision for revision in fast if isinstance(revision, dict)]
        paths = set().union(*(p for revision in revisions for p in revision.values()))
        if name.startswith("tagged"):  # the walk met the cases it must treat specially
            assert ("/Root", "/StructTreeRoot", "/K", "/K", 1, "/K", 1, "/Pg") in paths
            assert ("/Root", "/Pages", "/Kids", 0, "/Annots", 0, "/Dest", 0) in paths
            assert ("/Root", "/AcroForm", "/Fields", 0, "/Kids", 0) in paths


def test_a_circular_page_tree_fails_as_pyhanko_fails() -> None:
    circular = _tagged_pdf().replace(b"/Kids [5 0 R 6 0 R] /Count 2", b"/Kids [5 0 R 4 0 R] /Count 2")
    resolver = PdfFileReader(io.BytesIO(circular), strict=False).get_historical_resolver(0)
    with pytest.raises(Exception) as fast:
        resolver._load_reverse_xref_cache()
    resolver = PdfFileReader(io.BytesIO(circular), strict=False).get_historical_resolver(0)
    with pytest.raises(Exception) as original:
        engine._original_reverse_xref_cache(resolver)
    assert (type(fast.value), str(fast.value)) == (type(original.value), str(original.value))


# --------------------------------------------------------------------------- embedded certificates


def _signed_data_values(data: bytes) -> list[cms.SignedData]:
    """Each signature's CMS value in ``data`` and each of its timestamp tokens'."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    values = []
    for sig in reader.embedded_signatures:
        values.append(sig.signed_data)
        for attr in sig.signer_info["unsigned_attrs"] or ():
            if attr["type"].native == "signature_time_stamp_token":
                values.extend(token["content"] for token in attr["values"])
    return values


def _certificates(info: Any) -> tuple[Any, ...]:
    return (info.signer_cert.dump(), [c.dump() for c in info.other_certs], list(info.attribute_certs))


def test_every_module_asks_the_fast_extraction() -> None:
    from pyhanko.sign import general
    from pyhanko.sign.validation import ades, dss

    for module in (general, generic_cms, ades, dss):
        assert module.extract_certificate_info is engine.extract_certificate_info


def test_certificates_are_extracted_as_before_and_shared(files: dict[str, bytes]) -> None:
    values = _signed_data_values(files["three signatures"])
    assert len(values) == 6  # three signatures, three tokens
    for value in values:
        fast = engine.extract_certificate_info(value)
        assert _certificates(fast) == _certificates(engine._original_certificate_info(value))
        assert engine.extract_certificate_info(value) is fast  # asked once per value
    # the same certificates in another file (the same CA, TSA and signers): the same parsed objects
    again = [engine.extract_certificate_info(v) for v in _signed_data_values(files["incremental update"])]
    first = [engine.extract_certificate_info(v) for v in values]
    assert [a.signer_cert is b.signer_cert for a, b in zip(first, again, strict=True)] == [True] * 6
    ca = first[0].other_certs[0].subject
    assert len({id(c) for info in first + again for c in info.other_certs if c.subject == ca}) == 1


def test_a_value_without_its_signer_certificate_fails_every_time(files: dict[str, bytes]) -> None:
    from pyhanko.sign.general import CMSExtractionError

    value = _signed_data_values(files["three signatures"])[0]
    signer = engine.extract_certificate_info(value).signer_cert.dump()
    stripped = cms.SignedData.load(value.untag().dump())
    stripped["certificates"] = [c for c in stripped["certificates"] if c.chosen.dump() != signer]
    for _ in range(2):
        with pytest.raises(CMSExtractionError):
            engine.extract_certificate_info(stripped)


def _signer(value: cms.SignedData) -> tuple[Any, Any]:
    """A CMS value's signer certificate (the shared object) and its signed attributes."""
    return engine.extract_certificate_info(value).signer_cert, value["signer_infos"][0]["signed_attrs"]


def test_the_signing_certificate_check_is_the_fast_one() -> None:
    assert generic_cms._check_signing_certificate is engine.check_signing_certificate


def test_a_signing_certificate_attribute_that_matched_is_remembered(
    files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[Any] = []
    original = engine._original_check_signing_certificate
    monkeypatch.setattr(
        engine, "_original_check_signing_certificate", lambda c, a: asked.append(c) or original(c, a)
    )
    values = _signed_data_values(files["three signatures"])
    for value in values:
        engine.check_signing_certificate(*_signer(value))
    # the same signers and TSA in another file (other signed attributes, the same ESSCertIDs)
    for value in _signed_data_values(files["incremental update"]):
        engine.check_signing_certificate(*_signer(value))
    assert len(asked) == len({id(c) for c in asked}) == 4  # three signers and the TSA, once each


def test_a_signing_certificate_attribute_naming_another_certificate_fails_every_time(
    files: dict[str, bytes],
) -> None:
    from pyhanko.sign.validation.errors import SignatureValidationError

    teacher, principal = _signed_data_values(files["three signatures"])[0:3:2]  # signatures 1 and 2
    teacher_cert, teacher_attrs = _signer(teacher)
    principal_cert, principal_attrs = _signer(principal)
    assert teacher_cert is not principal_cert
    engine.check_signing_certificate(teacher_cert, teacher_attrs)  # matched: remembered
    engine.check_signing_certificate(principal_cert, principal_attrs)
    for _ in range(2):
        for cert, attrs in ((teacher_cert, principal_attrs), (principal_cert, teacher_attrs)):
            with pytest.raises(SignatureValidationError, match="Signing certificate attribute"):
                engine.check_signing_certificate(cert, attrs)
            with pytest.raises(SignatureValidationError, match="Signing certificate attribute"):
                engine._original_check_signing_certificate(cert, attrs)


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


def _names() -> list[x509.Name]:
    out = [x509.Name.build({"common_name": cn, "country_name": "VN"}) for cn in NAMES]
    out += [  # the same values as PrintableString: names compare equal across string types
        x509.Name.build({"common_name": cn, "country_name": "VN"}, use_printable=True)
        for cn in ("Signet DEVELOPMENT CA", "  Many   spaces  ")
    ]
    out.append(x509.Name.build({"common_name": "Nguyễn  Thị Hồng Vân", "country_name": "VN"}))
    out.append(x509.Name.build({"organization_name": "Signet", "common_name": "VN"}))
    return out


def test_names_compare_and_key_as_asn1crypto_does() -> None:
    names = _names()
    for a in names:
        reparsed = x509.Name.load(a.dump())
        assert engine.rdn_hashable(a.chosen) == engine._original_rdn_hashable.fget(a.chosen)
        assert reparsed.hashable == engine._original_rdn_hashable.fget(reparsed.chosen)
        for b in names:
            expected = engine._original_rdn_eq(a.chosen, b.chosen)
            assert engine.rdn_eq(a.chosen, b.chosen) is expected
            assert (x509.Name.load(a.dump()) == x509.Name.load(b.dump())) is expected
            assert (a != b) is not expected
    assert not engine.rdn_eq(names[0].chosen, "not a name")


def test_a_name_asn1crypto_cannot_prepare_fails_every_time() -> None:
    bad = x509.Name.build({"common_name": "private \ue000 use"})
    for _ in range(2):
        with pytest.raises(ValueError):
            bad == x509.Name.build({"common_name": "x"})  # noqa: B015
        with pytest.raises(ValueError):
            bad.hashable  # noqa: B018


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


def _intermediate(pki: MemoryPki) -> MemoryPki:
    """A CA issued by ``pki``'s root (so not a trust root itself), as a MemoryPki that issues."""
    key = rsa.generate_private_key(65537, 2048)
    now = datetime.now(UTC)
    cert = (
        pyca_x509.CertificateBuilder()
        .subject_name(pyca_x509.Name.from_rfc4514_string("CN=Signet Test Timestamping CA,O=Signet Test,C=VN"))
        .issuer_name(pki.root_cert.subject)
        .public_key(key.public_key())
        .serial_number(pyca_x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(pyca_x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            pyca_x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(pyca_x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            pyca_x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.root_key.public_key()),
            critical=False,
        )
        .sign(pki.root_key, hashes.SHA256())
    )
    return MemoryPki(root_key=key, root_cert=cert, hsm=pki.hsm)


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
    # the page drawn on (a new QR code) between the first signature and the second
    first = pki.sign_in_turn(add_verification_qr(simple_pdf(), url=URL), signers[:1], tsa)
    between = pki.sign_in_turn(add_verification_qr(first, url=URL + "/forged"), signers[1:2], tsa)
    # one TSA certificate, issued by an intermediate CA that only the first token carries: the
    # second token's path cannot be built, whatever the first one's validation found
    via = _intermediate(pki).tsa()
    bare = Tsa(key=via.key, cert_der=via.cert_der, chain=())
    two_tokens = pki.sign_in_turn(add_verification_qr(simple_pdf(), url=URL), signers[:1], via)
    two_tokens = pki.sign_in_turn(two_tokens, signers[1:2], bare)
    return {
        "three signatures": doc,
        "tampered": one.replace(b"SCORE 8.5", b"SCORE 9.5"),
        "incremental update": add_verification_qr(doc, url=URL + "/forged"),
        "bytes appended": doc + b"\n% appended\n",
        "b-lt": blt,
        "signature value damaged": bytes(corrupt_cms),
        "illegal revision between signatures": between,
        "one TSA, its CA in one token only": two_tokens,
    }


def _originals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generic, "read_hex_string_from_stream", engine._original_read_hex_string)
    monkeypatch.setattr(x509.NameTypeAndValue, "_ldap_string_prep", engine._original_ldap_string_prep)
    monkeypatch.setattr(HistoricalResolver, "_subsume_object", engine._original_subsume)
    for name, original in (
        ("_load_reverse_xref_cache", engine._original_reverse_xref_cache),
        ("_collect_indirect_references", engine._original_collect_references),
    ):
        monkeypatch.setattr(HistoricalResolver, name, original)
    monkeypatch.setattr(x509.RDNSequence, "__eq__", engine._original_rdn_eq)
    monkeypatch.setattr(x509.RDNSequence, "hashable", engine._original_rdn_hashable)
    monkeypatch.setattr(generic_cms, "validate_cert_usage", engine._original_validate_cert_usage)
    monkeypatch.setattr(generic_cms, "_check_signing_certificate", engine._original_check_signing_certificate)
    from pyhanko.sign import general
    from pyhanko.sign.validation import ades, dss

    for module in (general, generic_cms, ades, dss):
        monkeypatch.setattr(module, "extract_certificate_info", engine._original_certificate_info)


CASES = (
    "three signatures",
    "tampered",
    "incremental update",
    "bytes appended",
    "b-lt",
    "illegal revision between signatures",
    "one TSA, its CA in one token only",
)


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
    # the first signature saw its page drawn on; the second signed that page as it was
    assert valid("illegal revision between signatures") == [False, True]
    # the second token's TSA certificate has no path without the CA only the first token carried
    assert valid("one TSA, its CA in one token only") == [True, False]
    second = verify_pdf(files["one TSA, its CA in one token only"], trust_roots=[pki.root_der]).signatures[1]
    assert second.intact and second.trusted
    assert second.problems == ("the timestamp is not valid or not trusted",)


def test_the_tsa_path_is_validated_once_per_report(
    pki: MemoryPki, files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three tokens of one TSA: its certificate's path is validated once, the signers' each once;
    a second report validates again (the memo lives as long as one report)."""
    calls: list[str] = []
    original = engine._original_validate_cert_usage

    async def counting(cert: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(cert.subject.native["common_name"])
        return await original(cert, *args, **kwargs)

    monkeypatch.setattr(engine, "_original_validate_cert_usage", counting)
    for _ in range(2):
        calls.clear()
        assert verify_pdf(files["three signatures"], trust_roots=[pki.root_der]).valid
        assert sorted(calls) == sorted(
            ["Signet Test TSA", "Nguyễn Thị Hồng Vân", "Trần Văn Bình", "Trường THPT Chu Văn An"]
        )
    calls.clear()
    verify_pdf(files["one TSA, its CA in one token only"], trust_roots=[pki.root_der])
    assert calls.count("Signet Test TSA") == 2  # a different set of candidate certificates


def test_other_validation_contexts_have_no_memo(pki: MemoryPki) -> None:
    context = ValidationContext(trust_roots=[x509.Certificate.load(pki.root_der)])
    assert getattr(context, engine.PATH_MEMO, None) is None


# --------------------------------------------------------------------------- the collector's pause


def test_the_collector_runs_again_after_verification(pki: MemoryPki, files: dict[str, bytes]) -> None:
    assert gc.isenabled()
    verify_pdf(files["three signatures"], trust_roots=[pki.root_der])
    assert gc.isenabled()
    with pytest.raises(engine.PdfError):
        check_signatures(b"%PDF-1.7\nnot really\nstartxref\n9\n%%EOF\n", trust_roots=[pki.root_der])
    assert gc.isenabled()


def test_a_collector_the_caller_disabled_stays_disabled(pki: MemoryPki, files: dict[str, bytes]) -> None:
    gc.disable()
    try:
        verify_pdf(files["three signatures"], trust_roots=[pki.root_der])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_verifications_resume_the_collector_once_all_end(
    pki: MemoryPki, files: dict[str, bytes]
) -> None:
    inside = threading.Event()
    release = threading.Event()
    with engine._collector_paused():
        assert not gc.isenabled()

        def other() -> None:
            with engine._collector_paused():
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=other)
        thread.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # the other one is still running
    release.set()
    thread.join(10)
    assert gc.isenabled()


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
