"""Request and response bodies of the JSON API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from app.db.models import Store, StoreEvent
from app.engines import ENGINES
from app.settings import Settings

# Always used with fullmatch: with match(), "$" also matches before a trailing newline ("nl\n").
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
NAME_MAX = 30
# Names that would collide with platform hosts under the base domain, or just confuse people.
RESERVED_NAMES = frozenset(
    {"admin", "api", "app", "apps", "auth", "dashboard", "default", "docs", "grafana", "kube-system",
     "kube-public", "localhost", "login", "mail", "metrics", "platform", "prometheus", "static", "status",
     "storeplane", "support", "www"}
)  # fmt: skip


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: a number without a fraction (2 and 2.0), never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number (a JSON number, not a string or a boolean)")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    return value


# An integer field of a Strict body: strict mode alone would refuse 2.0, which JSON Schema (and so
# our OpenAPI document) calls an integer.
JsonInt = Annotated[int, BeforeValidator(_json_integer)]


class Strict(BaseModel):
    # strict: a JSON value of the wrong type is refused, never coerced ("yes" is not true, "3" not 3).
    model_config = ConfigDict(extra="forbid", strict=True)


class StoreCreate(Strict):
    # The checks are the validators below (for their messages); the schema states the same rules.
    name: str = Field(
        description="DNS-1123 label, at most 30 characters; the store's host is <name>.<domain>.",
        json_schema_extra={
            "minLength": 1,
            "maxLength": NAME_MAX,
            "pattern": f"^{_DNS_LABEL.pattern}$",
            "not": {"enum": sorted(RESERVED_NAMES)},
        },
    )
    engine: str = Field(
        description="A registered engine; the deployed store chart must build it too "
        "(else 422 engine-not-available).",
        json_schema_extra={"enum": list(ENGINES)},
    )

    @field_validator("name", mode="before")
    @classmethod
    def _name_is_a_dns_label(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("the store name must be a string")
        if not value:
            raise ValueError("the store name cannot be empty")
        if len(value) > NAME_MAX:
            raise ValueError(f"the store name must be at most {NAME_MAX} characters (it has {len(value)})")
        if not _DNS_LABEL.fullmatch(value):
            raise ValueError(
                "the store name may contain only lowercase letters, digits and '-', "
                "and must start and end with a letter or digit"
            )
        if value in RESERVED_NAMES:
            raise ValueError(f"the store name {value!r} is reserved; choose another one")
        return value

    @field_validator("engine", mode="before")
    @classmethod
    def _engine_is_registered(cls, value: Any) -> Any:
        if not isinstance(value, str) or value not in ENGINES:
            raise ValueError(f"unknown engine {value!r}; choose one of: {', '.join(ENGINES)}")
        return value


class UpgradeRequest(Strict):
    """Upgrade to the platform's current chart and store defaults.

    Per-store chart values are deliberately not accepted: the guardrails (quota, limits, network
    policies) are chart values too, and an owner must not be able to lift them.
    """


class RollbackRequest(Strict):
    revision: JsonInt = Field(
        ge=1, le=2**31 - 1, description="A revision number from GET /stores/{id}/history."
    )


class StoreUrls(BaseModel):
    storefront: str
    admin: str


class DriftPublic(BaseModel):
    """The sweep's comparison of the store's live objects with its release (app/fleet/drift.py)."""

    state: str = Field(description="in-sync, drifted, or unchecked (not compared since its last revision)")
    revision: int | None = None
    differences: list[str] = Field(default_factory=list, description="What a repair would restore.")
    extras: list[str] = Field(
        default_factory=list, description="Objects in the namespace that are not in the release (left alone)."
    )
    checked_at: datetime | None = None

    @classmethod
    def of(cls, store: Store) -> DriftPublic:
        report = store.drift or {}
        state = "unchecked" if store.drifted is None else "drifted" if store.drifted else "in-sync"
        return cls(
            state=state,
            revision=report.get("revision"),
            differences=list(report.get("differences") or []),
            extras=list(report.get("extras") or []),
            checked_at=store.drift_checked_at,
        )


class StorePublic(BaseModel):
    id: str
    name: str
    engine: str
    status: str
    status_reason: str | None
    namespace: str
    urls: StoreUrls
    created_at: datetime
    ready_at: datetime | None
    helm_revision: int | None
    # What it runs (read from Helm's record of its revision; null until known).
    chart_version: str | None = None
    app_version: str | None = None
    pinned: bool = False
    drift: DriftPublic | None = None

    @classmethod
    def of(cls, store: Store, settings: Settings) -> StorePublic:
        base = f"{settings.store_url_scheme}://{store.host}"
        engine = ENGINES[store.engine]
        return cls(
            id=store.id,
            name=store.name,
            engine=store.engine,
            status=store.status,
            status_reason=store.status_reason,
            namespace=store.namespace,
            urls=StoreUrls(storefront=base + engine.storefront_path, admin=base + engine.admin_path),
            created_at=store.created_at,
            ready_at=store.ready_at,
            helm_revision=store.helm_revision,
            chart_version=store.chart_version,
            app_version=store.app_version,
            pinned=bool(store.pinned),
            drift=DriftPublic.of(store),
        )


class EventPublic(BaseModel):
    at: datetime
    step: str
    message: str
    duration_ms: int | None

    @classmethod
    def of(cls, event: StoreEvent) -> EventPublic:
        return cls(at=event.at, step=event.step, message=event.message, duration_ms=event.duration_ms)


class RevisionPublic(BaseModel):
    revision: int
    status: str
    chart: str | None = None
    app_version: str | None = None
    updated: datetime | None = None
    description: str | None = None
