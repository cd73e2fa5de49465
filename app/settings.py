"""The one settings class: every knob is a STOREPLANE_* environment variable."""

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from app.auth.settings import UsersSettings

REPO_ROOT = Path(__file__).resolve().parent.parent

# One DNS label, lower case (RFC 1123); a domain is one or more of them joined by dots.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


# Accounts, rate limits, store limits, metrics and logging knobs live in UsersSettings (issue 5).
class Settings(UsersSettings):
    model_config = SettingsConfigDict(env_prefix="STOREPLANE_", extra="ignore")

    # Where the platform keeps its SQLite file and other local state.
    data_dir: Path = REPO_ROOT / ".data"
    # SQLAlchemy URL; empty means database_url_file, else a SQLite file in data_dir.
    database_url: str = ""
    # A file holding the URL (a Compose or Kubernetes secret): read at start, so every process of
    # the container, `docker compose exec … python -m app …` included, finds the same database.
    database_url_file: str = ""
    # Connections per pool: each API or worker process has one pool (`serve` with embedded workers
    # has two: requests and workers never wait for each other's connections), holding up to
    # size + overflow connections. The defaults (10 per process) let 4 API and 2 worker replicas
    # share PostgreSQL's default max_connections=100 with room for migrations and an operator.
    # The API serves at most size + overflow requests that use the database at once; the rest wait
    # up to db_pool_timeout seconds for a turn, then get 503 with Retry-After (never a 500).
    db_pool_size: int = Field(default=5, ge=1, le=200)
    db_max_overflow: int = Field(default=5, ge=0, le=200)
    db_pool_timeout: float = Field(default=10.0, gt=0, le=300)

    # Kubernetes: a kubeconfig path (empty: $KUBECONFIG, then in-cluster) and an optional context.
    kubeconfig: str = ""
    kube_context: str = ""
    # ClusterRole the provisioner binds to itself in each store namespace right after creating it
    # (app/kube/access.py; the platform chart sets it). Empty: no binding, for admin credentials.
    store_role: str = ""

    # The helm v4 binary; empty means the one on PATH.
    helm_binary: str = ""
    # Revisions Helm keeps per store (`--history-max`): how far back a rollback can reach. Each is a
    # Secret of ~70 KB in etcd (the chart's files travel with every revision): 1,000 stores at 5
    # revisions each take ~350 MB.
    helm_history_max: int = Field(default=5, ge=2, le=50)
    # The store chart: a directory, a packaged .tgz or an OCI reference.
    store_chart: str = str(REPO_ROOT / "store-chart")
    store_chart_version: str = ""
    # Store defaults for this environment (values/stores-local.yaml, values/stores-prod.yaml).
    store_values_file: str = ""
    base_domain: str = "localhost"
    # Store names refused on top of the built-in list (app/api/schemas.py), comma-separated: e.g. the
    # first label of the dashboard's own host when it lives under base_domain.
    reserved_names: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # IngressClass of store Ingresses; empty: the store values file's (which also names the
    # controller's pods for the NetworkPolicies, so the two stay consistent).
    ingress_class: str = ""
    # Scheme of the store URLs shown to users ("https" once cert-manager issues certificates).
    store_url_scheme: str = Field(default="http", pattern="^https?$")

    # Custom domains (app/domains): the platform's public ingress address that a linked domain must
    # point at — a DNS name for CNAME records and/or addresses for A/AAAA records (an apex domain
    # cannot have a CNAME). Neither set: custom domains are not offered.
    public_ingress_host: str = ""
    public_ingress_ips: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Nameservers the DNS checks ask ("ip" or "ip:port", comma-separated); empty: /etc/resolv.conf.
    # Point them at a resolver that does not cache for long, or checks see old answers.
    dns_resolvers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    max_domains_per_store: int = Field(default=5, ge=0, le=100)
    # Pending domains are checked again by the sweep: base·2^(checks-1) seconds after each failed
    # check, at most max; a domain still unproven after the expiry fails (remove it, add it again).
    domain_check_base_seconds: float = Field(default=60.0, gt=0)
    domain_check_max_seconds: float = Field(default=3600.0, gt=0)
    domain_pending_expiry_seconds: float = Field(default=72 * 3600.0, gt=0)
    # At most this many DNS checks per sweep (the rest wait for the next one), 8 at a time.
    domain_checks_per_sweep: int = Field(default=50, ge=1, le=1000)

    # Concurrency: helm processes at once in one worker, and across all workers.
    worker_concurrency: int = Field(default=4, ge=1, le=64)
    global_concurrency: int = Field(default=16, ge=1, le=1024)

    # Timeouts in seconds. `helm_timeout` is one store action's budget (helm's apply, then the wait
    # for readiness); the deadlines bound a job from its first pick-up, retries included: a
    # provisioning job, and any other job. `max_queue_seconds` bounds the time before the pick-up.
    helm_timeout: int = Field(default=600, ge=10)
    provision_deadline: int = Field(default=1200, ge=30)
    action_deadline: int = Field(default=1200, ge=30)
    max_queue_seconds: int = Field(default=3600, ge=60)
    lease_seconds: int = Field(default=30, ge=5)

    # Retries of a job that failed with a retryable error: exponential backoff, capped.
    job_max_attempts: int = Field(default=5, ge=1, le=50)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=120.0, gt=0)
    # How often an idle worker looks for new jobs.
    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    # On SIGTERM, how long running jobs may finish before they are interrupted.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)

    # The sweep: how often it sweeps, and how old an orphan namespace must be before removal
    # (a store being created has its namespace a moment before the job records progress).
    reconcile_interval_seconds: float = Field(default=30.0, gt=0)
    orphan_grace_seconds: float = Field(default=300.0, ge=0)

    # Fleet operations (docs/fleet.md). Drift: the sweep compares each Ready store's live objects
    # with its release; `drift_auto_repair` re-applies the release of a drifted store by itself (at
    # most once per `drift_repair_backoff_seconds` per store, so a repair that cannot fix something
    # is not repeated every sweep). `drift_concurrency`: stores read at once when the credentials
    # allow only per-namespace lists. Rollouts: how often the controller moves them on.
    drift_detection: bool = True
    drift_auto_repair: bool = False
    drift_repair_backoff_seconds: float = Field(default=900.0, ge=0)
    drift_concurrency: int = Field(default=8, ge=1, le=64)
    # Changed stores compared per sweep (each costs its release and its namespace's objects); the
    # rest wait for the next sweep, least recently checked first.
    drift_batch: int = Field(default=20, ge=1, le=1000)
    rollout_tick_seconds: float = Field(default=0.5, gt=0, le=60)

    # Request bodies larger than this are refused with 413 before anything parses them or checks who
    # sent them; the largest legitimate body (a store, user or token request, the login form) is
    # well under 1 KiB.
    max_request_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    # `serve`: where uvicorn listens and whether it runs workers in the same process.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    embedded_workers: bool = True

    @field_validator("base_domain")
    @classmethod
    def _domain_is_a_dns_name(cls, value: str) -> str:
        labels = value.split(".")
        if len(value) > 200 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
            raise ValueError(
                f"STOREPLANE_BASE_DOMAIN {value!r} is not a DNS name: lower-case labels of letters, "
                "digits and '-' joined by dots, such as stores.example.com or localhost"
            )
        return value

    @field_validator("public_ingress_host")
    @classmethod
    def _ingress_host_is_a_dns_name(cls, value: str) -> str:
        value = value.strip().rstrip(".").lower()
        if value and (len(value) > 253 or not all(_DNS_LABEL.fullmatch(p) for p in value.split("."))):
            raise ValueError(f"STOREPLANE_PUBLIC_INGRESS_HOST {value!r} is not a DNS name")
        return value

    @field_validator("public_ingress_ips", "dns_resolvers", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("public_ingress_ips")
    @classmethod
    def _ips_are_addresses(cls, value: list[str]) -> list[str]:
        try:
            return [str(ipaddress.ip_address(v)) for v in value]
        except ValueError as exc:
            raise ValueError(f"STOREPLANE_PUBLIC_INGRESS_IPS: {exc}") from exc

    @field_validator("dns_resolvers")
    @classmethod
    def _resolvers_are_addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            parse_nameserver(entry)  # raises ValueError with the reason
        return value

    @field_validator("reserved_names", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("reserved_names")
    @classmethod
    def _names_are_labels(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _DNS_LABEL.fullmatch(name):
                raise ValueError(f"STOREPLANE_RESERVED_NAMES: {name!r} is not a lower-case DNS label")
        return value

    @model_validator(mode="after")
    def _limits_are_consistent(self) -> "Settings":
        if self.worker_concurrency > self.global_concurrency:
            raise ValueError(
                f"STOREPLANE_WORKER_CONCURRENCY ({self.worker_concurrency}) cannot exceed "
                f"STOREPLANE_GLOBAL_CONCURRENCY ({self.global_concurrency})"
            )
        if self.domain_check_base_seconds > self.domain_check_max_seconds:
            raise ValueError(
                "STOREPLANE_DOMAIN_CHECK_BASE_SECONDS cannot exceed STOREPLANE_DOMAIN_CHECK_MAX_SECONDS"
            )
        if self.retry_base_seconds > self.retry_max_seconds:
            raise ValueError("STOREPLANE_RETRY_BASE_SECONDS cannot exceed STOREPLANE_RETRY_MAX_SECONDS")
        if not self.database_url and self.database_url_file:
            self.database_url = _read_secret_file(self.database_url_file, "STOREPLANE_DATABASE_URL_FILE")
        return self

    @property
    def domains_enabled(self) -> bool:
        """Custom domains need somewhere for them to point: the operator's public ingress address."""
        return bool(self.public_ingress_host or self.public_ingress_ips)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'storeplane.db'}"


def parse_nameserver(entry: str) -> tuple[str, int]:
    """'203.0.113.53', '127.0.0.1:5353', '[::1]:5353' or '::1' → (address, port)."""
    text, port = entry.strip(), "53"
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        if rest:
            port = rest.removeprefix(":")
    elif text.count(":") == 1:
        address, port = text.split(":")
    else:
        address = text
    try:
        ipaddress.ip_address(address)
        number = int(port)
    except ValueError as exc:
        raise ValueError(f"STOREPLANE_DNS_RESOLVERS: {entry!r} is not an address[:port]") from exc
    if not 1 <= number <= 65535:
        raise ValueError(f"STOREPLANE_DNS_RESOLVERS: {entry!r} has no valid port")
    return address, number


def _read_secret_file(path: str, name: str) -> str:
    try:
        value = Path(path).read_text().strip()
    except OSError as exc:
        raise ValueError(f"{name} names {path}, which cannot be read: {exc.strerror}") from exc
    if not value:
        raise ValueError(f"{name} names {path}, which is empty")
    return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
