"""The development CA: certificates that chain to its root, a CRL it signs, race-safe creation."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from flask import Flask

from app.keys import ca, service
from app.keys.hsm import KeyAlgorithm, KeyInfo, KeyNotFound
from app.keys.models import SystemRole
from app.keys.provider import get_hsm

pytestmark = pytest.mark.hsm

DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def _cert(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def test_person_certificate_chains_to_the_labelled_development_root(app: Flask) -> None:
    credential = service.create_credential(
        owner_kind="person",
        owner_name="Nguyễn Thị Hồng Vân",
        organisation="Trường Tiểu học Ái Mộ",
        algorithm=KeyAlgorithm.P256,
    )
    material = service.signing_material(credential.id)
    leaf, root = _cert(material.certificate_der), _cert(material.chain_der[-1])
    assert len(material.chain_der) == 1
    leaf.verify_directly_issued_by(root)
    root.verify_directly_issued_by(root)
    issuer_cn = leaf.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert "DEVELOPMENT CA — NOT TRUSTED" in issuer_cn
    assert root.subject == leaf.issuer
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Nguyễn Thị Hồng Vân"
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku and DOCUMENT_SIGNING in eku
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    cdp = leaf.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name[0].value == "http://localhost:5000/api/v1/pki/dev-ca.crl"
    aia = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://localhost:5000/api/v1/pki/dev-ca.crt"
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == root_ski
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert credential.issued_by_dev_ca and credential.serial_hex == format(leaf.serial_number, "x")


def test_seal_certificate_names_the_school(app: Flask) -> None:
    credential = service.create_credential(
        owner_kind="organisation", owner_name="Trường THCS Chu Văn An", purpose="seal"
    )
    leaf = _cert(service.signing_material(credential.id).certificate_der)
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Trường THCS Chu Văn An"
    assert leaf.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE).critical


def test_crl_lists_revoked_serials_and_is_signed_by_the_ca(app: Flask) -> None:
    kept = service.create_credential(owner_kind="person", owner_name="Giữ Lại")
    gone = service.create_credential(owner_kind="person", owner_name="Thu Hồi")
    root = _cert(service.trust_roots()[0])
    empty = x509.load_der_x509_crl(service.dev_ca_crl_der())
    assert empty.is_signature_valid(root.public_key()) and len(empty) == 0

    service.revoke_credential(gone.id, reason="key_compromise")
    crl = x509.load_der_x509_crl(service.dev_ca_crl_der())
    assert crl.is_signature_valid(root.public_key())
    assert crl.issuer == root.subject
    entry = crl.get_revoked_certificate_by_serial_number(int(gone.serial_hex or "0", 16))
    assert entry is not None
    assert (
        entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        == x509.ReasonFlags.key_compromise
    )
    assert crl.get_revoked_certificate_by_serial_number(int(kept.serial_hex or "0", 16)) is None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0
    assert crl.next_update_utc is not None and crl.next_update_utc > crl.last_update_utc


def test_dev_ca_is_created_once(app: Flask) -> None:
    first = ca.ensure_dev_ca()
    assert ca.ensure_dev_ca().id == first.id
    assert service.trust_roots() == [first.certificate_der]


def _ca_keys() -> set[str]:
    return {k.key_id for k in get_hsm().list_keys() if k.label.startswith("signet-dev-ca-")}


def test_losing_the_creation_race_destroys_the_losers_key(app: Flask) -> None:
    """Another process creates the CA between our check and our insert: we use theirs, drop our key."""
    keys_before = _ca_keys()
    winner: dict[str, Any] = {}
    ours: list[KeyInfo] = []

    def create_while_another_process_wins(credential_id: str, key: KeyInfo) -> tuple[Any, list[object]]:
        ours.append(key)

        def other() -> None:  # a separate application context: its own DB session and transaction
            with app.app_context():
                winner["id"] = ca.ensure_dev_ca().id

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        return ca._create_ca(credential_id, key)

    result = ca.ensure_system_credential(SystemRole.DEV_CA, create_while_another_process_wins)
    assert result.id == winner["id"]
    with pytest.raises(KeyNotFound):
        get_hsm().find(ours[0].key_id)
    assert len(_ca_keys() - keys_before) == 1  # the winner's key only


def test_production_refuses_the_development_ca(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = app.extensions["signet.settings"]
    monkeypatch.setitem(app.extensions, "signet.settings", settings.with_(env="prod"))
    with pytest.raises(ca.DevCaDisabled) as caught:
        service.create_credential(owner_kind="person", owner_name="Prod Teacher")
    assert caught.value.code == "pki.dev_ca_disabled"
    assert service.trust_roots() == []
    with pytest.raises(ca.DevCaDisabled):
        service.dev_ca_crl_der()
