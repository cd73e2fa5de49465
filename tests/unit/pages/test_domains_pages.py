"""The store page's Domains section over HTTP: the API's rules and sentences, the DNS records to
create, the check against a DNS server on 127.0.0.1, audit entries, and no form without CSRF."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.lifecycle import StoreStatus
from tests.dns_server import Zone, dns_server
from tests.fixtures_db import Db
from tests.unit.pages.test_stores_pages import _browser, _create, _settle, _store
from tests.unit.users.platform import Platform, running_platform

INGRESS = "ingress.example.net"


@pytest.fixture
def zone() -> Iterator[tuple[Zone, str]]:
    with dns_server() as served:
        yield served


@pytest.fixture
def platform(db: Db, tmp_path, zone: tuple[Zone, str]) -> Iterator[Platform]:
    with running_platform(
        db,
        tmp_path,
        public_ingress_host=INGRESS,
        dns_resolvers=zone[1],
        dns_timeout_seconds=1.0,
        max_domains_per_store=2,
    ) as p:
        yield p


def test_adding_a_domain_shows_its_dns_records_and_a_refusal_is_inline(platform: Platform, zone) -> None:
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    _settle(platform, store.id, StoreStatus.READY)
    page = client.get(f"/stores/{store.id}").text
    assert 'id="domains"' in page and "shop.localhost" in page and "The store's own address" in page
    detail = htmx | {"HX-Target": "store-detail"}
    added = client.post(f"/stores/{store.id}/domains", data={"domain": "Shop.Example.org"}, headers=detail)
    assert added.status_code == 200 and "<html" not in added.text
    assert 'data-domain="shop.example.org" data-state="pending"' in added.text
    assert (
        "<code>_storeplane.shop.example.org</code>" in added.text
        and f'<code class="secret">{INGRESS}</code>' in added.text
    )
    assert platform.audit()[-1].action == "domain.add" and platform.audit()[-1].outcome == "success"

    refused = client.post(f"/stores/{store.id}/domains", data={"domain": "203.0.113.9"}, headers=detail)
    assert 'id="domain-error"' in refused.text and "is an IP address" in refused.text
    assert platform.audit()[-1].outcome == "failure"
    client.post(f"/stores/{store.id}/domains", data={"domain": "www.example.org"}, headers=detail)
    limited = client.post(f"/stores/{store.id}/domains", data={"domain": "three.example.org"}, headers=detail)
    assert "at most 2 linked domains" in limited.text and platform.audit()[-1].outcome == "denied"


def test_check_now_verifies_against_dns_and_the_domain_can_then_become_primary(
    platform: Platform, zone
) -> None:
    records, _ = zone
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    _settle(platform, store.id, StoreStatus.READY)
    detail = htmx | {"HX-Target": "store-detail"}
    client.post(f"/stores/{store.id}/domains", data={"domain": "shop.example.org"}, headers=detail)
    page = client.get(f"/stores/{store.id}").text
    token = page.split('<code>_storeplane.shop.example.org</code></td><td><code class="secret">')[1].split(
        "<"
    )[0]
    checked = client.post(f"/stores/{store.id}/domains/shop.example.org/check", headers=detail)
    assert "No TXT record at _storeplane.shop.example.org yet." in checked.text
    records.set("_storeplane.shop.example.org", "TXT", token)
    records.set("shop.example.org", "CNAME", INGRESS)
    checked = client.post(f"/stores/{store.id}/domains/shop.example.org/check", headers=detail)
    assert 'data-domain="shop.example.org" data-state="verified"' in checked.text
    assert platform.audit()[-1].action == "domain.check"
    # Verifying queued the store action (the store is busy now), so "Make primary" waits for it.
    assert "Make primary" not in checked.text
    _settle(platform, store.id, StoreStatus.READY)
    page = client.get(f"/stores/{store.id}").text
    assert "Make primary" in page
    made = client.post(f"/stores/{store.id}/domains/shop.example.org/primary", headers=detail)
    assert made.status_code == 200 and 'id="domain-error"' not in made.text
    assert "domains requested: make shop.example.org the primary address" in made.text
    assert platform.audit()[-1].action == "domain.primary"


def test_domain_forms_need_the_csrf_token_and_others_stores_are_absent(platform: Platform) -> None:
    alice, htmx = _browser(platform, "alice")
    _create(alice, htmx, "shop")
    store = _store(platform, "shop")
    no_csrf = alice.post(
        f"/stores/{store.id}/domains", data={"domain": "a.example.org"}, headers={"HX-Request": "true"}
    )
    assert no_csrf.status_code == 403
    bob, bob_htmx = _browser(platform, "bob")
    assert (
        bob.post(
            f"/stores/{store.id}/domains", data={"domain": "a.example.org"}, headers=bob_htmx
        ).status_code
        == 404
    )
