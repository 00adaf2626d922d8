"""Bad input, generated: random and mutated PDFs at the intake, garbage rosters, junk JSON to the CSC
endpoints and to every JSON route of the API.  Never a 5xx, never a hang (each request is timed),
always the documented error shape: ``{code, status, error, message}`` for the API and
``{error, error_description}`` for CSC."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hardening.roles import School, build_school, client_of

pytestmark = pytest.mark.slow

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "pdfs").glob("*.pdf"))
SLOW_REQUEST = 10.0  # seconds: more than this for one bad input is a hang
FUZZ = settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=15), inner, max_size=5),
    max_leaves=20,
)


@pytest.fixture
def school(app: Flask) -> Iterator[School]:
    from app.auth.ratelimit import limiter

    was, limiter.enabled = limiter.enabled, False
    try:
        yield build_school(app, "Trường Tiểu học Ngọc Thụy", "NT-FUZZ")
    finally:
        limiter.enabled = was


def _api_error(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what} → {response.status_code}: {response.get_data()[:300]!r}"
    if response.status_code >= 400:
        body = response.get_json(silent=True)
        assert isinstance(body, dict), f"{what}: error without a JSON body"
        assert {"code", "status", "error", "message"} <= set(body), f"{what}: {body}"
        assert body["status"] == response.status_code and isinstance(body["code"], str)


def _timed(call: Any) -> Any:
    start = time.monotonic()
    response = call()
    assert time.monotonic() - start < SLOW_REQUEST, "a bad input took too long (a hang)"
    return response


def _mutations() -> st.SearchStrategy[bytes]:
    originals = [p.read_bytes() for p in FIXTURES]

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(originals)))
        kind = draw(st.sampled_from(["truncate", "flip", "splice", "random"]))
        if kind == "truncate":
            return bytes(data[: draw(st.integers(0, len(data)))])
        if kind == "flip":
            for _ in range(draw(st.integers(1, 20))):
                i = draw(st.integers(0, len(data) - 1))
                data[i] = draw(st.integers(0, 255))
            return bytes(data)
        if kind == "splice":
            i = draw(st.integers(0, len(data)))
            return bytes(data[:i]) + draw(st.binary(max_size=200)) + bytes(data[i:])
        return b"%PDF-1.7\n" + draw(st.binary(max_size=2000))

    return mutate()


def test_pdf_intake_never_fails_on_a_bad_file(app: Flask, school: School) -> None:
    clerk = school.callers["clerk"]
    client = client_of(app, clerk)
    manifest = b"file,student_code,student_name,class,school_year\nx.pdf,HS77777,Hoc sinh,5A,2024-2025\n"

    @FUZZ
    @given(data=st.one_of(st.binary(max_size=3000), _mutations()))
    def upload(data: bytes) -> None:
        response = _timed(
            lambda: client.post(
                "/api/v1/documents",
                data={"files": [(io.BytesIO(data), "x.pdf")], "manifest": (io.BytesIO(manifest), "m.csv")},
                content_type="multipart/form-data",
                headers=clerk.headers,
            )
        )
        _api_error(response, "intake")
        if response.status_code == 200:  # per-file outcome: accepted, or refused with a code
            for item in response.get_json()["files"]:
                assert item.get("document_id") or item.get("code"), item

    upload()


def test_roster_import_never_fails_on_garbage(app: Flask, school: School) -> None:
    admin = school.callers["school_admin"]
    client = client_of(app, admin)
    header = "Họ và tên,Tên đăng nhập,Vai trò,Lớp chủ nhiệm\n".encode()

    @FUZZ
    @given(
        data=st.one_of(
            st.binary(max_size=2000),
            st.text(max_size=500).map(lambda t: header + t.encode("utf-8", "replace")),
            st.binary(max_size=1000).map(lambda b: b"PK\x03\x04" + b),  # a broken XLSX (zip)
        ),
        name=st.sampled_from(["roster.csv", "roster.xlsx", "roster.txt"]),
        kind=st.sampled_from(["staff", "classes", "nonsense"]),
    )
    def upload(data: bytes, name: str, kind: str) -> None:
        response = _timed(
            lambda: client.post(
                "/api/v1/roster/imports",
                data={"kind": kind, "dry_run": "true", "file": (io.BytesIO(data), name)},
                content_type="multipart/form-data",
                headers=admin.headers,
            )
        )
        _api_error(response, f"roster {kind} {name}")

    upload()


CSC_ROUTES = [
    f"/csc/{v}/{p}"
    for v in ("v1", "v2")
    for p in (
        "info",
        "auth/login",
        "oauth2/token",
        "credentials/list",
        "credentials/info",
        "credentials/authorize",
        "credentials/extendTransaction",
        "signatures/signHash",
        "signatures/timestamp",
    )
]


def test_csc_endpoints_answer_junk_json_with_a_csc_error(app: Flask, school: School) -> None:
    api = school.callers["api_client"]
    client = app.test_client()

    @FUZZ
    @given(route=st.sampled_from(CSC_ROUTES), body=json_values, authed=st.booleans())
    def call(route: str, body: object, authed: bool) -> None:
        headers = dict(api.headers) if authed else {}
        response = _timed(lambda: client.post(route, json=body, headers=headers))
        assert response.status_code < 500, f"{route} {body!r} → {response.status_code}"
        if response.status_code >= 400:
            payload = response.get_json(silent=True)
            assert isinstance(payload, dict) and "error" in payload, (route, payload)

    call()


def _json_routes(app: Flask) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or "logout" in rule.rule:
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH"}):
            found.append((method, rule.rule))
    return sorted(found)


def test_every_json_route_answers_junk_with_the_error_shape(app: Flask, school: School) -> None:
    import re

    routes = _json_routes(app)
    assert len(routes) > 20
    callers = [school.callers[r] for r in ("anonymous", "clerk", "school_admin", "principal", "api_client")]

    @settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(routes), body=json_values, who=st.sampled_from(callers))
    def call(route: tuple[str, str], body: object, who: Any) -> None:
        method, rule = route
        path = rule
        for name in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule):
            value = school.ids.get(name, "00000000-0000-4000-8000-000000000000")
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", "1" if name == "page" else value, path)
        client = client_of(app, who)
        response = _timed(lambda: client.open(path, method=method, json=body, headers=who.headers))
        _api_error(response, f"{method} {path} {body!r}"[:300])

    call()
