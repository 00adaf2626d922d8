"""Documents out: the current file, a class's signed transcripts as a ZIP, page previews, changes."""

from __future__ import annotations

import io
import re
import threading
import zipfile
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.db import session
from app.documents.errors import BadCursor, ClassNotFound, PageNotFound
from app.documents.models import Document, DocumentChange
from app.documents.service import load
from app.documents.storage import get_store
from app.people.models import SchoolClass
from app.workflow.rules import Status

MAX_PREVIEW_WIDTH = 2000
_render_lock = threading.Lock()  # pdfium is not thread-safe


def document_file(*, tenant_id: str | None, document_id: str) -> tuple[Document, bytes]:
    doc = load(session(), tenant_id, document_id)
    session().commit()
    return doc, get_store().get(doc.storage_key)


def download_name(doc: Document) -> str:
    base = "_".join(x for x in (doc.student_code, doc.student_name, doc.school_year) if x) or doc.id
    base = re.sub(r"[^\w.-]+", "_", base, flags=re.UNICODE).strip("_")
    return f"{base}_v{doc.version}.pdf"


def class_zip(*, tenant_id: str | None, class_id: str) -> tuple[str, bytes]:
    """The completed transcripts of a class, one PDF each, in a ZIP."""
    s = session()
    klass = s.get(SchoolClass, class_id)
    if klass is None or tenant_id is None or klass.tenant_id != tenant_id:
        raise ClassNotFound()
    docs = list(
        s.scalars(
            select(Document)
            .where(
                Document.tenant_id == tenant_id,
                Document.class_id == class_id,
                Document.status == Status.COMPLETED.value,
            )
            .order_by(Document.student_name, Document.id)
        )
    )
    s.commit()
    store = get_store()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        used: set[str] = set()
        for doc in docs:
            name = download_name(doc)
            if name in used:
                name = f"{doc.id}.pdf"
            used.add(name)
            archive.writestr(name, store.get(doc.storage_key))
    safe_class = re.sub(r"[^\w-]+", "_", f"{klass.name}_{klass.school_year}")
    return f"hoc_ba_{safe_class}.zip", buf.getvalue()


def page_png(*, tenant_id: str | None, document_id: str, page: int, width: int) -> bytes:
    """A PNG of one page (1-based) of the current revision, cached by (sha256, page, width)."""
    doc = load(session(), tenant_id, document_id)
    session().commit()
    width = max(100, min(MAX_PREVIEW_WIDTH, width))
    if page < 1 or page > max(doc.pages, 1):
        raise PageNotFound()
    settings = current_app.extensions["signet.settings"]
    cache = settings.var_dir / "cache" / "pages" / doc.sha256[:2] / doc.sha256
    path = cache / f"{page}-{width}.png"
    if path.exists():
        return path.read_bytes()
    data = get_store().get(doc.storage_key)
    with _render_lock:
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(data)
        try:
            if page > len(pdf):
                raise PageNotFound()
            pdf_page = pdf[page - 1]
            scale = width / pdf_page.get_width()
            image = pdf_page.render(scale=scale).to_pil()
        finally:
            pdf.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    png = out.getvalue()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(png)
    tmp.replace(path)
    return png


def changes(*, tenant_id: str | None, cursor: str | None, limit: int = 500) -> dict[str, Any]:
    """What changed after ``cursor`` (an opaque string; start without one)."""
    try:
        after = int(cursor) if cursor else 0
    except ValueError:
        raise BadCursor() from None
    if after < 0:
        raise BadCursor()
    if tenant_id is None:
        return {"changes": [], "next_cursor": str(after), "has_more": False}
    limit = max(1, min(limit, 1000))
    rows = list(
        session().scalars(
            select(DocumentChange)
            .where(DocumentChange.tenant_id == tenant_id, DocumentChange.seq > after)
            .order_by(DocumentChange.seq)
            .limit(limit + 1)
        )
    )
    session().commit()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "changes": [
            {
                "cursor": str(r.seq),
                "document_id": r.document_id,
                "status": r.status,
                "step": r.step,
                "occurred_at": r.occurred_at,
            }
            for r in rows
        ],
        "next_cursor": str(rows[-1].seq if rows else after),
        "has_more": more,
    }
