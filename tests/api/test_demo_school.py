"""The school ``make run`` seeds can sign: a clerk uploads, the homeroom teacher and the principal
approve with their passkeys, the seal follows, and the signatures are metered on the district's
trial (a demo that could not sign, or signed unmetered, would be the first thing a school sees)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from app import db
from app.billing.models import Subscription
from app.keys.models import Credential
from app.people.models import Person
from app.tenants.models import Organisation
from tests.support.factories import sign_in
from tests.support.workflow_world import Signer, World, add_passkey, make_credential

pytestmark = pytest.mark.hsm


def _person(username: str) -> Person:
    return db.session().execute(select(Person).where(Person.username == username)).scalar_one()


def test_the_demo_school_signs_on_its_district_trial(app: Flask, task_worker: object) -> None:
    seeded = app.test_cli_runner().invoke(args=["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    school = db.session().execute(select(Organisation).where(Organisation.code == "NT-LB")).scalar_one()
    signers = []
    for username in ("hoalt", "huongntt"):  # the homeroom teacher of 1A, the principal
        person = _person(username)
        make_credential(person)  # what enrolment creates
        signer = Signer(person, sign_in(app, person), settle=True)
        add_passkey(person, signer.authenticator)
        signers.append(signer)
    teacher, principal = signers
    klass = next(r.school_class for r in teacher.person.roles if r.school_class is not None)
    clerk = sign_in(app, _person("maipt"))
    seal = (
        db.session()
        .execute(select(Credential).where(Credential.tenant_id == school.id, Credential.purpose == "seal"))
        .scalar_one()
    )
    world = World(school, klass, clerk, teacher, principal, principal, seal)

    ids = world.upload(3)
    teacher.approve({"document_ids": ids})
    principal.approve({"document_ids": ids})

    for doc_id in ids:
        body = clerk.get(f"/api/v1/documents/{doc_id}").get_json()
        assert (body["status"], body["signature_count"]) == ("completed", 3), body
    s = db.session()
    s.expire_all()
    (trial,) = s.scalars(select(Subscription).where(Subscription.organisation_id == school.parent_id)).all()
    assert trial.used_signatures == 9  # three transcripts, three signatures each
