"""``signatures/signHash`` with 100 hashes per call on one SoftHSM RSA-2048 key, through the CSC API.

Each call goes through the whole request path (Bearer token, JSON schema, SAD lookup and consumption
under a row lock, one ``Hsm.sign_digests`` call, audit) in the Flask test client; the SADs are
prepared beforehand (authorize → approval → authorizeCheck), outside the timing.  The figure is the
ratio to the raw one-process HSM rate of the same run (``bench_hsm``); target ≥ 0.60.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from typing import Any

from sqlalchemy import update

from tests.benchmarks.common import BenchContext, median

HASHES_PER_CALL = 100
CALLS = int(os.environ.get("BENCH_CSC_CALLS", "12"))
SHA256 = "2.16.840.1.101.3.4.2.1"
SHA256_RSA = "1.2.840.113549.1.1.11"


def _raw_rate(hsm: Any, key_id: str, seconds: float = 2.0) -> float:
    digest = hashlib.sha256(b"bench").digest()
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        hsm.sign_digest(key_id=key_id, digest=digest)
        count += 1
    return count / (time.perf_counter() - started)


def run(ctx: BenchContext) -> dict[str, float]:
    from app import create_app, db
    from app.auth import clients
    from app.csc import service
    from app.csc.models import AuthorizationStatus, CscAuthorization
    from app.keys import service as keys
    from app.keys.provider import get_hsm
    from app.people.models import Person, RoleAssignment
    from app.people.rules import TEACHER
    from app.tenants.models import SCHOOL, Organisation

    app = create_app(ctx.settings)
    with app.app_context():
        with db.transaction() as s:
            school = Organisation(kind=SCHOOL, code="BENCH-CSC", name="Trường Bench CSC", policy={})
            s.add(school)
            s.flush()
            person = Person(
                tenant_id=school.id,
                organisation_id=school.id,
                display_name="Giáo viên Bench",
                username="bench-csc",
                webauthn_user_id="bench-csc",
            )
            person.roles = [RoleAssignment(organisation_id=school.id, tenant_id=school.id, role=TEACHER)]
            s.add(person)
        credential = keys.create_credential(
            owner_kind="person", owner_name="Giáo viên Bench", owner_id=person.id, tenant_id=school.id
        )
        created = clients.create_client(
            tenant_id=school.id, actor_id=person.id, name="bench", scopes=["signing:read"]
        )
        token = service.issue_token(
            grant_type="client_credentials", client_id=created.client_id, client_secret=created.client_secret
        )["access_token"]
        caller = service.Caller(api_client_id=created.id, tenant_id=school.id)

        batches: list[tuple[str, list[str]]] = []
        for call in range(CALLS + 1):  # one warm-up call
            values = [
                base64.b64encode(hashlib.sha256(f"{call}/{i}".encode()).digest()).decode()
                for i in range(HASHES_PER_CALL)
            ]
            outcome = service.authorize(
                caller,
                credential_id=credential.id,
                num_signatures=HASHES_PER_CALL,
                hashes_b64=values,
                hash_oid=SHA256,
                description=None,
                secrets_offered=False,
                wait_seconds=0,
            )
            with db.transaction() as s:  # the teacher's passkey approval, outside the measurement
                s.execute(
                    update(CscAuthorization)
                    .where(CscAuthorization.id == outcome.handle)
                    .values(status=AuthorizationStatus.APPROVED, approved_by_id=person.id)
                )
            sad = service.authorize_check(caller, handle=outcome.handle).sad
            assert sad is not None
            batches.append((sad, values))

        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        durations: list[float] = []
        for n, (sad, values) in enumerate(batches):
            body = {
                "credentialID": credential.id,
                "SAD": sad,
                "hash": values,
                "hashAlgo": SHA256,
                "signAlgo": SHA256_RSA,
            }
            started = time.perf_counter()
            response = client.post("/csc/v1/signatures/signHash", json=body, headers=headers)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.get_json()
            assert len(response.get_json()["signatures"]) == HASHES_PER_CALL
            if n:  # skip the warm-up
                durations.append(elapsed)

        raw = ctx.figures.get("hsm.rsa2048.signs_per_s.1proc")
        if raw is None:  # BENCH_ONLY=csc: measure the raw rate here
            material = keys.signing_material(credential.id)
            raw = _raw_rate(get_hsm(), material.key_id)
    rate = HASHES_PER_CALL * len(durations) / sum(durations)
    return {
        "csc.signhash100.signs_per_s": rate,
        "csc.signhash100.call_ms.p50": 1000 * median(durations),
        "csc.signhash100.ratio_to_raw": rate / raw,
    }
