"""``flask keys ...`` and ``flask hsm check`` through Flask's CLI runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from app.keys import service

pytestmark = pytest.mark.hsm


def _run(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=list(args))
    return result.exit_code, result.output


def test_create_with_dev_ca_list_and_revoke(app: Flask) -> None:
    code, out = _run(app, "keys", "create", "--owner", "Hoàng Thị Lan", "--algorithm", "p256", "--dev-ca")
    assert code == 0, out
    credential_id = out.strip()
    assert service.get_credential(credential_id).status == "active"

    code, out = _run(app, "keys", "list")
    assert code == 0 and credential_id in out and "Hoàng Thị Lan" in out and "active" in out

    code, out = _run(app, "keys", "revoke", credential_id, "--reason", "cessation_of_operation")
    assert code == 0 and "revoked" in out
    code, out = _run(app, "keys", "revoke", credential_id, "--reason", "unspecified")
    assert code != 0 and "credential.revoked" in out


def test_seal_csr_and_certificate_import(app: Flask, tmp_path: Path) -> None:
    code, out = _run(
        app,
        "keys",
        "create",
        "--owner",
        "Trường Tiểu học Ái Mộ",
        "--purpose",
        "seal",
        "--algorithm",
        "rsa2048",
    )
    assert code == 0, out
    credential_id = out.strip()
    assert service.get_credential(credential_id).status == "pending"

    code, pem = _run(app, "keys", "csr", credential_id)
    assert code == 0
    csr = x509.load_pem_x509_csr(pem.encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Trường Tiểu học Ái Mộ"

    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CLI Test CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(name)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    path = tmp_path / "seal.der"
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    code, out = _run(app, "keys", "import-cert", credential_id, str(path))
    assert code == 0, out
    assert service.get_credential(credential_id).status == "active"


def test_errors_are_click_errors_with_the_code(app: Flask, tmp_path: Path) -> None:
    code, out = _run(app, "keys", "csr", "no-such-id")
    assert code != 0 and "credential.not_found" in out
    bogus = tmp_path / "bogus.pem"
    bogus.write_bytes(b"nothing")
    code, out = _run(app, "keys", "import-cert", "no-such-id", str(bogus))
    assert code != 0 and "credential.not_found" in out


def test_hsm_check(app: Flask) -> None:
    code, out = _run(app, "hsm", "check")
    assert code == 0 and "status:       ok" in out and "SoftHSM" in out


def test_a_fresh_install_gets_its_dev_ca_and_tsa_in_the_same_command(tmp_path: Path) -> None:
    """``make run`` on a new machine: migrate, then ``hsm init-dev-token`` creates the token and, in the
    same process (whose settings were read before the PIN file existed), the dev CA and TSA."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "HSM_USER_PIN", "DATABASE_URL")}
    env.update(SIGNET_VAR_DIR=str(tmp_path / "var"), SIGNET_ENV="dev")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    root = Path(__file__).resolve().parents[2]
    subprocess.run([*flask, "db-upgrade"], env=env, cwd=root, check=True, capture_output=True)
    done = subprocess.run(
        [*flask, "hsm", "init-dev-token"], env=env, cwd=root, check=True, capture_output=True, text=True
    )
    assert "token 'signet-dev' created" in done.stdout
    assert "dev CA and TSA credentials present" in done.stdout, done.stdout
