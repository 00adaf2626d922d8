"""PKI endpoints over HTTP: the development CA certificate, its CRL and the RFC 3161 TSA."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import tsp
from cryptography import x509
from flask.testing import FlaskClient

from app.keys.tsa import TimeStampResp

pytestmark = pytest.mark.hsm


def _query(nonce: int = 42) -> bytes:
    imprint = {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(b"pdf").digest()}
    return tsp.TimeStampReq(
        {"version": "v1", "message_imprint": imprint, "nonce": nonce, "cert_req": True}
    ).dump()


def test_dev_ca_certificate_and_crl_are_served_as_der(client: FlaskClient) -> None:
    cert_response = client.get("/api/v1/pki/dev-ca.crt")
    assert cert_response.status_code == 200
    assert cert_response.mimetype == "application/pkix-cert"
    root = x509.load_der_x509_certificate(cert_response.data)
    assert "NOT TRUSTED" in root.subject.rfc4514_string()

    crl_response = client.get("/api/v1/pki/dev-ca.crl")
    assert crl_response.status_code == 200
    assert crl_response.mimetype == "application/pkix-crl"
    crl = x509.load_der_x509_crl(crl_response.data)
    assert crl.is_signature_valid(root.public_key())


def test_tsa_answers_a_timestamp_query(client: FlaskClient) -> None:
    response = client.post("/api/v1/pki/tsa", data=_query(7), content_type="application/timestamp-query")
    assert response.status_code == 200
    assert response.mimetype == "application/timestamp-reply"
    reply = TimeStampResp.load(response.data)
    assert reply["status"]["status"].native == "granted"
    info = reply["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 7


def test_tsa_refuses_other_media_types_and_oversized_bodies(client: FlaskClient) -> None:
    wrong = client.post("/api/v1/pki/tsa", data=_query(), content_type="application/octet-stream")
    assert wrong.status_code == 415
    assert wrong.get_json()["code"] == "request.unsupported_media_type"
    huge = client.post("/api/v1/pki/tsa", data=b"0" * 70_000, content_type="application/timestamp-query")
    assert huge.status_code == 413


def test_tsa_answers_garbage_with_a_rejection_not_an_http_error(client: FlaskClient) -> None:
    response = client.post("/api/v1/pki/tsa", data=b"nonsense", content_type="application/timestamp-query")
    assert response.status_code == 200
    assert TimeStampResp.load(response.data)["status"]["status"].native == "rejection"
