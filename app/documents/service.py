"""Transcripts in: check, store, de-duplicate, then queue for signing or block with a visible reason.

Every file is judged on its own: a damaged PDF in a batch of forty is refused with its code, the
other thirty-nine go on.  The same bytes uploaded twice are the same document (idempotent upload).
A document whose data is incomplete is never skipped silently: it is BLOCKED with a code and a
message, can be fixed (``update_metadata``) and released.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.audit.service import record_event
from app.auth import crypto
from app.auth.clock import now as clock_now
from app.db import session, transaction, utcnow
from app.documents.changes import note_change
from app.documents.errors import (
    CorrectionNeedsOneFile,
    DocumentBlocked,
    DocumentNotFound,
    NotEditable,
    NothingUploaded,
)
from app.documents.intake import IncomingFile, Metadata, clean, is_zip, read_manifest, read_zip
from app.documents.models import DOC_TYPES, HOC_BA, Document, DocumentRevision
from app.documents.storage import get_store
from app.errors import AppError
from app.notify.service import notify_work_waiting
from app.people import rules as people_rules
from app.people.models import SchoolClass
from app.settings import Settings
from app.verify import service as verify_service
from app.workflow import chain as roster
from app.workflow.rules import Event, State, Status, Step, next_state

log = structlog.get_logger(__name__)

OPEN_STATUSES = (Status.BLOCKED, Status.WAITING, Status.APPROVED, Status.SIGNING, Status.FAILED)
EDITABLE = (State(Status.BLOCKED), State(Status.WAITING, Step.HOMEROOM), State(Status.REJECTED))


@dataclass(frozen=True)
class Actor:
    kind: str  # person | api_client
    id: str | None


@dataclass
class FileResult:
    file: str
    outcome: str  # created | duplicate | refused
    document_id: str | None = None
    status: str | None = None
    blocked_code: str | None = None
    code: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def state_of(doc: Document) -> State:
    return State(Status(doc.status), Step(doc.step))


def apply(s: Session, doc: Document, event: Event, *, tell: bool = True) -> State:
    """Move ``doc`` along the state machine (or raise ``TransitionRefused``) and note the change.

    ``tell=False`` leaves telling the next signer to the caller, who moves many documents and tells
    once for all of them (``tell_signers``)."""
    target = next_state(state_of(doc), event)
    doc.status, doc.step = target.status.value, int(target.step)
    note_change(s, doc)
    if tell and target.status is Status.WAITING:
        tell_signers(s, [doc])
    return target


def apply_many(s: Session, docs: list[Document], event: Event, **values: Any) -> None:
    """``apply`` for a batch, with ``values`` set too: the same state machine and change feed, one
    UPDATE per target state instead of a unit of work of 1,000 dirty objects."""
    groups: dict[State, list[Document]] = {}
    for doc in docs:
        groups.setdefault(next_state(state_of(doc), event), []).append(doc)
    moment = utcnow()
    for target, group in groups.items():
        changed = {"status": target.status.value, "step": int(target.step), "updated_at": moment, **values}
        s.execute(
            update(Document)
            .where(Document.id.in_([d.id for d in group]))
            .values(**changed)
            .execution_options(synchronize_session=False)
        )
        for doc in group:  # the loaded objects say what the row says now (the change feed reads them)
            for name, value in changed.items():
                set_committed_value(doc, name, value)
            note_change(s, doc)
        if target.status is Status.WAITING:
            tell_signers(s, group)


def tell_signers(s: Session, docs: list[Document]) -> None:
    """Whoever must sign these waiting documents next gets one notice (and push) per class and step,
    its count raised by the number of documents: a signing chunk is one notice update, not one each."""
    groups: dict[tuple[str, str, str, Step], int] = {}
    for doc in docs:
        step = Step(doc.step)
        if doc.class_id is None or doc.tenant_id is None or step not in (Step.HOMEROOM, Step.PRINCIPAL):
            continue
        key = (doc.tenant_id, doc.class_id, doc.school_year or "", step)
        groups[key] = groups.get(key, 0) + 1
    for (tenant_id, class_id, school_year, step), count in groups.items():
        if step is Step.HOMEROOM:
            person = roster.homeroom_teacher(
                s, tenant_id=tenant_id, class_id=class_id, school_year=school_year
            )
        else:
            person = roster.principal(s, tenant_id=tenant_id)
        school_class = s.get(SchoolClass, class_id)
        if person is None or school_class is None:
            continue
        notify_work_waiting(
            s,
            person_id=person.id,
            tenant_id=tenant_id,
            group=f"{class_id}:{int(step)}",
            subject=school_class.name,
            url=f"/inbox/{class_id}",
            count=count,
        )


def load(s: Session, tenant_id: str | None, document_id: str, *, lock: bool = False) -> Document:
    query = select(Document).where(Document.id == document_id)
    if lock:
        query = query.with_for_update()
    doc = s.execute(query).scalar_one_or_none()
    if doc is None or tenant_id is None or doc.tenant_id != tenant_id:
        raise DocumentNotFound()
    return doc


# --------------------------------------------------------------------------- metadata checks


def _set_personal_id(settings: Settings, doc: Document, raw: str | None) -> str | None:
    """Store the CCCD encrypted + masked; return the blocker code if it is malformed."""
    raw = clean(raw)
    if raw is None:
        doc.personal_id_encrypted = doc.personal_id_digest = doc.personal_id_masked = None
        return None
    try:
        value = people_rules.parse_cccd(raw).value
    except people_rules.RuleError:
        doc.personal_id_encrypted = crypto.encrypt(settings, raw)
        doc.personal_id_digest = None
        doc.personal_id_masked = people_rules.mask_cccd(raw) if len(raw) > 6 else "***"
        return "document.personal_id_malformed"
    doc.personal_id_encrypted = crypto.encrypt(settings, value)
    doc.personal_id_digest = crypto.keyed_digest(settings, "cccd", value)
    doc.personal_id_masked = people_rules.mask_cccd(value)
    return None


def _apply_metadata(settings: Settings, doc: Document, meta: Metadata) -> None:
    doc.student_code = clean(meta.student_code)
    doc.student_name = clean(meta.student_name)
    doc.class_name = clean(meta.class_name)
    doc.school_year = clean(meta.school_year)
    doc.doc_type = (clean(meta.doc_type) or HOC_BA).lower()
    _set_personal_id(settings, doc, meta.personal_id)


def _data_blocker(s: Session, settings: Settings, doc: Document) -> roster.Blocker | None:
    if not doc.student_code:
        return roster.Blocker("document.no_student_code", "The student code (mã học sinh) is missing.")
    if doc.personal_id_encrypted and doc.personal_id_digest is None:
        return roster.Blocker(
            "document.personal_id_malformed",
            "The personal identification number (CCCD) must be 12 digits: province 001–096, "
            "century/sex digit 0–3, birth year, 6 digits.",
        )
    school = roster.school(s, doc.tenant_id)
    if (
        doc.personal_id_encrypted is None
        and school is not None
        and school.policy_value("require_personal_id")
    ):
        return roster.Blocker("document.no_personal_id", "The personal identification number is missing.")
    if doc.doc_type not in DOC_TYPES:
        return roster.Blocker("document.doc_type_unknown", f"Unknown document type {doc.doc_type!r}.")
    try:
        doc.school_year = people_rules.check_school_year(doc.school_year or "")
    except people_rules.RuleError:
        return roster.Blocker("document.school_year_invalid", "The school year must look like 2024-2025.")
    klass = None
    if doc.class_name:
        try:
            doc.class_name = people_rules.check_class_name(doc.class_name)
        except people_rules.RuleError:
            doc.class_name = None
        else:
            klass = roster.find_class(
                s, tenant_id=doc.tenant_id, school_year=doc.school_year, name=doc.class_name
            )
    doc.class_id = klass.id if klass is not None else None
    if klass is None:
        return roster.Blocker(
            "document.class_unknown",
            f"The class {doc.class_name or '(none)'} does not exist for {doc.school_year}; "
            "check the class name or add the class to the roster.",
        )
    return _duplicate_blocker(s, doc)


def _duplicate_blocker(s: Session, doc: Document) -> roster.Blocker | None:
    others = s.execute(
        select(Document.id, Document.status).where(
            Document.tenant_id == doc.tenant_id,
            Document.student_code == doc.student_code,
            Document.school_year == doc.school_year,
            Document.doc_type == doc.doc_type,
            Document.id != doc.id,
        )
    ).all()
    for other_id, status in others:
        if other_id == doc.supersedes_id:
            continue
        if status == Status.COMPLETED:
            return roster.Blocker(
                "document.duplicate_of_signed",
                f"This student's transcript for {doc.school_year} is already signed (document "
                f"{other_id}); upload this file as a correction of it (supersedes) if it replaces it.",
            )
        if status in OPEN_STATUSES:
            return roster.Blocker(
                "document.duplicate_in_progress",
                f"Another transcript of this student for {doc.school_year} is in progress "
                f"(document {other_id}); cancel one of them.",
            )
    return None


def evaluate(s: Session, doc: Document, now: datetime) -> roster.Blocker | roster.Chain:
    blocker = _data_blocker(s, _settings(), doc)
    if blocker is not None:
        return blocker
    assert doc.class_id is not None and doc.school_year is not None
    return roster.resolve(
        s, tenant_id=doc.tenant_id, class_id=doc.class_id, school_year=doc.school_year, now=now
    )


def settle(s: Session, doc: Document, now: datetime) -> None:
    """Re-judge a BLOCKED or WAITING(1) document: release it into the chain, or block it with a reason."""
    found = evaluate(s, doc, now)
    state = state_of(doc)
    if isinstance(found, roster.Blocker):
        doc.blocked_code, doc.blocked_message = found.code, found.message
        if state != State(Status.BLOCKED):
            apply(s, doc, Event.BLOCK)
        else:
            note_change(s, doc)
        return
    doc.blocked_code = doc.blocked_message = None
    doc.teacher_id, doc.principal_id = found.teacher_id, found.principal_id
    doc.seal_credential_id = found.seal_credential_id
    if state == State(Status.BLOCKED):
        apply(s, doc, Event.RELEASE)
    else:
        note_change(s, doc)


# --------------------------------------------------------------------------- intake


def expand(files: list[tuple[str, bytes]], manifest: bytes | None, defaults: Metadata) -> list[IncomingFile]:
    settings = _settings()
    rows = read_manifest(manifest) if manifest else {}
    out: list[IncomingFile] = []
    for name, data in files:
        if is_zip(data):
            out.extend(
                read_zip(
                    data,
                    max_member_bytes=settings.max_pdf_bytes,
                    max_total_bytes=settings.max_pdf_bytes * 100,
                )
            )
        else:
            out.append(IncomingFile(name, data))
    return [
        IncomingFile(f.name, f.data, defaults.merged(f.meta).merged(rows.get(f.name, Metadata())), f.error)
        for f in out
    ]


def upload(
    *,
    tenant_id: str | None,
    actor: Actor,
    files: list[tuple[str, bytes]],
    manifest: bytes | None = None,
    defaults: Metadata | None = None,
    supersedes_id: str | None = None,
) -> list[FileResult]:
    """Take one or many PDFs (or ZIPs with a manifest); report what became of each file."""
    if tenant_id is None:
        raise DocumentNotFound("Documents belong to a school; sign in as school staff.")
    incoming = expand(files, manifest, defaults or Metadata())
    if not incoming:
        raise NothingUploaded()
    if supersedes_id is not None and len(incoming) != 1:
        raise CorrectionNeedsOneFile()
    return [_take(tenant_id, actor, item, supersedes_id) for item in incoming]


def _refused(name: str, exc: AppError) -> FileResult:
    return FileResult(name, "refused", code=exc.code, message=exc.message, details=exc.details)


def _take(tenant_id: str, actor: Actor, item: IncomingFile, supersedes_id: str | None) -> FileResult:
    from app.signing.pdf import inspect_pdf

    if item.error is not None:
        return _refused(item.name, item.error)
    settings = _settings()
    try:
        info = inspect_pdf(item.data, max_bytes=settings.max_pdf_bytes)
    except AppError as exc:
        return _refused(item.name, exc)
    key, digest = get_store().put(item.data)
    try:
        with transaction() as s:
            existing = s.execute(
                select(Document).where(Document.tenant_id == tenant_id, Document.original_sha256 == digest)
            ).scalar_one_or_none()
            if existing is not None:
                if supersedes_id is not None:
                    _adopt_as_correction(s, tenant_id, actor, existing, supersedes_id)
                return FileResult(item.name, "duplicate", existing.id, existing.status, existing.blocked_code)
            doc = _create(s, settings, tenant_id, actor, item, key, digest, info.pages, supersedes_id)
            return FileResult(item.name, "created", doc.id, doc.status, doc.blocked_code)
    except IntegrityError:  # the same bytes, uploaded at the same moment by someone else
        session().rollback()
        doc_id = session().scalar(
            select(Document.id).where(Document.tenant_id == tenant_id, Document.original_sha256 == digest)
        )
        if doc_id is None:
            raise
        found = session().get(Document, doc_id)
        assert found is not None
        return FileResult(item.name, "duplicate", found.id, found.status, found.blocked_code)
    except AppError as exc:
        return _refused(item.name, exc)


def _adopt_as_correction(s: Session, tenant_id: str, actor: Actor, doc: Document, supersedes_id: str) -> None:
    """The same file sent again as a correction (as a ``duplicate_of_signed`` block asks): the blocked
    upload becomes the correction, since the same bytes can never be a second document."""
    if doc.status != Status.BLOCKED or doc.supersedes_id is not None or doc.id == supersedes_id:
        return
    previous = load(s, tenant_id, supersedes_id, lock=True)
    doc.supersedes_id, doc.version = previous.id, previous.version + 1
    if previous.status != Status.COMPLETED:
        supersede(s, previous, doc)
    settle(s, doc, clock_now())
    record_event(
        s,
        action="document.updated",
        actor_id=actor.id,
        tenant_id=tenant_id,
        target_type="document",
        target_id=doc.id,
        details={"fields": ["supersedes"], "supersedes": previous.id, "status": doc.status},
    )


def _create(
    s: Session,
    settings: Settings,
    tenant_id: str,
    actor: Actor,
    item: IncomingFile,
    key: str,
    digest: str,
    pages: int,
    supersedes_id: str | None,
) -> Document:
    now = clock_now()
    meta = item.meta
    previous = None
    if supersedes_id is not None:
        previous = load(s, tenant_id, supersedes_id, lock=True)
        meta = Metadata(
            previous.student_code,
            previous.student_name,
            None,
            previous.class_name,
            previous.school_year,
            previous.doc_type,
        ).merged(meta)
    doc = Document(
        tenant_id=tenant_id,
        filename=item.name[:255],
        status=Status.BLOCKED.value,
        step=0,
        original_sha256=digest,
        sha256=digest,
        storage_key=key,
        size=len(item.data),
        pages=pages,
        revision=0,
        signature_count=0,
        version=previous.version + 1 if previous is not None else 1,
        supersedes_id=previous.id if previous is not None else None,
        verify_token=secrets.token_urlsafe(24),
        attempts=0,
        uploaded_by_kind=actor.kind,
        uploaded_by_id=actor.id,
    )
    verify_service.add_qr(doc, item.data)  # the verification QR, before any signature (issue 6)
    _apply_metadata(settings, doc, meta)
    if previous is not None and meta.personal_id is None and previous.personal_id_encrypted:
        doc.personal_id_encrypted = previous.personal_id_encrypted
        doc.personal_id_digest = previous.personal_id_digest
        doc.personal_id_masked = previous.personal_id_masked
    s.add(doc)
    s.flush()
    s.add(
        DocumentRevision(
            document_id=doc.id,
            number=0,
            kind="upload",
            sha256=doc.sha256,
            storage_key=doc.storage_key,
            size=doc.size,
        )
    )
    if previous is not None and previous.status != Status.COMPLETED:
        supersede(s, previous, doc)  # a correction of unfinished work replaces it at once
    settle(s, doc, now)
    record_event(
        s,
        action="document.uploaded",
        actor_id=actor.id,
        tenant_id=tenant_id,
        target_type="document",
        target_id=doc.id,
        details={
            "sha256": digest,
            "status": doc.status,
            "blocked_code": doc.blocked_code,
            "supersedes": doc.supersedes_id,
            "via": actor.kind,
        },
    )
    return doc


def supersede(s: Session, old: Document, new: Document) -> None:
    apply(s, old, Event.SUPERSEDE)
    old.superseded_by_id = new.id
    record_event(
        s,
        action="document.superseded",
        actor_id=None,
        tenant_id=old.tenant_id,
        target_type="document",
        target_id=old.id,
        details={"superseded_by": new.id},
    )


# --------------------------------------------------------------------------- fixing and withdrawing

EDITABLE_FIELDS = ("student_code", "student_name", "personal_id", "class_name", "school_year", "doc_type")


def update_metadata(
    *, tenant_id: str | None, actor: Actor, document_id: str, changes: dict[str, Any]
) -> Document:
    """Fix what the school sent (before anyone signed); the document is judged again at once."""
    settings = _settings()
    with transaction() as s:
        doc = load(s, tenant_id, document_id, lock=True)
        if state_of(doc) not in EDITABLE or doc.signature_count:
            raise NotEditable()
        for name in EDITABLE_FIELDS:
            if name not in changes:
                continue
            value = clean(changes[name])
            if name == "personal_id":
                _set_personal_id(settings, doc, value)
            elif name == "doc_type":
                doc.doc_type = (value or HOC_BA).lower()
            else:
                setattr(doc, name, value)
        if doc.status != Status.REJECTED:
            settle(s, doc, clock_now())
        record_event(
            s,
            action="document.updated",
            actor_id=actor.id,
            tenant_id=doc.tenant_id,
            target_type="document",
            target_id=doc.id,
            details={"fields": sorted(k for k in changes if k in EDITABLE_FIELDS), "status": doc.status},
        )
        return doc


def release(*, tenant_id: str | None, actor: Actor, document_id: str) -> Document:
    """Judge a blocked document again (after the roster or its data was fixed)."""
    with transaction() as s:
        doc = load(s, tenant_id, document_id, lock=True)
        if doc.status != Status.BLOCKED:
            next_state(state_of(doc), Event.RELEASE)  # raises TransitionRefused
        settle(s, doc, clock_now())
        record_event(
            s,
            action="document.released",
            actor_id=actor.id,
            tenant_id=doc.tenant_id,
            target_type="document",
            target_id=doc.id,
            outcome="success" if doc.status != Status.BLOCKED else "failure",
            details={"blocked_code": doc.blocked_code},
        )
    if doc.status == Status.BLOCKED:
        assert doc.blocked_code is not None and doc.blocked_message is not None
        raise DocumentBlocked(doc.blocked_code, doc.blocked_message)
    return doc


def resubmit(*, tenant_id: str | None, actor: Actor, document_id: str) -> Document:
    """Send a rejected transcript back into the chain, from its unsigned file."""
    with transaction() as s:
        doc = load(s, tenant_id, document_id, lock=True)
        apply(s, doc, Event.RESUBMIT)
        base = s.execute(
            select(DocumentRevision)
            .where(DocumentRevision.document_id == doc.id, DocumentRevision.kind != "signature")
            .order_by(DocumentRevision.number.desc())
            .limit(1)
        ).scalar_one()
        if doc.sha256 != base.sha256:
            doc.revision += 1
            s.add(
                DocumentRevision(
                    document_id=doc.id,
                    number=doc.revision,
                    kind="reset",
                    sha256=base.sha256,
                    storage_key=base.storage_key,
                    size=base.size,
                )
            )
            doc.sha256, doc.storage_key, doc.size = base.sha256, base.storage_key, base.size
            doc.signature_count = 0
        doc.rejected_reason = doc.rejected_by_id = None
        settle(s, doc, clock_now())
        record_event(
            s,
            action="document.resubmitted",
            actor_id=actor.id,
            tenant_id=doc.tenant_id,
            target_type="document",
            target_id=doc.id,
            details={"status": doc.status},
        )
        return doc


def retry(*, tenant_id: str | None, actor: Actor, document_id: str) -> Document:
    """Try a failed signature again: a failed person's step waits for its signer to approve again, a
    failed seal goes back on the queue (the sweep takes it if the queue is down now)."""
    with transaction() as s:
        doc = load(s, tenant_id, document_id, lock=True)
        failed = (doc.failure_code, doc.failure_message)
        apply(s, doc, Event.RETRY)
        doc.failure_code = doc.failure_message = None
        if doc.status == Status.APPROVED and doc.approval_id is not None:
            from app.workflow.models import ITEM_QUEUED, ApprovalItem  # the seal: same approval again

            item = s.scalars(
                select(ApprovalItem).where(
                    ApprovalItem.approval_id == doc.approval_id, ApprovalItem.document_id == doc.id
                )
            ).first()
            if item is not None:
                item.status, item.failure_code, item.failure_message = ITEM_QUEUED, None, None
        record_event(
            s,
            action="document.retried",
            actor_id=actor.id,
            tenant_id=doc.tenant_id,
            target_type="document",
            target_id=doc.id,
            details={"step": doc.step, "status": doc.status, "failure_code": failed[0]},
        )
    if doc.status == Status.APPROVED and doc.approval_id is not None:
        from app.workflow import tasks

        try:
            tasks.enqueue(doc.approval_id, [doc.id])
        except Exception as exc:  # the queue is down: the periodic sweep queues it later
            log.warning("retry_not_queued", document_id=doc.id, error=type(exc).__name__)
    return doc


def cancel(*, tenant_id: str | None, actor: Actor, document_id: str) -> Document:
    with transaction() as s:
        doc = load(s, tenant_id, document_id, lock=True)
        apply(s, doc, Event.CANCEL)
        record_event(
            s,
            action="document.cancelled",
            actor_id=actor.id,
            tenant_id=doc.tenant_id,
            target_type="document",
            target_id=doc.id,
        )
        return doc


def get_document(*, tenant_id: str | None, document_id: str) -> Document:
    return load(session(), tenant_id, document_id)


def list_documents(
    *,
    tenant_id: str | None,
    status: str | None = None,
    class_id: str | None = None,
    school_year: str | None = None,
    student_code: str | None = None,
    blocked_code: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Document]:
    if tenant_id is None:
        return []
    query = select(Document).where(Document.tenant_id == tenant_id)
    for column, value in (
        (Document.status, status),
        (Document.class_id, class_id),
        (Document.school_year, school_year),
        (Document.student_code, student_code),
        (Document.blocked_code, blocked_code),
    ):
        if value is not None:
            query = query.where(column == value)
    query = (
        query.order_by(Document.class_name, Document.student_name, Document.id).limit(limit).offset(offset)
    )
    return list(session().scalars(query))
