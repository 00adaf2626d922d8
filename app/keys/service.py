"""Credentials: one HSM key, one owner, one certificate.  The contract other domains code against.

The slow HSM work (key generation, certificate or CSR signing) happens before the short database
transaction that stores its result; if that transaction fails, the new key is destroyed, so nothing
is ever half-written.  Every refusal is an ``AppError`` with a stable code.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from cryptography import x509 as cx509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_der_public_key
from sqlalchemy import select

from app.audit.service import record_event
from app.db import new_id, transaction, utcnow
from app.errors import BadRequest, Conflict, NotFound, Unprocessable
from app.keys import ca, tsa
from app.keys.hsm import KeyAlgorithm, KeyInfo, KeyNotFound
from app.keys.models import Credential, CredentialStatus, IssuedCertificate, OwnerKind, Purpose
from app.keys.provider import get_hsm
from app.keys.x509 import build_csr, build_name, describe_certificate, load_certificates, pem_armor

log = structlog.get_logger(__name__)

__all__ = [
    "CredentialNotActive",
    "CredentialNotFound",
    "SigningMaterial",
    "create_credential",
    "dev_ca_certificate_der",
    "dev_ca_crl_der",
    "generate_csr",
    "get_credential",
    "import_certificate",
    "list_credentials",
    "revoke_credential",
    "signing_material",
    "trust_roots",
    "tsa_respond",
]


class CredentialNotFound(NotFound):
    code = "credential.not_found"
    default_message = "No such credential."


class CredentialNotActive(Conflict):
    code = "credential.not_active"
    default_message = "The credential cannot sign: it is not active."


class CredentialExpired(Conflict):
    code = "credential.expired"
    default_message = "The credential's certificate has expired."


class CredentialRevoked(Conflict):
    code = "credential.revoked"
    default_message = "The credential has been revoked."


class InvalidCredentialRequest(BadRequest):
    code = "credential.invalid"
    default_message = "The credential request is not valid."


class NoCsr(Unprocessable):
    code = "credential.no_csr"
    default_message = "This credential has no certificate request to answer."


class CertificateInvalid(Unprocessable):
    code = "credential.cert_invalid"
    default_message = "The file holds no readable X.509 certificate (PEM bundle or DER)."


class CertificateKeyMismatch(Unprocessable):
    code = "credential.cert_key_mismatch"
    default_message = "No certificate in the file is for this credential's key."


class ChainBroken(Unprocessable):
    code = "credential.chain_broken"
    default_message = "The certificates in the file do not form a chain from the credential's certificate."


class CertificateExpired(Unprocessable):
    code = "credential.cert_expired"
    default_message = "The certificate (or one of its issuers) has expired."


class CertificateNotYetValid(Unprocessable):
    code = "credential.cert_not_yet_valid"
    default_message = "The certificate is not valid yet."


@dataclass(frozen=True)
class SigningMaterial:
    """What the PAdES engine needs to sign with a credential (never the key itself)."""

    credential_id: str
    key_id: str
    algorithm: KeyAlgorithm
    certificate_der: bytes
    chain_der: tuple[bytes, ...]  # issuer chain: the signer's issuer first, the root last
    status: str


def _subject(credential: Credential) -> tuple[str, str | None]:
    """(common name, organisation) of a credential's certificate subject."""
    if credential.purpose == Purpose.SEAL:
        organisation = credential.organisation or credential.owner_name
        return credential.owner_name, organisation
    return credential.owner_name, credential.organisation


def _apply_certificate(credential: Credential, certificate_der: bytes, chain: tuple[bytes, ...]) -> None:
    summary = describe_certificate(certificate_der)
    credential.certificate_der = certificate_der
    credential.chain_der = chain
    credential.subject_dn = summary.subject_dn
    credential.issuer_dn = summary.issuer_dn
    credential.serial_hex = summary.serial_hex
    credential.not_before = summary.not_before
    credential.not_after = summary.not_after
    credential.status = CredentialStatus.ACTIVE


def create_credential(
    *,
    owner_kind: str,
    owner_name: str,
    owner_id: str | None = None,
    tenant_id: str | None = None,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
    purpose: str = "signing",
    organisation: str | None = None,
    use_dev_ca: bool = True,
    actor_id: str | None = None,
) -> Credential:
    """Generate a key in the HSM for one owner; certify it with the dev CA or store a CSR for a real CA."""
    try:
        kind, use, alg = OwnerKind(owner_kind), Purpose(purpose), KeyAlgorithm(algorithm)
    except ValueError as exc:
        raise InvalidCredentialRequest(str(exc)) from None
    if use not in (Purpose.SIGNING, Purpose.SEAL):
        raise InvalidCredentialRequest("Only signing and seal credentials can be created here.")
    if use is Purpose.SEAL and kind is not OwnerKind.ORGANISATION:
        raise InvalidCredentialRequest("A seal belongs to an organisation (owner_kind=organisation).")
    owner_name = owner_name.strip()
    if not owner_name or len(owner_name) > 200:
        raise InvalidCredentialRequest("The owner name must have 1 to 200 characters.")
    if use_dev_ca:
        ca.require_dev_ca()

    credential = Credential(
        id=new_id(),
        tenant_id=tenant_id,
        owner_kind=kind,
        owner_id=owner_id,
        owner_name=owner_name,
        organisation=(organisation or "").strip() or None,
        purpose=use,
        algorithm=alg,
        status=CredentialStatus.PENDING,
        issued_by_dev_ca=use_dev_ca,
        chain_b64=[],
    )
    hsm = get_hsm()
    key = hsm.generate_keypair(algorithm=alg, label=f"signet-{use.value}-{credential.id}")
    credential.hsm_key_id = key.key_id
    try:
        common_name, org = _subject(credential)
        issued: ca.Issued | None = None
        if use_dev_ca:
            profile = ca.Profile.SEAL if use is Purpose.SEAL else ca.Profile.PERSON
            issued = ca.issue_certificate(key=key, profile=profile, common_name=common_name, organisation=org)
            _apply_certificate(credential, issued.certificate_der, issued.chain_der)
        else:
            subject = build_name(common_name=common_name, organisation=org)
            credential.csr_pem = pem_armor(
                "CERTIFICATE REQUEST", build_csr(hsm, key=key, subject_name=subject)
            )
        with transaction() as s:
            s.add(credential)
            if issued is not None:
                s.flush()  # the credential row first: the issued certificate refers to it
                s.add(issued.record(credential.id))
            _audit(s, "key.generated", credential, actor_id, algorithm=alg.value, key_id=key.key_id)
            if issued is not None:
                _audit(s, "certificate.issued", credential, actor_id, serial=credential.serial_hex)
    except BaseException:
        with contextlib.suppress(Exception):
            hsm.destroy(key.key_id)
        raise
    log.info("credential_created", credential_id=credential.id, purpose=use.value, status=credential.status)
    return credential


def create_seal(
    *,
    organisation_id: str,
    organisation_name: str,
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
    use_dev_ca: bool = True,
) -> Credential:
    """A school's unit seal: a key in the HSM owned by the organisation (its tenant), its name as
    the certificate's subject and organisation."""
    return create_credential(
        owner_kind=OwnerKind.ORGANISATION.value,
        owner_name=organisation_name,
        owner_id=organisation_id,
        tenant_id=organisation_id,
        algorithm=algorithm,
        purpose=Purpose.SEAL.value,
        organisation=organisation_name,
        use_dev_ca=use_dev_ca,
    )


def get_credential(credential_id: str, *, tenant_id: str | None = None) -> Credential:
    with ca.reading() as s:
        credential = s.get(Credential, credential_id)
    if credential is None or (tenant_id is not None and credential.tenant_id != tenant_id):
        raise CredentialNotFound()
    return credential


def list_credentials(*, tenant_id: str | None = None, owner_id: str | None = None) -> list[Credential]:
    query = select(Credential).where(Credential.system_role.is_(None)).order_by(Credential.created_at)
    if tenant_id is not None:
        query = query.where(Credential.tenant_id == tenant_id)
    if owner_id is not None:
        query = query.where(Credential.owner_id == owner_id)
    with ca.reading() as s:
        return list(s.scalars(query))


def signing_material(credential_id: str) -> SigningMaterial:
    credential = get_credential(credential_id)
    if credential.status == CredentialStatus.REVOKED:
        raise CredentialRevoked()
    if credential.status != CredentialStatus.ACTIVE or credential.certificate_der is None:
        raise CredentialNotActive(f"The credential cannot sign: its status is {credential.status}.")
    if credential.not_after is not None and credential.not_after <= utcnow():
        raise CredentialExpired()
    return SigningMaterial(
        credential_id=credential.id,
        key_id=credential.hsm_key_id,
        algorithm=KeyAlgorithm(credential.algorithm),
        certificate_der=credential.certificate_der,
        chain_der=credential.chain_der,
        status=credential.status,
    )


def _key_info(credential: Credential) -> KeyInfo:
    return get_hsm().find(credential.hsm_key_id)


def _audit(s: Any, action: str, credential: Credential, actor_id: str | None, **details: Any) -> None:
    """Every key event goes to the audit trail, in the transaction that makes it true."""
    record_event(
        s,
        action=action,
        actor_id=actor_id,
        tenant_id=credential.tenant_id,
        target_type="credential",
        target_id=credential.id,
        details={"purpose": str(credential.purpose), "owner_kind": str(credential.owner_kind), **details},
    )


def generate_csr(credential_id: str, *, actor_id: str | None = None) -> str:
    """A fresh PKCS#10 request (PEM) for the credential's key, signed inside the HSM."""
    credential = get_credential(credential_id)
    if credential.status == CredentialStatus.REVOKED:
        raise CredentialRevoked()
    common_name, org = _subject(credential)
    der = build_csr(
        get_hsm(),
        key=_key_info(credential),
        subject_name=build_name(common_name=common_name, organisation=org),
    )
    pem = pem_armor("CERTIFICATE REQUEST", der)
    with transaction() as s:
        credential.csr_pem = pem
        _audit(s, "certificate.csr_generated", credential, actor_id)
    return pem


def import_certificate(credential_id: str, data: bytes, *, actor_id: str | None = None) -> Credential:
    """Attach a certificate (and its issuer chain) from a real CA; refuse anything that does not fit."""
    credential = get_credential(credential_id)
    if credential.status == CredentialStatus.REVOKED:
        raise CredentialRevoked()
    if credential.system_role is not None:
        raise InvalidCredentialRequest(
            "The service's own CA and TSA credentials keep the certificate they were made with."
        )
    dev_ca = None if _is_prod() else ca.dev_ca_certificate_der()
    leaf, chain = verify_import(
        data, public_key_der=_key_info(credential).public_key_der, known_issuers=trust_roots()
    )
    with transaction() as s:
        _apply_certificate(credential, leaf, chain)
        credential.issued_by_dev_ca = dev_ca is not None and bool(chain) and chain[-1] == dev_ca
        _audit(s, "certificate.imported", credential, actor_id, serial=credential.serial_hex)
    log.info("certificate_imported", credential_id=credential.id, serial=credential.serial_hex)
    return credential


def _spki(cert: cx509.Certificate) -> bytes:
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _issued_by(cert: cx509.Certificate, issuer: cx509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def verify_import(
    data: bytes, *, public_key_der: bytes, known_issuers: list[bytes]
) -> tuple[bytes, tuple[bytes, ...]]:
    """Find the certificate for our key in ``data`` and link every other certificate into its chain.

    Returns (leaf DER, issuer chain DER, issuer first).  A bundle may stop below the root; if its
    top is issued by one of ``known_issuers`` (the trust roots), that issuer completes the chain.
    """
    try:
        certs = [cx509.load_der_x509_certificate(c.dump()) for c in load_certificates(data)]
    except ValueError as exc:
        raise CertificateInvalid() from exc
    expected = load_der_public_key(public_key_der).public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    leaves = [c for c in certs if _spki(c) == expected]
    if not leaves:
        raise CertificateKeyMismatch()
    leaf = leaves[0]
    rest = [c for c in certs if c is not leaf and c != leaf]
    known = [cx509.load_der_x509_certificate(der) for der in known_issuers]
    chain: list[cx509.Certificate] = []
    current = leaf
    while not _issued_by(current, current):  # stop at a self-signed root
        issuer = next((c for c in rest if _issued_by(current, c)), None)
        if issuer is not None:
            rest.remove(issuer)
        else:
            issuer = next((c for c in known if _issued_by(current, c)), None)
            if issuer is None:
                if any(c.subject == current.issuer for c in rest):
                    raise ChainBroken(
                        "An issuer in the file has the right name but did not sign the certificate."
                    )
                break
        chain.append(issuer)
        current = issuer
    if rest:
        raise ChainBroken("The file holds certificates that are not issuers of the credential's certificate.")
    now = utcnow()
    for cert in [leaf, *chain]:
        if cert.not_valid_after_utc <= now:
            raise CertificateExpired()
    if leaf.not_valid_before_utc > now + timedelta(minutes=5):
        raise CertificateNotYetValid()
    return leaf.public_bytes(Encoding.DER), tuple(c.public_bytes(Encoding.DER) for c in chain)


def revoke_credential(
    credential_id: str, *, reason: str, destroy_key: bool = True, actor_id: str | None = None
) -> Credential:
    """Revoke (the dev CA's CRL lists it from now on) and, by default, destroy the key in the HSM."""
    if reason not in ca.REVOCATION_REASONS:
        raise InvalidCredentialRequest(
            f"Unknown revocation reason; use one of {sorted(ca.REVOCATION_REASONS)}."
        )
    credential = get_credential(credential_id)
    if credential.system_role is not None:
        raise InvalidCredentialRequest("The service's own CA and TSA credentials cannot be revoked here.")
    if credential.status == CredentialStatus.REVOKED:
        raise CredentialRevoked()
    now = utcnow()
    with transaction() as s:
        credential.status = CredentialStatus.REVOKED
        credential.revoked_at = now
        credential.revocation_reason = reason
        for issued in s.scalars(
            select(IssuedCertificate).where(
                IssuedCertificate.credential_id == credential.id, IssuedCertificate.revoked_at.is_(None)
            )
        ):
            issued.revoked_at = now
            issued.revocation_reason = reason
        _audit(s, "credential.revoked", credential, actor_id, reason=reason, serial=credential.serial_hex)
    if destroy_key:  # after the commit: a revoked credential with a leftover key is safe, the reverse is not
        try:
            get_hsm().destroy(credential.hsm_key_id)
        except KeyNotFound:
            pass
        except Exception:
            log.warning("revoked_key_not_destroyed", credential_id=credential.id)
            raise
        with transaction() as s:
            _audit(s, "key.destroyed", credential, actor_id, key_id=credential.hsm_key_id)
    log.info("credential_revoked", credential_id=credential.id, reason=reason, key_destroyed=destroy_key)
    return credential


def _is_prod() -> bool:
    from app import get_settings

    return get_settings().is_prod


def trust_roots() -> list[bytes]:
    """Roots a verifier of our signatures should trust: the certificates of ``TRUST_ROOTS_FILE``
    (the licensed CAs' roots a deployment names) and, outside production, the development CA."""
    from app import get_settings

    roots = list(get_settings().trust_roots_der)
    if not _is_prod():
        roots.append(ca.dev_ca_certificate_der())
    return roots


def dev_ca_crl_der() -> bytes:
    ca.require_dev_ca()
    return ca.dev_ca_crl_der()


def dev_ca_certificate_der() -> bytes:
    ca.require_dev_ca()
    return ca.dev_ca_certificate_der()


def tsa_respond(request_der: bytes) -> bytes:
    """RFC 3161: a DER TimeStampResp for a DER TimeStampReq, signed by the development TSA."""
    ca.require_dev_ca()
    return tsa.respond(request_der)
