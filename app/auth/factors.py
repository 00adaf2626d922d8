"""Factor mechanics shared by enrolment and sign-in: challenges, TOTP steps, recovery codes, locks.

Nothing here commits; callers own the transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pyotp
import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import db
from app.auth import crypto
from app.auth.models import AuthChallenge, FactorLock, RecoveryCode, TotpFactor
from app.errors import AuthenticationFailed

log = structlog.get_logger(__name__)

CHALLENGE_TTL = timedelta(minutes=5)
TOTP_ENROL_TTL = timedelta(minutes=10)
TOTP_STEP = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # accept the previous and the next step (clock drift)
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


# challenges ----------------------------------------------------------------------------------------
def put_challenge(
    s: Session,
    *,
    purpose: str,
    binding: str,
    now: datetime,
    ttl: timedelta = CHALLENGE_TTL,
    challenge: bytes | None = None,
    person_id: str | None = None,
    invitation_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuthChallenge:
    """Store the one pending challenge of ``(binding, purpose)``, replacing an earlier one."""
    s.execute(delete(AuthChallenge).where(AuthChallenge.expires_at < now - ttl))
    s.execute(delete(AuthChallenge).where(AuthChallenge.binding == binding, AuthChallenge.purpose == purpose))
    row = AuthChallenge(
        purpose=purpose,
        binding=binding,
        challenge=challenge if challenge is not None else secrets.token_bytes(32),
        person_id=person_id,
        invitation_id=invitation_id,
        data=data or {},
        created_at=now,
        expires_at=now + ttl,
    )
    s.add(row)
    s.flush()
    return row


def pop_challenge(s: Session, *, purpose: str, binding: str | None, now: datetime) -> AuthChallenge | None:
    """Take the pending challenge away (single use, even when verification then fails)."""
    if binding is None:
        return None
    row = s.execute(
        select(AuthChallenge).where(AuthChallenge.binding == binding, AuthChallenge.purpose == purpose)
    ).scalar_one_or_none()
    if row is None:
        return None
    deleted = s.execute(delete(AuthChallenge).where(AuthChallenge.id == row.id))
    if getattr(deleted, "rowcount", 0) != 1:  # a concurrent request took it first
        return None
    s.expunge(row)
    return row if now < row.expires_at else None


# TOTP ----------------------------------------------------------------------------------------------
def new_totp_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters = 160 bits


def totp_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP).provisioning_uri(
        name=account, issuer_name=issuer
    )


def match_totp_step(secret: str, code: str, now: datetime, *, after_step: int | None) -> int | None:
    """The time step ``code`` belongs to (within the window), only if it is later than ``after_step``."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_STEP)
    current = int(now.timestamp()) // TOTP_STEP
    found: int | None = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        # compare every candidate, so the time taken does not depend on which one matched
        if crypto.same(totp.at(step * TOTP_STEP), code) and found is None:
            found = step
    if found is None or (after_step is not None and found <= after_step):
        return None
    return found


def consume_totp_step(s: Session, factor: TotpFactor, step: int, now: datetime) -> bool:
    """Record ``step`` as used; False when a concurrent request used it (or a later one) first."""
    result = s.execute(
        update(TotpFactor)
        .where(
            TotpFactor.id == factor.id,
            (TotpFactor.last_used_step.is_(None)) | (TotpFactor.last_used_step < step),
        )
        .values(last_used_step=step, last_used_at=now)
    )
    return getattr(result, "rowcount", 0) == 1


# recovery codes ------------------------------------------------------------------------------------
def normalise_recovery_code(code: str) -> str:
    return "".join(c for c in (code or "").upper() if c.isalnum())


def new_recovery_codes(s: Session, person_id: str, now: datetime) -> list[str]:
    """Replace the person's recovery codes with 10 new ones; returns them (shown once)."""
    s.execute(delete(RecoveryCode).where(RecoveryCode.person_id == person_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        code = f"{raw[0:4]}-{raw[4:8]}-{raw[8:12]}"
        s.add(RecoveryCode(person_id=person_id, code_hash=crypto.digest(raw), created_at=now))
        codes.append(code)
    return codes


def consume_recovery_code(s: Session, person_id: str, code: str, now: datetime) -> bool:
    wanted = crypto.digest(normalise_recovery_code(code))
    rows = s.execute(
        select(RecoveryCode.id, RecoveryCode.code_hash).where(
            RecoveryCode.person_id == person_id, RecoveryCode.used_at.is_(None)
        )
    ).all()
    match = None
    for row_id, code_hash in rows:
        if crypto.same(code_hash, wanted) and match is None:
            match = row_id
    if match is None:
        return False
    used = s.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == match, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    return getattr(used, "rowcount", 0) == 1


def remaining_recovery_codes(s: Session, person_id: str) -> int:
    return int(
        s.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.person_id == person_id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


# failure counting and locks -------------------------------------------------------------------------
def _lock_row(s: Session, person_id: str, factor: str) -> FactorLock | None:
    return s.execute(
        select(FactorLock)
        .where(FactorLock.person_id == person_id, FactorLock.factor == factor)
        .with_for_update()
    ).scalar_one_or_none()


def locked_until(s: Session, person_id: str, factor: str, now: datetime) -> datetime | None:
    row = s.execute(
        select(FactorLock.locked_until).where(FactorLock.person_id == person_id, FactorLock.factor == factor)
    ).scalar_one_or_none()
    return row if row is not None and row > now else None


def note_failure(s: Session, person_id: str, factor: str, now: datetime) -> bool:
    """Count a wrong attempt; returns True when this failure locks the factor."""
    row = _lock_row(s, person_id, factor)
    if row is None:
        try:
            with s.begin_nested():  # two first failures at once: one inserts, the other re-reads
                s.add(FactorLock(person_id=person_id, factor=factor, failed_count=0))
        except IntegrityError:
            pass
        row = _lock_row(s, person_id, factor)
        assert row is not None
    if row.locked_until is not None and row.locked_until <= now:  # an old lock ran out: start afresh
        row.failed_count, row.locked_until = 0, None
    row.failed_count += 1
    row.last_failure_at = now
    if row.failed_count >= MAX_FAILURES and row.locked_until is None:
        row.locked_until = now + LOCK_FOR
        return True
    return False


def note_success(s: Session, person_id: str, factor: str) -> None:
    s.execute(
        update(FactorLock)
        .where(FactorLock.person_id == person_id, FactorLock.factor == factor, FactorLock.failed_count > 0)
        .values(failed_count=0, locked_until=None)
    )


def unlock(s: Session, person_id: str) -> list[str]:
    """Clear every lock and failure count of a person; returns the factors that were locked."""
    rows = s.execute(select(FactorLock).where(FactorLock.person_id == person_id)).scalars().all()
    was_locked = sorted(r.factor for r in rows if r.locked_until is not None)
    s.execute(delete(FactorLock).where(FactorLock.person_id == person_id))
    return was_locked


# transactions that keep their failures ---------------------------------------------------------------
class Refused(Exception):
    """Raised inside ``auth_transaction``: the reason is logged, the client only hears 401."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextmanager
def auth_transaction() -> Iterator[Session]:
    """Like ``transaction()``, except that a ``Refused`` still commits what was written before it
    (the popped challenge, the failure count, the audit record) and becomes 401 ``auth.failed``."""
    s = db.session()
    try:
        yield s
    except Refused as exc:
        s.commit()
        log.info("authentication_refused", reason=exc.reason)
        raise AuthenticationFailed() from None
    except BaseException:
        s.rollback()
        raise
    else:
        s.commit()
