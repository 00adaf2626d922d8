"""The auditors' page (``/audit``): search the trail in a browser, export what is shown.

Server-rendered, no script (CSP), Vietnamese by default and English with ``?lang=en``; the same
service and the same scoping as ``GET /api/v1/audit/events`` (a session cookie is the credential).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from app.audit import query
from app.auth.guard import current_principal
from app.db import session
from app.errors import AppError
from app.people.models import Person

bp = Blueprint("audit_pages", __name__, template_folder="templates")

WORDS = {
    "vi": {
        "title": "Nhật ký kiểm toán",
        "from": "Từ ngày",
        "to": "Đến ngày",
        "person": "Mã người thực hiện",
        "action": "Hành động (vd. signature.*)",
        "document": "Mã văn bản",
        "search": "Tìm kiếm",
        "export": "Xuất JSON Lines",
        "time": "Thời điểm",
        "who": "Người thực hiện",
        "what": "Hành động",
        "target": "Đối tượng",
        "result": "Kết quả",
        "none": "Không có bản ghi nào.",
        "more": "Trang sau",
        "signin": "Hãy đăng nhập bằng tài khoản kiểm toán viên.",
        "other_lang": "English",
    },
    "en": {
        "title": "Audit trail",
        "from": "From",
        "to": "To",
        "person": "Person id",
        "action": "Action (e.g. signature.*)",
        "document": "Document id",
        "search": "Search",
        "export": "Export JSON Lines",
        "time": "Time",
        "who": "Who",
        "what": "Action",
        "target": "Target",
        "result": "Outcome",
        "none": "No records.",
        "more": "Next page",
        "signin": "Sign in with an auditor account.",
        "other_lang": "Tiếng Việt",
    },
}


FIELDS = ("from", "to", "actor_id", "action", "document_id")


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None
    return day.replace(hour=23, minute=59, second=59) if end else day


@bp.get("/audit")
def audit_page() -> Response:
    lang = "en" if request.args.get("lang") == "en" else "vi"
    t, other = WORDS[lang], ("en" if lang == "vi" else "vi")
    form = {k: (request.args.get(k) or "").strip() for k in FIELDS}
    principal = current_principal()
    status, items, next_page = 200, [], None
    error = None
    if principal is None or not principal.is_person:
        status, error = 401, t["signin"]
    else:
        person = session().get(Person, principal.id)
        reader = query.Reader(
            person_id=principal.id,
            tenant_id=principal.tenant_id,
            organisation_id=person.organisation_id if person else None,
            roles=principal.roles,
        )
        before = request.args.get("before_seq", type=int)
        wanted = query.EventQuery(
            since=_day(form["from"]),
            until=_day(form["to"], end=True),
            actor_id=form["actor_id"] or None,
            action=form["action"] or None,
            target_type="document" if form["document_id"] else None,
            target_id=form["document_id"] or None,
            before_seq=before,
            limit=50,
        )
        try:
            page = query.search(reader=reader, query=wanted)
        except AppError as exc:
            status, error = exc.http_status, exc.message
        else:
            items = _with_names(page["items"])
            if page["next_before_seq"]:
                next_page = "?" + urlencode({**form, "lang": lang, "before_seq": page["next_before_seq"]})
    export = "/api/v1/audit/export?" + urlencode(
        {
            k: v
            for k, v in {
                "from": f"{form['from']}T00:00:00+00:00" if _day(form["from"]) else "",
                "to": f"{form['to']}T23:59:59+00:00" if _day(form["to"]) else "",
                "actor_id": form["actor_id"],
                "action": form["action"],
                "document_id": form["document_id"],
            }.items()
            if v
        }
    )
    html = render_template(
        "audit/page.html",
        t=t,
        lang=lang,
        other=other,
        form=form,
        items=items,
        error=error,
        next_page=next_page,
        export=export,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _with_names(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = {i["actor_id"] for i in items if i["actor_id"]}
    names = dict(session().execute(select(Person.id, Person.display_name).where(Person.id.in_(ids))).all())
    return [{**i, "actor_name": names.get(i["actor_id"])} for i in items]
