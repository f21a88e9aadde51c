"""PROXY protocol v2: pinned vectors, LOCAL/UNSPEC/UNIX, every v2 error kind, CRC32C, build."""

from __future__ import annotations

import struct
from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address

import pytest
from crc32c import crc32c

from srcip.errors import ProxyProtocolError
from srcip.proxyproto import (
    AlpnTLV,
    AuthorityTLV,
    AzureLinkIdTLV,
    Command,
    Crc32cTLV,
    ErrorKind,
    Family,
    NoopTLV,
    ProxyHeader,
    SslCipherTLV,
    SslClient,
    SslTLV,
    SslVersionTLV,
    Transport,
    UniqueIdTLV,
    UnknownTLV,
    build,
    parse,
)
from tests.unit.proxyproto.strategies import SIGNATURE

V4, V6 = IPv4Address, IPv6Address
INET4 = (
    SIGNATURE + b"\x21\x11\x00\x0c" + bytes([192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB])
)
TCP4_HEADER = ProxyHeader(
    version=2,
    family=Family.INET,
    transport=Transport.STREAM,
    src=V4("192.0.2.1"),
    dst=V4("198.51.100.2"),
    src_port=56324,
    dst_port=443,
)


def v2(ver_cmd: int, fam: int, body: bytes, length: int | None = None) -> bytes:
    """A v2 header from its parts; ``length`` overrides the length field."""
    return (
        SIGNATURE
        + struct.pack("!BBH", ver_cmd, fam, len(body) if length is None else length)
        + body
    )


def with_crc(data: bytes) -> bytes:
    """Fill the CRC32C value (the last 4 bytes) with the right checksum."""
    zeroed = data[:-4] + bytes(4)
    return zeroed[:-4] + struct.pack("!I", crc32c(zeroed))


CRC0 = b"\x03\x00\x04\x00\x00\x00\x00"  # a CRC32C TLV with its value zeroed

# Byte-exact headers pinned by the proxy-protocol package's own tests (icgood/proxy-protocol
# test/test_v2.py), each with the CRC32C that package computes.
PEER_VECTORS = [
    pytest.param(
        SIGNATURE + b"\x21\x11\x00\x13" + b"\x00\x00\x00\x00\x7f\x00\x00\x01\x00\x00\x00\x19"
        + b"\x03\x00\x04%\xc9\x11r",
        ProxyHeader(version=2, family=Family.INET, transport=Transport.STREAM, src=V4("0.0.0.0"),
                    dst=V4("127.0.0.1"), src_port=0, dst_port=25, tlvs=(Crc32cTLV(),)),
        id="tcp4-crc",
    ),
    pytest.param(
        SIGNATURE + b"!!\x00+" + (b"\x00" * 15 + b"\x01") * 2 + b"\x00\x00\x00\x19"
        + b"\x03\x00\x04p\x86\x92\xe9",
        ProxyHeader(version=2, family=Family.INET6, transport=Transport.STREAM, src=V6("::1"),
                    dst=V6("::1"), src_port=0, dst_port=25, tlvs=(Crc32cTLV(),)),
        id="tcp6-crc",
    ),
    pytest.param(
        SIGNATURE + b"\x21\x31\x00\xdf" + b"abc" + b"\x00" * 105 + b"defghi" + b"\x00" * 102
        + b"\x03\x00\x04W\x8a\x8e\xb4",
        ProxyHeader(version=2, family=Family.UNIX, transport=Transport.STREAM, src="abc",
                    dst="defghi", tlvs=(Crc32cTLV(),)),
        id="unix-crc",
    ),
    pytest.param(
        SIGNATURE + b"!\x00\x00\x07\x03\x00\x04>\xc9\x89N",
        ProxyHeader(version=2, family=Family.UNSPEC, transport=Transport.UNSPEC, tlvs=(Crc32cTLV(),)),
        id="proxy-unspec-crc",
    ),
    pytest.param(
        SIGNATURE + b"\x20\x00\x00\x07\x03\x00\x04\xa9\xb8~\x8f",
        ProxyHeader(version=2, command=Command.LOCAL, family=Family.UNSPEC,
                    transport=Transport.UNSPEC, tlvs=(Crc32cTLV(),)),
        id="local-crc",
    ),
    pytest.param(
        SIGNATURE + b"!\x00\x00m" + b"\x03\x00\x04\x16\xb5\"\x85"
        + b"\x04\x00/\x88\x1by\xc1\xce\x96\x85\xb0\x01\x00\x10compression_name"
        + b"\x02\x00\x02\x00{\x04\x00\x0cdnsbl_result"
        + b"\x05\x00\rconnection_id"
        + b" \x00!\x01\x00\x00\x00\x01!\x00\x0bssl_version#\x00\x0bcipher_name",
        ProxyHeader(
            version=2, family=Family.UNSPEC, transport=Transport.UNSPEC,
            tlvs=(
                Crc32cTLV(),
                NoopTLV(padding=b"\x88\x1by\xc1\xce\x96\x85\xb0\x01\x00\x10compression_name"
                        b"\x02\x00\x02\x00{\x04\x00\x0cdnsbl_result"),
                UniqueIdTLV(unique_id=b"connection_id"),
                SslTLV(client=SslClient.SSL, verify=1, sub_tlvs=(
                    SslVersionTLV(version="ssl_version"), SslCipherTLV(cipher="cipher_name"))),
            ),
        ),
        id="noop-unique-id-ssl-crc",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("data", "expected"), PEER_VECTORS)
def test_peer_vectors_parse_and_build_byte_exact(data: bytes, expected: ProxyHeader) -> None:
    """Headers pinned by another implementation parse, verify, and rebuild to the same bytes."""
    header = parse(data)
    assert header == expected
    assert header.consumed == len(data)
    assert build(header) == data
    assert build(expected) == data


def test_inet_header_with_trailing_data() -> None:
    """An INET header stops at 16 + len; what follows is not read."""
    header = parse(INET4 + b"\x03\x00\x04garbage that is not a TLV")
    assert header == TCP4_HEADER
    assert header.consumed == 28


def test_dgram_and_inet6() -> None:
    """UDP over IPv6 (0x22) decodes addresses and ports."""
    body = V6("2001:db8::1").packed + V6("::ffff:192.0.2.1").packed + b"\x00\x35\x13\x88"
    header = parse(v2(0x21, 0x22, body))
    assert (header.family, header.transport) == (Family.INET6, Transport.DGRAM)
    assert header.src == V6("2001:db8::1")
    assert header.dst == V6("::ffff:192.0.2.1")  # kept as given, not unmapped
    assert (header.src_port, header.dst_port) == (53, 5000)


def test_local_skips_the_address_block_and_reads_tlvs() -> None:
    """LOCAL with an INET block: no addresses, the block skipped, the TLVs after it decoded."""
    body = bytes([10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2]) + b"\x01\x00\x02h2" + CRC0
    header = parse(with_crc(v2(0x20, 0x11, body)))
    assert header.command is Command.LOCAL
    assert (header.family, header.transport) == (Family.INET, Transport.STREAM)
    assert (header.src, header.dst, header.src_port, header.dst_port) == (None,) * 4
    assert header.tlvs == (AlpnTLV(protocol=b"h2"), Crc32cTLV())


def test_local_address_bytes_are_not_taken_for_tlvs() -> None:
    """LOCAL's skipped address bytes are never parsed as TLVs (the peer package does)."""
    body = bytes([0xC0, 0x00, 0x02, 0x01, 0x33, 0x00, 0x04, 0, 0, 0, 0, 0])
    assert parse(v2(0x20, 0x11, body)).tlvs == ()


def test_proxy_unspec_has_no_addresses() -> None:
    """PROXY with family UNSPEC is accepted with no addresses (spec §2.2)."""
    header = parse(v2(0x21, 0x00, b""))
    assert header.command is Command.PROXY
    assert (header.family, header.transport, header.src) == (Family.UNSPEC, Transport.UNSPEC, None)


UNIX_PATHS = [
    pytest.param(b"/run/app.sock", "/run/app.sock", id="plain"),
    pytest.param(b"/tmp/a\x00junk after the terminator", "/tmp/a", id="ends-at-first-nul"),
    pytest.param(b"\x00abstract", "\x00abstract", id="abstract"),
    pytest.param(b"\x00ab\x00cd", "\x00ab\x00cd", id="abstract-inner-nul"),
    pytest.param(b"", "", id="unnamed"),
    pytest.param(b"x" * 108, "x" * 108, id="full-108-no-terminator"),
    pytest.param(b"/tmp/\xff\xfe", "/tmp/\udcff\udcfe", id="not-utf8-surrogateescape"),
    pytest.param("/tmp/é".encode(), "/tmp/é", id="utf8"),
]


@pytest.mark.parametrize(("raw", "path"), UNIX_PATHS)
def test_unix_paths(raw: bytes, path: str) -> None:
    """UNIX paths are read from the 108-byte fields; they rebuild to the same path."""
    field = raw.ljust(108, b"\x00")
    header = parse(v2(0x21, 0x32, field + b"/dst".ljust(108, b"\x00")))
    assert (header.src, header.dst, header.src_port) == (path, "/dst", None)
    assert header.transport is Transport.DGRAM
    assert parse(build(header)) == header


ERRORS = [
    pytest.param(SIGNATURE + b"\x11", ErrorKind.V2_UNSUPPORTED_VERSION, id="version-1"),
    pytest.param(SIGNATURE + b"\x31\x11\x00\x0c", ErrorKind.V2_UNSUPPORTED_VERSION, id="version-3"),
    pytest.param(SIGNATURE + b"\x01", ErrorKind.V2_UNSUPPORTED_VERSION, id="version-0"),
    pytest.param(SIGNATURE + b"\xf1", ErrorKind.V2_UNSUPPORTED_VERSION, id="version-f"),
    pytest.param(v2(0x22, 0x11, bytes(12)), ErrorKind.V2_INVALID_COMMAND, id="command-2"),
    pytest.param(v2(0x2F, 0x00, b""), ErrorKind.V2_INVALID_COMMAND, id="command-f"),
    pytest.param(v2(0x21, 0x41, bytes(12)), ErrorKind.V2_INVALID_FAMILY, id="family-4"),
    pytest.param(v2(0x21, 0xF1, bytes(12)), ErrorKind.V2_INVALID_FAMILY, id="family-f"),
    pytest.param(v2(0x21, 0x40, b""), ErrorKind.V2_INVALID_FAMILY, id="family-4-unspec"),
    pytest.param(v2(0x21, 0x13, bytes(12)), ErrorKind.V2_INVALID_TRANSPORT, id="transport-3"),
    pytest.param(v2(0x21, 0x1F, bytes(12)), ErrorKind.V2_INVALID_TRANSPORT, id="transport-f"),
    pytest.param(v2(0x21, 0x10, bytes(12)), ErrorKind.V2_INVALID_TRANSPORT, id="inet-unspec"),
    pytest.param(v2(0x21, 0x01, b""), ErrorKind.V2_INVALID_TRANSPORT, id="unspec-stream"),
    pytest.param(v2(0x20, 0x30, b""), ErrorKind.V2_INVALID_TRANSPORT, id="local-unix-unspec"),
    pytest.param(v2(0x21, 0x11, bytes(11)), ErrorKind.V2_ADDRESS_TRUNCATED, id="inet-11"),
    pytest.param(v2(0x21, 0x21, bytes(35)), ErrorKind.V2_ADDRESS_TRUNCATED, id="inet6-35"),
    pytest.param(v2(0x21, 0x31, bytes(215)), ErrorKind.V2_ADDRESS_TRUNCATED, id="unix-215"),
    pytest.param(v2(0x21, 0x21, bytes(12)), ErrorKind.V2_ADDRESS_TRUNCATED, id="inet6-with-inet-block"),
    pytest.param(v2(0x20, 0x11, b""), ErrorKind.V2_ADDRESS_TRUNCATED, id="local-inet-empty"),
    pytest.param(SIGNATURE + b"\x21\x11\x00\x00", ErrorKind.V2_ADDRESS_TRUNCATED, id="decided-at-16"),
    pytest.param(SIGNATURE + b"\x21\x11\x0f\xf1", ErrorKind.TLV_TRUNCATED, id="over-4096-decided-at-16"),
    pytest.param(SIGNATURE + b"\x21\x11\xff\xff", ErrorKind.TLV_TRUNCATED, id="len-65535"),
    pytest.param(with_crc(INET4[:15] + b"\x13" + INET4[16:] + CRC0)[:-1] + b"\x00", ErrorKind.V2_CRC32C_MISMATCH, id="crc-wrong"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "kind"), ERRORS)
def test_errors(data: bytes, kind: ErrorKind) -> None:
    """Each malformed v2 header is refused with the kind naming the broken rule."""
    with pytest.raises(ProxyProtocolError) as raised:
        parse(data)
    assert raised.value.kind == kind


def test_max_header_size_is_configurable() -> None:
    """A header over max_header_size is refused; a larger limit accepts it."""
    data = build(replace(TCP4_HEADER, tlvs=(NoopTLV(padding=bytes(5000)),)))
    with pytest.raises(ProxyProtocolError) as raised:
        parse(data)
    assert raised.value.kind == ErrorKind.TLV_TRUNCATED
    assert parse(data, max_header_size=len(data)).consumed == len(data)
    with pytest.raises(ProxyProtocolError):
        parse(data, max_header_size=len(data) - 1)


def test_crc32c_is_verified_over_the_bytes_as_received() -> None:
    """A CRC32C before other TLVs verifies over the bytes in wire order (not re-sorted)."""
    body = INET4[16:] + CRC0 + b"\x01\x00\x02h2"
    head = SIGNATURE + b"\x21\x11" + struct.pack("!H", len(body))
    zeroed = head + body
    at = len(head) + 12 + 3
    data = zeroed[:at] + struct.pack("!I", crc32c(zeroed)) + zeroed[at + 4 :]
    assert parse(data).tlvs == (Crc32cTLV(), AlpnTLV(protocol=b"h2"))


FLIPS = [
    pytest.param(0, ErrorKind.NOT_PROXY_PROTOCOL, id="signature"),
    pytest.param(12, ErrorKind.V2_CRC32C_MISMATCH, id="proxy-to-local"),
    pytest.param(13, ErrorKind.V2_INVALID_TRANSPORT, id="family-byte"),
    pytest.param(14, ErrorKind.INCOMPLETE, id="length-high"),
    pytest.param(15, ErrorKind.TLV_TRUNCATED, id="length-low"),
    pytest.param(16, ErrorKind.V2_CRC32C_MISMATCH, id="src-address"),
    pytest.param(20, ErrorKind.V2_CRC32C_MISMATCH, id="dst-address"),
    pytest.param(27, ErrorKind.V2_CRC32C_MISMATCH, id="dst-port"),
    pytest.param(28, ErrorKind.TLV_INVALID, id="crc-type-to-authority"),
    pytest.param(30, ErrorKind.TLV_TRUNCATED, id="crc-length"),
    pytest.param(31, ErrorKind.V2_CRC32C_MISMATCH, id="checksum-first"),
    pytest.param(34, ErrorKind.V2_CRC32C_MISMATCH, id="checksum-last"),
]


@pytest.mark.parametrize(("offset", "kind"), FLIPS)
def test_crc32c_protected_header_with_one_bit_flipped(offset: int, kind: ErrorKind) -> None:
    """Flipping one bit of a CRC-protected header is refused: a mismatch or an earlier rule."""
    data = bytearray(with_crc(INET4[:15] + b"\x13" + INET4[16:] + CRC0))
    data[offset] ^= 0x01
    with pytest.raises(ProxyProtocolError) as raised:
        parse(bytes(data))
    assert raised.value.kind == kind


def test_crc32c_in_local_header_is_checked() -> None:
    """LOCAL headers have their CRC32C verified too."""
    data = bytearray(SIGNATURE + b"\x20\x00\x00\x07\x03\x00\x04\xa9\xb8~\x8f")
    data[-1] ^= 0xFF
    with pytest.raises(ProxyProtocolError) as raised:
        parse(bytes(data))
    assert raised.value.kind == ErrorKind.V2_CRC32C_MISMATCH


@pytest.mark.parametrize(("data", "expected"), PEER_VECTORS)
def test_every_truncation_is_incomplete(data: bytes, expected: ProxyHeader) -> None:
    """Every proper prefix of a valid v2 header is incomplete, never an error."""
    for end in range(len(data)):
        with pytest.raises(ProxyProtocolError) as raised:
            parse(data[:end])
        assert raised.value.kind == ErrorKind.INCOMPLETE


def test_build_crc32c_appends_or_fills() -> None:
    """crc32c=True appends a CRC32C TLV if absent; an existing one is filled in place."""
    appended = parse(build(TCP4_HEADER, crc32c=True))
    assert appended.tlvs == (Crc32cTLV(),)
    placed = replace(TCP4_HEADER, tlvs=(Crc32cTLV(checksum=7), AlpnTLV(protocol=b"x")))
    data = build(placed, crc32c=True)
    assert parse(data) == placed
    assert parse(data).tlvs[0] != UnknownTLV(type=3, value=b"\x00\x00\x00\x07")
    assert data == build(placed)


def test_build_local_with_family_writes_a_zero_block() -> None:
    """A LOCAL header with family INET gets a zeroed address block, so it parses back."""
    header = ProxyHeader(
        version=2, command=Command.LOCAL, family=Family.INET, transport=Transport.DGRAM
    )
    data = build(header)
    assert data == SIGNATURE + b"\x20\x12\x00\x0c" + bytes(12)
    assert parse(data) == header


def _h(**fields: object) -> ProxyHeader:
    base: dict[str, object] = {"version": 2, "family": Family.INET, "transport": Transport.STREAM}
    return ProxyHeader(**{**base, **fields})  # type: ignore[arg-type]


BUILD_ERRORS = [
    pytest.param(_h(transport=None), id="no-transport"),
    pytest.param(_h(transport=Transport.UNSPEC), id="inet-unspec"),
    pytest.param(_h(family=Family.UNSPEC), id="unspec-stream"),
    pytest.param(_h(family=Family.TCP4), id="v1-family"),
    pytest.param(_h(command="BOGUS"), id="bad-command"),
    pytest.param(_h(command=Command.LOCAL, src=V4("1.2.3.4")), id="local-with-address"),
    pytest.param(_h(family=Family.UNSPEC, transport=Transport.UNSPEC, src_port=1), id="unspec-with-port"),
    pytest.param(_h(src=V4("1.2.3.4"), dst=V4("1.2.3.4")), id="inet-no-ports"),
    pytest.param(_h(src=V6("::1"), dst=V6("::1"), src_port=1, dst_port=2), id="inet-ipv6"),
    pytest.param(_h(family=Family.INET6, src=V4("1.2.3.4"), dst=V4("1.2.3.4"), src_port=1, dst_port=2), id="inet6-ipv4"),
    pytest.param(_h(family=Family.UNIX, src="/a", dst="/b", src_port=1), id="unix-port"),
    pytest.param(_h(family=Family.UNIX, src="/a", dst=None), id="unix-no-dst"),
    pytest.param(_h(family=Family.UNIX, src=V4("1.2.3.4"), dst="/b"), id="unix-ip"),
    pytest.param(_h(family=Family.UNIX, src="/a\x00b", dst="/b"), id="unix-nul"),
    pytest.param(_h(family=Family.UNIX, src="\x00", dst="/b"), id="unix-bare-nul"),
    pytest.param(_h(family=Family.UNIX, src="\x00abc\x00", dst="/b"), id="abstract-trailing-nul"),
    pytest.param(_h(family=Family.UNIX, src="x" * 109, dst="/b"), id="unix-109"),
    pytest.param(_h(family=Family.UNIX, src="é" * 55, dst="/b"), id="unix-110-bytes"),
    pytest.param(_h(family=Family.UNSPEC, transport=Transport.UNSPEC, tlvs=(Crc32cTLV(), Crc32cTLV())), id="two-crc"),
    pytest.param(_h(family=Family.UNSPEC, transport=Transport.UNSPEC, tlvs=(NoopTLV(padding=bytes(65533)),)), id="too-long"),
    pytest.param(_h(family=Family.UNSPEC, transport=Transport.UNSPEC, tlvs=(AzureLinkIdTLV(link_id=2**32),)), id="azure-overflow"),
    pytest.param(_h(family=Family.UNSPEC, transport=Transport.UNSPEC, tlvs=(SslTLV(verify=-1),)), id="ssl-verify-negative"),
    pytest.param(_h(family=Family.UNSPEC, transport=Transport.UNSPEC, tlvs=(AuthorityTLV(host="\udcff"),)), id="lone-surrogate"),
]  # fmt: skip


@pytest.mark.parametrize("header", BUILD_ERRORS)
def test_build_refuses_what_v2_cannot_say(header: ProxyHeader) -> None:
    """build raises ValueError (a local error) for headers v2 cannot carry."""
    with pytest.raises(ValueError, match=r".") as raised:
        build(header)
    assert not isinstance(raised.value, ProxyProtocolError)


def test_build_refuses_unknown_version() -> None:
    """Versions other than 1 and 2 are a local error."""
    with pytest.raises(ValueError, match="versions 1 and 2"):
        build(ProxyHeader(version=3, family=Family.UNSPEC))  # type: ignore[arg-type]


def test_build_writes_tlvs_in_the_given_order() -> None:
    """TLVs are serialised in header order, repeats included."""
    tlvs = (AuthorityTLV(host="b"), AlpnTLV(protocol=b"h2"), AuthorityTLV(host="a"))
    data = build(_h(family=Family.UNSPEC, transport=Transport.UNSPEC, tlvs=tlvs))
    assert data[16:] == b"\x02\x00\x01b\x01\x00\x02h2\x02\x00\x01a"
    assert parse(data).tlvs == tlvs
