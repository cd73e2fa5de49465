"""Fixtures for the store actions against the simulated cluster and the real helm binary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.reconcile import StoreTarget
from app.reconcile.toolkit import Toolkit, toolkit
from app.settings import Settings
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import Events, cleanup, new_target, settings_for


@pytest.fixture(scope="session")
def settings(cluster: ClusterClient) -> Settings:
    return settings_for(cluster)


@pytest.fixture(scope="session")
def kit(settings: Settings) -> Toolkit:
    return toolkit(settings)


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def target(cluster: ClusterClient) -> Iterator[StoreTarget]:
    """A store nobody has provisioned yet; whatever the test leaves behind is removed afterwards."""
    t = new_target()
    yield t
    cleanup(cluster, t.namespace)
