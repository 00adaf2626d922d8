"""Small ASN.1 helpers shared by the HSM adapter, the development CA and the TSA.

Everything here is pure (bytes in, bytes out) so it can be tested without a token.  asn1crypto is
used because an HSM key cannot be handed to ``cryptography``'s builders: we build the to-be-signed
structure ourselves, hash it, and let the HSM sign the digest.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from asn1crypto import algos, crl, csr, keys, pem
from asn1crypto import x509 as asn1x509

from app.keys.hsm import HashAlgorithm, Hsm, KeyAlgorithm, KeyInfo, SignScheme

# DER of DigestInfo{AlgorithmIdentifier{hash, NULL}, OCTET STRING(len)} without the digest itself
# (RFC 8017 section 9.2, note 1): CKM_RSA_PKCS only pads, so we must prepend the prefix ourselves.
DIGEST_INFO_PREFIX: dict[HashAlgorithm, bytes] = {
    HashAlgorithm.SHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    HashAlgorithm.SHA384: bytes.fromhex("3041300d060960864801650304020205000430"),
    HashAlgorithm.SHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
}

HASHERS: dict[HashAlgorithm, Callable[[bytes], bytes]] = {
    HashAlgorithm.SHA256: lambda data: hashlib.sha256(data).digest(),
    HashAlgorithm.SHA384: lambda data: hashlib.sha384(data).digest(),
    HashAlgorithm.SHA512: lambda data: hashlib.sha512(data).digest(),
}


def digest(data: bytes, hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256) -> bytes:
    return HASHERS[hash_algorithm](data)


def digest_info(hash_algorithm: HashAlgorithm, value: bytes) -> bytes:
    """The DigestInfo that PKCS#1 v1.5 signs, for a digest computed elsewhere."""
    if len(value) != hash_algorithm.digest_size:
        raise ValueError(
            f"a {hash_algorithm} digest has {hash_algorithm.digest_size} bytes, not {len(value)}"
        )
    return DIGEST_INFO_PREFIX[hash_algorithm] + value


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    """PKCS#11 returns r||s (IEEE P1363); CMS and X.509 want ``SEQUENCE {r INTEGER, s INTEGER}``."""
    return algos.DSASignature.from_p1363(raw).dump()


def rsa_spki(modulus: bytes, public_exponent: bytes) -> bytes:
    """SubjectPublicKeyInfo (DER) of an RSA public key given as PKCS#11 big-endian attributes."""
    rsa = keys.RSAPublicKey(
        {
            "modulus": int.from_bytes(modulus, "big"),
            "public_exponent": int.from_bytes(public_exponent, "big"),
        }
    )
    return keys.PublicKeyInfo.wrap(rsa, "rsa").dump()


def ec_spki(ec_params: bytes, ec_point: bytes) -> bytes:
    """SubjectPublicKeyInfo (DER) of an EC key from CKA_EC_PARAMS and the DER-wrapped CKA_EC_POINT."""
    from asn1crypto.core import OctetString

    params = keys.ECDomainParameters.load(ec_params)
    point = bytes(OctetString.load(ec_point))
    info = keys.PublicKeyInfo({"algorithm": {"algorithm": "ec", "parameters": params}, "public_key": point})
    return info.dump()


P256_PARAMS = keys.ECDomainParameters(name="named", value="secp256r1").dump()


def default_scheme(algorithm: KeyAlgorithm) -> SignScheme:
    return SignScheme.RSA_PKCS1V15 if algorithm.is_rsa else SignScheme.ECDSA


def signature_algorithm(
    algorithm: KeyAlgorithm,
    hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256,
    scheme: SignScheme | None = None,
) -> algos.SignedDigestAlgorithm:
    """The AlgorithmIdentifier that goes next to a signature made with ``scheme``."""
    scheme = scheme or default_scheme(algorithm)
    if scheme is SignScheme.ECDSA:
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_algorithm.value}_ecdsa"})
    if scheme is SignScheme.RSA_PKCS1V15:
        return algos.SignedDigestAlgorithm({"algorithm": f"{hash_algorithm.value}_rsa"})
    return algos.SignedDigestAlgorithm(
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": hash_algorithm.value},
                "mask_gen_algorithm": {
                    "algorithm": "mgf1",
                    "parameters": {"algorithm": hash_algorithm.value},
                },
                "salt_length": hash_algorithm.digest_size,
            },
        }
    )


def load_certificates(data: bytes) -> list[asn1x509.Certificate]:
    """One DER certificate, or every certificate of a PEM bundle, in file order."""
    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        found = []
        for kind, _headers, der in pem.unarmor(stripped, multiple=True):
            if kind == "CERTIFICATE":
                found.append(asn1x509.Certificate.load(der))
        if not found:
            raise ValueError("the PEM data holds no CERTIFICATE block")
        return found
    cert = asn1x509.Certificate.load(data, strict=True)
    _ = cert.native  # parse eagerly: asn1crypto is lazy and would fail later otherwise
    return [cert]


def pem_armor(kind: str, der: bytes) -> str:
    return pem.armor(kind, der).decode("ascii")


# ---- building and signing structures with a key that stays in the HSM -------------------------


def utc_time(when: datetime) -> asn1x509.Time:
    """RFC 5280 4.1.2.5: UTCTime until 2049, GeneralizedTime after; whole seconds."""
    when = when.astimezone(UTC).replace(microsecond=0)
    return asn1x509.Time(name="utc_time" if when.year < 2050 else "general_time", value=when)


def random_serial() -> int:
    """159 random bits: positive, at most 20 octets, unguessable (CA/B Forum asks for >= 64 bits)."""
    return secrets.randbits(159) | (1 << 150)


def build_name(*, common_name: str, organisation: str | None = None, country: str = "VN") -> asn1x509.Name:
    attrs: dict[str, str] = {"country_name": country, "common_name": common_name}
    if organisation:
        attrs["organization_name"] = organisation
    return asn1x509.Name.build(attrs)


def key_identifier(spki_der: bytes) -> bytes:
    """RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits."""
    return bytes(keys.PublicKeyInfo.load(spki_der).sha1)


def sign_with(
    hsm: Hsm, key: KeyInfo, data: bytes, hash_algorithm: HashAlgorithm = HashAlgorithm.SHA256
) -> tuple[algos.SignedDigestAlgorithm, bytes]:
    """Hash ``data`` here and have the HSM sign the digest; returns (AlgorithmIdentifier, signature)."""
    value = hsm.sign_digest(
        key_id=key.key_id, digest=digest(data, hash_algorithm), hash_algorithm=hash_algorithm
    )
    return signature_algorithm(key.algorithm, hash_algorithm), value


def extension(extn_id: str, value: object, *, critical: bool = False) -> asn1x509.Extension:
    return asn1x509.Extension({"extn_id": extn_id, "critical": critical, "extn_value": value})


def build_certificate(
    hsm: Hsm,
    *,
    issuer_key: KeyInfo,
    issuer_name: asn1x509.Name,
    subject_name: asn1x509.Name,
    subject_spki: bytes,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    extensions: list[asn1x509.Extension],
) -> bytes:
    """An X.509 v3 certificate whose TBS part is signed inside the HSM by ``issuer_key``."""
    sig_alg = signature_algorithm(issuer_key.algorithm)
    tbs = asn1x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": sig_alg,
            "issuer": issuer_name,
            "validity": {"not_before": utc_time(not_before), "not_after": utc_time(not_after)},
            "subject": subject_name,
            "subject_public_key_info": keys.PublicKeyInfo.load(subject_spki),
            "extensions": extensions,
        }
    )
    _alg, signature = sign_with(hsm, issuer_key, tbs.dump())
    cert = asn1x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": sig_alg, "signature_value": signature}
    )
    return cert.dump()


def build_csr(hsm: Hsm, *, key: KeyInfo, subject_name: asn1x509.Name) -> bytes:
    """A PKCS#10 request signed inside the HSM: proof of possession without the key leaving it."""
    info = csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": subject_name,
            "subject_pk_info": keys.PublicKeyInfo.load(key.public_key_der),
            "attributes": [],
        }
    )
    sig_alg, signature = sign_with(hsm, key, info.dump())
    request = csr.CertificationRequest(
        {"certification_request_info": info, "signature_algorithm": sig_alg, "signature": signature}
    )
    return request.dump()


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str  # an asn1crypto CRLReason name, e.g. "key_compromise"


def build_crl(
    hsm: Hsm,
    *,
    issuer_key: KeyInfo,
    issuer_name: asn1x509.Name,
    revoked: list[RevokedEntry],
    number: int,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """An X.509 v2 CRL signed in the HSM (RFC 5280 section 5)."""
    sig_alg = signature_algorithm(issuer_key.algorithm)
    tbs: dict[str, object] = {
        "version": "v2",
        "signature": sig_alg,
        "issuer": issuer_name,
        "this_update": utc_time(this_update),
        "next_update": utc_time(next_update),
        "crl_extensions": [
            {"extn_id": "crl_number", "critical": False, "extn_value": number},
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": key_identifier(issuer_key.public_key_der)},
            },
        ],
    }
    if revoked:  # RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked
        tbs["revoked_certificates"] = [
            {
                "user_certificate": entry.serial,
                "revocation_date": utc_time(entry.revoked_at),
                "crl_entry_extensions": [
                    {"extn_id": "crl_reason", "critical": False, "extn_value": entry.reason}
                ],
            }
            for entry in revoked
        ]
    tbs_list = crl.TbsCertList(tbs)
    _alg, signature = sign_with(hsm, issuer_key, tbs_list.dump())
    return crl.CertificateList(
        {"tbs_cert_list": tbs_list, "signature_algorithm": sig_alg, "signature": signature}
    ).dump()


@dataclass(frozen=True)
class CertificateSummary:
    subject_dn: str
    issuer_dn: str
    serial_hex: str
    not_before: datetime
    not_after: datetime
    spki_der: bytes


def describe_certificate(der: bytes) -> CertificateSummary:
    cert = asn1x509.Certificate.load(der)
    validity = cert["tbs_certificate"]["validity"]
    return CertificateSummary(
        subject_dn=cert.subject.human_friendly,
        issuer_dn=cert.issuer.human_friendly,
        serial_hex=format(cert.serial_number, "x"),
        not_before=validity["not_before"].native.astimezone(UTC),
        not_after=validity["not_after"].native.astimezone(UTC),
        spki_der=cert.public_key.dump(),
    )
