"""Shared fixtures. Tiers are marked by folder: tests/unit, tests/cluster, tests/browser."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from app.simcluster.client import ClusterClient
    from tests.native_medusa import NativeMedusa

TIERS = ("unit", "cluster", "browser", "native")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(scope="session")
def cluster() -> Iterator[ClusterClient]:
    """The simulated cluster: reuses a live `.cluster/`, else starts one for this session."""
    from app.simcluster.session import ensure_cluster  # unit runs never import the launcher

    with ensure_cluster() as client:
        yield client


@pytest.fixture
def namespace(cluster: ClusterClient) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards. The deletion is not awaited: the namespace
    controller holds every deletion for at least 5 s, and tests that prove teardown wait themselves."""
    name = f"t-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture(scope="session")
def medusa_store() -> Iterator[NativeMedusa]:
    """The Medusa store run natively (tests/native_medusa.py), set up twice, started once per session
    and shared by the native order tests and the browser purchase: its start-up is the slow part."""
    from tests.fixtures_db import throwaway_postgres
    from tests.native_medusa import running_native_medusa

    url = os.environ.get("STOREPLANE_TEST_PG_URL")
    with (
        nullcontext(url) if url else throwaway_postgres() as admin_url,
        running_native_medusa(admin_url) as store,
    ):
        yield store
