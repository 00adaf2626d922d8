"""Pure billing rules: subscription states, quota arithmetic, money. No database, no Flask.

Money is integer VND (no minor unit).  A plan's price covers its period; its quota is the number of
signatures included in that period; beyond it each signature costs ``overage_unit_price_vnd`` when
the plan allows overage, and is refused *before approval* when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class SubscriptionStatus(StrEnum):
    TRIAL = "trial"
    ACTIVE = "active"
    PAST_DUE = "past_due"  # invoice unpaid: signing continues (grace), the operator follows up
    ENDED = "ended"


class PlanScope(StrEnum):
    SCHOOL = "school"  # one school, its own quota
    DISTRICT = "district"  # a district office for all its schools, one pooled quota


TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    SubscriptionStatus.TRIAL: frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.ENDED}),
    SubscriptionStatus.ACTIVE: frozenset({SubscriptionStatus.PAST_DUE, SubscriptionStatus.ENDED}),
    SubscriptionStatus.PAST_DUE: frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.ENDED}),
    SubscriptionStatus.ENDED: frozenset(),
}

# statuses under which a subscription pays for signatures
IN_FORCE = frozenset({SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE})
# statuses that are invoiced (a trial is free)
BILLABLE = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.ENDED})

WARNING_THRESHOLDS: tuple[int, ...] = (80, 100)  # percent of the included signatures


class TransitionRefused(ValueError):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"A subscription cannot go from {current} to {wanted}.")
        self.current = current
        self.wanted = wanted


def check_transition(current: str, wanted: str) -> SubscriptionStatus:
    """The new status, or ``TransitionRefused`` (also for unknown or unchanged statuses)."""
    try:
        src, dst = SubscriptionStatus(current), SubscriptionStatus(wanted)
    except ValueError:
        raise TransitionRefused(current, wanted) from None
    if dst not in TRANSITIONS[src]:
        raise TransitionRefused(current, wanted)
    return dst


def covers(start: date, end: date, day: date) -> bool:
    """Periods are inclusive of both ends: 2024-09-01 .. 2025-08-31."""
    return start <= day <= end


def overlaps(a: tuple[date, date], b: tuple[date, date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class Quota:
    included: int
    used: int
    overage_allowed: bool

    @property
    def remaining(self) -> int:
        return max(0, self.included - self.used)

    @property
    def overage(self) -> int:
        return max(0, self.used - self.included)

    @property
    def percent_used(self) -> float:
        if self.included <= 0:
            return 100.0 if self.used else 0.0
        return round(100.0 * self.used / self.included, 1)

    def allows(self, needed: int) -> bool:
        return self.overage_allowed or needed <= self.remaining


def thresholds_crossed(*, included: int, before: int, after: int) -> list[int]:
    """The warning thresholds (percent) that ``before -> after`` signatures crossed."""
    if included <= 0 or after <= before:
        return []
    return [t for t in WARNING_THRESHOLDS if before * 100 < t * included <= after * 100]


def overage_between(*, included: int, used_before: int, used_after: int) -> int:
    """Signatures beyond the quota that fall between two cumulative counts (a month of a period)."""
    return max(0, used_after - included) - max(0, used_before - included)


def vat(amount_vnd: int, vat_percent: int) -> int:
    """VAT rounded half up to the dong."""
    return (amount_vnd * vat_percent + 50) // 100


def period_progress(start: date, end: date, today: date) -> float:
    """How far through its period a subscription is, 0..100 (the school-year progress bar)."""
    total = (end - start).days + 1
    if total <= 0:
        return 100.0
    done = min(total, max(0, (today - start).days + 1))
    return round(100.0 * done / total, 1)


def month_bounds(month: str) -> tuple[date, date]:
    """'2025-01' -> (2025-01-01, 2025-01-31)."""
    try:
        year_s, month_s = month.split("-")
        year, mon = int(year_s), int(month_s)
        first = date(year, mon, 1)
    except ValueError:
        raise ValueError("A month is written YYYY-MM, e.g. 2025-01.") from None
    nxt = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)
    return first, date.fromordinal(nxt.toordinal() - 1)


def format_vnd(amount: int) -> str:
    """1234567 -> '1.234.567 ₫' (Vietnamese thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(amount):,}".replace(",", ".") + " ₫"
