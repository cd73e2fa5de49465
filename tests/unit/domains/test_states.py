"""The state machine of one linked domain: every legal move, and every other one refused."""

from __future__ import annotations

import itertools

import pytest

from app.domains.states import (
    CHECKABLE,
    CLAIMED,
    GONE,
    SERVABLE,
    DomainEvent,
    DomainState,
    IllegalDomainMove,
    next_state,
)

S, E = DomainState, DomainEvent

LEGAL = {
    (S.PENDING, E.CHECK_PASSED): S.VERIFIED,
    (S.PENDING, E.CHECK_FAILED): S.PENDING,
    (S.PENDING, E.EXPIRED): S.FAILED,
    (S.PENDING, E.TAKEN): S.FAILED,
    (S.FAILED, E.CHECK_PASSED): S.VERIFIED,
    (S.FAILED, E.CHECK_FAILED): S.FAILED,
    (S.FAILED, E.TAKEN): S.FAILED,
    (S.VERIFIED, E.SERVED): S.ACTIVE,
    (S.ACTIVE, E.SERVED): S.ACTIVE,
    (S.VERIFIED, E.DROPPED): S.VERIFIED,
    (S.ACTIVE, E.DROPPED): S.VERIFIED,
    (S.PENDING, E.REMOVE): GONE,
    (S.FAILED, E.REMOVE): GONE,
    (S.VERIFIED, E.REMOVE): S.REMOVING,
    (S.ACTIVE, E.REMOVE): S.REMOVING,
    (S.REMOVING, E.REMOVE): S.REMOVING,
    (S.REMOVING, E.REMOVED): GONE,
}


@pytest.mark.parametrize(("move", "after"), LEGAL.items(), ids=lambda v: str(v))
def test_each_legal_move_lands_where_the_diagram_says(move: tuple[DomainState, DomainEvent], after) -> None:
    assert next_state(*move) == after


@pytest.mark.parametrize(
    "move", [m for m in itertools.product(S, E) if m not in LEGAL], ids=lambda m: f"{m[0]}-{m[1]}"
)
def test_every_other_move_is_refused(move: tuple[DomainState, DomainEvent]) -> None:
    with pytest.raises(
        IllegalDomainMove, match=f"a domain that is {move[0]} cannot take the event {move[1]}"
    ):
        next_state(*move)


def test_a_domain_is_held_by_its_store_only_once_proven_and_served_only_when_verified_or_active() -> None:
    assert frozenset({S.VERIFIED, S.ACTIVE, S.REMOVING}) == CLAIMED  # pending claims squat nothing
    assert frozenset({S.VERIFIED, S.ACTIVE}) == SERVABLE
    assert frozenset({S.PENDING, S.FAILED}) == CHECKABLE
    assert not (SERVABLE & CHECKABLE)


def test_a_domain_can_only_be_served_after_a_check_passed() -> None:
    """No path reaches active from pending or failed without check-passed on the way."""
    reachable_without_proof = {S.PENDING, S.FAILED}
    for (state, event), after in LEGAL.items():
        if state in reachable_without_proof and event != E.CHECK_PASSED and after is not GONE:
            reachable_without_proof.add(after)
    assert S.ACTIVE not in reachable_without_proof and S.VERIFIED not in reachable_without_proof
