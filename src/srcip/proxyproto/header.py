"""The decoded PROXY protocol header and the vocabulary around it.

A :class:`ProxyHeader` is what a receiver learns from one header, whichever version
carried it: who the connection was relayed for (``src``/``dst`` and ports), how
(``family``, ``transport``), whether it was relayed at all (``command``) and, for v2,
the TLV vectors in wire order. It is a plain value: parsing produces one, ``build``
serialises one. Nothing here reads bytes; the ``require_*`` helpers at the end are the
checks ``build`` makes of a header's values, and :func:`make_header` is the parsers'
fast constructor.

One :class:`Family` enum serves both versions, so callers test a single field: v1 spells
its families ``TCP4``, ``TCP6`` and ``UNKNOWN`` (spec §2.1), v2 uses the socket families
``INET``, ``INET6``, ``UNIX`` and ``UNSPEC`` (spec §2.2, 14th byte). The enum values are
those names as the specification writes them.

Errors are :class:`srcip.errors.ProxyProtocolError`; its ``kind`` is an :class:`ErrorKind`.

Reference: HAProxy ``doc/proxy-protocol.txt`` (2020/03/05), cited as "spec §N" here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import Literal, NoReturn, TypeVar

from srcip.errors import ProxyProtocolError
from srcip.proxyproto._slots import setters
from srcip.proxyproto.tlv import TLV

__all__ = [
    "Address",
    "Command",
    "ErrorKind",
    "Family",
    "ProxyHeader",
    "Transport",
    "fail",
    "make_header",
    "require_ips",
    "require_no_addresses",
    "require_ports",
]

#: What ``src``/``dst`` hold: an IP address as given, a UNIX socket path, or nothing.
Address = IPv4Address | IPv6Address | str

_T = TypeVar("_T")
_IP = TypeVar("_IP", IPv4Address, IPv6Address)


class Command(StrEnum):
    """The v2 command (spec §2.2, low nibble of the 13th byte); v1 is always ``PROXY``."""

    LOCAL = "LOCAL"  # 0x0: the proxy's own connection (health check); use the real endpoints
    PROXY = "PROXY"  # 0x1: relayed on behalf of the client the header describes


class Family(StrEnum):
    """The address family: v1 names (spec §2.1) and v2 names (spec §2.2) in one enum."""

    TCP4 = "TCP4"  # v1, TCP over IPv4
    TCP6 = "TCP6"  # v1, TCP over IPv6
    UNKNOWN = "UNKNOWN"  # v1, rest of the line ignored; use the real endpoints
    UNSPEC = "UNSPEC"  # v2 0x0, no addresses
    INET = "INET"  # v2 0x1, IPv4
    INET6 = "INET6"  # v2 0x2, IPv6
    UNIX = "UNIX"  # v2 0x3, two 108-byte socket paths


class Transport(StrEnum):
    """The v2 transport protocol (spec §2.2, low nibble of the 14th byte); None in v1."""

    UNSPEC = "UNSPEC"  # 0x0
    STREAM = "STREAM"  # 0x1, TCP or UNIX_STREAM
    DGRAM = "DGRAM"  # 0x2, UDP or UNIX_DGRAM


class ErrorKind(StrEnum):
    """Every value :attr:`ProxyProtocolError.kind` takes, each naming the rule broken.

    ``incomplete`` is the only one that more bytes could cure: :func:`parse` raises it
    where :class:`Parser` answers ``NEED_DATA``. A v2 header longer than
    ``max_header_size`` is ``tlv_truncated``: a reader holding ``max_header_size`` bytes
    (the spec §9 sample's "truncated or too large header") sees the header cut inside
    its TLV area, since every address block fits in the smallest allowed maximum.
    """

    INCOMPLETE = "incomplete"
    NOT_PROXY_PROTOCOL = "not_proxy_protocol"
    V1_LINE_TOO_LONG = "v1_line_too_long"
    V1_BAD_TERMINATOR = "v1_bad_terminator"
    V1_MALFORMED = "v1_malformed"
    V1_INVALID_FAMILY = "v1_invalid_family"
    V1_INVALID_ADDRESS = "v1_invalid_address"
    V1_INVALID_PORT = "v1_invalid_port"
    V2_UNSUPPORTED_VERSION = "v2_unsupported_version"
    V2_INVALID_COMMAND = "v2_invalid_command"
    V2_INVALID_FAMILY = "v2_invalid_family"
    V2_INVALID_TRANSPORT = "v2_invalid_transport"
    V2_ADDRESS_TRUNCATED = "v2_address_truncated"
    TLV_TRUNCATED = "tlv_truncated"
    TLV_INVALID = "tlv_invalid"
    V2_CRC32C_MISMATCH = "v2_crc32c_mismatch"


def fail(kind: ErrorKind, message: str) -> NoReturn:
    """Raise the one protocol error type with ``kind``; a helper so checks stay one line."""
    raise ProxyProtocolError(kind, message)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyHeader:
    """One decoded PROXY protocol header (v1 or v2).

    ``src``/``dst`` are ``ipaddress`` objects exactly as sent (an IPv4-mapped IPv6 address
    stays IPv6), socket path strings for ``UNIX`` (an abstract socket starts with NUL;
    bytes that are not UTF-8 are kept with ``surrogateescape``, like ``os.fsdecode``), and
    None for ``LOCAL``, ``UNSPEC`` and v1 ``UNKNOWN``, where the receiver uses the real
    connection's endpoints (spec §2.1, §2.2). Ports are None unless the family is an IP
    family and the command ``PROXY``.

    ``tlvs`` keeps every TLV in wire order, repeats included; v1 headers have none.
    ``consumed`` is the header's length in bytes: what to drop from the stream. It is
    framing, not meaning, so it is left out of equality: ``parse(build(h)) == h`` for any
    ``consumed`` in ``h``.
    """

    version: Literal[1, 2]
    command: Command = Command.PROXY
    family: Family
    transport: Transport | None = None
    src: Address | None = None
    dst: Address | None = None
    src_port: int | None = None
    dst_port: int | None = None
    tlvs: tuple[TLV, ...] = ()
    consumed: int = field(default=0, compare=False)

    def find_tlv(self, cls: type[_T]) -> _T | None:
        """The first TLV of class ``cls`` (e.g. ``AuthorityTLV``), or None."""
        for tlv in self.tlvs:
            if isinstance(tlv, cls):
                return tlv
        return None


_NEW = object.__new__
(
    _S_VERSION,
    _S_COMMAND,
    _S_FAMILY,
    _S_TRANSPORT,
    _S_SRC,
    _S_DST,
    _S_SPORT,
    _S_DPORT,
    _S_TLVS,
    _S_LEN,
) = setters(
    ProxyHeader,
    *("version", "command", "family", "transport", "src", "dst"),
    *("src_port", "dst_port", "tlvs", "consumed"),
)


def make_header(  # one argument per field, positional for speed
    version: Literal[1, 2],
    command: Command,
    family: Family,
    transport: Transport | None,
    src: Address | None,
    dst: Address | None,
    src_port: int | None,
    dst_port: int | None,
    tlvs: tuple[TLV, ...],
    consumed: int,
) -> ProxyHeader:
    """``ProxyHeader(...)`` for the parsers, at half the cost (see :mod:`._slots`)."""
    header = _NEW(ProxyHeader)
    _S_VERSION(header, version)
    _S_COMMAND(header, command)
    _S_FAMILY(header, family)
    _S_TRANSPORT(header, transport)
    _S_SRC(header, src)
    _S_DST(header, dst)
    _S_SPORT(header, src_port)
    _S_DPORT(header, dst_port)
    _S_TLVS(header, tlvs)
    _S_LEN(header, consumed)
    return header


# Checks ``build`` makes before serialising: a header it cannot say is a local mistake,
# so these raise ValueError, never ProxyProtocolError.


def require_no_addresses(header: ProxyHeader) -> None:
    """Refuse addresses or ports where the header kind carries none."""
    if (header.src, header.dst, header.src_port, header.dst_port) != (None, None, None, None):
        raise ValueError(f"a {header.command} {header.family} header carries no addresses or ports")


def require_ips(header: ProxyHeader, kind: type[_IP]) -> tuple[_IP, _IP]:
    """``src`` and ``dst`` as two addresses of class ``kind``, without IPv6 zones."""
    src, dst = header.src, header.dst
    if not (isinstance(src, kind) and isinstance(dst, kind)):
        raise ValueError(
            f"{header.family} needs src and dst as {kind.__name__}, got {src!r}, {dst!r}"
        )
    if getattr(src, "scope_id", None) or getattr(dst, "scope_id", None):
        raise ValueError("PROXY protocol addresses carry no IPv6 zone")
    return src, dst


def require_ports(header: ProxyHeader) -> tuple[int, int]:
    """``src_port`` and ``dst_port`` as two integers in 0..65535."""
    src_port, dst_port = header.src_port, header.dst_port
    if not (isinstance(src_port, int) and isinstance(dst_port, int)):
        raise ValueError(f"{header.family} needs two ports, got {src_port!r}, {dst_port!r}")
    if not (0 <= src_port <= 0xFFFF and 0 <= dst_port <= 0xFFFF):
        raise ValueError(f"ports {src_port}, {dst_port}: each must be in 0..65535")
    return src_port, dst_port
