"""Request and response bodies of the JSON API."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from app.api import cursors
from app.db.models import Store, StoreDomain, StoreEvent
from app.domains.dns import expected_records
from app.domains.names import display
from app.domains.states import CHECKABLE
from app.engines import ENGINES
from app.lifecycle import StoreStatus
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
        # The primary host the release serves: every other host of the store redirects to it.
        base = f"{settings.store_url_scheme}://{store.primary_host or store.host}"
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


# Store list pages: big enough for a dashboard screen, small enough that a page stays cheap with
# thousands of stores (the dashboard's own page is the default).
PAGE_DEFAULT = 50
PAGE_MAX = 200
STORE_CURSOR = "stores"  # the list a store cursor belongs to
STORE_CURSOR_KEYS = (datetime, str)  # (created_at, id): the list's order, app.db.stores.LIST_ORDER
_NAME_PREFIX = re.compile(rf"[a-z0-9-]{{1,{NAME_MAX}}}")


class StoreListQuery(BaseModel):
    """The query of GET /api/v1/stores and of the dashboard's list (its URL keeps these)."""

    # Unknown parameters are refused: a misspelt filter must not silently list everything.
    model_config = ConfigDict(extra="forbid")

    status: list[StoreStatus] = Field(
        default_factory=list, description="Any of these statuses (repeat the parameter for several)."
    )
    engine: list[str] = Field(
        default_factory=list,
        description="Any of these engines (repeat for several).",
        json_schema_extra={"items": {"type": "string", "enum": list(ENGINES)}},
    )
    owner: str | None = Field(
        default=None, max_length=64, description="A user name; only administrators list others' stores."
    )
    name_prefix: str | None = Field(
        default=None,
        description="Stores whose name starts with this.",
        json_schema_extra={"pattern": f"^{_NAME_PREFIX.pattern}$"},
    )
    include_deleted: bool = Field(
        default=False, description="Also the Deleted tombstones (implied by status=deleted)."
    )
    cursor: str | None = Field(
        default=None,
        max_length=cursors.MAX_LENGTH,
        description="next_cursor or prev_cursor of the previous response; leave out for the first page.",
    )
    limit: int = Field(default=PAGE_DEFAULT, ge=1, le=PAGE_MAX, description="Stores per page.")

    @field_validator("engine")
    @classmethod
    def _engines_are_registered(cls, value: list[str]) -> list[str]:
        for engine in value:
            if engine not in ENGINES:
                raise ValueError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
        return value

    @field_validator("name_prefix")
    @classmethod
    def _prefix_can_begin_a_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME_PREFIX.fullmatch(value):
            raise ValueError(
                f"a name prefix is 1 to {NAME_MAX} lowercase letters, digits or '-', as store names are"
            )
        return value

    @field_validator("cursor")
    @classmethod
    def _cursor_is_ours(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                cursors.decode(value, STORE_CURSOR, STORE_CURSOR_KEYS)
            except cursors.BadCursor as exc:
                raise ValueError(str(exc)) from None
        return value

    def decoded_cursor(self) -> cursors.Cursor | None:
        return None if self.cursor is None else cursors.decode(self.cursor, STORE_CURSOR, STORE_CURSOR_KEYS)


class StorePage(BaseModel):
    items: list[StorePublic]
    total: int = Field(description="Stores matching the filters, on every page together.")
    limit: int
    next_cursor: str | None = Field(description="The following (older) page; null on the last page.")
    prev_cursor: str | None = Field(description="The preceding (newer) page; null on the first page.")


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


class DomainCreate(Strict):
    domain: str = Field(
        description="A domain you control, e.g. shop.example.org (an IDN in Unicode or as xn--). Not an "
        "address, a wildcard, a local name or a name under the platform's own domain.",
        json_schema_extra={"minLength": 1, "maxLength": 300},
    )

    @field_validator("domain", mode="before")
    @classmethod
    def _a_string_of_sane_length(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("the domain must be a string, such as shop.example.org")
        if len(value) > 300:
            raise ValueError("the domain must be at most 253 characters")
        return value


class DnsRecordPublic(BaseModel):
    type: str
    name: str
    value: str
    purpose: str


class DomainPublic(BaseModel):
    domain: str = Field(description="The name as stored: lower case, an IDN as punycode.")
    display: str = Field(description="The name as people read it (Unicode for an IDN).")
    kind: str = Field(description="default: the store's own <name>.<baseDomain>; linked: added by the owner.")
    state: str = Field(description="pending, verified, active (served), failed or removing.")
    primary: bool = Field(description="Served as the primary address: every other address redirects to it.")
    reason: str | None = Field(default=None, description="What the last check found, or why it failed.")
    records: list[DnsRecordPublic] = Field(
        default_factory=list, description="The DNS records to create while the domain is not proven."
    )
    held: bool = False
    created_at: datetime | None = None
    checked_at: datetime | None = None
    next_check_at: datetime | None = None
    expires_at: datetime | None = None
    verified_at: datetime | None = None
    activated_at: datetime | None = None

    @classmethod
    def default(cls, store: Store) -> DomainPublic:
        return cls(
            domain=store.host,
            display=store.host,
            kind="default",
            state="active",
            primary=store.primary_host is None,
            created_at=store.created_at,
        )

    @classmethod
    def of(cls, row: StoreDomain, store: Store, settings: Settings) -> DomainPublic:
        records = expected_records(row.name, row.token, settings) if row.state in CHECKABLE else []
        return cls(
            domain=row.name,
            display=display(row.name),
            kind="linked",
            state=row.state,
            primary=store.primary_host == row.name,
            reason=row.reason,
            records=[
                DnsRecordPublic(type=r.type, name=r.name, value=r.value, purpose=r.purpose) for r in records
            ],
            held=row.held,
            created_at=row.created_at,
            checked_at=row.checked_at,
            next_check_at=row.next_check_at,
            expires_at=row.expires_at,
            verified_at=row.verified_at,
            activated_at=row.activated_at,
        )
