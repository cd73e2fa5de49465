"""Whether the platform runs against the simulated cluster, for the pages (the banner) to show.

Asked of the Kubernetes API (app.kube: only KWOK fake nodes) by a startup task, because a cluster
does not change kind while the platform runs; pages read the remembered answer and never wait
for the cluster. Until an answer arrives, or where it cannot be had (the provisioner may not list
nodes on a real cluster: that is not the simulated one), no banner is shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app import errors
from app.settings import Settings

log = logging.getLogger("storeplane.cluster_info")

RETRY_SECONDS = 10.0


class ClusterInfo:
    def __init__(self, ask_simulated: Callable[[], Awaitable[bool]]) -> None:
        self._ask = ask_simulated
        self.simulated: bool | None = None

    async def learn(self, stop: asyncio.Event) -> None:
        """Ask until the cluster answers; retry only while it is unreachable."""
        while not stop.is_set():
            try:
                self.simulated = await self._ask()
                if self.simulated:
                    log.info("the cluster is the simulated one: nothing runs in containers")
                return
            except errors.RetryableError as exc:
                log.info("cluster kind not known yet: %s", exc.message)
            except errors.StoreplaneError as exc:  # e.g. 403 on nodes: a real cluster's RBAC
                log.info("cluster kind not known: %s", exc.message)
                return
            try:
                await asyncio.wait_for(stop.wait(), RETRY_SECONDS)
            except TimeoutError:
                continue


def simulated_cluster(state: object) -> bool:
    """The pages' question: is this the simulated cluster? (False until known.)"""
    info = getattr(state, "cluster_info", None)
    return isinstance(info, ClusterInfo) and info.simulated is True


def kube_simulated(settings: Settings) -> Callable[[], Awaitable[bool]]:
    """The default question, asked through app.kube."""

    async def ask() -> bool:
        from app.kube import get_kube

        return await get_kube(settings).simulated()

    return ask
