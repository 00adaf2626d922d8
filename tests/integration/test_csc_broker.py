"""``certomancer-csc-dummy`` as a real CSC server for tests: a small test PKI, a free port, a subprocess.

The PKI (one root, an RSA-2048 signer, a P-256 signer) is generated into a temporary directory as a
Certomancer configuration; credential ids are ``<arch>/<cert label>``, e.g. ``provider/teacher-rsa``.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask

from app.csc import broker
from app.keys.csc_remote import CscClient, CscProviderRefused, CscProviderUnreachable, CscRemoteHsm
from app.keys.hsm import KeyAlgorithm, KeyNotFound
from app.signing.pdf import sign_pdf, verify_pdf
from app.signing.reports import Level

PDF = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs" / "transcript_reportlab.pdf"
SCHOOL = "5c0f6a0e-0000-4000-8000-000000000001"
OTHER_SCHOOL = "5c0f6a0e-0000-4000-8000-000000000002"
TEACHER = "5c0f6a0e-0000-4000-8000-0000000000aa"
ARCH = "provider"
RSA_SIGNER = f"{ARCH}/teacher-rsa"
EC_SIGNER = f"{ARCH}/teacher-ec"

CONFIG = """
external-url-prefix: "http://localhost:9"
keysets:
  provider:
    path-prefix: keys
    keys:
      root: {path: root.key.pem}
      teacher-rsa: {path: teacher-rsa.key.pem}
      teacher-ec: {path: teacher-ec.key.pem}
pki-architectures:
  provider:
    keyset: provider
    entity-defaults:
      country-name: VN
      organization-name: Licensed Remote Signing Provider (test)
    entities:
      root: {common-name: Provider Test Root CA}
      teacher-rsa: {common-name: "Nguyễn Thị Hồng Vân"}
      teacher-ec: {common-name: "Trần Văn Minh"}
    certs:
      root:
        subject: root
        issuer: root
        validity: {valid-from: "2020-01-01T00:00:00+0000", valid-to: "2100-01-01T00:00:00+0000"}
        extensions:
          - id: basic_constraints
            critical: true
            value: {ca: true}
          - id: key_usage
            critical: true
            smart-value: {schema: key-usage, params: [digital_signature, key_cert_sign, crl_sign]}
      teacher-rsa: &signer
        subject: teacher-rsa
        issuer: root
        validity: {valid-from: "2020-01-01T00:00:00+0000", valid-to: "2100-01-01T00:00:00+0000"}
        extensions:
          - id: key_usage
            critical: true
            smart-value: {schema: key-usage, params: [digital_signature, non_repudiation]}
      teacher-ec:
        <<: *signer
        subject: teacher-ec
"""


@dataclass(frozen=True)
class DummyCsc:
    base_url: str
    directory: Path

    @property
    def root_der(self) -> bytes:
        info = _post(
            self.base_url, "credentials/info", {"credentialID": f"{ARCH}/root", "certificates": "single"}
        )
        return base64.b64decode(info["cert"]["certificates"][0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(base_url: str, endpoint: str, body: dict[str, object]) -> dict[str, object]:
    req = urllib.request.Request(
        f"{base_url}/csc/v1/{endpoint}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def _write_pki(directory: Path) -> Path:
    keys = directory / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    material = {
        "root": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "teacher-rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "teacher-ec": ec.generate_private_key(ec.SECP256R1()),
    }
    for name, key in material.items():
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (keys / f"{name}.key.pem").write_bytes(pem)
    config = directory / "certomancer.yml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


@contextmanager
def running_dummy_csc(directory: Path) -> Iterator[DummyCsc]:
    config = _write_pki(directory)
    port = free_port()
    exe = Path(sys.executable).with_name("certomancer-csc")
    log = (directory / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(exe), str(config), str(port), "2"],
        cwd=directory,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    base_url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _post(base_url, "info", {})
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "certomancer-csc did not start: " + (directory / "server.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.1)
        yield DummyCsc(base_url=base_url, directory=directory)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def certificate_cn(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value)


# ---------------------------------------------------------------------------------------- fixtures


def off_loop(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run PDF work in a thread of its own: the e2e fixtures (playwright) leave an event loop running
    in the test runner's thread, and pyHanko's sync wrappers cannot start one inside it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result(timeout=120)


@pytest.fixture(scope="module")
def dummy_csc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DummyCsc]:
    with running_dummy_csc(tmp_path_factory.mktemp("csc-dummy")) as server:
        yield server


@contextmanager
def stub_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """A tiny misbehaving provider on a free port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _provider(app: Flask, base_url: str, tenant_id: str = SCHOOL) -> str:
    return broker.add_provider(tenant_id=tenant_id, name="Provider", base_url=base_url).id


# ---------------------------------------------------------------------------------------- signing


@pytest.mark.parametrize(
    ("remote_id", "algorithm"), [(RSA_SIGNER, KeyAlgorithm.RSA2048), (EC_SIGNER, KeyAlgorithm.P256)]
)
def test_broker_signs_a_pdf_that_validates_against_the_providers_pki(
    app: Flask, dummy_csc: DummyCsc, remote_id: str, algorithm: KeyAlgorithm
) -> None:
    provider_id = _provider(app, dummy_csc.base_url)
    rows = {r.remote_id: r for r in broker.sync_credentials(provider_id, tenant_id=SCHOOL)}
    assert {RSA_SIGNER, EC_SIGNER} <= set(rows)
    row = broker.link_credential(rows[remote_id].id, tenant_id=SCHOOL, owner_id=TEACHER)
    assert row.algorithm == algorithm.value and row.multisign >= 1

    hsm, material = broker.signing_target(row.id, tenant_id=SCHOOL)
    assert material.key_id == remote_id and material.chain_der  # certificates fetched from the provider
    signed = off_loop(sign_pdf, PDF.read_bytes(), material=material, hsm=hsm, level=Level.BB)

    report = off_loop(verify_pdf, signed, trust_roots=[dummy_csc.root_der])
    assert report.valid, report.to_dict()
    assert report.signatures[0].signer == certificate_cn(material.certificate_der)
    # and a validator that does not know the provider's root does not trust it
    assert not off_loop(verify_pdf, signed, trust_roots=[]).valid


def test_sign_digests_batches_by_multisign_and_is_audited(app: Flask, dummy_csc: DummyCsc) -> None:
    from sqlalchemy import select

    from app.audit.models import AuditEvent
    from app.db import session

    provider_id = _provider(app, dummy_csc.base_url)
    rows = {r.remote_id: r for r in broker.sync_credentials(provider_id, tenant_id=SCHOOL)}
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(23)]  # multisign is 10 there
    values = broker.sign_digests(rows[RSA_SIGNER].id, digests, tenant_id=SCHOOL, actor_id=TEACHER)
    cert = x509.load_der_x509_certificate(rows[RSA_SIGNER].certificate_der)
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    for digest, value in zip(digests, values, strict=True):
        cert.public_key().verify(value, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))  # type: ignore[call-arg, union-attr, arg-type]
    actions = [e.action for e in session().scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert "csc.broker_sign" in actions and "csc.provider_sync" in actions


def test_a_school_sees_only_its_own_provider_and_the_secret_is_encrypted(
    app: Flask, dummy_csc: DummyCsc
) -> None:
    provider = broker.add_provider(
        tenant_id=SCHOOL,
        name="Licensed",
        base_url=dummy_csc.base_url,
        auth_mode="oauth2",
        client_id="school-1",
        secret="s3cret-value-of-the-school",
    )
    assert provider.secret_encrypted and "s3cret" not in provider.secret_encrypted
    assert broker.provider_client(provider).auth.secret == "s3cret-value-of-the-school"
    with pytest.raises(broker.CscProviderNotFound):
        broker.get_provider(provider.id, tenant_id=OTHER_SCHOOL)
    with pytest.raises(broker.CscProviderNotFound):
        broker.sync_credentials(provider.id, tenant_id=OTHER_SCHOOL)


def test_an_unknown_credential_is_not_found(app: Flask, dummy_csc: DummyCsc) -> None:
    hsm = CscRemoteHsm(CscClient(dummy_csc.base_url))
    with pytest.raises(KeyNotFound):
        hsm.sign_digest(key_id=f"{ARCH}/nobody", digest=bytes(32))


def test_a_sad_the_provider_rejects_is_a_refusal(app: Flask, dummy_csc: DummyCsc) -> None:
    def sad_for_other_hashes(client: CscClient, credential_id: str, hashes: list[bytes], alg: object) -> str:
        return client.authorize(credential_id, [hashlib.sha256(b"another document").digest()])

    hsm = CscRemoteHsm(CscClient(dummy_csc.base_url, timeout=5), authorizer=sad_for_other_hashes)
    with pytest.raises(CscProviderRefused) as caught:
        hsm.sign_digest(key_id=RSA_SIGNER, digest=bytes(32))
    assert caught.value.http_status == 502 and caught.value.details["provider_status"] == 400


# ---------------------------------------------------------------------------------------- failures


def test_connection_refused_is_unreachable(app: Flask) -> None:
    hsm = CscRemoteHsm(CscClient(f"http://127.0.0.1:{free_port()}", timeout=2))
    with pytest.raises(CscProviderUnreachable) as caught:
        hsm.sign_digest(key_id="x", digest=bytes(32))
    assert caught.value.code == "csc_provider.unreachable" and caught.value.http_status == 503


def test_a_provider_that_does_not_answer_in_time_is_unreachable(app: Flask) -> None:
    class Slow(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(3)

        def log_message(self, *args: object) -> None:
            pass

    with stub_server(Slow) as url:
        started = time.monotonic()
        with pytest.raises(CscProviderUnreachable):
            CscClient(url, timeout=0.5).list_credentials()
        assert time.monotonic() - started < 2.5


def test_a_csc_error_body_is_surfaced_with_its_description(app: Flask) -> None:
    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.dumps(
                {"error": "invalid_request", "error_description": "Invalid parameter SAD"}
            ).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with stub_server(Refusing) as url, pytest.raises(CscProviderRefused) as caught:
        CscClient(url).authorize("cred", [bytes(32)])
    assert "Invalid parameter SAD" in caught.value.message
    assert caught.value.details == {"provider_status": 400, "provider_error": "invalid_request"}
    assert caught.value.code == "csc_provider.refused"


def test_a_server_error_or_garbage_is_a_refusal(app: Flask) -> None:
    class Broken(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, body = (500, b"oops") if "list" in self.path else (200, b"<html>not json</html>")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with stub_server(Broken) as url:
        client = CscClient(url)
        with pytest.raises(CscProviderRefused) as caught:
            client.list_credentials()
        assert caught.value.details["provider_status"] == 500
        with pytest.raises(CscProviderRefused):
            client.credential_info("x")


def test_errors_reach_http_clients_in_the_apps_shape(app: Flask) -> None:
    @app.route("/_test/csc-provider")
    def _provider_error() -> str:
        CscClient(f"http://127.0.0.1:{free_port()}", timeout=1).info()
        return "unreachable"

    response = app.test_client().get("/_test/csc-provider")
    assert response.status_code == 503
    assert response.get_json()["code"] == "csc_provider.unreachable"
