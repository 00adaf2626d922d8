"""The audit chain and its checkpoints find every kind of tampering and name the first broken record."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select, text, update

from app.audit.checkpoints import seal_credential, statement_bytes
from app.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEvent, AuditHead
from app.audit.service import chain_hash, record_event, verify_chain
from app.audit.tasks import CHECKPOINT_EVERY_SECONDS
from app.audit.tasks import checkpoint as checkpoint_task
from app.db import session, transaction
from tests.conftest import wait_for


def _write(n: int) -> None:
    for i in range(n):
        with transaction() as s:
            record_event(s, action="test.event", actor_id=None, tenant_id=None, details={"i": i})


def _verify(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_intact_chain_verifies(app: Flask) -> None:
    _write(5)
    code, output = _verify(app)
    assert code == 0, output
    assert "5 records" in output


def test_records_are_written_only_when_the_transaction_commits(app: Flask) -> None:
    with pytest.raises(RuntimeError), transaction() as s:
        record_event(s, action="never.happened", actor_id=None, tenant_id=None)
        raise RuntimeError("change failed")
    _write(1)
    actions = session().execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars().all()
    assert actions == ["test.event"]
    assert verify_chain(session()).ok


def test_edited_record_is_found(app: Flask) -> None:
    _write(6)
    with transaction() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(details={"i": 99}))
    code, output = _verify(app)
    assert code == 1
    assert "record #4" in output and "altered" in output


def test_deleted_record_is_found(app: Flask) -> None:
    _write(6)
    with transaction() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    code, output = _verify(app)
    assert code == 1
    assert "record #3" in output and "missing" in output


def test_deleted_tail_is_found(app: Flask) -> None:
    _write(4)
    with transaction() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq = 4"))
    code, output = _verify(app)
    assert code == 1
    assert "record #4" in output


def test_reordered_records_are_found(app: Flask) -> None:
    _write(6)
    with transaction() as s:
        s.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 2"))
        s.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 5"))
        s.execute(text("UPDATE audit_events SET seq = 5 WHERE seq = -1"))
    code, output = _verify(app)
    assert code == 1
    assert "record #2" in output


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture(autouse=True)
def _seal_key_exists(app: Flask) -> None:
    """The service's audit seal exists before each test's records: creating a key is itself audited
    (key.generated, certificate.issued), and the tests below count records from the first one."""
    seal_credential()
    with transaction() as s:
        s.execute(text("DELETE FROM audit_events"))
        s.execute(update(AuditHead).values(seq=0, hash=GENESIS_HASH))


def _checkpoint(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    return result.output


def _rewrite_from(seq: int, details: dict[str, int]) -> None:
    """What an attacker with database access does: change a record and recompute every later hash."""
    with transaction() as s:
        records = s.scalars(select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)).all()
        prev = s.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq - 1)) or GENESIS_HASH
        records[0].details = details
        for record in records:
            record.prev_hash = prev
            record.hash = prev = chain_hash(record)
        head = s.get(AuditHead, 1)
        assert head is not None
        head.hash = prev


def test_checkpoint_seals_the_head_and_verifies(app: Flask) -> None:
    _write(5)
    assert "checkpoint at record #5" in _checkpoint(app)
    assert "nothing new" in _checkpoint(app)
    _write(2)
    assert "checkpoint at record #7" in _checkpoint(app)
    first, _ = session().scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    assert first.timestamp_token and first.timestamp_time is not None
    code, output = _verify(app)
    assert code == 0, output
    assert "7 records, 2 checkpoints verified" in output


def test_chain_rewritten_after_a_checkpoint_is_found(app: Flask) -> None:
    _write(3)
    _checkpoint(app)
    _write(3)
    _checkpoint(app)
    _rewrite_from(5, {"i": 99})
    assert verify_chain(session()).ok  # the hash chain alone cannot see it
    code, output = _verify(app)
    assert code == 1
    assert "record #6" in output and "rewritten" in output and "after #3" in output


def test_tampered_checkpoint_is_found(app: Flask) -> None:
    _write(4)
    _checkpoint(app)
    with transaction() as s:
        s.execute(update(AuditCheckpoint).values(head_hash="f" * 64))
    code, output = _verify(app)
    assert code == 1
    assert "record #4" in output and "statement" in output


def test_forged_checkpoint_signature_is_found(app: Flask) -> None:
    """A checkpoint rewritten consistently (statement and fields) still lacks the seal key's signature."""
    _write(4)
    _checkpoint(app)
    _rewrite_from(2, {"i": 42})
    new_head = session().get(AuditHead, 1)
    assert new_head is not None
    checkpoint = session().scalars(select(AuditCheckpoint)).one()
    statement = statement_bytes(
        seq=4,
        head_hash=new_head.hash,
        created_at=checkpoint.created_at,
        credential_id=checkpoint.credential_id,
    )
    with transaction() as s:
        s.execute(update(AuditCheckpoint).values(head_hash=new_head.hash, statement=statement))
    code, output = _verify(app)
    assert code == 1
    assert "record #4" in output and "signature does not verify" in output


def test_swapped_timestamp_is_found(app: Flask) -> None:
    _write(2)
    _checkpoint(app)
    _write(2)
    _checkpoint(app)
    first, second = session().scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).all()
    with transaction() as s:
        s.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.id == second.id)
            .values(timestamp_token=first.timestamp_token)
        )
    code, output = _verify(app)
    assert code == 1
    assert "record #4" in output and "timestamp does not verify" in output


def test_truncated_chain_behind_a_checkpoint_is_found(app: Flask) -> None:
    _write(5)
    _checkpoint(app)
    with transaction() as s:
        s.execute(text("DELETE FROM audit_events WHERE seq >= 4"))
        last = s.scalars(select(AuditEvent).where(AuditEvent.seq == 3)).one()
        s.execute(update(AuditHead).values(seq=3, hash=last.hash))
    code, output = _verify(app)
    assert code == 1
    assert "record #5" in output and "ends before" in output


def test_checkpoints_run_every_hour_on_the_task_queue(app: Flask, task_worker: object) -> None:
    celery = app.extensions["celery"]
    celery.finalize()
    entry = celery.conf.beat_schedule["audit.checkpoint"]
    assert entry["task"] == "audit.checkpoint" and float(entry["schedule"]) == CHECKPOINT_EVERY_SECONDS
    _write(2)
    checkpoint_task.delay()  # inline by default; a real worker on the broker run

    def sealed() -> list[int]:
        session().expire_all()
        seqs = list(session().scalars(select(AuditCheckpoint.seq)))
        session().commit()
        return seqs

    wait_for(lambda: sealed() == [2], timeout=60)
