"""TLV vectors: every type decoded, vendor shapes, SSL sub-TLVs, TLV error kinds, encoding."""

from __future__ import annotations

import struct

import pytest

from srcip.errors import ProxyProtocolError
from srcip.proxyproto import (
    TLV,
    AlpnTLV,
    AuthorityTLV,
    AwsVpcEndpointTLV,
    AzureLinkIdTLV,
    Crc32cTLV,
    ErrorKind,
    Family,
    GcpPscConnectionTLV,
    NetnsTLV,
    NoopTLV,
    ProxyHeader,
    SslCipherTLV,
    SslClient,
    SslCnTLV,
    SslKeyAlgTLV,
    SslSigAlgTLV,
    SslTLV,
    SslVersionTLV,
    TLVType,
    Transport,
    UniqueIdTLV,
    UnknownTLV,
    build,
    parse,
)
from srcip.proxyproto.tlv import encode_tlv
from tests.unit.proxyproto.strategies import SIGNATURE


def tlv(type_: int, value: bytes) -> bytes:
    """One TLV on the wire."""
    return struct.pack("!BH", type_, len(value)) + value


def unspec(tlvs: bytes) -> bytes:
    """A PROXY UNSPEC header carrying ``tlvs``."""
    return SIGNATURE + b"\x21\x00" + struct.pack("!H", len(tlvs)) + tlvs


SSL_SUBS = (
    tlv(0x21, b"TLSv1.3")
    + tlv(0x22, "José".encode())
    + tlv(0x23, b"TLS_AES_128_GCM_SHA256")
    + tlv(0x24, b"RSA-SHA256")
    + tlv(0x25, b"RSA2048")
    + tlv(0x99, b"\x00\x01")
)
SSL = SslTLV(
    client=SslClient.SSL | SslClient.CERT_CONN | SslClient.CERT_SESS,
    verify=0,
    sub_tlvs=(
        SslVersionTLV(version="TLSv1.3"),
        SslCnTLV(common_name="José"),
        SslCipherTLV(cipher="TLS_AES_128_GCM_SHA256"),
        SslSigAlgTLV(algorithm="RSA-SHA256"),
        SslKeyAlgTLV(algorithm="RSA2048"),
        UnknownTLV(type=0x99, value=b"\x00\x01"),
    ),
)

DECODED = [
    pytest.param(tlv(0x01, b"h2"), AlpnTLV(protocol=b"h2"), id="alpn"),
    pytest.param(tlv(0x01, b""), AlpnTLV(protocol=b""), id="alpn-empty"),
    pytest.param(tlv(0x01, b"\x00\xff"), AlpnTLV(protocol=b"\x00\xff"), id="alpn-any-bytes"),
    pytest.param(tlv(0x02, b"example.com"), AuthorityTLV(host="example.com"), id="authority"),
    pytest.param(tlv(0x02, "bücher.de".encode()), AuthorityTLV(host="bücher.de"), id="authority-utf8"),
    pytest.param(tlv(0x04, b""), NoopTLV(), id="noop-empty"),
    pytest.param(tlv(0x04, b"\x00" * 9), NoopTLV(padding=b"\x00" * 9), id="noop-padding"),
    pytest.param(tlv(0x05, b"x" * 128), UniqueIdTLV(unique_id=b"x" * 128), id="unique-id-128"),
    pytest.param(tlv(0x05, b""), UniqueIdTLV(unique_id=b""), id="unique-id-empty"),
    pytest.param(tlv(0x20, b"\x07\x00\x00\x00\x00" + SSL_SUBS), SSL, id="ssl-all-sub-tlvs"),
    pytest.param(tlv(0x20, b"\x00\xff\xff\xff\xff"), SslTLV(verify=2**32 - 1), id="ssl-bare"),
    pytest.param(tlv(0x20, b"\xf9\x00\x00\x00\x01"), SslTLV(client=SslClient(0xF9), verify=1), id="ssl-unknown-client-bits"),
    pytest.param(tlv(0x30, b"blue"), NetnsTLV(namespace="blue"), id="netns"),
    pytest.param(tlv(0xEA, b"\x01vpce-08d2bf15fac5001c9"), AwsVpcEndpointTLV(vpce_id="vpce-08d2bf15fac5001c9"), id="aws-vpce"),
    pytest.param(tlv(0xEE, b"\x01\x21\x43\x65\x87"), AzureLinkIdTLV(link_id=0x87654321), id="azure-link-id-le"),
    pytest.param(tlv(0xE0, b"\x00\x00\x00\x00\x00\x00\x01\x02"), GcpPscConnectionTLV(connection_id=0x102), id="gcp-psc-be"),
    # application-specific types in another shape stay raw (spec §2.2.8)
    pytest.param(tlv(0xEA, b"\x02other"), UnknownTLV(type=0xEA, value=b"\x02other"), id="aws-other-subtype"),
    pytest.param(tlv(0xEA, b"\x01\xff"), UnknownTLV(type=0xEA, value=b"\x01\xff"), id="aws-not-ascii"),
    pytest.param(tlv(0xEA, b""), UnknownTLV(type=0xEA, value=b""), id="aws-empty"),
    pytest.param(tlv(0xEE, b"\x02\x00\x00\x00\x00"), UnknownTLV(type=0xEE, value=b"\x02\x00\x00\x00\x00"), id="azure-other-subtype"),
    pytest.param(tlv(0xEE, b"\x01\x00"), UnknownTLV(type=0xEE, value=b"\x01\x00"), id="azure-short"),
    pytest.param(tlv(0xE0, b"\x01"), UnknownTLV(type=0xE0, value=b"\x01"), id="gcp-short"),
    pytest.param(tlv(0xE1, b"alibaba"), UnknownTLV(type=0xE1, value=b"alibaba"), id="custom-range"),
    pytest.param(tlv(0xF0, b""), UnknownTLV(type=0xF0, value=b""), id="experimental"),
    pytest.param(tlv(0xFF, b"\x00"), UnknownTLV(type=0xFF, value=b"\x00"), id="future"),
    pytest.param(tlv(0x00, b"zero"), UnknownTLV(type=0x00, value=b"zero"), id="type-zero"),
    pytest.param(tlv(0x21, b"TLSv1.3"), UnknownTLV(type=0x21, value=b"TLSv1.3"), id="ssl-subtype-at-top-level"),
]  # fmt: skip


@pytest.mark.parametrize(("wire", "expected"), DECODED)
def test_decode_each_type(wire: bytes, expected: TLV) -> None:
    """Each TLV type decodes to its typed value, and encodes back to the same bytes."""
    header = parse(unspec(wire))
    assert header.tlvs == (expected,)
    assert encode_tlv(expected) == wire
    assert build(header) == unspec(wire)


def test_repeats_and_order_are_kept() -> None:
    """Repeated types are all kept, in wire order."""
    wire = tlv(0x02, b"a") + tlv(0x04, b"") + tlv(0x02, b"b") + tlv(0x02, b"a")
    hosts = [t for t in parse(unspec(wire)).tlvs if isinstance(t, AuthorityTLV)]
    assert [h.host for h in hosts] == ["a", "b", "a"]


ERRORS = [
    pytest.param(b"\x01", ErrorKind.TLV_TRUNCATED, id="one-dangling-byte"),
    pytest.param(b"\x01\x00", ErrorKind.TLV_TRUNCATED, id="two-dangling-bytes"),
    pytest.param(tlv(0x01, b"h2") + b"\x04\x00", ErrorKind.TLV_TRUNCATED, id="dangling-after-tlv"),
    pytest.param(b"\x01\x00\x03h2", ErrorKind.TLV_TRUNCATED, id="value-past-header"),
    pytest.param(b"\x04\xff\xff", ErrorKind.TLV_TRUNCATED, id="length-65535"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00\x00\x21\x00\x09TLSv1.3"), ErrorKind.TLV_TRUNCATED, id="sub-tlv-past-ssl"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00\x00\x21"), ErrorKind.TLV_TRUNCATED, id="dangling-sub-tlv"),
    pytest.param(tlv(0x03, b"\x00\x00\x00"), ErrorKind.TLV_INVALID, id="crc-3-bytes"),
    pytest.param(tlv(0x03, b"\x00" * 5), ErrorKind.TLV_INVALID, id="crc-5-bytes"),
    pytest.param(tlv(0x05, b"x" * 129), ErrorKind.TLV_INVALID, id="unique-id-129"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00"), ErrorKind.TLV_INVALID, id="ssl-4-bytes"),
    pytest.param(tlv(0x20, b""), ErrorKind.TLV_INVALID, id="ssl-empty"),
    pytest.param(tlv(0x02, b"\xff\xfe"), ErrorKind.TLV_INVALID, id="authority-not-utf8"),
    pytest.param(tlv(0x02, b"\xed\xa0\x80"), ErrorKind.TLV_INVALID, id="authority-surrogate"),
    pytest.param(tlv(0x30, "näme".encode()), ErrorKind.TLV_INVALID, id="netns-not-ascii"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x21, b"TLSv\xb3")), ErrorKind.TLV_INVALID, id="ssl-version-not-ascii"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x22, b"\xc3")), ErrorKind.TLV_INVALID, id="ssl-cn-not-utf8"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x23, b"\x80")), ErrorKind.TLV_INVALID, id="ssl-cipher-not-ascii"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x24, b"\x80")), ErrorKind.TLV_INVALID, id="ssl-sig-alg-not-ascii"),
    pytest.param(tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x25, b"\x80")), ErrorKind.TLV_INVALID, id="ssl-key-alg-not-ascii"),
    pytest.param(tlv(0x03, bytes(4)) + tlv(0x03, bytes(4)), ErrorKind.TLV_INVALID, id="two-crc32c"),
]  # fmt: skip


@pytest.mark.parametrize(("wire", "kind"), ERRORS)
def test_tlv_errors(wire: bytes, kind: ErrorKind) -> None:
    """Malformed TLV areas are refused with tlv_truncated or tlv_invalid."""
    with pytest.raises(ProxyProtocolError) as raised:
        parse(unspec(wire))
    assert raised.value.kind == kind


def test_text_error_is_chained_to_the_decode_error() -> None:
    """A badly encoded string names the TLV type and keeps the codec's error as cause."""
    with pytest.raises(ProxyProtocolError, match="0x02") as raised:
        parse(unspec(tlv(0x02, b"\xff")))
    assert isinstance(raised.value.__cause__, UnicodeDecodeError)


def test_tlv_reads_are_bounded_by_the_length_field() -> None:
    """A TLV may not borrow bytes that follow the header, even if they are in the buffer."""
    data = SIGNATURE + b"\x21\x00\x00\x05" + b"\x01\x00\x04h2" + b"h2 and more"
    with pytest.raises(ProxyProtocolError) as raised:
        parse(data)
    assert raised.value.kind == ErrorKind.TLV_TRUNCATED


def test_ssl_properties() -> None:
    """SslTLV exposes verified and the first version, CN and cipher."""
    assert SSL.verified
    assert (SSL.version, SSL.common_name, SSL.cipher) == (
        "TLSv1.3",
        "José",
        "TLS_AES_128_GCM_SHA256",
    )
    bare = SslTLV(client=SslClient.SSL, verify=1)
    assert not bare.verified
    assert (bare.version, bare.common_name, bare.cipher) == (None, None, None)


def test_ssl_decode_is_shared_for_equal_bytes() -> None:
    """Equal SSL bytes decode to one shared immutable value; a bad one is refused each time."""
    first = parse(unspec(tlv(0x20, b"\x01\x00\x00\x00\x00" + SSL_SUBS))).tlvs[0]
    again = parse(unspec(tlv(0x20, b"\x01\x00\x00\x00\x00" + SSL_SUBS))).tlvs[0]
    assert first is again
    for _ in range(2):
        with pytest.raises(ProxyProtocolError):
            parse(unspec(tlv(0x20, b"\x01")))


def test_large_ssl_values_are_decoded_but_not_remembered() -> None:
    """An SSL value over 512 bytes decodes the same way, without entering the memo."""
    wire = tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x22, b"c" * 600))
    first, again = parse(unspec(wire)).tlvs[0], parse(unspec(wire)).tlvs[0]
    assert (
        first == again == SslTLV(client=SslClient.SSL, sub_tlvs=(SslCnTLV(common_name="c" * 600),))
    )
    assert first is not again


def test_find_tlv() -> None:
    """find_tlv returns the first TLV of a class, or None."""
    header = ProxyHeader(
        version=2,
        family=Family.UNSPEC,
        transport=Transport.UNSPEC,
        tlvs=(AuthorityTLV(host="a"), SSL, AuthorityTLV(host="b")),
    )
    assert header.find_tlv(AuthorityTLV) == AuthorityTLV(host="a")
    assert header.find_tlv(SslTLV) is SSL
    assert header.find_tlv(NetnsTLV) is None


def test_crc32c_value_is_not_part_of_equality() -> None:
    """Two CRC32C TLVs are equal whatever checksum they hold (it is derived, not data)."""
    assert Crc32cTLV(checksum=1) == Crc32cTLV(checksum=2)
    assert hash(Crc32cTLV(checksum=1)) == hash(Crc32cTLV())


def test_type_numbers() -> None:
    """Each class carries its registered type number (spec §2.2)."""
    assert [AlpnTLV.type, AuthorityTLV.type, Crc32cTLV.type, NoopTLV.type, UniqueIdTLV.type] == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert (SslTLV.type, NetnsTLV.type) == (0x20, 0x30)
    assert [
        SslVersionTLV.type,
        SslCnTLV.type,
        SslCipherTLV.type,
        SslSigAlgTLV.type,
        SslKeyAlgTLV.type,
    ] == list(range(0x21, 0x26))
    assert (GcpPscConnectionTLV.type, AwsVpcEndpointTLV.type, AzureLinkIdTLV.type) == (
        0xE0,
        0xEA,
        0xEE,
    )
    assert int(TLVType.SSL) == 0x20


ENCODE_ERRORS = [
    pytest.param(UnknownTLV(type=256, value=b""), id="type-256"),
    pytest.param(UnknownTLV(type=-1, value=b""), id="type-negative"),
    pytest.param(UnknownTLV(type=1, value=bytes(65536)), id="value-65536"),
    pytest.param(UniqueIdTLV(unique_id=bytes(129)), id="unique-id-129"),
    pytest.param(NetnsTLV(namespace="ü"), id="netns-not-ascii"),
    pytest.param(SslTLV(sub_tlvs=(SslCipherTLV(cipher="ü"),)), id="cipher-not-ascii"),
]  # fmt: skip


@pytest.mark.parametrize("value", ENCODE_ERRORS)
def test_encode_refuses_values_the_wire_cannot_carry(value: TLV) -> None:
    """Encoding a TLV that cannot be written (or would not parse back) is a ValueError."""
    with pytest.raises(ValueError, match=r"."):
        encode_tlv(value)


def test_unknown_tlv_can_carry_any_bytes_for_crafted_inputs() -> None:
    """UnknownTLV writes raw bytes, so tests can craft what the typed classes refuse."""
    data = build(
        ProxyHeader(
            version=2,
            family=Family.UNSPEC,
            transport=Transport.UNSPEC,
            tlvs=(UnknownTLV(type=0x05, value=bytes(129)),),
        )
    )
    with pytest.raises(ProxyProtocolError) as raised:
        parse(data)
    assert raised.value.kind == ErrorKind.TLV_INVALID
