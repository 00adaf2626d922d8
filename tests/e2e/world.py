"""Seeding for the workflow screens: a school with a class, its homeroom teacher, principal, deputy,
clerk and seal, transcripts uploaded by the clerk, browser sessions and passkeys for any of them."""

from __future__ import annotations

import base64
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from playwright.sync_api import BrowserContext, Page

from app import db
from app.auth import sessions
from app.auth.clock import now
from app.auth.models import Passkey
from app.people import rules
from app.people.models import Person, SchoolClass
from app.tenants.models import Organisation
from tests.e2e.conftest import SCREENS, Authenticator
from tests.support.factories import SignedInClient, make_class, make_person, make_school, sign_in
from tests.support.webauthn import SoftAuthenticator, b64url
from tests.support.workflow_world import make_credential, settle, transcript_pdf

SCHOOL = "Trường Tiểu học Ngọc Thụy"
TEACHER = "Nguyễn Thị Hồng Vân"
PRINCIPAL = "Trần Văn Bình"
DEPUTY = "Phạm Thu Hà"
CLERK = "Lê Thị Văn Thư"


@dataclass
class School:
    org: Organisation
    klass: SchoolClass
    clerk: Person
    teacher: Person
    principal: Person
    deputy: Person


def build_school(class_name: str = "3A", *, teacher_username: str = "vannth") -> School:
    """Everyone has a signing key in the HSM; nobody has a passkey yet (enrolment or ``add_passkey``)."""
    org = make_school(SCHOOL, "NT-LB")
    klass = make_class(org, class_name, "2024-2025")
    clerk = make_person(org, name=CLERK, username="thuvtl", roles=(rules.CLERK,))
    teacher = make_person(
        org, name=TEACHER, username=teacher_username, roles=(rules.TEACHER,), homeroom=klass
    )
    head = make_person(org, name=PRINCIPAL, username="binhtv", roles=(rules.PRINCIPAL,))
    deputy = make_person(org, name=DEPUTY, username="hapt", roles=(rules.VICE_PRINCIPAL,))
    make_credential(org, seal=True)
    for person in (teacher, head, deputy):
        make_credential(person)
    from app.keys.tsa import ensure_dev_tsa

    ensure_dev_tsa()
    return School(org, klass, clerk, teacher, head, deputy)


def upload(app: Flask, school: School, n: int, *, start: int = 1, pages: int = 1) -> list[str]:
    """The clerk uploads ``n`` transcripts of the class (PDFs + CSV manifest), as the API does."""
    clerk = sign_in(app, school.clerk)
    files = [
        (io.BytesIO(transcript_pdf(f"Hoc sinh {i}", f"HS{i:05d}", pages)), f"hs{i:05d}.pdf")
        for i in range(start, start + n)
    ]
    manifest = "file,student_code,student_name,class,school_year\n" + "".join(
        f"hs{i:05d}.pdf,HS{i:05d},Học sinh {i:03d},{school.klass.name},{school.klass.school_year}\n"
        for i in range(start, start + n)
    )
    response = clerk.post(
        "/api/v1/documents",
        data={"files": files, "manifest": (io.BytesIO(manifest.encode()), "manifest.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["created"] == n, body
    return [f["document_id"] for f in body["files"]]


def approve_by_api(app: Flask, person: Person, origin: str, selection: dict[str, Any]) -> dict[str, Any]:
    """Someone approves outside the browser (a software passkey registered out of band).

    Runs in a thread of its own: with eager tasks the call signs, and pyHanko's timestamping runs
    ``asyncio.run``, which refuses to start inside Playwright's event loop (the test's thread).
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_approve_by_api, app, person, origin, selection).result()


def _approve_by_api(app: Flask, person: Person, origin: str, selection: dict[str, Any]) -> dict[str, Any]:
    with app.app_context():
        return _approve(app, person, origin, selection)


def api_signer(app: Flask, person: Person, origin: str) -> tuple[SignedInClient, SoftAuthenticator]:
    """``person`` signed in outside the browser, with a software passkey registered out of band."""
    from tests.support.webauthn import StoredCredential

    soft = SoftAuthenticator(origin=origin)
    key = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(32)
    soft.credentials.append(StoredCredential(credential_id, key, "localhost", b"\x01" * 32, 0, False))
    _store_passkey(person, credential_id, soft._cose_key(key))
    return sign_in(app, person), soft


def subscribe(school: School, *, included: int, code: str, name: str = "Gói trường") -> None:
    """The school pays for a plan of ``included`` signatures, in force since two months ago."""
    from app.billing import service as billing

    plan = billing.create_plan(
        actor_id=None, code=code, name=name, scope="school", included_signatures=included, price_vnd=6_000_000
    )
    billing.create_subscription(
        actor_id=None,
        organisation_id=school.org.id,
        plan_id=plan.id,
        period_start=date.today() - timedelta(days=60),
        period_end=date.today() + timedelta(days=300),
        status="active",
    )


def _approve(app: Flask, person: Person, origin: str, selection: dict[str, Any]) -> dict[str, Any]:
    client, soft = api_signer(app, person, origin)
    created = client.post("/api/v1/approvals", json=selection)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    done = client.post(
        f"/api/v1/approvals/{body['id']}/passkey", json={"credential": soft.get(body["publicKey"])}
    )
    assert done.status_code == 202, done.get_json()
    result: dict[str, Any] = done.get_json()
    settle()  # the broker run: the worker beside the live server signs; wait as the test did inline
    return result


def _store_passkey(person: Person, credential_id: bytes, cose_key: bytes) -> None:
    with db.transaction() as s:
        s.add(
            Passkey(
                person_id=person.id,
                tenant_id=person.tenant_id,
                credential_id=b64url(credential_id),
                public_key=cose_key,
                sign_count=0,
                name="Android · Chrome",
            )
        )


def browser_passkey(authenticator: Authenticator, person: Person) -> None:
    """A passkey of ``person`` inside the page's virtual authenticator, known to the server."""
    key = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(32)
    _store_passkey(person, credential_id, SoftAuthenticator()._cose_key(key))
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    authenticator.cdp.send(
        "WebAuthn.addCredential",
        {
            "authenticatorId": authenticator.id,
            "credential": {
                "credentialId": base64.b64encode(credential_id).decode(),
                "isResidentCredential": False,
                "rpId": "localhost",
                "privateKey": base64.b64encode(pkcs8).decode(),
                "signCount": 0,
            },
        },
    )


def browser_session(app: Flask, context: BrowserContext, url: str, person: Person) -> None:
    """The browser holds a live session of ``person`` (as if they had signed in with their passkey)."""
    settings = app.extensions["signet.settings"]
    with db.transaction() as s:
        issued = sessions.issue(s, settings, person=person, method="passkey", user_agent="e2e", now=now())
    context.add_cookies(
        [
            {"name": sessions.SESSION_COOKIE, "value": issued.token, "url": url},
            {"name": sessions.CSRF_COOKIE, "value": issued.csrf_token, "url": url},
        ]
    )


def shoot(page: Page, name: str) -> None:
    """A screenshot of a page other than the test's own ``page`` (a second person's browser)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)
