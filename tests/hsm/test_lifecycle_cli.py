"""The operator's commands: ``flask operator ...``, ``flask billing ...``, ``flask lifecycle ...``."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from app.billing import service
from app.keys import service as keys
from tests.integration.test_billing_service import make_person, make_tree, sign

pytestmark = pytest.mark.hsm


def test_operator_console_and_billing_commands(app: Flask, tmp_path: Path) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "billing", "plan-create", "--code", "cli-100", "--name", "Gói 100", "--scope", "school",
            "--included", "100", "--price", "2000000",
        ]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    plan_id = created.output.split()[0]
    today = service.today()
    start, end = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=200)).isoformat()
    subscribed = runner.invoke(
        args=[
            "billing",
            "subscribe",
            school.id,
            plan_id,
            "--start",
            start,
            "--end",
            end,
            "--status",
            "active",
        ]
    )
    assert subscribed.exit_code == 0, subscribed.output
    sub_id = subscribed.output.split()[0]
    refused = runner.invoke(args=["billing", "status", sub_id, "trial"])
    assert refused.exit_code != 0 and "billing.transition_refused" in refused.output
    sign(school, 3)
    out = tmp_path / "statement.csv"
    month = today.strftime("%Y-%m")
    written = runner.invoke(
        args=["billing", "statement", sub_id, month, "--format", "csv", "--out", str(out)]
    )
    assert written.exit_code == 0 and "3 signatures" in written.output
    assert school.code in out.read_text(encoding="utf-8-sig")

    assert school.code in runner.invoke(args=["operator", "tenants"]).output
    assert "cli-100" in runner.invoke(args=["operator", "plans"]).output
    assert "3/100" in runner.invoke(args=["operator", "subscriptions"]).output
    assert json.loads(runner.invoke(args=["operator", "hsm"]).output)["ok"] is True
    queues = json.loads(runner.invoke(args=["operator", "queue"]).output)["queues"]
    assert list(queues) == [app.extensions["celery"].conf.task_default_queue]  # where the tasks go
    assert json.loads(runner.invoke(args=["operator", "stalled"]).output)["items"] == []


def test_lifecycle_renew_and_offboard_commands(app: Flask) -> None:
    tree = make_tree(1)
    teacher = make_person(tree.schools[0], "teacher", "Đỗ Văn Cường")
    credential = keys.create_credential(
        owner_kind="person", owner_id=teacher.id, owner_name=teacher.display_name, tenant_id=teacher.tenant_id
    )
    runner = app.test_cli_runner()
    nothing = runner.invoke(args=["lifecycle", "renew", "--days", "30"])
    assert nothing.exit_code == 0 and "0 renewed" in nothing.output
    soon = runner.invoke(args=["lifecycle", "renew", "--days", "800", "--dry-run"])
    assert credential.id in soon.output
    left = runner.invoke(args=["lifecycle", "offboard", teacher.id])
    assert left.exit_code == 0 and "revoked 1 credential(s)" in left.output
    assert keys.get_credential(credential.id).status == "revoked"


def test_renewal_runs_daily_on_the_task_queue(app: Flask) -> None:
    from app.lifecycle.tasks import renew_expiring

    celery = app.extensions["celery"]
    celery.finalize()  # as beat does before it reads the schedule
    entry = celery.conf.beat_schedule["lifecycle.renew_expiring"]
    assert entry["schedule"] == 24 * 3600 and entry["kwargs"] == {"days": 30}
    tree = make_tree(1)
    teacher = make_person(tree.schools[0], "teacher")
    keys.create_credential(
        owner_kind="person", owner_id=teacher.id, owner_name="Giáo viên", tenant_id=teacher.tenant_id
    )
    assert renew_expiring.apply(kwargs={"days": 800}).get() == {"renewed": 1}
