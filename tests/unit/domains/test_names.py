"""A domain is stored in one form (lower-case ASCII, IDN as punycode), and what no store may link is
refused with a sentence that says why."""

from __future__ import annotations

import pytest

from app.domains.errors import DomainRefused
from app.domains.names import display, normalise, refuse_for_platform

BASE = "stores.example.net"
INGRESS = "ingress.example.net"


def refused(raw: object) -> str:
    with pytest.raises(DomainRefused) as caught:
        name = normalise(raw)
        refuse_for_platform(name, base_domain=BASE, ingress_host=INGRESS)
    assert caught.value.status == 422
    return caught.value.message


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("shop.example.org", "shop.example.org"),
        ("  Shop.EXAMPLE.org.  ", "shop.example.org"),  # case, spaces around, the root dot
        ("bücher.de", "xn--bcher-kva.de"),  # IDN typed in Unicode → punycode
        ("XN--BCHER-KVA.DE", "xn--bcher-kva.de"),  # the same IDN typed as an A-label
        ("Bücher.DE", "xn--bcher-kva.de"),  # UTS 46 maps case before encoding
        ("a-b.c-d.example.co.uk", "a-b.c-d.example.co.uk"),
        ("www.example.org", "www.example.org"),
    ],
)
def test_every_spelling_of_a_domain_meets_in_one_stored_form(raw: str, stored: str) -> None:
    assert normalise(raw) == stored
    refuse_for_platform(stored, base_domain=BASE, ingress_host=INGRESS)


def test_an_idn_is_shown_to_people_in_unicode() -> None:
    assert display("xn--bcher-kva.de") == "bücher.de"
    assert display("shop.example.org") == "shop.example.org"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Give a domain name"),
        ("   ", "Give a domain name"),
        (42, "must be a string"),
        ("https://shop.example.org", "without 'http://' or 'https://'"),
        ("shop.example.org/path", "without a path"),
        ("user@shop.example.org", "without a path or credentials"),
        ("203.0.113.7", "is an IP address"),
        ("[2001:db8::1]", "is an IP address"),
        ("2001:db8::1", "is an IP address"),
        ("*.example.org", "Wildcard domains cannot be linked"),
        ("shop.example.org:8443", "without a port"),
        ("shop example.org", "cannot contain spaces"),
        ("shop", "not a full domain name"),
        ("a..example.org", "empty part between dots"),
        (".example.org", "empty part between dots"),
        ("-shop.example.org", "not a valid domain name"),
        ("shop-.example.org", "not a valid domain name"),
        ("sh_op.example.org", "not a valid domain name"),
        ("a" * 64 + ".example.org", "not a valid domain name"),
        (".".join(["abcdefghi"] * 26) + ".org", "at most 253 characters"),
        ("example.123", "its last part cannot be a number"),
        ("xn--zz.example.org", "not a valid domain name"),  # an A-label that is not valid punycode
        ("☃.example.org", "not a valid domain name"),  # a symbol IDNA 2008 does not allow
        ("localhost", "special-use name"),
        ("shop.localhost", "special-use name"),
        ("printer.local", "special-use name"),
        ("thing.test", "special-use name"),
        ("router.home.arpa", "special-use name"),
        ("stores.example.net", "under the platform's own domain"),
        ("shop.stores.example.net", "under the platform's own domain"),
        ("SHOP.Stores.Example.NET.", "under the platform's own domain"),
        ("ingress.example.net", "under the platform's ingress"),
    ],
)
def test_what_no_store_may_link_is_refused_with_the_reason(raw: object, says: str) -> None:
    assert says in refused(raw)


def test_the_refusals_table_has_at_least_fifteen_bad_inputs() -> None:
    marks = test_what_no_store_may_link_is_refused_with_the_reason.pytestmark  # type: ignore[attr-defined]
    cases = next(m.args[1] for m in marks if m.name == "parametrize")
    assert len(cases) >= 15
