"""Pure billing rules: every subscription transition, quota arithmetic, thresholds, money."""

from __future__ import annotations

from datetime import date
from itertools import product

import pytest

from app.billing import rules
from app.billing.rules import SubscriptionStatus as S

ALLOWED = {
    (S.TRIAL, S.ACTIVE),
    (S.TRIAL, S.ENDED),
    (S.ACTIVE, S.PAST_DUE),
    (S.ACTIVE, S.ENDED),
    (S.PAST_DUE, S.ACTIVE),
    (S.PAST_DUE, S.ENDED),
}


@pytest.mark.parametrize(("src", "dst"), list(product(S, S)))
def test_every_transition_is_allowed_or_refused_explicitly(src: S, dst: S) -> None:
    if (src, dst) in ALLOWED:
        assert rules.check_transition(src, dst) is dst
    else:
        with pytest.raises(rules.TransitionRefused):
            rules.check_transition(src, dst)


def test_unknown_statuses_are_refused() -> None:
    with pytest.raises(rules.TransitionRefused):
        rules.check_transition("trial", "paid")
    with pytest.raises(rules.TransitionRefused):
        rules.check_transition("bogus", "active")


def test_quota_allows_up_to_the_last_signature_unless_overage() -> None:
    q = rules.Quota(included=100, used=95, overage_allowed=False)
    assert q.remaining == 5 and q.allows(5) and not q.allows(6)
    assert rules.Quota(100, 95, True).allows(1000)
    assert rules.Quota(100, 130, False).remaining == 0
    assert rules.Quota(100, 130, False).overage == 30
    assert rules.Quota(0, 0, False).percent_used == 0.0


def test_thresholds_are_crossed_once() -> None:
    assert rules.thresholds_crossed(included=100, before=79, after=80) == [80]
    assert rules.thresholds_crossed(included=100, before=80, after=81) == []
    assert rules.thresholds_crossed(included=100, before=70, after=100) == [80, 100]
    assert rules.thresholds_crossed(included=10, before=7, after=8) == [80]
    assert rules.thresholds_crossed(included=0, before=0, after=1) == []


def test_overage_of_a_month_is_what_falls_beyond_the_quota_in_it() -> None:
    assert rules.overage_between(included=100, used_before=50, used_after=90) == 0
    assert rules.overage_between(included=100, used_before=90, used_after=130) == 30
    assert rules.overage_between(included=100, used_before=130, used_after=140) == 10


def test_money() -> None:
    assert rules.vat(1_000_000, 10) == 100_000
    assert rules.vat(15, 10) == 2  # 1.5 rounds half up
    assert rules.format_vnd(1_234_567) == "1.234.567 ₫"
    assert rules.month_bounds("2025-02") == (date(2025, 2, 1), date(2025, 2, 28))
    assert rules.month_bounds("2024-12") == (date(2024, 12, 1), date(2024, 12, 31))
    with pytest.raises(ValueError, match="YYYY-MM"):
        rules.month_bounds("2025/02")


def test_period_progress() -> None:
    start, end = date(2024, 9, 1), date(2025, 8, 31)
    assert rules.period_progress(start, end, date(2024, 8, 1)) == 0.0
    assert rules.period_progress(start, end, date(2025, 8, 31)) == 100.0
    assert 40 < rules.period_progress(start, end, date(2025, 2, 15)) < 50


def test_the_metering_sql_knows_every_status_in_force() -> None:
    from app.billing import service

    statuses = {x.value for x in rules.IN_FORCE}
    assert all(f"'{x}'" in service._PAYING_SQL.text for x in statuses)
    assert all(f"'{x.value}'" not in service._PAYING_SQL.text for x in S if x.value not in statuses)
