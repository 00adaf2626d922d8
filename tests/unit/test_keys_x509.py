"""Pure ASN.1 helpers and certificate-import linking, checked against independent encoders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import algos
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.x509.oid import NameOID

from app.errors import AppError
from app.keys.hsm import HashAlgorithm, KeyAlgorithm, SignScheme
from app.keys.service import verify_import
from app.keys.x509 import (
    digest,
    digest_info,
    ecdsa_raw_to_der,
    load_certificates,
    random_serial,
    signature_algorithm,
    utc_time,
)


@pytest.mark.parametrize("hash_algorithm", list(HashAlgorithm))
def test_digest_info_is_the_der_of_asn1_digestinfo(hash_algorithm: HashAlgorithm) -> None:
    value = digest(b"hoc ba", hash_algorithm)
    expected = algos.DigestInfo(
        {"digest_algorithm": {"algorithm": hash_algorithm.value, "parameters": None}, "digest": value}
    )
    # RFC 8017 note 1: the parameters field is NULL, present
    expected["digest_algorithm"]["parameters"] = algos.Null()
    assert digest_info(hash_algorithm, value) == expected.dump()
    with pytest.raises(ValueError, match="bytes"):
        digest_info(hash_algorithm, value[:-1])


def test_ecdsa_raw_signature_becomes_der() -> None:
    r, s = 2**255 + 12345, 987654321
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert utils.decode_dss_signature(ecdsa_raw_to_der(raw)) == (r, s)


def test_pss_algorithm_identifier_carries_its_parameters() -> None:
    alg = signature_algorithm(KeyAlgorithm.RSA2048, HashAlgorithm.SHA384, SignScheme.RSA_PSS)
    params = alg["parameters"].native
    assert alg["algorithm"].native == "rsassa_pss"
    assert params["hash_algorithm"]["algorithm"] == "sha384" and params["salt_length"] == 48
    assert signature_algorithm(KeyAlgorithm.P256)["algorithm"].native == "sha256_ecdsa"


def test_serials_are_positive_large_and_fit_20_octets() -> None:
    serials = {random_serial() for _ in range(100)}
    assert len(serials) == 100
    assert all(2**150 <= s < 2**159 for s in serials)


def test_times_switch_to_generalized_after_2049() -> None:
    assert utc_time(datetime(2049, 12, 31, tzinfo=UTC)).name == "utc_time"
    assert utc_time(datetime(2050, 1, 1, tzinfo=UTC)).name == "general_time"


class Pki:
    """root -> intermediate -> leaf, built with cryptography."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.int_key = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._cert("Root", self.root_key, "Root", self.root_key, ca=True)
        self.intermediate = self._cert("Intermediate", self.int_key, "Root", self.root_key, ca=True)
        self.leaf = self._cert("Leaf", self.leaf_key, "Intermediate", self.int_key, ca=False)

    def _cert(
        self,
        subject: str,
        key: ec.EllipticCurvePrivateKey,
        issuer: str,
        issuer_key: ec.EllipticCurvePrivateKey,
        *,
        ca: bool,
    ) -> x509.Certificate:
        def name(cn: str) -> x509.Name:
            return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - timedelta(days=1))
            .not_valid_after(self.now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(issuer_key, hashes.SHA256())
        )

    def spki(self) -> bytes:
        return self.leaf_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def test_bundle_in_any_order_is_linked_leaf_first_root_last() -> None:
    pki = Pki()
    leaf, chain = verify_import(
        _pem(pki.root, pki.leaf, pki.intermediate), public_key_der=pki.spki(), known_issuers=[]
    )
    assert leaf == _der(pki.leaf)
    assert chain == (_der(pki.intermediate), _der(pki.root))
    assert [c.dump() for c in load_certificates(_pem(pki.root, pki.leaf))] == [_der(pki.root), _der(pki.leaf)]


def test_known_issuers_complete_a_short_bundle() -> None:
    pki = Pki()
    _leaf, chain = verify_import(
        _pem(pki.leaf, pki.intermediate), public_key_der=pki.spki(), known_issuers=[_der(pki.root)]
    )
    assert chain == (_der(pki.intermediate), _der(pki.root))


def test_a_missing_middle_link_breaks_the_chain() -> None:
    pki = Pki()
    with pytest.raises(AppError) as caught:
        verify_import(_pem(pki.leaf, pki.root), public_key_der=pki.spki(), known_issuers=[])
    assert caught.value.code == "credential.chain_broken"
