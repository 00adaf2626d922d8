"""The authorisation matrix: every route of the Flask URL map × every kind of caller, in their own
school and in another school, against the statuses written down in ``EXPECTED``.

Own school: the path ids are ids nobody has (a fresh UUID), so a caller who may use the route gets its
"not found" (or a 422 for the empty body), and one who may not gets 401/403 before any lookup; nothing
is changed by the run.  Other school: the callers of school B use school A's real ids, and no route
that is not public answers 2xx.  A route added without a row here fails the test: decide who may call it.

Set ``MATRIX_PRINT=1`` to print the observed table (to review a new route).
"""

from __future__ import annotations

import os
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.hardening.roles import MATRIX_ROLES, Caller, School, build_matrix_school, request

pytestmark = pytest.mark.slow

PUBLIC = "public"  # everyone (anonymous included) gets the same answer
STAFF_PERSONS = ("district_admin", "operator")
API = ("api_documents_read", "api_documents_write", "api_signing_read")
PERSONS = tuple(r for r in MATRIX_ROLES if r != "anonymous" and r not in API)

# route → {status: roles}; "*" is every role not named in another entry of the row; "public" is
# everyone.  Reviewed by hand (see RELIABILITY.md for what it showed).
EXPECTED: dict[str, dict[int, str]] = {
    "GET /": {200: "public"},
    "GET /<path:path>": {200: "public"},
    "GET /api/docs": {200: "public"},
    "GET /api/openapi.json": {200: "public"},
    "GET /api/v1/api-clients": {200: "clerk school_admin", 401: "anonymous", 403: "*"},
    "POST /api/v1/api-clients": {401: "anonymous", 403: "*", 422: "clerk school_admin"},
    "DELETE /api/v1/api-clients/<string:api_client_id>": {
        401: "anonymous",
        403: "*",
        404: "clerk school_admin",
    },
    "POST /api/v1/approvals": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
        422: "district_admin operator",
    },
    "GET /api/v1/approvals/<string:approval_id>": {
        401: "anonymous",
        403: "district_admin operator api_documents_read api_documents_write",
        404: "*",
    },
    "POST /api/v1/approvals/<string:approval_id>/passkey": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        422: "*",
    },
    "POST /api/v1/approvals/<string:approval_id>/totp": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        422: "*",
    },
    "GET /api/v1/audit/events": {
        200: "school_admin district_admin auditor operator",
        401: "anonymous",
        403: "*",
    },
    "GET /api/v1/audit/export": {
        200: "school_admin district_admin auditor operator",
        401: "anonymous",
        403: "*",
    },
    "POST /api/v1/auth/passkey": {422: "public"},
    "POST /api/v1/auth/passkey/options": {200: "public"},
    "POST /api/v1/auth/recovery": {422: "public"},
    "POST /api/v1/auth/totp": {422: "public"},
    "GET /api/v1/billing/plans": {200: "operator", 401: "anonymous", 403: "*"},
    "POST /api/v1/billing/plans": {401: "anonymous", 403: "*", 422: "operator"},
    "PATCH /api/v1/billing/plans/<plan_id>": {401: "anonymous", 403: "*", 404: "operator"},
    "GET /api/v1/billing/subscriptions": {200: "operator", 401: "anonymous", 403: "*"},
    "POST /api/v1/billing/subscriptions": {401: "anonymous", 403: "*", 422: "operator"},
    "POST /api/v1/billing/subscriptions/<subscription_id>/plan": {
        401: "anonymous",
        403: "*",
        422: "operator",
    },
    "GET /api/v1/billing/subscriptions/<subscription_id>/statements/<month>": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "POST /api/v1/billing/subscriptions/<subscription_id>/status": {
        401: "anonymous",
        403: "*",
        422: "operator",
    },
    "GET /api/v1/billing/usage/districts/<district_id>": {
        200: "district_admin operator",
        401: "anonymous",
        403: "*",
    },
    "GET /api/v1/billing/usage/schools/<tenant_id>": {
        200: "*",
        401: "anonymous",
        403: "teacher homeroom_teacher api_documents_read api_documents_write api_signing_read",
    },
    "GET /api/v1/classes": {200: "*", 401: "anonymous"},
    "POST /api/v1/classes": {401: "anonymous", 403: "*", 422: "clerk school_admin"},
    "GET /api/v1/classes/<string:class_id>": {401: "anonymous", 404: "*"},
    "GET /api/v1/classes/<string:class_id>/documents.zip": {
        401: "anonymous",
        403: "district_admin operator api_documents_write api_signing_read",
        404: "*",
    },
    "GET /api/v1/csc/approvals": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "GET /api/v1/csc/approvals/<authorization_id>": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "POST /api/v1/csc/approvals/<authorization_id>/approve": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        422: "*",
    },
    "POST /api/v1/csc/approvals/<authorization_id>/options": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "POST /api/v1/csc/approvals/<authorization_id>/reject": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "GET /api/v1/delegations": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "POST /api/v1/delegations": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        422: "*",
    },
    "POST /api/v1/delegations/<string:delegation_id>/revoke": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "GET /api/v1/documents": {
        200: "*",
        401: "anonymous",
        403: "district_admin operator api_documents_write api_signing_read",
    },
    "POST /api/v1/documents": {401: "anonymous", 403: "*", 422: "clerk school_admin api_documents_write"},
    "GET /api/v1/documents/<string:document_id>": {
        401: "anonymous",
        403: "district_admin operator api_documents_write api_signing_read",
        404: "*",
    },
    "PATCH /api/v1/documents/<string:document_id>": {
        401: "anonymous",
        403: "*",
        404: "clerk school_admin api_documents_write",
    },
    "POST /api/v1/documents/<string:document_id>/cancel": {
        401: "anonymous",
        403: "*",
        404: "clerk school_admin api_documents_write",
    },
    "GET /api/v1/documents/<string:document_id>/evidence": {
        401: "anonymous",
        403: "*",
        404: "principal vice_principal clerk school_admin auditor",
    },
    "GET /api/v1/documents/<string:document_id>/evidence.json": {
        401: "anonymous",
        403: "*",
        404: "principal vice_principal clerk school_admin auditor",
    },
    "GET /api/v1/documents/<string:document_id>/evidence.pdf": {
        401: "anonymous",
        403: "*",
        404: "principal vice_principal clerk school_admin auditor",
    },
    "GET /api/v1/documents/<string:document_id>/file": {
        401: "anonymous",
        403: "district_admin operator api_documents_write api_signing_read",
        404: "*",
    },
    "GET /api/v1/documents/<string:document_id>/pages/<int:page>.png": {
        401: "anonymous",
        403: "district_admin operator api_documents_write api_signing_read",
        404: "*",
    },
    "POST /api/v1/documents/<string:document_id>/reject": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "POST /api/v1/documents/<string:document_id>/release": {
        401: "anonymous",
        403: "*",
        404: "clerk school_admin api_documents_write",
    },
    "POST /api/v1/documents/<string:document_id>/resubmit": {
        401: "anonymous",
        403: "*",
        404: "clerk school_admin api_documents_write",
    },
    "POST /api/v1/documents/<string:document_id>/retry": {
        401: "anonymous",
        403: "*",
        404: "clerk school_admin api_documents_write",
    },
    "GET /api/v1/documents/changes": {
        200: "*",
        401: "anonymous",
        403: "district_admin operator api_documents_write api_signing_read",
    },
    "GET /api/v1/inbox": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "POST /api/v1/invitations": {401: "anonymous", 403: "*", 422: "clerk school_admin"},
    "GET /api/v1/invitations/<string:token>": {404: "public"},
    "POST /api/v1/invitations/<string:token>/passkey": {422: "public"},
    "POST /api/v1/invitations/<string:token>/passkey/options": {404: "public"},
    "POST /api/v1/invitations/<string:token>/totp": {422: "public"},
    "POST /api/v1/invitations/<string:token>/totp/options": {404: "public"},
    "POST /api/v1/lifecycle/people/<person_id>/offboard": {
        401: "anonymous",
        403: "*",
        404: "school_admin operator",
    },
    "POST /api/v1/lifecycle/renewals": {200: "operator", 401: "anonymous", 403: "*"},
    "POST /api/v1/lifecycle/seal-requests": {201: "school_admin", 401: "anonymous", 403: "*"},
    "POST /api/v1/lifecycle/seal-requests/<request_id>/decision": {
        401: "anonymous",
        403: "*",
        422: "principal",
    },
    "GET /api/v1/me": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "GET /api/v1/me/passkeys": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "POST /api/v1/me/passkeys": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        422: "*",
    },
    "DELETE /api/v1/me/passkeys/<string:passkey_id>": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "PATCH /api/v1/me/passkeys/<string:passkey_id>": {422: "public"},
    "POST /api/v1/me/passkeys/options": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "GET /api/v1/me/sessions": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "DELETE /api/v1/me/sessions/<string:session_id>": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "GET /api/v1/notices": {
        200: "*",
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
    },
    "POST /api/v1/notices/<notice_id>/read": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        404: "*",
    },
    "POST /api/v1/oauth2/token": {400: "public"},
    "GET /api/v1/operator/hsm": {200: "operator", 401: "anonymous", 403: "*"},
    "GET /api/v1/operator/queue": {200: "operator", 401: "anonymous", 403: "*"},
    "GET /api/v1/operator/stalled": {200: "operator", 401: "anonymous", 403: "*"},
    "GET /api/v1/operator/tenants": {200: "operator", 401: "anonymous", 403: "*"},
    "GET /api/v1/people": {200: "principal clerk school_admin", 401: "anonymous", 403: "*"},
    "POST /api/v1/people": {401: "anonymous", 403: "*", 422: "clerk school_admin"},
    "GET /api/v1/people/<string:person_id>": {401: "anonymous", 403: "*", 404: "clerk school_admin"},
    "PATCH /api/v1/people/<string:person_id>": {401: "anonymous", 403: "*", 404: "clerk school_admin"},
    "POST /api/v1/people/<string:person_id>/suspend": {401: "anonymous", 403: "*", 404: "clerk school_admin"},
    "POST /api/v1/people/<string:person_id>/unlock": {401: "anonymous", 403: "*", 404: "clerk school_admin"},
    "GET /api/v1/pki/dev-ca.crl": {200: "public"},
    "GET /api/v1/pki/dev-ca.crt": {200: "public"},
    "POST /api/v1/pki/tsa": {415: "public"},
    "DELETE /api/v1/push/subscriptions": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        422: "*",
    },
    "POST /api/v1/push/subscriptions": {
        401: "anonymous",
        403: "api_documents_read api_documents_write api_signing_read",
        422: "*",
    },
    "GET /api/v1/push/vapid-key": {200: "public"},
    "POST /api/v1/roster/imports": {401: "anonymous", 403: "*", 422: "clerk school_admin"},
    "POST /api/v1/verify": {422: "public"},
    "GET /api/v1/verify/<string:token>": {404: "public"},
    "GET /api/v1/webhook": {401: "anonymous", 403: "*", 404: "school_admin"},
    "PUT /api/v1/webhook": {401: "anonymous", 403: "*", 422: "school_admin"},
    "GET /audit": {
        200: "school_admin district_admin auditor operator",
        401: "anonymous api_documents_read api_documents_write api_signing_read",
        403: "*",
    },
    "POST /csc/v1/auth/login": {401: "public"},
    "POST /csc/v1/credentials/authorize": {400: "public"},
    "POST /csc/v1/credentials/extendTransaction": {400: "public"},
    "POST /csc/v1/credentials/info": {400: "public"},
    "POST /csc/v1/credentials/list": {
        200: "api_documents_read api_documents_write api_signing_read",
        401: "*",
    },
    "GET /csc/v1/info": {200: "public"},
    "POST /csc/v1/info": {200: "public"},
    "POST /csc/v1/oauth2/token": {400: "public"},
    "POST /csc/v1/signatures/signHash": {400: "public"},
    "POST /csc/v1/signatures/timestamp": {400: "public"},
    "POST /csc/v2/auth/login": {401: "public"},
    "POST /csc/v2/credentials/authorize": {400: "public"},
    "POST /csc/v2/credentials/authorizeCheck": {400: "public"},
    "POST /csc/v2/credentials/extendTransaction": {400: "public"},
    "POST /csc/v2/credentials/info": {400: "public"},
    "POST /csc/v2/credentials/list": {
        200: "api_documents_read api_documents_write api_signing_read",
        401: "*",
    },
    "GET /csc/v2/info": {200: "public"},
    "POST /csc/v2/info": {200: "public"},
    "POST /csc/v2/oauth2/token": {400: "public"},
    "POST /csc/v2/signatures/signHash": {400: "public"},
    "POST /csc/v2/signatures/timestamp": {400: "public"},
    "GET /healthz": {200: "public"},
    "GET /readyz": {200: "public"},
    "GET /v": {200: "public"},
    "GET /v/<token>": {404: "public"},
    "POST /v/check": {400: "public"},
    "POST /api/v1/auth/logout": {204: "public"},
}


def _params(rule: Any, ids: dict[str, str]) -> str:
    path = rule.rule
    for name in rule.arguments:
        value = ids.get(name) or ("2026-01" if name == "month" else "1" if name == "page" else "")
        value = value or str(uuid.uuid4())
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", value, path)
    return path


def _routes(app: Flask) -> list[tuple[str, str, Any]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/static"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, rule))
    # sign-out last: it ends the caller's session
    return sorted(found, key=lambda r: (r[1].endswith("/auth/logout"), r[1], r[0]))


# bodies that get past validation, so that the answer is about who calls, not about the body
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/approvals": {"document_ids": ["00000000-0000-4000-8000-000000000000"]},
    "POST /api/v1/documents/<string:document_id>/reject": {"reason": "Sai điểm môn Toán"},
}


def _call(app: Flask, caller: Caller, method: str, path: str, route: str = "") -> int:
    body = BODIES.get(f"{method} {route}", {})
    kw: dict[str, Any] = {"json": body} if method in {"POST", "PUT", "PATCH", "DELETE"} else {}
    response = request(app, caller, method, path, **kw)
    return int(response.status_code)


def _observe(app: Flask, school: School, ids: dict[str, str]) -> dict[str, dict[str, int]]:
    seen: dict[str, dict[str, int]] = {}
    for method, route, rule in _routes(app):
        path = _params(rule, ids)
        seen[f"{method} {route}"] = {
            role: _call(app, school.callers[role], method, path, route) for role in MATRIX_ROLES
        }
    return seen


def _compact(statuses: dict[str, int]) -> dict[int, str]:
    by: dict[int, list[str]] = defaultdict(list)
    for role, status in statuses.items():
        by[status].append(role)
    if len(by) == 1:
        return {next(iter(by)): PUBLIC}
    common = max(by, key=lambda s: len(by[s]))
    return {s: ("*" if s == common else " ".join(roles)) for s, roles in sorted(by.items())}


def _expand(row: dict[int, str]) -> dict[str, int]:
    if len(row) == 1 and next(iter(row.values())) == PUBLIC:
        status = next(iter(row))
        return dict.fromkeys(MATRIX_ROLES, status)
    named = {role: status for status, roles in row.items() if roles != "*" for role in roles.split()}
    rest = [s for s, roles in row.items() if roles == "*"]
    assert len(rest) <= 1
    return {role: named.get(role, rest[0] if rest else -1) for role in MATRIX_ROLES}


@pytest.fixture
def schools(app: Flask) -> Iterator[tuple[School, School]]:
    from app.auth.ratelimit import limiter

    was, limiter.enabled = limiter.enabled, False  # 13 callers from one address, many times over
    try:
        a = build_matrix_school(app, "Trường Tiểu học Ngọc Thụy", "NT-MATRIX")
        b = build_matrix_school(app, "Trường Tiểu học Đức Giang", "DG-MATRIX")
        yield a, b
    finally:
        limiter.enabled = was


def test_every_route_every_role_own_and_other_school(app: Flask, schools: tuple[School, School]) -> None:
    a, b = schools
    # own school, ids nobody has: who may call what
    observed = _observe(app, a, {"tenant_id": a.ids["tenant_id"], "district_id": a.ids["district_id"]})
    if os.environ.get("MATRIX_PRINT"):
        for route, statuses in observed.items():
            print(f"{route!r}: {_compact(statuses)!r},")
    missing = sorted(set(observed) - set(EXPECTED))
    assert not missing, f"routes without a row in EXPECTED (decide who may call them): {missing}"
    wrong = {
        route: {
            r: (observed[route][r], want)
            for r, want in _expand(EXPECTED[route]).items()
            if observed[route][r] != want
        }
        for route in observed
    }
    wrong = {k: v for k, v in wrong.items() if v}
    assert not wrong, "\n".join(f"{k}: {v} (observed, expected)" for k, v in wrong.items())

    for route, statuses in observed.items():
        assert all(s < 500 for s in statuses.values()), (route, statuses)

    # other school: B's callers on A's real ids never get a 2xx from a non-public route
    leaks = []
    for method, route, rule in _routes(app):
        if not rule.arguments or _compact(observed[f"{method} {route}"]).get(200) == PUBLIC:
            continue
        if route.startswith(("/v/", "/api/v1/verify/", "/api/v1/invitations/", "/<path")):
            continue  # public by token
        path = _params(rule, a.ids)
        for role in MATRIX_ROLES:
            if role == "operator":
                continue  # service staff of every school by design (billing, lifecycle, the console)
            status = _call(app, b.callers[role], method, path, route)
            if 200 <= status < 300:
                leaks.append(f"{role} of school B: {method} {path} → {status}")
    assert not leaks, "\n".join(leaks)


def test_nobody_approves_for_a_signer_and_nobody_uses_another_persons_credential(app: Flask) -> None:
    from app.people import rules
    from tests.hardening.roles import _signed, _staff
    from tests.support.factories import make_person, sign_in
    from tests.support.workflow_world import build_world

    world = build_world(app)
    ids = world.upload(2)
    district = world.school.parent_id
    from app import db
    from app.tenants.models import Organisation

    district_org = db.session().get(Organisation, district)
    assert district_org is not None
    admin = sign_in(app, make_person(world.school, roles=(rules.SCHOOL_ADMIN,)))
    others = {
        "clerk": world.clerk.client,
        "school_admin": admin.client,
        "principal": world.principal.client.client,
        "vice_principal": world.deputy.client.client,
    }
    for role, staff_role in (("operator", rules.OPERATOR), ("district_admin", rules.DISTRICT_ADMIN)):
        caller = _signed(app, _staff(district_org, staff_role), role)
        from tests.hardening.roles import client_of

        client = client_of(app, caller)
        client.environ_base["HTTP_X_CSRF_TOKEN"] = caller.headers["X-CSRF-Token"]
        others[role] = client
    admin.client.environ_base["HTTP_X_CSRF_TOKEN"] = admin.csrf
    world.clerk.client.environ_base["HTTP_X_CSRF_TOKEN"] = world.clerk.csrf
    world.principal.client.client.environ_base["HTTP_X_CSRF_TOKEN"] = world.principal.client.csrf
    world.deputy.client.client.environ_base["HTTP_X_CSRF_TOKEN"] = world.deputy.client.csrf

    # the homeroom teacher's step: nobody else may even ask to approve it
    for role, client in others.items():
        response = client.post("/api/v1/approvals", json={"document_ids": ids})
        assert response.status_code in (403, 404, 409, 422), (role, response.status_code, response.get_json())

    # the teacher's own approval: nobody else can answer its challenge, not even with a passkey of
    # their own (nor can staff outside the school read it), and the teacher cannot answer it with
    # someone else's passkey
    created = world.teacher.client.post("/api/v1/approvals", json={"document_ids": ids})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    theirs = world.principal.authenticator.get(
        body["publicKey"], credential=world.principal.authenticator.credentials[-1]
    )
    for role, client in others.items():
        if role in ("operator", "district_admin"):  # the school's own readers may follow its progress
            assert client.get(f"/api/v1/approvals/{body['id']}").status_code in (403, 404), role
        answer = client.post(f"/api/v1/approvals/{body['id']}/passkey", json={"credential": theirs})
        assert answer.status_code in (401, 403, 404), (role, answer.status_code)
    refused = world.teacher.client.post(
        f"/api/v1/approvals/{body['id']}/passkey", json={"credential": theirs}
    )
    assert refused.status_code in (401, 403), refused.get_json()

    from app.documents.models import Document

    s = db.session()
    s.expire_all()
    assert {(d.status, d.step) for d in s.query(Document).filter(Document.id.in_(ids))} == {("waiting", 1)}
