"""Auditors search and export the audit trail of their school only; district admins their schools;
operators everything.  Every exported line is valid under schemas/audit-export.schema.json and its
hash re-verifies offline."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask

from app import db
from app.audit.models import GENESIS_HASH
from app.audit.service import record_event
from app.auth import crypto
from app.db import utcnow
from app.people import rules
from app.people.models import ACTIVE, Person, RoleAssignment
from app.tenants.models import Organisation
from tests.support.factories import SignedInClient, make_person, make_school, sign_in

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "audit-export.schema.json").read_text()
)


def staff(organisation: Organisation, role: str) -> Person:
    """District or service staff: no school of their own."""
    with db.transaction() as s:
        person = Person(
            tenant_id=None,
            organisation_id=organisation.id,
            display_name=f"{role} staff",
            username=f"{role}-{organisation.code}".lower(),
            status=ACTIVE,
            webauthn_user_id=crypto.random_token(32),
        )
        person.roles = [RoleAssignment(organisation_id=organisation.id, tenant_id=None, role=role)]
        s.add(person)
        s.flush()
        return person


def event(tenant: str | None, action: str, *, actor: str | None = None, target: str | None = None) -> None:
    with db.transaction() as s:
        record_event(
            s,
            action=action,
            actor_id=actor,
            tenant_id=tenant,
            target_type="document" if target else None,
            target_id=target,
            details={"note": "Ghi chú tiếng Việt"},
        )


@pytest.fixture
def two_schools(app: Flask) -> dict[str, Any]:
    a, b = make_school("Trường A"), make_school("Trường B")
    teacher = make_person(a, roles=(rules.TEACHER,))
    event(a.id, "document.uploaded", actor=teacher.id, target="doc-1")
    event(a.id, "signature.created", actor=teacher.id, target="doc-1")
    event(a.id, "auth.sign_in", actor=teacher.id)
    event(b.id, "document.uploaded", target="doc-2")
    event(None, "auth.sign_in")  # an unknown user's failed sign-in: no school
    return {"a": a, "b": b, "teacher": teacher}


def get(client: SignedInClient, url: str, **params: Any) -> Any:
    return client.get(url, query_string=params)


def test_an_auditor_reads_and_searches_their_school_only(app: Flask, two_schools: dict[str, Any]) -> None:
    a, teacher = two_schools["a"], two_schools["teacher"]
    auditor = sign_in(app, make_person(a, roles=(rules.AUDITOR,)))
    page = get(auditor, "/api/v1/audit/events").get_json()
    assert {i["tenant_id"] for i in page["items"]} == {a.id}
    assert [i["action"] for i in page["items"]] == ["auth.sign_in", "signature.created", "document.uploaded"]

    assert len(get(auditor, "/api/v1/audit/events", actor_id=teacher.id).get_json()["items"]) == 3
    by_doc = get(auditor, "/api/v1/audit/events", document_id="doc-1").get_json()["items"]
    assert [i["action"] for i in by_doc] == ["signature.created", "document.uploaded"]
    prefix = get(auditor, "/api/v1/audit/events", action="signature.*").get_json()["items"]
    assert [i["action"] for i in prefix] == ["signature.created"]
    now = utcnow()
    window = {
        "from": (now - timedelta(minutes=5)).isoformat(),
        "to": (now + timedelta(minutes=5)).isoformat(),
    }
    assert len(get(auditor, "/api/v1/audit/events", **window).get_json()["items"]) == 3
    later = {"from": (now + timedelta(hours=1)).isoformat()}
    assert get(auditor, "/api/v1/audit/events", **later).get_json()["items"] == []

    first = get(auditor, "/api/v1/audit/events", limit=2).get_json()
    rest = get(auditor, "/api/v1/audit/events", limit=2, before_seq=first["next_before_seq"]).get_json()
    assert len(first["items"]) == 2 and len(rest["items"]) == 1 and rest["next_before_seq"] is None

    other = get(auditor, "/api/v1/audit/events", tenant_id=two_schools["b"].id)
    assert other.status_code == 403


def test_people_without_an_audit_role_are_refused(app: Flask, two_schools: dict[str, Any]) -> None:
    teacher = sign_in(app, two_schools["teacher"])
    assert get(teacher, "/api/v1/audit/events").status_code == 403
    assert get(teacher, "/api/v1/audit/export").status_code == 403
    assert app.test_client().get("/api/v1/audit/events").status_code == 401


def test_district_admins_read_their_schools_and_operators_everything(
    app: Flask, two_schools: dict[str, Any]
) -> None:
    a, b = two_schools["a"], two_schools["b"]
    district = db.session().get(Organisation, a.parent_id)
    assert district is not None
    admin = sign_in(app, staff(district, rules.DISTRICT_ADMIN))
    assert {i["tenant_id"] for i in get(admin, "/api/v1/audit/events").get_json()["items"]} == {a.id}
    assert get(admin, "/api/v1/audit/events", tenant_id=b.id).status_code == 403

    operator = sign_in(app, staff(district, rules.OPERATOR))
    seen = {i["tenant_id"] for i in get(operator, "/api/v1/audit/events").get_json()["items"]}
    assert seen == {a.id, b.id, None}
    only_b = get(operator, "/api/v1/audit/events", tenant_id=b.id).get_json()["items"]
    assert [i["action"] for i in only_b] == ["document.uploaded"]


def test_export_is_json_lines_valid_under_the_schema_and_verifiable_offline(
    app: Flask, two_schools: dict[str, Any]
) -> None:
    district = db.session().get(Organisation, two_schools["a"].parent_id)
    assert district is not None
    operator = sign_in(app, staff(district, rules.OPERATOR))
    response = get(operator, "/api/v1/audit/export")
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert len(lines) == 6 and lines[-1]["action"] == "audit.exported"  # recorded before the first line
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    prev = GENESIS_HASH
    for line in lines:
        validator.validate(line)
        body = {k: v for k, v in line.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert hashlib.sha256(canonical).hexdigest() == line["hash"]
        assert line["prev_hash"] == prev
        prev = line["hash"]

    # the export was itself recorded, by whom and with which filters
    auditor = sign_in(app, make_person(two_schools["a"], roles=(rules.AUDITOR,)))
    exported = get(auditor, "/api/v1/audit/export", action="document.*").get_data(as_text=True).splitlines()
    assert [json.loads(x)["action"] for x in exported] == ["document.uploaded"]
    recorded = get(operator, "/api/v1/audit/events", action="audit.exported").get_json()["items"]
    assert len(recorded) == 2
    assert recorded[0]["actor_id"] == auditor.person.id
    assert recorded[0]["details"]["filters"] == {"action": "document.*"}


def test_a_tampered_line_fails_the_schema() -> None:
    line = {
        "seq": 0,
        "id": "x",
        "occurred_at": "yesterday",
        "tenant_id": None,
        "actor_id": None,
        "action": "Bad Action",
        "outcome": "maybe",
        "target_type": None,
        "target_id": None,
        "details": {},
        "prev_hash": "0" * 64,
        "hash": "xyz",
    }
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(line))
    assert {e.path[0] for e in errors} >= {"seq", "occurred_at", "action", "outcome", "hash"}


def test_the_audit_page_searches_in_vietnamese_and_english(app: Flask, two_schools: dict[str, Any]) -> None:
    a, teacher = two_schools["a"], two_schools["teacher"]
    auditor = sign_in(app, make_person(a, roles=(rules.AUDITOR,)))
    page = auditor.get("/audit", query_string={"action": "signature.*"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'lang="vi"' in html and "Nhật ký kiểm toán" in html
    assert html.count("<tr data-seq=") == 1 and teacher.display_name in html and "<script" not in html
    assert "/api/v1/audit/export?action=signature.%2A" in html
    english = auditor.get("/audit", query_string={"lang": "en", "document_id": "doc-1"}).get_data(
        as_text=True
    )
    assert "Audit trail" in english and english.count("<tr data-seq=") == 2
    assert app.test_client().get("/audit").status_code == 401
    assert sign_in(app, teacher).get("/audit").status_code == 403
