"""The roots verification trusts: ``TRUST_ROOTS_FILE`` (a licensed CA's root, named by the
deployment) and, outside production only, the development CA.

Production used to trust nothing at all: every genuine transcript signed under a licensed CA was
reported as signed by an untrusted signer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask import Flask

from app.keys import service
from app.settings import Settings, SettingsError
from app.signing.pdf import sign_pdf
from app.signing.reports import Level
from app.verify.service import check_pdf
from tests.fixtures.pki import MemoryPki
from tests.unit.test_signing_engine import simple_pdf


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"SIGNET_ENV": "test", "SIGNET_VAR_DIR": str(tmp_path), **env})


def test_a_pem_bundle_and_a_der_certificate_are_read(tmp_path: Path) -> None:
    first, second = MemoryPki.create("Root CA A"), MemoryPki.create("Root CA B")
    bundle = tmp_path / "roots.pem"
    bundle.write_bytes(b"# the district's roots\n" + _pem(first.root_der) + _pem(second.root_der))
    assert _settings(tmp_path, TRUST_ROOTS_FILE=str(bundle)).trust_roots_der == (
        first.root_der,
        second.root_der,
    )
    der = tmp_path / "root.cer"
    der.write_bytes(first.root_der)
    assert _settings(tmp_path, TRUST_ROOTS_FILE=str(der)).trust_roots_der == (first.root_der,)
    assert _settings(tmp_path).trust_roots_der == ()


@pytest.mark.parametrize("content", [None, b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n"])
def test_an_unreadable_roots_file_stops_the_start(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "roots.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SettingsError, match="TRUST_ROOTS_FILE"):
        _settings(tmp_path, TRUST_ROOTS_FILE=str(path))


def _verdict(pdf: bytes) -> str:
    return str(check_pdf(pdf)["verdict"]["code"])


def test_production_trusts_the_configured_roots_only(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    licensed = MemoryPki.create("Licensed CA Root")
    signed = sign_pdf(
        simple_pdf(), material=licensed.credential("Nguyễn Văn A"), hsm=licensed.hsm, level=Level.BB
    )
    settings = app.extensions["signet.settings"]
    dev_root = service.trust_roots()[-1]

    # development: the development CA only; a licensed CA's signature is not trusted
    assert service.trust_roots() == [dev_root]
    assert _verdict(signed) == "verify.untrusted_signer"

    # production without the file: nothing trusted, the development CA included
    monkeypatch.setitem(app.extensions, "signet.settings", settings.with_(env="prod"))
    assert service.trust_roots() == []
    assert _verdict(signed) == "verify.untrusted_signer"

    # production with the licensed CA's root: its signatures hold (valid, not a document of ours)
    prod = settings.with_(env="prod", trust_roots_der=(licensed.root_der,))
    monkeypatch.setitem(app.extensions, "signet.settings", prod)
    assert service.trust_roots() == [licensed.root_der]
    assert _verdict(signed) == "verify.not_issued_here"

    # outside production the configured roots are trusted beside the development CA
    monkeypatch.setitem(app.extensions, "signet.settings", prod.with_(env="test"))
    assert service.trust_roots() == [licensed.root_der, dev_root]


def test_the_services_own_credentials_keep_their_certificate(app: Flask) -> None:
    from app.keys import ca

    dev_ca = ca.ensure_dev_ca()
    with pytest.raises(service.InvalidCredentialRequest):
        service.import_certificate(dev_ca.id, _pem(ca.dev_ca_certificate_der()))


def test_production_without_roots_says_so_at_start(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from app import create_app

    create_app(settings.with_(env="prod"))
    assert "no_trust_roots" in capsys.readouterr().err
    create_app(settings.with_(env="prod", trust_roots_der=(MemoryPki.create().root_der,)))
    assert "no_trust_roots" not in capsys.readouterr().err
