"""PROXY protocol v1: the human-readable line (spec §2.1).

The grammar, exactly: ``PROXY SP family SP src SP dst SP sport SP dport CRLF`` with
family ``TCP4`` or ``TCP6``, or ``PROXY SP UNKNOWN`` followed by anything up to the CRLF,
which the receiver ignores. One space between fields, nothing else.

What is checked, in order, and the kind raised:

* the byte after ``PROXY`` is a space [``v1_malformed``], decided as soon as it arrives;
* the line ends with CRLF within its first 107 bytes [``v1_line_too_long``]; a lone LF,
  or a CR followed by anything but LF, ends nothing [``v1_bad_terminator``], and is
  reported as soon as it is seen;
* the family token [``v1_invalid_family``; an empty token from a doubled space is
  ``v1_malformed``], then exactly four more fields [``v1_malformed``];
* the addresses in the family's own version: IPv4 as four decimal octets 0-255 without
  leading zeros, IPv6 as the spec's hex groups (no zone suffix) [``v1_invalid_address``];
* the ports: 1-5 ASCII digits, no leading zero, at most 65535 [``v1_invalid_port``].

Parsing works on bytes and never decodes a line as a whole, so NUL and non-ASCII bytes
fail the check of the field they sit in.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from srcip.errors import ProxyProtocolError
from srcip.proxyproto.header import (
    Command,
    ErrorKind,
    Family,
    ProxyHeader,
    fail,
    make_header,
    require_ips,
    require_no_addresses,
    require_ports,
)

__all__ = [
    "MAX_LINE",
    "PREFIX",
    "build_v1",
    "parse_v1",
]

PREFIX = b"PROXY"
#: Spec §2.1: the worst case, ``PROXY UNKNOWN`` with two full IPv6 addresses, is 107
#: bytes with the CRLF; "if the CRLF sequence is not found in the first 107 characters,
#: the receiver should declare the line invalid".
MAX_LINE = 107
_CR, _LF, _SP = 0x0D, 0x0A, 0x20
_ZERO = 0x30

# Spec §2.1: "exactly 4 integers in the range [0..255] ... Heading zeroes are not
# permitted". The table holds exactly the valid spellings, so one lookup checks all.
_OCTETS = {str(i).encode("ascii"): i for i in range(256)}
_IP_FAMILIES = {b"TCP4": Family.TCP4, b"TCP6": Family.TCP6}
_PROXY = Command.PROXY  # v1 has no LOCAL


def _line_end(buf: bytes) -> int:
    """Offset of the CR of the terminating CRLF, or ``-needed`` if more bytes are needed."""
    cr = buf.find(b"\r", 0, MAX_LINE)
    lf = buf.find(b"\n", 0, MAX_LINE)
    if lf != -1 and (cr == -1 or lf < cr):
        # Spec §2.1: "must not tolerate a single CR or LF character to end the line".
        fail(ErrorKind.V1_BAD_TERMINATOR, f"LF without CR at offset {lf}")
    if cr == -1 or cr + 1 >= MAX_LINE:
        if len(buf) >= MAX_LINE:
            fail(ErrorKind.V1_LINE_TOO_LONG, f"no CRLF in the first {MAX_LINE} bytes")
        return -(len(buf) + 1)
    if cr + 1 == len(buf):
        return -(len(buf) + 1)
    if buf[cr + 1] != _LF:
        fail(ErrorKind.V1_BAD_TERMINATOR, f"CR at offset {cr} is followed by {buf[cr + 1]:#04x}")
    return cr


def parse_v1(buf: bytes) -> ProxyHeader | int:
    """Parse the v1 line at the start of ``buf`` (which starts with ``PROXY``).

    Returns the header, or the buffer length at which to try again.
    """
    if len(buf) > len(PREFIX) and buf[len(PREFIX)] != _SP:
        fail(ErrorKind.V1_MALFORMED, f"PROXY is followed by {buf[5:6]!r}, not one space")
    end = _line_end(buf)
    if end < 0:
        return -end
    fields = buf[len(PREFIX) + 1 : end].split(b" ")
    token = fields[0]
    if token == b"UNKNOWN":
        # Spec §2.1: for UNKNOWN "the receiver must ignore anything presented before
        # the CRLF is found" and use the real connection's endpoints.
        return make_header(1, _PROXY, Family.UNKNOWN, None, None, None, None, None, (), end + 2)
    family = _IP_FAMILIES.get(token)
    if family is None:
        kind = ErrorKind.V1_MALFORMED if token == b"" else ErrorKind.V1_INVALID_FAMILY
        fail(kind, f"family {token!r} is not TCP4, TCP6 or UNKNOWN")
    if len(fields) != 5:
        fail(ErrorKind.V1_MALFORMED, f"{len(fields) - 1} fields after {token!r}; 4 expected")
    parse_address = _ipv4 if family is Family.TCP4 else _ipv6
    src, dst = parse_address(fields[1]), parse_address(fields[2])
    src_port, dst_port = _port(fields[3]), _port(fields[4])
    return make_header(1, _PROXY, family, None, src, dst, src_port, dst_port, (), end + 2)


def _ipv4(token: bytes) -> IPv4Address:
    """A dotted quad exactly as the spec writes it, else ``v1_invalid_address``."""
    octets = _OCTETS
    try:
        a, b, c, d = token.split(b".")
        return IPv4Address(octets[a] << 24 | octets[b] << 16 | octets[c] << 8 | octets[d])
    except (ValueError, KeyError) as exc:
        message = f"{token!r} is not an IPv4 address without leading zeros"
        raise ProxyProtocolError(ErrorKind.V1_INVALID_ADDRESS, message) from exc


def _ipv6(token: bytes) -> IPv6Address:
    """An IPv6 address in hex groups (spec §2.1), no zone, else ``v1_invalid_address``."""
    try:
        # A "%zone" suffix is not in the spec's grammar, though Python would accept one.
        if b"%" in token:
            raise ValueError("zone suffix")
        return IPv6Address(token.decode("ascii"))
    except ValueError as exc:  # UnicodeDecodeError is one too
        message = f"{token!r} is not an IPv6 address"
        raise ProxyProtocolError(ErrorKind.V1_INVALID_ADDRESS, message) from exc


def _port(token: bytes) -> int:
    """A port: 1-5 ASCII digits, no leading zero, 0..65535; else ``v1_invalid_port``."""
    # bytes.isdigit() is ASCII-only, so int() below never sees signs, "_" or spaces.
    if token.isdigit() and len(token) <= 5 and (len(token) == 1 or token[0] != _ZERO):
        port = int(token)
        if port <= 0xFFFF:
            return port
    fail(ErrorKind.V1_INVALID_PORT, f"{token!r} is not a port in 0..65535 without leading zeros")


def build_v1(header: ProxyHeader) -> bytes:
    """The v1 line for ``header``; ValueError if v1 cannot say it (spec §2.1)."""
    if header.command is not Command.PROXY or header.transport is not None or header.tlvs:
        raise ValueError("a v1 header has command PROXY, no transport and no TLVs")
    if header.family is Family.UNKNOWN:
        require_no_addresses(header)
        return b"PROXY UNKNOWN\r\n"
    src: IPv4Address | IPv6Address
    dst: IPv4Address | IPv6Address
    if header.family is Family.TCP4:
        src, dst = require_ips(header, IPv4Address)
    elif header.family is Family.TCP6:
        src, dst = require_ips(header, IPv6Address)
    else:
        raise ValueError(f"v1 has no family {header.family}; use TCP4, TCP6 or UNKNOWN")
    src_port, dst_port = require_ports(header)
    line = f"PROXY {header.family} {src} {dst} {src_port} {dst_port}\r\n"
    return line.encode("ascii")
