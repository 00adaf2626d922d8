"""Operator commands: seed-demo (idempotent), roster import, invitations, unlock."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from app.billing.models import Subscription
from app.billing.service import paying_subscription
from app.db import session
from app.keys.models import Credential
from app.people.models import Person, SchoolClass
from app.tenants.models import Organisation


def test_seed_demo_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Trường Tiểu học Ngọc Thụy" in first.output
    assert first.output.count("http://localhost:5000/enrol/") == 8
    assert "Nguyễn Thị Thanh Hương (huongntt; principal)" in first.output
    links = (app.extensions["signet.settings"].var_dir / "demo-invitations.txt").read_text(encoding="utf-8")
    assert links.count("/enrol/") == 8

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    s = session()
    assert s.scalar(select(func.count()).select_from(Organisation)) == 3
    assert s.scalar(select(func.count()).select_from(Person)) == 8
    assert s.scalar(select(func.count()).select_from(SchoolClass)) == 25
    school = s.execute(select(Organisation).where(Organisation.code == "NT-LB")).scalar_one()
    district = s.get(Organisation, school.parent_id)
    assert district is not None and district.name == "Phòng Giáo dục và Đào tạo quận Long Biên"
    # the school can seal its transcripts (one seal, however often the seed runs)
    seals = s.scalars(
        select(Credential).where(Credential.tenant_id == school.id, Credential.purpose == "seal")
    ).all()
    assert len(seals) == 1 and seals[0].status == "active"
    # the district is on a year's trial (one, however often the seed runs), which pays for the school
    trials = s.scalars(select(Subscription).where(Subscription.organisation_id == district.id)).all()
    assert [t.status for t in trials] == ["trial"]
    paying = paying_subscription(s, tenant_id=school.id)
    assert paying is not None and paying.id == trials[0].id
    # the first links were replaced by the second run's
    old_token = first.output.split("/enrol/")[1].split()[0]
    assert app.test_client().get(f"/api/v1/invitations/{old_token}").status_code == 404
    new_token = second.output.split("/enrol/")[1].split()[0]
    assert app.test_client().get(f"/api/v1/invitations/{new_token}").status_code == 200


def test_import_invite_and_unlock_commands(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    roster = tmp_path / "ds.csv"
    roster.write_text("Họ và tên,Tên đăng nhập\nNgô Thị Hà,hant\n,x\n", encoding="utf-8")
    refused = runner.invoke(args=["people", "import", "NT-LB", str(roster), "--kind", "staff"])
    assert refused.exit_code == 1
    assert "refused" in refused.output and "Thiếu họ và tên" in refused.output
    roster.write_text("Họ và tên,Tên đăng nhập\nNgô Thị Hà,hant\n", encoding="utf-8")
    applied = runner.invoke(args=["people", "import", "NT-LB", str(roster), "--kind", "staff"])
    assert applied.exit_code == 0, applied.output
    assert "applied: 1 accepted" in applied.output
    invited = runner.invoke(args=["people", "invite", "hant"])
    assert invited.output.startswith("http://localhost:5000/enrol/")
    unlocked = runner.invoke(args=["auth", "unlock", "hant"])
    assert "nothing" in unlocked.output
    assert runner.invoke(args=["auth", "unlock", "nobody"]).exit_code != 0
    assert "0 session(s) ended" in runner.invoke(args=["auth", "sign-out", "hant"]).output
