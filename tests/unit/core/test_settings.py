"""Settings refuse combinations that cannot work, with the variable names in the message."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings


def test_a_worker_limit_above_the_global_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"STOREPLANE_WORKER_CONCURRENCY \(8\) cannot exceed"):
        Settings(worker_concurrency=8, global_concurrency=4)


def test_a_retry_base_above_the_cap_is_refused() -> None:
    with pytest.raises(ValidationError, match="STOREPLANE_RETRY_BASE_SECONDS cannot exceed"):
        Settings(retry_base_seconds=300, retry_max_seconds=60)


def test_the_default_database_is_a_sqlite_file_in_the_data_directory(tmp_path) -> None:
    assert Settings(data_dir=tmp_path).effective_database_url == f"sqlite:///{tmp_path / 'storeplane.db'}"


def test_settings_come_from_storeplane_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOREPLANE_WORKER_CONCURRENCY", "2")
    monkeypatch.setenv("STOREPLANE_PROVISION_DEADLINE", "300")
    settings = Settings()
    assert (settings.worker_concurrency, settings.provision_deadline) == (2, 300)
