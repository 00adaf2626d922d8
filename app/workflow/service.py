"""Approvals bound to the exact documents (SCAL2, DOMAIN.md §6) and rejections.

1. ``request_approval``: the signer names documents (ids, classes, or everything ready for them);
   the server builds the manifest (exact SHA-256 per document, step, signer, credential, role, stamp
   text), hashes it, and issues a WebAuthn challenge = SHA-256(manifest_hash ‖ nonce), valid 5 minutes.
2. ``approve_with_passkey`` / ``approve_with_totp``: the challenge is spent on the first attempt,
   right or wrong.  On success a SAD is minted (only its MAC is stored), every document that is still
   exactly as listed moves to APPROVED, the others fail with a reason, and signing is queued.
Only the step's assigned signer (or a live delegate of the principal at step 2) can do any of this.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import structlog
from flask import current_app
from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from app.audit.service import record_event
from app.auth import crypto, factors, passkeys
from app.auth.clock import now as clock_now
from app.auth.models import Passkey, TotpFactor
from app.billing import service as billing
from app.billing.errors import NoSubscription, QuotaExceeded
from app.db import new_id, session, transaction
from app.documents import service as documents
from app.documents.errors import ReasonRequired
from app.documents.models import Document
from app.people.models import Person
from app.settings import Settings
from app.workflow import chain as roster
from app.workflow import sad
from app.workflow.errors import (
    ApprovalExpired,
    ApprovalNotFound,
    ApprovalUsed,
    MixedSteps,
    NoSealCredential,
    NoSigningCredential,
    NotAssigned,
    NothingToApprove,
    NoTotpFactor,
    TooMany,
    TotpBatchForbidden,
)
from app.workflow.models import (
    AUTHORIZED,
    EXPIRED,
    FINISHED,
    ITEM_DONE,
    ITEM_FAILED,
    ITEM_PENDING,
    ITEM_QUEUED,
    PENDING,
    REFUSED,
    Approval,
    ApprovalItem,
    Delegation,
)
from app.workflow.rules import Event, Status, Step

log = structlog.get_logger(__name__)

CHALLENGE_TTL = timedelta(minutes=5)
SAD_TTL = timedelta(hours=6)
MAX_ITEMS = 5000
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PASSKEY, TOTP = "passkey", "totp"
CHANGED_BEFORE_APPROVAL = "The document changed after the approval was asked for; it was not signed."


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def local_today(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


# --------------------------------------------------------------------------- who may sign what
# The rule is written once, in ``_rights``: the signer's delegations are loaded in one query
# (``roster.delegations_held``), then every document is decided without a query.

Held = dict[tuple[str, str], list[Delegation]]
# what the rule and the manifest read of a document: ORM objects and these rows both have them
DOC_FIELDS = (
    Document.id,
    Document.tenant_id,
    Document.status,
    Document.step,
    Document.teacher_id,
    Document.principal_id,
    Document.class_id,
    Document.sha256,
    Document.student_code,
    Document.student_name,
)


def _rights(docs: list[Any], person_id: str, today: date, held: Held) -> dict[str, dict[str, Any] | None]:
    """How ``person_id`` may sign each of ``docs`` (``Document`` objects or rows of ``DOC_FIELDS``)
    now: step, and the principal they sign for (KT.); None where they may not."""

    def right(doc: Any) -> dict[str, Any] | None:
        if doc.status != Status.WAITING:
            return None
        if doc.step == Step.HOMEROOM and doc.teacher_id == person_id:
            return {"step": 1, "on_behalf_of": None, "delegation_id": None}
        if doc.step == Step.PRINCIPAL and doc.principal_id is not None:
            if doc.principal_id == person_id:
                return {"step": 2, "on_behalf_of": None, "delegation_id": None}
            found = roster.delegated(
                held, tenant_id=doc.tenant_id, principal_id=doc.principal_id, on=today, class_id=doc.class_id
            )
            if found is not None:
                return {"step": 2, "on_behalf_of": doc.principal_id, "delegation_id": found.id}
        return None

    return {d.id: right(d) for d in docs}


def _held(s: Session, tenant_ids: set[str], person_id: str, today: date) -> Held:
    return roster.delegations_held(s, tenant_ids=tenant_ids, delegate_id=person_id, on=today)


def eligibility(s: Session, doc: Document, person_id: str, today: date) -> dict[str, Any] | None:
    """``_rights`` for one document."""
    return _rights([doc], person_id, today, _held(s, {doc.tenant_id}, person_id, today))[doc.id]


def _candidates(
    s: Session,
    tenant_id: str,
    person_id: str,
    held: Held,
    class_ids: list[str] | None,
    *entities: Any,
) -> list[Any]:
    """What may be waiting for the person (as teacher, principal or a principal's delegate), as
    ``entities`` (``Document`` by default) in inbox order; ``_rights`` has the last word."""
    principals = sorted({principal for (_, principal) in held})
    query = select(*(entities or (Document,))).where(
        Document.tenant_id == tenant_id,
        Document.status == Status.WAITING.value,
        (
            ((Document.step == 1) & (Document.teacher_id == person_id))
            | ((Document.step == 2) & Document.principal_id.in_([person_id, *principals]))
        ),
    )
    if class_ids:
        query = query.where(Document.class_id.in_(class_ids))
    query = query.order_by(Document.class_name, Document.student_name, Document.id)
    if not entities:
        return list(s.scalars(query))
    return list(s.execute(query).all())


def inbox(*, tenant_id: str | None, person_id: str, class_ids: list[str] | None = None) -> list[Document]:
    """Documents waiting for this person's signature (as teacher, principal or delegate)."""
    if tenant_id is None:
        return []
    s = session()
    today = local_today(clock_now())
    held = _held(s, {tenant_id}, person_id, today)
    docs = _candidates(s, tenant_id, person_id, held, class_ids)
    rights = _rights(docs, person_id, today, held)
    return [d for d in docs if rights[d.id] is not None]


# --------------------------------------------------------------------------- the manifest


def _stamp_lines(role: str, name: str, signed_on: date, on_behalf: str | None) -> list[str]:
    from app.signing.stamps import Stamp

    return list(Stamp(name, role, signed_on, on_behalf).lines())


def request_approval(
    *,
    tenant_id: str | None,
    person_id: str,
    document_ids: list[str] | None = None,
    class_ids: list[str] | None = None,
    all_ready: bool = False,
    step: int | None = None,
) -> tuple[Approval, dict[str, Any]]:
    """Build the manifest of what the signer is about to sign; return it with WebAuthn options."""
    if tenant_id is None:
        raise NothingToApprove()
    settings = _settings()
    moment = clock_now()
    today = local_today(moment)
    with transaction() as s:
        person = s.get(Person, person_id)
        if person is None or not person.is_active or person.tenant_id != tenant_id:
            raise NotAssigned()
        held = _held(s, {tenant_id}, person_id, today)
        if document_ids:
            wanted = list(dict.fromkeys(document_ids))
            if len(wanted) > MAX_ITEMS:
                raise TooMany()
            found = {d.id: d for d in s.execute(select(*DOC_FIELDS).where(Document.id.in_(wanted)))}
            docs = [found[i] for i in wanted if i in found and found[i].tenant_id == tenant_id]
            if len(docs) != len(wanted):
                raise documents.DocumentNotFound(details={"missing": [i for i in wanted if i not in found]})
        elif class_ids or all_ready:
            docs = _candidates(s, tenant_id, person_id, held, class_ids, *DOC_FIELDS)
        else:
            raise NothingToApprove("Name the documents, the classes, or ask for all that are ready.")
        rights = _rights(docs, person_id, today, held)
        refused = [d.id for d in docs if rights[d.id] is None]
        if refused and document_ids:
            raise NotAssigned(details={"document_ids": refused[:50]})
        docs = [d for d in docs if rights[d.id] is not None]
        if step is not None:
            docs = [d for d in docs if rights[d.id]["step"] == step]  # type: ignore[index]
        if not docs:
            raise NothingToApprove()
        if len(docs) > MAX_ITEMS:
            raise TooMany()
        steps = {rights[d.id]["step"] for d in docs}  # type: ignore[index]
        if len(steps) > 1:
            raise MixedSteps()
        (the_step,) = steps
        credential = roster.signing_credential(s, person_id=person_id, now=moment)
        if credential is None:
            raise NoSigningCredential()
        seal = roster.seal_credential(s, tenant_id=tenant_id, now=moment) if the_step == 2 else None
        if the_step == 2 and seal is None:
            raise NoSealCredential()
        # the whole batch must fit the school's quota before anything is approved (step 2 = + seal)
        # (and what is already approved but not signed yet is spoken for)
        billing.check_quota(
            s,
            tenant_id=tenant_id,
            needed=_signatures(len(docs), the_step),
            outstanding=outstanding_signatures,
        )
        school = roster.school(s, tenant_id)
        approval_id = new_id()
        # the stamp text depends only on the role: one or two distinct ones per batch
        stamps = {
            on_behalf: _stamp_lines(
                roster.DEPUTY_TITLE if on_behalf else roster.ROLE_TITLES[Step(the_step)],
                person.display_name,
                today,
                roster.ON_BEHALF if on_behalf else None,
            )
            for on_behalf in (False, True)
        }
        seal_part: dict[str, Any] = {}
        if seal is not None:
            seal_name = school.name if school else seal.owner_name
            seal_part = {"seal_credential_id": seal.id, "seal_name": seal_name}
            seal_stamp = _stamp_lines(roster.ROLE_TITLES[Step.SEAL], seal_name, today, None)
        items: list[dict[str, Any]] = []
        for d in docs:
            right = rights[d.id]
            assert right is not None
            on_behalf = right["on_behalf_of"]
            entry: dict[str, Any] = {
                "document_id": d.id,
                "sha256": d.sha256,
                "step": the_step,
                "credential_id": credential.id,
                "role": roster.DEPUTY_TITLE if on_behalf else roster.ROLE_TITLES[Step(the_step)],
                "on_behalf_of": on_behalf,
                "delegation_id": right["delegation_id"],
                "stamp": list(stamps[bool(on_behalf)]),
                "student_code": d.student_code,
                "student_name": d.student_name,
            }
            if seal is not None:
                entry.update(seal_part, seal_stamp=list(seal_stamp))
            items.append(entry)
        manifest = {
            "version": 1,
            "approval_id": approval_id,
            "tenant_id": tenant_id,
            "signer": {"person_id": person_id, "name": person.display_name},
            "step": the_step,
            "signed_on": today.isoformat(),
            "created_at": moment.isoformat(),
            "items": items,
        }
        digest = sad.manifest_hash(manifest)
        challenge = sad.challenge_for(digest, sad.new_nonce())
        first = items[0]
        approval = Approval(
            id=approval_id,
            tenant_id=tenant_id,
            person_id=person_id,
            step=the_step,
            status=PENDING,
            on_behalf_of_id=first["on_behalf_of"],
            delegation_id=first["delegation_id"],
            manifest=manifest,
            manifest_hash=digest,
            challenge=challenge,
            expires_at=moment + CHALLENGE_TTL,
            total=len(items),
            created_at=moment,
        )
        s.add(approval)
        s.flush()
        # one multi-row INSERT (executemany) for the items, not a unit of work of 1,000 objects
        s.execute(
            insert(ApprovalItem),
            [
                {
                    "approval_id": approval_id,
                    "document_id": entry["document_id"],
                    "position": n,
                    "step": the_step,
                    "sha256": entry["sha256"],
                    "credential_id": entry["credential_id"],
                    "status": ITEM_PENDING,
                }
                for n, entry in enumerate(items)
            ],
        )
        passkey_ids = list(s.scalars(select(Passkey.credential_id).where(Passkey.person_id == person_id)))
        record_event(
            s,
            action="approval.requested",
            actor_id=person_id,
            tenant_id=tenant_id,
            target_type="approval",
            target_id=approval_id,
            details={"manifest_hash": digest, "count": len(items), "step": the_step},
        )
    options = {
        "challenge": sad.b64url(challenge),
        "rpId": settings.rp_id,
        "timeout": int(CHALLENGE_TTL.total_seconds() * 1000),
        "userVerification": "required",
        "allowCredentials": [{"type": "public-key", "id": cid} for cid in passkey_ids],
    }
    return approval, options


# --------------------------------------------------------------------------- approving


def _spend(s: Session, tenant_id: str | None, person_id: str, approval_id: str, moment: datetime) -> Approval:
    """Lock the approval and spend its challenge; refuse anything not pending and alive."""
    approval = s.execute(
        select(Approval).where(Approval.id == approval_id).with_for_update()
    ).scalar_one_or_none()
    # another signer's approval does not exist for the caller: approving for someone else is impossible
    if approval is None or approval.tenant_id != tenant_id or approval.person_id != person_id:
        raise ApprovalNotFound()
    if approval.status == EXPIRED:
        raise ApprovalExpired()
    if approval.status != PENDING:
        raise ApprovalUsed()
    if moment >= approval.expires_at:
        approval.status = EXPIRED
        return approval
    approval.status = REFUSED  # spent; becomes AUTHORIZED only if the proof verifies
    return approval


def _refuse(s: Session, approval: Approval, factor: str, reason: str, moment: datetime) -> NoReturn:
    locked_now = factors.note_failure(s, approval.person_id, factor, moment)
    record_event(
        s,
        action="approval.refused",
        outcome="failure",
        actor_id=approval.person_id,
        tenant_id=approval.tenant_id,
        target_type="approval",
        target_id=approval.id,
        details={"factor": factor, "reason": reason[:200], "manifest_hash": approval.manifest_hash},
    )
    if locked_now:
        record_event(
            s,
            action="auth.factor_lock",
            actor_id=None,
            tenant_id=approval.tenant_id,
            target_type="person",
            target_id=approval.person_id,
            details={"factor": factor, "failures": factors.MAX_FAILURES},
        )
    raise factors.Refused(f"approval {factor}: {reason}")


def approve_with_passkey(
    *, tenant_id: str | None, person_id: str, approval_id: str, credential: dict[str, Any]
) -> Approval:
    settings = _settings()
    moment = clock_now()
    expired = False
    with factors.auth_transaction() as s:
        approval = _spend(s, tenant_id, person_id, approval_id, moment)
        if approval.status == EXPIRED:
            expired = True
        else:
            if factors.locked_until(s, person_id, PASSKEY, moment) is not None:
                _refuse(s, approval, PASSKEY, "factor locked", moment)
            try:
                assertion = passkeys.parse_assertion(credential)
            except passkeys.CeremonyFailed as exc:
                _refuse(s, approval, PASSKEY, str(exc), moment)
            passkey = s.execute(
                select(Passkey).where(
                    Passkey.credential_id == assertion.credential_id, Passkey.person_id == person_id
                )
            ).scalar_one_or_none()
            if passkey is None:
                _refuse(s, approval, PASSKEY, "not one of the signer's passkeys", moment)
            try:
                new_count = passkeys.verify_assertion(
                    settings,
                    assertion,
                    challenge=approval.challenge,
                    public_key=passkey.public_key,
                    sign_count=passkey.sign_count,
                )
            except passkeys.CeremonyFailed as exc:
                _refuse(s, approval, PASSKEY, str(exc), moment)
            passkey.sign_count, passkey.last_used_at = new_count, moment
            factors.note_success(s, person_id, PASSKEY)
            _authorize(s, settings, approval, PASSKEY, passkey.id, moment)
    if expired:
        raise ApprovalExpired()
    _enqueue(approval)
    return approval


def approve_with_totp(*, tenant_id: str | None, person_id: str, approval_id: str, code: str) -> Approval:
    settings = _settings()
    moment = clock_now()
    with transaction() as s:  # checks that spend nothing
        approval = s.get(Approval, approval_id)
        if approval is None or approval.tenant_id != tenant_id or approval.person_id != person_id:
            raise ApprovalNotFound()
        school = roster.school(s, approval.tenant_id)
        batch_ok = bool(school is not None and school.policy_value("totp_batch_approval"))
        if approval.total > 1 and not batch_ok:
            raise TotpBatchForbidden()
        if s.scalar(select(TotpFactor.id).where(TotpFactor.person_id == person_id)) is None:
            raise NoTotpFactor()
    expired = False
    with factors.auth_transaction() as s:
        approval = _spend(s, tenant_id, person_id, approval_id, moment)
        if approval.status == EXPIRED:
            expired = True
        else:
            if factors.locked_until(s, person_id, TOTP, moment) is not None:
                _refuse(s, approval, TOTP, "factor locked", moment)
            factor = s.execute(select(TotpFactor).where(TotpFactor.person_id == person_id)).scalar_one()
            secret = crypto.decrypt(settings, factor.secret_encrypted)
            step = factors.match_totp_step(secret, code, moment, after_step=factor.last_used_step)
            if step is None:
                _refuse(s, approval, TOTP, "wrong or already used code", moment)
            if not factors.consume_totp_step(s, factor, step, moment):
                _refuse(s, approval, TOTP, "time step used concurrently", moment)
            factors.note_success(s, person_id, TOTP)
            _authorize(s, settings, approval, TOTP, None, moment)
    if expired:
        raise ApprovalExpired()
    _enqueue(approval)
    return approval


def _authorize(
    s: Session, settings: Settings, approval: Approval, method: str, passkey_id: str | None, moment: datetime
) -> None:
    """Mint the SAD, move every unchanged document to APPROVED; fail the rest with a reason.

    Set-based: the documents are read (and locked) in one query, the signer's delegations in one,
    and the items are updated with one statement per outcome."""
    entries = {e["document_id"]: e for e in approval.manifest["items"]}
    docs = {
        d.id: d for d in s.scalars(select(Document).where(Document.id.in_(list(entries))).with_for_update())
    }
    today = local_today(moment)
    held = _held(s, {d.tenant_id for d in docs.values()}, approval.person_id, today)
    rights = _rights(list(docs.values()), approval.person_id, today, held)
    queued: list[str] = []
    failed: dict[tuple[str, str], list[str]] = {}
    for document_id, entry in entries.items():
        doc = docs.get(document_id)
        right = rights.get(document_id)
        if doc is None or doc.sha256 != entry["sha256"]:
            failed.setdefault(DOCUMENT_CHANGED, []).append(document_id)
        elif (
            right is None or right["step"] != entry["step"] or right["on_behalf_of"] != entry["on_behalf_of"]
        ):
            failed.setdefault(DOCUMENT_NOT_READY, []).append(document_id)
        else:
            queued.append(document_id)
    if queued:
        # the quota again, now that the batch is about to be spoken for: other approvals may have been
        # authorised since this one was requested.  A batch that no longer fits signs nothing; its
        # documents stay where they were, each item saying why.
        try:
            billing.check_quota(
                s,
                tenant_id=approval.tenant_id,
                needed=_signatures(len(queued), approval.step),
                outstanding=outstanding_signatures,
            )
        except (QuotaExceeded, NoSubscription) as exc:
            failed.setdefault((exc.code, exc.message), []).extend(queued)
            queued = []
    documents.apply_many(
        s,
        [docs[i] for i in queued],
        Event.APPROVE,
        approval_id=approval.id,
        failure_code=None,
        failure_message=None,
    )
    # every item is pending until now: queue them all, then fail the few that are not signable
    # (two statements, and no list of 1,000 ids to send for the common case)
    if queued:
        _set_items(s, approval.id, None, status=ITEM_QUEUED)
    for (code, message), ids in failed.items():
        _set_items(s, approval.id, ids, status=ITEM_FAILED, failure_code=code, failure_message=message)
    queued_count = len(queued)
    value = sad.mint()
    bound = _sad_binding(approval)
    approval.sad_mac = sad.mac(settings.secret_key, value, bound)
    approval.sad_sealed = sad.seal(settings.secret_key, value) if queued_count else None
    approval.sad_expires_at = moment + SAD_TTL
    approval.method, approval.passkey_id = method, passkey_id
    approval.status = AUTHORIZED if queued_count else FINISHED
    approval.authorized_at = moment
    if not queued_count:
        approval.finished_at = moment
    record_event(
        s,
        action="approval.authorized",
        actor_id=approval.person_id,
        tenant_id=approval.tenant_id,
        target_type="approval",
        target_id=approval.id,
        details={
            "manifest_hash": approval.manifest_hash,
            "method": method,
            "count": queued_count,
            "not_signable": len(entries) - queued_count,
            "step": approval.step,
            "on_behalf_of": approval.on_behalf_of_id,
            "delegation_id": approval.delegation_id,
        },
    )


def _signatures(documents: int, step: int) -> int:
    """What approving ``documents`` at ``step`` will sign: the principal's approval also seals."""
    return documents * (2 if step == Step.PRINCIPAL else 1)


def outstanding_signatures(s: Session, tenant_ids: list[str]) -> int:
    """Signatures approved in these schools and not made yet (metering counts them when made): a
    document approved for the principal still needs the seal too."""
    weight = case((Document.step == Step.PRINCIPAL, 2), else_=1)
    total = s.scalar(
        select(func.coalesce(func.sum(weight), 0)).where(
            Document.tenant_id.in_(tenant_ids),
            Document.status.in_([Status.APPROVED.value, Status.SIGNING.value]),
        )
    )
    return int(total or 0)


def manifest_credentials(manifest: dict[str, Any]) -> list[str]:
    """Every key the manifest's signatures use (the signer's, and the seal's after the principal)."""
    credentials: list[str] = []
    for entry in manifest["items"]:
        credentials.append(entry["credential_id"])
        if entry.get("seal_credential_id"):
            credentials.append(entry["seal_credential_id"])
    return credentials


def _sad_binding(approval: Approval, credentials: list[str] | None = None) -> bytes:
    return sad.binding(
        approval_id=approval.id,
        manifest_hex=approval.manifest_hash,
        person_id=approval.person_id,
        credential_ids=manifest_credentials(approval.manifest) if credentials is None else credentials,
    )


DOCUMENT_CHANGED = ("approval.document_changed", "The document changed after the approval was asked for.")
DOCUMENT_NOT_READY = ("approval.document_not_ready", "The document is no longer waiting for this signature.")


def _set_items(s: Session, approval_id: str, document_ids: list[str] | None, **values: Any) -> None:
    """One UPDATE for the items of ``approval_id`` that name ``document_ids`` (None: all of them)."""
    query = update(ApprovalItem).where(ApprovalItem.approval_id == approval_id)
    if document_ids is not None:
        query = query.where(ApprovalItem.document_id.in_(document_ids))
    s.execute(query.values(**values).execution_options(synchronize_session=False))


def _enqueue(approval: Approval) -> None:
    if approval.status != AUTHORIZED:
        return
    from app.workflow import tasks

    ids = [e["document_id"] for e in approval.manifest["items"]]
    tasks.enqueue(approval.id, ids)


# --------------------------------------------------------------------------- reading and rejecting


def get_approval(*, tenant_id: str | None, approval_id: str) -> Approval:
    approval = session().get(Approval, approval_id)
    if approval is None or tenant_id is None or approval.tenant_id != tenant_id:
        raise ApprovalNotFound()
    return approval


def progress(*, tenant_id: str | None, approval_id: str, with_items: bool = True) -> dict[str, Any]:
    s = session()
    approval = get_approval(tenant_id=tenant_id, approval_id=approval_id)
    counts = {ITEM_PENDING: 0, ITEM_QUEUED: 0, ITEM_DONE: 0, ITEM_FAILED: 0}
    items: list[Any] = []
    if with_items:  # rows, not objects: a 1,000-document batch is one light query
        items = list(
            s.execute(
                select(
                    ApprovalItem.document_id,
                    ApprovalItem.sha256,
                    ApprovalItem.status,
                    ApprovalItem.failure_code,
                    ApprovalItem.failure_message,
                )
                .where(ApprovalItem.approval_id == approval.id)
                .order_by(ApprovalItem.position)
            )
        )
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
    else:  # the poll: counts only
        for status, n in s.execute(
            select(ApprovalItem.status, func.count())
            .where(ApprovalItem.approval_id == approval.id)
            .group_by(ApprovalItem.status)
        ):
            counts[status] = counts.get(status, 0) + n
    s.commit()  # end the read transaction (SQLite holds its lock until then)
    return {
        "id": approval.id,
        "status": approval.status,
        "step": approval.step,
        "method": approval.method,
        "person_id": approval.person_id,
        "on_behalf_of_id": approval.on_behalf_of_id,
        "manifest_hash": approval.manifest_hash,
        "expires_at": approval.expires_at,
        "created_at": approval.created_at,
        "authorized_at": approval.authorized_at,
        "finished_at": approval.finished_at,
        "total": approval.total,
        "pending": counts[ITEM_PENDING],
        "queued": counts[ITEM_QUEUED],
        "done": counts[ITEM_DONE],
        "failed": counts[ITEM_FAILED],
        "items": [
            {
                "document_id": i.document_id,
                "sha256": i.sha256,
                "status": i.status,
                "failure_code": i.failure_code,
                "failure_message": i.failure_message,
            }
            for i in items
        ],
    }


def reject(*, tenant_id: str | None, person_id: str, document_id: str, reason: str) -> Document:
    """The current step's signer refuses the transcript; it goes back to the clerk with the reason."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ReasonRequired()
    moment = clock_now()
    with transaction() as s:
        doc = documents.load(s, tenant_id, document_id, lock=True)
        right = eligibility(s, doc, person_id, local_today(moment))
        if right is None:
            raise NotAssigned()
        documents.apply(s, doc, Event.REJECT)
        doc.rejected_reason, doc.rejected_by_id = reason[:2000], person_id
        record_event(
            s,
            action="document.rejected",
            actor_id=person_id,
            tenant_id=doc.tenant_id,
            target_type="document",
            target_id=doc.id,
            details={"step": right["step"], "on_behalf_of": right["on_behalf_of"], "reason": reason[:500]},
        )
        return doc


def totp_allowed(approval: Approval) -> bool:
    if approval.total == 1:
        return True
    school = roster.school(session(), approval.tenant_id)
    return bool(school is not None and school.policy_value("totp_batch_approval"))
