"""What a verifier is told, and why: stable verdict codes with Vietnamese and English text.  Pure.

A verdict answers "can I believe this file?" in one word.  The order of the checks is the order of
the answer: a file that cannot be read says so; an unsigned file proves nothing; a signature whose
bytes were changed, or whose signer we do not trust, outranks anything the database says; only a
file whose signatures all hold is then told what became of its document (superseded, cancelled …).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.signing.reports import VerificationReport


class Verdict(StrEnum):
    VALID = "verify.valid"
    SUPERSEDED = "verify.superseded"
    CANCELLED = "verify.cancelled"
    IN_PROGRESS = "verify.in_progress"
    NOT_FINAL = "verify.not_final"
    NOT_ISSUED_HERE = "verify.not_issued_here"
    ALTERED = "verify.altered"
    MODIFIED_AFTER_SIGNING = "verify.modified_after_signing"
    UNTRUSTED_SIGNER = "verify.untrusted_signer"
    TIMESTAMP_INVALID = "verify.timestamp_invalid"
    UNSIGNED = "verify.unsigned"
    UNREADABLE = "verify.unreadable"

    @property
    def ok(self) -> bool:
        """The signatures hold (the document may still be superseded or cancelled)."""
        return self in _SIGNATURES_HOLD


_SIGNATURES_HOLD = frozenset(
    {
        Verdict.VALID,
        Verdict.SUPERSEDED,
        Verdict.CANCELLED,
        Verdict.IN_PROGRESS,
        Verdict.NOT_FINAL,
        Verdict.NOT_ISSUED_HERE,
    }
)

# the file itself is damaged or changed (as opposed to: signed by someone we do not trust)
BROKEN = frozenset({Verdict.ALTERED, Verdict.MODIFIED_AFTER_SIGNING, Verdict.UNSIGNED, Verdict.UNREADABLE})

# (Vietnamese, English); shown as the headline of the page and returned by the API
TEXT: dict[Verdict, tuple[str, str]] = {
    Verdict.VALID: (
        "Văn bản hợp lệ: mọi chữ ký số đều đúng và tệp không bị thay đổi sau khi ký.",
        "Genuine: every digital signature is valid and the file has not changed since it was signed.",
    ),
    Verdict.SUPERSEDED: (
        "Chữ ký hợp lệ, nhưng văn bản này đã được thay thế bằng một bản đính chính.",
        "The signatures are valid, but this document has been superseded by a corrected version.",
    ),
    Verdict.CANCELLED: (
        "Chữ ký hợp lệ, nhưng nhà trường đã hủy văn bản này.",
        "The signatures are valid, but the school has cancelled this document.",
    ),
    Verdict.IN_PROGRESS: (
        "Văn bản đang trong quá trình ký, chưa được ban hành.",
        "This document is still being signed; it has not been issued yet.",
    ),
    Verdict.NOT_FINAL: (
        "Đây là một bản trung gian, chưa đủ chữ ký: hãy dùng bản cuối cùng do nhà trường cấp.",
        "This is an intermediate copy without every signature: use the final file issued by the school.",
    ),
    Verdict.NOT_ISSUED_HERE: (
        "Chữ ký hợp lệ, nhưng văn bản này không do hệ thống này ban hành.",
        "The signatures are valid, but this document was not issued through this service.",
    ),
    Verdict.ALTERED: (
        "Không hợp lệ: nội dung đã bị sửa sau khi ký (chữ ký không còn khớp với tệp).",
        "Not valid: the content was changed after signing (a signature no longer matches the file).",
    ),
    Verdict.MODIFIED_AFTER_SIGNING: (
        "Không hợp lệ: tệp đã bị thêm nội dung sau chữ ký cuối cùng.",
        "Not valid: something was added to the file after its last signature.",
    ),
    Verdict.UNTRUSTED_SIGNER: (
        "Không hợp lệ: chữ ký không do tổ chức cung cấp dịch vụ chứng thực được tin cậy cấp "
        "(có thể là chữ ký giả mạo hoặc tự ký).",
        "Not valid: a signature was made with a certificate from an untrusted issuer "
        "(a forged or self-signed certificate).",
    ),
    Verdict.TIMESTAMP_INVALID: (
        "Không hợp lệ: dấu thời gian của chữ ký không đúng hoặc không được tin cậy.",
        "Not valid: a signature's timestamp is wrong or untrusted.",
    ),
    Verdict.UNSIGNED: (
        "Tệp không có chữ ký số nào: không thể xác thực.",
        "The file carries no digital signature: it cannot be verified.",
    ),
    Verdict.UNREADABLE: (
        "Không đọc được tệp: đây không phải là tệp PDF hợp lệ (hoặc tệp bị mã hóa).",
        "The file cannot be read: it is not a valid PDF (or it is encrypted).",
    ),
}


@dataclass(frozen=True)
class VerdictText:
    code: str
    ok: bool
    vi: str
    en: str

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "ok": self.ok, "vi": self.vi, "en": self.en}


def describe(verdict: Verdict) -> VerdictText:
    vi, en = TEXT[verdict]
    return VerdictText(verdict.value, verdict.ok, vi, en)


def signature_verdict(report: VerificationReport) -> Verdict | None:
    """The verdict the signatures alone give, or None when they all hold (the document decides)."""
    signatures = report.signatures
    if not signatures:
        return Verdict.UNSIGNED
    if any(not s.intact for s in signatures):
        return Verdict.ALTERED
    if any(not s.trusted for s in signatures):
        return Verdict.UNTRUSTED_SIGNER
    if any(s.level in ("B-T", "B-LT") and s.timestamp_time is None for s in signatures):
        return Verdict.TIMESTAMP_INVALID
    last = signatures[-1]
    if not last.covers_whole_file and last.modified_after not in (None, _VALIDATION_DATA):
        return Verdict.MODIFIED_AFTER_SIGNING
    if not all(s.valid for s in signatures):
        return Verdict.MODIFIED_AFTER_SIGNING  # a forbidden change between two signatures
    return None


# what ``verify_pdf`` says when only validation data (DSS, document timestamp) follows a signature
_VALIDATION_DATA = "validation data added (DSS / document timestamp)"


def initials(name: str | None) -> str | None:
    """'Nguyễn Thị Hồng Vân' -> 'N. T. H. V.' (a public page shows no full student name)."""
    if not name:
        return None
    parts = [p for p in name.split() if p]
    return " ".join(f"{p[0].upper()}." for p in parts) or None
