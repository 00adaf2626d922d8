"""The change feed for systems that poll: ``GET /api/v1/documents/changes?cursor=N``.

A change is queued on the session with ``note_change`` and written when the session commits, with
the next ``seq`` taken under a row lock on ``document_change_head``.  Sequence numbers are therefore
handed out in commit order: a reader who has seen ``seq = N`` never later finds a new row below N
(an auto-increment column cannot promise that: ids are drawn before commit, in any order).
"""

from __future__ import annotations

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.documents.models import Document, DocumentChange, DocumentChangeHead

_PENDING = "signet.document_changes"


def note_change(session: Session, document: Document) -> None:
    """Queue a change of ``document`` (its state as of commit time)."""
    if not session.in_transaction():
        session.begin()
    pending: dict[str, Document] = session.info.setdefault(_PENDING, {})
    pending[document.id] = document


@event.listens_for(Session, "before_commit")
def _append_changes(session: Session) -> None:
    pending: dict[str, Document] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    head = session.execute(
        select(DocumentChangeHead).where(DocumentChangeHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = DocumentChangeHead(id=1, seq=0)
        session.add(head)
        session.flush()
    now, first = utcnow(), head.seq + 1
    # one executemany of plain rows: a batch approval moves 1,000 documents, and 1,000 ORM objects
    # through the unit of work cost more than the rest of the approval call
    session.execute(
        insert(DocumentChange),
        [
            {
                "seq": first + n,
                "tenant_id": document.tenant_id,
                "document_id": document.id,
                "status": document.status,
                "step": document.step,
                "occurred_at": now,
            }
            for n, document in enumerate(pending.values())
        ],
    )
    head.seq = first + len(pending) - 1
    session.flush()


@event.listens_for(Session, "after_soft_rollback")
def _drop_changes(session: Session, _previous_transaction: object) -> None:
    session.info.pop(_PENDING, None)
