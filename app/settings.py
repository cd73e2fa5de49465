"""The one settings class: every knob is a STOREPLANE_* environment variable."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from app.auth.settings import UsersSettings

REPO_ROOT = Path(__file__).resolve().parent.parent


# Accounts, rate limits, store limits, metrics and logging knobs live in UsersSettings (issue 5).
class Settings(UsersSettings):
    model_config = SettingsConfigDict(env_prefix="STOREPLANE_", extra="ignore")

    # Where the platform keeps its SQLite file and other local state.
    data_dir: Path = REPO_ROOT / ".data"
    # SQLAlchemy URL; empty means a SQLite file in data_dir.
    database_url: str = ""

    # Kubernetes: a kubeconfig path (empty: $KUBECONFIG, then in-cluster) and an optional context.
    kubeconfig: str = ""
    kube_context: str = ""
    # ClusterRole the provisioner binds to itself in each store namespace right after creating it
    # (app/kube/access.py; the platform chart sets it). Empty: no binding, for admin credentials.
    store_role: str = ""

    # The helm v4 binary; empty means the one on PATH.
    helm_binary: str = ""
    # The store chart: a directory, a packaged .tgz or an OCI reference.
    store_chart: str = str(REPO_ROOT / "store-chart")
    store_chart_version: str = ""
    # Store defaults for this environment (values/stores-local.yaml, values/stores-prod.yaml).
    store_values_file: str = ""
    base_domain: str = "localhost"
    # IngressClass of store Ingresses; empty: the store values file's (which also names the
    # controller's pods for the NetworkPolicies, so the two stay consistent).
    ingress_class: str = ""
    # Scheme of the store URLs shown to users ("https" once cert-manager issues certificates).
    store_url_scheme: str = Field(default="http", pattern="^https?$")

    # Concurrency: helm processes at once in one worker, and across all workers.
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    global_concurrency: int = Field(default=16, ge=1, le=1024)

    # Timeouts in seconds.
    helm_timeout: int = Field(default=600, ge=10)
    provision_deadline: int = Field(default=1200, ge=30)
    lease_seconds: int = Field(default=30, ge=5)

    # Retries of a job that failed with a retryable error: exponential backoff, capped.
    job_max_attempts: int = Field(default=5, ge=1, le=50)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=120.0, gt=0)
    # How often an idle worker looks for new jobs.
    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # On SIGTERM, how long running jobs may finish before they are interrupted.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)

    # The reconciler: how often it sweeps, and how old an orphan namespace must be before removal
    # (a store being created has its namespace a moment before the job records progress).
    reconcile_interval_seconds: float = Field(default=30.0, gt=0)
    orphan_grace_seconds: float = Field(default=300.0, ge=0)

    # `serve`: where uvicorn listens and whether it runs workers in the same process.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    embedded_workers: bool = True

    @model_validator(mode="after")
    def _limits_are_consistent(self) -> "Settings":
        if self.worker_concurrency > self.global_concurrency:
            raise ValueError(
                f"STOREPLANE_WORKER_CONCURRENCY ({self.worker_concurrency}) cannot exceed "
                f"STOREPLANE_GLOBAL_CONCURRENCY ({self.global_concurrency})"
            )
        if self.retry_base_seconds > self.retry_max_seconds:
            raise ValueError("STOREPLANE_RETRY_BASE_SECONDS cannot exceed STOREPLANE_RETRY_MAX_SECONDS")
        return self

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'storeplane.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
