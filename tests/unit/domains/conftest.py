from collections.abc import Iterator

import pytest

from tests.dns_server import Zone, dns_server
from tests.fixtures_db import database_url, db, postgres_admin_url  # noqa: F401 - fixtures

INGRESS_HOST = "ingress.example.net"
INGRESS_IP = "203.0.113.10"


@pytest.fixture
def dns() -> Iterator[tuple[Zone, str]]:
    """A DNS server on 127.0.0.1 answering from a zone the test edits; the ingress host resolves."""
    with dns_server() as (zone, address):
        zone.set(INGRESS_HOST, "A", INGRESS_IP)
        yield zone, address
