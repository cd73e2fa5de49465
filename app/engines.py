"""The store engines Storeplane can provision: the registry the API validates against."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Engine:
    name: str  # the chart's `engine` value
    title: str  # what people call it
    admin_path: str  # where the admin UI lives on the store's host


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine("woocommerce", "WooCommerce", "/wp-admin/"),
        Engine("medusa", "MedusaJS", "/app/"),
    )
}
