"""End-to-end fixtures: the whole platform (API + embedded workers) against the simulated cluster,
the real helm v4 and the real store chart, on SQLite (or PostgreSQL where a test says so)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.simcluster.client import ClusterClient
from tests.cluster.e2e.platform import Platform, platform_settings, running_platform
from tests.fixtures_db import postgres_admin_url  # noqa: F401 - fixture for the PostgreSQL tests


@pytest.fixture
def platform(cluster: ClusterClient, tmp_path) -> Iterator[Platform]:
    settings = platform_settings(cluster, tmp_path)
    with running_platform(cluster, settings) as p:
        yield p
