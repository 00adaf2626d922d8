"""Signet as a CSC server: pyHanko's CSCSigner as a real client, sole control through the phone, refusals.

The acceptance test serves the app with a real HTTP server (CSCSigner speaks aiohttp), and approves on
the teacher's behalf through the PWA's API with a software WebAuthn authenticator.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server

from app import db
from app.audit.models import AuditEvent
from app.auth import clients
from app.auth.models import Passkey
from app.keys import service as keys
from app.keys.models import Credential
from app.people import rules as roles
from app.people.models import Person
from app.signing.pdf import verify_pdf
from app.tenants.models import Organisation
from tests.support.clock import FrozenClock
from tests.support.factories import make_person, make_school, sign_in
from tests.support.webauthn import SoftAuthenticator, StoredCredential, b64url

pytestmark = pytest.mark.hsm

PDFS = Path(__file__).resolve().parents[1] / "fixtures" / "pdfs"
SHA256 = "2.16.840.1.101.3.4.2.1"
SHA256_RSA = "1.2.840.113549.1.1.11"


@dataclass
class Signer:
    person: Person
    authenticator: SoftAuthenticator
    credential_id: str


@dataclass
class World:
    app: Flask
    school: Organisation
    teacher: Signer
    token: str
    client_id: str
    client_secret: str

    def bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}


def enrol_passkey(person: Person) -> SoftAuthenticator:
    """A passkey registered for ``person`` (as the enrolment ceremony would have stored it)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    authenticator = SoftAuthenticator()
    key = ec.generate_private_key(ec.SECP256R1())
    stored = StoredCredential(
        hashlib.sha256(person.id.encode()).digest(), key, "localhost", base64.urlsafe_b64decode("AAAA")
    )
    authenticator.credentials.append(stored)
    with db.transaction() as s:
        s.add(
            Passkey(
                person_id=person.id,
                tenant_id=person.tenant_id,
                credential_id=b64url(stored.credential_id),
                public_key=authenticator._cose_key(key),
                sign_count=0,
                name="Điện thoại",
            )
        )
    return authenticator


def make_signer(school: Organisation, name: str, role: str = roles.TEACHER) -> Signer:
    person = make_person(school, name=name, roles=(role,))
    credential = keys.create_credential(
        owner_kind="person",
        owner_name=name,
        owner_id=person.id,
        tenant_id=school.id,
        organisation=school.name,
    )
    return Signer(person, enrol_passkey(person), credential.id)


def new_token(client: FlaskClient, client_id: str, secret: str, version: int = 1) -> str:
    response = client.post(
        f"/csc/v{version}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.get_json()
    token: str = response.get_json()["access_token"]
    return token


@pytest.fixture
def world(app: Flask) -> World:
    school = make_school("Trường Tiểu học Ngọc Thụy", "NT-CSC")
    teacher = make_signer(school, "Nguyễn Thị Hồng Vân")
    admin = make_person(school, roles=(roles.SCHOOL_ADMIN,))
    created = clients.create_client(
        tenant_id=school.id, actor_id=admin.id, name="Phần mềm ký", scopes=["signing:read"]
    )
    token = new_token(app.test_client(), created.client_id, created.client_secret)
    return World(app, school, teacher, token, created.client_id, created.client_secret)


def approve_as(
    app: Flask, signer: Signer, *, wait: float = 20.0, stop: threading.Event | None = None
) -> dict[str, Any]:
    """The signer opens the PWA inbox, checks the request and approves it with the passkey."""
    pwa = sign_in(app, signer.person)
    deadline = time.monotonic() + wait
    while True:
        # the test client's requests share this thread's app context, so its database session too: end
        # its read transaction, or SQLite keeps showing the snapshot of the first poll (a phone's
        # requests each get a fresh one)
        db.session().commit()
        inbox = pwa.get("/api/v1/csc/approvals")
        # ... and end it again before waiting: on SQLite every transaction begins IMMEDIATE, so a poll
        # left open held the write lock through the sleep, and the client's authorize call, queued
        # behind it, ran out of busy timeout ("database is locked": the test's flake on CI)
        db.session().commit()
        assert inbox.status_code == 200, inbox.get_json()
        if inbox.get_json():
            break
        assert time.monotonic() < deadline, "no signing request reached the inbox"
        if stop is not None and stop.wait(0.05):
            return {}
        time.sleep(0.05)
    request_ = inbox.get_json()[0]
    options = pwa.post(f"/api/v1/csc/approvals/{request_['id']}/options")
    assert options.status_code == 200, options.get_json()
    assertion = signer.authenticator.get(options.get_json()["publicKey"])
    approved = pwa.post(f"/api/v1/csc/approvals/{request_['id']}/approve", json={"credential": assertion})
    assert approved.status_code == 200, approved.get_json()
    body: dict[str, Any] = approved.get_json()
    return body


def audit(action: str) -> list[AuditEvent]:
    return list(
        db.session().scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
    )


def off_loop(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run PDF work in a thread of its own: the e2e fixtures (playwright) leave an event loop running
    in the test runner's thread, and pyHanko's sync wrappers cannot start one inside it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args, **kwargs).result(timeout=120)


# ------------------------------------------------------------------------------ acceptance: pyHanko


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_pyhanko_csc_signer_signs_three_pdfs_in_one_batch(app: Flask, world: World, live_server: str) -> None:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.signers import csc_signer

    # the client prepares three PDFs before it asks to authorise: on a loaded 2-core CI machine that
    # took just over 20 s once, and the phone had stopped looking for the request (a test timing, not
    # a product one: the phone and the held call both wait long enough now)
    app.config["CSC_V1_AUTHORIZE_WAIT_SECONDS"] = 90
    calls: list[int] = []

    class PhoneApproval(csc_signer.CSCAuthorizationManager):
        """Asks for a SAD bound to the batch's hashes; Signet holds the call until the phone approves."""

        def __init__(self, session: aiohttp.ClientSession, *args: Any) -> None:
            super().__init__(*args)
            self.session = session

        async def authorize_signature(self, hash_b64s: list[str]) -> csc_signer.CSCAuthorizationInfo:
            calls.append(len(hash_b64s))
            body = self.format_csc_auth_request(hash_b64s=hash_b64s, pin="1234", description="3 học bạ")
            url = self.csc_session_info.endpoint_url("credentials/authorize")
            async with self.session.post(
                url, json=body, headers=self.auth_headers, raise_for_status=True
            ) as r:
                return self.parse_csc_auth_response(await r.json())

    documents = [
        (PDFS / name).read_bytes()
        for name in ("transcript_reportlab.pdf", "transcript_objstreams.pdf", "transcript_ghostscript.pdf")
    ]

    async def sign_three() -> list[bytes]:
        info = csc_signer.CSCServiceSessionInfo(
            live_server, world.teacher.credential_id, oauth_token=world.token
        )
        async with aiohttp.ClientSession() as session:
            credential = await csc_signer.fetch_certs_in_csc_credential(session, info)
            assert credential.hash_pinning_required and credential.max_batch_size >= 3
            manager = PhoneApproval(session, info, credential)
            signer = csc_signer.CSCSigner(session, manager, batch_size=3, est_raw_signature_size=256)

            async def sign(pdf: bytes, n: int) -> bytes:
                meta = signers.PdfSignatureMetadata(
                    field_name=f"GVCN{n}", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
                )
                out = await signers.PdfSigner(meta, signer=signer).async_sign_pdf(
                    IncrementalPdfFileWriter(BytesIO(pdf))
                )
                return bytes(out.getvalue())

            return list(await asyncio.gather(*(sign(pdf, n) for n, pdf in enumerate(documents))))

    approval: dict[str, Any] = {}
    stop = threading.Event()

    phone_errors: list[BaseException] = []

    def approve_on_the_phone() -> None:
        try:
            with app.app_context():
                approval.update(approve_as(app, world.teacher, wait=90.0, stop=stop))
        except BaseException as exc:  # the test fails with it, not with the client's 403
            phone_errors.append(exc)

    def sign_on_the_client() -> list[bytes]:
        return asyncio.run(sign_three())

    approver = threading.Thread(target=approve_on_the_phone, daemon=True)
    approver.start()
    try:
        signed = off_loop(sign_on_the_client)
    except Exception as exc:  # the client's error hides the cause when the phone's side failed first
        stop.set()
        approver.join(timeout=30)
        raise AssertionError(f"signing failed; the phone's side said: {phone_errors!r}") from exc
    finally:
        stop.set()
        approver.join(timeout=30)

    assert not phone_errors, phone_errors
    assert calls == [3]  # one authorize, bound to the three hashes
    assert approval["status"] == "approved" and approval["num_signatures"] == 3
    for pdf in signed:
        report = off_loop(verify_pdf, pdf, trust_roots=keys.trust_roots())
        assert report.valid, report.to_dict()
        assert report.signatures[-1].signer == "Nguyễn Thị Hồng Vân"
    authorize = audit("csc.authorize")
    assert [e.outcome for e in authorize] == ["pending", "success"]
    assert authorize[0].details["caller_secrets_ignored"] is True  # a PIN from the software decides nothing
    sign_hash = [e for e in audit("csc.sign_hash") if e.outcome == "success"]
    assert len(sign_hash) == 1 and sign_hash[0].details["count"] == 3  # one signHash with 3 hashes


# ------------------------------------------------------------------------------ v2 flow and refusals


def hashes(*labels: str) -> list[str]:
    return [base64.b64encode(hashlib.sha256(label.encode()).digest()).decode() for label in labels]


def authorize_v2(
    client: FlaskClient, world: World, values: list[str], *, credential_id: str | None = None
) -> str:
    response = client.post(
        "/csc/v2/credentials/authorize",
        headers=world.bearer(),
        json={
            "credentialID": credential_id or world.teacher.credential_id,
            "numSignatures": len(values),
            "hashes": values,
            "hashAlgorithmOID": SHA256,
        },
    )
    assert response.status_code == 202, response.get_json()
    handle: str = response.get_json()["handle"]
    return handle


def check(client: FlaskClient, world: World, handle: str) -> Any:
    return client.post("/csc/v2/credentials/authorizeCheck", headers=world.bearer(), json={"handle": handle})


def sad_for(app: Flask, world: World, values: list[str], signer: Signer | None = None) -> str:
    client = app.test_client()
    signer = signer or world.teacher
    handle = authorize_v2(client, world, values, credential_id=signer.credential_id)
    assert check(client, world, handle).status_code == 202  # waiting for the phone
    approve_as(app, signer)
    response = check(client, world, handle)
    assert response.status_code == 200, response.get_json()
    sad: str = response.get_json()["SAD"]
    return sad


def sign_hash(
    client: FlaskClient, world: World, sad: str, values: list[str], credential_id: str | None = None
) -> Any:
    return client.post(
        "/csc/v2/signatures/signHash",
        headers=world.bearer(),
        json={
            "credentialID": credential_id or world.teacher.credential_id,
            "SAD": sad,
            "hashes": values,
            "hashAlgorithmOID": SHA256,
            "signAlgo": SHA256_RSA,
        },
    )


def csc_error(response: Any, status: int, error: str = "invalid_request") -> str:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    description: str = body["error_description"]
    return description


def test_credentials_info_speaks_csc(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/csc/v1/credentials/info",
        headers=world.bearer(),
        json={
            "credentialID": world.teacher.credential_id,
            "certificates": "chain",
            "certInfo": True,
            "lang": "vi",
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (
        SHA256_RSA in body["key"]["algo"]
        and body["key"]["len"] == 2048
        and body["key"]["status"] == "enabled"
    )
    assert body["SCAL"] == "2" and body["multisign"] >= 3
    certs = [base64.b64decode(c) for c in body["cert"]["certificates"]]
    credential = db.session().get(Credential, world.teacher.credential_id)
    assert credential is not None and certs[0] == credential.certificate_der and len(certs) == 2
    listed = client.post("/csc/v2/credentials/list", headers=world.bearer(), json={}).get_json()
    assert world.teacher.credential_id in listed["credentialIDs"]


def test_v2_flow_the_sad_signs_exactly_its_hashes_once(app: Flask, client: FlaskClient, world: World) -> None:
    values = hashes("a", "b")
    sad = sad_for(app, world, values)
    wrong = sign_hash(client, world, sad, hashes("not approved"))
    assert "not covered" in csc_error(wrong, 400)
    ok = sign_hash(client, world, sad, values)
    assert ok.status_code == 200 and len(ok.get_json()["signatures"]) == 2
    again = sign_hash(client, world, sad, values[:1])
    assert "every signature" in csc_error(again, 400)  # SAD reused


def test_the_sad_is_handed_out_once_and_stored_as_a_hash(
    app: Flask, client: FlaskClient, world: World
) -> None:
    from app.csc.models import CscAuthorization

    values = hashes("x")
    handle = authorize_v2(client, world, values)
    approve_as(app, world.teacher)
    sad = check(client, world, handle).get_json()["SAD"]
    csc_error(check(client, world, handle), 400)
    row = db.session().get(CscAuthorization, handle)
    assert row is not None and row.sad_hash and sad not in (row.sad_hash, str(row.details))


def test_an_expired_sad_is_refused(app: Flask, client: FlaskClient, world: World) -> None:
    clock = FrozenClock()
    app.extensions["signet.clock"] = clock
    world.token = new_token(client, world.client_id, world.client_secret)
    values = hashes("late")
    sad = sad_for(app, world, values)
    clock.advance(seconds=301)
    assert "expired" in csc_error(sign_hash(client, world, sad, values), 400).lower()


def test_too_many_signatures_are_refused(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["CSC_MULTISIGN"] = 2
    response = client.post(
        "/csc/v1/credentials/authorize",
        headers=world.bearer(),
        json={"credentialID": world.teacher.credential_id, "numSignatures": 3, "hash": hashes("1", "2", "3")},
    )
    assert "multisign" in csc_error(response, 400)
    info = client.post(
        "/csc/v1/credentials/info", headers=world.bearer(), json={"credentialID": world.teacher.credential_id}
    )
    assert info.get_json()["multisign"] == 2


def test_a_credential_of_another_school_does_not_exist_for_the_caller(
    client: FlaskClient, world: World
) -> None:
    other = make_school("Trường Tiểu học Gia Thụy", "GT-CSC")
    theirs = make_signer(other, "Lê Văn Khác")
    for endpoint, body in (
        ("credentials/info", {"credentialID": theirs.credential_id}),
        (
            "credentials/authorize",
            {"credentialID": theirs.credential_id, "numSignatures": 1, "hash": hashes("h")},
        ),
    ):
        response = client.post(f"/csc/v1/{endpoint}", headers=world.bearer(), json=body)
        assert "credentialID" in csc_error(response, 400)
    listed = client.post("/csc/v1/credentials/list", headers=world.bearer(), json={}).get_json()
    assert theirs.credential_id not in listed["credentialIDs"]


def test_a_suspended_credential_cannot_be_authorised_or_used(
    app: Flask, client: FlaskClient, world: World
) -> None:
    values = hashes("s")
    sad = sad_for(app, world, values)
    with db.transaction() as s:
        row = s.get(Credential, world.teacher.credential_id)
        assert row is not None
        row.status = "suspended"
    assert "not enabled" in csc_error(sign_hash(client, world, sad, values), 400)
    response = client.post(
        "/csc/v2/credentials/authorize",
        headers=world.bearer(),
        json={"credentialID": world.teacher.credential_id, "hashes": hashes("t")},
    )
    assert "not enabled" in csc_error(response, 400)


def test_missing_or_expired_tokens_are_refused(app: Flask, client: FlaskClient, world: World) -> None:
    body = {"credentialID": world.teacher.credential_id}
    assert client.post("/csc/v1/credentials/info", json=body).status_code == 401
    csc_error(client.post("/csc/v1/credentials/info", json=body), 401, "invalid_token")
    csc_error(
        client.post("/csc/v1/credentials/info", json=body, headers=world.bearer("sgt_nope")),
        401,
        "invalid_token",
    )
    clock = FrozenClock()
    app.extensions["signet.clock"] = clock
    token = new_token(client, world.client_id, world.client_secret)
    assert client.post("/csc/v1/credentials/info", json=body, headers=world.bearer(token)).status_code == 200
    clock.advance(minutes=16)
    csc_error(
        client.post("/csc/v1/credentials/info", json=body, headers=world.bearer(token)), 401, "invalid_token"
    )
    csc_error(
        client.post("/csc/v1/oauth2/token", data={"grant_type": "client_credentials"}), 401, "invalid_client"
    )


def test_a_pin_from_the_software_is_not_consent(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/csc/v2/credentials/authorize",
        headers=world.bearer(),
        json={
            "credentialID": world.teacher.credential_id,
            "hashes": hashes("p"),
            "PIN": "123456",
            "OTP": "000000",
        },
    )
    assert response.status_code == 202
    assert check(client, world, response.get_json()["handle"]).status_code == 202


def test_a_v1_client_waits_then_is_refused_when_nobody_approves(
    app: Flask, client: FlaskClient, world: World
) -> None:
    app.config["CSC_V1_AUTHORIZE_WAIT_SECONDS"] = 0.3
    response = client.post(
        "/csc/v1/credentials/authorize",
        headers=world.bearer(),
        json={"credentialID": world.teacher.credential_id, "numSignatures": 1, "hash": hashes("w")},
    )
    assert "did not approve" in csc_error(response, 403, "access_denied")
    assert sign_in(app, world.teacher.person).get("/api/v1/csc/approvals").get_json() == []


def test_a_rejected_request_yields_access_denied(app: Flask, client: FlaskClient, world: World) -> None:
    handle = authorize_v2(client, world, hashes("r"))
    pwa = sign_in(app, world.teacher.person)
    assert pwa.post(f"/api/v1/csc/approvals/{handle}/reject").status_code == 200
    csc_error(check(client, world, handle), 403, "access_denied")


def test_only_the_owner_can_approve_and_a_failed_assertion_changes_nothing(
    app: Flask, client: FlaskClient, world: World
) -> None:
    colleague = make_signer(world.school, "Trần Văn Đồng Nghiệp")
    handle = authorize_v2(client, world, hashes("o"))
    other_pwa = sign_in(app, colleague.person)
    assert other_pwa.get("/api/v1/csc/approvals").get_json() == []
    assert other_pwa.post(f"/api/v1/csc/approvals/{handle}/options").status_code == 404
    pwa = sign_in(app, world.teacher.person)
    options = pwa.post(f"/api/v1/csc/approvals/{handle}/options").get_json()["publicKey"]
    forged = colleague.authenticator.get(options)  # a valid assertion, but not the owner's passkey
    assert pwa.post(f"/api/v1/csc/approvals/{handle}/approve", json={"credential": forged}).status_code == 401
    assert check(client, world, handle).status_code == 202
    stale = world.teacher.authenticator.get(options)  # the old challenge was spent by the failure
    assert pwa.post(f"/api/v1/csc/approvals/{handle}/approve", json={"credential": stale}).status_code == 401
    approve_as(app, world.teacher)
    assert check(client, world, handle).status_code == 200


def test_the_sad_is_bound_to_its_credential(app: Flask, client: FlaskClient, world: World) -> None:
    colleague = make_signer(world.school, "Phạm Thị Thu")
    values = hashes("bound")
    sad = sad_for(app, world, values)
    assert "another credential" in csc_error(
        sign_hash(client, world, sad, values, colleague.credential_id), 400
    )


def test_the_school_seal_needs_the_principals_approval(app: Flask, client: FlaskClient, world: World) -> None:
    principal = make_signer(world.school, "Hiệu trưởng Võ Thị Sáu", role=roles.PRINCIPAL)
    seal = keys.create_credential(
        owner_kind="organisation",
        owner_name=world.school.name,
        tenant_id=world.school.id,
        purpose="seal",
        organisation=world.school.name,
    )
    handle = authorize_v2(client, world, hashes("seal"), credential_id=seal.id)
    assert (
        sign_in(app, world.teacher.person).post(f"/api/v1/csc/approvals/{handle}/options").status_code == 404
    )
    approve_as(app, principal)
    response = check(client, world, handle)
    assert response.status_code == 200
    signed = sign_hash(client, world, response.get_json()["SAD"], hashes("seal"), seal.id)
    assert signed.status_code == 200, signed.get_json()


def test_extend_transaction_rotates_the_sad(app: Flask, client: FlaskClient, world: World) -> None:
    values = hashes("e1", "e2")
    sad = sad_for(app, world, values)
    assert sign_hash(client, world, sad, values[:1]).status_code == 200
    extended = client.post(
        "/csc/v1/credentials/extendTransaction",
        headers=world.bearer(),
        json={"credentialID": world.teacher.credential_id, "SAD": sad},
    )
    assert extended.status_code == 200, extended.get_json()
    new = extended.get_json()["SAD"]
    csc_error(sign_hash(client, world, sad, values[1:]), 400)  # the old SAD died
    assert sign_hash(client, world, new, values[1:]).status_code == 200


def test_timestamp_returns_a_token_over_the_hash(client: FlaskClient, world: World) -> None:
    from asn1crypto import cms, tsp

    digest = hashlib.sha256(b"document").digest()
    response = client.post(
        "/csc/v1/signatures/timestamp",
        headers=world.bearer(),
        json={"hash": base64.b64encode(digest).decode(), "hashAlgo": SHA256, "nonce": "1f"},
    )
    assert response.status_code == 200, response.get_json()
    token = cms.ContentInfo.load(base64.b64decode(response.get_json()["timestamp"]))
    info = tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].parsed.dump())
    assert info["message_imprint"]["hashed_message"].native == digest and info["nonce"].native == 31


def test_csc_errors_keep_the_csc_shape(client: FlaskClient, world: World) -> None:
    response = client.post("/csc/v1/credentials/authorize", headers=world.bearer(), json={"numSignatures": 1})
    assert "credentialID" in csc_error(response, 400)
    info = client.post("/csc/v2/info", json={})
    assert info.status_code == 200 and "credentials/authorizeCheck" in info.get_json()["methods"]
