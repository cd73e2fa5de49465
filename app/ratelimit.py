"""Rate limits per user and per client IP on mutating endpoints, per user on reads, stricter on login.

slowapi's `Limiter` holds the storage and the strategy (moving window, so a burst at a window edge
cannot double the rate). We check limits from FastAPI dependencies instead of slowapi's per-route
decorator: the per-user key needs the authenticated user, which only exists after the auth
dependency ran, and one router-level dependency covers every mutating route without touching each.

The client IP is the socket peer. Only when the peer is a configured trusted proxy is
X-Forwarded-For read, right to left, skipping trusted hops: the first untrusted address is the
client. Anything left of it was written by the client and is ignored, so a spoofed header from an
untrusted peer changes nothing.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from slowapi import Limiter
from starlette.requests import HTTPConnection

from app import metrics
from app.auth.settings import UsersSettings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# One IPv6 subscriber usually owns a whole /64: limiting single addresses would be no limit at all.
IPV6_KEY_PREFIX = 64


class RateLimited(Exception):
    """Too many requests."""

    def __init__(self, scope: str, limit: RateLimitItem, retry_after: int) -> None:
        self.scope = scope
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"rate limit of {limit} ({scope}) exceeded; retry after {retry_after} s")


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def parse_ip(value: str) -> IPAddress | None:
    value = value.strip()
    # "[v6]:port" and "v4:port" appear in the wild; strip the port so the address still parses.
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def is_trusted(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def resolve_client_ip(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IPNetwork]) -> str:
    """The client address given the socket peer, the X-Forwarded-For header values and trusted proxies."""
    if peer is None:
        return "unknown"
    current = parse_ip(peer)
    if current is None or not is_trusted(current, trusted):
        return peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = parse_ip(hop)
        if address is None:
            # A trusted proxy never writes garbage: the last trusted hop is the best we know.
            break
        current = address
        if not is_trusted(address, trusted):
            break
    return str(current)


def client_ip(conn: HTTPConnection, trusted: Sequence[IPNetwork]) -> str:
    peer = conn.client.host if conn.client else None
    return resolve_client_ip(peer, conn.headers.getlist("x-forwarded-for"), trusted)


def ip_key(address: str) -> str:
    """The rate-limit key of an address: itself for IPv4, its /64 for IPv6."""
    parsed = parse_ip(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_KEY_PREFIX}", strict=False))
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return address


@dataclass(frozen=True)
class _Rule:
    scope: str
    items: tuple[RateLimitItem, ...]


class RateLimiter:
    """The limits of one process (or, with shared storage, of all replicas)."""

    def __init__(self, settings: UsersSettings) -> None:
        self._slowapi = Limiter(
            key_func=lambda: "unused",  # keys are built per check below
            storage_uri=settings.ratelimit_storage_uri,
            strategy="moving-window",
            key_prefix="storeplane",
        )
        self.trusted = parse_networks(settings.trusted_proxies)
        self.mutations_per_user = _Rule("user", tuple(parse_many(settings.ratelimit_mutations_per_user)))
        self.mutations_per_ip = _Rule("ip", tuple(parse_many(settings.ratelimit_mutations_per_ip)))
        self.reads_per_user = _Rule("user_read", tuple(parse_many(settings.ratelimit_reads_per_user)))
        self.login_per_ip = _Rule("login_ip", tuple(parse_many(settings.ratelimit_login_per_ip)))
        self.login_failures_per_user = _Rule(
            "login_user", tuple(parse_many(settings.ratelimit_login_failures_per_user))
        )

    def client_ip(self, conn: HTTPConnection) -> str:
        return client_ip(conn, self.trusted)

    def reset(self) -> None:
        self._slowapi.reset()

    def _retry_after(self, item: RateLimitItem, key: str, scope: str) -> int:
        stats = self._slowapi.limiter.get_window_stats(item, "storeplane", scope, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _hit(self, rule: _Rule, key: str) -> None:
        for item in rule.items:
            if not self._slowapi.limiter.hit(item, "storeplane", rule.scope, key):
                self._reject(rule, item, key)

    def _reject(self, rule: _Rule, item: RateLimitItem, key: str) -> None:
        metrics.RATE_LIMIT_REJECTIONS.labels(scope=rule.scope).inc()
        raise RateLimited(rule.scope, item, self._retry_after(item, key, rule.scope))

    def check_mutation(self, conn: HTTPConnection, user_key: str | None) -> None:
        """Count one mutating request against its client IP and, when authenticated, its user."""
        self.check_mutation_ip(conn)
        if user_key is not None:
            self.check_mutation_user(user_key)

    def check_mutation_ip(self, conn: HTTPConnection) -> None:
        """Before authentication: even requests with bad credentials spend the address's budget."""
        self._hit(self.mutations_per_ip, ip_key(self.client_ip(conn)))

    def check_mutation_user(self, user_key: str) -> None:
        self._hit(self.mutations_per_user, user_key)

    def check_read_user(self, user_key: str) -> None:
        """Reads (API GETs and dashboard pages, polling included) of one user, from any address."""
        self._hit(self.reads_per_user, user_key)

    def check_login_attempt(self, conn: HTTPConnection, username: str) -> LoginAttempt:
        """Before verifying a password: take one of the user name's attempts, or refuse (429).

        The user name's budget counts failed logins (successes are free, so the owner can log in)
        plus the attempts still being checked: a reservation taken atomically in the limiter's
        storage (an INCR, also across replicas with shared storage) before the password is
        verified. However many guesses arrive at once, no more passwords are checked than the
        budget has room for. The caller ends the attempt with `LoginAttempt.finish`.
        """
        name = username.lower()
        attempt = LoginAttempt(self, name)
        try:
            for item in self.login_failures_per_user.items:
                stats = self._slowapi.limiter.get_window_stats(
                    item, "storeplane", self.login_failures_per_user.scope, name
                )
                failed = item.amount - stats.remaining
                if failed + attempt.in_flight > item.amount:
                    self._reject(self.login_failures_per_user, item, name)
            self._hit(self.login_per_ip, ip_key(self.client_ip(conn)))
        except RateLimited:
            attempt.finish(failed=False)  # nothing was checked: only give the reservation back
            raise
        return attempt

    def _in_flight(self, name: str, change: int) -> int:
        """Atomically add `change` to the user name's count of attempts being checked; the new count."""
        key = f"storeplane/login_in_flight/{name}"
        return int(self._slowapi.limiter.storage.incr(key, LOGIN_CHECK_SECONDS, amount=change))


# How long a reservation may outlive a process that died while checking a password.
LOGIN_CHECK_SECONDS = 60


class LoginAttempt:
    """One reserved login attempt for a user name; `finish` settles it exactly once."""

    def __init__(self, limiter: RateLimiter, name: str) -> None:
        self._limiter = limiter
        self._name = name
        self._open = True
        self.in_flight = limiter._in_flight(name, +1)

    def finish(self, *, failed: bool) -> None:
        """A failure is charged to the user name's budget before the reservation is given back, so
        failures + reservations never undercount what was checked."""
        if not self._open:
            return
        self._open = False
        limiter = self._limiter
        if failed:
            rule = limiter.login_failures_per_user
            for item in rule.items:
                limiter._slowapi.limiter.hit(item, "storeplane", rule.scope, self._name)
        limiter._in_flight(self._name, -1)
