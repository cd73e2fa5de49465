"""DNS lookups with dnspython for app/domains/dns.py: a resolver with the operator's nameservers,
timeouts and no cache (answers must be fresh), and what each failure means."""

from __future__ import annotations

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from app.domains.dns import LookupFailed
from app.settings import Settings, parse_nameserver


class Lookup:
    """One resolver with the settings' nameservers, timeouts and no cache (answers must be fresh)."""

    def __init__(self, settings: Settings) -> None:
        try:
            resolver = dns.asyncresolver.Resolver(configure=not settings.dns_resolvers)
        except dns.resolver.NoResolverConfiguration:  # no /etc/resolv.conf: say so at check time
            resolver = dns.asyncresolver.Resolver(configure=False)
        if settings.dns_resolvers:
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(address, port)
                for address, port in map(parse_nameserver, settings.dns_resolvers)
            ]
        resolver.timeout = settings.dns_timeout_seconds
        resolver.lifetime = settings.dns_timeout_seconds
        resolver.cache = None
        self.resolver = resolver

    @property
    def configured(self) -> bool:
        return bool(self.resolver.nameservers)

    async def answers(self, name: str, rdtype: str) -> list[str] | None:
        """The record values, [] if the name has none of this type, None if the name does not exist.
        Raises LookupFailed for a lookup that failed otherwise (timeout, SERVFAIL)."""
        try:
            answer = await self.resolver.resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            return None
        except dns.resolver.NoAnswer:
            return []
        except dns.exception.DNSException as exc:
            raise LookupFailed(_describe(exc)) from exc
        values = []
        for rdata in answer:
            if rdtype == "TXT":
                values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
            elif rdtype == "CNAME":
                values.append(rdata.target.to_text(omit_final_dot=True).lower())
            else:
                values.append(rdata.address)
        return values


def _describe(exc: dns.exception.DNSException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "no answer in time"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "the nameservers refused or failed to answer"
    return type(exc).__name__
