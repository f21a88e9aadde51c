"""Resolve the client address of one request: reference §10 "Pipeline per request".

:func:`resolve` is a pure function of the socket peer, the request's header field lines,
the connection's PROXY protocol header (if any) and a :class:`~srcip.clientip.trust.
TrustConfig`. Steps, each marked ``§10.n`` below:

1. Effective peer: a PROXY header is honoured only from a socket peer in
   ``proxy_protocol_trusted`` (else ``proxy_protocol_forbidden``); PROXY over INET/INET6
   (v1 TCP4/TCP6) makes its source the effective peer, PROXY over UNIX a unix peer, and
   LOCAL, UNSPEC and v1 UNKNOWN keep the socket peer (HAProxy proxy-protocol.txt §2.1, §2.2).
2. Normalise the peer; a unix or unparseable peer is trusted only via ``unix:``, else
   ``no_peer_ip``.
3. Peer gate: an untrusted peer is the client (``direct``); its headers are never read.
4. Collect every field line of the one configured header, exact case-insensitive name
   (``x_forwarded_for`` is another field, §7.6).
5. Single-IP header: one line with exactly one address.
6–8. List header: walk right to left over trusted hops (or count ``trusted_hops``).
9. A frozen :class:`Resolution`; ``ip is None`` whenever no client can be named: the
   library never hands back a proxy's address as the client's (§7.8).

Statuses and what ``ip`` holds:

==========================  =====================================================
``direct``                  the untrusted (effective) peer
``ok``                      the client from the header (``index`` set)
``all_trusted``             every element trusted: the leftmost (§10 step 8, nginx)
``no_header``               the effective peer, a trusted proxy that forwarded nothing
``invalid_hop``             None: an element that is not an address stopped the walk
``unidentified_hop``        None: ``unknown`` / ``_obf`` / ``unix:`` / no ``for=``
``hop_limit``               None: more than ``max_hops`` trusted elements
``too_few_hops``            None: fewer elements than ``trusted_hops``
``ambiguous_header``        None: a single-IP header sent on several field lines
``invalid_value``           None: a single-IP header that is not one address
``no_peer_ip``              None: the peer has no address (a unix socket, or unparseable)
                            and it is untrusted or forwarded nothing
``proxy_protocol_forbidden`` None: a PROXY header from a peer not allowed to send one
==========================  =====================================================

Speed (issue 3 §5: no slower than uvicorn's middleware). Everything :func:`resolve`
decides is a pure function of its inputs and the config, so each stage is memoised per
:class:`~srcip.clientip.trust.TrustConfig` in bounded dicts keyed by the input exactly as
received (cleared when full: an attacker rotating values only costs re-computing):

* the peer (``"ip:port"`` text or an ASGI ``(host, port)`` pair) → the gate's decision,
  the peer's trail steps and the answer when the gate closes or nothing is forwarded;
* an element's text → its parsed node and trust verdict;
* a one-line list header (``str`` or ``bytes``, the common case) → the outcome of its walk,
  which depends on the line and the config only; the peer adds just its own steps.

A memo hit gives exactly what the computation gives: every address is still parsed
strictly and every trust decision made, once per distinct input. Otherwise the hot path
is one function per step with no generators, enum aliases bound at import, the trust test
a bisect, and the walk kept as raw ``(text, node, trusted)`` entries; :class:`Hop`
objects are built only when :attr:`Resolution.hops` is read.

A client never seen before (every memo misses) costs one strict parse: a dotted quad is
checked octet by octet against a table of the 256 canonical octet texts, its address
object built from the integer, and its text, already canonical, kept in the node for the
middleware (:func:`client_text`), so it is not formatted again. The element memo holds
the node, so the shared node memo is not filled as well.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from enum import StrEnum
from ipaddress import IPv4Address, IPv6Address
from typing import NamedTuple, TypeVar

from srcip.clientip.addresses import (
    INVALID,
    UNIDENTIFIED,
    UNIX,
    IPAddress,
    Node,
    NodeKind,
    address_key,
    ip_text,
    parse_node,
    parse_node_uncached,
    parse_peer,
)
from srcip.clientip.forwarded import (
    MAX_ELEMENT_LENGTH,
    count_forwarded_elements,
    count_xff_elements,
    forwarded_rsplit,
    parse_forwarded_element,
)
from srcip.clientip.trust import SourceKind, TrustConfig
from srcip.proxyproto.header import Command, Family, ProxyHeader

__all__ = [
    "PEER",
    "PROXY_PROTOCOL",
    "Hop",
    "Resolution",
    "Status",
    "Verdict",
    "client_text",
    "resolve",
]

PEER = "peer"
PROXY_PROTOCOL = "proxy-protocol"
_OWS = " \t"
_K = TypeVar("_K")
_V = TypeVar("_V")


class Status(StrEnum):
    """Why :attr:`Resolution.ip` is what it is (table in the module docstring)."""

    DIRECT = "direct"
    OK = "ok"
    ALL_TRUSTED = "all_trusted"
    NO_HEADER = "no_header"
    INVALID_HOP = "invalid_hop"
    UNIDENTIFIED_HOP = "unidentified_hop"
    HOP_LIMIT = "hop_limit"
    TOO_FEW_HOPS = "too_few_hops"
    AMBIGUOUS_HEADER = "ambiguous_header"
    INVALID_VALUE = "invalid_value"
    NO_PEER_IP = "no_peer_ip"
    PROXY_PROTOCOL_FORBIDDEN = "proxy_protocol_forbidden"


class Verdict(StrEnum):
    """What the walk made of one hop."""

    TRUSTED = "trusted"  # a trusted proxy (or ``unix:`` when trusted): keep walking
    COUNTED = "counted"  # passed by the hop count in count mode, not checked
    CLIENT = "client"  # the address returned as the client
    UNTRUSTED = "untrusted"  # an untrusted address not taken as the client
    INVALID = "invalid"  # not an address (reference §10 step 7)
    UNIDENTIFIED = "unidentified"  # unknown, obfuscated, unix:, or no ``for=``


class Hop(NamedTuple):
    """One examined hop, in walk order: socket peer, PROXY source, then right to left.

    ``index`` is the element's position from the left over the non-empty elements of
    all field lines (None for the peer and the PROXY source); ``raw`` is the text as
    received (the whole element for ``Forwarded``).
    """

    source: str
    index: int | None  # type: ignore[assignment]  # shadows tuple.index on purpose
    raw: str
    ip: IPAddress | None
    zone: str | None
    verdict: Verdict


#: A peer-side hop as recorded on the hot path: (source, raw, node, verdict); raw is the
#: peer as passed to :func:`resolve` (a str, a pair, None, or whatever a caller passed)
#: and is formatted only by :attr:`Resolution.hops`.
Raw = object
PeerStep = tuple[str, Raw, Node, Verdict]
#: The raw walk behind :attr:`Resolution.hops`: peer steps, header name, index of the
#: last walked element, walked ``(text, node, trusted)`` entries (right to left), the
#: verdict of every walked element but the last, and the verdict of the last.
Trail = tuple[tuple[PeerStep, ...], str, int, tuple[tuple[str, Node, bool], ...], Verdict, Verdict]
NO_TRAIL: Trail = ((), "", 0, (), Verdict.TRUSTED, Verdict.TRUSTED)


class Resolution(NamedTuple):
    """The answer for one request; see the status table in the module docstring.

    Immutable. A named tuple rather than a frozen dataclass (STYLE §4) because one is
    built per request and a frozen dataclass costs about 1 µs more to construct, most of
    the budget against uvicorn's middleware (issue 3 §5). ``trail`` is the raw material of
    :attr:`hops`; read ``hops``.
    """

    status: Status
    ip: IPAddress | None
    zone: str | None = None
    source: str = PEER  # "peer", "proxy-protocol", or the header name in lower case
    index: int | None = None  # type: ignore[assignment]  # the client element's position
    nearest_trusted: IPAddress | None = None  # the trusted hop that handed over the answer
    trail: Trail = NO_TRAIL

    @property
    def hops(self) -> tuple[Hop, ...]:
        """The examined hops with their verdicts, in walk order (built on demand)."""
        return _hops(self.trail)

    def __repr__(self) -> str:
        """Fields and hops; the internal ``trail`` is left out."""
        return (
            f"Resolution(status={self.status!r}, ip={self.ip!r}, zone={self.zone!r}, "
            f"source={self.source!r}, index={self.index!r}, "
            f"nearest_trusted={self.nearest_trusted!r}, hops={self.hops!r})"
        )


_new = tuple.__new__  # skips the NamedTuple's Python-level __new__ on the hot path
# Enum member lookups cost ~100 ns each on Python 3.11; the hot path uses these aliases.
_ADDRESS = NodeKind.ADDRESS
_UNIX = NodeKind.UNIX
_TRUSTED = Verdict.TRUSTED
_CLIENT = Verdict.CLIENT
_COUNTED = Verdict.COUNTED
_OK = Status.OK
_HOP_LIMIT = Status.HOP_LIMIT
_ALL_TRUSTED = Status.ALL_TRUSTED
_SINGLE = SourceKind.SINGLE
_FORWARDED = SourceKind.FORWARDED

#: What the gate decides for one peer, memoised per config (``TrustConfig.peer_memo``):
#: whether the headers are read, the peer steps of the trail, the nearest trusted address
#: so far, and the answer when the gate closes or, for a peer whose headers are read, when
#: they forward nothing. All four depend on the config and the peer alone.
PeerEntry = tuple[bool, tuple[PeerStep, ...], IPAddress | None, "Resolution"]
#: A walked element as memoised per config (``TrustConfig.memo``): (text, node, trusted).
Entry = tuple[str, Node, bool]
#: What the walk makes of a list header, whoever the peer: status, address, zone, index,
#: the nearest trusted address among the walked elements (None: the peer's), and the
#: trail's base, walked entries and verdicts. Memoised per config for one-line headers
#: (``TrustConfig.line_memo``).
Outcome = tuple[
    Status, IPAddress | None, str | None, int | None, IPAddress | None, int,
    tuple[Entry, ...], Verdict, Verdict,
]  # fmt: skip


def resolve(
    peer: str | tuple[str, int] | None,
    headers: Iterable[tuple[str | bytes, str | bytes]],
    config: TrustConfig,
    proxy: ProxyHeader | None = None,
) -> Resolution:
    """Resolve the client address of one request; never raises on any peer or header.

    ``peer`` is ``"ip:port"``, ``"[v6]:port"``, a bare address, ``"unix:path"``, or an
    ASGI ``scope["client"]`` pair ``(host, port)``, read as its ``host:port`` text.
    """
    # §10.1–3: the (effective) peer and the gate, memoised by the peer as given. Only a
    # str or an exact (str, int) pair is a memo key, so a hit on a tuple with another
    # port type (True == 1) is refused here and parsed from its own text.
    if proxy is None:
        try:
            entry = config.peer_memo.get(peer)
        except TypeError:  # an unhashable peer, e.g. a list pair: parsed below, never kept
            entry = None
        if entry is None or (type(peer) is tuple and type(peer[1]) is not int):
            entry = _peer_entry(config, peer)
    else:
        entry = _proxied_entry(config, peer, proxy)
    if not entry[0]:
        return entry[3]  # direct, no_peer_ip or proxy_protocol_forbidden
    # §10.4: every line of the one configured field, in order, exact case-insensitive
    # name. Inlined: it runs per header. Values stay as received until a walk needs them,
    # and a list is made only for a second line.
    name_s = config.source
    name_b = config.header_name
    size = len(name_s)
    last: str | bytes | None = None
    lines: list[str | bytes] | None = None
    for name, value in headers:
        if len(name) != size:
            continue
        if type(name) is bytes:
            if name != name_b and name.lower() != name_b:
                continue
        elif name != name_s and (not name.isascii() or name.lower() != name_s):
            continue  # isascii: "\u212a".lower() == "k" must not match
        if last is not None:
            if lines is None:
                lines = [last]
            lines.append(value)
        last = value
    if last is None:
        return entry[3]  # no_header (or no_peer_ip for a unix peer): nothing forwarded
    kind = config.source_kind
    if kind is _SINGLE:
        return _single(_decoded(lines or [last]), name_s, entry[1], entry[2])
    if lines is None:  # one line, the common case: its outcome is memoised as received
        outcome = config.line_memo.get(last)
        if outcome is None:
            if kind is _FORWARDED or config.trusted_hops is not None:
                outcome = _walk([last], kind is _FORWARDED, config)
            else:
                outcome = _walk_xff(last, config)
            if outcome is None:
                return entry[3]  # a line without elements forwards nothing
            if len(last) <= MAX_ELEMENT_LENGTH:  # _remember(), inlined
                line_memo = config.line_memo
                if len(line_memo) >= _MEMO_SIZE:
                    line_memo.clear()
                line_memo[last] = outcome
    else:
        outcome = _walk(lines, kind is _FORWARDED, config)
        if outcome is None:
            return entry[3]
    status, ip, zone, index, near, base, walked, inner, verdict = outcome
    trail: Trail = (entry[1], name_s, base, walked, inner, verdict)
    nearest = entry[2] if near is None else near
    return _new(Resolution, (status, ip, zone, name_s, index, nearest, trail))


def client_text(resolution: Resolution) -> str | None:
    """``str(resolution.ip)``, or None without an address; what the middleware hand on.

    Parsing a dotted quad already had its canonical text (:attr:`Node.text`), so the
    client's node, found at the end of the trail, gives it without formatting; any other
    address goes through the memoised :func:`~srcip.clientip.addresses.ip_text`.
    """
    ip = resolution.ip
    if ip is None:
        return None
    trail = resolution.trail
    if walked := trail[3]:
        node = walked[-1][1]  # the client element (ok, all_trusted)
    elif steps := trail[0]:
        node = steps[-1][2]  # the (effective) peer (direct, no_header)
    else:
        return ip_text(ip)  # a Resolution built by hand, without a trail
    text = node.text
    if text is not None and node.ip is ip:
        return text
    return ip_text(ip)


def _decoded(lines: list[str | bytes]) -> list[str]:
    """Field values as text: bytes are ISO-8859-1 (RFC 9110 §5.5)."""
    return [line.decode("latin-1") if isinstance(line, bytes) else line for line in lines]


def _peer_entry(config: TrustConfig, peer: object) -> PeerEntry:
    """Parse a peer and decide the gate once; memoised per config (bounded).

    Only a str or an exact ``(str, int)`` pair is kept; anything else is parsed from its
    text each time (:func:`_peer_text`, the ASGI adapter's formatting).
    """
    entry = _gate(config, (), PEER, peer, _peer_node(peer), None)
    if type(peer) is str or (
        type(peer) is tuple and len(peer) == 2 and type(peer[0]) is str and type(peer[1]) is int
    ):
        _remember(config.peer_memo, peer, entry)
    return entry


def _peer_node(peer: object) -> Node:
    """The node of a socket peer as given to :func:`resolve` (None: no address)."""
    if type(peer) is str:
        return parse_peer(peer)
    if peer is None:
        return INVALID
    return parse_peer(_peer_text(peer))


def _proxied_entry(config: TrustConfig, peer: object, proxy: ProxyHeader) -> PeerEntry:
    """§10.1: the effective peer a PROXY header names, then the gate on it (not memoised)."""
    node = _peer_node(peer)
    if not _may_send_proxy(config, node):
        steps: tuple[PeerStep, ...] = ((PEER, peer, node, Verdict.UNTRUSTED),)
        trail: Trail = (steps, "", 0, (), _TRUSTED, _TRUSTED)
        answer = _new(
            Resolution,
            (Status.PROXY_PROTOCOL_FORBIDDEN, None, None, PROXY_PROTOCOL, None, None, trail),
        )
        return False, steps, None, answer
    effective = _proxy_source(proxy)
    if effective is None:
        return _gate(config, (), PEER, peer, node, None)
    text, source_node = effective
    prior: tuple[PeerStep, ...] = ((PEER, peer, node, _TRUSTED),)
    return _gate(config, prior, PROXY_PROTOCOL, text, source_node, node.ip)


def _gate(
    config: TrustConfig,
    prior: tuple[PeerStep, ...],
    source: str,
    raw: Raw,
    node: Node,
    nearest: IPAddress | None,
) -> PeerEntry:
    """§10.2–3: the peer gate on the (effective) peer, as a :data:`PeerEntry`."""
    if _is_trusted(config, node):
        steps = (*prior, (source, raw, node, _TRUSTED))
        nearest = node.ip or nearest
    elif not config.peer_check:  # no gate, by explicit choice: read the header anyway
        verdict = Verdict.UNTRUSTED if node.kind is _ADDRESS else _failure_verdict(node)
        steps = (*prior, (source, raw, node, verdict))
    elif node.kind is _ADDRESS:  # the gate: an untrusted peer is the client
        steps = (*prior, (source, raw, node, _CLIENT))
        trail: Trail = (steps, "", 0, (), _TRUSTED, _TRUSTED)
        direct = (Status.DIRECT, node.ip, node.zone, source, None, nearest, trail)
        return False, steps, nearest, _new(Resolution, direct)
    else:  # an untrusted unix socket, or no address at all
        steps = (*prior, (source, raw, node, _failure_verdict(node)))
        return False, steps, nearest, _no_peer_ip(steps, source, nearest)
    if node.ip is None:  # a unix-socket peer: no answer unless a header names one
        return True, steps, nearest, _no_peer_ip(steps, source, nearest)
    trail = (steps, "", 0, (), _TRUSTED, _TRUSTED)
    no_header = (Status.NO_HEADER, node.ip, node.zone, source, None, nearest, trail)
    return True, steps, nearest, _new(Resolution, no_header)  # §10 steps 5–6


def _no_peer_ip(steps: tuple[PeerStep, ...], source: str, nearest: IPAddress | None) -> Resolution:
    """No address for the peer, and no header named a client (§10 step 2)."""
    trail: Trail = (steps, "", 0, (), _TRUSTED, _TRUSTED)
    return _new(Resolution, (Status.NO_PEER_IP, None, None, source, None, nearest, trail))


def _single(
    lines: list[str], name: str, steps: tuple[PeerStep, ...], nearest: IPAddress | None
) -> Resolution:
    """§10 step 5 and pitfall §7.16: exactly one line holding exactly one address."""
    trail: Trail
    if len(lines) > 1:
        trail = (steps, name, 0, (), _TRUSTED, _TRUSTED)
        return _new(Resolution, (Status.AMBIGUOUS_HEADER, None, None, name, None, nearest, trail))
    text = lines[0].strip(_OWS)
    node = parse_node(text)
    if node.kind is _ADDRESS:
        trail = (steps, name, 0, ((text, node, False),), _TRUSTED, _CLIENT)
        return _new(Resolution, (_OK, node.ip, node.zone, name, 0, nearest, trail))
    trail = (steps, name, 0, ((text, node, False),), _TRUSTED, _failure_verdict(node))
    return _new(Resolution, (Status.INVALID_VALUE, None, None, name, None, nearest, trail))


def _walk(lines: list[str | bytes], forwarded: bool, config: TrustConfig) -> Outcome | None:
    """§10 steps 6–8: walk the elements right to left; None when there are none.

    A pure function of the lines and the config (the peer only adds the trail's first
    steps), so :func:`resolve` memoises it for one-line headers. Each element is looked
    up once in the config's memo, which holds its node *and* its trust verdict. Lines are
    decoded (ISO-8859-1, RFC 9110 §5.5) only when reached, and cut from the right with a
    bounded ``rsplit`` (quote-aware for Forwarded), so a long spoofed prefix left of the
    decision is never split, let alone parsed (pitfall §7.14).

    ``max_hops`` bounds the trusted elements: the walk passes at most that many, and one
    more trusted element is ``hop_limit`` (the peer is not a header element and is not
    counted). An untrusted element right after ``max_hops`` trusted ones is still read.
    In count mode the first ``trusted_hops - 1`` elements are passed unchecked.
    """
    count = config.trusted_hops
    counting = count is not None
    memo = config.memo
    room = config.max_hops if count is None else count - 1  # elements still to pass
    split = forwarded_rsplit if forwarded else str.rsplit
    # Elements needed from the right: room and the one that decides. Forwarded is cut one
    # element at a time, since each quote-aware cut is Python-level work.
    chunk = _FORWARDED_CHUNK if forwarded else room + 1
    walked: list[Entry] = []
    status: Status | None = None
    line_no = j = 0
    parts: list[str] = []
    for line_no in range(len(lines) - 1, -1, -1):
        line = lines[line_no]
        rest = line.decode("latin-1") if isinstance(line, bytes) else line
        while True:
            parts = split(rest, ",", chunk)
            floor = 1 if len(parts) > chunk else 0  # 1: parts[0] is the unsplit remainder
            for j in range(len(parts) - 1, floor - 1, -1):
                text = parts[j].strip(_OWS)
                if not text:
                    continue  # empty list elements are skipped (RFC 9110 §5.6.1)
                entry = memo.get(text) or _entry(config, text, forwarded)
                if (entry[2] or counting) and room:
                    room -= 1
                    walked.append(entry)  # a trusted proxy (or counted element): pass
                    continue
                if entry[2] and not counting:
                    status = _HOP_LIMIT  # more than max_hops trusted elements
                    break
                walked.append(entry)
                node = entry[1]
                status = _OK if node.kind is _ADDRESS else _failure_status(node)
                break
            if status is not None or not floor:
                break
            rest = parts[0]
        if status is not None:
            break
    # The walk stopped at parts[j] of line line_no (or ran out of elements).
    if status is None:  # every element walked: the last one is the leftmost, index 0
        if not walked:
            return None
        base = 0
        if counting:
            status, last = Status.TOO_FEW_HOPS, _COUNTED
        elif walked[-1][1].ip is None:
            status, last = Status.UNIDENTIFIED_HOP, _TRUSTED  # "unix:" leftmost: no address
        else:
            status, last = _ALL_TRUSTED, _TRUSTED
    else:
        base = _left_count(lines, line_no, parts[:j], forwarded) if line_no or j else 0
        if status is _OK:
            last = _CLIENT
        elif status is _HOP_LIMIT:
            base, last = base + 1, _TRUSTED  # stopped one element left of the last walked
        else:
            last = _failure_verdict(walked[-1][1])
    # nearest_trusted: the walked hop nearest to where the walk stopped, other than the
    # answer itself (under hop_limit every walked hop is a trusted proxy); None: the peer.
    nearest: IPAddress | None = None
    k = len(walked) if status is _HOP_LIMIT else len(walked) - 1
    while k:
        k -= 1
        if (nearest := walked[k][1].ip) is not None:
            break
    inner = _COUNTED if counting else _TRUSTED
    if status is _OK or status is _ALL_TRUSTED:
        client = walked[-1][1]
        return status, client.ip, client.zone, base, nearest, base, tuple(walked), inner, last
    return status, None, None, None, nearest, base, tuple(walked), inner, last


def _walk_xff(line: str | bytes, config: TrustConfig) -> Outcome | None:
    """:func:`_walk` of one X-Forwarded-For line without a hop count: the common case.

    The same walk with less bookkeeping, for the line it can finish: an element that is
    not a trusted proxy within ``max_hops``, found among the ``max_hops + 1`` rightmost.
    Anything else (every element trusted, ``hop_limit``, more elements than one split
    holds, no element at all) goes to :func:`_walk`, which gives the same answer for
    every line (a differential test checks this). A line of one element, the chain behind
    a single proxy, skips even the split.
    """
    text = line.decode("latin-1") if isinstance(line, bytes) else line
    if "," not in text and (element := text.strip(_OWS)):  # one element: the 1-hop chain
        entry = config.memo.get(element) or _entry(config, element, False)
        if not entry[2]:
            node = entry[1]
            if node.kind is _ADDRESS:
                return _OK, node.ip, node.zone, 0, None, 0, (entry,), _TRUSTED, _CLIENT
            status, verdict = _failure_status(node), _failure_verdict(node)
            return status, None, None, None, None, 0, (entry,), _TRUSTED, verdict
    room = config.max_hops
    parts = text.rsplit(",", room + 1)
    if len(parts) > room + 1:
        return _walk([line], False, config)  # the split holds an unsplit remainder
    memo = config.memo
    walked: list[Entry] = []
    j = len(parts)
    while j:
        j -= 1
        element = parts[j].strip(_OWS)
        if not element:
            continue  # empty list elements are skipped (RFC 9110 §5.6.1)
        entry = memo.get(element) or _entry(config, element, False)
        walked.append(entry)
        if not entry[2]:
            break
        if not room:
            return _walk([line], False, config)  # hop_limit
        room -= 1
    else:
        return _walk([line], False, config)  # every element trusted, or none at all
    base = count_xff_elements(",".join(parts[:j])) if j else 0
    nearest: IPAddress | None = None
    k = len(walked) - 1
    while k:
        k -= 1
        if (nearest := walked[k][1].ip) is not None:
            break
    node = entry[1]
    if node.kind is _ADDRESS:
        return _OK, node.ip, node.zone, base, nearest, base, tuple(walked), _TRUSTED, _CLIENT
    status, verdict = _failure_status(node), _failure_verdict(node)
    return status, None, None, None, nearest, base, tuple(walked), _TRUSTED, verdict


def _entry(config: TrustConfig, text: str, forwarded: bool) -> Entry:
    """Parse an element and decide its trust once; memoised per config (bounded)."""
    # Uncached: this memo holds the node, so the shared node memo would only repeat it.
    node = _forwarded_node(text) if forwarded else parse_node_uncached(text)
    # _is_trusted and _remember, inlined: this runs for every element not seen before.
    kind = node.kind
    if kind is _ADDRESS:  # AddressSet.contains_key, inlined
        trusted = config.trusted
        key = node.key
        i = bisect_right(trusted.starts, key) - 1
        entry = (text, node, i >= 0 and key <= trusted.ends[i])
    else:
        entry = (text, node, kind is _UNIX and config.trusted.unix)
    if len(text) <= MAX_ELEMENT_LENGTH:  # hostile kilobytes are parsed, never kept
        memo = config.memo
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[text] = entry
    return entry


def _remember(memo: dict[_K, _V], key: _K, value: _V) -> None:
    """Store a memo entry, clearing the memo first when it is full (:data:`_MEMO_SIZE`)."""
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = value


def _is_trusted(config: TrustConfig, node: Node) -> bool:
    """A trusted proxy: an address in ``trusted_proxies``, or a unix socket with ``unix:``."""
    trusted = config.trusted
    if node.kind is _ADDRESS:
        return trusted.contains_key(node.key)
    return node.kind is _UNIX and trusted.unix


def _may_send_proxy(config: TrustConfig, node: Node) -> bool:
    """§10.1: only ``proxy_protocol_trusted`` peers may send a PROXY header (spec §5)."""
    allowed = config.proxy_protocol_set
    if node.kind is _ADDRESS:
        return allowed.contains_key(node.key)
    return node.kind is _UNIX and allowed.unix


def _left_count(lines: list[str | bytes], line_no: int, left: list[str], forwarded: bool) -> int:
    """Non-empty elements left of the stop: whole lines before it, then ``left`` parts."""
    count = count_forwarded_elements if forwarded else count_xff_elements
    total = sum(count(line) for line in _decoded(lines[:line_no]))
    return total + count(",".join(left)) if left else total


def _hops(trail: Trail) -> tuple[Hop, ...]:
    """Build the :class:`Hop` objects of a trail (off the hot path)."""
    steps, name, base, walked, inner, last = trail
    hops = [
        Hop(source, None, _peer_text(raw), node.ip, node.zone, verdict)
        for source, raw, node, verdict in steps
    ]
    top = base + len(walked) - 1
    for k, (text, node, _) in enumerate(walked):
        verdict = last if k == len(walked) - 1 else inner
        hops.append(Hop(name, top - k, text, node.ip, node.zone, verdict))
    return tuple(hops)


def _peer_text(raw: object) -> str:
    """The peer as text: as given, or ``host:port`` / ``[v6]:port`` for an ASGI pair.

    Formatted exactly as :func:`srcip.clientip.asgi.scope_peer` does (a port of None
    gives the bare host); anything else that is not a pair is read as its ``str()``.
    """
    if raw is None or isinstance(raw, str):
        return raw or ""
    if not isinstance(raw, tuple | list) or len(raw) != 2:
        return str(raw)
    host, port = str(raw[0]), raw[1]
    if port is None:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _forwarded_node(element: str) -> Node:
    """The ``for`` node of a Forwarded element; a missing ``for`` is unidentified."""
    params = parse_forwarded_element(element)
    if params is None:
        return INVALID
    value = params.get("for")
    return UNIDENTIFIED if value is None else parse_node_uncached(value)


#: Bound of each per-config memo; cleared when full (an attacker rotating values only
#: costs re-parsing).
_MEMO_SIZE = 4096
#: Elements cut per quote-aware split: one, since each cut is Python-level work and
#: nothing left of the decision (the client's text, maybe hostile) should be scanned.
_FORWARDED_CHUNK = 1


def _failure_verdict(node: Node) -> Verdict:
    return Verdict.INVALID if node.kind is NodeKind.INVALID else Verdict.UNIDENTIFIED


def _failure_status(node: Node) -> Status:
    return Status.INVALID_HOP if node.kind is NodeKind.INVALID else Status.UNIDENTIFIED_HOP


def _proxy_source(proxy: ProxyHeader) -> tuple[str, Node] | None:
    """§10 step 1: the effective peer a PROXY header names, or None to keep the socket peer."""
    if proxy.command is not Command.PROXY:
        return None  # LOCAL: the proxy's own connection, e.g. a health check (spec §2.2)
    family = proxy.family
    src = proxy.src
    if family is Family.UNIX:
        return f"unix:{src}", UNIX  # relayed from a unix socket: no client address
    if family not in _IP_FAMILIES:
        return None  # UNSPEC / v1 UNKNOWN: use the real connection endpoints (spec §2.1)
    node = _address_node(src) if isinstance(src, IPv4Address | IPv6Address) else INVALID
    text = f"[{src}]" if isinstance(src, IPv6Address) else str(src)
    port = proxy.src_port
    return (text if port is None else f"{text}:{port}"), node


_IP_FAMILIES = frozenset({Family.INET, Family.INET6, Family.TCP4, Family.TCP6})


def _address_node(ip: IPAddress) -> Node:
    """A node for an already-parsed address: unmapped, zone split, unspecified refused."""
    zone: str | None = None
    if isinstance(ip, IPv6Address):
        zone = ip.scope_id
        mapped = ip.ipv4_mapped
        if mapped is not None:
            ip, zone = mapped, None
        elif zone is not None:
            ip = IPv6Address(int(ip))
    if ip.is_unspecified:
        return INVALID
    return Node(NodeKind.ADDRESS, ip, zone, address_key(ip))
