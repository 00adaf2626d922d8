from __future__ import annotations

from flask.testing import FlaskClient


def test_healthz_says_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_unknown_api_route_gets_the_error_shape(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "not_found"
    assert body["status"] == 404
    assert body["error"] == "Not Found"
    assert body["message"]


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    response = client.get("/healthz")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
