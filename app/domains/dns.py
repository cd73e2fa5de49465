"""DNS checks of a linked domain, against the operator's resolvers (app/domains/lookup.py, dnspython:
~10 MB resident, so loaded at the first check, not in every process that never checks a domain).

Ownership: the TXT record `_storeplane.<domain>` holds the domain's token (only whoever controls the
domain's DNS can publish it). Routing: the domain is a CNAME to the platform's public ingress host, or
its A/AAAA addresses are all the ingress addresses (a stray address would make the HTTP-01 challenge,
and visitors, fail now and then). Both must hold for the domain to be verified.

A lookup that fails for reasons other than "no such record" (timeout, SERVFAIL) is `transient`:
the reason says so and the sweep simply tries again later.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.settings import Settings

if TYPE_CHECKING:
    from app.domains.lookup import Lookup

TXT_PREFIX = "_storeplane"


@dataclass(frozen=True)
class DnsRecord:
    """A record the owner creates at their DNS provider."""

    type: str  # TXT | CNAME | A | AAAA
    name: str
    value: str
    purpose: str


class LookupFailed(Exception):
    """A lookup failed for another reason than "no such record" (timeout, SERVFAIL): try later."""


@dataclass(frozen=True)
class CheckResult:
    ownership: bool
    routing: bool
    reason: str  # what was found, as a sentence; empty when both hold
    transient: bool = False  # a lookup failed (not "absent"): try again later

    @property
    def passed(self) -> bool:
        return self.ownership and self.routing


def txt_name(domain: str) -> str:
    return f"{TXT_PREFIX}.{domain}"


def expected_records(domain: str, token: str, settings: Settings) -> list[DnsRecord]:
    """What the owner must create: the TXT token, and a CNAME (or, for an apex domain, A/AAAA)."""
    records = [DnsRecord("TXT", txt_name(domain), token, "proves the domain is yours")]
    if settings.public_ingress_host:
        records.append(
            DnsRecord("CNAME", domain, settings.public_ingress_host, "routes visitors to your store")
        )
    for address in settings.public_ingress_ips:
        kind = "AAAA" if ipaddress.ip_address(address).version == 6 else "A"
        purpose = "routes visitors to your store"
        if settings.public_ingress_host:
            purpose += " (instead of the CNAME, e.g. for a domain without a subdomain)"
        records.append(DnsRecord(kind, domain, address, purpose))
    return records


class DnsVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._resolver: Lookup | None = None

    @property
    def _lookup(self) -> Lookup:
        if self._resolver is None:
            from app.domains.lookup import Lookup

            self._resolver = Lookup(self.settings)
        return self._resolver

    async def check(self, domain: str, token: str) -> CheckResult:
        if not self._lookup.configured:
            reason = (
                "no DNS resolver is configured on the platform (STOREPLANE_DNS_RESOLVERS); "
                "it is tried again later"
            )
            return CheckResult(False, False, reason, True)
        try:
            ownership, why_not_owner = await self._ownership(domain, token)
            routing, why_not_routed = await self._routing(domain)
        except LookupFailed as exc:
            return CheckResult(False, False, f"the DNS lookup failed ({exc}); it is tried again later", True)
        reason = " ".join(part for part in (why_not_owner, why_not_routed) if part)
        return CheckResult(ownership, routing, reason)

    async def _ownership(self, domain: str, token: str) -> tuple[bool, str]:
        name = txt_name(domain)
        values = await self._lookup.answers(name, "TXT")
        if not values:
            return False, f"No TXT record at {name} yet."
        if token in values:
            return True, ""
        seen = ", ".join(repr(v[:40]) for v in values[:3])
        return False, f"The TXT record at {name} holds {seen}, not this domain's token."

    async def _routing(self, domain: str) -> tuple[bool, str]:
        host = self.settings.public_ingress_host
        if host:
            cnames = await self._lookup.answers(domain, "CNAME")
            if cnames and host in cnames:
                return True, ""
        expected = set(self.settings.public_ingress_ips)
        if host:
            for rdtype in ("A", "AAAA"):
                expected.update(await self._lookup.answers(host, rdtype) or [])
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            found += await self._lookup.answers(domain, rdtype) or []
        if found and expected and set(found) <= expected:
            return True, ""
        ways = [f"a CNAME to {host}"] if host else []
        if self.settings.public_ingress_ips:
            ways.append(f"A/AAAA records to {', '.join(self.settings.public_ingress_ips)}")
        target = " or ".join(ways)
        if not found:
            return False, f"{domain} does not point anywhere yet: it needs {target}."
        stray = ", ".join(sorted(set(found) - expected)) or ", ".join(sorted(found))
        return False, f"{domain} points to {stray}, not to this platform: it needs {target}."
