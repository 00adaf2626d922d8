"""The public verification page a parent opens from the QR code: server-rendered, no script at all
(the CSP forbids inline scripts and a phone on a poor connection should not wait for a bundle), in
Vietnamese by default and English on request (``?lang=en`` or the browser's language).

``/v/{token}``  the document's status, signers and certificates, and a form to check a PDF
``/v``          the form alone; ``POST /v/check`` shows the verdict for an uploaded file
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from app.auth.ratelimit import limiter
from app.errors import AppError
from app.verify import service

bp = Blueprint("verify_pages", __name__, template_folder="templates")

UPLOAD_LIMIT = "10/minute;200/day"

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Tra cứu văn bản ký số",
        "lead": "Kiểm tra một học bạ số do nhà trường ban hành.",
        "status": "Trạng thái",
        "status.valid": "Hợp lệ",
        "status.superseded": "Đã được thay thế",
        "status.cancelled": "Đã hủy",
        "status.in_progress": "Đang ký",
        "school": "Trường",
        "year": "Năm học",
        "student": "Học sinh",
        "personal_id": "Số định danh",
        "version": "Phiên bản",
        "issued": "Ban hành",
        "signatures": "Chữ ký số",
        "role": "Vai trò",
        "signer": "Người ký",
        "time": "Thời điểm (dấu thời gian)",
        "level": "Chuẩn PAdES",
        "issuer": "Tổ chức cấp chứng thư",
        "serial": "Số sê-ri",
        "integrity": "Toàn vẹn",
        "intact": "Tệp lưu trữ còn nguyên vẹn",
        "broken": "Tệp lưu trữ đã bị thay đổi",
        "superseded_on": "Được thay thế ngày {on} bởi phiên bản {version}.",
        "see_new": "Xem bản đính chính",
        "upload": "Kiểm tra tệp PDF bạn đang có",
        "upload_hint": "Tệp được kiểm tra rồi bỏ đi, không được lưu lại.",
        "choose": "Chọn tệp PDF",
        "check": "Kiểm tra",
        "result": "Kết quả kiểm tra tệp",
        "matched": "Tệp này là văn bản do hệ thống ban hành:",
        "no_match": "Không tìm thấy văn bản tương ứng trong hệ thống.",
        "valid_yes": "hợp lệ",
        "valid_no": "không hợp lệ",
        "not_found": "Không tìm thấy văn bản có mã tra cứu này.",
        "other_lang": "English",
        "dev": "Chứng thư của CA phát triển — chỉ dùng để thử nghiệm.",
        "fingerprint": "Mã băm SHA-256",
        "lang": "vi",
    },
    "en": {
        "title": "Verify a signed document",
        "lead": "Check a digital transcript issued by a school.",
        "status": "Status",
        "status.valid": "Valid",
        "status.superseded": "Superseded",
        "status.cancelled": "Cancelled",
        "status.in_progress": "Being signed",
        "school": "School",
        "year": "School year",
        "student": "Student",
        "personal_id": "Personal ID",
        "version": "Version",
        "issued": "Issued",
        "signatures": "Digital signatures",
        "role": "Role",
        "signer": "Signer",
        "time": "Time (timestamp)",
        "level": "PAdES level",
        "issuer": "Certificate issuer",
        "serial": "Serial number",
        "integrity": "Integrity",
        "intact": "The stored file is intact",
        "broken": "The stored file has been changed",
        "superseded_on": "Superseded on {on} by version {version}.",
        "see_new": "See the corrected version",
        "upload": "Check the PDF you hold",
        "upload_hint": "The file is checked and discarded, never stored.",
        "choose": "Choose a PDF file",
        "check": "Check",
        "result": "Result for your file",
        "matched": "This file is a document issued here:",
        "no_match": "No matching document was found here.",
        "valid_yes": "valid",
        "valid_no": "not valid",
        "not_found": "No document has this verification code.",
        "other_lang": "Tiếng Việt",
        "dev": "Development CA certificate — for testing only.",
        "fingerprint": "SHA-256 fingerprint",
        "lang": "en",
    },
}


def _lang() -> str:
    asked = request.args.get("lang") or request.form.get("lang")
    if asked in WORDS:
        return asked
    best = request.accept_languages.best_match(["vi", "en"])
    return best or "vi"


def _render(template: str, status: int = 200, **context: Any) -> Response:
    lang = _lang()
    words = WORDS[lang]
    other = "en" if lang == "vi" else "vi"
    html = render_template(template, t=words, lang=lang, other=other, **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    return response


@bp.get("/v")
def form() -> Response:
    return _render("verify/form.html", token=None, data=None)


@bp.get("/v/<token>")
def document(token: str) -> Response:
    try:
        data = service.lookup(token)
    except AppError:
        return _render("verify/not_found.html", status=404, token=None)
    return _render("verify/document.html", token=token, data=data)


@bp.post("/v/check")
@limiter.limit(UPLOAD_LIMIT)
def check() -> Response:
    upload = request.files.get("file")
    if upload is None:
        return _render("verify/form.html", status=400, token=request.form.get("token"), data=None)
    result = service.check_pdf(upload.read())
    return _render("verify/result.html", token=request.form.get("token"), result=result)
