"""What kind of cluster the platform talks to. The simulated cluster (app/simcluster) has only
KWOK fake nodes, labelled `type: kwok` as KWOK's documentation does; nothing runs in a container
there, so the dashboard must not let a store look like a working shop (issue 11)."""

from __future__ import annotations

from lightkube import AsyncClient, operators
from lightkube.resources.core_v1 import Node

from app import errors
from app.kube.client import api_call, status_code

SIMULATED_NODE_LABEL = ("type", "kwok")


async def runs_only_simulated_nodes(client: AsyncClient) -> bool:
    """True when the cluster has nodes and every one of them is a KWOK fake node. A credential that
    may not list nodes (platform-chart's provisioner, on a real cluster) gets False: the simulated
    cluster is run with admin credentials (`make demo`, the tests)."""
    key, value = SIMULATED_NODE_LABEL
    try:
        with api_call("list the cluster's nodes"):
            async for _ in client.list(Node, labels={key: operators.not_equal(value)}, chunk_size=1):
                return False  # a node that can run containers
            async for _ in client.list(Node, labels={key: value}, chunk_size=1):
                return True
    except errors.PermanentError as exc:
        if exc.__cause__ is not None and status_code(exc.__cause__) == 403:
            return False
        raise
    return False  # no node at all: nothing to say
