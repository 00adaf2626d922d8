"""The development TSA's tokens, spliced from pre-encoded parts: the same DER that asn1crypto builds
from the same fields, and a token pyHanko's validator accepts (no SoftHSM: an in-memory key)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1x509
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from app.keys.hsm import HashAlgorithm, KeyAlgorithm, KeyInfo
from app.keys.tsa import TSA_POLICY_OID, TimeStampResp, TokenTemplate, granted
from tests.fixtures.pki import MemoryPki


@pytest.fixture(scope="module")
def pki() -> MemoryPki:
    return MemoryPki.create()


@pytest.fixture(scope="module")
def tsa(pki: MemoryPki) -> tuple[KeyInfo, bytes]:
    key = pki.hsm.generate_keypair(algorithm=KeyAlgorithm.RSA2048, label="tsa")
    return key, pki.issue(key.public_key_der, "Signet DEVELOPMENT TSA — NOT TRUSTED", tsa=True)


def _imprint(data: bytes, algorithm: str = "sha256") -> tsp.MessageImprint:
    return tsp.MessageImprint(
        {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": hashlib.new(algorithm, data).digest()}
    )


def _reference(
    cert_der: bytes,
    sign: Callable[[bytes], bytes],
    imprint: tsp.MessageImprint,
    serial: int,
    now: datetime,
    nonce: int | None,
    cert_req: bool,
) -> bytes:
    """The token as asn1crypto builds it from the fields (how the TSA built every token before)."""
    cert = asn1x509.Certificate.load(cert_der)
    info: dict[str, object] = {
        "version": "v1",
        "policy": TSA_POLICY_OID,
        "message_imprint": imprint,
        "serial_number": serial,
        "gen_time": now,
        "accuracy": {"seconds": 1},
        "ordering": False,
        "tsa": asn1x509.GeneralName(name="directory_name", value=cert.subject),
    }
    if nonce is not None:
        info["nonce"] = nonce
    tst_der = tsp.TSTInfo(info).dump()
    attrs_der = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "signing_time", "values": [cms.Time(name="utc_time", value=now)]},
            {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]},
            {
                "type": "signing_certificate_v2",
                "values": [
                    {
                        "certs": [
                            {
                                "cert_hash": hashlib.sha256(cert_der).digest(),
                                "issuer_serial": {
                                    "issuer": [
                                        asn1x509.GeneralName(name="directory_name", value=cert.issuer)
                                    ],
                                    "serial_number": cert.serial_number,
                                },
                            }
                        ]
                    }
                ],
            },
        ]
    ).dump()
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={"issuer": cert.issuer, "serial_number": cert.serial_number},
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": cms.CMSAttributes.load(attrs_der),
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            "signature": sign(attrs_der),
        }
    )
    content: dict[str, object] = {
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst_der)},
        "signer_infos": [signer_info],
    }
    if cert_req:
        content["certificates"] = [cert]
    token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(content)})
    return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


def _signer(pki: MemoryPki, key: KeyInfo) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        digest = hashlib.sha256(data).digest()
        return pki.hsm.sign_digest(key_id=key.key_id, digest=digest, hash_algorithm=HashAlgorithm.SHA256)

    return sign


@pytest.mark.parametrize(
    ("nonce", "cert_req", "algorithm"),
    [(0x5EED, True, "sha256"), (None, False, "sha256"), (2**63 - 1, True, "sha512"), (1, False, "sha384")],
)
def test_spliced_token_is_the_der_asn1crypto_builds(
    pki: MemoryPki, tsa: tuple[KeyInfo, bytes], nonce: int | None, cert_req: bool, algorithm: str
) -> None:
    key, cert_der = tsa
    template = TokenTemplate.create(cert_der, key)
    imprint = _imprint(b"a signature value", algorithm)
    now = datetime(2026, 11, 22, 8, 30, 5, tzinfo=UTC)
    serial = (1 << 126) + 12345
    sign = _signer(pki, key)
    tst = template.tst_info(imprint.dump(), serial, now, nonce)
    spliced = granted(template.token(tst, now, sign, certificates=cert_req))
    assert spliced == _reference(cert_der, sign, imprint, serial, now, nonce, cert_req)
    loaded = TimeStampResp.load(spliced)
    assert loaded.dump(force=True) == spliced  # asn1crypto encodes the parsed value to the same bytes


def test_pyhanko_accepts_a_spliced_token(pki: MemoryPki, tsa: tuple[KeyInfo, bytes]) -> None:
    key, cert_der = tsa
    template = TokenTemplate.create(cert_der, key)
    data = b"the CMS signature value of a transcript"
    now = datetime.now(UTC).replace(microsecond=0)
    tst = template.tst_info(_imprint(data).dump(), 7, now, 42)
    response = TimeStampResp.load(granted(template.token(tst, now, _signer(pki, key), certificates=True)))
    signed_data = response["time_stamp_token"]["content"]
    context = ValidationContext(
        trust_roots=[asn1x509.Certificate.load(pki.root_der)],
        crls=[pki.crl_der()],
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
    status = asyncio.run(
        validate_tst_signed_data(signed_data, context, lambda alg: hashlib.new(alg, data).digest())
    )
    result = TimestampSignatureStatus(**status)
    assert result.intact and result.valid and result.trusted, result.summary()
    assert result.timestamp == now
