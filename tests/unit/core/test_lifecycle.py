"""The store state machine: every legal move, and a clear refusal of the others."""

from __future__ import annotations

import pytest

from app.lifecycle import LEGAL, Action, IllegalTransition, StoreStatus, can_move, on_request, transition

S = StoreStatus


def test_a_new_store_is_provisioned_then_ready_or_failed() -> None:
    assert transition(S.PENDING, S.PROVISIONING) == S.PROVISIONING
    assert can_move(S.PROVISIONING, S.READY) and can_move(S.PROVISIONING, S.FAILED)


@pytest.mark.parametrize("status", [s for s in S if s not in (S.DELETING, S.DELETED)])
def test_any_live_store_may_be_deleted(status: StoreStatus) -> None:
    assert on_request(Action.DELETE, status) == S.DELETING


def test_deleting_twice_is_harmless_and_a_deleted_store_cannot_be_deleted_again() -> None:
    assert on_request(Action.DELETE, S.DELETING) == S.DELETING
    with pytest.raises(IllegalTransition, match="Cannot delete a store that is deleted"):
        on_request(Action.DELETE, S.DELETED)


@pytest.mark.parametrize("action", [Action.UPGRADE, Action.ROLLBACK])
@pytest.mark.parametrize("status", [S.READY, S.FAILED])
def test_ready_and_failed_stores_can_be_upgraded_or_rolled_back(action: Action, status: StoreStatus) -> None:
    assert on_request(action, status) == S.UPGRADING


@pytest.mark.parametrize("status", [S.PENDING, S.PROVISIONING, S.UPGRADING, S.DELETING, S.DELETED])
def test_upgrading_a_store_that_is_busy_or_gone_is_refused_with_the_allowed_states(
    status: StoreStatus,
) -> None:
    with pytest.raises(IllegalTransition) as refused:
        on_request(Action.UPGRADE, status)
    assert refused.value.message == (
        f"Cannot upgrade a store that is {status}; upgrade is allowed when the store is failed, ready."
    )


def test_verify_needs_a_ready_store_and_does_not_change_its_status() -> None:
    assert on_request(Action.VERIFY, S.READY) == S.READY
    with pytest.raises(IllegalTransition):
        on_request(Action.VERIFY, S.FAILED)


def test_a_deleted_store_is_a_tombstone_with_no_way_out() -> None:
    assert not [target for (source, target) in LEGAL if source == S.DELETED]
    with pytest.raises(IllegalTransition, match="A store that is deleted cannot become ready"):
        transition(S.DELETED, S.READY)


def test_a_store_cannot_skip_provisioning_or_come_back_from_deleting() -> None:
    assert not can_move(S.PENDING, S.READY)
    assert not can_move(S.DELETING, S.READY)
    assert not can_move(S.DELETING, S.UPGRADING)
