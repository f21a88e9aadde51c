"""Hypothesis strategies for PROXY protocol headers in canonical form.

"Canonical" means what :func:`srcip.proxyproto.parse` itself produces: raw
:class:`UnknownTLV` values only where no decoder applies, at most one CRC32C TLV, UNIX
paths that survive the 108-byte field. For those, ``parse(build(h)) == h`` must hold.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from hypothesis import strategies as st

from srcip.proxyproto import (
    TLV,
    AlpnTLV,
    AuthorityTLV,
    AwsVpcEndpointTLV,
    AzureLinkIdTLV,
    Command,
    Crc32cTLV,
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
    SslSubTLV,
    SslTLV,
    SslVersionTLV,
    Transport,
    UniqueIdTLV,
    UnknownTLV,
)

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
DECODED_TYPES = {0x01, 0x02, 0x03, 0x04, 0x05, 0x20, 0x30, 0xE0, 0xEA, 0xEE}
SSL_DECODED_TYPES = {0x21, 0x22, 0x23, 0x24, 0x25}

ipv4s = st.builds(IPv4Address, st.integers(0, 2**32 - 1))
ipv6s = st.builds(IPv6Address, st.integers(0, 2**128 - 1))
ports = st.integers(0, 0xFFFF)
ascii_text = st.text(st.characters(max_codepoint=0x7F), max_size=24)
utf8_text = st.text(max_size=24)
short_bytes = st.binary(max_size=24)

_plain_paths = (
    st.binary(max_size=108)
    .filter(lambda raw: b"\0" not in raw)
    .map(lambda raw: raw.decode("utf-8", "surrogateescape"))
)
_abstract_paths = (
    st.binary(min_size=1, max_size=107)
    .filter(lambda raw: not raw.endswith(b"\0"))
    .map(lambda raw: "\0" + raw.decode("utf-8", "surrogateescape"))
)
unix_paths = st.one_of(_plain_paths, _abstract_paths)

_vendor_raw = st.one_of(
    st.builds(UnknownTLV, type=st.just(0xE0), value=short_bytes.filter(lambda v: len(v) != 8)),
    st.builds(UnknownTLV, type=st.just(0xEA), value=short_bytes.filter(lambda v: v[:1] != b"\1")),
    st.builds(UnknownTLV, type=st.just(0xEE), value=short_bytes.filter(lambda v: len(v) != 5)),
)
_unknown = st.builds(
    UnknownTLV,
    type=st.integers(0, 0xFF).filter(lambda t: t not in DECODED_TYPES),
    value=short_bytes,
)
_ssl_subs: st.SearchStrategy[SslSubTLV] = st.one_of(
    st.builds(SslVersionTLV, version=ascii_text),
    st.builds(SslCnTLV, common_name=utf8_text),
    st.builds(SslCipherTLV, cipher=ascii_text),
    st.builds(SslSigAlgTLV, algorithm=ascii_text),
    st.builds(SslKeyAlgTLV, algorithm=ascii_text),
    st.builds(
        UnknownTLV,
        type=st.integers(0, 0xFF).filter(lambda t: t not in SSL_DECODED_TYPES),
        value=short_bytes,
    ),
)
_no_crc_tlvs: st.SearchStrategy[TLV] = st.one_of(
    st.builds(AlpnTLV, protocol=short_bytes),
    st.builds(AuthorityTLV, host=utf8_text),
    st.builds(NoopTLV, padding=short_bytes),
    st.builds(UniqueIdTLV, unique_id=st.binary(max_size=128)),
    st.builds(
        SslTLV,
        client=st.integers(0, 0xFF).map(SslClient),
        verify=st.integers(0, 2**32 - 1),
        sub_tlvs=st.lists(_ssl_subs, max_size=6).map(tuple),
    ),
    st.builds(NetnsTLV, namespace=ascii_text),
    st.builds(AwsVpcEndpointTLV, vpce_id=ascii_text),
    st.builds(AzureLinkIdTLV, link_id=st.integers(0, 2**32 - 1)),
    st.builds(GcpPscConnectionTLV, connection_id=st.integers(0, 2**64 - 1)),
    _vendor_raw,
    _unknown,
)


@st.composite
def tlv_lists(draw: st.DrawFn) -> tuple[TLV, ...]:
    """Up to 8 TLVs in any order, repeats allowed, with at most one CRC32C anywhere."""
    tlvs = draw(st.lists(_no_crc_tlvs, max_size=8))
    if draw(st.booleans()):
        tlvs.insert(draw(st.integers(0, len(tlvs))), Crc32cTLV())
    return tuple(tlvs)


v1_headers = st.one_of(
    st.builds(
        ProxyHeader,
        version=st.just(1),
        family=st.just(Family.TCP4),
        src=ipv4s,
        dst=ipv4s,
        src_port=ports,
        dst_port=ports,
    ),
    st.builds(
        ProxyHeader,
        version=st.just(1),
        family=st.just(Family.TCP6),
        src=ipv6s,
        dst=ipv6s,
        src_port=ports,
        dst_port=ports,
    ),
    st.just(ProxyHeader(version=1, family=Family.UNKNOWN)),
)

_TRANSPORTS = st.sampled_from([Transport.STREAM, Transport.DGRAM])


@st.composite
def v2_headers(draw: st.DrawFn) -> ProxyHeader:
    """Any v2 header: both commands, every family with its transports, any TLVs."""
    family = draw(st.sampled_from([Family.UNSPEC, Family.INET, Family.INET6, Family.UNIX]))
    transport = Transport.UNSPEC if family is Family.UNSPEC else draw(_TRANSPORTS)
    command = draw(st.sampled_from(Command))
    fields: dict[str, object] = {}
    if command is Command.PROXY and family in (Family.INET, Family.INET6):
        addresses = ipv4s if family is Family.INET else ipv6s
        fields = {"src": draw(addresses), "dst": draw(addresses)}
        fields |= {"src_port": draw(ports), "dst_port": draw(ports)}
    elif command is Command.PROXY and family is Family.UNIX:
        fields = {"src": draw(unix_paths), "dst": draw(unix_paths)}
    return ProxyHeader(
        version=2,
        command=command,
        family=family,
        transport=transport,
        tlvs=draw(tlv_lists()),
        **fields,  # type: ignore[arg-type]
    )


headers = st.one_of(v1_headers, v2_headers())
