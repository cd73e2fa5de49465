"""Knobs for accounts and abuse prevention (issue 5), mixed into `app.settings.Settings`.

Kept in their own class so the section reads as one unit; `Settings` inherits it, so there is still
one settings object and every knob is a STOREPLANE_* environment variable.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class UsersSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STOREPLANE_", extra="ignore")

    # First admin: created at start-up when no admin exists. The password comes from
    # STOREPLANE_ADMIN_PASSWORD or a file (a mounted Kubernetes Secret); there is no default.
    admin_username: str = Field(default="admin", pattern=r"^[a-z][a-z0-9_.-]{0,61}[a-z0-9]$")
    admin_password: SecretStr = SecretStr("")
    admin_password_file: str = ""

    # Signs the session cookie. Empty: read session_secret_file, else a random key kept in data_dir
    # (fine for one replica; several replicas must share one, e.g. from a Secret).
    session_secret: SecretStr = SecretStr("")
    session_secret_file: str = ""
    session_max_age_seconds: int = Field(default=12 * 3600, ge=60)
    # "auto": the cookie is Secure when the request arrived over HTTPS (directly or via a trusted proxy).
    cookie_secure: Literal["auto", "always", "never"] = "auto"

    # CIDRs of reverse proxies whose X-Forwarded-For is believed (e.g. the ingress controller's pods).
    # Comma-separated in the environment. Empty: the socket peer is the client, always.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Rate limits in the `limits` notation ("30/minute;500/hour"); storage shared by replicas when
    # it is e.g. redis://, per process with memory://.
    ratelimit_storage_uri: str = "memory://"
    ratelimit_mutations_per_user: str = "30/minute;300/hour"
    ratelimit_mutations_per_ip: str = "60/minute;600/hour"
    # Reads (API GETs, dashboard pages and their 2-second polling) per user: generous for a person
    # with a dashboard open, a brake on a script hammering the database.
    ratelimit_reads_per_user: str = "1200/minute;36000/hour"
    # Login: every attempt per client IP, and failed attempts per user name (brute force from many IPs).
    ratelimit_login_per_ip: str = "10/minute;100/hour"
    ratelimit_login_failures_per_user: str = "5/minute;20/hour"

    # Store limits: per user (admins can override per user), global, and concurrent provisioning.
    max_stores_per_user: int = Field(default=3, ge=0)
    max_stores_global: int = Field(default=100, ge=0)
    max_provisioning_per_user: int = Field(default=2, ge=1)

    # /metrics listens on its own port so the public ingress (which routes the API port) never
    # exposes it; 0 disables that listener.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_cidrs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs_parse(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"STOREPLANE_TRUSTED_PROXIES: {cidr!r} is not an IP address or CIDR"
                ) from exc
        return value

    @field_validator(
        "ratelimit_mutations_per_user",
        "ratelimit_mutations_per_ip",
        "ratelimit_reads_per_user",
        "ratelimit_login_per_ip",
        "ratelimit_login_failures_per_user",
    )
    @classmethod
    def _rate_parses(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate limit like '30/minute;300/hour'") from exc
        return value
