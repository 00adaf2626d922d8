"""The transcript's life, as one explicit state machine.  Pure: no database, no clock, no I/O.

A document's state is ``(status, step)``.  The chain is fixed by regulation (DOMAIN.md §2):

    step 1  homeroom teacher (GVCN)        — a person approves (passkey / TOTP)
    step 2  principal, or a delegate (KT.) — a person approves
    step 3  the school's unit seal         — applied by the same job, on the strength of step 2

::

    BLOCKED ──release──▶ WAITING(1) ──approve──▶ APPROVED(1) ──claim──▶ SIGNING(1) ──signed──▶ WAITING(2)
    WAITING(2) ──approve──▶ APPROVED(2) ──claim──▶ SIGNING(2) ──signed──▶ APPROVED(3)   (the seal, no human)
    APPROVED(3) ──claim──▶ SIGNING(3) ──signed──▶ COMPLETED
    SIGNING(k) ──fail──▶ FAILED(k) ──retry──▶ WAITING(k)   (step 3: APPROVED(3), the principal approved)
    SIGNING(k) ──lease_expired──▶ APPROVED(k)              (the sweep: a worker died mid-signature)
    WAITING(k) ──reject(reason)──▶ REJECTED ──resubmit──▶ WAITING(1)
    any open state ──cancel──▶ CANCELLED
    any state but SIGNING / CANCELLED / SUPERSEDED ──supersede──▶ SUPERSEDED

Everything not in ``_TABLE`` is refused with ``TransitionRefused`` (a 409 with a stable code).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

from app.errors import Conflict


class Status(StrEnum):
    BLOCKED = "blocked"  # data incomplete or no chain; a visible reason says why
    WAITING = "waiting"  # waiting for the signer of ``step`` to approve
    APPROVED = "approved"  # approved (a SAD exists); queued for signing
    SIGNING = "signing"  # claimed by a worker, under a lease
    FAILED = "failed"  # the signature of ``step`` could not be made; retryable
    COMPLETED = "completed"  # every step signed, seal applied
    REJECTED = "rejected"  # a signer refused it, with a reason; back to the clerk
    CANCELLED = "cancelled"  # withdrawn by the school
    SUPERSEDED = "superseded"  # replaced by a corrected re-issue


class Step(IntEnum):
    NONE = 0
    HOMEROOM = 1
    PRINCIPAL = 2
    SEAL = 3


HUMAN_STEPS = (Step.HOMEROOM, Step.PRINCIPAL)


class Event(StrEnum):
    RELEASE = "release"  # a blocked document's data is complete: start the chain
    BLOCK = "block"  # the chain cannot go on (roster changed, data found wrong)
    APPROVE = "approve"  # the step's signer approved (SAD minted)
    CLAIM = "claim"  # a worker took it
    SIGNED = "signed"  # the worker stored the new signed revision
    FAIL = "fail"  # the worker could not sign (HSM error, changed hash, ...)
    LEASE_EXPIRED = "lease_expired"  # the sweep found it stuck in SIGNING
    RETRY = "retry"  # try a failed step again
    REJECT = "reject"  # the step's signer refused it (reason mandatory)
    RESUBMIT = "resubmit"  # the clerk sends a rejected document back into the chain
    CANCEL = "cancel"  # the school withdraws it
    SUPERSEDE = "supersede"  # a corrected re-issue replaces it


@dataclass(frozen=True, order=True)
class State:
    status: Status
    step: Step = Step.NONE

    def __str__(self) -> str:
        return f"{self.status.value}({int(self.step)})" if self.step else self.status.value


class TransitionRefused(Conflict):
    code = "document.transition_refused"
    default_message = "The document is not in a state that allows this."


# every state a document can be in; anything else is a bug
STATES: tuple[State, ...] = (
    State(Status.BLOCKED),
    State(Status.WAITING, Step.HOMEROOM),
    State(Status.WAITING, Step.PRINCIPAL),
    *(State(Status.APPROVED, s) for s in Step if s),
    *(State(Status.SIGNING, s) for s in Step if s),
    *(State(Status.FAILED, s) for s in Step if s),
    State(Status.COMPLETED),
    State(Status.REJECTED),
    State(Status.CANCELLED),
    State(Status.SUPERSEDED),
)

TERMINAL = frozenset({State(Status.CANCELLED), State(Status.SUPERSEDED)})


def _build() -> dict[tuple[State, Event], State]:
    t: dict[tuple[State, Event], State] = {}
    blocked, rejected = State(Status.BLOCKED), State(Status.REJECTED)
    completed = State(Status.COMPLETED)
    cancelled, superseded = State(Status.CANCELLED), State(Status.SUPERSEDED)
    waiting1 = State(Status.WAITING, Step.HOMEROOM)

    t[(blocked, Event.RELEASE)] = waiting1
    for step in HUMAN_STEPS:
        waiting = State(Status.WAITING, step)
        t[(waiting, Event.APPROVE)] = State(Status.APPROVED, step)
        t[(waiting, Event.REJECT)] = rejected
        t[(waiting, Event.BLOCK)] = blocked
    for step in (Step.HOMEROOM, Step.PRINCIPAL, Step.SEAL):
        approved, signing, failed = (State(s, step) for s in (Status.APPROVED, Status.SIGNING, Status.FAILED))
        t[(approved, Event.CLAIM)] = signing
        t[(signing, Event.FAIL)] = failed
        t[(signing, Event.LEASE_EXPIRED)] = approved
        t[(failed, Event.RETRY)] = approved if step is Step.SEAL else State(Status.WAITING, step)
    t[(State(Status.SIGNING, Step.HOMEROOM), Event.SIGNED)] = State(Status.WAITING, Step.PRINCIPAL)
    t[(State(Status.SIGNING, Step.PRINCIPAL), Event.SIGNED)] = State(Status.APPROVED, Step.SEAL)
    t[(State(Status.SIGNING, Step.SEAL), Event.SIGNED)] = completed
    t[(rejected, Event.RESUBMIT)] = waiting1

    for state in STATES:
        if state in TERMINAL:
            continue
        # work in flight is never pulled from under a worker: cancel after it lands
        if state.status is not Status.SIGNING and state != completed:
            t[(state, Event.CANCEL)] = cancelled
        if state.status is not Status.SIGNING:
            t[(state, Event.SUPERSEDE)] = superseded
    return t


_TABLE = _build()


def allowed(state: State, event: Event) -> bool:
    return (state, event) in _TABLE


def next_state(state: State, event: Event) -> State:
    """The state after ``event``, or ``TransitionRefused`` naming both."""
    try:
        return _TABLE[(state, event)]
    except KeyError:
        raise TransitionRefused(
            f"A document that is {state} cannot take '{event.value}'.",
            details={"state": str(state), "event": event.value},
        ) from None


def events_from(state: State) -> list[Event]:
    """What may happen next (the PWA shows only these actions)."""
    return [event for event in Event if (state, event) in _TABLE]


def transitions() -> dict[tuple[State, Event], State]:
    """A copy of the full table (documentation, tests)."""
    return dict(_TABLE)


def signer_step(state: State) -> Step | None:
    """The human step whose signer may act now (approve or reject), if any."""
    if state.status is Status.WAITING and state.step in HUMAN_STEPS:
        return state.step
    return None
