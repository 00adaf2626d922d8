"""The monthly statement of a subscription, as a district accountant reads it (CSV and PDF).

One line per school covered (signatures by document type), then the money: the subscription fee on
the month the subscription became active, the signatures beyond the included quota that fall in
this month times the unit price, the VAT line and the total.  Amounts are integer VND.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing import rules
from app.billing.access import require_viewer
from app.billing.errors import InvalidBillingRequest, SubscriptionNotFound
from app.billing.models import Subscription, UsageDaily
from app.billing.service import local_day
from app.billing.usage import CostComparison, _covered_schools, cost_comparison, reference_certificate_vnd
from app.db import session
from app.tenants.models import Organisation

FONT_DIR = Path(__file__).resolve().parent.parent / "signing" / "fonts"
DOC_TYPE_LABELS = {
    "transcript": "Học bạ",
    "hoc_ba": "Học bạ",
    "diploma": "Văn bằng",
    "certificate": "Chứng nhận",
}


@dataclass(frozen=True)
class StatementLine:
    tenant_id: str
    school_code: str
    school_name: str
    by_doc_type: dict[str, int]
    total: int


@dataclass(frozen=True)
class Statement:
    subscription_id: str
    organisation_name: str
    organisation_code: str
    plan_code: str
    plan_name: str
    status: str
    month: str
    start: date  # the part of the month the subscription covers
    end: date
    doc_types: list[str]
    lines: list[StatementLine]
    signatures: int
    included: int
    used_before: int  # cumulative, before this month
    used_after: int  # cumulative, at the end of this month
    fee_vnd: int
    overage: int
    unit_price_vnd: int
    overage_amount_vnd: int
    subtotal_vnd: int
    vat_percent: int
    vat_vnd: int
    total_vnd: int
    cost: CostComparison


def build_statement(
    *, viewer_id: str, subscription_id: str, month: str, reference_vnd: int | None = None
) -> Statement:
    s = session()
    sub = s.get(Subscription, subscription_id)
    if sub is None:
        raise SubscriptionNotFound()
    org = require_viewer(s, person_id=viewer_id, organisation_id=sub.organisation_id)
    return statement_for(s, sub, org, month, reference_vnd=reference_vnd)


def statement_for(
    s: Session, sub: Subscription, org: Organisation, month: str, *, reference_vnd: int | None = None
) -> Statement:
    try:
        first, last = rules.month_bounds(month)
    except ValueError as exc:
        raise InvalidBillingRequest(str(exc)) from None
    start, end = max(first, sub.period_start), min(last, sub.period_end)
    if start > end:
        raise InvalidBillingRequest("The subscription does not cover that month.")
    plan = sub.plan
    schools = {
        o.id: o
        for o in s.scalars(
            select(Organisation).where(Organisation.id.in_(_covered_schools(s, sub) or [org.id]))
        )
    }
    counts: dict[str, dict[str, int]] = {}
    for tenant_id, doc_type, n in s.execute(
        select(UsageDaily.tenant_id, UsageDaily.doc_type, func.sum(UsageDaily.count))
        .where(UsageDaily.subscription_id == sub.id, UsageDaily.day >= start, UsageDaily.day <= end)
        .group_by(UsageDaily.tenant_id, UsageDaily.doc_type)
    ).all():
        counts.setdefault(tenant_id, {})[doc_type] = int(n)
    used_before = int(
        s.scalar(
            select(func.coalesce(func.sum(UsageDaily.count), 0)).where(
                UsageDaily.subscription_id == sub.id, UsageDaily.day < start
            )
        )
        or 0
    )
    doc_types = sorted({t for by_type in counts.values() for t in by_type})
    lines = []
    for school in sorted(schools.values(), key=lambda o: o.code):
        by_type = counts.get(school.id, {})
        lines.append(StatementLine(school.id, school.code, school.name, by_type, sum(by_type.values())))
    signatures = sum(line.total for line in lines)
    billable = sub.status in {x.value for x in rules.BILLABLE}
    overage = rules.overage_between(
        included=plan.included_signatures, used_before=used_before, used_after=used_before + signatures
    )
    unit = plan.overage_unit_price_vnd if plan.overage_allowed else 0
    overage_amount = overage * unit if billable else 0
    fee = (
        plan.price_vnd
        if billable and sub.activated_at and first <= local_day(sub.activated_at) <= last
        else 0
    )
    subtotal = fee + overage_amount
    vat = rules.vat(subtotal, plan.vat_percent)
    return Statement(
        subscription_id=sub.id,
        organisation_name=org.name,
        organisation_code=org.code,
        plan_code=plan.code,
        plan_name=plan.name,
        status=sub.status,
        month=month,
        start=start,
        end=end,
        doc_types=doc_types,
        lines=lines,
        signatures=signatures,
        included=plan.included_signatures,
        used_before=used_before,
        used_after=used_before + signatures,
        fee_vnd=fee,
        overage=overage,
        unit_price_vnd=unit,
        overage_amount_vnd=overage_amount,
        subtotal_vnd=subtotal,
        vat_percent=plan.vat_percent,
        vat_vnd=vat,
        total_vnd=subtotal + vat,
        cost=cost_comparison(
            s, sub, reference_vnd=reference_certificate_vnd() if reference_vnd is None else reference_vnd
        ),
    )


def doc_type_label(doc_type: str) -> str:
    return DOC_TYPE_LABELS.get(doc_type, doc_type)


def _summary_rows(st: Statement) -> list[tuple[str, str]]:
    return [
        ("Số lượt ký bao gồm trong gói", f"{st.included}"),
        ("Đã dùng lũy kế đến đầu kỳ", f"{st.used_before}"),
        ("Đã dùng lũy kế đến cuối kỳ", f"{st.used_after}"),
        ("Phí thuê bao", rules.format_vnd(st.fee_vnd)),
        ("Số lượt vượt gói trong kỳ", f"{st.overage}"),
        ("Đơn giá lượt vượt gói", rules.format_vnd(st.unit_price_vnd)),
        ("Thành tiền vượt gói", rules.format_vnd(st.overage_amount_vnd)),
        ("Cộng tiền dịch vụ", rules.format_vnd(st.subtotal_vnd)),
        (f"Thuế GTGT {st.vat_percent}%", rules.format_vnd(st.vat_vnd)),
        ("Tổng cộng thanh toán", rules.format_vnd(st.total_vnd)),
    ]


def _cost_rows(st: Statement) -> list[tuple[str, str]]:
    c = st.cost
    return [
        ("Số người ký (giáo viên, ban giám hiệu)", f"{c.signers}"),
        ("Chi phí gói cả kỳ", rules.format_vnd(c.subscription_cost_vnd)),
        ("Chi phí bình quân mỗi người ký", rules.format_vnd(c.cost_per_signer_vnd)),
        ("Giá tham chiếu chứng thư số cá nhân / năm", rules.format_vnd(c.reference_certificate_vnd)),
        ("Nếu mỗi người tự mua chứng thư số", rules.format_vnd(c.reference_total_vnd)),
        ("Tiết kiệm", rules.format_vnd(c.saving_vnd)),
    ]


def statement_csv(st: Statement) -> bytes:
    """UTF-8 with a BOM (Excel opens it with the diacritics intact); amounts as plain integers."""
    out = io.StringIO()
    w = csv.writer(out)
    period = f"{st.start:%d/%m/%Y} - {st.end:%d/%m/%Y}"
    w.writerow(["Bảng kê sử dụng dịch vụ ký số", st.organisation_name, st.organisation_code, st.month])
    w.writerow(["Gói", st.plan_name, st.plan_code, st.status])
    w.writerow([])
    w.writerow(["Mã trường", "Tên trường", "Kỳ", *[doc_type_label(t) for t in st.doc_types], "Tổng lượt ký"])
    for line in st.lines:
        w.writerow(
            [
                line.school_code,
                line.school_name,
                period,
                *[line.by_doc_type.get(t, 0) for t in st.doc_types],
                line.total,
            ]
        )
    w.writerow(
        [
            "",
            "Tổng cộng",
            period,
            *[sum(x.by_doc_type.get(t, 0) for x in st.lines) for t in st.doc_types],
            st.signatures,
        ]
    )
    w.writerow([])
    w.writerow(["Khoản mục", "Số lượng", "Đơn giá (VND)", "Thành tiền (VND)"])
    w.writerow(["Lượt ký bao gồm trong gói", st.included, "", ""])
    w.writerow(["Đã dùng lũy kế đến cuối kỳ", st.used_after, "", ""])
    w.writerow(["Phí thuê bao", 1 if st.fee_vnd else 0, st.fee_vnd, st.fee_vnd])
    w.writerow(["Lượt ký vượt gói", st.overage, st.unit_price_vnd, st.overage_amount_vnd])
    w.writerow(["Cộng tiền dịch vụ", "", "", st.subtotal_vnd])
    w.writerow([f"Thuế GTGT {st.vat_percent}%", "", "", st.vat_vnd])
    w.writerow(["Tổng cộng thanh toán", "", "", st.total_vnd])
    w.writerow([])
    w.writerow(["So sánh chi phí", "Giá trị (VND)"])
    c = st.cost
    w.writerow(["Số người ký", c.signers])
    w.writerow(["Chi phí bình quân mỗi người ký", c.cost_per_signer_vnd])
    w.writerow(["Giá tham chiếu chứng thư số cá nhân / năm", c.reference_certificate_vnd])
    w.writerow(["Nếu mỗi người tự mua chứng thư số", c.reference_total_vnd])
    w.writerow(["Tiết kiệm", c.saving_vnd])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


_FONTS_READY = False


def _register_fonts() -> None:
    global _FONTS_READY
    if _FONTS_READY:
        return
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    pdfmetrics.registerFont(TTFont("NotoSans", str(FONT_DIR / "NotoSans-Regular.ttf")))
    pdfmetrics.registerFont(TTFont("NotoSans-Bold", str(FONT_DIR / "NotoSans-Bold.ttf")))
    _FONTS_READY = True


def statement_pdf(st: Statement) -> bytes:
    """A4, Vietnamese text in an embedded Noto Sans (the PDF standard fonts have no Vietnamese)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_fonts()
    normal = ParagraphStyle("n", fontName="NotoSans", fontSize=9, leading=12)
    title = ParagraphStyle("t", fontName="NotoSans-Bold", fontSize=14, leading=18, spaceAfter=6)
    heading = ParagraphStyle(
        "h", fontName="NotoSans-Bold", fontSize=10, leading=14, spaceBefore=8, spaceAfter=4
    )
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), "NotoSans", 8.5),
            ("FONT", (0, 0), (-1, 0), "NotoSans-Bold", 8.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
            ("ALIGN", (2, 1), (-1, -1), "RIGHT"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]
    )
    year, mon = st.month.split("-")
    story: list[Any] = [
        Paragraph(f"BẢNG KÊ SỬ DỤNG DỊCH VỤ KÝ SỐ — THÁNG {mon}/{year}", title),
        Paragraph(f"Đơn vị: {st.organisation_name} ({st.organisation_code})", normal),
        Paragraph(f"Gói dịch vụ: {st.plan_name} ({st.plan_code}) — trạng thái: {st.status}", normal),
        Paragraph(f"Kỳ: {st.start:%d/%m/%Y} – {st.end:%d/%m/%Y} · Mã thuê bao: {st.subscription_id}", normal),
        Paragraph("Số lượt ký theo trường và loại văn bản", heading),
    ]
    header: list[object] = ["Mã trường", "Tên trường", *[doc_type_label(t) for t in st.doc_types], "Tổng"]
    rows: list[list[object]] = [header]
    for line in st.lines:
        rows.append(
            [
                line.school_code,
                Paragraph(line.school_name, normal),
                *[line.by_doc_type.get(t, 0) for t in st.doc_types],
                line.total,
            ]
        )
    rows.append(
        [
            "",
            "Tổng cộng",
            *[sum(x.by_doc_type.get(t, 0) for x in st.lines) for t in st.doc_types],
            st.signatures,
        ]
    )
    width = 180 * mm
    fixed = 25 * mm + 20 * mm * (len(st.doc_types) + 1)
    table = Table(
        rows,
        colWidths=[25 * mm, max(40 * mm, width - fixed), *[20 * mm] * (len(st.doc_types) + 1)],
        repeatRows=1,
    )
    table.setStyle(grid)
    story.append(table)
    story.append(Paragraph("Thanh toán", heading))
    money = Table([["Khoản mục", "Giá trị"], *_summary_rows(st)], colWidths=[110 * mm, 70 * mm])
    money.setStyle(grid)
    story.append(money)
    story.append(Paragraph("So sánh với chứng thư số cá nhân cho từng giáo viên", heading))
    cost = Table([["Chỉ tiêu", "Giá trị"], *_cost_rows(st)], colWidths=[110 * mm, 70 * mm])
    cost.setStyle(grid)
    story.append(cost)
    story.append(Spacer(1, 6 * mm))
    story.append(
        Paragraph("Số lượt ký được đếm một lần cho mỗi chữ ký (văn bản, bước ký). Đơn vị tiền: đồng.", normal)
    )
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"Bảng kê {st.organisation_code} {st.month}",
        author="Signet",
        invariant=1,
    )
    doc.build(story)
    return buffer.getvalue()
