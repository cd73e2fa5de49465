"""The remembered answer to "is this the simulated cluster?" that the pages' banner reads."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from app import errors
from app.api.cluster_info import ClusterInfo, simulated_cluster


def asker(*answers: object):
    """An ask() that returns or raises the given answers in turn, counting calls."""
    calls = []

    async def ask() -> bool:
        answer = answers[len(calls)]
        calls.append(answer)
        if isinstance(answer, Exception):
            raise answer
        return bool(answer)

    return ask, calls


async def test_an_unreachable_cluster_is_asked_again_until_it_answers(monkeypatch):
    monkeypatch.setattr("app.api.cluster_info.RETRY_SECONDS", 0.01)
    ask, calls = asker(errors.ClusterUnreachable("down"), True)
    info = ClusterInfo(ask)

    await info.learn(asyncio.Event())

    assert (info.simulated, len(calls)) == (True, 2)
    assert simulated_cluster(SimpleNamespace(cluster_info=info)) is True


async def test_a_refusal_is_not_the_simulated_cluster_and_is_not_asked_again():
    ask, calls = asker(errors.PermanentError("list the cluster's nodes: forbidden (HTTP 403)"))
    info = ClusterInfo(ask)

    await info.learn(asyncio.Event())

    assert (info.simulated, len(calls)) == (None, 1)
    assert simulated_cluster(SimpleNamespace(cluster_info=info)) is False


def test_pages_without_an_answer_show_no_banner():
    assert simulated_cluster(SimpleNamespace()) is False
    assert simulated_cluster(SimpleNamespace(cluster_info=ClusterInfo(asker(False)[0]))) is False
