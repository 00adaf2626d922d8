"""Public verification: by the token in a transcript's QR code, or by the PDF itself.  No account.

``lookup(token)`` answers what a parent sees after scanning: the document's status here (valid,
superseded — by which version, since when —, cancelled, in progress), who signed it in which role and
when, the certificates' issuer, the PAdES level, and whether our stored file is intact.  Personal data
is minimised: the student's initials and masked personal ID only.

``check_pdf(data)`` validates an uploaded file (every signature, against our trust roots, no network)
and, when the file — or the revision one of its signatures covers — is a file we signed, adds what
became of that document.  Whoever holds the file already holds the student's data, so the document
part then names the student in full (the personal ID stays masked).

Validation is the slow part: one parse of the file and pyHanko's full validation of every signature,
its timestamp and the revisions after it, ≈ 30–50 ms of CPU for a three-signature transcript (see
tests/benchmarks/bench_verify.py); its result depends only on the bytes and the trust roots, so it is
kept per process for a while (``_reports``), keyed by SHA-256.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from flask import current_app
from sqlalchemy import bindparam, select, union_all

from app.audit.models import AuditEvent
from app.db import session
from app.documents.models import Document, DocumentRevision
from app.documents.storage import get_store
from app.errors import AppError, NotFound
from app.keys.models import Credential
from app.people.models import Person
from app.settings import Settings
from app.signing.reports import SignatureReport, VerificationReport
from app.tenants.models import Organisation
from app.verify.verdicts import BROKEN, Verdict, describe, initials, signature_verdict
from app.workflow.rules import Status, Step

if TYPE_CHECKING:  # pyHanko is loaded only when a PDF is checked
    from app.signing.pdf import SignedRevision

log = structlog.get_logger(__name__)

REPORT_TTL_SECONDS = 600.0
REPORT_CACHE_SIZE = 1024
ROLE_EN = {
    int(Step.HOMEROOM): "Homeroom teacher",
    int(Step.PRINCIPAL): "Principal",
    int(Step.SEAL): "School seal",
}
ON_BEHALF_EN = "Vice-principal, signing for the principal"


class VerificationNotFound(NotFound):
    code = "verify.not_found"
    default_message = "No document has this verification code."


def _settings() -> Settings:
    settings: Settings = current_app.extensions["signet.settings"]
    return settings


def verify_url(token: str) -> str:
    """What the QR code on a transcript encodes."""
    return f"{_settings().public_base_url}/v/{token}"


def add_qr(doc: Document, data: bytes) -> None:
    """Put the QR code of ``doc``'s verification URL on its file, before any signature (so every
    signature covers it).  The stamped file becomes the document's file (revision 0); the upload's own
    hash stays in ``original_sha256``, which de-duplicates uploads."""
    from app.signing.pdf import add_verification_qr

    stamped = add_verification_qr(
        data, url=verify_url(doc.verify_token), max_bytes=_settings().max_pdf_bytes * 2
    )
    doc.storage_key, doc.sha256 = get_store().put(stamped)
    doc.size = len(stamped)


# --------------------------------------------------------------------------- validation, cached


@dataclass(frozen=True)
class Checked:
    """A file's validation report and what each of its signatures covers (+ both as JSON, once)."""

    report: VerificationReport
    revisions: tuple[SignedRevision, ...]
    report_json: dict[str, Any]
    signatures_json: list[dict[str, Any]]

    @classmethod
    def of(cls, report: VerificationReport, revisions: tuple[SignedRevision, ...]) -> Checked:
        certificates = {r.field: r.certificate for r in revisions}
        rows = []
        for sig in report.signatures:
            cert = certificates.get(sig.field)
            row = sig.to_dict()
            row["certificate"] = (
                {
                    "subject": cert.subject,
                    "issuer": cert.issuer,
                    "serial": cert.serial_hex,
                    "not_before": cert.not_before.isoformat(),
                    "not_after": cert.not_after.isoformat(),
                    "self_signed": cert.self_signed,
                }
                if cert
                else None
            )
            rows.append(row)
        return cls(report, revisions, report.to_dict(), rows)


class _ReportCache:
    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], tuple[float, Checked]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> Checked | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < time.monotonic():
                return None
            self._items.move_to_end(key)
            return found[1]

    def put(self, key: tuple[str, str], checked: Checked) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, checked)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_reports = _ReportCache(REPORT_CACHE_SIZE, REPORT_TTL_SECONDS)


def check_file(data: bytes, *, sha256: str | None = None) -> Checked:
    """``verify_pdf`` against our trust roots and each signature's signed revision (one parse of the
    file: ``check_signatures``), remembered per (file, roots) for ``REPORT_TTL_SECONDS``.  Raises
    ``PdfError`` for files that cannot be read."""
    from app.keys.service import trust_roots
    from app.signing.pdf import check_signatures

    roots = trust_roots()
    key = (sha256 or hashlib.sha256(data).hexdigest(), hashlib.sha256(b"".join(roots)).hexdigest())
    checked = _reports.get(key)
    if checked is None:
        report, revisions = check_signatures(data, trust_roots=roots, max_bytes=_settings().max_pdf_bytes * 2)
        checked = Checked.of(report, revisions)
        _reports.put(key, checked)
    return checked


def validate(data: bytes, *, sha256: str | None = None) -> VerificationReport:
    return check_file(data, sha256=sha256).report


# --------------------------------------------------------------------------- what a verifier is shown


@dataclass(frozen=True)
class _Signer:
    step: int | None
    role_vi: str | None
    role_en: str | None
    name: str | None
    on_behalf: bool
    credential: Credential | None


def _status(doc: Document) -> str:
    if doc.status == Status.COMPLETED:
        return "valid"
    if doc.status == Status.SUPERSEDED:
        return "superseded"
    if doc.status == Status.CANCELLED:
        return "cancelled"
    return "in_progress"


def _superseded(doc: Document) -> dict[str, Any] | None:
    if doc.superseded_by_id is None:
        return None
    s = session()
    newer = s.get(Document, doc.superseded_by_id)
    if newer is None:
        return None
    when = s.scalar(
        select(AuditEvent.occurred_at)
        .where(
            AuditEvent.target_type == "document",
            AuditEvent.target_id == doc.id,
            AuditEvent.action == "document.superseded",
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    return {
        "on": (when or newer.completed_at or newer.created_at).isoformat(),
        "by_version": newer.version,
        "by_status": _status(newer),
        "token": newer.verify_token,
        "url": verify_url(newer.verify_token),
    }


def _signers(doc: Document) -> list[_Signer]:
    """Who made each signature revision of ``doc``, in order (from our records, not from the file)."""
    from app.workflow.chain import DEPUTY_TITLE, ON_BEHALF, ROLE_TITLES

    s = session()
    revisions = s.scalars(
        select(DocumentRevision)
        .where(DocumentRevision.document_id == doc.id, DocumentRevision.kind == "signature")
        .order_by(DocumentRevision.number)
    ).all()
    if doc.signature_count < len(revisions):  # a resubmitted document starts its chain again
        revisions = revisions[len(revisions) - doc.signature_count :]
    out: list[_Signer] = []
    for rev in revisions:
        credential = s.get(Credential, rev.credential_id) if rev.credential_id else None
        person = s.get(Person, rev.signer_person_id) if rev.signer_person_id else None
        step = rev.step
        on_behalf = rev.on_behalf_of_id is not None and step == Step.PRINCIPAL
        role_vi = ROLE_TITLES.get(Step(step)) if step else None
        role_en = ROLE_EN.get(step or 0)
        if on_behalf:
            role_vi, role_en = f"{ON_BEHALF} / {DEPUTY_TITLE}", ON_BEHALF_EN
        if step == Step.SEAL:
            name = (credential.organisation or credential.owner_name) if credential else None
        else:
            name = person.display_name if person else (credential.owner_name if credential else None)
        out.append(_Signer(step, role_vi, role_en, name, on_behalf, credential))
    return out


def _signature_rows(signers: list[_Signer], report: VerificationReport | None) -> list[dict[str, Any]]:
    sigs: tuple[SignatureReport, ...] = report.signatures if report else ()
    rows: list[dict[str, Any]] = []
    for n in range(max(len(signers), len(sigs))):
        signer = signers[n] if n < len(signers) else None
        sig = sigs[n] if n < len(sigs) else None
        cred = signer.credential if signer else None
        rows.append(
            {
                "step": signer.step if signer else None,
                "role": signer.role_vi if signer else None,
                "role_en": signer.role_en if signer else None,
                "signer": (signer.name if signer and signer.name else (sig.signer if sig else None)),
                "on_behalf": bool(signer and signer.on_behalf),
                "signed_at": _iso(sig.timestamp_time or sig.signing_time) if sig else None,
                "timestamped": bool(sig and sig.timestamp_time),
                "level": sig.level if sig else None,
                "valid": bool(sig and sig.valid),
                "problems": list(sig.problems) if sig else [],
                "certificate": _certificate(cred),
            }
        )
    return rows


def _certificate(credential: Credential | None) -> dict[str, Any] | None:
    if credential is None or credential.certificate_der is None:
        return None
    return {
        "subject": credential.subject_dn,
        "issuer": credential.issuer_dn,
        "serial": credential.serial_hex,
        "not_before": _iso(credential.not_before),
        "not_after": _iso(credential.not_after),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _document_part(doc: Document, *, holder: bool) -> dict[str, Any]:
    school = session().get(Organisation, doc.tenant_id)
    return {
        "doc_type": doc.doc_type,
        "school": {"name": school.name, "code": school.code} if school else None,
        "school_year": doc.school_year,
        "student": {
            "name": doc.student_name if holder else None,
            "initials": initials(doc.student_name),
            "personal_id_masked": doc.personal_id_masked,
        },
        "version": doc.version,
        "issued_at": _iso(doc.completed_at),
        "verify_url": verify_url(doc.verify_token),
    }


def _document_verdict(doc: Document, *, final_file: bool) -> Verdict:
    status = _status(doc)
    if status == "superseded":
        return Verdict.SUPERSEDED
    if status == "cancelled":
        return Verdict.CANCELLED
    if status == "in_progress":
        return Verdict.IN_PROGRESS
    return Verdict.VALID if final_file else Verdict.NOT_FINAL


def lookup(token: str) -> dict[str, Any]:
    """What the QR code leads to (``GET /api/v1/verify/{token}``, the page ``/v/{token}``)."""
    if not token or len(token) > 64:
        raise VerificationNotFound()
    doc = session().scalars(select(Document).where(Document.verify_token == token)).one_or_none()
    if doc is None:
        raise VerificationNotFound()
    report: VerificationReport | None = None
    integrity: dict[str, Any] = {"checked": False, "intact": None}
    if doc.signature_count:
        try:
            data = get_store().get(doc.storage_key)
            intact = hashlib.sha256(data).hexdigest() == doc.sha256
            if intact:
                report = validate(data, sha256=doc.sha256)
                intact = signature_verdict(report) not in BROKEN
            integrity = {"checked": True, "intact": intact}
        except AppError as exc:
            log.warning("verify_stored_file_unreadable", document_id=doc.id, code=exc.code)
            integrity = {"checked": True, "intact": False}
    verdict = _document_verdict(doc, final_file=True)
    if integrity["intact"] is False:
        verdict = Verdict.ALTERED
    return {
        "status": _status(doc),
        "verdict": describe(verdict).to_dict(),
        "document": _document_part(doc, holder=False),
        "superseded": _superseded(doc),
        "signatures": _signature_rows(_signers(doc), report),
        "integrity": integrity,
        "sha256": doc.sha256 if doc.signature_count else None,
    }


_DOCUMENTS, _REVISIONS = Document.__table__, DocumentRevision.__table__
# one statement, built once (a verification runs it right after pyHanko has been through the
# processor's caches: two ORM queries took ≈ 1.5 ms there, 0.3 ms warm): the documents whose
# current file is this one, and those with a revision among the candidates
_MATCHES = union_all(
    select(_DOCUMENTS.c.id, _DOCUMENTS.c.sha256, _DOCUMENTS.c.sha256).where(
        _DOCUMENTS.c.sha256 == bindparam("sha256")
    ),
    select(_DOCUMENTS.c.id, _DOCUMENTS.c.sha256, _REVISIONS.c.sha256)
    .join(_REVISIONS, _REVISIONS.c.document_id == _DOCUMENTS.c.id)
    .where(_REVISIONS.c.sha256.in_(bindparam("candidates", expanding=True))),
)


def _match(sha256: str, revision_hashes: list[str]) -> tuple[Document | None, bool]:
    """The document whose current file is this one (final), or one of whose revisions it contains
    (the file itself, else the latest revision a signature in it covers)."""
    candidates = [sha256, *reversed(revision_hashes)]
    rows = session().execute(_MATCHES, {"sha256": sha256, "candidates": candidates}).all()
    for document_id, current, _ in rows:
        if current == sha256:
            return session().get(Document, document_id), True
    by_revision = {matched: (document_id, current) for document_id, current, matched in rows}
    for candidate in candidates:
        if candidate in by_revision:
            document_id, current = by_revision[candidate]
            return session().get(Document, document_id), current == candidate
    return None, False


def check_pdf(data: bytes) -> dict[str, Any]:
    """Validate an uploaded PDF: the full report, a verdict with its reason, and our record of it."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        checked = check_file(data, sha256=sha256)
    except AppError as exc:  # not a PDF, corrupt, encrypted, too large
        log.info("verify_upload_unreadable", code=exc.code, sha256=sha256)
        return {
            "verdict": describe(Verdict.UNREADABLE).to_dict(),
            "reason_code": exc.code,
            "sha256": sha256,
            "report": None,
            "signatures": [],
            "document": None,
            "status": None,
            "superseded": None,
        }
    report, revisions = checked.report, checked.revisions
    verdict = signature_verdict(report)
    doc, final_file = _match(sha256, [r.sha256 for r in revisions])
    if verdict is None:
        verdict = _document_verdict(doc, final_file=final_file) if doc else Verdict.NOT_ISSUED_HERE
    log.info("verify_upload", verdict=verdict.value, sha256=sha256, matched=doc is not None)
    return {
        "verdict": describe(verdict).to_dict(),
        "reason_code": None,
        "sha256": sha256,
        "report": checked.report_json,  # shared with the cache: read-only
        "signatures": checked.signatures_json,
        "document": _document_part(doc, holder=True) if doc else None,
        "status": _status(doc) if doc else None,
        "superseded": _superseded(doc) if doc else None,
    }
