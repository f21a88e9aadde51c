"""Strict node parsing and normalisation (reference §10 step 7, pitfalls §7.9–7.12)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.clientip import addresses
from srcip.clientip.addresses import (
    IPV4_KEY_BASE,
    MAX_NODE_LENGTH,
    NodeKind,
    address_key,
    as_address,
    ip_text,
    parse_node,
    parse_peer,
)

# text → (canonical address, zone)
VALID = [
    pytest.param("203.0.113.7", "203.0.113.7", None, id="ipv4"),
    pytest.param("203.0.113.7:51234", "203.0.113.7", None, id="ipv4-port"),
    pytest.param("203.0.113.7:0", "203.0.113.7", None, id="ipv4-port-0"),
    pytest.param("203.0.113.7:65535", "203.0.113.7", None, id="ipv4-port-max"),
    pytest.param("203.0.113.7:_p1", "203.0.113.7", None, id="ipv4-obfuscated-port"),
    pytest.param("255.255.255.255", "255.255.255.255", None, id="ipv4-broadcast"),
    pytest.param("2001:db8::17", "2001:db8::17", None, id="ipv6"),
    pytest.param("2001:DB8:0:0:0:0:0:17", "2001:db8::17", None, id="ipv6-rfc5952"),
    pytest.param("2001:0db8::0017", "2001:db8::17", None, id="ipv6-zero-padded"),
    pytest.param("[2001:db8::17]", "2001:db8::17", None, id="ipv6-brackets"),
    pytest.param("[2001:db8::17]:4711", "2001:db8::17", None, id="ipv6-brackets-port"),
    pytest.param("[2001:db8::17]:_x", "2001:db8::17", None, id="ipv6-obfuscated-port"),
    pytest.param("2001:db8::7:443", "2001:db8::7:443", None, id="ipv6-not-a-port"),
    pytest.param("fe80::1%eth0", "fe80::1", "eth0", id="zone"),
    pytest.param("[fe80::1%25]:80", "fe80::1", "25", id="zone-bracketed"),
    pytest.param("::ffff:10.0.0.5", "10.0.0.5", None, id="mapped"),
    pytest.param("::FFFF:0a00:0005", "10.0.0.5", None, id="mapped-hex"),
    pytest.param("[::ffff:10.0.0.5]:80", "10.0.0.5", None, id="mapped-brackets"),
    pytest.param("::1.2.3.4", "::102:304", None, id="ipv4-compatible-stays-v6"),
    pytest.param("::1", "::1", None, id="loopback6"),
]

UNIDENTIFIED = [
    pytest.param("unknown", id="unknown"),
    pytest.param("UNKNOWN", id="unknown-case"),
    pytest.param("unknown:80", id="unknown-port"),
    pytest.param("_hidden", id="obfuscated"),
    pytest.param("_a.b-c_d", id="obfuscated-chars"),
    pytest.param("_hidden:_port", id="obfuscated-both"),
]

INVALID = [
    pytest.param("", id="empty"),
    pytest.param("0.0.0.0", id="unspecified4"),
    pytest.param("::", id="unspecified6"),
    pytest.param("::ffff:0.0.0.0", id="mapped-unspecified"),
    pytest.param("010.0.0.1", id="leading-zero"),
    pytest.param("1.2.3", id="short"),
    pytest.param("1.2.3.4.5", id="long"),
    pytest.param("1.2.3.256", id="octet-range"),
    pytest.param("1.2.3.1000", id="octet-digits"),
    pytest.param("1..3.4", id="empty-octet"),
    pytest.param("0x7f.0.0.1", id="hex"),
    pytest.param("2130706433", id="integer"),
    pytest.param("１.２.３.４", id="fullwidth"),
    pytest.param("1.2.3.4:", id="empty-port"),
    pytest.param("1.2.3.4:65536", id="port-range"),
    pytest.param("1.2.3.4:123456", id="port-digits"),
    pytest.param("1.2.3.4:8o", id="port-letters"),
    pytest.param("1.2.3.4:_", id="obfport-empty"),
    pytest.param("1.2.3.4:_a b", id="obfport-space"),
    pytest.param("1.2.3.4 ", id="trailing-space"),
    pytest.param("1.2.3.4/24", id="cidr"),
    pytest.param("[1.2.3.4]", id="v4-in-brackets"),
    pytest.param("[1.2.3.4]:80", id="v4-in-brackets-port"),
    pytest.param("[2001:db8::1", id="unclosed-bracket"),
    pytest.param("[2001:db8::1]x", id="junk-after-bracket"),
    pytest.param("[2001:db8::1]:", id="bracket-empty-port"),
    pytest.param("[unknown:1:2]", id="unknown-in-brackets"),
    pytest.param("[_a:b:c]", id="obf-in-brackets"),
    pytest.param("[[::1]]", id="double-bracket"),
    pytest.param("2001:db8::g", id="bad-hex"),
    pytest.param("2001:db8:0:0:0:0:0:0:1", id="too-many-groups"),
    pytest.param("fe80::1%", id="empty-zone"),
    pytest.param("fe80::1%eth 0", id="zone-space"),
    pytest.param("fe80::1%eth\x00", id="zone-nul"),
    pytest.param("fe80::1%" + "a" * 33, id="zone-long"),
    pytest.param("::ffff:10.0.0.5%eth0", id="mapped-with-zone"),
    pytest.param("_", id="obfuscated-empty"),
    pytest.param("_a/b", id="obfuscated-slash"),
    pytest.param("_a:", id="obfuscated-empty-port"),
    pytest.param("unknownx", id="unknown-prefix"),
    pytest.param("unknown:", id="unknown-empty-port"),
    pytest.param("Unix:", id="unix-case"),
    pytest.param("<script>", id="markup"),
    pytest.param("1.2.3.4\x00", id="nul"),
    pytest.param("1.2.3.4é", id="non-ascii"),
    pytest.param("1" * (MAX_NODE_LENGTH + 1), id="too-long"),
    pytest.param("203.0.113.0/24", id="network"),
    pytest.param('"1.2.3.4"', id="quoted"),
]


@pytest.mark.parametrize(("text", "canonical", "zone"), VALID)
def test_valid_nodes_are_normalised(text: str, canonical: str, zone: str | None) -> None:
    """Addresses parse to their RFC 5952 / dotted-quad form, mapped IPv4 unmapped."""
    node = parse_node(text)
    assert node.kind is NodeKind.ADDRESS
    assert str(node.ip) == canonical
    assert node.zone == zone
    assert node.key == address_key(ip_address(canonical))


@pytest.mark.parametrize("text", UNIDENTIFIED)
def test_unidentified_nodes(text: str) -> None:
    """``unknown`` and obfuscated identifiers (RFC 7239 §6) are unidentified, not invalid."""
    node = parse_node(text)
    assert node.kind is NodeKind.UNIDENTIFIED
    assert (node.ip, node.zone, node.key) == (None, None, -1)


@pytest.mark.parametrize("text", INVALID)
def test_invalid_nodes(text: str) -> None:
    """Ambiguous, non-canonical or junk spellings are refused (pitfalls §7.11, §7.12)."""
    node = parse_node(text)
    assert node.kind is NodeKind.INVALID
    assert node.ip is None


@pytest.mark.parametrize("text", ["unix:", "unix:/run/nginx.sock"])
def test_unix_nodes(text: str) -> None:
    """``unix:…`` (nginx's $remote_addr on a unix socket) is its own kind."""
    assert parse_node(text).kind is NodeKind.UNIX


PEERS = [
    pytest.param("203.0.113.7:443", NodeKind.ADDRESS, "203.0.113.7", id="v4-port"),
    pytest.param("203.0.113.7", NodeKind.ADDRESS, "203.0.113.7", id="v4-bare"),
    pytest.param("[2001:db8::1]:443", NodeKind.ADDRESS, "2001:db8::1", id="v6-port"),
    pytest.param("2001:db8::1", NodeKind.ADDRESS, "2001:db8::1", id="v6-bare"),
    pytest.param("[2001:db8::1]", NodeKind.ADDRESS, "2001:db8::1", id="v6-brackets"),
    pytest.param("[::ffff:10.0.0.5]:80", NodeKind.ADDRESS, "10.0.0.5", id="mapped"),
    pytest.param("[fe80::1%eth0]:80", NodeKind.ADDRESS, "fe80::1", id="zone"),
    pytest.param("unix:/run/app.sock", NodeKind.UNIX, None, id="unix"),
    pytest.param("unix:/a:b", NodeKind.UNIX, None, id="unix-colon"),
    pytest.param("unix:" + "/x" * 100, NodeKind.UNIX, None, id="unix-long"),
    pytest.param("unix:/tmp/é.sock", NodeKind.UNIX, None, id="unix-non-ascii"),
    pytest.param("unix:", NodeKind.UNIX, None, id="unix-bare"),
    pytest.param("203.0.113.7:http", NodeKind.INVALID, None, id="v4-bad-port"),
    pytest.param("[2001:db8::1]:x", NodeKind.INVALID, None, id="v6-bad-port"),
    pytest.param("[2001:db8::1:80", NodeKind.INVALID, None, id="v6-unclosed"),
    pytest.param("[1.2.3.4]:80", NodeKind.INVALID, None, id="v4-bracketed"),
    pytest.param("localhost:80", NodeKind.INVALID, None, id="hostname"),
    pytest.param("", NodeKind.INVALID, None, id="empty"),
    pytest.param("unknown:80", NodeKind.UNIDENTIFIED, None, id="unknown"),
]


@pytest.mark.parametrize(("peer", "kind", "ip"), PEERS)
def test_parse_peer(peer: str, kind: NodeKind, ip: str | None) -> None:
    """Socket peers drop their port; unix peers are recognised before any length limit."""
    node = parse_peer(peer)
    assert node.kind is kind
    assert (None if node.ip is None else str(node.ip)) == ip
    assert parse_peer(peer) == node  # memoised answer is the same


def test_address_key_unmaps_and_separates_families() -> None:
    """IPv4 keys sit above 2**128; a mapped IPv6 address has its IPv4 key (§7.9)."""
    v4 = IPv4Address("10.0.0.5")
    assert address_key(v4) == IPV4_KEY_BASE + int(v4)
    assert address_key(IPv6Address("::ffff:10.0.0.5")) == address_key(v4)
    assert address_key(IPv6Address("::a00:5")) == int(IPv6Address("::a00:5"))


def test_caches_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo is cleared when full, so rotating values cannot grow it (§7.14)."""
    monkeypatch.setattr(addresses, "_CACHE_SIZE", 8)
    addresses.node_cache.clear()
    addresses.peer_cache.clear()
    for i in range(20):
        assert parse_node(f"10.0.0.{i + 1}").kind is NodeKind.ADDRESS
        assert parse_peer(f"10.0.1.{i + 1}:80").kind is NodeKind.ADDRESS
    assert len(addresses.node_cache) <= 8
    assert len(addresses.peer_cache) <= 8


@given(st.ip_addresses(v=4))
def test_ipv4_round_trip(ip: IPv4Address) -> None:
    """Every dotted quad but 0.0.0.0 parses back to itself, with or without a port."""
    node = parse_node(str(ip))
    if int(ip) == 0:
        assert node.kind is NodeKind.INVALID
    else:
        assert node.ip == ip
        assert parse_node(f"{ip}:8080").ip == ip
        assert parse_node(f"::ffff:{ip}").ip == ip


@given(st.ip_addresses(v=6))
def test_ipv6_any_spelling_is_canonical(ip: IPv6Address) -> None:
    """Exploded, upper-case and bracketed spellings all give the RFC 5952 form."""
    node = parse_node(ip.exploded.upper())
    if int(ip) == 0 or (ip.ipv4_mapped is not None and int(ip.ipv4_mapped) == 0):
        assert node.kind is NodeKind.INVALID
        return
    expected = ip.ipv4_mapped or ip
    assert node.ip == expected
    assert parse_node(f"[{ip}]:1").ip == expected
    assert str(node.ip) == str(expected)


@given(st.text(max_size=120))
def test_parse_never_raises(text: str) -> None:
    """Arbitrary text is classified, never an exception; addresses are canonical."""
    for node in (parse_node(text), parse_peer(text)):
        if node.kind is NodeKind.ADDRESS:
            assert node.ip is not None
            assert node.key == address_key(node.ip)
        else:
            assert node.ip is None


def test_as_address_unwraps_mapped_and_accepts_objects() -> None:
    """Strings and address objects are accepted; IPv4-mapped IPv6 becomes IPv4."""
    assert as_address("::ffff:192.0.2.1") == IPv4Address("192.0.2.1")
    assert as_address(IPv6Address("2001:db8::1")) == IPv6Address("2001:db8::1")


def test_ip_text_memo_is_bounded_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """ip_text equals str(); the memo is cleared when full and never confuses objects."""
    monkeypatch.setattr(addresses, "_TEXT_CACHE_SIZE", 2)
    monkeypatch.setattr(addresses, "_texts", {})
    samples = [IPv6Address("2001:db8::1"), IPv4Address("192.0.2.1"), IPv4Address("192.0.2.2")]
    for addr in samples * 2:
        assert ip_text(addr) == str(addr)
        assert len(addresses._texts) <= 2
    twin = IPv4Address("192.0.2.2")  # equal, but another object: recomputed, same text
    assert ip_text(twin) == "192.0.2.2"
