"""The store engines Storeplane can provision: the one place an engine is declared.

API validation (`app/api/schemas.py`), the dashboard's choices and links (`app/pages/stores.py`),
store URLs (`StorePublic`), the admin-password reveal (`app/api/routes/credentials.py`), the chart
values the workers send (`app/reconcile/values.py`) and the metrics' engine labels
(`app/metrics.py`) all read `ENGINES`. Adding an engine = an entry here + the chart's
`templates/<engine>/` (and its name in Chart.yaml's `storeplane.io/engines`) + its application.

Registered is not the same as buildable: a store is accepted only if the deployed store chart
builds its engine too (`app/helm/chart.py` reads the chart's list), so a platform running an older
chart refuses such a store at create (422) instead of failing it at render.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class AdminCredentials:
    """Where the chart keeps the admin's generated password: Secret "<release>-<suffix>"
    (store.credentialsSecret) and the data key."""

    suffix: str
    key: str


@dataclass(frozen=True)
class Engine:
    name: str  # the chart's `engine` value and the API's
    title: str  # what people call it
    storefront_path: str  # the shop, on the store's host
    admin_path: str  # the admin UI, on the store's host
    credentials: AdminCredentials
    admin_login: str  # how the owner signs in to the admin, shown next to the revealed password
    verify_proves: str  # what "Verify" (`helm test`) proves for this engine
    # Chart values the platform adds for every store of this engine (after the environment file,
    # before the store's own values). Secrets never: the chart generates them in-cluster.
    chart_values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # Where the chart's values say which version of the engine itself a store runs (the store
    # list, the Fleet page, app/fleet/versions.py), and what that software is called.
    app_version_path: tuple[str, ...] = ()
    app_title: str = ""


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine(
            name="woocommerce",
            title="WooCommerce",
            storefront_path="/",
            admin_path="/wp-admin/",
            credentials=AdminCredentials("credentials", "admin-password"),
            admin_login="user name from the chart's admin.user (storeadmin by default)",
            verify_proves=(
                "a Cash-on-Delivery order placed through the WooCommerce Store API "
                "(cart, add item, checkout) gets an order number in status processing or on-hold"
            ),
            # The WooCommerce plugin the set-up installs (WordPress itself is the chart's appVersion).
            app_version_path=("woocommerce", "version"),
            app_title="WooCommerce",
        ),
        Engine(
            name="medusa",
            title="MedusaJS",
            storefront_path="/",
            admin_path="/app/",
            credentials=AdminCredentials("credentials", "admin-password"),
            admin_login="e-mail from the chart's admin.email (admin@<store host> by default)",
            verify_proves=(
                "an order placed through the Medusa Store API (cart, line item, addresses, shipping "
                "method, payment collection and session with the system provider, complete) is found "
                "in the admin API"
            ),
            # Our Medusa image: the @medusajs version and our revision of the app.
            app_version_path=("images", "medusa", "tag"),
            app_title="Medusa",
        ),
    )
}


class EngineNotAvailable(Exception):
    """The deployed store chart does not build this engine."""

    def __init__(self, engine: str, *, chart: str, built: Iterable[str]) -> None:
        self.engine, self.chart, self.built = engine, chart, sorted(built)
        title = ENGINES[engine].title if engine in ENGINES else engine
        super().__init__(
            f"{title} stores cannot be created here: the store chart this platform deploys ({chart}) "
            f"builds only {', '.join(self.built) or 'no engine'}. Choose one of those, or upgrade the "
            "platform's store chart."
        )


def buildable(built: Iterable[str]) -> list[Engine]:
    """Registered engines the chart builds, in registry order (what the dashboard offers)."""
    names = set(built)
    return [e for e in ENGINES.values() if e.name in names]


def require_buildable(engine: str, *, chart: str, built: Iterable[str]) -> Engine:
    built = list(built)
    if engine not in ENGINES or engine not in built:
        raise EngineNotAvailable(engine, chart=chart, built=[e.name for e in buildable(built)])
    return ENGINES[engine]
