"""PDF signing and verification: the only module that imports pyHanko.

Bytes in, bytes out.  Keys stay in the HSM: ``_HsmSigner`` hashes what pyHanko asks it to sign and
hands the digest to our ``Hsm`` port, so the PKCS#11 session (one per process, behind the adapter's
lock) is never touched here.

Throughput is the reason for the caches (see recipes/softhsm-pyhanko.md): per credential the
certificates are parsed once and the signing-certificate-v2 attribute is encoded once; the CMS size
is computed from the certificates instead of a dry-run signature (``bytes_reserved``); a visible
stamp is typeset and its font subset embedded once per (text, box), then copied into each document.
Caches are per thread because asn1crypto and pyHanko objects parse lazily and are not thread-safe.
pyHanko's dictionary reader and its name and text-string writers are replaced by equivalents that
do the plain syntax in whole pieces ("PDF syntax fast paths" below, ``pdfsyntax.py``).
"""

from __future__ import annotations

import asyncio
import binascii
import codecs
import concurrent.futures
import contextlib
import dataclasses
import functools
import gc
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, TypeVar, cast

import structlog
from asn1crypto import algos, cms, crl, tsp, x509
from flask import current_app, has_app_context
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PDF_WHITESPACE
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader, RawPdfPath
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign import general as sign_general
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import ades, dss, generic_cms
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.stamp import BaseStampStyle, TextStamp, TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import LazyPathIterator, SimpleCertificateStore

from app.errors import AppError
from app.keys.hsm import HashAlgorithm, Hsm, KeyAlgorithm
from app.signing import pdfsyntax
from app.signing.cms import CmsTemplate, EncodedContentInfo, token_from_response
from app.signing.cms import build as build_cms
from app.signing.errors import (
    PdfChangesForbidden,
    PdfCorrupt,
    PdfEncrypted,
    PdfError,
    SigningFailed,
    TimestampUnavailable,
)
from app.signing.inputs import check_bytes
from app.signing.reports import (
    Level,
    Material,
    PdfInfo,
    Revocation,
    SignatureReport,
    TsaClient,
    VerificationReport,
)
from app.signing.stamps import Stamp, StampPlacement

log = structlog.get_logger(__name__)

FONT_DIR = Path(__file__).parent / "fonts"
# Noto Sans cut down to Latin and Vietnamese (fonts/OFL.txt): a new stamp text is typeset in ≈ 55 ms
# instead of ≈ 165 (fontTools reads the whole font's layout tables to subset it)
STAMP_FONT = FONT_DIR / "NotoSans-Regular-vi.ttf"
_SIG_BYTES = {KeyAlgorithm.RSA2048: 256, KeyAlgorithm.RSA3072: 384, KeyAlgorithm.P256: 72}
_CMS_OVERHEAD = 1536  # SignedData/SignerInfo framing + signed attributes, generously
_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])
_local = threading.local()


def _run(coro: Any) -> Any:
    """Run one pyHanko coroutine on this thread's own event loop (kept: creating one costs ~0.3 ms).

    When the calling thread already runs an event loop (an async caller, or Playwright's sync API in
    the same process), the coroutine runs on a helper thread instead: a loop cannot be re-entered.
    """
    if asyncio._get_running_loop() is not None:
        # the helper thread gets the caller's application (the dev TSA reads the database)
        app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]

        def in_helper() -> Any:
            if app is None:
                return _run(coro)
            with app.app_context():
                return _run(coro)

        return _loop_thread().submit(in_helper).result()
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _local.loop = loop
    return loop.run_until_complete(coro)


def _off_running_loop(fn: _F) -> _F:
    """pyHanko's own sync wrappers call ``asyncio.run``, which fails in a thread that already runs an
    event loop (an async caller, or Playwright's sync API in the same process): such calls of our
    public functions are carried out on the helper thread, with the caller's application."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if asyncio._get_running_loop() is None:
            return fn(*args, **kwargs)
        app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]

        def in_helper() -> Any:
            if app is None:
                return fn(*args, **kwargs)
            with app.app_context():
                return fn(*args, **kwargs)

        return _loop_thread().submit(in_helper).result()

    return cast(_F, wrapper)


@functools.cache
def _loop_thread() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf-loop")


# --------------------------------------------------------------------------- per-thread caches


class _Lru(OrderedDict[Any, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_or(self, key: Any, make: Callable[[], _T]) -> _T:
        try:
            self.move_to_end(key)
            value: _T = self[key]
            return value
        except KeyError:
            value = make()
            self[key] = value
            if len(self) > self.size:
                self.popitem(last=False)
            return value


def _cache(name: str, size: int = 64) -> _Lru:
    cache: _Lru | None = getattr(_local, name, None)
    if cache is None:
        cache = _Lru(size)
        setattr(_local, name, cache)
    return cache


@dataclass(frozen=True)
class _Credential:
    """A credential's certificates, parsed once, and its pre-encoded signing-certificate-v2."""

    cert: x509.Certificate
    registry: SimpleCertificateStore
    signing_cert_v2_der: bytes
    cms_size: int  # certificates + signature + framing, without a timestamp token
    template: CmsTemplate
    mechanism: algos.SignedDigestAlgorithm  # what pyHanko would derive from the certificate each time


def _credential(material: Material) -> _Credential:
    def make() -> _Credential:
        cert = x509.Certificate.load(material.certificate_der)
        chain = [x509.Certificate.load(der) for der in material.chain_der]
        attr = simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(cert))
        size = len(material.certificate_der) + sum(len(d) for d in material.chain_der)
        size += _SIG_BYTES.get(material.algorithm, 512) + _CMS_OVERHEAD
        template = CmsTemplate.create(material.certificate_der, material.chain_der, material.algorithm)
        mechanism = algos.SignedDigestAlgorithm.load(template.signature_algorithm)
        registry = SimpleCertificateStore.from_certs(chain)
        return _Credential(cert, registry, attr.dump(), size, template, mechanism)

    return _cache("credentials").get_or((material.certificate_der, material.chain_der), make)


# --------------------------------------------------------------------------- signer and TSA


class _PreEncodedAttribute(CMSAttributeProvider):
    def __init__(self, der: bytes) -> None:
        self.der = der
        self.attribute_type = "signing_certificate_v2"

    async def get_attribute(self, dry_run: bool = False) -> cms.CMSAttribute:
        return cms.CMSAttribute.load(self.der)


class _PadesAttributes(SignedAttributeProviderSpec):
    """PAdES signed attributes: signing-certificate-v2 only (signing time is in the PDF dict)."""

    def __init__(self, der: bytes) -> None:
        self.der = der

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterator[CMSAttributeProvider]:
        yield _PreEncodedAttribute(self.der)


class _HsmSigner(signers.Signer):
    """A pyHanko signer whose private key operation is one ``Hsm.sign_digest`` call.

    With ``fast=True`` (B-B, B-T) the CMS is spliced from the credential's pre-encoded template
    (``cms.py``) and the timestamp is fetched there too; B-LT keeps pyHanko's own CMS assembly,
    since its validation-data collection works on pyHanko's objects.
    """

    def __init__(
        self,
        *,
        hsm: Hsm,
        material: Material,
        credential: _Credential,
        fast: bool = False,
        tsa: TsaClient | None = None,
    ) -> None:
        super().__init__(
            signing_cert=credential.cert,
            cert_registry=credential.registry,
            signature_mechanism=credential.mechanism,
        )
        self.signed_attr_prov_spec = _PadesAttributes(credential.signing_cert_v2_der)
        self._hsm = hsm
        self._key_id = material.key_id
        self._sig_bytes = _SIG_BYTES.get(material.algorithm, 512)
        self._template = credential.template if fast else None
        self._tsa = tsa

    def _sign_bytes(self, data: bytes) -> bytes:
        digest = hashlib.sha256(data).digest()
        return self._hsm.sign_digest(key_id=self._key_id, digest=digest, hash_algorithm=HashAlgorithm.SHA256)

    async def async_sign(
        self,
        data_digest: bytes,
        digest_algorithm: str,
        dry_run: Any = False,
        use_pades: Any = False,
        timestamper: Any = None,
        signed_attr_settings: Any = None,
        is_pdf_sig: Any = True,
        encap_content_info: Any = None,
    ) -> cms.ContentInfo:
        template = self._template
        if template is None or dry_run or digest_algorithm != "sha256" or encap_content_info is not None:
            return await super().async_sign(
                data_digest,
                digest_algorithm,
                dry_run=dry_run,
                use_pades=use_pades,
                timestamper=timestamper,
                signed_attr_settings=signed_attr_settings,
                is_pdf_sig=is_pdf_sig,
                encap_content_info=encap_content_info,
            )
        der = build_cms(template, data_digest, self._sign_bytes, self._tsa)
        # never a plain ContentInfo.load(der): asn1crypto may re-encode a loaded value on dump(),
        # exponentially slowly (see EncodedContentInfo); this one hands pyHanko these exact bytes
        return EncodedContentInfo.from_der(der)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self._sig_bytes)
        algorithm = HashAlgorithm(digest_algorithm)
        digest = hashlib.new(algorithm.value, data).digest()
        return self._hsm.sign_digest(key_id=self._key_id, digest=digest, hash_algorithm=algorithm)


class _ClientTimeStamper(TimeStamper):
    """RFC 3161 through a plain callable (the in-process dev TSA, or an HTTP client)."""

    def __init__(self, client: TsaClient) -> None:
        super().__init__()
        self._client = client

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            raw = self._client(req.dump())
            response = tsp.TimeStampResp.load(raw)
            token = token_from_response(raw)
            if token is None:
                return response
            # pyHanko embeds the token object in the CMS it builds: one that dumps as its own bytes
            # (a loaded token can make asn1crypto re-encode it, exponentially; see EncodedContentInfo)
            return tsp.TimeStampResp(
                {"status": response["status"], "time_stamp_token": EncodedContentInfo.from_der(token)}
            )
        except Exception as exc:
            raise TimestampUnavailable() from exc


def _token_size(client: TsaClient) -> int:
    """The size of one timestamp token from ``client`` (for ``bytes_reserved``), asked once per thread.

    Only the size is cached, never the timestamper: it remembers the TSA's certificates, which
    change when the TSA is re-keyed, and B-LT validates them afresh for every signature.
    """

    def make() -> int:
        token = _run(_ClientTimeStamper(client).async_dummy_response("sha256"))
        return len(token.dump())

    return _cache("token_sizes", 8).get_or(client, make)


# --------------------------------------------------------------------------- visible stamp


_REF = re.compile(rb"(\d+) (\d+) R")


class _RawObject(generic.PdfObject):
    """An object serialised once; only its references to sibling objects are filled in per document."""

    def __init__(self, parts: tuple[bytes | int, ...], numbers: dict[int, int]) -> None:
        self.parts = parts
        self.numbers = numbers  # template object number -> this document's object number

    def write_to_stream(self, stream: Any, handler: Any = None, container_ref: Any = None) -> None:
        for part in self.parts:
            stream.write(part if isinstance(part, bytes) else b"%d 0 R" % self.numbers[part])


@dataclass(frozen=True)
class _StampTemplate:
    """The stamp's form XObject and everything it references (font, subset, ToUnicode), serialised.

    Serialising once matters: copying these objects with pyHanko's importer and writing them name
    by name cost about a quarter of a signature.  Only the dictionaries (never stream data) are
    scanned for ``n g R`` references, and the template is our own output, so nothing else in them
    looks like one.
    """

    objects: tuple[tuple[int, tuple[bytes | int, ...]], ...]  # (template number, parts); XObject first

    @classmethod
    def from_pdf(cls, data: bytes) -> _StampTemplate:
        reader = PdfFileReader(BytesIO(data))
        root_ref = reader.root.raw_get("/SignetStamp")
        order, seen, queue = [], set(), [root_ref]
        while queue:
            ref = queue.pop(0)
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
            obj = ref.get_object()
            order.append((ref.idnum, obj))
            queue.extend(_references(obj))
        return cls(tuple((idnum, _serialise(obj)) for idnum, obj in order))

    def add_to(self, writer: Any) -> generic.IndirectObject:
        numbers: dict[int, int] = {}
        refs = []
        for idnum, parts in self.objects:
            ref = writer.add_object(_RawObject(parts, numbers))
            numbers[idnum] = ref.idnum
            refs.append(ref)
        return refs[0]


def _references(obj: Any) -> list[Any]:
    found = []
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, generic.IndirectObject):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _serialise(obj: Any) -> tuple[bytes | int, ...]:
    buf = BytesIO()
    data = b""
    if isinstance(obj, generic.StreamObject):
        data = obj.encoded_data
        head = generic.DictionaryObject({k: v for k, v in obj.items()})
        head[generic.pdf_name("/Length")] = generic.NumberObject(len(data))
        head.write_to_stream(buf)
    else:
        obj.write_to_stream(buf)
    text = buf.getvalue()
    parts: list[bytes | int] = []
    last = 0
    for match in _REF.finditer(text):
        parts += [text[last : match.start()], int(match.group(1))]
        last = match.end()
    parts.append(text[last:])
    if isinstance(obj, generic.StreamObject):
        parts.append(b"\nstream\n" + data + b"\nendstream")
    return tuple(parts)


class _PrebuiltStamp:
    """The appearance of a stamp, added to a document from its serialised template."""

    def __init__(self, writer: Any, template: _StampTemplate) -> None:
        self.writer = writer
        self.template = template

    def apply_appearance(self, annot: generic.DictionaryObject) -> None:
        ref = self.template.add_to(self.writer)
        annot["/AP"] = generic.DictionaryObject({generic.pdf_name("/N"): ref})


@dataclass(frozen=True)
class _CachedStampStyle(BaseStampStyle):
    template: Any = None

    def create_stamp(self, writer: Any, box: layout.BoxConstraints, text_params: dict[str, Any]) -> Any:
        return _PrebuiltStamp(writer, self.template)


def _render_template(lines: tuple[str, ...], width: float, height: float) -> bytes:
    """Typeset the stamp once (HarfBuzz shaping + font subsetting: the slow part, ≈ 55 ms)."""
    font_size = 10 if height >= 60 else 8
    style = TextStampStyle(
        stamp_text="\n".join(line.replace("%", "%%") for line in lines),
        text_box_style=TextBoxStyle(
            font=GlyphAccumulatorFactory(str(STAMP_FONT), font_size=font_size),
            font_size=font_size,
            leading=font_size + 3,
        ),
        border_width=1,
        background=None,
    )
    writer = PdfFileWriter()
    stamp = TextStamp(writer, style, text_params={}, box=layout.BoxConstraints(width=width, height=height))
    writer.root["/SignetStamp"] = stamp.register()
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


_template_bytes_lock = threading.Lock()
_template_bytes: dict[tuple[tuple[str, ...], float, float], bytes] = {}


def _stamp_style(stamp: Stamp, placement: StampPlacement) -> _CachedStampStyle:
    """The stamp's appearance: looked up by the stamp itself (its fields decide its text), typeset
    once per (text, size) across threads, its objects serialised once per thread."""
    width, height = round(placement.width, 2), round(placement.height, 2)

    def make() -> _CachedStampStyle:
        key = (stamp.lines(), width, height)
        with _template_bytes_lock:
            data = _template_bytes.get(key)
        if data is None:
            data = _render_template(*key)
            with _template_bytes_lock:
                if len(_template_bytes) > 256:
                    _template_bytes.clear()
                _template_bytes[key] = data
        return _CachedStampStyle(template=_StampTemplate.from_pdf(data))

    return _cache("stamps", 32).get_or((stamp, width, height), make)


# --------------------------------------------------------------------------- signing


@_off_running_loop
def sign_pdf(
    pdf: bytes,
    *,
    material: Material,
    hsm: Hsm,
    level: Level = Level.BT,
    tsa: TsaClient | None = None,
    revocation: Revocation | None = None,
    stamp: Stamp | None = None,
    placement: StampPlacement | None = None,
    field_name: str | None = None,
    reason: str | None = None,
    certify_docmdp: int | None = None,
    max_bytes: int = 20 * 1024 * 1024,
) -> bytes:
    """Add one PAdES signature as a new incremental revision; earlier signatures stay valid.

    B-T and B-LT need ``tsa``; B-LT also needs ``revocation`` (trust roots + CRLs), whose data is
    embedded in the document security store.  ``certify_docmdp`` (1-3) makes this a certification
    signature locking the document (1: no changes, 2: form filling and signing, 3: + annotations);
    only valid as the first signature.  The input is checked first and refused with a ``PdfError``
    when it is not safe to sign.
    """
    reader = open_checked(pdf, max_bytes=max_bytes)
    if level is not Level.BB and tsa is None:
        raise SigningFailed(f"{level} needs a time-stamping service; none is configured.")
    if level is Level.BLT and revocation is None:
        raise SigningFailed("B-LT needs revocation data (trust roots and CRLs).")
    credential = _credential(material)
    reserved = credential.cms_size
    timestamper = None
    if level is not Level.BB and tsa is not None:
        reserved += _token_size(tsa) + 1024
    if level is Level.BLT:
        timestamper = _ClientTimeStamper(tsa) if tsa is not None else None
        signer = _HsmSigner(hsm=hsm, material=material, credential=credential)
    else:
        fast_tsa = tsa if level is Level.BT else None
        signer = _HsmSigner(hsm=hsm, material=material, credential=credential, fast=True, tsa=fast_tsa)

    name = field_name or _free_field_name(reader)
    field_spec = None
    style: BaseStampStyle | None = None
    if stamp is not None:
        placement = placement or StampPlacement(page=-1, box=(310.0, 60.0, 555.0, 140.0))
        x1, y1, x2, y2 = (round(v) for v in placement.box)
        field_spec = fields.SigFieldSpec(name, on_page=placement.page, box=(x1, y1, x2, y2))
        style = _stamp_style(stamp, placement)
    validation_context = None
    if level is Level.BLT and revocation is not None:
        validation_context = _validation_context(revocation.trust_roots, revocation.crls)

    meta = signers.PdfSignatureMetadata(
        field_name=name,
        md_algorithm="sha256",
        reason=reason,
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=level is Level.BLT,
        validation_context=validation_context,
        certify=certify_docmdp is not None,
        docmdp_permissions=fields.MDPPerm(certify_docmdp or 2),
    )
    pdf_signer = signers.PdfSigner(
        meta, signer=signer, timestamper=timestamper, stamp_style=style, new_field_spec=field_spec
    )
    writer = IncrementalPdfFileWriter.from_reader(reader)
    try:  # bytes_reserved counts hex digits in /Contents: two per CMS byte
        out = _run(pdf_signer.async_sign_pdf(writer, bytes_reserved=2 * reserved))
    except AppError:
        raise
    except Exception as exc:  # pyHanko and certvalidator errors: path building, CMS size, ...
        log.warning("pdf_signing_failed", error=type(exc).__name__, detail=str(exc)[:300])
        raise SigningFailed() from exc
    result: bytes = out.getvalue()
    return result


def _free_field_name(reader: PdfFileReader) -> str:
    taken = {name for name, _, _ in fields.enumerate_sig_fields(reader, filled_status=None)}
    n = len(taken) + 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def _validation_context(trust_roots: tuple[bytes, ...] | list[bytes], crls: tuple[bytes, ...] = ()) -> Any:
    return ValidationContext(
        trust_roots=[x509.Certificate.load(der) for der in trust_roots],
        crls=[crl.CertificateList.load(der) for der in crls],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )


# --------------------------------------------------------------------------- PDF syntax fast paths
#
# pyHanko reads a dictionary one token at a time, each token several calls and ``read(1)``s deep,
# and writes names and text strings one byte per ``stream.write``: reading the trailer, catalog,
# page tree and info dictionary and writing the new revision was about a third of a signature.
# Three of its routines are replaced, process-wide, by ones that do the plain cases with
# ``pdfsyntax`` (regular expressions over whole chunks) and hand anything else to pyHanko's own
# routine, which then reads, writes or refuses it exactly as before.
# tests/unit/test_pdf_syntax_fast_paths.py holds each to the original.

_original_read_dictionary = generic.DictionaryObject.read_from_stream
_original_write_name = generic.NameObject.write_to_stream
_original_write_text = generic.TextStringObject.write_to_stream


def _pdf_string(raw: bytes) -> generic.TextStringObject | generic.ByteStringObject:
    """``generic.pdf_string`` of bytes, without its character-by-character PDFDocEncoding decoder
    for printable ASCII (which that encoding decodes as ASCII)."""
    if not pdfsyntax.is_printable_ascii(raw):
        return generic.pdf_string(raw)
    text = generic.TextStringObject(raw.decode("ascii"))
    text.autodetected_encoding = generic.TextStringEncoding.PDF_DOC
    return text


_PYHANKO_OBJECTS = pdfsyntax.Constructors(
    name=generic.NameObject,
    integer=generic.NumberObject,
    decimal=generic.FloatObject,
    string=_pdf_string,
    reference=generic.IndirectObject,
    boolean=generic.BooleanObject,
    null=generic.NullObject,
    array=generic.ArrayObject,
    dictionary=generic.DictionaryObject,
)


def _read_dictionary(
    stream: Any,
    container_ref: Any,
    as_metadata_stream: bool = False,
    in_content_stream: generic.ContentOpReading = generic.ContentOpReading.NO,
) -> generic.DictionaryObject:
    """``DictionaryObject.read_from_stream``: the entries from ``pdfsyntax``, then, as pyHanko
    does, the stream that may follow (read by pyHanko's own code)."""
    entries = None
    if not in_content_stream:
        try:
            handler = container_ref.get_pdf_handler()
        except Exception:  # pyHanko's reader raises its own error for this
            handler = None
        else:
            entries = pdfsyntax.read_dictionary(stream, _PYHANKO_OBJECTS, container_ref, handler)
    if entries is None:
        return cast(
            generic.DictionaryObject,
            _original_read_dictionary(stream, container_ref, as_metadata_stream, in_content_stream),
        )
    data = generic._maybe_read_stream_payload(stream, entries, handler)
    if data is None:
        return generic.DictionaryObject(entries)
    stream_class: type[generic.StreamObject] = generic.StreamObject
    if as_metadata_stream:
        from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream

        stream_class = MetadataStream
    return stream_class(entries, encoded_data=data)


def _write_name(
    self: generic.NameObject, stream: Any, handler: Any = None, container_ref: Any = None
) -> None:
    encoded = pdfsyntax.plain_name_bytes(self)
    if encoded is None:  # a byte to escape, or not a name
        _original_write_name(self, stream, handler, container_ref)
    else:
        stream.write(encoded)


def _write_text(
    self: generic.TextStringObject, stream: Any, handler: Any = None, container_ref: Any = None
) -> None:
    if (handler is not None and container_ref is not None) or self.force_output_encoding is not None:
        _original_write_text(self, stream, handler, container_ref)  # encrypted, or a forced encoding
        return
    encoded = pdfsyntax.printable_ascii(self)
    if encoded is None:  # pyHanko's choice: PDFDocEncoding if it can, else UTF-16BE with a BOM
        try:
            encoded = generic.encode_pdfdocencoding(self)
        except UnicodeEncodeError:
            encoded = codecs.BOM_UTF16_BE + self.encode("utf-16be")
    stream.write(pdfsyntax.literal_string(encoded))


generic.DictionaryObject.read_from_stream = staticmethod(_read_dictionary)  # type: ignore[method-assign]
generic.NameObject.write_to_stream = _write_name  # type: ignore[method-assign]
generic.TextStringObject.write_to_stream = _write_text  # type: ignore[method-assign]


# --------------------------------------------------------------------------- input safety

INSPECT_MAX_OBJECTS = 200_000
INSPECT_SECONDS = 10.0
_PERM_MODIFY, _PERM_ANNOTATE, _PERM_FILL = 1 << 3, 1 << 5, 1 << 8


def open_checked(pdf: bytes, *, max_bytes: int) -> PdfFileReader:
    """Parse ``pdf`` and refuse it (``PdfError``) if it must not be signed.

    Every parser failure becomes ``pdf.corrupt``: pyHanko raises many exception types on hostile
    input (and RecursionError on absurd nesting), none of which may escape as a 500.  Stream
    decoding is bounded by pyHanko's default ``DecodeLimits`` for untrusted input.
    """
    check_bytes(pdf, max_bytes=max_bytes)
    try:
        reader = _read_untrusted(pdf)
        encrypted = reader.encrypted
        if encrypted:
            _refuse_encrypted(reader)
        root = reader.root
        _refuse_certified_no_changes(root)
        reader.root["/Pages"].get_object()
    except PdfError:
        raise
    except Exception as exc:  # hostile input: any parser failure means "corrupt"
        log.info("pdf_refused", code="pdf.corrupt", error=type(exc).__name__)
        raise PdfCorrupt() from exc
    return reader


_REREADS = 1000  # the same read at the same offset this often while opening a file: a loop


class _ReaderLooping(Exception):
    """pyHanko's reader read the same bytes ``_REREADS`` times: it is going round in circles."""


class _LoopGuard(BytesIO):
    """The file while pyHanko opens it: a read repeated ``_REREADS`` times at the same offset raises.

    pyHanko 0.38's cross-reference table reader steps back and reads again while an entry starts with
    an end-of-line; a table cut short within a few bytes of the end of the file makes it do that
    forever (one worker lost per upload).  A well-formed or merely damaged file reads an offset a
    handful of times.  Only the opening (header, cross-references, trailers) is guarded; objects are
    read later through a plain stream, and ``inspect_pdf`` bounds those reads by time.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._reads: dict[tuple[int, int | None], int] = {}

    def read(self, size: int | None = -1, /) -> bytes:
        key = (self.tell(), size)
        count = self._reads.get(key, 0) + 1
        if count > _REREADS:
            raise _ReaderLooping(key)
        self._reads[key] = count
        return super().read(size)


def _read_untrusted(pdf: bytes) -> PdfFileReader:
    """``PdfFileReader`` over a file from outside; parser failures are the caller's to turn into
    ``PdfCorrupt``."""
    reader = PdfFileReader(_LoopGuard(pdf), strict=False)
    reader.stream = BytesIO(pdf)  # same bytes (shared, not copied), no bookkeeping from here on
    return reader


def _refuse_encrypted(reader: PdfFileReader) -> None:
    """Encrypted files are never signed; say "forbidden" when the owner's permissions are the reason."""
    encrypt = reader.trailer_view.get("/Encrypt")
    permissions = int(encrypt.get_object().get("/P", -1)) if encrypt is not None else -1
    opens_without_password = False
    try:
        opens_without_password = reader.decrypt("").status.name != "FAILED"
    except Exception:  # an unknown security handler is just "encrypted"
        opens_without_password = False
    if opens_without_password and not permissions & (_PERM_MODIFY | _PERM_ANNOTATE | _PERM_FILL):
        raise PdfChangesForbidden()
    raise PdfEncrypted()


def _refuse_certified_no_changes(root: generic.DictionaryObject) -> None:
    perms = root.get("/Perms")
    if perms is None:
        return
    docmdp = perms.get_object().get("/DocMDP")
    if docmdp is None:
        return
    for ref in docmdp.get_object().get("/Reference", ()):
        ref = ref.get_object()
        params = ref.get("/TransformParams", {})
        if ref.get("/TransformMethod") == "/DocMDP" and int(params.get("/P", 2)) == 1:
            raise PdfChangesForbidden()


@_off_running_loop
def inspect_pdf(pdf: bytes, *, max_bytes: int) -> PdfInfo:
    """Everything ``sign_pdf`` checks, plus every object parsed once, within a time and count budget.

    Run at upload, so that a file which would fail later is refused while the uploader is there.
    """

    reader = open_checked(pdf, max_bytes=max_bytes)
    deadline = time.monotonic() + INSPECT_SECONDS
    try:
        refs: set[generic.Reference] = set()
        for revision in range(reader.xrefs.total_revisions):
            refs |= reader.xrefs.explicit_refs_in_revision(revision)
            if len(refs) > INSPECT_MAX_OBJECTS:
                raise PdfCorrupt("The PDF has too many objects to be processed safely.")
        for n, ref in enumerate(refs):
            reader.get_object(ref)
            if n % 256 == 0 and time.monotonic() > deadline:
                raise PdfCorrupt("The PDF is too complex to be processed safely.")
        pages = int(reader.root["/Pages"]["/Count"])
        sig_fields = tuple(name for name, _, _ in fields.enumerate_sig_fields(reader, filled_status=None))
        signed = len(reader.embedded_signatures)
        certified = "/Perms" in reader.root and "/DocMDP" in reader.root["/Perms"]
        header = pdf[pdf.find(b"%PDF-") + 5 : pdf.find(b"%PDF-") + 8].decode("ascii", "replace")
    except PdfError:
        raise
    except Exception as exc:  # see open_checked
        log.info("pdf_refused", code="pdf.corrupt", error=type(exc).__name__)
        raise PdfCorrupt() from exc
    return PdfInfo(
        size=len(pdf),
        pages=pages,
        version=header,
        signature_count=signed,
        signature_fields=sig_fields,
        certified=certified,
    )


# --------------------------------------------------------------------------- verification
#
# A cold verification (a file not seen before) is pyHanko's full validation of every signature, its
# timestamp and the incremental updates after it.  What made it slow was not that work but waste
# around it, removed here (measured and explained in tests/benchmarks/bench_verify.py):
# - the file was parsed twice (``verify_pdf``, then ``signed_revisions``): ``check_signatures`` does
#   both from one parse;
# - per signature, a new event loop (pyHanko's sync wrapper calls ``asyncio.run``), the trust roots
#   parsed again and the DSS CRLs read and parsed again: now one loop per thread, the trust roots
#   parsed into a trust manager once per thread (keyed by their DER), the CRLs once per file;
# - library routines far slower than they need to be (``_install_fast_paths`` below, and
#   the verification fast paths: historical copies, X.509 names, certificate paths);
# - the cyclic garbage collector traversing the validation's working set (``_collector_paused``).
# Each signature still gets a validation context of its own, as before, so that nothing one
# signature brings (its certificates, a validated path) decides another's verdict; the contexts of
# one report share the trust manager, the DSS CRLs, one validation time and a memo of certificate
# paths keyed by everything a path depends on (the same TSA certificate, with the same candidate
# certificates, is validated once per report, not once per token).  Network fetching stays off
# (``allow_fetching=False``: no CRL, OCSP or AIA request is ever attempted).
# Not done: pyHanko's difference analysis compares the signed revision with each later one (not
# consecutive revisions), so signature 1's analysis of revisions 3 and 4 is a different question
# from signature 2's of revision 4, and there is no diff to share; what the analyses share (the
# revisions' parsed objects) pyHanko already keeps per file; the one repeated search, for objects
# the last revision adds that nothing refers to, was 0.1 % of the instructions: not worth a cache.

_CHANGES = {
    "LTA_UPDATES": "validation data added (DSS / document timestamp)",
    "FORM_FILLING": "form filling or later signatures",
    "ANNOTATIONS": "annotations added",
    "OTHER": "content changed after signing (not allowed)",
}


@_off_running_loop
def verify_pdf(
    pdf: bytes, *, trust_roots: list[bytes], max_bytes: int = 100 * 1024 * 1024
) -> VerificationReport:
    """Validate every signature in ``pdf`` against ``trust_roots`` (no network access)."""
    with _collector_paused():
        report, _ = _check(pdf, trust_roots=trust_roots, max_bytes=max_bytes, revisions=False)
    return report


@_off_running_loop
def check_signatures(
    pdf: bytes, *, trust_roots: list[bytes], max_bytes: int = 100 * 1024 * 1024
) -> tuple[VerificationReport, tuple[SignedRevision, ...]]:
    """``verify_pdf`` and ``signed_revisions`` of ``pdf`` from a single parse of it."""
    with _collector_paused():
        return _check(pdf, trust_roots=trust_roots, max_bytes=max_bytes, revisions=True)


# The cyclic garbage collector is paused while a file is validated.  A validation builds tens of
# thousands of short-lived objects (the parsed file, its revisions, certificates, paths) that are
# freed by reference counting the moment it ends (``_release`` empties the reader's caches, through
# which the file's objects formed a cycle; ~1,500 objects in cycles remain for the collector).  Left
# running, the collector traversed that live working set again and again, moved it to the oldest
# generation, and so set off full collections of the whole application heap.  Measured in the app
# (gc callbacks, the bench's transcript): 7.1 ms of collection per report before, 1.75 with the
# release alone, 1.5 with the pause alone, 0.4 with both; freezing the app's heap (``gc.freeze``)
# on top saved nothing more, as no full collection is left.  The pause is process-wide (a counter
# for overlapping validations in other threads) and ends with the last of them, after the
# validation's objects are released; a pause that lasts longer than ``_PAUSE_MAX_SECONDS``
# (validations back to back in several threads) collects the young generation on the way, so
# garbage stays bounded.
_PAUSE_MAX_SECONDS = 1.0
_pause_lock = threading.Lock()
_pauses = 0
_pause_started = 0.0
_paused_enabled = False  # whether the collector was enabled when the first pause began


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    global _pauses, _pause_started, _paused_enabled
    with _pause_lock:
        if _pauses == 0:
            _paused_enabled, _pause_started = gc.isenabled(), time.monotonic()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _paused_enabled:
                if _pauses == 0:
                    gc.enable()
                elif time.monotonic() - _pause_started > _PAUSE_MAX_SECONDS:
                    _pause_started = time.monotonic()
                    gc.collect(0)


def _check(
    pdf: bytes, *, trust_roots: list[bytes], max_bytes: int, revisions: bool
) -> tuple[VerificationReport, tuple[SignedRevision, ...]]:
    reader, embedded = _open_signed(pdf, max_bytes=max_bytes)
    try:
        try:
            dss = reader.root.get("/DSS")
            dss = dss.get_object() if dss is not None else None
        except Exception as exc:  # see open_checked
            raise PdfCorrupt() from exc
        crls = [crl.CertificateList.load(der) for der in _dss_crls(dss)]
        crl_issuers = {c.issuer.dump() for c in crls}
        trust = _trust_manager(tuple(trust_roots))
        outcomes = _run(_validate_all(embedded, trust, crls)) if embedded else []
        reports = [
            _broken_signature(sig, outcome.error)
            if isinstance(outcome, _Unreadable)
            else _signature_report(sig, outcome, crl_issuers)
            for sig, outcome in zip(embedded, outcomes, strict=True)
        ]
        report = VerificationReport(signatures=tuple(reports))
        return report, (_signed_revisions(pdf, embedded) if revisions else ())
    finally:
        _release(reader)


def _release(reader: PdfFileReader) -> None:
    """Empty the caches through which a reader and its revisions hold their objects (which point
    back at them): the file's objects are then freed the moment the validation ends, by reference
    counting, instead of waiting, as a cycle, for the garbage collector."""
    for resolver in reader._historical_resolver_cache.values():
        resolver.cache.clear()
        resolver._indirect_object_access_cache = None
    reader._historical_resolver_cache.clear()
    reader.resolved_objects.clear()
    reader._embedded_signatures = None


@dataclass(frozen=True)
class _Unreadable:
    error: str  # the exception's type name


async def _validate_all(embedded: list[Any], trust: Any, crls: list[crl.CertificateList]) -> list[Any]:
    """pyHanko's validation of each signature in turn, on one event loop: its status, or
    ``_Unreadable`` when it raised (a malformed signature is reported, not raised)."""
    from pyhanko.sign.validation import async_validate_pdf_signature

    outcomes: list[Any] = []
    paths: dict[Any, Any] = {}  # the report's certificate-path memo (validate_cert_usage below)
    timing: Any = None
    for sig in embedded:
        context = ValidationContext(
            trust_manager=trust, crls=crls, allow_fetching=False, revocation_mode="soft-fail"
        )
        # one validation time for the whole report ("now", as before: not a point-in-time
        # validation), so that a path validated for one signature is the answer for the next
        timing = context.timing_params = timing or context.timing_params
        setattr(context, PATH_MEMO, paths)
        try:
            outcomes.append(
                await async_validate_pdf_signature(
                    sig, signer_validation_context=context, ts_validation_context=context
                )
            )
        except Exception as exc:
            outcomes.append(_Unreadable(type(exc).__name__))
        finally:
            await context.aclose()  # owns no fetcher (fetching is off); closed as pyHanko would
    return outcomes


def _trust_manager(trust_roots: tuple[bytes, ...]) -> Any:
    """The trust roots parsed once per thread (a validation context only reads its trust manager)."""
    from pyhanko_certvalidator.registry import SimpleTrustManager

    def make() -> Any:
        return SimpleTrustManager.build(trust_roots=[x509.Certificate.load(der) for der in trust_roots])

    return _cache("trust_managers", 8).get_or(trust_roots, make)


def _signature_report(sig: Any, status: Any, crl_issuers: set[bytes]) -> SignatureReport:
    from pyhanko.sign.diff_analysis import ModificationLevel

    problems: list[str] = []
    ts = status.timestamp_validity
    ts_ok = ts is None or (ts.valid and ts.intact and ts.trusted)
    if not ts_ok:
        problems.append("the timestamp is not valid or not trusted")
    subfilter = sig.sig_object.get("/SubFilter")
    level = "CMS"
    # B-LT: timestamped, and the DSS holds a CRL from the signer's issuer (no OCSP in our PKI)
    has_revinfo = status.signing_cert.issuer.dump() in crl_issuers
    if subfilter == "/ETSI.CAdES.detached":
        level = "B-B" if ts is None else ("B-LT" if has_revinfo else "B-T")
    modification = status.modification_level
    forbidden = modification is not None and modification > ModificationLevel.FORM_FILLING
    if forbidden or status.docmdp_ok is False:
        problems.append("the document was changed after this signature")
    intact = bool(status.intact and status.valid)
    if not intact:
        problems.append("the signed content or the signature value does not match")
    if intact and not status.trusted:
        problems.append("the signer's certificate does not chain to a trusted root")
    covers_all = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
    return SignatureReport(
        field=str(sig.field_name),
        signer=_common_name(status.signing_cert),
        signing_time=status.signer_reported_dt,
        timestamp_time=ts.timestamp if ts is not None and ts_ok else None,
        level=level,
        intact=intact,
        trusted=bool(status.trusted),
        revocation_embedded=has_revinfo,
        covers_whole_file=covers_all,
        modified_after=None if covers_all else _CHANGES.get(getattr(modification, "name", ""), "unknown"),
        valid=intact and bool(status.trusted) and ts_ok and not forbidden and status.docmdp_ok is not False,
        problems=tuple(problems),
    )


def _dss_crls(dss: Any) -> tuple[bytes, ...]:
    if dss is None:
        return ()
    return tuple(ref.get_object().data for ref in dss.get("/CRLs", ()))


def _common_name(cert: x509.Certificate) -> str:
    name = cert.subject.native
    return str(name.get("common_name") or name.get("organization_name") or "?")


def _broken_signature(sig: Any, error: str) -> SignatureReport:
    return SignatureReport(
        field=str(sig.field_name),
        signer="?",
        signing_time=None,
        timestamp_time=None,
        level="?",
        intact=False,
        trusted=False,
        revocation_embedded=False,
        covers_whole_file=False,
        modified_after=None,
        valid=False,
        problems=(f"the signature could not be read ({error})",),
    )


# --------------------------------------------------------------------------- library fast paths
#
# Two routines of pyHanko 0.38 and asn1crypto 1.5 are replaced, process-wide, by equivalent faster
# ones; together they were more than half of a cold verification (parsing for signing gains too):
# - pyHanko reads a hex string one byte at a time through a generator.  A signature's /Contents is
#   ~13,000 hex digits: ~35 ms per signature dictionary, read at least twice per signature.  The
#   replacement finds the closing ``>`` in whole chunks; anything but hex digits and whitespace
#   before it (a comment, a stray byte, the end of the file) goes back to pyHanko's own reader,
#   which then parses (or refuses) exactly as before.
# - asn1crypto compares X.509 names after RFC 4518 string preparation, a stringprep table lookup
#   per character, again for every freshly parsed Name: the same few names (CA, TSA, signers) dozens
#   of times per file.  The preparation is a pure function of the string, so its results are
#   remembered (bounded); a string it refuses raises every time, as before.
# tests/unit/test_verify_fast_paths.py holds both to the originals.

_HEX_CHUNK = 4096
_original_read_hex_string = generic.read_hex_string_from_stream
_original_ldap_string_prep = x509.NameTypeAndValue._ldap_string_prep


def _read_hex_string(stream: Any) -> Any:
    start = stream.tell()
    stream.read(1)  # "<"
    parts: list[bytes] = []
    size = 256
    while True:
        chunk = stream.read(size)
        if not chunk:  # no ">" before the end: pyHanko's reader raises its own error
            stream.seek(start)
            return _original_read_hex_string(stream)
        end = chunk.find(b">")
        if end >= 0:
            parts.append(chunk[:end])
            stream.seek(end + 1 - len(chunk), 1)  # just after ">"
            break
        parts.append(chunk)
        size = _HEX_CHUNK
    digits = b"".join(parts).translate(None, PDF_WHITESPACE)
    if digits.translate(None, generic.HEX_DIGITS):  # a comment or an invalid byte: the slow path
        stream.seek(start)
        return _original_read_hex_string(stream)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


@functools.lru_cache(maxsize=4096)
def _ldap_prepared(value: str) -> str:
    prepared: str = _original_ldap_string_prep(None, value)
    return prepared


def _ldap_string_prep(self: Any, string: Any) -> Any:
    if type(string) is str:
        return _ldap_prepared(string)
    return _original_ldap_string_prep(self, string)


# --------------------------------------------------------------------------- verification fast paths
#
# Faster equivalents of the library routines that dominated a cold verification (issue 6).
#
# tests/unit/test_verify_fast_paths.py holds each to the routine it replaces, input by input and on
# whole reports.  The rule for each: on the inputs it handles, exactly the original's result (same
# types, values, ``container_ref``s, stream position, verdicts); on anything else it steps aside and
# the original runs, so errors and warnings are the library's own.
#
# - ``subsume_object`` (pyHanko's copy of an object into a historical revision): the same copies,
#   without building a reference for every leaf.
# - ``rdn_eq`` / ``rdn_hashable`` (asn1crypto's X.509 name comparison and name key): remembered per
#   DER encoding.
# - ``validate_cert_usage`` (pyHanko's certificate-path validation for a usage): answered from the
#   report's memo when the same question was already asked for another signature of the file.
# - ``load_reverse_xref_cache`` / ``collect_indirect_references`` (pyHanko's walks of a revision's
#   object graph for difference analysis): the same walks without a call per leaf.
# - ``extract_certificate_info`` (pyHanko's certificates of a CMS value): once per value, and the
#   same parsed certificate for the same DER encoding.
#
# Measured with callgrind on the three-signature transcript: see tests/benchmarks/bench_verify.py.

# --------------------------------------------------------------------------- historical revisions
#
# ``HistoricalResolver._subsume_object`` copies every object a revision's resolver reads, so that its
# references resolve within that revision.  For every node, containers and leaves alike, it first
# builds a ``Reference`` to the node's container (a frozen dataclass: slow to make), though a leaf
# is returned as it is.  The replacement builds it only for the containers that keep it.

_original_subsume = HistoricalResolver._subsume_object
_LEAVES = frozenset(
    {
        generic.NameObject,
        generic.NumberObject,
        generic.FloatObject,
        generic.BooleanObject,
        generic.NullObject,
        generic.TextStringObject,
        generic.ByteStringObject,
    }
)


def subsume_object(self: Any, obj: Any) -> Any:
    """``HistoricalResolver._subsume_object``, the same copies made with less work."""
    ref = obj.container_ref
    if type(ref) is not generic.Reference:  # none (pyHanko raises) or the trailer's: as pyHanko does
        return _original_subsume(self, obj)
    kind = type(obj)
    if kind in _LEAVES:
        return obj
    if kind is generic.IndirectObject:
        return generic.IndirectObject(idnum=obj.idnum, generation=obj.generation, pdf=self)
    result: Any
    if kind is generic.DictionaryObject:
        result = generic.DictionaryObject({k: subsume_object(self, v) for k, v in obj.items()})
    elif kind is generic.ArrayObject:
        result = generic.ArrayObject(subsume_object(self, v) for v in obj)
    elif kind is generic.StreamObject:
        result = generic.StreamObject(
            {k: subsume_object(self, v) for k, v in obj.items()}, encoded_data=obj.encoded_data
        )
    else:  # a proxy of an encrypted object, a metadata stream, anything else: pyHanko's own copy
        return _original_subsume(self, obj)
    result.container_ref = generic.Reference(idnum=ref.idnum, generation=ref.generation, pdf=self)
    return result


# --------------------------------------------------------------------------- reference walks
#
# Difference analysis walks object graphs: every path from the trailer to each indirect object of
# a signed revision (``_load_reverse_xref_cache``: the whole graph, once for each signature that
# later revisions follow) and, per later revision, the new objects its updated objects reach
# (``_collect_indirect_references``, to find orphans).  pyHanko's walks call themselves on every
# leaf too: each number of a font's widths array (``/W``, hundreds of them) is a call and, for the
# paths, a path node made and hashed, though only references are collected.  The replacements
# visit the same containers and references in the same order and skip the leaves (from which the
# originals return at once); paths are tuples.  Same result; on any error the original runs again
# from the start and so fails (or not) on its own terms.

_original_reverse_xref_cache = HistoricalResolver._load_reverse_xref_cache
_original_collect_references = HistoricalResolver._collect_indirect_references
_NODES = (generic.IndirectObject, generic.DictionaryObject, generic.ArrayObject)
_STRUCT_TREE_PATH = ("/Root", "/StructTreeRoot")


def load_reverse_xref_cache(self: Any) -> None:
    """``HistoricalResolver._load_reverse_xref_cache``: the same paths, without visiting leaves."""
    if self._indirect_object_access_cache is not None:
        return
    try:
        paths = _paths_to_references(self)
    except Exception:
        _original_reverse_xref_cache(self)
        return
    self._indirect_object_access_cache = {
        ref: {RawPdfPath(*p) for p in found} for ref, found in paths.items()
    }


def _paths_to_references(resolver: Any) -> dict[Any, set[tuple[Any, ...]]]:
    IndirectObject, DictionaryObject, ArrayObject = _NODES  # pyHanko's classes
    collected: dict[Any, set[tuple[Any, ...]]] = {}

    def page_tree(pages: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, tuple[Any, ...]]]:
        for ix, kid in enumerate(pages["/Kids"]):
            kid_path = (*path, "/Kids", ix)
            if isinstance(kid, IndirectObject):
                yield kid.reference, kid_path
            kid = kid.get_object()
            if kid.get("/Type", None) == "/Pages":
                yield from page_tree(kid, kid_path)

    def struct_tree(element: Any) -> Iterator[Any]:
        try:
            children = element["/K"]
        except KeyError:
            return
        if not isinstance(children, ArrayObject):
            children = (children,)
        for child in children:
            child_ref = None
            if isinstance(child, IndirectObject):
                child_ref = child.reference
                child = child.get_object()
            if not isinstance(child, DictionaryObject):
                continue
            try:
                if child["/Type"] != "/StructElem":
                    continue
            except KeyError:
                pass
            if child_ref is not None:
                yield child_ref
            yield from struct_tree(child)

    pages_ref = resolver.root.raw_get("/Pages")
    pages_path = ("/Root", "/Pages")
    page_nodes: dict[Any, tuple[Any, ...]] = {}
    if isinstance(pages_ref, IndirectObject):
        page_nodes[pages_ref.reference] = pages_path
    for ref, path in page_tree(pages_ref.get_object(), pages_path):
        if ref in page_nodes:
            raise ValueError("circular page tree")
        page_nodes[ref] = path
    struct_nodes: set[Any] = set()
    try:
        for ref in struct_tree(resolver.root.raw_get("/StructTreeRoot").get_object()):
            if ref in struct_nodes:
                raise ValueError("circular structure tree")
            struct_nodes.add(ref)
    except KeyError:
        pass

    def walk(obj: Any, path: tuple[Any, ...], on_path: tuple[Any, ...], in_struct: bool) -> None:
        if isinstance(obj, IndirectObject):
            ref = obj.reference
            if ref in on_path:
                return
            found = collected.get(ref)
            if found is None:
                found = collected[ref] = set()
            found.add(path)
            on_path = (*on_path, ref)
            obj = resolver(ref)
            # the page tree entered only by its canonical path; the structure tree only from its root
            if page_nodes.get(ref, path) != path or (not in_struct and ref in struct_nodes):
                return
        if isinstance(obj, DictionaryObject):
            for key, value in obj.items():
                if key == "/Parent" or (in_struct and key == "/P") or not isinstance(value, _NODES):
                    continue
                walk(
                    value,
                    (*path, key),
                    on_path,
                    in_struct or (key == "/K" and path == _STRUCT_TREE_PATH),
                )
        elif isinstance(obj, ArrayObject):
            for ix, value in enumerate(obj):
                if isinstance(value, _NODES):
                    walk(value, (*path, ix), on_path, in_struct)

    walk(resolver.trailer_view, (), (), False)
    return collected


def collect_indirect_references(self: Any, obj: Any, seen: set[Any], since_revision: Any = None) -> None:
    """``HistoricalResolver._collect_indirect_references``, without visiting leaves."""
    if isinstance(obj, generic.IndirectObject):
        ref = obj.reference
        if ref in seen:
            return
        relevant = since_revision is None or self.reader.xrefs.get_introducing_revision(ref) >= since_revision
        if relevant:
            seen.add(ref)
        elif since_revision is not None:
            return
        obj = self(ref)
    if isinstance(obj, generic.DictionaryObject):
        values: Any = obj.values()
    elif isinstance(obj, generic.ArrayObject):
        values = obj
    else:
        return
    for value in values:
        if isinstance(value, _NODES):
            collect_indirect_references(self, value, seen, since_revision)


# --------------------------------------------------------------------------- embedded certificates
#
# pyHanko takes the certificates out of a CMS signed-data value (``extract_certificate_info``) again
# for every question about it: nine times a report for six values (each signature's and each
# token's), each time as deep copies (asn1crypto's ``untag``) that are then parsed afresh, though
# the CA's certificate comes in all six and the TSA's in three.  The replacement answers a value
# once (remembered on the value itself, for as long as it lives) and gives each certificate as the
# parsed object of its DER encoding, shared (per thread, bounded) by every value and every file
# that carries the same encoding: a school's certificates come in every transcript it issues.
# Certificates are read, never changed, by pyHanko and certvalidator; a value asn1crypto cannot
# parse, or anything unusual (attribute certificates), goes to the original.

_original_certificate_info = sign_general.extract_certificate_info
_CERT_INFO = "_signet_certificate_info"  # attribute of a SignedData: its answer
_CERTIFICATES = 256  # parsed certificates kept per thread (≈ 27 KB each)


def extract_certificate_info(signed_data: Any) -> Any:
    """``pyhanko.sign.general.extract_certificate_info``, once per value, certificates shared."""
    if type(signed_data) is not cms.SignedData:
        return _original_certificate_info(signed_data)
    found = signed_data.__dict__.get(_CERT_INFO)
    if found is not None:
        return found
    info = _original_certificate_info(signed_data)
    if not info.attribute_certs:
        info = sign_general.SignedDataCerts(
            signer_cert=_shared_certificate(info.signer_cert),
            other_certs=[_shared_certificate(c) for c in info.other_certs],
            attribute_certs=[],
        )
        signed_data.__dict__[_CERT_INFO] = info
    return info


def _shared_certificate(cert: x509.Certificate) -> x509.Certificate:
    der = cert.dump()
    return _cache("certificates", _CERTIFICATES).get_or(der, lambda: x509.Certificate.load(der))


def forget_certificates() -> None:
    """Forget what this thread keeps by DER (parsed certificates; X.509 name preparations,
    comparisons and keys, for every thread): the next file is verified as by a fresh process."""
    _cache("certificates", _CERTIFICATES).clear()
    _rdn_equal.clear()
    _rdn_hashable.clear()
    _ldap_prepared.cache_clear()


# pyHanko checks a signer's signing-certificate attribute (ESS) against the signer's certificate
# each time it selects that certificate and again when it checks the signature's integrity (its
# own comment: "performed twice"), two or three times a CMS value in a full validation: the
# certificate's DER is hashed and its issuer and serial compared with the attribute's first
# ESSCertID each time.  Whether an ESSCertID names a certificate is a pure function of the two, and
# a signer's ESSCertID is the same in every file it signs, so the ones that matched are remembered
# on the certificate object (shared per DER, above; a handful each); finding the attribute in the
# signed attributes is done every time, and a mismatch raises every time, as before.

_original_check_signing_certificate = generic_cms._check_signing_certificate
_ESS_MATCHED = "_signet_ess_matched"  # attribute of a certificate: ESSCertIDs (type, DER) that name it
_ESS_KEPT = 8


def check_signing_certificate(cert: x509.Certificate, signed_attrs: Any) -> None:
    """``generic_cms._check_signing_certificate``, remembering the ESSCertIDs that named ``cert``."""
    if type(cert) is not x509.Certificate:
        return _original_check_signing_certificate(cert, signed_attrs)
    attr = generic_cms.get_signing_cert_attr(signed_attrs)
    if attr is None:
        return None  # no attribute: no constraint (as the original)
    certid = attr["certs"][0]
    key = (type(certid), certid.dump())
    matched: set[tuple[type, bytes]] = cert.__dict__.setdefault(_ESS_MATCHED, set())
    if key in matched:
        return None
    _original_check_signing_certificate(cert, signed_attrs)  # raises when it does not match
    if len(matched) >= _ESS_KEPT:
        matched.clear()
    matched.add(key)
    return None


# --------------------------------------------------------------------------- X.509 names
#
# asn1crypto compares two X.509 names (RFC 5280, 7.1) and keys its certificate stores by a name's
# ``hashable`` form afresh each time, preparing every value again: the same few names (the CA's, the
# TSA's, the signers') dozens of times per file, most of them in pyHanko's signing-certificate
# checks.  Both are pure functions of the names' DER, so their results are remembered by it
# (bounded); a name asn1crypto refuses raises every time, as before.

_original_rdn_eq = x509.RDNSequence.__eq__
_original_rdn_hashable = x509.RDNSequence.hashable
_NAMES = 4096
_rdn_equal: dict[tuple[bytes, bytes], bool] = {}
_rdn_hashable: dict[bytes, str] = {}


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _NAMES:
        cache.clear()
    cache[key] = value


def rdn_eq(self: Any, other: Any) -> bool:
    """``RDNSequence.__eq__``, remembered per pair of DER encodings."""
    if not isinstance(other, x509.RDNSequence):
        return False
    key = (self.dump(), other.dump())
    found = _rdn_equal.get(key)
    if found is None:
        found = bool(_original_rdn_eq(self, other))
        _remember(_rdn_equal, key, found)
    return found


def rdn_hashable(self: Any) -> str:
    """``RDNSequence.hashable``, remembered per DER encoding."""
    key = self.dump()
    found = _rdn_hashable.get(key)
    if found is None:
        found = _original_rdn_hashable.fget(self)
        _remember(_rdn_hashable, key, found)
    return found


# --------------------------------------------------------------------------- certificate paths
#
# Each signature of a report is validated with a validation context of its own (nothing one
# signature brings decides another's verdict), but the timestamp tokens of a transcript are all
# signed by the same TSA: its certificate path was built and validated three times.  Contexts that
# ``app.signing.pdf`` makes for one report share a trust manager, the DSS CRLs, the validation time
# and a memo (``PATH_MEMO``): a certificate's validation for a given usage is looked up there by the
# certificate's DER, the DER of every certificate in the context's registry (the candidates for its
# path) and the usage constraints, i.e. it is reused only where pyHanko would be given exactly the
# same question.  Any other context (signing, other callers) has no memo and is not affected.

PATH_MEMO = "_signet_path_memo"  # attribute of a ValidationContext: the report's memo (a dict)
_original_validate_cert_usage = generic_cms.validate_cert_usage


def _usage_key(settings: Any) -> tuple[Any, ...]:
    if type(settings) is not KeyUsageConstraints:
        raise TypeError(type(settings).__name__)
    key: list[Any] = []
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value is not None and not isinstance(value, (bool, str)):
            value = (type(value).__name__, tuple(sorted(value)))
        key.append((field.name, value))
    return tuple(key)


async def validate_cert_usage(
    cert: Any,
    validation_context: Any,
    key_usage_settings: Any,
    paths: Any,
    pkix_validation_params: Any = None,
) -> Any:
    """``generic_cms.validate_cert_usage``, answered from the report's memo when it can be."""
    memo: dict[Any, Any] | None = getattr(validation_context, PATH_MEMO, None)
    key: Any = None
    if memo is not None and pkix_validation_params is None and type(paths) is LazyPathIterator:
        try:
            key = (
                cert.dump(),
                frozenset(c.dump() for c in validation_context.certificate_registry),
                _usage_key(key_usage_settings),
            )
            hash(key)
        except TypeError:
            key = None
    if key is not None and key in memo:  # type: ignore[operator]
        await paths.cancel()  # as pyHanko's path search does when it is done
        return memo[key]  # type: ignore[index]
    result = await _original_validate_cert_usage(
        cert,
        validation_context,
        key_usage_settings=key_usage_settings,
        paths=paths,
        pkix_validation_params=pkix_validation_params,
    )
    if key is not None:
        memo[key] = result  # type: ignore[index]
    return result


def _install_fast_paths() -> None:
    generic.read_hex_string_from_stream = _read_hex_string
    x509.NameTypeAndValue._ldap_string_prep = _ldap_string_prep
    HistoricalResolver._subsume_object = subsume_object  # type: ignore[method-assign]
    HistoricalResolver._load_reverse_xref_cache = load_reverse_xref_cache  # type: ignore[method-assign]
    HistoricalResolver._collect_indirect_references = collect_indirect_references  # type: ignore[method-assign]
    x509.RDNSequence.__eq__ = rdn_eq
    x509.RDNSequence.hashable = property(rdn_hashable)
    generic_cms.validate_cert_usage = validate_cert_usage
    generic_cms._check_signing_certificate = check_signing_certificate
    for module in (sign_general, generic_cms, ades, dss):  # each holds its own name for it
        module.extract_certificate_info = extract_certificate_info  # type: ignore[attr-defined]


_install_fast_paths()


# ------------------------------------------------------------------------- verification QR, signed revisions
# (issue 6, owned by the verify engineer: appended here because this is the only module importing pyHanko)

import uuid  # noqa: E402 - kept with the section that needs it
from datetime import datetime  # noqa: E402


@dataclass(frozen=True)
class QrPlacement:
    """Where the verification QR goes: ``page`` from 0 (negative from the end), ``box`` (x1, y1, x2, y2)
    in points from the page's lower-left corner.  The code is a square at the left of the box, the
    label beside it.  The default is the free left column above the teacher's stamp (see stamps.py)."""

    page: int = -1
    box: tuple[float, float, float, float] = (40.0, 150.0, 285.0, 230.0)


QR_QUIET_ZONE = 2  # modules of white around the code (zbar and phone cameras read 2 reliably)


@_off_running_loop
def add_verification_qr(
    pdf: bytes,
    *,
    url: str,
    placement: QrPlacement | None = None,
    label: str = "Tra cứu / Verify",
    max_bytes: int = 20 * 1024 * 1024,
) -> bytes:
    """Draw a QR code for ``url`` (and a Vietnamese-capable label) as an incremental update.

    Done before the first signature, so every signature covers it.  The code is drawn as vector
    rectangles (crisp at any zoom, no image decoder needed); the existing page content is wrapped in
    ``q … Q`` so that a content stream leaving its graphics state modified cannot move the code.
    """
    import segno

    reader = open_checked(pdf, max_bytes=max_bytes)
    placement = placement or QrPlacement()
    try:
        pages = int(reader.root["/Pages"]["/Count"])
        page_ix = placement.page % pages
        writer = IncrementalPdfFileWriter.from_reader(reader)
        page_ref, _ = writer.find_page_for_modification(page_ix)
        origin_x, origin_y = _page_origin(page_ref.get_object())
        x1, y1, x2, y2 = placement.box
        side = min(abs(y2 - y1), abs(x2 - x1))
        x0, y0 = origin_x + min(x1, x2), origin_y + min(y1, y2)
        code = segno.make(url, error="m", micro=False)
        drawing = _qr_rectangles(code.matrix, x0, y0, side)
        resources = generic.DictionaryObject()
        label_ops = b""
        label_width = abs(x2 - x1) - side - 6
        if label and label_width > 20:
            name = f"/SignetQr{uuid.uuid4().hex}"  # unique: the page may carry a QR already
            template = _qr_label_template(tuple(label.split("\n")), label_width, side)
            xobject = writer.add_object(writer.import_object(template))
            resources[generic.pdf_name("/XObject")] = generic.DictionaryObject(
                {generic.pdf_name(name): xobject}
            )
            label_ops = b"q 1 0 0 1 %.2f %.2f cm %s Do Q\n" % (x0 + side + 6, y0, name.encode())
        opening = generic.StreamObject(stream_data=b"q\n")
        closing = generic.StreamObject(stream_data=b"Q\n" + drawing + label_ops)
        closing.compress()
        writer.add_stream_to_page(page_ix, writer.add_object(opening), prepend=True)
        writer.add_stream_to_page(page_ix, writer.add_object(closing), resources=resources or None)
        out = BytesIO()
        writer.write(out)
    except AppError:
        raise
    except Exception as exc:  # hostile input that passed open_checked but breaks the writer
        log.info("pdf_qr_failed", error=type(exc).__name__)
        raise PdfCorrupt() from exc
    return out.getvalue()


def _page_origin(page: generic.DictionaryObject) -> tuple[float, float]:
    """Lower-left corner of the (possibly inherited) MediaBox."""
    node: Any = page
    while node is not None:
        box = node.get("/MediaBox")
        if box is not None:
            box = box.get_object()
            return float(min(box[0], box[2])), float(min(box[1], box[3]))
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return 0.0, 0.0


def _qr_rectangles(matrix: tuple[bytearray, ...], x0: float, y0: float, side: float) -> bytes:
    """A white square with the dark modules as filled rectangles (one per horizontal run)."""
    n = len(matrix)
    module = side / (n + 2 * QR_QUIET_ZONE)
    ops = [b"1 g %.3f %.3f %.3f %.3f re f 0 g" % (x0, y0, side, side)]
    for r, row in enumerate(matrix):
        y = y0 + side - (r + 1 + QR_QUIET_ZONE) * module
        c = 0
        while c < n:
            if not row[c] & 1:
                c += 1
                continue
            start = c
            while c < n and row[c] & 1:
                c += 1
            x = x0 + (start + QR_QUIET_ZONE) * module
            ops.append(b"%.3f %.3f %.3f %.3f re" % (x, y, (c - start) * module, module))
    ops.append(b"f\n")
    return b"\n".join(ops)


_qr_label_lock = threading.Lock()
_qr_label_bytes: dict[tuple[tuple[str, ...], float, float], bytes] = {}


def _qr_label_template(lines: tuple[str, ...], width: float, height: float) -> generic.StreamObject:
    """The label typeset once per (text, size) with the embedded Vietnamese font, then reused."""
    key = (lines, round(width, 2), round(height, 2))
    with _qr_label_lock:
        data = _qr_label_bytes.get(key)
    if data is None:
        style = TextStampStyle(
            stamp_text="\n".join(line.replace("%", "%%") for line in lines),
            text_box_style=TextBoxStyle(
                font=GlyphAccumulatorFactory(str(STAMP_FONT), font_size=8), font_size=8, leading=11
            ),
            border_width=0,
            background=None,
            inner_content_layout=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MID
            ),
        )
        template_writer = PdfFileWriter()
        stamp = TextStamp(
            template_writer, style, text_params={}, box=layout.BoxConstraints(width=key[1], height=key[2])
        )
        template_writer.root["/SignetQrLabel"] = stamp.register()
        buffer = BytesIO()
        template_writer.write(buffer)
        data = buffer.getvalue()
        with _qr_label_lock:
            _qr_label_bytes[key] = data

    def make() -> generic.StreamObject:
        template: generic.StreamObject = PdfFileReader(BytesIO(data)).root["/SignetQrLabel"]
        return template

    return _cache("qr_labels", 8).get_or(key, make)


@dataclass(frozen=True)
class CertificateInfo:
    """The certificate of one signature, as a verifier shows it."""

    common_name: str
    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    self_signed: bool


@dataclass(frozen=True)
class SignedRevision:
    """What one signature covers: the file as it was when signed (``sha256`` of those bytes)."""

    field: str
    sha256: str
    length: int
    covers_whole_file: bool
    certificate: CertificateInfo | None


@_off_running_loop
def signed_revisions(pdf: bytes, *, max_bytes: int = 100 * 1024 * 1024) -> tuple[SignedRevision, ...]:
    """Each signature's signed revision (hash of the bytes up to the end of its byte range) and
    certificate.  Cheap (no validation): used to recognise a file we signed, even with bytes appended."""
    _, embedded = _open_signed(pdf, max_bytes=max_bytes)
    return _signed_revisions(pdf, embedded)


def _open_signed(pdf: bytes, *, max_bytes: int) -> tuple[PdfFileReader, list[Any]]:
    """The reader of ``pdf`` and its embedded signatures; ``PdfError`` for what cannot be read."""
    check_bytes(pdf, max_bytes=max_bytes)
    try:
        reader = _read_untrusted(pdf)
        if reader.encrypted:
            raise PdfEncrypted()
        return reader, list(reader.embedded_signatures)
    except PdfError:
        raise
    except Exception as exc:  # see open_checked
        raise PdfCorrupt() from exc


def _signed_revisions(pdf: bytes, embedded: list[Any]) -> tuple[SignedRevision, ...]:
    out: list[SignedRevision] = []
    for sig in embedded:
        try:
            offset, _, second, length = (int(v) for v in sig.byte_range)
            end = min(second + length, len(pdf))
        except Exception:  # a malformed /ByteRange: nothing this signature covers can be named
            log.info("pdf_byte_range_unreadable", field=str(sig.field_name))
            continue
        certificate: CertificateInfo | None
        try:
            certificate = _certificate_info(sig.signer_cert)
        except Exception:
            certificate = None
        out.append(
            SignedRevision(
                field=str(sig.field_name),
                sha256=hashlib.sha256(pdf[:end]).hexdigest(),
                length=end,
                covers_whole_file=offset == 0 and end == len(pdf),
                certificate=certificate,
            )
        )
    return tuple(out)


def _certificate_info(cert: x509.Certificate) -> CertificateInfo:
    return CertificateInfo(
        common_name=_common_name(cert),
        subject=cert.subject.human_friendly,
        issuer=cert.issuer.human_friendly,
        serial_hex=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before,
        not_after=cert.not_valid_after,
        self_signed=cert.self_signed != "no",
    )
