"""Strict parsing and normalisation of the addresses found in proxy headers and peers.

One parser, :func:`parse_node`, reads every node the resolver meets: an
``X-Forwarded-For`` element, the ``for=`` value of an RFC 7239 ``Forwarded`` element,
a single-IP header value, and the socket peer (``"ip:port"``, ``"[v6]:port"``,
``"unix:path"``). It follows the reference (``reference/clientip.md`` §10 step 7,
pitfalls §7.9–7.12) rather than :mod:`ipaddress`' leniency:

* IPv4 is a dotted quad of ASCII digits without leading zeros (CVE-2021-29921); the
  octal, hex, integer and short forms are refused, and so are fullwidth digits.
* IPv6 is anything :class:`ipaddress.IPv6Address` accepts, canonicalised per RFC 5952
  by ``str()``; an IPv4-mapped ``::ffff:a.b.c.d`` is unmapped to IPv4 (§7.9), so keys,
  logs and trust checks see one spelling.
* A zone (``fe80::1%eth0``) is split off into :attr:`Node.zone` and restricted to RFC
  3986 unreserved characters, because zones are an injection channel (§7.10).
* Ports are stripped only from ``v4:port`` and ``[v6]:port`` (``2001:db8::7:443`` is an
  address, §7.11); a port is 1–5 digits ≤ 65535 or an RFC 7239 §6.3 obfuscated port.
* ``0.0.0.0`` and ``::`` are invalid (realclientip-go does the same).
* ``unknown`` (RFC 7239 §6.2), obfuscated identifiers ``_xyz`` (§6.3) and ``unix:…``
  are *unidentified*, not invalid: a proxy wrote them on purpose.
* Anything else, and anything longer than :data:`MAX_NODE_LENGTH` characters, is invalid.

Speed: parsed nodes are memoised in a bounded dict keyed by the exact text (cleared when
full, so an attacker rotating values only costs re-parsing). Proxy addresses and returning
clients repeat, so the common request parses nothing. Each node carries :attr:`Node.key`,
one integer for both families (IPv4 above 2**128), so trust checks are a single bisect.
"""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import NamedTuple

__all__ = [
    "MAX_NODE_LENGTH",
    "IPAddress",
    "Node",
    "NodeKind",
    "address_key",
    "as_address",
    "ip_text",
    "node_cache",
    "parse_node",
    "parse_node_uncached",
    "parse_peer",
    "peer_cache",
]

IPAddress = IPv4Address | IPv6Address

#: Longest node text considered: ``[`` + 45-character IPv6 + ``%`` + zone + ``]:65535``
#: fits comfortably; longer text is refused before any parsing (reference §10 "Limits").
MAX_NODE_LENGTH = 100
#: Longest zone identifier (Linux IFNAMSIZ is 16; numeric zones are shorter).
MAX_ZONE_LENGTH = 32

#: IPv4 keys live above every IPv6 key so one sorted range list covers both families.
IPV4_KEY_BASE = 1 << 128

_CACHE_SIZE = 4096
#: The decimal octets 0-255 as written without leading zeros ("010" is octal to some
#: parsers and decimal to others: refused, CVE-2021-29921), ASCII digits only: the text
#: of an octet is valid exactly when it is a key here, and the value is its integer. The
#: grammar is ``(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])``, four of them joined by
#: dots, nothing else; a dict lookup per octet checks it faster than a regex match, and
#: hands over the value without ``int()``.
_OCTETS = {str(i): i for i in range(256)}
_OBF_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# RFC 3986 §2.3 unreserved characters: what RFC 6874 allows in a zone id.
_ZONE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._~-")


class NodeKind(StrEnum):
    """What a node's text turned out to be (reference §10 step 7)."""

    ADDRESS = "address"  # an IPv4 or IPv6 address, normalised
    UNIX = "unix"  # ``unix:`` or ``unix:/path`` (nginx's $remote_addr on a unix socket)
    UNIDENTIFIED = "unidentified"  # ``unknown`` or an obfuscated ``_id`` (RFC 7239 §6)
    INVALID = "invalid"  # anything else


class Node(NamedTuple):
    """A parsed node: kind, normalised address (or None), zone, and the trust key.

    A named tuple rather than a dataclass because one is built per walked hop on the
    request path; it is immutable all the same. ``text`` is a by-product of parsing, not
    part of the address: compare nodes by ``kind``, ``ip``, ``zone`` and ``key``.
    """

    kind: NodeKind
    ip: IPAddress | None = None
    zone: str | None = None
    key: int = -1  # address_key(ip); -1 when there is no address
    #: ``str(ip)`` when parsing already had it, else None (see :func:`ip_text`): a
    #: strictly parsed dotted quad (no leading zeros, ASCII digits) is its own canonical
    #: text, so the common client address is never formatted again.
    text: str | None = None


_new = tuple.__new__  # skips the NamedTuple's Python-level __new__ for parsed addresses
_ADDRESS = NodeKind.ADDRESS

INVALID = Node(NodeKind.INVALID)
UNIDENTIFIED = Node(NodeKind.UNIDENTIFIED)
UNIX = Node(NodeKind.UNIX)

node_cache: dict[str, Node] = {}
peer_cache: dict[str, Node] = {}  # keyed by the whole peer: keep-alive connections repeat it


def address_key(ip: IPAddress) -> int:
    """Return the integer used for range membership: IPv6 as is, IPv4 above 2**128.

    IPv4-mapped IPv6 addresses get their IPv4 key, so ``::ffff:10.0.0.5`` matches
    ``10.0.0.0/8`` (reference §7.9).
    """
    if isinstance(ip, IPv4Address):
        return IPV4_KEY_BASE + int(ip)
    mapped = ip.ipv4_mapped
    if mapped is not None:
        return IPV4_KEY_BASE + int(mapped)
    return int(ip)


def parse_node(text: str) -> Node:
    """Parse one node (already stripped of surrounding whitespace); never raises."""
    node = node_cache.get(text)
    if node is None:
        node = _parse(text)
        if len(text) <= MAX_NODE_LENGTH:  # longer text is invalid at once; never a key
            if len(node_cache) >= _CACHE_SIZE:
                node_cache.clear()
            node_cache[text] = node
    return node


def parse_peer(peer: str) -> Node:
    """Parse a socket peer: ``ip:port``, ``[v6]:port``, a bare address, or ``unix:path``.

    The port changes with every connection, so it is checked and dropped before the
    memoised :func:`parse_node` sees the host; a zone stays with the host. Unix paths
    may be long and need not be ASCII, so ``unix:`` is recognised before any limit.
    Results are memoised by the whole text too (:data:`peer_cache`), since every request
    on a keep-alive connection repeats it.
    """
    node = _parse_peer(peer)
    if len(peer_cache) >= _CACHE_SIZE:
        peer_cache.clear()
    peer_cache[peer] = node
    return node


def _parse_peer(peer: str) -> Node:
    host, sep, port = peer.rpartition(":")
    if not sep:
        return parse_node(peer)  # a bare IPv4 address (WSGI REMOTE_ADDR)
    if ":" not in host:  # v4:port, or unix:path without a colon in the path
        if host == "unix":
            return UNIX
        return parse_node(host) if _is_port(port) else INVALID
    if peer.startswith("unix:"):
        return UNIX
    if host[0] == "[" and host[-1] == "]":
        return _parse_bracketed_host(host[1:-1]) if _is_port(port) else INVALID
    return parse_node(peer)  # a bare IPv6 address, or "[v6]" without a port


def _parse(text: str) -> Node:
    if len(text) > MAX_NODE_LENGTH:
        return INVALID
    # Fast path for the common node, a bare dotted quad: exactly :func:`_parse_ipv4`'s
    # grammar, inlined (every octet text must be a key of :data:`_OCTETS`, so only ASCII
    # passes). Anything else, "0.0.0.0" included, falls through to the full dispatch.
    parts = text.split(".")
    if len(parts) == 4:
        a, b, c, d = parts
        octets = _OCTETS
        try:
            value = (octets[a] << 24) | (octets[b] << 16) | (octets[c] << 8) | octets[d]
        except KeyError:  # a port, a mapped IPv6 address, or junk: the full dispatch
            value = 0
        if value:
            # From the int: ipaddress's string parser is several times slower.
            ip = IPv4Address(value)
            return _new(Node, (_ADDRESS, ip, None, IPV4_KEY_BASE + value, text))
    if not text or not text.isascii():
        return INVALID
    first = text[0]
    if first == "[":
        return _parse_bracketed(text)
    if first == "_":
        return _parse_obfuscated(text)
    if first in "uU":
        return _parse_named(text)
    colons = text.count(":")
    if colons == 0:
        return _parse_ipv4(text)
    if colons == 1:
        host, _, port = text.partition(":")
        return _parse_ipv4(host) if _is_port(port) else INVALID
    return _parse_ipv6(text)


#: :func:`parse_node` without its memo, for callers that memoise the node themselves: the
#: resolver keeps every element it parses in a per-config memo (with its trust verdict),
#: so storing it in :data:`node_cache` as well would be the same work twice. An alias,
#: not a wrapper: one call less per element never seen before.
parse_node_uncached = _parse


def _parse_named(text: str) -> Node:
    """``unix:…`` (nginx, case as written) or ``unknown`` (ABNF: case-insensitive)."""
    if text.startswith("unix:"):
        return UNIX
    name, sep, port = text.partition(":")
    if name.lower() == "unknown" and (not sep or _is_port(port)):
        return UNIDENTIFIED
    return INVALID


def _parse_obfuscated(text: str) -> Node:
    """RFC 7239 §6.3: ``obfnode = "_" 1*( ALPHA / DIGIT / "." / "_" / "-")``."""
    name, sep, port = text.partition(":")
    if len(name) > 1 and _OBF_CHARS.issuperset(name) and (not sep or _is_port(port)):
        return UNIDENTIFIED
    return INVALID


def _parse_bracketed(text: str) -> Node:
    """``[v6]`` or ``[v6]:port`` (RFC 7239 §6, RFC 3986 IP-literal)."""
    close = text.find("]")
    if close < 0:
        return INVALID
    rest = text[close + 1 :]
    if rest and not (rest[0] == ":" and _is_port(rest[1:])):
        return INVALID
    return _parse_bracketed_host(text[1:close])


def _parse_bracketed_host(host: str) -> Node:
    # Only IPv6 goes in brackets: "[1.2.3.4]", "[unknown:1:2]", "[_a:b:c]" are refused.
    if host.count(":") < 2 or host[0] in "_uU[":
        return INVALID
    return parse_node(host)


def _is_port(text: str) -> bool:
    """RFC 7239 §6: ``node-port = port / obfport``; port is 1*5DIGIT, at most 65535."""
    if not text:
        return False
    if text[0] == "_":
        return len(text) > 1 and _OBF_CHARS.issuperset(text)
    return len(text) <= 5 and text.isdigit() and text.isascii() and int(text) <= 65535


def _parse_ipv4(text: str) -> Node:
    """Dotted quad, ASCII digits, no leading zeros; ``0.0.0.0`` is invalid."""
    parts = text.split(".")
    if len(parts) != 4:
        return INVALID
    a, b, c, d = parts
    octets = _OCTETS  # the octet grammar and its value in one lookup (see the dict)
    try:
        value = (octets[a] << 24) | (octets[b] << 16) | (octets[c] << 8) | octets[d]
    except KeyError:
        return INVALID
    if value == 0:
        return INVALID
    # IPv4Address(int) skips the string parser; the text, valid, is already canonical.
    return _new(Node, (_ADDRESS, IPv4Address(value), None, IPV4_KEY_BASE + value, text))


def _parse_ipv6(text: str) -> Node:
    """IPv6 with an optional zone; mapped IPv4 is unmapped; ``::`` is invalid (RFC 5952)."""
    addr, sep, zone = text.partition("%")
    if sep and not (len(zone) <= MAX_ZONE_LENGTH and zone and _ZONE_CHARS.issuperset(zone)):
        return INVALID
    try:
        ip = IPv6Address(addr)
    except ValueError:
        return INVALID
    mapped = ip.ipv4_mapped
    if mapped is not None:
        if sep or not int(mapped):
            return INVALID  # IPv4 has no zones; ::ffff:0.0.0.0 is unspecified
        return Node(NodeKind.ADDRESS, mapped, None, IPV4_KEY_BASE + int(mapped))
    value = int(ip)
    if not value:
        return INVALID
    return Node(NodeKind.ADDRESS, ip, zone or None, value)


# ---------------------------------------------------------------------- address objects

_TEXT_CACHE_SIZE = 4096
_texts: dict[int, tuple[IPAddress, str]] = {}


def ip_text(ip: IPAddress) -> str:
    """``str(ip)``, memoised in a bounded dict (cleared when full).

    Building the RFC 5952 text costs about 1 µs for IPv4 and 6 µs for IPv6 in
    :mod:`ipaddress`, and hashing an address object runs Python code, so the memo is keyed
    by ``id(ip)``: the resolver memoises its parsed nodes, so a returning client comes back
    as the very same object. The entry keeps the object alive, so its id cannot be reused
    while the entry exists, and the identity check makes any other object a miss.
    """
    entry = _texts.get(id(ip))
    if entry is not None and entry[0] is ip:
        return entry[1]
    if len(_texts) >= _TEXT_CACHE_SIZE:
        _texts.clear()
    text = str(ip)
    _texts[id(ip)] = (ip, text)
    return text


def as_address(ip: str | IPAddress) -> IPAddress:
    """``ip`` as an address object, IPv4-mapped IPv6 unwrapped to IPv4 (a zone is kept)."""
    addr = ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(addr, IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr
