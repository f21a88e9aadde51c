"""The request path for never-seen input: its shortcuts give what the general code gives.

A new client on every request misses every memo, so the resolver parses and walks through
shortcuts (the inlined dotted-quad parser, the one-line X-Forwarded-For walk, the canonical
text carried in the node). Each is checked here against the general code it stands for.
"""

from __future__ import annotations

import importlib
import re
from ipaddress import IPv4Address, IPv6Address, ip_address

from hypothesis import given
from hypothesis import strategies as st

from srcip.clientip.addresses import NodeKind, parse_node, parse_node_uncached
from srcip.clientip.resolve import NO_TRAIL, Resolution, Status, client_text, resolve
from srcip.clientip.trust import TrustConfig

resolve_module = importlib.import_module("srcip.clientip.resolve")

# The dotted-quad grammar as the reference states it (no leading zeros, ASCII digits).
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
REFERENCE_V4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")

OCTET_TEXT = st.one_of(
    st.integers(0, 300).map(str),
    st.sampled_from(["00", "01", "010", "0x1", "+1", "-1", " 1", "1 ", "", "٣", "１", "1e2"]),
)
QUAD = st.lists(OCTET_TEXT, min_size=1, max_size=6).map(".".join)


@given(QUAD)
def test_dotted_quad_fast_path_is_the_reference_grammar(text: str) -> None:
    """The inlined parser accepts exactly the reference grammar, 0.0.0.0 excepted."""
    node = parse_node_uncached(text)
    match = REFERENCE_V4.fullmatch(text)
    if match is None or text == "0.0.0.0":
        assert node.kind is NodeKind.INVALID
        assert node.ip is None
        return
    assert node.kind is NodeKind.ADDRESS
    expected = IPv4Address(text)
    assert node.ip == expected
    assert hash(node.ip) == hash(expected)
    assert repr(node.ip) == repr(expected)
    assert type(node.ip) is IPv4Address
    assert node.ip.is_private == expected.is_private
    assert node.text == str(expected) == text
    assert node.zone is None


@given(st.integers(1, 2**32 - 1), st.sampled_from(["", ":80", ":_p"]))
def test_parsed_ipv4_is_a_whole_address_object(value: int, port: str) -> None:
    """Built without the string parser, the address is the one IPv4Address(int) builds."""
    expected = IPv4Address(value)
    node = parse_node(f"{expected}{port}")
    assert node.ip == expected
    assert node.ip is not None
    assert int(node.ip) == value
    assert node.ip.packed == expected.packed
    assert node.ip < IPv4Address(2**32 - 1) or value == 2**32 - 1
    assert node.text == str(expected)


def test_text_is_only_carried_when_it_is_canonical() -> None:
    """IPv6 and IPv4-mapped nodes leave the text to ip_text (it differs from the input)."""
    assert parse_node("2001:DB8::1").text is None
    assert parse_node("::ffff:10.0.0.1").text is None
    assert parse_node("unknown").text is None
    assert parse_node("10.0.0.1:8080").text == "10.0.0.1"


CONFIG_POOL = ["10.0.0.1", "10.2.3.4", "::ffff:10.9.9.9", "10.0.0.1:80", "unix:", "10.0.0.7"]
OTHER_POOL = ["203.0.113.7", "198.51.100.1:443", "[2001:db8::1]:8", "2001:db8::2", "1.2.3.4"]
BAD_POOL = ["unknown", "_obf", "x", "", " ", "0.0.0.0", "1.2.3.04", "\t"]
ELEMENT = st.sampled_from(CONFIG_POOL + OTHER_POOL + BAD_POOL)


@given(
    st.lists(ELEMENT, max_size=9),
    st.integers(1, 5),  # max_hops: at least 1
    st.booleans(),
    st.sampled_from([", ", ",", " ,\t"]),
)
def test_xff_line_walk_equals_the_general_walk(
    parts: list[str], max_hops: int, as_bytes: bool, sep: str
) -> None:
    """_walk_xff gives _walk's outcome for every line, whether or not its memos hit."""
    config = TrustConfig(trusted_proxies=["10.0.0.0/8", "unix:"], max_hops=max_hops)
    text = sep.join(parts)
    line: str | bytes = text.encode("latin-1") if as_bytes else text
    fast = resolve_module._walk_xff(line, config)
    assert fast == resolve_module._walk([line], False, config)
    assert resolve_module._walk_xff(line, config) == fast  # memo hits change nothing
    config.memo.clear()
    assert resolve_module._walk([line], False, config) == fast


def test_client_text_is_str_of_the_ip_on_every_path() -> None:
    """client_text() equals str(ip) wherever the address came from, or None."""
    config = TrustConfig(trusted_proxies=["10.0.0.0/8"])
    header = "x-forwarded-for"
    cases = [
        resolve("10.0.0.5:1", [(header, "203.0.113.9")], config),  # from the header (text)
        resolve("10.0.0.5:1", [(header, "2001:DB8::9")], config),  # IPv6: formatted
        resolve("10.0.0.5:1", [(header, "::ffff:198.51.100.3")], config),  # mapped
        resolve("10.0.0.5:1", [(header, "10.0.0.8, 10.0.0.9")], config),  # all trusted
        resolve("192.0.2.1:5", [], config),  # direct: the peer's node carries the text
        resolve("10.0.0.5:1", [], config),  # no_header
        resolve(("2001:db8::5", 7), [], config),  # direct IPv6 peer
        resolve("10.0.0.5:1", [(header, "unknown")], config),  # no address
    ]
    assert [r.status for r in cases] == [
        *[Status.OK] * 3,
        Status.ALL_TRUSTED,
        Status.DIRECT,
        Status.NO_HEADER,
        Status.DIRECT,
        Status.UNIDENTIFIED_HOP,
    ]
    for result in cases:
        assert client_text(result) == (None if result.ip is None else str(result.ip))
    assert cases[-1].ip is None
    assert client_text(cases[0]) == "203.0.113.9"
    assert client_text(cases[2]) == "198.51.100.3"


def test_client_text_of_a_hand_built_resolution() -> None:
    """Without a trail (or with one naming another object) the address is formatted."""
    v6 = IPv6Address("2001:db8::abc")
    assert client_text(Resolution(Status.OK, v6)) == "2001:db8::abc"
    assert client_text(Resolution(Status.OK, None, trail=NO_TRAIL)) is None
    walked = resolve(
        "10.0.0.5:1",
        [("x-forwarded-for", "203.0.113.9")],
        TrustConfig(trusted_proxies=["10.0.0.0/8"]),
    )
    other = ip_address("198.51.100.77")
    forged = Resolution(Status.OK, other, trail=walked.trail)  # the trail's node is not ip
    assert client_text(forged) == "198.51.100.77"
