"""A school ready to sign transcripts: class, homeroom teacher, principal, deputy, seal, passkeys.

Used by the workflow tests (SQLite + eager tasks, or PostgreSQL + Redis with a real worker).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from reportlab.pdfgen import canvas

from app import db
from app.auth.models import Passkey
from app.keys.hsm import KeyAlgorithm
from app.keys.models import Credential
from app.people import rules
from app.people.models import Person, SchoolClass
from app.tenants.models import Organisation
from tests.support.factories import SignedInClient, make_class, make_person, make_school, sign_in
from tests.support.webauthn import SoftAuthenticator, StoredCredential, b64url


def transcript_pdf(student: str, code: str, pages: int = 1) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pageCompression=1)
    for n in range(pages):
        c.drawString(72, 760, f"HOC BA - {code} - page {n + 1}")
        c.drawString(72, 740, student.encode("ascii", "replace").decode())
        c.showPage()
    c.save()
    return buf.getvalue()


def sign_in_turn(data: bytes, signers: list[tuple[Any, Any]], *, reasons: bool = False) -> bytes:
    """``data`` signed at B-T by each (material, stamp or None) in turn, as the chain signs a
    transcript: the real token and the development TSA, each stamp in its box of the transcript."""
    from app.keys.provider import get_hsm
    from app.keys.service import tsa_respond
    from app.signing.pdf import sign_pdf
    from app.signing.reports import Level
    from app.signing.stamps import placement_for

    for step, (material, stamp) in enumerate(signers):
        data = sign_pdf(
            data,
            material=material,
            hsm=get_hsm(),
            level=Level.BT,
            tsa=tsa_respond,
            stamp=stamp,
            placement=placement_for("transcript", step),
            reason=f"bước {step + 1}" if reasons else None,
        )
    return data


def add_passkey(
    person: Person, authenticator: SoftAuthenticator, rp_id: str = "localhost"
) -> StoredCredential:
    """Register a passkey straight into the table (enrolment is tested by the auth suite)."""
    import os

    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    stored = StoredCredential(os.urandom(32), key, rp_id, b"\x01" * 32, 0, False)
    authenticator.credentials.append(stored)
    with db.transaction() as s:
        s.add(
            Passkey(
                person_id=person.id,
                tenant_id=person.tenant_id,
                credential_id=b64url(stored.credential_id),
                public_key=authenticator._cose_key(key),
                sign_count=0,
                name="test",
            )
        )
    return stored


def make_credential(owner: Person | Organisation, *, seal: bool = False) -> Credential:
    from app.keys.service import create_credential, create_seal

    if seal:
        assert isinstance(owner, Organisation)
        return create_seal(
            organisation_id=owner.id, organisation_name=owner.name, algorithm=KeyAlgorithm.P256
        )
    assert isinstance(owner, Person)
    return create_credential(
        owner_kind="person",
        owner_name=owner.display_name,
        owner_id=owner.id,
        tenant_id=owner.tenant_id,
        algorithm=KeyAlgorithm.P256,
    )


def settle(timeout: float = 300) -> None:
    """Wait until the signing that approvals started is over (no document approved or signing).

    Inline (eager) tasks have finished before the request answers, so this returns at once; on the
    broker run a real worker (the ``task_worker`` fixture) does the work and this waits for it."""
    from flask import current_app

    from app.documents.models import Document
    from app.workflow.rules import Status
    from tests.conftest import wait_for

    if current_app.extensions["celery"].conf.task_always_eager:
        return

    def idle() -> bool:
        s = db.session()
        s.expire_all()
        busy = s.query(Document.id).filter(Document.status.in_([Status.APPROVED, Status.SIGNING])).first()
        s.commit()
        return busy is None

    wait_for(idle, timeout=timeout)


@dataclass
class Signer:
    person: Person
    client: SignedInClient
    authenticator: SoftAuthenticator = field(default_factory=SoftAuthenticator)
    settle: bool = False  # wait for the signing an approval starts (tests that read its result at once)

    def approve(self, selection: dict[str, Any], *, expect: int = 202) -> dict[str, Any]:
        created = self.client.post("/api/v1/approvals", json=selection)
        assert created.status_code == 201, created.get_json()
        body = created.get_json()
        assertion = self.authenticator.get(body["publicKey"])
        done = self.client.post(f"/api/v1/approvals/{body['id']}/passkey", json={"credential": assertion})
        assert done.status_code == expect, done.get_json()
        if self.settle and expect == 202:
            settle()
        result: dict[str, Any] = done.get_json()
        result["request"] = body
        return result


@dataclass
class World:
    school: Organisation
    klass: SchoolClass
    clerk: SignedInClient
    teacher: Signer
    principal: Signer
    deputy: Signer
    seal: Credential

    def upload(self, n: int, *, start: int = 1, klass: str | None = None) -> list[str]:
        files = [
            (io.BytesIO(transcript_pdf(f"Hoc sinh {i}", f"HS{i:05d}")), f"hs{i:05d}.pdf")
            for i in range(start, start + n)
        ]
        manifest = "file,student_code,student_name,class,school_year\n" + "".join(
            f"hs{i:05d}.pdf,HS{i:05d},Học sinh {i},{klass or self.klass.name},{self.klass.school_year}\n"
            for i in range(start, start + n)
        )
        response = self.clerk.post(
            "/api/v1/documents",
            data={"files": files, "manifest": (io.BytesIO(manifest.encode()), "manifest.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["created"] == n, body
        return [f["document_id"] for f in body["files"]]


def build_world(app: Flask, *, policy: dict[str, Any] | None = None, settle: bool = False) -> World:
    school = make_school("Trường Tiểu học Ngọc Thụy", policy=policy)
    klass = make_class(school, "5A", "2024-2025")
    clerk = make_person(school, name="Lê Thị Văn Thư", roles=(rules.CLERK,))
    teacher = make_person(school, name="Nguyễn Thị Hồng Vân", roles=(rules.TEACHER,), homeroom=klass)
    head = make_person(school, name="Trần Văn Bình", roles=(rules.PRINCIPAL,))
    deputy = make_person(school, name="Phạm Thu Hà", roles=(rules.VICE_PRINCIPAL,))
    seal = make_credential(school, seal=True)
    from app.keys.tsa import ensure_dev_tsa

    ensure_dev_tsa()  # as `make run` seeds it: worker processes then only read it
    signers = []
    for person in (teacher, head, deputy):
        make_credential(person)
        signer = Signer(person, sign_in(app, person), settle=settle)
        add_passkey(person, signer.authenticator)
        signers.append(signer)
    return World(school, klass, sign_in(app, clerk), signers[0], signers[1], signers[2], seal)


class WorkerProcess:
    """A real ``celery worker`` subprocess (prefork, like production) on the test settings."""

    def __init__(self, settings: Any, concurrency: int = 2) -> None:
        import os
        import subprocess
        import sys
        from pathlib import Path

        env = dict(os.environ)
        env.update(
            {
                "SIGNET_ENV": "test",
                "SIGNET_VAR_DIR": str(settings.var_dir),
                "DATABASE_URL": settings.database_url,
                "HSM_TOKEN_LABEL": settings.hsm_token_label,
                "HSM_USER_PIN": settings.hsm_user_pin or "",
                "CELERY_BROKER_URL": settings.celery_broker_url,
                "CELERY_QUEUE": settings.celery_queue,
                "CELERY_ALWAYS_EAGER": "false",
                "LOG_LEVEL": "WARNING",
                "PUBLIC_BASE_URL": settings.public_base_url,
            }
        )
        root = Path(__file__).resolve().parents[2]
        env["PYTHONPATH"] = str(root)  # this checkout, not whatever the venv's editable install points to
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "app.worker",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--loglevel=WARNING",
                "-Q",
                settings.celery_queue,
            ],
            cwd=root,
            env=env,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and its children), no goodbye."""
        import os
        import signal

        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        import contextlib
        import os
        import signal

        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except Exception:
                self.kill()
