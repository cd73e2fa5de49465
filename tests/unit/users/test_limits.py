"""Every store limit, when hit, answers with the right status and names the limit, value and usage."""

import pytest

from app import metrics
from app.limits import LimitExceeded, StoreLimits, StoreUsage, check_can_create

LIMITS = StoreLimits(per_user=3, global_max=10, provisioning_per_user=2)


def test_under_every_limit_a_store_may_be_created():
    check_can_create(LIMITS, StoreUsage(user_stores=2, all_stores=9, user_provisioning=1))


@pytest.mark.parametrize(
    ("usage", "limit", "status", "value", "current"),
    [
        (StoreUsage(3, 5, 0), "stores_per_user", 409, 3, 3),
        (StoreUsage(1, 10, 0), "stores_global", 409, 10, 10),
        (StoreUsage(2, 5, 2), "provisioning_per_user", 429, 2, 2),
    ],
)
def test_each_limit_answers_with_its_status_name_value_and_usage(usage, limit, status, value, current):
    before = metrics.REGISTRY.get_sample_value("storeplane_limit_rejections_total", {"limit": limit}) or 0
    with pytest.raises(LimitExceeded) as caught:
        check_can_create(LIMITS, usage)
    error = caught.value
    assert (error.limit, error.status_code, error.value, error.usage) == (limit, status, value, current)
    assert str(error).startswith(f"limit {limit} reached: {current} of {value} in use; ")
    assert (
        metrics.REGISTRY.get_sample_value("storeplane_limit_rejections_total", {"limit": limit}) == before + 1
    )


def test_a_per_user_override_replaces_the_default_in_both_directions():
    raised = StoreLimits.for_user(default_per_user=3, user_override=5, global_max=10, provisioning_per_user=2)
    check_can_create(raised, StoreUsage(4, 4, 0))
    blocked = StoreLimits.for_user(
        default_per_user=3, user_override=0, global_max=10, provisioning_per_user=2
    )
    with pytest.raises(LimitExceeded, match="limit stores_per_user reached: 0 of 0 in use"):
        check_can_create(blocked, StoreUsage(0, 0, 0))
    default = StoreLimits.for_user(
        default_per_user=3, user_override=None, global_max=10, provisioning_per_user=2
    )
    assert default.per_user == 3
