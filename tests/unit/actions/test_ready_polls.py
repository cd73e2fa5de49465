"""How often a waiting store's objects are polled: soon for a fast store, rarely for a slow one."""

import pytest

from app.reconcile.ready import poll_wait

WAITS = [(0, 1.0), (4, 1.0), (10, 2.0), (20, 4.0), (25, 5.0), (600, 5.0)]


@pytest.mark.parametrize(("waited", "wait"), WAITS)
def test_the_wait_is_a_fifth_of_the_time_waited_between_one_and_five_seconds(waited: float, wait: float):
    assert poll_wait(waited) == pytest.approx(wait)
