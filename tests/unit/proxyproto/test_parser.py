"""The streaming Parser: chunking, trailing data, states, end of stream, misuse."""

from __future__ import annotations

import pytest

from srcip.errors import ProxyProtocolError
from srcip.proxyproto import NEED_DATA, ErrorKind, Parser, ParserState, ProxyHeader, parse
from tests.unit.proxyproto.strategies import SIGNATURE
from tests.unit.proxyproto.test_v2 import PEER_VECTORS

HTTP = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"
VECTORS = [
    pytest.param(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", id="v1-tcp4"),
    pytest.param(b"PROXY UNKNOWN whatever\r\n", id="v1-unknown"),
    *(pytest.param(p.values[0], id=f"v2-{p.id}") for p in PEER_VECTORS),
]


def feed(parser: Parser, data: bytes, size: int) -> ProxyHeader:
    """Feed ``data`` in ``size``-byte chunks until the parser produces a header."""
    for start in range(0, len(data), size):
        parser.receive_data(data[start : start + size])
        event = parser.next_event()
        if event is not NEED_DATA:
            assert isinstance(event, ProxyHeader)
            return event
    raise AssertionError("no header")


@pytest.mark.parametrize("data", VECTORS)
def test_every_chunk_size_gives_the_whole_buffer_result(data: bytes) -> None:
    """Chunks of every size, one byte upward, give parse's header and keep the rest."""
    expected = parse(data)
    stream = data + HTTP
    for size in range(1, len(stream) + 1):
        parser = Parser()
        header = feed(parser, stream, size)
        assert header == expected
        assert header.consumed == len(data)
        received = ((len(data) - 1) // size + 1) * size
        assert parser.trailing_data == stream[len(data) : received]


def test_a_second_header_stays_application_data() -> None:
    """Exactly one header is read; one following it is trailing data (spec §2)."""
    first = b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n"
    spoofed = b"PROXY TCP4 6.6.6.6 10.0.0.2 1 2\r\n"
    parser = Parser()
    parser.receive_data(first + spoofed)
    header = parser.next_event()
    assert isinstance(header, ProxyHeader)
    assert str(header.src) == "10.0.0.1"
    assert parser.trailing_data == spoofed


def state(parser: Parser) -> ParserState:
    """The parser's state (a call, so type checkers do not pin it between steps)."""
    return parser.state


def test_states_and_repeated_calls() -> None:
    """WAITING until the header, then DONE returning the same header again."""
    parser = Parser()
    assert state(parser) is ParserState.WAITING
    assert parser.next_event() is NEED_DATA
    assert (parser.header, parser.trailing_data) == (None, b"")
    parser.receive_data(b"PROXY UNKNOWN\r")
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"\nrest")
    header = parser.next_event()
    assert state(parser) is ParserState.DONE
    assert parser.next_event() is header
    assert parser.header is header
    assert parser.trailing_data == b"rest"


def test_feeding_a_finished_parser_is_a_local_error() -> None:
    """receive_data after DONE raises RuntimeError."""
    parser = Parser()
    parser.receive_data(b"PROXY UNKNOWN\r\n")
    parser.next_event()
    with pytest.raises(RuntimeError, match="DONE"):
        parser.receive_data(b"more")


def test_error_is_decided_early_and_repeats() -> None:
    """Bad input is refused on its first wrong byte; later calls raise the same kind."""
    parser = Parser()
    parser.receive_data(b"\x16")  # a TLS record, not a PROXY header
    with pytest.raises(ProxyProtocolError) as first:
        parser.next_event()
    assert first.value.kind == ErrorKind.NOT_PROXY_PROTOCOL
    assert state(parser) is ParserState.ERROR
    with pytest.raises(ProxyProtocolError) as second:
        parser.next_event()
    assert second.value.kind == ErrorKind.NOT_PROXY_PROTOCOL
    with pytest.raises(RuntimeError, match="ERROR"):
        parser.receive_data(b"x")


def test_v2_oversize_is_refused_at_the_length_field() -> None:
    """A v2 length over the limit is refused once 16 bytes are in, without buffering more."""
    parser = Parser(max_header_size=1024)
    parser.receive_data(SIGNATURE + b"\x21\x11\x04\x00")
    with pytest.raises(ProxyProtocolError) as raised:
        parser.next_event()
    assert raised.value.kind == ErrorKind.TLV_TRUNCATED


def test_end_of_stream_inside_the_header_is_incomplete() -> None:
    """receive_data(b"") marks the end of stream; a partial header then raises incomplete."""
    parser = Parser()
    parser.receive_data(SIGNATURE + b"\x21\x11\x00\x0c\x01")
    assert parser.next_event() is NEED_DATA
    parser.receive_data(b"")
    with pytest.raises(ProxyProtocolError) as raised:
        parser.next_event()
    assert raised.value.kind == ErrorKind.INCOMPLETE
    assert state(parser) is ParserState.ERROR


def test_end_of_stream_right_after_the_header_is_fine() -> None:
    """A complete header followed by end of stream is still produced."""
    parser = Parser()
    parser.receive_data(b"PROXY UNKNOWN\r\n")
    parser.receive_data(b"")
    assert isinstance(parser.next_event(), ProxyHeader)


def test_end_of_stream_before_anything() -> None:
    """End of stream with no bytes at all is incomplete."""
    parser = Parser()
    parser.receive_data(b"")
    with pytest.raises(ProxyProtocolError) as raised:
        parser.next_event()
    assert raised.value.kind == ErrorKind.INCOMPLETE


def test_need_data_repr() -> None:
    """NEED_DATA prints as its name."""
    assert repr(NEED_DATA) == "NEED_DATA"


def test_parser_checks_its_limit() -> None:
    """An out-of-range max_header_size is a ValueError at construction."""
    with pytest.raises(ValueError, match="max_header_size"):
        Parser(max_header_size=100)
