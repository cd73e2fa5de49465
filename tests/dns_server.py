"""An authoritative DNS server on 127.0.0.1 for tests, built from dnspython's own message classes.

It answers from a zone the test edits while it runs, the way a real authoritative server does:
- the records of the asked type;
- for a name that is a CNAME, the CNAME and then the target's records of the asked type (chased
  inside the zone), as the answer section of a real server holds them;
- NOERROR with an empty answer (the resolver's NoAnswer) for a name that exists without that type;
- NXDOMAIN for a name that does not exist, with the SOA in the authority section;
- SERVFAIL for names the test marks broken, and no answer at all (a timeout) for names it mutes.
UDP only, like a resolver's first try; answers are small, so nothing is truncated.
"""

from __future__ import annotations

import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

SOA = "ns.test-zone. hostmaster.test-zone. 1 3600 600 86400 60"


class Zone:
    """name → type → values, e.g. zone.set("shop.example.org", "CNAME", "ingress.example.net")."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, list[str]]] = defaultdict(dict)
        self.broken: set[str] = set()
        self.muted: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def set(self, name: str, rdtype: str, *values: str) -> None:
        with self._lock:
            self._records[_key(name)][rdtype] = list(values)

    def add(self, name: str, rdtype: str, *values: str) -> None:
        with self._lock:
            self._records[_key(name)].setdefault(rdtype, []).extend(values)

    def drop(self, name: str, rdtype: str | None = None) -> None:
        with self._lock:
            if rdtype is None:
                self._records.pop(_key(name), None)
            else:
                self._records[_key(name)].pop(rdtype, None)

    def lookup(self, name: str) -> dict[str, list[str]] | None:
        with self._lock:
            found = self._records.get(_key(name))
            return None if not found else {k: list(v) for k, v in found.items()}


def _key(name: str) -> str:
    return name.lower().rstrip(".")


def _rrset(name: str, rdtype: str, values: list[str]) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(dns.name.from_text(name), dns.rdataclass.IN, dns.rdatatype.from_text(rdtype))
    for value in values:
        text = value if rdtype != "TXT" else '"' + value.replace('"', '\\"') + '"'
        if rdtype == "CNAME" and not value.endswith("."):
            text = value + "."
        rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rrset.rdtype, text), ttl=60)
    return rrset


def answer(zone: Zone, query: dns.message.Message) -> dns.message.Message | None:
    """The response a real authoritative server gives (None: stay silent)."""
    question = query.question[0]
    name, rdtype = question.name.to_text(omit_final_dot=True), dns.rdatatype.to_text(question.rdtype)
    zone.queries.append((name, rdtype))
    if _key(name) in zone.muted:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if _key(name) in zone.broken:
        response.set_rcode(dns.rcode.SERVFAIL)
        return response
    current = name
    for _ in range(8):  # CNAME chains inside the zone, as a real server follows them
        records = zone.lookup(current)
        if records is None:
            if current == name:
                response.set_rcode(dns.rcode.NXDOMAIN)
                response.authority.append(_rrset("test-zone", "SOA", [SOA]))
            return response
        if rdtype in records:
            response.answer.append(_rrset(current, rdtype, records[rdtype]))
            return response
        if "CNAME" in records and rdtype != "CNAME":
            target = records["CNAME"][0]
            response.answer.append(_rrset(current, "CNAME", [target]))
            current = target.rstrip(".")
            continue
        return response  # the name exists without this type: NOERROR, empty answer
    return response


@contextmanager
def dns_server(zone: Zone | None = None) -> Iterator[tuple[Zone, str]]:
    """Serve `zone` on a free UDP port of 127.0.0.1; yields (zone, "127.0.0.1:<port>")."""
    zone = zone or Zone()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except dns.exception.DNSException:
                continue
            response = answer(zone, query)
            if response is not None:
                sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, name="test-dns", daemon=True)
    thread.start()
    try:
        yield zone, f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()
