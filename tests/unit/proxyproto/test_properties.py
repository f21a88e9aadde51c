"""Properties: round-trips for generated headers, fuzzing, streaming equals whole-buffer."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from srcip.errors import ProxyProtocolError
from srcip.proxyproto import NEED_DATA, Crc32cTLV, ErrorKind, Parser, ProxyHeader, build, parse
from tests.unit.proxyproto.strategies import SIGNATURE, headers, v1_headers, v2_headers

LARGEST = 16 + 0xFFFF


@given(headers)
def test_parse_build_round_trip(header: ProxyHeader) -> None:
    """parse(build(h)) == h, consuming exactly the built bytes, which rebuild identically."""
    data = build(header)
    parsed = parse(data, max_header_size=LARGEST)
    assert parsed == header
    assert parsed.consumed == len(data)
    assert build(parsed) == data


@given(v1_headers, st.binary(max_size=64))
def test_v1_round_trip_with_trailing_bytes(header: ProxyHeader, rest: bytes) -> None:
    """A v1 header followed by anything parses to itself and stops at its CRLF."""
    data = build(header)
    assert parse(data + rest).consumed == len(data)


@given(v2_headers())
def test_build_with_crc32c_adds_one_verified_checksum(header: ProxyHeader) -> None:
    """build(h, crc32c=True) parses to h plus one CRC32C TLV if h had none."""
    parsed = parse(build(header, crc32c=True), max_header_size=LARGEST)
    has_crc = any(isinstance(t, Crc32cTLV) for t in header.tlvs)
    expected_tlvs = header.tlvs if has_crc else (*header.tlvs, Crc32cTLV())
    assert parsed.tlvs == expected_tlvs
    assert sum(isinstance(t, Crc32cTLV) for t in parsed.tlvs) == 1


_starts = st.sampled_from(
    [b"", b"PROXY ", b"PROXY TCP4 ", b"PROXY TCP6 ", b"PROXY UNKNOWN", SIGNATURE]
    + [SIGNATURE + bytes([v, f]) for v in (0x20, 0x21) for f in (0x00, 0x11, 0x21, 0x31)]
)


def _outcome(data: bytes) -> object:
    try:
        return parse(data)
    except ProxyProtocolError as exc:
        return exc.kind


@given(_starts, st.binary(max_size=300))
def test_fuzz_only_protocol_errors_escape(start: bytes, rest: bytes) -> None:
    """Arbitrary bytes (after plausible starts) either parse or raise ProxyProtocolError."""
    _outcome(start + rest)


@given(headers, st.data())
def test_fuzz_mutated_headers(header: ProxyHeader, data: st.DataObject) -> None:
    """Valid headers with bytes changed, cut or appended raise only ProxyProtocolError."""
    wire = bytearray(build(header, crc32c=header.version == 2))
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    wire = wire[: data.draw(st.integers(0, len(wire)))] + data.draw(st.binary(max_size=8))
    _outcome(bytes(wire))


def _stream(data: bytes, sizes: list[int]) -> object:
    parser = Parser()
    chunks, start = [], 0
    for size in sizes:
        chunks.append(data[start : start + size])
        start += size
    chunks.append(data[start:])
    try:
        for chunk in chunks:
            if chunk:
                parser.receive_data(chunk)
            event = parser.next_event()
            if event is not NEED_DATA:
                return event
        parser.receive_data(b"")
        return parser.next_event()
    except ProxyProtocolError as exc:
        return exc.kind


@given(
    st.one_of(headers.map(build), _starts.flatmap(lambda s: st.binary(max_size=80).map(s.__add__))),
    st.lists(st.integers(1, 40), max_size=30),
)
def test_streaming_agrees_with_whole_buffer(data: bytes, sizes: list[int]) -> None:
    """However the bytes are chunked, the streaming parser reaches parse's outcome."""
    whole = _outcome(data)
    streamed = _stream(data, sizes)
    if whole == ErrorKind.INCOMPLETE:
        assert streamed == ErrorKind.INCOMPLETE
    else:
        assert streamed == whole
