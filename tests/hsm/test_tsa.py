"""The development TSA: tokens verify (by hand and with pyHanko), requests are validated."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509.oid import ExtendedKeyUsageOID
from flask import Flask
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from app.keys import service
from app.keys.tsa import TSA_POLICY_OID, TimeStampResp

pytestmark = pytest.mark.hsm


def _request(
    data: bytes = b"signature value",
    *,
    algorithm: str = "sha256",
    nonce: int | None = 0x5EED,
    cert_req: bool = True,
    hashed: bytes | None = None,
    policy: str | None = None,
) -> bytes:
    req: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": {"algorithm": algorithm},
            "hashed_message": hashed if hashed is not None else hashlib.new(algorithm, data).digest(),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        req["nonce"] = nonce
    if policy is not None:
        req["req_policy"] = policy
    return tsp.TimeStampReq(req).dump()


def _granted(request_der: bytes) -> tuple[cms.SignedData, tsp.TSTInfo]:
    response = TimeStampResp.load(service.tsa_respond(request_der))
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    return signed_data, signed_data["encap_content_info"]["content"].parsed


def test_token_signature_and_imprint_verify_independently(app: Flask) -> None:
    data = b"the CMS signature value of a transcript"
    signed_data, info = _granted(_request(data, nonce=123456789))
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(data).digest()
    assert info["nonce"].native == 123456789
    assert info["policy"].native == TSA_POLICY_OID
    assert info["gen_time"].native.tzinfo is not None

    tsa_cert = x509.load_der_x509_certificate(signed_data["certificates"][0].chosen.dump())
    signer = signed_data["signer_infos"][0]
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    tst_der = signed_data["encap_content_info"]["content"].contents
    assert attrs["message_digest"].native == hashlib.sha256(tst_der).digest()
    cert_id = attrs["signing_certificate_v2"]["certs"][0]
    assert (
        cert_id["cert_hash"].native == hashlib.sha256(signed_data["certificates"][0].chosen.dump()).digest()
    )
    signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]  # [0] IMPLICIT back to SET (RFC 5652 5.4)
    tsa_cert.public_key().verify(  # type: ignore[call-arg, union-attr]
        signer["signature"].native, signed_bytes, padding.PKCS1v15(), hashes.SHA256()
    )

    root = x509.load_der_x509_certificate(service.trust_roots()[0])
    tsa_cert.verify_directly_issued_by(root)
    eku = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_pyhanko_accepts_the_token_with_our_root_and_crl(app: Flask) -> None:
    data = b"pades signature"
    signed_data, _info = _granted(_request(data))
    context = ValidationContext(
        trust_roots=[asn1x509.Certificate.load(der) for der in service.trust_roots()],
        crls=[service.dev_ca_crl_der()],
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
    status = asyncio.run(
        validate_tst_signed_data(signed_data, context, lambda alg: hashlib.new(alg, data).digest())
    )
    result = TimestampSignatureStatus(**status)
    assert result.intact and result.valid and result.trusted, result.summary()
    assert result.timestamp is not None


def test_certificates_only_when_asked_and_nonce_optional(app: Flask) -> None:
    signed_data, info = _granted(_request(cert_req=False, nonce=None))
    assert not signed_data["certificates"].native
    assert info["nonce"].native is None
    _sd, first = _granted(_request())
    _sd, second = _granted(_request())
    assert first["serial_number"].native != second["serial_number"].native


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (_request(algorithm="sha1"), "bad_alg"),
        (_request(algorithm="md5"), "bad_alg"),
        (_request(hashed=b"\x00" * 20), "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (b"garbage", "bad_data_format"),
        (_request(policy="1.2.3.4"), "unaccepted_policy"),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(app: Flask, request_der: bytes, fail_info: str) -> None:
    response = TimeStampResp.load(service.tsa_respond(request_der))
    assert response["status"]["status"].native == "rejection"
    assert fail_info in response["status"]["fail_info"].native
    assert response["time_stamp_token"].native is None


def test_our_own_policy_is_accepted(app: Flask) -> None:
    _sd, info = _granted(_request(policy=TSA_POLICY_OID))
    assert info["policy"].native == TSA_POLICY_OID
