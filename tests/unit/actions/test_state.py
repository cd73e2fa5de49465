"""A release's history is observed into one of a closed set of states."""

from __future__ import annotations

import pytest

from app.helm import Revision
from app.reconcile.state import ReleaseState, classify


def rev(number: int, status: str, description: str = "") -> Revision:
    return Revision(number, status, None, "store-0.1.0", "6.8.3", description)


@pytest.mark.parametrize(
    ("statuses", "state"),
    [
        ([], ReleaseState.ABSENT),
        (["deployed"], ReleaseState.DEPLOYED),
        (["superseded", "deployed"], ReleaseState.DEPLOYED),
        (["failed"], ReleaseState.FAILED),
        (["pending-install"], ReleaseState.STALE_PENDING),
        (["deployed", "pending-upgrade"], ReleaseState.STALE_PENDING),
        (["superseded", "deployed", "pending-rollback"], ReleaseState.STALE_PENDING),
        (["deployed", "uninstalling"], ReleaseState.UNINSTALLING),
        (["uninstalled"], ReleaseState.ABSENT),
        (["unknown"], ReleaseState.UNKNOWN),
    ],
)
def test_the_latest_revision_decides_the_state(statuses: list[str], state: ReleaseState) -> None:
    assert classify([rev(i + 1, s) for i, s in enumerate(statuses)]).state is state


def test_a_pending_release_is_stale_and_says_which_revision() -> None:
    observed = classify([rev(1, "deployed"), rev(2, "pending-upgrade")])
    assert observed.reason == "revision 2 is pending-upgrade but no helm process holds it"
    assert observed.latest == rev(2, "pending-upgrade")


def test_the_deployed_revision_is_the_newest_that_ever_was_deployed() -> None:
    assert classify([rev(1, "superseded"), rev(2, "deployed"), rev(3, "failed")]).deployed_revision == 2
    assert classify([rev(1, "failed"), rev(2, "failed")]).deployed_revision is None


def test_a_failed_revision_keeps_helms_description_as_the_reason() -> None:
    observed = classify([rev(1, "failed", 'Release "shop" failed: context deadline exceeded')])
    assert observed.reason == 'revision 1 is failed: Release "shop" failed: context deadline exceeded'
