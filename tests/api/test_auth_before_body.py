"""An anonymous caller is told to sign in (401) before anything about its request body (422)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

ROUTES = [
    ("post", "/api/v1/approvals"),
    ("post", "/api/v1/approvals/00000000-0000-0000-0000-000000000000/passkey"),
    ("post", "/api/v1/approvals/00000000-0000-0000-0000-000000000000/totp"),
    ("post", "/api/v1/documents/00000000-0000-0000-0000-000000000000/reject"),
    ("post", "/api/v1/delegations"),
    ("post", "/api/v1/me/passkeys"),
    ("post", "/api/v1/csc/approvals/00000000-0000-0000-0000-000000000000/approve"),
    ("get", "/api/v1/inbox?class_id=not-a-uuid&unknown=1"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_anonymous_gets_401_not_a_validation_error(client: FlaskClient, method: str, url: str) -> None:
    response = getattr(client, method)(url, json={"unexpected": True})
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["code"] == "auth.required"
