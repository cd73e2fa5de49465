"""Domain names as users type them → the one form we store (lower-case ASCII, IDN as punycode), or a
refusal that says why in a sentence.

Two stores can never hold one domain: the unique index is on this normal form, so "Shop.Example.org.",
"shop.example.org" and an IDN typed in Unicode or as xn-- all meet at one row.
"""

from __future__ import annotations

import ipaddress
import re

import idna

from app.domains.errors import DomainRefused

MAX_LENGTH = 253  # RFC 1035: the longest name that fits in a DNS message, without the root dot
_LDH = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
# Special-use names (RFC 6761, 6762, 7686, 8375, 9476; ICANN's .internal): they never resolve on the
# public internet, so no certificate authority can validate them and nobody can prove owning them.
SPECIAL_USE = frozenset(
    {"localhost", "local", "test", "invalid", "example", "onion", "internal", "alt", "arpa"}
)


def normalise(raw: object) -> str:
    """The name in stored form; DomainRefused if it is not a host name (only syntax is judged here)."""
    if not isinstance(raw, str):
        raise DomainRefused("The domain must be a string, such as shop.example.org.")
    text = raw.strip()
    if not text:
        raise DomainRefused("Give a domain name, such as shop.example.org.")
    if "://" in text:
        raise DomainRefused(f"Give the domain name only, without 'http://' or 'https://': not {text!r}.")
    if any(ch in text for ch in "/?#@\\"):
        raise DomainRefused(f"Give the domain name only, without a path or credentials: not {text!r}.")
    if _is_address(text):
        raise DomainRefused(
            f"{text!r} is an IP address; link a domain name and point it at the platform instead."
        )
    if "*" in text:
        raise DomainRefused(f"Wildcard domains cannot be linked ({text!r}); add each host by its name.")
    if ":" in text:
        raise DomainRefused(f"Give the domain name without a port: not {text!r}.")
    if any(ch.isspace() for ch in text):
        raise DomainRefused(f"A domain name cannot contain spaces: {text!r}.")
    if text.endswith("."):
        text = text[:-1]  # the root label, as in a zone file: the same name
    if text.startswith(".") or ".." in text:
        raise DomainRefused(f"{text!r} is not a valid domain name: it has an empty part between dots.")
    if len(text) > MAX_LENGTH * 2:  # refuse absurd input before IDNA works on it
        raise DomainRefused(f"A domain name has at most {MAX_LENGTH} characters.")
    if text.isascii() and len(text) > MAX_LENGTH:
        raise DomainRefused(f"A domain name has at most {MAX_LENGTH} characters; {text!r} has {len(text)}.")
    try:
        ascii_name = idna.encode(text, uts46=True, std3_rules=True).decode("ascii").lower()
    except idna.IDNAError as exc:
        raise DomainRefused(f"{text!r} is not a valid domain name: {_idna_reason(exc)}.") from exc
    labels = ascii_name.split(".")
    if len(ascii_name) > MAX_LENGTH:
        raise DomainRefused(f"A domain name has at most {MAX_LENGTH} characters; {text!r} has more.")
    if ascii_name in SPECIAL_USE:
        raise DomainRefused(f"{ascii_name} is a special-use name that never resolves on the internet.")
    if len(labels) < 2:
        raise DomainRefused(f"{text!r} is not a full domain name; give one such as shop.example.org.")
    for label in labels:
        if not _LDH.fullmatch(label):
            raise DomainRefused(
                f"{text!r} is not a valid domain name: each part between dots must be 1 to 63 letters, "
                "digits or '-', not starting or ending with '-'."
            )
    if labels[-1].isdigit():
        raise DomainRefused(f"{text!r} is not a domain name: its last part cannot be a number.")
    return ascii_name


def refuse_for_platform(name: str, *, base_domain: str, ingress_host: str = "") -> None:
    """DomainRefused for names no store may link here (`name` is normalised)."""
    labels = name.split(".")
    if labels[-1] in SPECIAL_USE or name.endswith(".home.arpa"):
        raise DomainRefused(
            f"{name} is a special-use name ({labels[-1]}) that never resolves on the internet; "
            "link a domain you registered."
        )
    for own, what in ((base_domain, "the platform's own domain"), (ingress_host, "the platform's ingress")):
        if own and (name == own or name.endswith("." + own)):
            raise DomainRefused(
                f"{name} is under {what} ({own}); every store already has its address there, "
                "so link a domain of your own."
            )


def display(name: str) -> str:
    """The name as people read it: Unicode for an IDN, else as stored."""
    if "xn--" not in name:
        return name
    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name


def _is_address(text: str) -> bool:
    candidate = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    candidate = candidate.rstrip(".")
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _idna_reason(exc: idna.IDNAError) -> str:
    message = str(exc) or type(exc).__name__
    return message[0].lower() + message[1:] if message else "not allowed"
