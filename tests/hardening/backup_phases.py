"""The two halves of the backup/restore test, each run as its own process on its own installation
(``SIGNET_VAR_DIR``, ``DATABASE_URL``; SoftHSM reads its configuration once per process).

``python -m tests.hardening.backup_phases sign``   the old machine: a transcript signed through the
                                                    whole chain; prints its id and file hash (JSON)
``python -m tests.hardening.backup_phases check ID`` the restored machine: the old transcript verifies
                                                    and downloads intact; a new school signs a new one
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import sys
import time

from app import create_app
from app.db import session
from app.documents.models import Document
from app.migrate import upgrade
from app.settings import Settings


def _status(ids: list[str]) -> set[tuple[str, int]]:
    session().expire_all()
    found = {(d.status, d.step) for d in session().query(Document).filter(Document.id.in_(ids))}
    session().commit()
    return found


def _through_the_chain(world: object, ids: list[str]) -> None:
    world.teacher.approve({"document_ids": ids})  # type: ignore[attr-defined]
    world.principal.approve({"document_ids": ids})  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while _status(ids) != {("completed", 0)}:
        assert time.monotonic() < deadline, _status(ids)
        time.sleep(0.2)


def main(argv: list[str]) -> dict[str, object]:
    from tests.support import factories
    from tests.support.workflow_world import build_world

    settings = Settings.from_env()
    if argv[0] == "sign":
        upgrade(settings.database_url)
    app = create_app(settings)
    with app.app_context():
        if argv[0] == "sign":
            world = build_world(app)
            ids = world.upload(1)
            _through_the_chain(world, ids)
            data = world.clerk.get(f"/api/v1/documents/{ids[0]}/file").data
            return {"document_id": ids[0], "sha256": hashlib.sha256(data).hexdigest()}

        old_id = argv[1]
        factories._seq = itertools.count(10_000)  # the restored database already has the first rows
        world = build_world(app)
        doc = session().get(Document, old_id)
        assert doc is not None, "the signed transcript is not in the restored database"
        session().commit()
        from app.documents.storage import get_store

        data = get_store().get(doc.storage_key)
        verdict = app.test_client().post(
            "/api/v1/verify",
            data={"file": (io.BytesIO(data), "hoc-ba.pdf")},
            content_type="multipart/form-data",
        )
        ids = world.upload(1, start=500)
        _through_the_chain(world, ids)
        new = session().get(Document, ids[0])
        assert new is not None
        new_verdict = app.test_client().post(
            "/api/v1/verify",
            data={"file": (io.BytesIO(get_store().get(new.storage_key)), "moi.pdf")},
            content_type="multipart/form-data",
        )
        return {
            "old_sha256": hashlib.sha256(data).hexdigest(),
            "old_verdict": verdict.get_json()["verdict"]["code"],
            "new_status": [new.status, new.signature_count],
            "new_verdict": new_verdict.get_json()["verdict"]["code"],
        }


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1:])))
