"""schemathesis against schemas/openapi.json, on the app in this process (WSGI), with every role:
no 5xx, and every response (status, content type, body) matches the schema of its operation."""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.errors import SerializationNotPossible
from schemathesis.core.result import Ok

from app.db import session as db_session
from tests.hardening.roles import ROLES, build_school
from tests.support.factories import make_school

pytestmark = pytest.mark.slow

SCHEMA_PATH = "schemas/openapi.json"
EXAMPLES = 4  # per operation and role: 65 operations × 7 roles
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_with_every_role(app: Flask, role: str) -> None:
    app.config["RATELIMIT_ENABLED"] = False
    make_school()  # the district/other rows a school lists
    school = build_school(app, "Trường Tiểu học Ngọc Thụy", f"NT-{role[:6]}")
    caller = school.callers[role]
    db_session().commit()  # on SQLite every transaction takes the write lock (BEGIN IMMEDIATE)
    schema = schemathesis.openapi.from_path(SCHEMA_PATH)
    schema.app = app
    failures: list[str] = []
    skipped: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            label = f"{case.method} {case.path}"
            for name, value in list((case.path_parameters or {}).items()):
                if name in school.ids and hash(str(value)) % 2:  # half the time a real id of the school
                    case.path_parameters[name] = school.ids[name]
            response = case.call(headers=dict(caller.headers), cookies=dict(caller.cookies))
            # in-process, a request shares this test's app context and so its database session: end
            # what the request left open (a read is a transaction too, and on SQLite it holds the
            # write lock), as the end of a real request does
            db_session().commit()
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as exc:
                failures.append(f"{label} → {response.status_code}: {exc}"[:600])

        try:
            check()
        except SerializationNotPossible:  # application/timestamp-query (RFC 3161): fuzzed elsewhere
            skipped.append(f"{operation.method.upper()} {operation.path}")
    assert len(skipped) <= 2, skipped
    assert not failures, "\n\n".join(failures[:15]) + f"\n({len(failures)} failures)"
