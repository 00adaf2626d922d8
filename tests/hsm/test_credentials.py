"""The credentials service: create, CSR, certificate import (and its refusals), revoke."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask
from sqlalchemy import func, select

from app.db import session
from app.errors import AppError
from app.keys import service
from app.keys.hsm import KeyAlgorithm, KeyNotFound
from app.keys.models import Credential
from app.keys.provider import get_hsm
from tests.hsm.verify import verify_digest_signature

pytestmark = pytest.mark.hsm


def _code(exc: pytest.ExceptionInfo[AppError]) -> str:
    return exc.value.code


class ExternalCa:
    """A small external CA built with ``cryptography``, standing in for a licensed CA."""

    def __init__(self, name: str = "Test Licensed CA", *, days: int = 3650) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self, public_key: object, *, not_after: datetime | None = None, cn: str = "Signer"
    ) -> x509.Certificate:
        now = datetime.now(UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(self.name)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=400))
            .not_valid_after(not_after or now + timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _pending(
    algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
) -> tuple[Credential, x509.CertificateSigningRequest]:
    credential = service.create_credential(
        owner_kind="person",
        owner_name="Lê Văn Tám",
        organisation="Trường THPT Kim Liên",
        algorithm=algorithm,
        use_dev_ca=False,
    )
    assert credential.csr_pem is not None
    return credential, x509.load_pem_x509_csr(credential.csr_pem.encode())


@pytest.mark.parametrize("algorithm", list(KeyAlgorithm))
def test_dev_ca_credential_signs_and_verifies_against_its_certificate(
    app: Flask, algorithm: KeyAlgorithm
) -> None:
    credential = service.create_credential(owner_kind="person", owner_name="Phạm Thu Hà", algorithm=algorithm)
    assert credential.status == "active" and credential.certificate_der is not None
    material = service.signing_material(credential.id)
    assert material.algorithm is algorithm and material.status == "active"
    cert = x509.load_der_x509_certificate(material.certificate_der)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(b"transcript").digest()
    verify_digest_signature(spki, get_hsm().sign_digest(key_id=material.key_id, digest=digest), digest)
    attrs = get_hsm().attributes(material.key_id)
    assert attrs.sensitive and attrs.never_extractable and not attrs.extractable


def test_pending_credential_has_a_valid_csr_and_cannot_sign(app: Flask) -> None:
    credential, csr = _pending()
    assert credential.status == "pending" and credential.certificate_der is None
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Lê Văn Tám"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Trường THPT Kim Liên"
    with pytest.raises(service.CredentialNotActive) as caught:
        service.signing_material(credential.id)
    assert caught.value.code == "credential.not_active"

    again = x509.load_pem_x509_csr(service.generate_csr(credential.id).encode())
    assert again.is_signature_valid and again.public_key() == csr.public_key()


def test_import_a_licensed_ca_certificate(app: Flask) -> None:
    credential, csr = _pending(KeyAlgorithm.P256)
    external = ExternalCa()
    leaf = external.issue(csr.public_key(), cn="Lê Văn Tám")
    imported = service.import_certificate(credential.id, _pem(leaf, external.cert))
    assert imported.status == "active" and not imported.issued_by_dev_ca
    material = service.signing_material(credential.id)
    assert material.certificate_der == leaf.public_bytes(serialization.Encoding.DER)
    assert material.chain_der == (external.cert.public_bytes(serialization.Encoding.DER),)
    assert imported.subject_dn == "Common Name: Lê Văn Tám"


def test_import_one_der_certificate_without_chain(app: Flask) -> None:
    credential, csr = _pending()
    leaf = ExternalCa().issue(csr.public_key())
    service.import_certificate(credential.id, leaf.public_bytes(serialization.Encoding.DER))
    assert service.signing_material(credential.id).chain_der == ()


def test_import_refuses_a_certificate_for_another_key(app: Flask) -> None:
    credential, _csr = _pending()
    other = ExternalCa().issue(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(AppError) as caught:
        service.import_certificate(credential.id, _pem(other))
    assert _code(caught) == "credential.cert_key_mismatch"
    assert service.get_credential(credential.id).status == "pending"


def test_import_refuses_a_chain_that_does_not_link(app: Flask) -> None:
    credential, csr = _pending()
    real, impostor = ExternalCa("Test Licensed CA"), ExternalCa("Test Licensed CA")  # same name, other key
    leaf = real.issue(csr.public_key())
    with pytest.raises(AppError) as caught:
        service.import_certificate(credential.id, _pem(leaf, impostor.cert))
    assert _code(caught) == "credential.chain_broken"
    with pytest.raises(AppError) as caught:
        service.import_certificate(credential.id, _pem(leaf, real.cert, ExternalCa("Unrelated CA").cert))
    assert _code(caught) == "credential.chain_broken"


def test_import_refuses_an_expired_certificate(app: Flask) -> None:
    credential, csr = _pending()
    external = ExternalCa()
    leaf = external.issue(csr.public_key(), not_after=datetime.now(UTC) - timedelta(days=1))
    with pytest.raises(AppError) as caught:
        service.import_certificate(credential.id, _pem(leaf, external.cert))
    assert _code(caught) == "credential.cert_expired"


def test_import_refuses_garbage(app: Flask) -> None:
    credential, _csr = _pending()
    with pytest.raises(AppError) as caught:
        service.import_certificate(credential.id, b"not a certificate")
    assert _code(caught) == "credential.cert_invalid"


def test_revoke_destroys_the_key_and_refuses_signing(app: Flask) -> None:
    credential = service.create_credential(owner_kind="person", owner_name="Đỗ Minh Quân")
    revoked = service.revoke_credential(credential.id, reason="affiliation_changed")
    assert revoked.status == "revoked" and revoked.revoked_at is not None
    with pytest.raises(KeyNotFound):
        get_hsm().find(credential.hsm_key_id)
    with pytest.raises(AppError) as caught:
        service.signing_material(credential.id)
    assert _code(caught) == "credential.revoked"
    with pytest.raises(AppError) as caught:
        service.revoke_credential(credential.id, reason="unspecified")
    assert _code(caught) == "credential.revoked"
    with pytest.raises(AppError) as caught:
        service.revoke_credential(credential.id, reason="because")
    assert _code(caught) == "credential.invalid"


def test_tenants_only_see_their_credentials(app: Flask) -> None:
    mine = service.create_credential(
        owner_kind="person", owner_name="A", tenant_id="school-a", owner_id="p-1"
    )
    theirs = service.create_credential(owner_kind="person", owner_name="B", tenant_id="school-b")
    assert service.get_credential(mine.id, tenant_id="school-a").id == mine.id
    with pytest.raises(service.CredentialNotFound) as caught:
        service.get_credential(theirs.id, tenant_id="school-a")
    assert caught.value.code == "credential.not_found" and caught.value.http_status == 404
    assert [c.id for c in service.list_credentials(tenant_id="school-a")] == [mine.id]
    assert [c.id for c in service.list_credentials(owner_id="p-1")] == [mine.id]
    assert {c.id for c in service.list_credentials()} == {mine.id, theirs.id}  # no CA/TSA rows


def test_invalid_requests_are_refused_before_any_key_is_made(app: Flask) -> None:
    before = get_hsm().status().key_count
    for kwargs in (
        {"owner_kind": "robot", "owner_name": "X"},
        {"owner_kind": "person", "owner_name": "X", "purpose": "ca"},
        {"owner_kind": "person", "owner_name": "X", "purpose": "seal"},
        {"owner_kind": "person", "owner_name": "  "},
        {"owner_kind": "person", "owner_name": "X", "algorithm": "rsa1024"},
    ):
        with pytest.raises(AppError) as caught:
            service.create_credential(**kwargs)  # type: ignore[arg-type]
        assert _code(caught) == "credential.invalid"
    assert get_hsm().status().key_count == before


def test_a_failed_insert_destroys_the_new_key(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing half-written: the database refuses the row, so the key must not stay in the HSM."""
    service.create_credential(owner_kind="person", owner_name="warm-up")  # the dev CA exists now
    before = {k.key_id for k in get_hsm().list_keys()}
    rows = session().scalar(select(func.count()).select_from(Credential))
    original_add = session().add

    def refuse(obj: object, *args: object) -> None:
        if isinstance(obj, Credential):
            obj.owner_kind = None  # type: ignore[assignment]  # NOT NULL: the INSERT fails
        original_add(obj, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(session(), "add", refuse)
    with pytest.raises(Exception, match=r"(?i)not null|null value"):
        service.create_credential(owner_kind="person", owner_name="Half Written")
    monkeypatch.undo()
    assert {k.key_id for k in get_hsm().list_keys()} == before
    assert session().scalar(select(func.count()).select_from(Credential)) == rows
