"""The built-in development CA: for demos and tests only, and labelled so in every name it signs.

Its key lives in the same HSM as everyone else's (purpose ``ca``); certificates and CRLs are built
with asn1crypto and signed in the HSM, because ``cryptography`` cannot sign with a key it cannot
hold.  The CA (and the TSA, see ``tsa.py``) is created on first use; the unique ``system_role``
column makes that race-safe across processes: the loser of the race destroys its key and uses the
winner's.  Production refuses it (``pki.dev_ca_disabled``): a legally effective signature needs a
certificate from a licensed CA, imported through the CSR path.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from asn1crypto import x509 as asn1x509
from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import get_settings
from app.db import new_id, session, transaction, utcnow
from app.errors import Forbidden
from app.keys.hsm import KeyAlgorithm, KeyInfo
from app.keys.models import Credential, CredentialStatus, IssuedCertificate, OwnerKind, Purpose, SystemRole
from app.keys.provider import get_hsm
from app.keys.x509 import (
    RevokedEntry,
    build_certificate,
    build_crl,
    build_name,
    describe_certificate,
    extension,
    key_identifier,
    random_serial,
)

log = structlog.get_logger(__name__)

DEV_CA_COMMON_NAME = "Signet DEVELOPMENT CA — NOT TRUSTED"
DEV_CA_ORGANISATION = "Signet (development)"
DOCUMENT_SIGNING_EKU = "1.3.6.1.5.5.7.3.36"  # RFC 9336 id-kp-documentSigning
CA_ALGORITHM = KeyAlgorithm.RSA2048  # every verifier (pdfsig/NSS, Acrobat, pyHanko) accepts it
CLOCK_SKEW = timedelta(minutes=5)
CRL_LIFETIME = timedelta(days=1)
CRL_REUSE = timedelta(hours=1)
REVOCATION_REASONS = frozenset(
    {
        "unspecified",
        "key_compromise",
        "ca_compromise",
        "affiliation_changed",
        "superseded",
        "cessation_of_operation",
        "privilege_withdrawn",
    }
)


class DevCaDisabled(Forbidden):
    code = "pki.dev_ca_disabled"
    default_message = "The development CA and TSA are disabled in production; use a licensed CA."


class Profile(StrEnum):
    PERSON = "person"
    SEAL = "seal"
    TSA = "tsa"


VALIDITY = {
    Profile.PERSON: timedelta(days=730),
    Profile.SEAL: timedelta(days=730),
    Profile.TSA: timedelta(days=1825),
}


@dataclass(frozen=True)
class Issued:
    """A certificate the development CA has just signed (not yet stored)."""

    certificate_der: bytes
    chain_der: tuple[bytes, ...]
    serial_hex: str
    subject_dn: str
    not_after: datetime
    issuer_credential_id: str

    def record(self, credential_id: str | None) -> IssuedCertificate:
        return IssuedCertificate(
            serial_hex=self.serial_hex,
            issuer_credential_id=self.issuer_credential_id,
            credential_id=credential_id,
            subject_dn=self.subject_dn,
            not_after=self.not_after,
        )


@contextlib.contextmanager
def reading() -> Iterator[Session]:
    """The request's session for a read that ends the transaction it began (and only that one).

    On SQLite every transaction starts with BEGIN IMMEDIATE, i.e. holds the write lock even for a
    read; a read left open across slow HSM work would stall every other writer.  A transaction the
    caller had already begun is theirs to end, so it is left alone.
    """
    s = session()
    began = not s.in_transaction()
    try:
        yield s
    finally:
        if began and s.in_transaction():
            s.commit()  # nothing was written; commit keeps the loaded objects (rollback would expire them)


def require_dev_ca() -> None:
    if get_settings().is_prod:
        raise DevCaDisabled()


def public_urls() -> tuple[str, str]:
    """(CRL distribution point, caIssuers) as the outside world reaches them."""
    base = get_settings().public_base_url
    return f"{base}/api/v1/pki/dev-ca.crl", f"{base}/api/v1/pki/dev-ca.crt"


def key_of(credential: Credential) -> KeyInfo:
    """The HSM key of a certified credential, its public key taken from the certificate."""
    if credential.certificate_der is None:
        raise ValueError("credential has no certificate")
    spki = describe_certificate(credential.certificate_der).spki_der
    return KeyInfo(credential.hsm_key_id, credential.id, KeyAlgorithm(credential.algorithm), spki)


def system_credential(role: SystemRole) -> Credential | None:
    with reading() as s:
        found: Credential | None = s.scalars(select(Credential).where(Credential.system_role == role)).first()
    return found


def ensure_system_credential(
    role: SystemRole, create: Callable[[str, KeyInfo], tuple[Credential, list[object]]]
) -> Credential:
    """Return the credential with ``role``, creating it (key in the HSM, then one insert) if absent."""
    found = system_credential(role)
    if found is not None:
        return found
    require_dev_ca()
    hsm = get_hsm()
    credential_id = new_id()
    key = hsm.generate_keypair(algorithm=CA_ALGORITHM, label=f"signet-{role.value}-{credential_id}")
    try:
        credential, extra = create(credential_id, key)
        with transaction() as s:
            s.add(credential)
            s.flush()
            s.add_all(extra)
    except IntegrityError:
        with contextlib.suppress(Exception):
            hsm.destroy(key.key_id)
        winner = system_credential(role)
        if winner is None:
            raise
        log.info("system_credential_race_lost", role=role.value, winner=winner.id)
        return winner
    except BaseException:
        with contextlib.suppress(Exception):
            hsm.destroy(key.key_id)
        raise
    log.info("system_credential_created", role=role.value, credential_id=credential.id)
    return credential


def _create_ca(credential_id: str, key: KeyInfo) -> tuple[Credential, list[object]]:
    name = build_name(common_name=DEV_CA_COMMON_NAME, organisation=DEV_CA_ORGANISATION)
    now = utcnow()
    ski = key_identifier(key.public_key_der)
    der = build_certificate(
        get_hsm(),
        issuer_key=key,
        issuer_name=name,
        subject_name=name,
        subject_spki=key.public_key_der,
        serial=random_serial(),
        not_before=now - CLOCK_SKEW,
        not_after=now + timedelta(days=3650),
        extensions=[
            extension("basic_constraints", {"ca": True}, critical=True),
            extension("key_usage", {"key_cert_sign", "crl_sign"}, critical=True),
            extension("key_identifier", ski),
            extension("authority_key_identifier", {"key_identifier": ski}),
        ],
    )
    summary = describe_certificate(der)
    credential = Credential(
        id=credential_id,
        owner_kind=OwnerKind.SERVICE,
        owner_name=DEV_CA_COMMON_NAME,
        organisation=DEV_CA_ORGANISATION,
        purpose=Purpose.CA,
        algorithm=key.algorithm,
        hsm_key_id=key.key_id,
        system_role=SystemRole.DEV_CA,
        status=CredentialStatus.ACTIVE,
        issued_by_dev_ca=True,
        certificate_der=der,
        chain_b64=[],
        subject_dn=summary.subject_dn,
        issuer_dn=summary.issuer_dn,
        serial_hex=summary.serial_hex,
        not_before=summary.not_before,
        not_after=summary.not_after,
    )
    return credential, []


def ensure_dev_ca() -> Credential:
    return ensure_system_credential(SystemRole.DEV_CA, _create_ca)


def dev_ca_certificate_der() -> bytes:
    """The development CA's certificate, read once per application: it is made once and never
    replaced (the service's own credentials can be neither revoked nor given another certificate),
    and every verification asks for it."""
    extensions = current_app.extensions
    der: bytes | None = extensions.get("signet.dev_ca_der")
    if der is None:
        der = ensure_dev_ca().certificate_der
        assert der is not None
        extensions["signet.dev_ca_der"] = der
    return der


def _uri(url: str) -> asn1x509.GeneralName:
    return asn1x509.GeneralName(name="uniform_resource_identifier", value=url)


def _extensions(profile: Profile, subject_spki: bytes, ca_key: KeyInfo) -> list[asn1x509.Extension]:
    crl_url, issuer_url = public_urls()
    if profile is Profile.TSA:
        key_usage, eku = {"digital_signature", "non_repudiation"}, ["time_stamping"]
    else:
        key_usage, eku = {"digital_signature", "non_repudiation"}, ["email_protection", DOCUMENT_SIGNING_EKU]
    return [
        extension("basic_constraints", {"ca": False}, critical=True),
        extension("key_usage", key_usage, critical=True),
        # RFC 3161 2.3: the TSA's EKU must be critical and hold timeStamping only
        extension("extended_key_usage", eku, critical=profile is Profile.TSA),
        extension("key_identifier", key_identifier(subject_spki)),
        extension("authority_key_identifier", {"key_identifier": key_identifier(ca_key.public_key_der)}),
        extension(
            "crl_distribution_points",
            [{"distribution_point": {"full_name": [_uri(crl_url)]}}],
        ),
        extension(
            "authority_information_access",
            [{"access_method": "ca_issuers", "access_location": _uri(issuer_url)}],
        ),
    ]


def issue_certificate(
    *, key: KeyInfo, profile: Profile, common_name: str, organisation: str | None = None
) -> Issued:
    """Sign a certificate for ``key`` with the development CA (created on first use)."""
    ca = ensure_dev_ca()
    assert ca.certificate_der is not None and ca.not_after is not None
    ca_key = key_of(ca)
    ca_cert = asn1x509.Certificate.load(ca.certificate_der)
    now = utcnow()
    serial = random_serial()
    der = build_certificate(
        get_hsm(),
        issuer_key=ca_key,
        issuer_name=ca_cert.subject,
        subject_name=build_name(common_name=common_name, organisation=organisation),
        subject_spki=key.public_key_der,
        serial=serial,
        not_before=now - CLOCK_SKEW,
        not_after=min(now + VALIDITY[profile], ca.not_after),
        extensions=_extensions(profile, key.public_key_der, ca_key),
    )
    summary = describe_certificate(der)
    return Issued(
        certificate_der=der,
        chain_der=(ca.certificate_der,),
        serial_hex=summary.serial_hex,
        subject_dn=summary.subject_dn,
        not_after=summary.not_after,
        issuer_credential_id=ca.id,
    )


_crl_lock = threading.Lock()
_crl_cache: dict[str, tuple[tuple[RevokedEntry, ...], datetime, bytes]] = {}


def dev_ca_crl_der() -> bytes:
    """The current CRL of the development CA; rebuilt (signed in the HSM) when revocations change."""
    ca = ensure_dev_ca()
    with reading() as s:
        rows = s.scalars(
            select(IssuedCertificate)
            .where(IssuedCertificate.issuer_credential_id == ca.id, IssuedCertificate.revoked_at.is_not(None))
            .order_by(IssuedCertificate.revoked_at, IssuedCertificate.serial_hex)
        )
        revoked = tuple(
            RevokedEntry(int(row.serial_hex, 16), row.revoked_at, row.revocation_reason or "unspecified")
            for row in rows
            if row.revoked_at is not None
        )
    now = utcnow()
    with _crl_lock:
        cached = _crl_cache.get(ca.id)
        if cached is not None and cached[0] == revoked and now < cached[1] + CRL_REUSE:
            return cached[2]
        ca_cert = asn1x509.Certificate.load(ca.certificate_der or b"")
        der = build_crl(
            get_hsm(),
            issuer_key=key_of(ca),
            issuer_name=ca_cert.subject,
            revoked=list(revoked),
            number=int(now.timestamp() * 1000),  # increases with every CRL this CA issues
            this_update=now,
            next_update=now + CRL_LIFETIME,
        )
        _crl_cache[ca.id] = (revoked, now, der)
        return der
