"""The DNS checks, with dnspython, against a DNS server on 127.0.0.1 that the test controls."""

from __future__ import annotations

from app.domains.dns import DnsVerifier, expected_records
from app.settings import Settings
from tests.dns_server import Zone
from tests.unit.domains.conftest import INGRESS_HOST, INGRESS_IP

TOKEN = "storeplane-verify-0123456789abcdef0123456789abcdef"


def verifier(address: str, **overrides: object) -> DnsVerifier:
    values = {"public_ingress_host": INGRESS_HOST, "dns_resolvers": address, "dns_timeout_seconds": 1.0}
    return DnsVerifier(Settings(**(values | overrides)))  # type: ignore[arg-type]


async def test_a_txt_token_and_a_cname_to_the_ingress_pass(dns: tuple[Zone, str]) -> None:
    zone, address = dns
    zone.set("_storeplane.shop.example.org", "TXT", "some-other-verification", TOKEN)
    zone.set("shop.example.org", "CNAME", INGRESS_HOST)
    result = await verifier(address).check("shop.example.org", TOKEN)
    assert (result.passed, result.reason, result.transient) == (True, "", False)


async def test_an_apex_domain_passes_with_an_a_record_to_the_ingress_address(dns: tuple[Zone, str]) -> None:
    zone, address = dns
    zone.set("_storeplane.example.org", "TXT", TOKEN)
    zone.set("example.org", "A", INGRESS_IP)
    assert (await verifier(address).check("example.org", TOKEN)).passed
    # With only the addresses configured (no ingress host) the same holds.
    assert (
        await verifier(address, public_ingress_host="", public_ingress_ips=INGRESS_IP).check(
            "example.org", TOKEN
        )
    ).passed


async def test_a_wrong_token_fails_ownership_and_says_what_the_record_holds(dns: tuple[Zone, str]) -> None:
    zone, address = dns
    zone.set("_storeplane.shop.example.org", "TXT", "storeplane-verify-not-this-one")
    zone.set("shop.example.org", "CNAME", INGRESS_HOST)
    result = await verifier(address).check("shop.example.org", TOKEN)
    assert (result.ownership, result.routing, result.transient) == (False, True, False)
    assert result.reason == (
        "The TXT record at _storeplane.shop.example.org holds 'storeplane-verify-not-this-one', "
        "not this domain's token."
    )


async def test_missing_records_say_what_to_create(dns: tuple[Zone, str]) -> None:
    _, address = dns
    result = await verifier(address).check("shop.example.org", TOKEN)
    assert not result.passed and not result.transient
    assert result.reason == (
        "No TXT record at _storeplane.shop.example.org yet. shop.example.org does not point anywhere yet: "
        f"it needs a CNAME to {INGRESS_HOST}."
    )


async def test_a_domain_pointing_elsewhere_fails_routing_naming_the_stray_address(
    dns: tuple[Zone, str],
) -> None:
    zone, address = dns
    zone.set("_storeplane.shop.example.org", "TXT", TOKEN)
    zone.set("shop.example.org", "A", INGRESS_IP, "198.51.100.7")  # one old address left behind
    result = await verifier(address).check("shop.example.org", TOKEN)
    assert (result.ownership, result.routing) == (True, False)
    assert "points to 198.51.100.7, not to this platform" in result.reason


async def test_a_cname_to_another_host_with_the_ingress_address_still_routes_here(
    dns: tuple[Zone, str],
) -> None:
    zone, address = dns
    zone.set("_storeplane.shop.example.org", "TXT", TOKEN)
    zone.set("shop.example.org", "CNAME", "edge.example.org")
    zone.set("edge.example.org", "A", INGRESS_IP)
    assert (await verifier(address).check("shop.example.org", TOKEN)).passed


async def test_a_failing_nameserver_is_transient_not_a_verdict(dns: tuple[Zone, str]) -> None:
    zone, address = dns
    zone.broken.add("_storeplane.shop.example.org")
    result = await verifier(address).check("shop.example.org", TOKEN)
    assert result.transient and not result.passed
    assert result.reason == (
        "the DNS lookup failed (the nameservers refused or failed to answer); it is tried again later"
    )
    zone.broken.clear()
    zone.muted.add("_storeplane.shop.example.org")
    result = await verifier(address, dns_timeout_seconds=0.3).check("shop.example.org", TOKEN)
    assert result.transient and "no answer in time" in result.reason


def test_the_records_to_create_are_the_token_and_the_ingress_target() -> None:
    settings = Settings(public_ingress_host=INGRESS_HOST, public_ingress_ips="203.0.113.10,2001:db8::10")
    records = [(r.type, r.name, r.value) for r in expected_records("shop.example.org", TOKEN, settings)]
    assert records == [
        ("TXT", "_storeplane.shop.example.org", TOKEN),
        ("CNAME", "shop.example.org", INGRESS_HOST),
        ("A", "shop.example.org", "203.0.113.10"),
        ("AAAA", "shop.example.org", "2001:db8::10"),
    ]


async def test_without_any_resolver_the_check_is_transient_and_says_what_to_set(monkeypatch) -> None:
    import dns.asyncresolver
    import dns.resolver

    def no_configuration(self, *args, **kwargs):  # a machine without /etc/resolv.conf
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    async def no_query(*args, **kwargs):  # nothing may leave the machine, whatever happens above
        raise AssertionError("a DNS query was sent")

    monkeypatch.setattr(dns.resolver.BaseResolver, "read_resolv_conf", no_configuration)
    monkeypatch.setattr(dns.asyncresolver.Resolver, "resolve", no_query)
    result = await DnsVerifier(Settings(public_ingress_host=INGRESS_HOST)).check("shop.example.org", TOKEN)
    assert result.transient and "STOREPLANE_DNS_RESOLVERS" in result.reason
