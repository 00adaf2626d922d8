"""PAdES CMS SignedData from pre-encoded parts: the hot path of signing, without re-encoding.

For one credential every byte of the CMS is constant except the document digest, the signature
value and the timestamp token.  Building it with asn1crypto re-encodes certificates and attributes
for every document (the recipe measured that as the largest cost after the dry run); here the
constant parts are DER-encoded once per credential and the variable ones are spliced in.

What the bytes mean (RFC 5652, ETSI EN 319 122 / PAdES baseline)::

    ContentInfo { signedData, [0] SignedData {
        version 1, digestAlgorithms {sha256}, encapContentInfo {data},
        [0] certificates (signer + chain), signerInfos { SignerInfo {
            version 1, issuerAndSerialNumber, sha256,
            [0] signedAttrs { contentType data, messageDigest, signingCertificateV2 },
            signatureAlgorithm, signature,
            [1] unsignedAttrs { signatureTimeStampToken }   -- B-T only
    }}}}

The development TSA (``app/keys/tsa.py``) splices its RFC 3161 tokens with the same template
(``CmsTemplate.signed_data``: eContentType TSTInfo, the TSTInfo encapsulated, SignedData v3).

Only asn1crypto here (no pyHanko): ``pdf.py`` plugs this into pyHanko's signer.  pyHanko and
poppler's pdfsig validate the result in the tests.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from asn1crypto import algos, cms, core, tsp, x509

from app.keys.hsm import KeyAlgorithm
from app.signing.errors import TimestampUnavailable
from app.signing.reports import TsaClient

log = structlog.get_logger(__name__)

_OID_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.1").dump()
_OID_SIGNED_DATA = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
_OID_TIMESTAMP_TOKEN = core.ObjectIdentifier("1.2.840.113549.1.9.16.2.14").dump()
_OID_MESSAGE_DIGEST = core.ObjectIdentifier("1.2.840.113549.1.9.4").dump()
_SHA256 = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
_VERSION_1 = core.Integer(1).dump()
_VERSION_3 = core.Integer(3).dump()


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    length = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def element(data: bytes, start: int = 0) -> tuple[int, int]:
    """The DER element (single-byte tag) at ``start``: (where its contents begin, where it ends)."""
    if start + 2 > len(data):
        raise ValueError("truncated DER")
    first = data[start + 1]
    pos = start + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):  # indefinite (BER) or absurd: not ours to splice
            raise ValueError("not a definite DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return pos, pos + length


def token_from_response(response_der: bytes) -> bytes | None:
    """The ``timeStampToken`` of a DER ``TimeStampResp``, byte for byte (``None`` when absent).

    Sliced, never re-encoded: see ``EncodedContentInfo`` for why asn1crypto's ``dump()`` of a loaded
    token is not safe to call.
    """
    contents, end = element(response_der)
    _, status_end = element(response_der, contents)  # PKIStatusInfo
    if status_end >= end:
        return None
    _, token_end = element(response_der, status_end)
    return response_der[status_end:token_end]


class EncodedContentInfo(cms.ContentInfo):
    """A ContentInfo loaded from DER we trust, whose ``dump()`` returns exactly those bytes.

    asn1crypto 1.5's ``Asn1Value.dump`` takes any *loaded* header whose last byte is ``0x80`` for an
    indefinite (BER) length and re-encodes the whole tree with ``force``: a definite length such as
    ``30 82 11 80`` (a CMS of 0x1180 bytes) triggers it.  That re-encoding parses every level, and a
    child filled in from a DEFAULT (e.g. the ESSCertIDv2 hash algorithm in a TSA token) marks its
    ancestors as mutated, after which every level encodes its children twice: time doubles per level
    of nesting — about a minute per signature for our CMS with its timestamp token, and the bytes
    could come out differently from what was signed.  A signed CMS is never changed after the fact
    here (pyHanko only does so for PDF MAC tokens, i.e. encrypted documents, which are refused), so
    the original bytes are returned as they are; the value still parses lazily for readers.
    """

    _der: bytes = b""

    @classmethod
    def from_der(cls, der: bytes) -> EncodedContentInfo:
        value = cls.load(der, strict=True)
        assert isinstance(value, EncodedContentInfo)
        value._der = der
        return value

    def dump(self, force: bool = False) -> bytes:
        return self._der


def attribute(attr_type: str, value: core.Asn1Value) -> bytes:
    """One CMS Attribute with a single value, DER."""
    return cms.CMSAttribute({"type": attr_type, "values": [value]}).dump()


def message_digest_attribute(digest: bytes) -> bytes:
    """The message-digest attribute (what ``attribute("message_digest", ...)`` encodes), spliced."""
    return tlv(0x30, _OID_MESSAGE_DIGEST + tlv(0x31, tlv(0x04, digest)))


def attribute_set(*attributes: bytes) -> bytes:
    """The SET OF Attribute that is hashed and signed (RFC 5652 5.4), its elements in DER order."""
    return tlv(0x31, b"".join(sorted(attributes)))


@dataclass(frozen=True)
class CmsTemplate:
    """The constant parts of one credential's PAdES signatures, DER-encoded once."""

    content_type_attr: bytes
    signing_certificate_attr: bytes
    signer_id: bytes  # IssuerAndSerialNumber
    signature_algorithm: bytes  # AlgorithmIdentifier
    certificates: bytes  # [0] IMPLICIT SET OF Certificate

    @classmethod
    def create(
        cls, certificate_der: bytes, chain_der: tuple[bytes, ...], algorithm: KeyAlgorithm
    ) -> CmsTemplate:
        cert = x509.Certificate.load(certificate_der)
        ess_id = tsp.ESSCertIDv2(
            {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "cert_hash": hashlib.sha256(certificate_der).digest(),
                "issuer_serial": tsp.IssuerSerial(
                    {
                        "issuer": [x509.GeneralName({"directory_name": cert.issuer})],
                        "serial_number": cert.serial_number,
                    }
                ),
            }
        )
        mechanism = "sha256_ecdsa" if algorithm is KeyAlgorithm.P256 else "sha256_rsa"
        certs = sorted({certificate_der, *chain_der})  # DER orders a SET OF by encoding
        return cls(
            content_type_attr=attribute("content_type", cms.ContentType("data")),
            signing_certificate_attr=attribute(
                "signing_certificate_v2", tsp.SigningCertificateV2({"certs": [ess_id]})
            ),
            signer_id=cms.IssuerAndSerialNumber(
                {"issuer": cert.issuer, "serial_number": cert.serial_number}
            ).dump(),
            signature_algorithm=algos.SignedDigestAlgorithm({"algorithm": mechanism}).dump(),
            certificates=tlv(0xA0, b"".join(certs)),
        )

    def signed_attributes(self, document_digest: bytes) -> bytes:
        """The SET that is hashed and signed (its elements in DER order)."""
        digest_attr = message_digest_attribute(document_digest)
        return attribute_set(self.content_type_attr, digest_attr, self.signing_certificate_attr)

    def content_info(self, signed_attrs: bytes, signature: bytes, timestamp_token: bytes | None) -> bytes:
        """The complete ContentInfo DER for ``/Contents``."""
        unsigned = b""
        if timestamp_token is not None:
            unsigned = tlv(0x30, _OID_TIMESTAMP_TOKEN + tlv(0x31, timestamp_token))
        return self.signed_data(signed_attrs, signature, unsigned_attrs=unsigned)

    def signed_data(
        self,
        signed_attrs: bytes,
        signature: bytes,
        *,
        content_type: bytes = _OID_DATA,
        content: bytes | None = None,
        certificates: bool = True,
        unsigned_attrs: bytes = b"",
    ) -> bytes:
        """A ContentInfo wrapping SignedData with this signer's one SignerInfo, from DER parts.

        ``content_type`` is the eContentType's DER OID; ``content`` the encapsulated content, if
        any (a TSA's TSTInfo: RFC 3161 tokens carry it, PAdES signatures are detached);
        ``unsigned_attrs`` the DER Attributes of the SignerInfo's unsignedAttrs.
        """
        signer_info = tlv(
            0x30,
            _VERSION_1
            + self.signer_id
            + _SHA256
            + b"\xa0"
            + signed_attrs[1:]  # [0] IMPLICIT: the SET's tag replaced, its length kept
            + self.signature_algorithm
            + tlv(0x04, signature)
            + (tlv(0xA1, unsigned_attrs) if unsigned_attrs else b""),
        )
        encap = content_type if content is None else content_type + tlv(0xA0, tlv(0x04, content))
        signed_data = tlv(
            0x30,
            (_VERSION_1 if content_type == _OID_DATA else _VERSION_3)  # RFC 5652 5.1
            + tlv(0x31, _SHA256)
            + tlv(0x30, encap)
            + (self.certificates if certificates else b"")
            + tlv(0x31, signer_info),
        )
        return tlv(0x30, _OID_SIGNED_DATA + tlv(0xA0, signed_data))


def timestamp_token(client: TsaClient, signature: bytes) -> bytes:
    """Ask ``client`` for a signature timestamp over ``signature``; check and return the token DER.

    The answer must be ``granted`` and carry our digest and our nonce: a TSA (or anything between
    us and it) answering for other data must not end up in a signed document.
    """
    digest = hashlib.sha256(signature).digest()
    nonce = secrets.randbits(63)
    request = tlv(
        0x30,
        _VERSION_1
        + tlv(0x30, _SHA256 + tlv(0x04, digest))
        + core.Integer(nonce).dump()
        + core.Boolean(True).dump(),
    )
    try:
        raw = client(request)
        response = tsp.TimeStampResp.load(raw)
        status = response["status"]["status"].native
        token = response["time_stamp_token"]
        info = token["content"]["encap_content_info"]["content"].parsed
        imprint = info["message_imprint"]
        der = token_from_response(raw)  # the token's own bytes, never re-encoded
        ok = (
            der is not None
            and status in ("granted", "granted_with_mods")
            and imprint["hash_algorithm"]["algorithm"].native == "sha256"
            and imprint["hashed_message"].native == digest
            and info["nonce"].native == nonce
        )
    except TimestampUnavailable:
        raise
    except Exception as exc:  # network, HTTP, or a malformed answer: all mean "no timestamp"
        # the document fails with signing.tsa_unavailable; the cause goes to the log (type, not data)
        log.warning("timestamp_unavailable", error=type(exc).__name__, detail=str(exc)[:200])
        raise TimestampUnavailable() from exc
    if not ok:
        log.warning("timestamp_mismatch", status=str(status))
        raise TimestampUnavailable("The time-stamping service answered for other data; nothing was signed.")
    assert der is not None
    return der


Sign = Callable[[bytes], bytes]
"""Signature value over the SHA-256 of the given bytes (the HSM call)."""


def build(template: CmsTemplate, document_digest: bytes, sign: Sign, tsa: TsaClient | None) -> bytes:
    """Signed attributes → HSM signature → optional timestamp → ContentInfo DER."""
    signed_attrs = template.signed_attributes(document_digest)
    signature = sign(signed_attrs)
    token = timestamp_token(tsa, signature) if tsa is not None else None
    return template.content_info(signed_attrs, signature, token)
