"""Signing approved documents, exactly once, between two short transactions.

``run(approval_id, document_ids)`` is what a worker does with one chunk:

1. **claim** (short transaction): check the approval's SAD (unsealed, MAC recomputed over the
   approval, its manifest hash, signer and credentials; not expired), then one conditional UPDATE
   moves the chunk's documents that are *items of this approval* and still APPROVED to SIGNING, with a
   fresh lease token.  Documents of other approvals, or already claimed, are simply not claimed.
2. **sign** (no transaction): for each claimed document, re-check its current SHA-256 against the
   manifest (or, for the seal, against the principal's revision made under this approval), check the
   stored bytes against that hash, and sign with the HSM.  A failure fails that document only.
3. **finish** (short transaction): for each document still holding *our* lease, store the new
   revision, advance the state machine, audit ``signature.created`` with the manifest hash.  A late
   or duplicate worker whose lease was taken away writes nothing.

After the principal's signature the document is APPROVED for step 3 under the same approval, so the
same call goes round once more and applies the school seal.  ``sweep`` hands documents whose lease ran
out (a worker died) back to APPROVED and re-queues APPROVED work that nobody is doing.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import defer

from app.audit.service import record_event
from app.auth.clock import now as clock_now
from app.billing import service as billing
from app.db import new_id, session, transaction
from app.documents import service as documents
from app.documents.models import Document, DocumentRevision
from app.documents.storage import DocumentStore, get_store
from app.errors import AppError
from app.settings import Settings
from app.workflow import sad
from app.workflow.models import (
    AUTHORIZED,
    FINISHED,
    ITEM_DONE,
    ITEM_FAILED,
    ITEM_PENDING,
    ITEM_QUEUED,
    Approval,
    ApprovalItem,
)
from app.workflow.rules import Event, State, Status, Step

log = structlog.get_logger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
DEFAULT_SWEEP_GRACE = timedelta(minutes=5)
# (code, message) a document fails with
CHANGED = ("approval.document_changed", "The document changed after it was approved; it was not signed.")
CORRUPT = ("document.file_corrupt", "The stored file does not match its hash; it was not signed.")
SAD_INVALID = ("approval.sad_invalid", "The approval's activation data is expired or invalid.")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def lease_length() -> timedelta:
    return timedelta(
        seconds=float(_settings().extra.get("signing_lease_seconds", DEFAULT_LEASE.total_seconds()))
    )


@dataclass
class Work:
    document_id: str
    step: int
    input_sha: str
    expected_sha: str
    storage_key: str
    credential_id: str
    signer_person_id: str
    on_behalf_of: str | None
    stamp_lines: list[str]
    stamp_name: str
    stamp_role: str
    signed_on: date
    on_behalf_text: str | None
    material: Any = None
    # outcome
    output: bytes | None = None
    output_key: str | None = None
    output_sha: str | None = None
    failure: tuple[str, str] | None = None


@dataclass(frozen=True)
class ManifestView:
    """What a chunk needs of an approval's manifest, parsed once per worker process: a 1,000-document
    manifest is ≈ 400 kB of JSON, and parsing it for every chunk of 16 cost more than the claim."""

    entries: dict[str, dict[str, Any]]
    credentials: list[str]
    signed_on: date
    signer_name: str


_VIEWS: OrderedDict[tuple[str, str], ManifestView | None] = OrderedDict()
_VIEWS_KEPT = 8


def _manifest_view(s: Any, approval: Approval) -> ManifestView | None:
    """The approval's manifest, as of its hash (a manifest never changes once hashed; one whose bytes
    no longer hash to ``manifest_hash`` gives None, and its SAD is then treated as invalid)."""
    from app.workflow.service import manifest_credentials

    key = (approval.id, approval.manifest_hash)
    if key in _VIEWS:
        _VIEWS.move_to_end(key)
        return _VIEWS[key]
    manifest = s.scalar(select(Approval.manifest).where(Approval.id == approval.id))
    view = None
    if manifest is not None and sad.manifest_hash(manifest) == approval.manifest_hash:
        view = ManifestView(
            entries={e["document_id"]: e for e in manifest["items"]},
            credentials=manifest_credentials(manifest),
            signed_on=date.fromisoformat(manifest["signed_on"]),
            signer_name=manifest["signer"]["name"],
        )
    _VIEWS[key] = view
    while len(_VIEWS) > _VIEWS_KEPT:
        _VIEWS.popitem(last=False)
    return view


def _sad_ok(settings: Settings, approval: Approval, view: ManifestView | None, moment: datetime) -> bool:
    from app.workflow.service import _sad_binding

    if view is None:
        return False
    if approval.sad_mac is None or approval.sad_sealed is None or approval.sad_expires_at is None:
        return False
    if moment >= approval.sad_expires_at:
        return False
    value = sad.unseal(settings.secret_key, approval.sad_sealed)
    return value is not None and sad.matches(
        settings.secret_key, value, _sad_binding(approval, view.credentials), approval.sad_mac
    )


def _claim(
    approval_id: str, document_ids: list[str], moment: datetime
) -> tuple[str, list[Work], Approval | None]:
    from app.keys.service import signing_material
    from app.workflow.chain import ON_BEHALF, ROLE_TITLES

    settings = _settings()
    token = new_id()
    with transaction() as s:
        # the manifest is not loaded here: most claims need only the approval's state (the manifest
        # comes from the process's parsed copy, see _manifest_view)
        approval = s.get(Approval, approval_id, options=[defer(Approval.manifest)])
        if approval is None or approval.status != AUTHORIZED:
            return token, [], approval
        listed = dict(
            s.execute(
                select(ApprovalItem.document_id, ApprovalItem.status).where(
                    ApprovalItem.approval_id == approval_id, ApprovalItem.document_id.in_(document_ids)
                )
            ).all()
        )
        in_manifest = {doc_id for doc_id, status in listed.items() if status == ITEM_QUEUED}
        strangers = sorted(set(document_ids) - set(listed))
        if strangers:  # an approval for {A, B} never signs C
            log.warning("not_in_manifest", approval_id=approval_id, document_ids=strangers[:20])
        if len(listed) > len(in_manifest):  # a duplicate task (the sweep, a redelivery): already done
            log.debug("already_handled", approval_id=approval_id, count=len(listed) - len(in_manifest))
        if not in_manifest:
            return token, [], approval
        view = _manifest_view(s, approval)
        sad_valid = _sad_ok(settings, approval, view, moment)
        claimed = s.execute(
            update(Document)
            .where(
                Document.id.in_(sorted(in_manifest)),
                Document.approval_id == approval_id,
                Document.status == Status.APPROVED.value,
            )
            .values(
                status=Status.SIGNING.value,
                lease_token=token,
                lease_until=moment + lease_length(),
                attempts=Document.attempts + 1,
                updated_at=moment,
            )
            .execution_options(synchronize_session=False)
        )
        if not getattr(claimed, "rowcount", 0):
            return token, [], approval
        docs = list(s.scalars(select(Document).where(Document.lease_token == token)))
        materials: dict[str, Any] = {}
        seal_inputs = _seal_inputs(s, approval_id, [d.id for d in docs if d.step == Step.SEAL])
        work: list[Work] = []
        for doc in docs:
            documents.note_change(s, doc)
            entry = view.entries.get(doc.id) if view is not None else None
            if view is None or entry is None:  # the manifest is not the one approved: nothing is signed
                work.append(_refused(doc, approval.person_id, moment))
                continue
            if doc.step == Step.SEAL:
                credential_id = entry["seal_credential_id"]
                lines = entry["seal_stamp"]
                name, role, on_behalf = entry["seal_name"], ROLE_TITLES[Step.SEAL], None
                expected = seal_inputs.get(doc.id, "")
            else:
                credential_id = entry["credential_id"]
                lines = entry["stamp"]
                name, role = view.signer_name, entry["role"]
                on_behalf = ON_BEHALF if entry["on_behalf_of"] else None
                expected = entry["sha256"]
            item = Work(
                document_id=doc.id,
                step=doc.step,
                input_sha=doc.sha256,
                expected_sha=expected,
                storage_key=doc.storage_key,
                credential_id=credential_id,
                signer_person_id=approval.person_id,
                on_behalf_of=entry["on_behalf_of"],
                stamp_lines=lines,
                stamp_name=name,
                stamp_role=role,
                signed_on=view.signed_on,
                on_behalf_text=on_behalf,
            )
            if not sad_valid:
                item.failure = SAD_INVALID
            else:
                try:
                    if credential_id not in materials:
                        materials[credential_id] = signing_material(credential_id)
                    item.material = materials[credential_id]
                except AppError as exc:
                    item.failure = (exc.code, exc.message)
            work.append(item)
        return token, work, approval


def _refused(doc: Document, person_id: str, moment: datetime) -> Work:
    return Work(
        document_id=doc.id,
        step=doc.step,
        input_sha=doc.sha256,
        expected_sha="",
        storage_key=doc.storage_key,
        credential_id="",
        signer_person_id=person_id,
        on_behalf_of=None,
        stamp_lines=[],
        stamp_name="",
        stamp_role="",
        signed_on=moment.date(),
        on_behalf_text=None,
        failure=SAD_INVALID,
    )


def _seal_inputs(s: Any, approval_id: str, document_ids: list[str]) -> dict[str, str]:
    """For the seal: the hash of the principal's revision made under this very approval."""
    if not document_ids:
        return {}
    rows = s.execute(
        select(DocumentRevision.document_id, DocumentRevision.sha256, DocumentRevision.number)
        .where(
            DocumentRevision.document_id.in_(document_ids),
            DocumentRevision.approval_id == approval_id,
            DocumentRevision.step == Step.PRINCIPAL,
        )
        .order_by(DocumentRevision.number)
    ).all()
    return {doc_id: sha for doc_id, sha, _ in rows}


def _sign(work: Work) -> None:
    from app.keys.provider import get_hsm
    from app.keys.service import tsa_respond
    from app.signing.pdf import sign_pdf
    from app.signing.reports import Level
    from app.signing.stamps import Stamp, placement_for
    from app.signing.timestamping import tsa_for

    if work.failure is not None:
        return
    if work.input_sha != work.expected_sha:
        work.failure = CHANGED
        return
    settings = _settings()
    try:
        data = get_store().get(work.storage_key)
        if hashlib.sha256(data).hexdigest() != work.input_sha:
            work.failure = CORRUPT
            return
        stamp = Stamp(work.stamp_name, work.stamp_role, work.signed_on, work.on_behalf_text)
        if list(stamp.lines()) != work.stamp_lines:
            work.failure = ("approval.stamp_mismatch", "The stamp differs from the approved one; not signed.")
            return
        level = Level(settings.extra.get("signing_level", Level.BT.value))
        signed = sign_pdf(
            data,
            material=work.material,
            hsm=get_hsm(),
            level=level,
            tsa=tsa_for(settings, tsa_respond),
            stamp=stamp,
            placement=placement_for("transcript", work.step - 1),
            reason=f"Học bạ số — bước {work.step}",
            max_bytes=settings.max_pdf_bytes * 2,
        )
    except AppError as exc:
        log.warning("signing_failed", document_id=work.document_id, step=work.step, error_code=exc.code)
        work.failure = (exc.code, exc.message)
        return
    except Exception as exc:  # one document's failure is that document's, never the batch's
        log.exception(
            "signing_crashed", document_id=work.document_id, step=work.step, error=type(exc).__name__
        )
        work.failure = ("signing.failed", "The document could not be signed; nothing was changed.")
        return
    work.output = signed


def _store(store: DocumentStore, work: Work) -> None:
    """Write the signed file (durably: the store fsyncs) before ``_finish`` commits a row naming it."""
    assert work.output is not None
    try:
        work.output_key, work.output_sha = store.put(work.output)
    except AppError as exc:  # the store is full: this document fails with that reason, no half file
        log.warning("signed_file_not_stored", document_id=work.document_id, step=work.step, code=exc.code)
        work.failure = (exc.code, exc.message)
        work.output = None


def _sign_and_store(work: list[Work]) -> None:
    """Sign the chunk; each signed file is written by a second thread while the next one is signed
    (the store's fsync is waiting, not computing: it took ≈ 1.5 ms a document off the signing)."""
    store = get_store()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="signet-store") as writer:
        writes = []
        for w in work:
            _sign(w)
            if w.output is not None:
                writes.append(writer.submit(_store, store, w))
        for write in writes:
            write.result()  # a store error other than "full" fails the task: it retries, nothing kept


def _finish(approval: Approval, token: str, work: list[Work], moment: datetime) -> list[str]:
    """Store results for documents that still carry our lease; returns ids that completed."""
    from app.documents import webhooks

    completed: list[str] = []
    metered: list[billing.Signature] = []
    waiting: list[Document] = []  # now waiting for the principal: told once for the chunk
    revisions: list[dict[str, Any]] = []  # the chunk's new revisions, inserted in one executemany
    with transaction() as s:
        ids = [w.document_id for w in work]
        docs = {d.id: d for d in s.scalars(select(Document).where(Document.id.in_(ids)).with_for_update())}
        items = {
            i.document_id: i
            for i in s.scalars(
                select(ApprovalItem).where(
                    ApprovalItem.approval_id == approval.id, ApprovalItem.document_id.in_(ids)
                )
            )
        }
        for w in work:
            doc, item = docs[w.document_id], items[w.document_id]
            if doc.lease_token != token or doc.status != Status.SIGNING:
                log.info("lease_lost", document_id=doc.id, step=w.step)  # someone else owns it now
                continue
            doc.lease_token, doc.lease_until = None, None
            if w.failure is not None or w.output is None:
                code, message = w.failure or ("signing.failed", "The document could not be signed.")
                documents.apply(s, doc, Event.FAIL)
                doc.failure_code, doc.failure_message = code, message
                item.status, item.failure_code, item.failure_message = ITEM_FAILED, code, message
                record_event(
                    s,
                    action="signature.failed",
                    outcome="failure",
                    actor_id=approval.person_id,
                    tenant_id=doc.tenant_id,
                    target_type="document",
                    target_id=doc.id,
                    details={"step": w.step, "code": code, "approval_id": approval.id},
                )
                continue
            assert w.output_key is not None and w.output_sha is not None
            doc.revision += 1
            revisions.append(
                {
                    "id": new_id(),
                    "document_id": doc.id,
                    "number": doc.revision,
                    "kind": "signature",
                    "sha256": w.output_sha,
                    "storage_key": w.output_key,
                    "size": len(w.output),
                    "step": w.step,
                    "signer_person_id": w.signer_person_id,
                    "on_behalf_of_id": w.on_behalf_of,
                    "credential_id": w.credential_id,
                    "approval_id": approval.id,
                    "created_at": moment,
                }
            )
            doc.sha256, doc.storage_key, doc.size = w.output_sha, w.output_key, len(w.output)
            doc.signature_count += 1
            doc.failure_code = doc.failure_message = None
            target = documents.apply(s, doc, Event.SIGNED, tell=False)
            record_event(
                s,
                action="signature.created",
                actor_id=approval.person_id,
                tenant_id=doc.tenant_id,
                target_type="document",
                target_id=doc.id,
                details={
                    "step": w.step,
                    "approval_id": approval.id,
                    "manifest_hash": approval.manifest_hash,
                    "credential_id": w.credential_id,
                    "on_behalf_of": w.on_behalf_of,
                    "sha256_before": w.input_sha,
                    "sha256_after": w.output_sha,
                },
            )
            metered.append(
                billing.Signature(doc.tenant_id, doc.id, w.step, doc.doc_type, doc.class_id, moment)
            )
            if target == State(Status.COMPLETED):
                doc.completed_at = moment
                doc.approval_id = None
                item.status = ITEM_DONE
                completed.append(doc.id)
                _on_completed(s, doc)
                webhooks.queue_completed(s, doc)
            elif target == State(Status.WAITING, Step.PRINCIPAL):
                doc.approval_id = None
                item.status = ITEM_DONE
                waiting.append(doc)
        if revisions:
            s.execute(insert(DocumentRevision), revisions)
        documents.tell_signers(s, waiting)
        billing.record_signatures(s, metered)  # the chunk's signatures, counted once, in this transaction
        open_items = s.scalar(
            select(func.count())
            .select_from(ApprovalItem)
            .where(
                ApprovalItem.approval_id == approval.id, ApprovalItem.status.in_([ITEM_PENDING, ITEM_QUEUED])
            )
        )
        if not open_items:
            _close(s, approval.id, moment)
    return completed


def _on_completed(s: Any, doc: Document) -> None:
    """A completed correction supersedes the signed transcript it replaces."""
    if doc.supersedes_id is None:
        return
    old = s.get(Document, doc.supersedes_id)
    if old is not None and old.status == Status.COMPLETED:
        documents.supersede(s, old, doc)


def _close(s: Any, approval_id: str, moment: datetime) -> None:
    approval = s.execute(select(Approval).where(Approval.id == approval_id).with_for_update()).scalar_one()
    if approval.status == AUTHORIZED:
        approval.status, approval.finished_at, approval.sad_sealed = FINISHED, moment, None
        record_event(
            s,
            action="approval.finished",
            actor_id=approval.person_id,
            tenant_id=approval.tenant_id,
            target_type="approval",
            target_id=approval.id,
            details={"manifest_hash": approval.manifest_hash},
        )


def run(approval_id: str, document_ids: list[str]) -> dict[str, int]:
    """Sign one chunk of an approval (every step it allows: the seal follows the principal)."""
    signed = failed = 0
    completed: list[str] = []
    for _ in range(2):
        moment = clock_now()
        token, work, approval = _claim(approval_id, document_ids, moment)
        if not work or approval is None:
            break
        try:
            _sign_and_store(work)
            completed += _finish(approval, token, work, clock_now())
        except Exception:
            _release(token)  # back to approved at once: the task's retry signs it, not a lease expiry
            raise
        signed += sum(1 for w in work if w.output is not None)
        failed += sum(1 for w in work if w.output is None)
    if completed:
        from app.documents import webhooks

        webhooks.deliver_pending(completed)
    return {"signed": signed, "failed": failed, "completed": len(completed)}


def _release(token: str) -> None:
    """Give back a claim whose results could not be stored (the database refused the transaction):
    nothing of it was written, so the documents return to ``approved`` and are signed again."""
    with transaction() as s:
        for doc in s.scalars(
            select(Document)
            .where(Document.lease_token == token, Document.status == Status.SIGNING.value)
            .with_for_update()
        ):
            documents.apply(s, doc, Event.LEASE_EXPIRED)
            doc.lease_token = doc.lease_until = None


def sweep(now: datetime | None = None, grace: timedelta | None = None) -> dict[str, int]:
    """Take back expired leases and re-queue approved work that nobody is doing."""
    from app.workflow import tasks

    moment = now or clock_now()
    grace = grace if grace is not None else DEFAULT_SWEEP_GRACE
    with transaction() as s:
        stuck = list(
            s.scalars(
                select(Document)
                .where(Document.status == Status.SIGNING.value, Document.lease_until < moment)
                .with_for_update()
            )
        )
        for doc in stuck:
            documents.apply(s, doc, Event.LEASE_EXPIRED)
            doc.lease_token = doc.lease_until = None
            doc.updated_at = moment - grace - timedelta(seconds=1)  # due for re-queueing below
            record_event(
                s,
                action="signature.lease_expired",
                outcome="failure",
                actor_id=None,
                tenant_id=doc.tenant_id,
                target_type="document",
                target_id=doc.id,
                details={"step": doc.step, "approval_id": doc.approval_id, "attempts": doc.attempts},
            )
    with transaction() as s:
        rows = s.execute(
            select(Document.approval_id, Document.id)
            .join(Approval, Approval.id == Document.approval_id)
            .where(
                Document.status == Status.APPROVED.value,
                Document.updated_at <= moment - grace,
                Approval.status == AUTHORIZED,
            )
        ).all()
    groups: dict[str, list[str]] = defaultdict(list)
    for approval_id, doc_id in rows:
        if approval_id is not None:
            groups[approval_id].append(doc_id)
    for approval_id, ids in groups.items():
        tasks.enqueue(approval_id, ids)
    session().close()
    if stuck or rows:
        log.info("sweep", leases_taken_back=len(stuck), requeued=len(rows))
    return {"leases_taken_back": len(stuck), "requeued": len(rows)}
