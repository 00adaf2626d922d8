"""Every (state, event) pair of the document state machine: the allowed ones land where the chain
says, every other one is refused with a 409 naming the state and the event."""

from __future__ import annotations

import itertools

import pytest

from app.workflow.rules import (
    STATES,
    Event,
    State,
    Status,
    Step,
    TransitionRefused,
    allowed,
    events_from,
    next_state,
    signer_step,
    transitions,
)

B = State(Status.BLOCKED)
W1, W2 = State(Status.WAITING, Step.HOMEROOM), State(Status.WAITING, Step.PRINCIPAL)
A1, A2, A3 = (State(Status.APPROVED, s) for s in (Step.HOMEROOM, Step.PRINCIPAL, Step.SEAL))
S1, S2, S3 = (State(Status.SIGNING, s) for s in (Step.HOMEROOM, Step.PRINCIPAL, Step.SEAL))
F1, F2, F3 = (State(Status.FAILED, s) for s in (Step.HOMEROOM, Step.PRINCIPAL, Step.SEAL))
DONE, REJ = State(Status.COMPLETED), State(Status.REJECTED)
CAN, SUP = State(Status.CANCELLED), State(Status.SUPERSEDED)

# written out by hand from the regulation's chain — not derived from the implementation
EXPECTED: dict[tuple[State, Event], State] = {
    (B, Event.RELEASE): W1,
    (B, Event.CANCEL): CAN,
    (B, Event.SUPERSEDE): SUP,
    (W1, Event.APPROVE): A1,
    (W1, Event.REJECT): REJ,
    (W1, Event.BLOCK): B,
    (W1, Event.CANCEL): CAN,
    (W1, Event.SUPERSEDE): SUP,
    (W2, Event.APPROVE): A2,
    (W2, Event.REJECT): REJ,
    (W2, Event.BLOCK): B,
    (W2, Event.CANCEL): CAN,
    (W2, Event.SUPERSEDE): SUP,
    (A1, Event.CLAIM): S1,
    (A2, Event.CLAIM): S2,
    (A3, Event.CLAIM): S3,
    (A1, Event.CANCEL): CAN,
    (A2, Event.CANCEL): CAN,
    (A3, Event.CANCEL): CAN,
    (A1, Event.SUPERSEDE): SUP,
    (A2, Event.SUPERSEDE): SUP,
    (A3, Event.SUPERSEDE): SUP,
    (S1, Event.SIGNED): W2,
    (S2, Event.SIGNED): A3,  # the seal follows the principal's signature without a new approval
    (S3, Event.SIGNED): DONE,
    (S1, Event.FAIL): F1,
    (S2, Event.FAIL): F2,
    (S3, Event.FAIL): F3,
    (S1, Event.LEASE_EXPIRED): A1,
    (S2, Event.LEASE_EXPIRED): A2,
    (S3, Event.LEASE_EXPIRED): A3,
    (F1, Event.RETRY): W1,
    (F2, Event.RETRY): W2,
    (F3, Event.RETRY): A3,
    (F1, Event.CANCEL): CAN,
    (F2, Event.CANCEL): CAN,
    (F3, Event.CANCEL): CAN,
    (F1, Event.SUPERSEDE): SUP,
    (F2, Event.SUPERSEDE): SUP,
    (F3, Event.SUPERSEDE): SUP,
    (DONE, Event.SUPERSEDE): SUP,
    (REJ, Event.RESUBMIT): W1,
    (REJ, Event.CANCEL): CAN,
    (REJ, Event.SUPERSEDE): SUP,
}

ALL_PAIRS = list(itertools.product(STATES, list(Event)))
REFUSED = [pair for pair in ALL_PAIRS if pair not in EXPECTED]


def _id(pair: tuple[State, Event]) -> str:
    return f"{pair[0]}-{pair[1].value}"


def test_the_state_list_is_the_reachable_set() -> None:
    assert len(STATES) == len(set(STATES)) == 16
    reachable = {B}
    frontier = [B]
    while frontier:
        state = frontier.pop()
        for event in events_from(state):
            target = next_state(state, event)
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(STATES)


def test_the_table_is_exactly_the_expected_one() -> None:
    assert transitions() == EXPECTED


@pytest.mark.parametrize("pair", list(EXPECTED), ids=_id)
def test_allowed_transition(pair: tuple[State, Event]) -> None:
    state, event = pair
    assert allowed(state, event)
    assert next_state(state, event) == EXPECTED[pair]
    assert event in events_from(state)


@pytest.mark.parametrize("pair", REFUSED, ids=_id)
def test_refused_transition(pair: tuple[State, Event]) -> None:
    state, event = pair
    assert not allowed(state, event)
    with pytest.raises(TransitionRefused) as info:
        next_state(state, event)
    assert info.value.http_status == 409
    assert info.value.code == "document.transition_refused"
    assert info.value.details == {"state": str(state), "event": event.value}


def test_every_pair_is_covered_once() -> None:
    assert len(EXPECTED) + len(REFUSED) == len(STATES) * len(Event)


@pytest.mark.parametrize("state", [CAN, SUP])
def test_terminal_states_accept_nothing(state: State) -> None:
    assert events_from(state) == []


def test_work_in_flight_cannot_be_cancelled_or_superseded() -> None:
    for state in (S1, S2, S3):
        assert not allowed(state, Event.CANCEL)
        assert not allowed(state, Event.SUPERSEDE)


def test_only_waiting_human_steps_have_a_signer() -> None:
    assert signer_step(W1) is Step.HOMEROOM
    assert signer_step(W2) is Step.PRINCIPAL
    assert [s for s in STATES if signer_step(s) is not None] == [W1, W2]


def test_the_happy_path_walks_the_chain_in_order() -> None:
    path = [
        Event.RELEASE,
        Event.APPROVE,
        Event.CLAIM,
        Event.SIGNED,
        Event.APPROVE,
        Event.CLAIM,
        Event.SIGNED,
        Event.CLAIM,
        Event.SIGNED,
    ]
    state = B
    for event in path:
        state = next_state(state, event)
    assert state == DONE
