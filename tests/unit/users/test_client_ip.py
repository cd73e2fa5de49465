"""The client IP is the socket peer; X-Forwarded-For counts only when the peer is a trusted proxy."""

from app.ratelimit import ip_key, parse_networks, resolve_client_ip

PROXIES = parse_networks(["10.0.0.0/8", "fd00::/8"])


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert resolve_client_ip("203.0.113.7", ["198.51.100.1"], ()) == "203.0.113.7"


def test_a_spoofed_header_from_an_untrusted_peer_is_ignored():
    assert resolve_client_ip("203.0.113.7", ["198.51.100.1, 10.0.0.5"], PROXIES) == "203.0.113.7"


def test_a_trusted_proxy_header_is_honoured():
    assert resolve_client_ip("10.1.2.3", ["198.51.100.1"], PROXIES) == "198.51.100.1"


def test_the_header_is_walked_right_to_left_past_trusted_hops_only():
    # The client forged "1.2.3.4" in front; our two proxies appended the real address and their own.
    header = ["1.2.3.4, 198.51.100.9, 10.0.0.2"]
    assert resolve_client_ip("10.0.0.1", header, PROXIES) == "198.51.100.9"


def test_repeated_header_lines_are_read_as_one_list():
    assert resolve_client_ip("10.0.0.1", ["1.2.3.4", "198.51.100.9"], PROXIES) == "198.51.100.9"


def test_when_every_hop_is_trusted_the_leftmost_is_the_client():
    assert resolve_client_ip("10.0.0.1", ["10.9.9.9, 10.0.0.2"], PROXIES) == "10.9.9.9"


def test_a_trusted_proxy_without_a_header_is_itself_the_client():
    assert resolve_client_ip("10.0.0.1", [], PROXIES) == "10.0.0.1"


def test_garbage_in_the_header_stops_the_walk_at_the_last_trusted_hop():
    assert resolve_client_ip("10.0.0.1", ["198.51.100.9, not-an-ip, 10.0.0.2"], PROXIES) == "10.0.0.2"


def test_ports_and_ipv6_brackets_are_understood():
    assert resolve_client_ip("10.0.0.1", ["198.51.100.9:4711"], PROXIES) == "198.51.100.9"
    assert resolve_client_ip("fd00::1", ["[2001:db8::5]:443"], PROXIES) == "2001:db8::5"


def test_ipv6_clients_are_limited_per_64_and_mapped_ipv4_as_ipv4():
    assert ip_key("2001:db8:1:2:aaaa::1") == ip_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert ip_key("::ffff:198.51.100.4") == "198.51.100.4"
    assert ip_key("198.51.100.4") == "198.51.100.4"
