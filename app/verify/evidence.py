"""The evidence report of one transcript: who approved each step, when, with which factor and device,
the manifest hash they approved, the signature times and the certificates — as JSON and as a PDF
(reportlab, with the Vietnamese font the stamps use embedded).  For the school only: another school's
document is a 404, like everywhere else.
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import record_event
from app.auth.models import Passkey, TotpFactor
from app.db import session, transaction, utcnow
from app.documents.errors import DocumentNotFound
from app.documents.models import Document, DocumentRevision
from app.documents.storage import get_store
from app.errors import AppError
from app.keys.models import Credential
from app.people.models import Person
from app.tenants.models import Organisation
from app.verify.service import ROLE_EN, validate, verify_url
from app.workflow.models import Approval

FACTOR_EN = {"passkey": "passkey (with user verification)", "totp": "enrolled device + TOTP code"}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _person(person_id: str | None) -> dict[str, Any] | None:
    if person_id is None:
        return None
    person = session().get(Person, person_id)
    return {"id": person_id, "name": person.display_name if person else None}


def _device(approval: Approval) -> dict[str, Any] | None:
    s = session()
    if approval.method == "passkey" and approval.passkey_id:
        key = s.get(Passkey, approval.passkey_id)
        if key is None:
            return {"kind": "passkey", "id": approval.passkey_id}
        return {
            "kind": "passkey",
            "id": key.id,
            "name": key.name,
            "device_type": key.device_type,
            "backed_up": key.backed_up,
            "aaguid": key.aaguid,
        }
    if approval.method == "totp":
        totp = s.scalars(select(TotpFactor).where(TotpFactor.person_id == approval.person_id)).first()
        return {"kind": "totp", "enrolled_at": _iso(totp.created_at) if totp else None}
    return None


def _certificate(credential: Credential | None) -> dict[str, Any] | None:
    if credential is None:
        return None
    return {
        "credential_id": credential.id,
        "subject": credential.subject_dn,
        "issuer": credential.issuer_dn,
        "serial": credential.serial_hex,
        "not_before": _iso(credential.not_before),
        "not_after": _iso(credential.not_after),
        "issued_by_dev_ca": credential.issued_by_dev_ca,
    }


def evidence(*, tenant_id: str | None, document_id: str, actor_id: str, fmt: str = "json") -> dict[str, Any]:
    """Everything that shows how ``document_id`` came to be signed (JSON-ready).  The export (it
    names the student) is audited."""
    from app.workflow.chain import ROLE_TITLES
    from app.workflow.rules import Step

    s = session()
    doc = s.get(Document, document_id)
    if doc is None or tenant_id is None or doc.tenant_id != tenant_id:
        raise DocumentNotFound()
    school = s.get(Organisation, doc.tenant_id)
    revisions = s.scalars(
        select(DocumentRevision)
        .where(DocumentRevision.document_id == doc.id)
        .order_by(DocumentRevision.number)
    ).all()
    report = None
    if doc.signature_count:
        try:
            report = validate(get_store().get(doc.storage_key), sha256=doc.sha256)
        except AppError:
            report = None
    sigs = list(report.signatures) if report else []
    signed = [r for r in revisions if r.kind == "signature"]
    first_current = len(signed) - doc.signature_count  # a resubmitted document started its chain again
    steps: list[dict[str, Any]] = []
    for n, rev in enumerate(signed):
        approval = s.get(Approval, rev.approval_id) if rev.approval_id else None
        credential = s.get(Credential, rev.credential_id) if rev.credential_id else None
        index = n - first_current
        sig = sigs[index] if 0 <= index < len(sigs) else None
        step = rev.step or 0
        steps.append(
            {
                "step": step,
                "role": ROLE_TITLES.get(Step(step)) if step else None,
                "role_en": ROLE_EN.get(step),
                "revision": rev.number,
                "current": index >= 0,
                "signer": _person(rev.signer_person_id),
                "on_behalf_of": _person(rev.on_behalf_of_id),
                "approval": None
                if approval is None
                else {
                    "id": approval.id,
                    "approved_by": _person(approval.person_id),
                    "requested_at": _iso(approval.created_at),
                    "authorized_at": _iso(approval.authorized_at),
                    "factor": approval.method,
                    "factor_en": FACTOR_EN.get(approval.method or ""),
                    "device": _device(approval),
                    "manifest_hash": approval.manifest_hash,
                    "delegation_id": approval.delegation_id,
                    "documents_in_manifest": approval.total,
                },
                "signature": {
                    "stored_at": _iso(rev.created_at),
                    "sha256": rev.sha256,
                    "timestamp": _iso(sig.timestamp_time) if sig else None,
                    "claimed_time": _iso(sig.signing_time) if sig else None,
                    "level": sig.level if sig else None,
                    "valid": sig.valid if sig else None,
                    "problems": list(sig.problems) if sig else [],
                },
                "certificate": _certificate(credential),
            }
        )
    with transaction() as tx:
        record_event(
            tx,
            action="document.evidence_exported",
            actor_id=actor_id,
            tenant_id=doc.tenant_id,
            target_type="document",
            target_id=doc.id,
            details={"format": fmt},
        )
    events = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_type == "document", AuditEvent.target_id == doc.id)
        .order_by(AuditEvent.seq)
    ).all()
    return {
        "generated_at": utcnow().isoformat(),
        "document": {
            "id": doc.id,
            "doc_type": doc.doc_type,
            "school": {"id": doc.tenant_id, "name": school.name if school else None},
            "school_year": doc.school_year,
            "class_name": doc.class_name,
            "student": {
                "code": doc.student_code,
                "name": doc.student_name,
                "personal_id_masked": doc.personal_id_masked,
            },
            "status": doc.status,
            "version": doc.version,
            "supersedes_id": doc.supersedes_id,
            "superseded_by_id": doc.superseded_by_id,
            "uploaded_at": _iso(doc.created_at),
            "completed_at": _iso(doc.completed_at),
            "original_sha256": doc.original_sha256,
            "sha256": doc.sha256,
            "verify_url": verify_url(doc.verify_token),
        },
        "steps": steps,
        "revisions": [
            {"number": r.number, "kind": r.kind, "sha256": r.sha256, "created_at": _iso(r.created_at)}
            for r in revisions
        ],
        "events": [
            {
                "seq": e.seq,
                "occurred_at": _iso(e.occurred_at),
                "action": e.action,
                "outcome": e.outcome,
                "actor": _person(e.actor_id),
                "hash": e.hash,
            }
            for e in events
        ],
        "verification": report.to_dict() if report else None,
    }


# --------------------------------------------------------------------------- the PDF


def evidence_pdf(data: dict[str, Any]) -> bytes:
    """The same report as a PDF a school can print or file (A4, Vietnamese + English headings)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from app.signing.pdf import FONT_DIR

    if "NotoSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("NotoSans", str(FONT_DIR / "NotoSans-Regular.ttf")))
        pdfmetrics.registerFont(TTFont("NotoSans-Bold", str(FONT_DIR / "NotoSans-Bold.ttf")))
    body = ParagraphStyle("body", fontName="NotoSans", fontSize=8.5, leading=11)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5)
    head = ParagraphStyle("head", parent=body, fontName="NotoSans-Bold", fontSize=14, leading=18)
    sub = ParagraphStyle("sub", parent=body, fontName="NotoSans-Bold", fontSize=10.5, leading=14)

    def p(text: object, style: ParagraphStyle = body) -> Paragraph:
        from xml.sax.saxutils import escape

        return Paragraph(escape("" if text is None else str(text)), style)

    def table(rows: list[list[Any]], widths: list[float]) -> Table:
        t = Table(rows, colWidths=widths)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                ]
            )
        )
        return t

    doc = data["document"]
    story: list[Any] = [
        p("Báo cáo chứng cứ ký số / Signing evidence report", head),
        p(f"Tạo lúc / Generated: {data['generated_at']}", small),
        Spacer(1, 4 * mm),
        table(
            [
                [p("Trường / School"), p(doc["school"]["name"])],
                [p("Học sinh / Student"), p(f"{doc['student']['name']} ({doc['student']['code']})")],
                [p("Số định danh / Personal ID"), p(doc["student"]["personal_id_masked"])],
                [p("Năm học, lớp / Year, class"), p(f"{doc['school_year']} — {doc['class_name']}")],
                [p("Trạng thái / Status"), p(f"{doc['status']} (phiên bản / version {doc['version']})")],
                [p("SHA-256 (tệp hiện tại / current file)"), p(doc["sha256"], small)],
                [p("Tra cứu / Verify"), p(doc["verify_url"], small)],
            ],
            [55 * mm, 120 * mm],
        ),
    ]
    for step in data["steps"]:
        approval = step["approval"] or {}
        device = approval.get("device") or {}
        cert = step["certificate"] or {}
        sig = step["signature"]
        signer = (step["signer"] or {}).get("name")
        if step["on_behalf_of"]:
            signer = f"{signer} — KT. / for {(step['on_behalf_of'] or {}).get('name')}"
        story += [
            Spacer(1, 5 * mm),
            p(f"Bước {step['step']}: {step['role']} / Step {step['step']}: {step['role_en']}", sub),
            table(
                [
                    [p("Người ký / Signer"), p(signer)],
                    [p("Phê duyệt lúc / Approved at"), p(approval.get("authorized_at"))],
                    [
                        p("Yếu tố xác thực / Factor"),
                        p(f"{approval.get('factor')} — {approval.get('factor_en')}"),
                    ],
                    [
                        p("Thiết bị / Device"),
                        p(", ".join(f"{k}: {v}" for k, v in device.items() if v is not None)),
                    ],
                    [p("Mã băm bản kê / Manifest hash"), p(approval.get("manifest_hash"), small)],
                    [p("Dấu thời gian / Timestamp"), p(sig["timestamp"])],
                    [p("Mức PAdES / PAdES level"), p(f"{sig['level']} — valid: {sig['valid']}")],
                    [p("Chủ thể chứng thư / Certificate subject"), p(cert.get("subject"), small)],
                    [p("Tổ chức cấp / Issuer"), p(cert.get("issuer"), small)],
                    [p("Số sê-ri / Serial"), p(cert.get("serial"), small)],
                    [
                        p("Hiệu lực / Validity"),
                        p(f"{cert.get('not_before')} → {cert.get('not_after')}", small),
                    ],
                ],
                [55 * mm, 120 * mm],
            ),
        ]
    story += [Spacer(1, 5 * mm), p("Nhật ký kiểm toán / Audit trail", sub)]
    rows = [
        [p("#", small), p("Thời điểm / Time", small), p("Sự kiện / Event", small), p("Người / Actor", small)]
    ]
    for event in data["events"]:
        rows.append(
            [
                p(event["seq"], small),
                p(event["occurred_at"], small),
                p(f"{event['action']} ({event['outcome']})", small),
                p((event["actor"] or {}).get("name") or "—", small),
            ]
        )
    story.append(table(rows, [12 * mm, 55 * mm, 58 * mm, 50 * mm]))
    buffer = BytesIO()
    SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title="Signing evidence report",
        author=current_app.extensions["signet.settings"].rp_name,
        leftMargin=17 * mm,
        rightMargin=17 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
    ).build(story)
    return buffer.getvalue()
