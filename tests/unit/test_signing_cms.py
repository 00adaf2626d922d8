"""The pre-encoded CMS: well-formed DER, a signature over exactly the signed attributes, and a TSA
answer accepted only when it is for our signature and our nonce."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from app.keys.hsm import HashAlgorithm
from app.signing.cms import CmsTemplate, EncodedContentInfo, build, tlv, token_from_response
from app.signing.errors import TimestampUnavailable
from tests.fixtures.pki import MemoryPki


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


def test_the_cms_parses_and_its_signature_covers_the_signed_attributes(pki: MemoryPki) -> None:
    material = pki.credential("Nguyễn Thị Hồng Vân")
    template = CmsTemplate.create(material.certificate_der, material.chain_der, material.algorithm)
    digest = hashlib.sha256(b"the document").digest()

    def sign(data: bytes) -> bytes:
        return pki.hsm.sign_digest(
            key_id=material.key_id, digest=hashlib.sha256(data).digest(), hash_algorithm=HashAlgorithm.SHA256
        )

    tsa = pki.tsa()
    der = build(template, digest, sign, tsa)
    info = cms.ContentInfo.load(der)
    assert info.dump(force=True) == der  # asn1crypto re-encodes it to the same bytes: valid DER
    signed_data = info["content"]
    signer = signed_data["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0].native for a in signer["signed_attrs"]}
    assert attrs["message_digest"] == digest and attrs["content_type"] == "data"
    assert "signing_certificate_v2" in attrs
    assert len(signed_data["certificates"]) == 2
    cert = x509.load_der_x509_certificate(material.certificate_der)
    signed_bytes = signer["signed_attrs"].untag().dump(force=True)
    cert.public_key().verify(  # type: ignore[union-attr, call-arg]
        signer["signature"].native, signed_bytes, padding.PKCS1v15(), hashes.SHA256()
    )
    (unsigned,) = signer["unsigned_attrs"]
    assert unsigned["type"].native == "signature_time_stamp_token"


def test_a_timestamp_for_other_data_is_refused(pki: MemoryPki) -> None:
    material = pki.credential("Trần Văn Bình")
    template = CmsTemplate.create(material.certificate_der, material.chain_der, material.algorithm)
    honest = pki.tsa()
    replayed: list[bytes] = []

    def replaying_tsa(request: bytes) -> bytes:
        if not replayed:  # answer every request with the first answer ever given
            replayed.append(honest(request))
            return replayed[0]
        return replayed[0]

    def sign(data: bytes) -> bytes:
        return pki.hsm.sign_digest(key_id=material.key_id, digest=hashlib.sha256(data).digest())

    build(template, b"\1" * 32, sign, replaying_tsa)
    with pytest.raises(TimestampUnavailable):
        build(template, b"\2" * 32, sign, replaying_tsa)


def test_a_tsa_refusal_is_refused(pki: MemoryPki) -> None:
    material = pki.credential("Lê Thị Mai")
    template = CmsTemplate.create(material.certificate_der, material.chain_der, material.algorithm)

    def rejecting_tsa(request: bytes) -> bytes:
        from asn1crypto import tsp

        return tsp.TimeStampResp({"status": {"status": "rejection"}}).dump()

    def sign(data: bytes) -> bytes:
        return pki.hsm.sign_digest(key_id=material.key_id, digest=hashlib.sha256(data).digest())

    with pytest.raises(TimestampUnavailable):
        build(template, b"\3" * 32, sign, rejecting_tsa)


def test_a_cms_whose_length_ends_in_0x80_is_handed_on_as_its_own_bytes() -> None:
    """asn1crypto takes a loaded header ending in 0x80 (``30 82 11 80``) for a BER indefinite length
    and re-encodes the whole tree on ``dump()`` — exponentially slowly once a DEFAULT field (a TSA
    token's ESSCertIDv2) has been parsed.  That stalled the principal's signature (issue: second
    signature stalls in fill_with_cms)."""
    data_oid = cms.ContentType("data").dump()
    der = next(
        d
        for pad in range(200, 600)
        if (d := tlv(0x30, data_oid + tlv(0xA0, tlv(0x04, bytes(pad)))))[1:2] == b"\x82" and d[3] == 0x80
    )
    assert cms.ContentInfo.load(der)._header[-1:] == b"\x80"  # the case asn1crypto mistakes for BER
    value = EncodedContentInfo.from_der(der)
    assert value["content_type"].native == "data"  # still readable
    assert value.dump() == der and value.dump(force=True) == der


def test_the_timestamp_token_is_embedded_byte_for_byte(pki: MemoryPki) -> None:
    tsa = pki.tsa()
    request = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": bytes(32)},
        }
    ).dump()
    raw = tsa(request)
    token = token_from_response(raw)
    assert token is not None and token == tsp.TimeStampResp.load(raw)["time_stamp_token"].dump()
    rejection = tlv(0x30, tlv(0x30, b"\x02\x01\x02"))  # status rejection (2), no token
    assert token_from_response(rejection) is None
