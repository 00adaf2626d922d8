"""Acceptance: a school through a term, and a district pooling the quota of three schools.

Signatures are produced here through ``record_signature`` — the call the signing task makes in the
transaction that stores each signed revision — so the counts are exactly what the task would count.
"""

from __future__ import annotations

import csv
import io

import pypdfium2 as pdfium
import pytest
from flask import Flask
from sqlalchemy import func, select

from app.billing import service, statements
from app.billing.errors import QuotaExceeded
from app.billing.models import SignatureUsage
from app.db import session, transaction
from app.notify.models import Notice
from tests.integration.test_billing_service import make_class, make_person, make_tree, sign, this_year


def pdf_text(data: bytes) -> str:
    doc = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in doc)
    finally:
        doc.close()


def test_a_school_through_a_term(app: Flask) -> None:
    tree = make_tree(1)
    school = tree.schools[0]
    operator = tree.operator.id
    viewer = tree.admins[school.id].id
    klass = make_class(school, "5A")
    for _ in range(4):
        make_person(school, "teacher")
    small = service.create_plan(
        actor_id=operator,
        code="truong-50",
        name="Gói trường 50",
        scope="school",
        included_signatures=50,
        price_vnd=1_000_000,
    )
    big = service.create_plan(
        actor_id=operator,
        code="truong-100",
        name="Gói trường 100",
        scope="school",
        included_signatures=100,
        price_vnd=1_800_000,
    )
    start, end = this_year()
    sub = service.create_subscription(
        actor_id=operator, organisation_id=school.id, plan_id=small.id, period_start=start, period_end=end
    )
    sign(school, 5, klass=klass)  # trial
    service.transition_subscription(sub.id, actor_id=operator, status="active")
    sign(school, 40, klass=klass)  # 45/50: the 80 % warning went to the school admin
    assert session().scalars(select(Notice.count).where(Notice.kind == "quota_warning")).all() == [80]

    # a class of 10 would pass the quota: refused before anything is signed, with the numbers
    with pytest.raises(QuotaExceeded) as refused, transaction() as s:
        service.check_quota(s, tenant_id=school.id, needed=10)
    assert refused.value.details["needed"] == 10 and refused.value.details["remaining"] == 5
    assert refused.value.details["included"] == 50 and refused.value.details["used"] == 45
    assert session().scalar(select(func.count()).select_from(SignatureUsage)) == 45

    service.change_plan(sub.id, actor_id=operator, plan_id=big.id)  # upgrade
    with transaction() as s:
        assert service.check_quota(s, tenant_id=school.id, needed=10).remaining == 55
    sign(school, 10, klass=klass)

    month = service.today().strftime("%Y-%m")
    st = statements.build_statement(viewer_id=viewer, subscription_id=sub.id, month=month)
    assert st.signatures == 55 == st.used_after and st.lines[0].by_doc_type == {"transcript": 55}
    assert (st.fee_vnd, st.overage, st.vat_vnd) == (1_800_000, 0, 180_000)
    assert st.total_vnd == 1_980_000
    assert st.cost.signers == 4 and st.cost.cost_per_signer_vnd == 450_000

    rows = list(csv.reader(io.StringIO(statements.statement_csv(st).decode("utf-8-sig"))))
    assert [school.code, school.name] == rows[4][:2] and rows[4][-1] == "55"
    assert ["Tổng cộng thanh toán", "", "", "1980000"] in rows
    text = pdf_text(statements.statement_pdf(st))
    assert "BẢNG KÊ SỬ DỤNG DỊCH VỤ KÝ SỐ" in text  # Vietnamese survives the embedded font
    assert "Thuế GTGT 10%" in text and "1.980.000 ₫" in text
    assert school.name in text and "55" in text


def test_a_district_plan_pools_three_schools(app: Flask) -> None:
    tree = make_tree(3)
    district_admin = tree.admins[tree.district.id].id
    plan = service.create_plan(
        actor_id=None,
        code="phong-100",
        name="Gói phòng GDĐT 100",
        scope="district",
        included_signatures=100,
        price_vnd=10_000_000,
        overage_allowed=True,
        overage_unit_price_vnd=2_000,
    )
    start, end = this_year()
    sub = service.create_subscription(
        actor_id=None,
        organisation_id=tree.district.id,
        plan_id=plan.id,
        period_start=start,
        period_end=end,
        status="active",
    )
    a, b, c = tree.schools
    sign(a, 30)
    sign(b, 50, doc_type="certificate")
    sign(c, 10)
    with transaction() as s:  # one pool: each school sees what all three used
        for school in tree.schools:
            status = service.check_quota(s, tenant_id=school.id, needed=1)
            assert (status.used, status.remaining, status.subscription_id) == (90, 10, sub.id)
    sign(b, 20)  # 110: 10 over the pool, billed at the unit price

    month = service.today().strftime("%Y-%m")
    st = statements.build_statement(viewer_id=district_admin, subscription_id=sub.id, month=month)
    by_school = {line.school_code: line for line in st.lines}
    assert by_school[b.code].by_doc_type == {"certificate": 50, "transcript": 20}
    assert [by_school[x.code].total for x in tree.schools] == [30, 70, 10]
    assert st.signatures == 110 and st.overage == 10 and st.overage_amount_vnd == 20_000
    assert st.subtotal_vnd == 10_020_000 and st.vat_vnd == 1_002_000
    text = pdf_text(statements.statement_pdf(st))
    assert b.name in text and "Văn bằng" not in text and "Chứng nhận" in text
    # the school admins of every school got the warnings of the pool
    warned = set(session().scalars(select(Notice.person_id).where(Notice.kind == "quota_warning")))
    assert {tree.admins[x.id].id for x in tree.schools} | {tree.admins[tree.district.id].id} == warned
