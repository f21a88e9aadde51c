"""What nginx 1.22's realip module makes of ``X-Forwarded-For``, as a line-by-line port.

The differential test checks this model against the real nginx on every request, so the
quirks it encodes are measured facts, not guesses. Ported from nginx ``release-1.22.1``
(Debian 12's package): ``ngx_http_get_forwarded_addr`` and ``..._internal``
(``src/http/ngx_http_core_module.c``), ``ngx_inet_addr``, ``ngx_inet6_addr``,
``ngx_parse_addr``, ``ngx_parse_addr_port``, ``ngx_cidr_match``, ``ngx_inet6_ntop``
(``src/core/ngx_inet.c``) and ``ngx_atoi`` (``src/core/ngx_string.c``). Configuration
modelled: ``set_real_ip_from <nets>; real_ip_header X-Forwarded-For; real_ip_recursive on;``.

Addresses are ``(4, int)`` or ``(6, bytes)``, as nginx holds them in a ``sockaddr``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from enum import Enum

Address = tuple[int, int] | tuple[int, bytes]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SEPARATORS = b" ,"  # the walk splits on these two bytes only: no tab (core_module.c)
INADDR_NONE = 0xFFFFFFFF


class Rc(Enum):
    """nginx return codes used by the walk."""

    OK = "NGX_OK"
    DONE = "NGX_DONE"
    DECLINED = "NGX_DECLINED"


def inet_addr(text: bytes) -> int | None:
    """``ngx_inet_addr``: empty octets count as 0, leading zeros are decimal, no 255.255.255.255."""
    addr = octet = dots = 0
    for c in text:
        if 0x30 <= c <= 0x39:
            octet = octet * 10 + c - 0x30
            if octet > 255:
                return None
            continue
        if c == 0x2E:
            addr, octet, dots = (addr << 8) + octet, 0, dots + 1
            continue
        return None
    if dots != 3:
        return None
    addr = ((addr << 8) + octet) & 0xFFFFFFFF
    # INADDR_NONE doubles as the error value, so 255.255.255.255 is refused.
    return None if addr == INADDR_NONE else addr


def inet6_addr(text: bytes) -> bytes | None:
    """``ngx_inet6_addr``: one leading ':' is skipped, embedded IPv4 via ``ngx_inet_addr``."""
    if not text:
        return None
    out = bytearray()
    zero: int | None = None
    digit: int | None = None
    nibbles = word = 0
    words_left = 8
    pos = 1 if text[0] == 0x3A else 0
    while pos < len(text):
        c = text[pos]
        pos += 1
        if c == 0x3A:
            if nibbles:
                digit = pos
                out += bytes((word >> 8, word & 0xFF))
                words_left -= 1
                if words_left:
                    nibbles = word = 0
                    continue
            elif zero is None:
                digit, zero = pos, len(out)
                continue
            return None
        if c == 0x2E and nibbles:
            if words_left < 2 or digit is None:
                return None
            v4 = inet_addr(text[digit:])
            if v4 is None:
                return None
            out += bytes(((v4 >> 24) & 0xFF, (v4 >> 16) & 0xFF))
            words_left -= 1
            word = v4 & 0xFFFF
            nibbles = 1
            break
        nibbles += 1
        if nibbles > 4:
            return None
        if 0x30 <= c <= 0x39:
            word = word * 16 + c - 0x30
            continue
        c |= 0x20
        if 0x61 <= c <= 0x66:
            word = word * 16 + c - 0x61 + 10
            continue
        return None
    if nibbles == 0 and zero is None:
        return None
    out += bytes((word >> 8, word & 0xFF))
    words_left -= 1
    if words_left:
        if zero is None:
            return None
        return bytes(out[:zero]) + bytes(words_left * 2) + bytes(out[zero:])
    return None if zero is not None else bytes(out)


def parse_addr(text: bytes) -> Address | None:
    """``ngx_parse_addr``: IPv4 first, then IPv6; no zones, no brackets, no port."""
    v4 = inet_addr(text)
    if v4 is not None:
        return (4, v4)
    v6 = inet6_addr(text)
    return (6, v6) if v6 is not None else None


def atoi(text: bytes) -> int:
    """``ngx_atoi``: ASCII digits only (leading zeros fine), -1 on error."""
    if not text or any(not 0x30 <= c <= 0x39 for c in text):
        return -1
    return int(text)


def parse_addr_port(text: bytes) -> Address | None:
    """``ngx_parse_addr_port``: ``addr``, ``v4:port`` (first colon), ``[v6]:port``; port 1-65535."""
    direct = parse_addr(text)
    if direct is not None:
        return direct
    if text.startswith(b"["):
        close = text.find(b"]")
        if close == -1 or close == len(text) - 1 or text[close + 1] != 0x3A:
            return None  # "[v6]" alone is refused: a port must follow
        host, port = text[1:close], text[close + 2 :]
    else:
        colon = text.find(b":")
        if colon == -1:
            return None
        host, port = text[:colon], text[colon + 1 :]
    if not 1 <= atoi(port) <= 65535:
        return None
    return parse_addr(host)


def unmapped(addr: Address) -> Address:
    """``ngx_cidr_match`` compares ``::ffff:a.b.c.d`` as IPv4."""
    if addr[0] == 6 and isinstance(addr[1], bytes) and addr[1][:12] == bytes(10) + b"\xff\xff":
        return (4, int.from_bytes(addr[1][12:], "big"))
    return addr


def cidr_match(addr: Address, networks: Sequence[Network]) -> bool:
    """``ngx_cidr_match``."""
    family, raw = unmapped(addr)
    value = ipaddress.ip_address(raw)
    return any(net.version == family and value in net for net in networks)


def forwarded_addr_internal(
    addr: Address, xff: bytes, networks: Sequence[Network]
) -> tuple[Rc, Address]:
    """``ngx_http_get_forwarded_addr_internal`` with ``recursive`` on, over one field line."""
    found = False
    length = len(xff)
    while True:
        if not cidr_match(addr, networks):
            return (Rc.DONE if found else Rc.DECLINED), addr
        pos = length - 1
        while pos > 0 and xff[pos] in SEPARATORS:  # index 0 is never looked at
            pos -= 1
            length -= 1
        while pos > 0:
            if xff[pos] in SEPARATORS:
                pos += 1
                break
            pos -= 1
        # An empty line makes nginx read the byte before the value (':' or ' '): no address.
        parsed = parse_addr_port(xff[pos:length]) if pos >= 0 else None
        if parsed is None:
            return (Rc.DONE if found else Rc.DECLINED), addr
        addr, found = parsed, True
        length = pos - 1
        if pos <= 0:
            return Rc.OK, addr


def forwarded_addr(
    peer: Address, lines: Sequence[bytes], networks: Sequence[Network]
) -> tuple[Rc, Address]:
    """``ngx_http_get_forwarded_addr`` over every X-Forwarded-For line, last to first."""
    rc, addr, found = Rc.DECLINED, peer, False
    for line in reversed(lines):
        rc, addr = forwarded_addr_internal(addr, line, networks)
        if rc is Rc.DECLINED and found:
            return Rc.DONE, addr
        if rc is not Rc.OK:
            break
        found = True
    return rc, addr


def inet6_ntop(raw: bytes) -> str:
    """``ngx_inet6_ntop``: runs of ≥ 2 zero words compressed; some forms end in dotted IPv4."""
    zero, last, best, run = -1, -1, 1, 0
    for i in range(0, 16, 2):
        if raw[i] or raw[i + 1]:
            if best < run:
                zero, best = last, run
            run = 0
            continue
        if run == 0:
            last = i
        run += 1
    if best < run:
        zero, best = last, run
    text, end = "", 16
    if zero == 0:
        if (
            (best == 5 and raw[10] == 0xFF and raw[11] == 0xFF)
            or best == 6
            or (best == 7 and raw[14] != 0 and raw[15] != 1)
        ):
            end = 12
        text += ":"
    i = 0
    while i < end:
        if i == zero:
            text += ":"
            i += best * 2
            continue
        text += f"{raw[i] * 256 + raw[i + 1]:x}"
        if i < 14:
            text += ":"
        i += 2
    if end == 12:
        text += ".".join(str(b) for b in raw[12:])
    return text


def address_text(addr: Address) -> str:
    """``$remote_addr`` as ``ngx_sock_ntop`` prints it."""
    family, raw = addr
    if family == 4 and isinstance(raw, int):
        return str(ipaddress.IPv4Address(raw))
    assert isinstance(raw, bytes)
    return inet6_ntop(raw)


def realip_remote_addr(
    peer: str, lines: Sequence[bytes] | None, networks: Sequence[Network]
) -> str:
    """``$remote_addr`` after ``ngx_http_realip_handler`` (``lines`` None: no XFF header)."""
    peer_addr = parse_addr(peer.encode())
    assert peer_addr is not None, peer
    if not lines:
        return address_text(peer_addr)
    rc, addr = forwarded_addr(peer_addr, lines, networks)
    return address_text(peer_addr if rc is Rc.DECLINED else addr)
