"""Version detection, the error vocabulary, and parse's arguments."""

from __future__ import annotations

import pytest

import srcip.proxyproto as pp
from srcip.errors import ProtocolError, ProxyProtocolError, SrcipError
from srcip.proxyproto import ErrorKind, Family, parse
from tests.unit.proxyproto.strategies import SIGNATURE

# The exact set issue 3 §1 lists.
ISSUE_KINDS = {
    "incomplete",
    "not_proxy_protocol",
    "v1_line_too_long",
    "v1_bad_terminator",
    "v1_malformed",
    "v1_invalid_family",
    "v1_invalid_address",
    "v1_invalid_port",
    "v2_unsupported_version",
    "v2_invalid_command",
    "v2_invalid_family",
    "v2_invalid_transport",
    "v2_address_truncated",
    "tlv_truncated",
    "tlv_invalid",
    "v2_crc32c_mismatch",
}


def test_error_kinds_are_exactly_the_issues_set() -> None:
    """ErrorKind has exactly the sixteen kinds of the issue, spelled the same."""
    assert {kind.value for kind in ErrorKind} == ISSUE_KINDS


def test_error_type_place_in_the_tree() -> None:
    """ProxyProtocolError is a remote ProtocolError and a ValueError."""
    error = ProxyProtocolError(ErrorKind.INCOMPLETE, "x")
    assert isinstance(error, ProtocolError)
    assert isinstance(error, SrcipError)
    assert isinstance(error, ValueError)
    assert error.kind == "incomplete"


NOT_PROXY = [
    pytest.param(b"G", id="http-first-byte"),
    pytest.param(b"GET / HTTP/1.1\r\n\r\n", id="http"),
    pytest.param(b"\x16\x03\x01\x02\x00", id="tls-client-hello"),
    pytest.param(b"SSH-2.0-OpenSSH\r\n", id="ssh"),
    pytest.param(b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", id="lower-case-proxy"),
    pytest.param(b"PROXX", id="proxx"),
    pytest.param(b"PRO\x00", id="nul-in-prefix"),
    pytest.param(b"\r\n\r\n\x00\r\nQUIX", id="signature-diverges-at-11"),
    pytest.param(b"\r\n\r\n\x01", id="signature-diverges-at-5"),
    pytest.param(b"\r\nPROXY", id="crlf-then-proxy"),
    pytest.param(b" PROXY TCP4", id="leading-space"),
    pytest.param(b"\x00" * 16, id="zeros"),
]


@pytest.mark.parametrize("data", NOT_PROXY)
def test_not_proxy_protocol_is_decided_from_the_first_differing_byte(data: bytes) -> None:
    """Input that stops matching both signatures is refused at once, however short."""
    with pytest.raises(ProxyProtocolError) as raised:
        parse(data)
    assert raised.value.kind == ErrorKind.NOT_PROXY_PROTOCOL


@pytest.mark.parametrize(
    "data",
    [b"", b"P", b"PROX", b"PROXY", b"\r", b"\r\n\r\n\x00", SIGNATURE, SIGNATURE + b"\x21\x11\x00"],
)
def test_valid_starts_are_incomplete(data: bytes) -> None:
    """A valid start of either version is incomplete, not refused."""
    with pytest.raises(ProxyProtocolError) as raised:
        parse(data)
    assert raised.value.kind == ErrorKind.INCOMPLETE


@pytest.mark.parametrize(
    "wrap", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"]
)
def test_parse_accepts_any_bytes_like(wrap: type) -> None:
    """bytes, bytearray and memoryview parse alike, and decoded values are bytes."""
    data = SIGNATURE + b"\x21\x00\x00\x05\x01\x00\x02h2"
    header = parse(wrap(data))
    assert type(header.tlvs[0].protocol) is bytes  # type: ignore[union-attr]


@pytest.mark.parametrize("size", [0, 231, 65552, -1])
def test_max_header_size_out_of_range_is_a_local_error(size: int) -> None:
    """A limit that would refuse valid TLV-less headers, or exceeds the field, is a ValueError."""
    with pytest.raises(ValueError, match="max_header_size") as raised:
        parse(b"PROXY UNKNOWN\r\n", max_header_size=size)
    assert not isinstance(raised.value, ProxyProtocolError)


@pytest.mark.parametrize("size", [232, 65551])
def test_max_header_size_bounds_are_accepted(size: int) -> None:
    """The smallest and largest limits are accepted."""
    assert parse(b"PROXY UNKNOWN\r\n", max_header_size=size).family is Family.UNKNOWN


def _isort_key(name: str) -> tuple[int, str]:
    # ruff RUF022's order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_public_api_is_sorted_and_importable() -> None:
    """__all__ is sorted (ruff's isort style) and every name in it exists."""
    assert pp.__all__ == sorted(pp.__all__, key=_isort_key)
    for name in pp.__all__:
        assert hasattr(pp, name)
