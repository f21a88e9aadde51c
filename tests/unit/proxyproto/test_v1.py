"""PROXY protocol v1: the spec's lines, every v1 error kind, adversarial lines, build."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from srcip.errors import ProxyProtocolError
from srcip.proxyproto import Command, ErrorKind, Family, ProxyHeader, Transport, build, parse
from srcip.proxyproto.tlv import AlpnTLV

V4, V6 = IPv4Address, IPv6Address
FULL6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"


def tcp4(src: str, dst: str, sport: int, dport: int) -> ProxyHeader:
    """A v1 TCP4 header."""
    return ProxyHeader(
        version=1, family=Family.TCP4, src=V4(src), dst=V4(dst), src_port=sport, dst_port=dport
    )


def tcp6(src: str, dst: str, sport: int, dport: int) -> ProxyHeader:
    """A v1 TCP6 header."""
    return ProxyHeader(
        version=1, family=Family.TCP6, src=V6(src), dst=V6(dst), src_port=sport, dst_port=dport
    )


UNKNOWN = ProxyHeader(version=1, family=Family.UNKNOWN)

VALID = [
    # spec §2.1, the example before an HTTP request
    pytest.param(
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n",
        tcp4("192.168.0.1", "192.168.0.11", 56324, 443),
        47,
        id="spec-example-tcp4",
    ),
    # spec §2.1, the longest lines a receiver must support
    pytest.param(
        b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
        tcp4("255.255.255.255", "255.255.255.255", 65535, 65535),
        56,
        id="spec-longest-tcp4-56",
    ),
    pytest.param(
        f"PROXY TCP6 {FULL6} {FULL6} 65535 65535\r\n".encode(),
        tcp6(FULL6, FULL6, 65535, 65535),
        104,
        id="spec-longest-tcp6-104",
    ),
    pytest.param(b"PROXY UNKNOWN\r\n", UNKNOWN, 15, id="spec-unknown-short-15"),
    pytest.param(
        f"PROXY UNKNOWN {FULL6} {FULL6} 65535 65535\r\n".encode(),
        UNKNOWN,
        107,
        id="spec-unknown-worst-case-107",
    ),
    pytest.param(
        b"PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", tcp4("0.0.0.0", "10.0.0.1", 0, 0), 33, id="zeros"
    ),
    pytest.param(
        b"PROXY TCP6 2001:DB8::1 ::1 1 65535\r\n",
        tcp6("2001:db8::1", "::1", 1, 65535),
        36,
        id="tcp6-upper-case-hex",
    ),
    pytest.param(
        b"PROXY TCP6 ::ffff:192.0.2.1 ::1 80 81\r\n",
        tcp6("::ffff:192.0.2.1", "::1", 80, 81),
        39,
        id="tcp6-ipv4-mapped-kept-as-given",
    ),
    pytest.param(
        b"PROXY TCP6 0001:0db8:0000:0000:0000:0000:0000:0001 ::2 5 6\r\n",
        tcp6("1:db8::1", "::2", 5, 6),
        60,
        id="tcp6-four-digit-groups",
    ),
    # spec §2.1: for UNKNOWN "the receiver must ignore anything presented before the CRLF"
    pytest.param(b"PROXY UNKNOWN junk \x00\xff here\r\n", UNKNOWN, 28, id="unknown-ignores-rest"),
    pytest.param(b"PROXY UNKNOWN \r\n", UNKNOWN, 16, id="unknown-trailing-space"),
]


@pytest.mark.parametrize(("data", "expected", "consumed"), VALID)
def test_valid_lines(data: bytes, expected: ProxyHeader, consumed: int) -> None:
    """Valid v1 lines parse to the header, consuming exactly the line."""
    header = parse(data)
    assert header == expected
    assert header.consumed == consumed
    assert header.command is Command.PROXY
    assert header.transport is None
    assert header.tlvs == ()


def test_unknown_has_no_addresses() -> None:
    """UNKNOWN yields no addresses or ports: the receiver uses the real endpoints."""
    header = parse(b"PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n")
    assert (header.src, header.dst, header.src_port, header.dst_port) == (None,) * 4


def _line(rest: str) -> bytes:
    return f"PROXY TCP4 {rest}\r\n".encode()


ERRORS = [
    # the line and its terminator (spec §2.1)
    pytest.param(b"PROXY " + b"A" * 101, ErrorKind.V1_LINE_TOO_LONG, id="107-bytes-no-crlf"),
    pytest.param(
        b"PROXY UNKNOWN " + b"f" * 92 + b"\r\n", ErrorKind.V1_LINE_TOO_LONG, id="crlf-at-108"
    ),
    pytest.param(b"PROXY UNKNOWN " + b"f" * 92 + b"\r", ErrorKind.V1_LINE_TOO_LONG, id="cr-at-107"),
    pytest.param(b"PROXY TCP4 " + b"1" * 200, ErrorKind.V1_LINE_TOO_LONG, id="endless-digits"),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", ErrorKind.V1_BAD_TERMINATOR, id="lone-lf"),
    pytest.param(
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", ErrorKind.V1_BAD_TERMINATOR, id="cr-cr-lf"
    ),
    pytest.param(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", ErrorKind.V1_BAD_TERMINATOR, id="cr-then-x"),
    pytest.param(b"PROXY UNKNOWN\n\r\n", ErrorKind.V1_BAD_TERMINATOR, id="lf-before-crlf"),
    pytest.param(b"PROXY \n", ErrorKind.V1_BAD_TERMINATOR, id="lf-right-after-space"),
    # the grammar: exactly one space between fields
    pytest.param(b"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrorKind.V1_MALFORMED, id="no-space"),
    pytest.param(b"PROXY\r\n", ErrorKind.V1_MALFORMED, id="proxy-crlf"),
    pytest.param(b"PROXY\t", ErrorKind.V1_MALFORMED, id="tab-after-proxy"),
    pytest.param(b"PROXY \r\n", ErrorKind.V1_MALFORMED, id="empty-family"),
    pytest.param(
        b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrorKind.V1_MALFORMED, id="double-space-first"
    ),
    pytest.param(_line("1.2.3.4  5.6.7.8 1 2"), ErrorKind.V1_MALFORMED, id="double-space-inside"),
    pytest.param(_line("1.2.3.4 5.6.7.8 1 2 "), ErrorKind.V1_MALFORMED, id="trailing-space"),
    pytest.param(_line("1.2.3.4 5.6.7.8 1"), ErrorKind.V1_MALFORMED, id="three-fields"),
    pytest.param(_line("1.2.3.4 5.6.7.8 1 2 3"), ErrorKind.V1_MALFORMED, id="five-fields"),
    pytest.param(b"PROXY TCP4\r\n", ErrorKind.V1_MALFORMED, id="no-fields"),
    pytest.param(_line("1.2.3.4\t5.6.7.8 1 2"), ErrorKind.V1_MALFORMED, id="tab-separator"),
    # the family
    pytest.param(b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", ErrorKind.V1_INVALID_FAMILY, id="tcp5"),
    pytest.param(
        b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", ErrorKind.V1_INVALID_FAMILY, id="lower-case"
    ),
    pytest.param(b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", ErrorKind.V1_INVALID_FAMILY, id="udp4"),
    pytest.param(b"PROXY UNKNOWNX\r\n", ErrorKind.V1_INVALID_FAMILY, id="unknown-suffix"),
    pytest.param(b"PROXY TCP4\x00 1.2.3.4 5.6.7.8 1 2\r\n", ErrorKind.V1_INVALID_FAMILY, id="nul"),
    pytest.param(
        "PROXY TCP٤ 1.2.3.4 5.6.7.8 1 2\r\n".encode(), ErrorKind.V1_INVALID_FAMILY, id="non-ascii"
    ),
    # the addresses (spec §2.1: no heading zeroes; family dictates the format)
    pytest.param(_line("1.2.3.04 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="leading-zero"),
    pytest.param(_line("01.2.3.4 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="octal-looking"),
    pytest.param(_line("1.2.3.256 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="octet-256"),
    pytest.param(_line("1.2.3 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="three-octets"),
    pytest.param(_line("1.2.3.4.5 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="five-octets"),
    pytest.param(_line("1.2.3. 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="empty-octet"),
    pytest.param(_line("0x7f.0.0.1 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="hex-octet"),
    pytest.param(_line("2130706433 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="integer-form"),
    pytest.param(_line("1.2.3.4 ::1 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="tcp4-with-ipv6"),
    pytest.param(
        _line("::ffff:1.2.3.4 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="tcp4-mapped"
    ),
    pytest.param(
        _line("1.2.3.4 5.6.7.8\x00 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="nul-in-address"
    ),
    pytest.param(_line("١.٢.٣.٤ 5.6.7.8 1 2"), ErrorKind.V1_INVALID_ADDRESS, id="arabic-digits"),
    pytest.param(
        b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", ErrorKind.V1_INVALID_ADDRESS, id="tcp6-with-ipv4"
    ),
    pytest.param(b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", ErrorKind.V1_INVALID_ADDRESS, id="zone"),
    pytest.param(
        b"PROXY TCP6 ::1 1::2::3 1 2\r\n", ErrorKind.V1_INVALID_ADDRESS, id="two-double-colons"
    ),
    pytest.param(b"PROXY TCP6 ::1 [::2] 1 2\r\n", ErrorKind.V1_INVALID_ADDRESS, id="brackets"),
    pytest.param(
        b"PROXY TCP6 ::\xff ::1 1 2\r\n", ErrorKind.V1_INVALID_ADDRESS, id="tcp6-non-ascii"
    ),
    pytest.param(
        b"PROXY TCP6 12345::1 ::1 1 2\r\n", ErrorKind.V1_INVALID_ADDRESS, id="five-hex-digits"
    ),
    # the ports
    pytest.param(_line("1.2.3.4 5.6.7.8 65536 2"), ErrorKind.V1_INVALID_PORT, id="port-65536"),
    pytest.param(_line("1.2.3.4 5.6.7.8 1 99999"), ErrorKind.V1_INVALID_PORT, id="port-99999"),
    pytest.param(_line("1.2.3.4 5.6.7.8 01 2"), ErrorKind.V1_INVALID_PORT, id="port-leading-zero"),
    pytest.param(_line("1.2.3.4 5.6.7.8 00 2"), ErrorKind.V1_INVALID_PORT, id="port-00"),
    pytest.param(_line("1.2.3.4 5.6.7.8 -1 2"), ErrorKind.V1_INVALID_PORT, id="port-negative"),
    pytest.param(_line("1.2.3.4 5.6.7.8 +1 2"), ErrorKind.V1_INVALID_PORT, id="port-plus"),
    pytest.param(_line("1.2.3.4 5.6.7.8 1_0 2"), ErrorKind.V1_INVALID_PORT, id="port-underscore"),
    pytest.param(_line("1.2.3.4 5.6.7.8 0x10 2"), ErrorKind.V1_INVALID_PORT, id="port-hex"),
    pytest.param(_line("1.2.3.4 5.6.7.8 1 １"), ErrorKind.V1_INVALID_PORT, id="port-fullwidth"),
    pytest.param(
        _line("1.2.3.4 5.6.7.8 1 000080"), ErrorKind.V1_INVALID_PORT, id="port-six-digits"
    ),
    pytest.param(_line("1.2.3.4 5.6.7.8 1 2\x00"), ErrorKind.V1_INVALID_PORT, id="port-nul"),
]


@pytest.mark.parametrize(("data", "kind"), ERRORS)
def test_errors(data: bytes, kind: ErrorKind) -> None:
    """Each malformed line is refused with the kind naming the broken rule."""
    with pytest.raises(ProxyProtocolError) as raised:
        parse(data)
    assert raised.value.kind == kind
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith(f"{kind}: ")


@pytest.mark.parametrize("data", [p.values[0] for p in VALID])
def test_every_truncation_is_incomplete(data: bytes) -> None:
    """Every proper prefix of a valid line is incomplete, never an error."""
    line = data[: parse(data).consumed]
    for end in range(len(line)):
        with pytest.raises(ProxyProtocolError) as raised:
            parse(line[:end])
        assert raised.value.kind == ErrorKind.INCOMPLETE, line[:end]


def test_bad_terminator_is_reported_before_the_line_completes() -> None:
    """A lone LF is refused at once rather than waiting for 107 bytes."""
    with pytest.raises(ProxyProtocolError) as raised:
        parse(b"PROXY TCP4\n")
    assert raised.value.kind == ErrorKind.V1_BAD_TERMINATOR


BUILT = [
    pytest.param(
        tcp4("192.168.0.1", "192.168.0.11", 56324, 443),
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
        id="tcp4",
    ),
    pytest.param(
        tcp6("2001:DB8::1", "::1", 1, 2), b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n", id="tcp6"
    ),
    pytest.param(UNKNOWN, b"PROXY UNKNOWN\r\n", id="unknown"),
]


@pytest.mark.parametrize(("header", "line"), BUILT)
def test_build(header: ProxyHeader, line: bytes) -> None:
    """build writes the canonical v1 line and parse reads it back."""
    assert build(header) == line
    assert parse(line) == header


BUILD_ERRORS = [
    pytest.param(ProxyHeader(version=1, command=Command.LOCAL, family=Family.UNKNOWN), id="local"),
    pytest.param(
        ProxyHeader(version=1, family=Family.UNKNOWN, transport=Transport.STREAM), id="transport"
    ),
    pytest.param(
        ProxyHeader(version=1, family=Family.UNKNOWN, tlvs=(AlpnTLV(protocol=b"h2"),)), id="tlvs"
    ),
    pytest.param(ProxyHeader(version=1, family=Family.UNKNOWN, src_port=1), id="unknown-with-port"),
    pytest.param(ProxyHeader(version=1, family=Family.INET), id="v2-family"),
    pytest.param(
        ProxyHeader(
            version=1, family=Family.TCP4, src=V6("::1"), dst=V6("::1"), src_port=1, dst_port=2
        ),
        id="tcp4-ipv6",
    ),
    pytest.param(
        ProxyHeader(
            version=1,
            family=Family.TCP6,
            src=V4("1.2.3.4"),
            dst=V4("1.2.3.4"),
            src_port=1,
            dst_port=2,
        ),
        id="tcp6-ipv4",
    ),
    pytest.param(
        ProxyHeader(
            version=1, family=Family.TCP4, src=V4("1.2.3.4"), dst=None, src_port=1, dst_port=2
        ),
        id="no-dst",
    ),
    pytest.param(
        ProxyHeader(
            version=1,
            family=Family.TCP6,
            src=V6("fe80::1%eth0"),
            dst=V6("::1"),
            src_port=1,
            dst_port=2,
        ),
        id="zone",
    ),
    pytest.param(
        ProxyHeader(
            version=1,
            family=Family.TCP4,
            src=V4("1.2.3.4"),
            dst=V4("1.2.3.4"),
            src_port=None,
            dst_port=2,
        ),
        id="no-port",
    ),
    pytest.param(
        ProxyHeader(
            version=1,
            family=Family.TCP4,
            src=V4("1.2.3.4"),
            dst=V4("1.2.3.4"),
            src_port=1,
            dst_port=65536,
        ),
        id="port-range",
    ),
    pytest.param(
        ProxyHeader(
            version=1,
            family=Family.TCP4,
            src=V4("1.2.3.4"),
            dst=V4("1.2.3.4"),
            src_port=-1,
            dst_port=2,
        ),
        id="negative-port",
    ),
]


@pytest.mark.parametrize("header", BUILD_ERRORS)
def test_build_refuses_what_v1_cannot_say(header: ProxyHeader) -> None:
    """build raises ValueError (a local error) for headers v1 cannot carry."""
    with pytest.raises(ValueError, match=r".") as raised:
        build(header)
    assert not isinstance(raised.value, ProxyProtocolError)


def test_build_v1_refuses_crc32c() -> None:
    """Asking for a CRC32C on a v1 header is a local error."""
    with pytest.raises(ValueError, match="v1 has no TLVs"):
        build(UNKNOWN, crc32c=True)
