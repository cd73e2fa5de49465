"""The one settings class: every knob is a STOREPLANE_* environment variable."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOREPLANE_", extra="ignore")

    # Where the platform keeps its SQLite file and other local state.
    data_dir: Path = REPO_ROOT / ".data"
    # SQLAlchemy URL; empty means a SQLite file in data_dir.
    database_url: str = ""

    # Kubernetes: a kubeconfig path (empty: $KUBECONFIG, then in-cluster) and an optional context.
    kubeconfig: str = ""
    kube_context: str = ""

    # The helm v4 binary; empty means the one on PATH.
    helm_binary: str = ""
    # The store chart: a directory, a packaged .tgz or an OCI reference.
    store_chart: str = str(REPO_ROOT / "store-chart")
    store_chart_version: str = ""
    # Store defaults for this environment (values/stores-local.yaml, values/stores-prod.yaml).
    store_values_file: str = ""
    base_domain: str = "localhost"
    ingress_class: str = "nginx"

    # Concurrency: helm processes at once in one worker, and across all workers.
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    global_concurrency: int = Field(default=16, ge=1, le=1024)

    # Timeouts in seconds.
    helm_timeout: int = Field(default=600, ge=10)
    provision_deadline: int = Field(default=1200, ge=30)
    lease_seconds: int = Field(default=30, ge=5)


@lru_cache
def get_settings() -> Settings:
    return Settings()
