"""The billing and operator HTTP API: who may do what, and the shapes the pages read."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, current_app

from app.billing import service
from tests.integration.test_billing_service import make_class, make_person, make_tree, sign
from tests.support.factories import SignedInClient, sign_in


@pytest.fixture
def world(app: Flask) -> dict[str, Any]:
    tree = make_tree(2)
    return {
        "tree": tree,
        "operator": sign_in(app, tree.operator),
        "district_admin": sign_in(app, tree.admins[tree.district.id]),
        "school_admin": sign_in(app, tree.admins[tree.schools[0].id]),
        "other_admin": sign_in(app, tree.admins[tree.schools[1].id]),
    }


def _subscribe(world: dict[str, Any], *, org_id: str, scope: str, included: int) -> dict[str, Any]:
    op: SignedInClient = world["operator"]
    plan = op.post(
        "/api/v1/billing/plans",
        json={
            "code": f"{scope}-{included}",
            "name": f"Gói {included}",
            "scope": scope,
            "included_signatures": included,
            "price_vnd": 5_000_000,
            "overage_allowed": True,
            "overage_unit_price_vnd": 2_000,
        },
    )
    assert plan.status_code == 201, plan.get_json()
    today = service.today()
    sub = op.post(
        "/api/v1/billing/subscriptions",
        json={
            "organisation_id": org_id,
            "plan_id": plan.get_json()["id"],
            "period_start": (today - timedelta(days=10)).isoformat(),
            "period_end": (today + timedelta(days=300)).isoformat(),
        },
    )
    assert sub.status_code == 201, sub.get_json()
    body: dict[str, Any] = sub.get_json()
    assert body["status"] == "trial"
    return body


def test_only_operators_manage_plans_and_subscriptions(world: dict[str, Any]) -> None:
    admin: SignedInClient = world["school_admin"]
    assert admin.get("/api/v1/billing/plans").status_code == 403
    denied = admin.post(
        "/api/v1/billing/plans",
        json={"code": "x", "name": "x", "scope": "school", "included_signatures": 1, "price_vnd": 1},
    )
    assert denied.status_code == 403
    assert world["operator"].get("/api/v1/billing/plans").status_code == 200


def test_status_changes_follow_the_rules(world: dict[str, Any]) -> None:
    sub = _subscribe(world, org_id=world["tree"].schools[0].id, scope="school", included=100)
    op: SignedInClient = world["operator"]
    url = f"/api/v1/billing/subscriptions/{sub['id']}/status"
    refused = op.post(url, json={"status": "past_due"})
    assert refused.status_code == 409 and refused.get_json()["code"] == "billing.transition_refused"
    assert op.post(url, json={"status": "active"}).get_json()["status"] == "active"
    assert op.post(url, json={"status": "past_due"}).get_json()["status"] == "past_due"


def test_school_dashboard_and_who_may_see_it(world: dict[str, Any]) -> None:
    tree = world["tree"]
    school = tree.schools[0]
    _subscribe(world, org_id=school.id, scope="school", included=100)
    klass = make_class(school, "4B")
    make_person(school, "teacher")
    sign(school, 3, klass=klass)
    sign(school, 2, doc_type="certificate")
    url = f"/api/v1/billing/usage/schools/{school.id}"
    body = world["school_admin"].get(url).get_json()
    assert body["total"] == 5 and body["quota"]["remaining"] == 95
    assert body["per_doc_type"] == {"transcript": 3, "certificate": 2}
    assert {c["class_name"]: c["count"] for c in body["per_class"]} == {"4B": 3, "—": 2}
    assert body["per_day"][-1]["count"] == 5
    assert body["cost"]["signers"] == 1 and body["cost"]["reference_certificate_vnd"] == 500_000
    assert 0 < body["year_progress_percent"] < 100
    assert world["district_admin"].get(url).status_code == 200  # the district oversees its schools
    forbidden = world["other_admin"].get(url)
    assert forbidden.status_code == 403 and forbidden.get_json()["code"] == "billing.forbidden"


def test_district_dashboard_statement_and_console(world: dict[str, Any]) -> None:
    tree = world["tree"]
    sub = _subscribe(world, org_id=tree.district.id, scope="district", included=1000)
    sign(tree.schools[1], 4)
    body = world["district_admin"].get(f"/api/v1/billing/usage/districts/{tree.district.id}").get_json()
    assert body["total"] == 4 and body["quota"]["used"] == 4
    assert {s["code"]: (s["total"], s["paid_by"]) for s in body["schools"]} == {
        tree.schools[0].code: (0, tree.district.id),
        tree.schools[1].code: (4, tree.district.id),
    }
    assert world["school_admin"].get(f"/api/v1/billing/usage/districts/{tree.district.id}").status_code == 403

    month = service.today().strftime("%Y-%m")
    url = f"/api/v1/billing/subscriptions/{sub['id']}/statements/{month}"
    got = world["district_admin"].get(f"{url}?format=csv")
    assert got.status_code == 200 and got.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    assert [tree.schools[1].code, tree.schools[1].name] == rows[5][:2] and rows[5][-1] == "4"
    pdf = world["district_admin"].get(url)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert world["school_admin"].get(url).status_code == 403

    op: SignedInClient = world["operator"]
    tenants = op.get("/api/v1/operator/tenants").get_json()
    assert {t["kind"] for t in tenants} == {"department", "district", "school"}
    hsm = op.get("/api/v1/operator/hsm").get_json()
    assert hsm["ok"] is True and hsm["key_count"] >= 0
    queue = op.get("/api/v1/operator/queue").get_json()
    assert list(queue["queues"]) == [current_app.extensions["celery"].conf.task_default_queue]
    assert "@" not in queue["broker"]
    assert op.get("/api/v1/operator/stalled").get_json() == {"available": True, "items": []}
    assert world["school_admin"].get("/api/v1/operator/hsm").status_code == 403
