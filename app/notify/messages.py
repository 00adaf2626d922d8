"""Notification texts, Vietnamese first. The PWA's own texts live in frontend/src/i18n."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    # kind: {lang: (title, body)} — body is formatted with count and subject
    "work_waiting": {
        "vi": ("Học bạ chờ ký", "{count} học bạ lớp {subject} đang chờ thầy/cô ký"),
        "en": ("Transcripts to sign", "{count} transcripts of {subject} are waiting for you"),
    },
    "batch_signed": {
        "vi": ("Đã ký xong", "Đã ký xong {count} học bạ lớp {subject}"),
        "en": ("Signing finished", "{count} transcripts of {subject} are signed"),
    },
    "document_rejected": {
        "vi": ("Học bạ bị trả lại", "{count} học bạ lớp {subject} bị trả lại, cần sửa"),
        "en": ("Transcript returned", "{count} transcripts of {subject} were returned for correction"),
    },
    "csc_approval": {
        "vi": ("Yêu cầu ký từ phần mềm", "{subject} xin ký {count} văn bản bằng khoá của thầy/cô"),
        "en": ("Signing request", "{subject} asks to sign {count} documents with your key"),
    },
    "quota_warning": {
        "vi": ("Sắp hết lượt ký", "Trường đã dùng {count}% số lượt ký của gói {subject}"),
        "en": ("Signing quota", "Your school has used {count}% of the {subject} plan"),
    },
    "work_handed_over": {
        "vi": ("Cần phân công lại", "{count} học bạ của {subject} đang chờ được phân công người ký khác"),
        "en": ("Work to reassign", "{count} transcripts of {subject} need another signer"),
    },
    "seal_approval_waiting": {
        "vi": ("Chờ duyệt con dấu", "Con dấu đơn vị {subject} chờ hiệu trưởng phê duyệt"),
        "en": ("Seal awaiting approval", "The school seal {subject} awaits the principal's approval"),
    },
    "certificate_renewed": {
        "vi": ("Chứng thư số đã gia hạn", "Chứng thư số của thầy/cô đã được gia hạn ({subject})"),
        "en": ("Certificate renewed", "Your signing certificate was renewed ({subject})"),
    },
}


def render(kind: str, lang: str, *, count: int, subject: str | None) -> tuple[str, str]:
    texts = MESSAGES.get(kind) or {"vi": (kind, "{count} {subject}"), "en": (kind, "{count} {subject}")}
    title, body = texts.get(lang) or texts["vi"]
    return title, body.format(count=count, subject=subject or "")
