"""Who is believed: the immutable, validated trust configuration of the resolver.

:class:`TrustConfig` is reference §10 "Configuration": trusted proxy ranges (with the
``unix:`` token), exactly one source header, an optional hop count, the peer gate, a hop
limit, and the ranges allowed to send a PROXY protocol header. Everything is checked at
construction and a :class:`~srcip.errors.TrustConfigError` names the setting, the value and
the fix (STYLE §6): a bad CIDR never degrades into "trust nothing" or "trust everything".

Trust checks are on the request path, so each range list is compiled once into an
:class:`AddressSet`: merged, sorted integer ranges over one key space for both families
(:func:`srcip.clientip.addresses.address_key`), tested with one :func:`bisect.bisect_right`.

Source names (reference §10 "No precedence lists", pitfalls §7.6, §7.16, §7.17, §7.22):
``x-forwarded-for`` and ``forwarded`` are the two list headers; any other syntactically
valid field name is a single-IP header (``x-real-ip``, ``cf-connecting-ip``,
``true-client-ip``, …), except the names in :data:`REFUSED_SOURCES`, which carry no client
address or are lists whose right end no proxy vouches for. Underscore spellings of the
known names are refused too (``x_forwarded_for`` is the slowapi bug, §3).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_network,
)
from typing import TYPE_CHECKING, TypeGuard

from srcip.clientip.addresses import IPV4_KEY_BASE, IPAddress, address_key
from srcip.errors import TrustConfigError

if TYPE_CHECKING:  # the memo entry types live with the resolver that fills them
    from srcip.clientip.resolve import Entry, Outcome, PeerEntry

__all__ = [
    "REFUSED_SOURCES",
    "UNIX_TOKEN",
    "AddressSet",
    "SourceKind",
    "TrustConfig",
]

#: The ``trusted_proxies`` / ``proxy_protocol_trusted`` token that trusts unix-socket peers.
UNIX_TOKEN = "unix:"

_MAPPED = IPv6Network("::ffff:0:0/96")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~")

#: Names refused as ``source``, each with the reason given in the error (reference §4, §7).
REFUSED_SOURCES: dict[str, str] = {
    # Other X-Forwarded-* fields carry no client address (ingress-nginx#9163, §7.22).
    "x-forwarded-host": "carries the requested host, not a client address",
    "x-forwarded-proto": "carries the scheme, not a client address",
    "x-forwarded-port": "carries a port, not a client address",
    "x-forwarded-prefix": "carries a path prefix, not a client address",
    "x-forwarded-server": "carries a proxy's host name, not a client address",
    "x-forwarded-scheme": "carries the scheme, not a client address",
    "x-forwarded-ssl": "carries a TLS flag, not a client address",
    "x-forwarded-uri": "carries a path, not a client address",
    "host": "carries the requested host, not a client address",
    "via": "lists proxy names and protocols (RFC 9110 §7.6.3), not client addresses",
    # List headers that no proxy appends to: their right end is not vouched for (§4).
    "forwarded-for": "is a non-standard list header; use x-forwarded-for or forwarded",
    "x-forwarded": "is a non-standard list header; use x-forwarded-for or forwarded",
    "x-original-forwarded-for": (
        "is ingress-nginx's copy of the raw incoming X-Forwarded-For, written by the client"
    ),
    # Not a header at all.
    "remote-addr": "is the socket peer, which resolve() always uses; it is not a header",
    "remote_addr": "is the socket peer, which resolve() always uses; it is not a header",
}
_KNOWN = ("x-forwarded-for", "forwarded", "x-real-ip", *REFUSED_SOURCES)
_UNDERSCORE_ALIASES = {name.replace("-", "_"): name for name in _KNOWN if "-" in name}


class SourceKind(StrEnum):
    """How the configured source header is read (reference §10 steps 5–6)."""

    X_FORWARDED_FOR = "x-forwarded-for"  # comma list, one address per element
    FORWARDED = "forwarded"  # RFC 7239 list, the node is the ``for`` parameter
    SINGLE = "single"  # one field line with exactly one address


class AddressSet:
    """Compiled ranges for fast membership: sorted, merged ``[start, end]`` integer pairs.

    Keys come from :func:`~srcip.clientip.addresses.address_key`. ``unix`` says whether
    the ``unix:`` token was listed.
    """

    __slots__ = ("ends", "starts", "unix")

    def __init__(self, networks: Iterable[IPv4Network | IPv6Network], *, unix: bool) -> None:
        spans = sorted(_span(net) for net in networks)
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = tuple(start for start, _ in merged)
        self.ends = tuple(end for _, end in merged)
        self.unix = unix

    def __bool__(self) -> bool:
        """True when anything at all is trusted (a range or ``unix:``)."""
        return self.unix or bool(self.starts)

    def contains_key(self, key: int) -> bool:
        """Membership of an address key; ``-1`` (no address) is never a member."""
        i = bisect_right(self.starts, key) - 1
        return i >= 0 and key <= self.ends[i]

    def contains(self, ip: IPAddress) -> bool:
        """Membership of an address; IPv4-mapped IPv6 is matched as IPv4."""
        return self.contains_key(address_key(ip))


def _span(net: IPv4Network | IPv6Network) -> tuple[int, int]:
    base = IPV4_KEY_BASE if net.version == 4 else 0
    start = base + int(net.network_address)
    return start, start + net.num_addresses - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustConfig:
    """The resolver's trust decisions, validated once (reference §10 "Configuration").

    * ``trusted_proxies``: addresses and CIDRs of your reverse proxies, and ``"unix:"`` for
      unix-socket peers. IPv4-mapped forms fold to IPv4; stored canonical (``10.0.0.0/8``).
    * ``source``: ``"x-forwarded-for"``, ``"forwarded"``, or one single-IP header name.
    * ``trusted_hops``: count mode: the client is the element ``N`` from the right
      (1-based), N being the number of reverse proxies that append (the werkzeug / Express
      convention, reference §2). List sources only; at most ``max_hops``.
    * ``peer_check``: read headers only when the (effective) peer is trusted. Turning it off
      needs a hop count or trusted ranges to walk; count mode without ``trusted_proxies``
      needs it off explicitly ("only the proxy can reach me").
    * ``max_hops``: most trusted header elements the walk passes; one more is ``hop_limit``
      (the peer is not a header element and is not counted; an answer right after
      ``max_hops`` trusted elements is still read). Count mode is bounded by
      ``trusted_hops`` ≤ ``max_hops`` instead.
    * ``proxy_protocol_trusted``: socket peers allowed to send a PROXY header.
    * ``allow_trust_all``: permit ``0.0.0.0/0`` / ``::/0`` (pitfall §7.2).
    """

    trusted_proxies: Sequence[str] = ()
    source: str = "x-forwarded-for"
    trusted_hops: int | None = None
    peer_check: bool = True
    max_hops: int = 20
    proxy_protocol_trusted: Sequence[str] = ()
    allow_trust_all: bool = False
    source_kind: SourceKind = field(init=False)
    trusted: AddressSet = field(init=False, repr=False, compare=False)
    proxy_protocol_set: AddressSet = field(init=False, repr=False, compare=False)
    header_name: bytes = field(init=False, repr=False, compare=False)
    # Bounded memos of the resolver (srcip.clientip.resolve): element text → (text, node,
    # trusted); a one-line list header, as received → what the walk makes of it; peer
    # (text or ASGI pair) → what the gate decides. Caches, not state: the same input
    # always gives the same entry, so the config stays a value.
    memo: dict[str, Entry] = field(init=False, repr=False, compare=False, default_factory=dict)
    line_memo: dict[str | bytes, Outcome] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    peer_memo: dict[object, PeerEntry] = field(  # keyed by str or exact (str, int) peers
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for name in ("peer_check", "allow_trust_all"):
            if not isinstance(getattr(self, name), bool):
                raise _error(name, getattr(self, name), "must be True or False", "pass a bool")
        proxies, trusted = _compile("trusted_proxies", self.trusted_proxies, self.allow_trust_all)
        pp, pp_set = _compile(
            "proxy_protocol_trusted", self.proxy_protocol_trusted, self.allow_trust_all
        )
        source, kind = _check_source(self.source)
        _check_counts(self.max_hops, self.trusted_hops, kind)
        if self.trusted_hops is not None and self.peer_check and not trusted:
            raise _error(
                "trusted_hops",
                self.trusted_hops,
                "counts hops but no trusted_proxies are listed, so the peer gate would"
                " refuse every peer",
                "list your proxies' addresses in trusted_proxies (recommended), or pass"
                " peer_check=False if only your proxy can reach the app",
            )
        if not self.peer_check and self.trusted_hops is None and not trusted:
            raise _error(
                "peer_check",
                False,
                "with no trusted_proxies and no trusted_hops every client could choose its address",
                "list your proxies in trusted_proxies or set trusted_hops",
            )
        setter = object.__setattr__
        setter(self, "trusted_proxies", proxies)
        setter(self, "proxy_protocol_trusted", pp)
        setter(self, "source", source)
        setter(self, "source_kind", kind)
        setter(self, "trusted", trusted)
        setter(self, "proxy_protocol_set", pp_set)
        setter(self, "header_name", source.encode("ascii"))

    def is_trusted(self, ip: IPAddress) -> bool:
        """Whether ``ip`` is a trusted proxy (IPv4-mapped IPv6 matched as IPv4)."""
        return self.trusted.contains_key(address_key(ip))

    def is_proxy_protocol_trusted(self, ip: IPAddress) -> bool:
        """Whether a socket peer at ``ip`` may send a PROXY protocol header."""
        return self.proxy_protocol_set.contains_key(address_key(ip))

    def cautions(self) -> tuple[str, ...]:
        """Advice about a valid but risky configuration, as data (reference §10, §6).

        Public ranges (other tenants of a CDN or cloud share them, §4) and wide private
        ranges (every pod of a /8 pod CIDR could claim any address, §6) are listed.
        """
        notes: list[str] = []
        for name, entries in (
            ("trusted_proxies", self.trusted_proxies),
            ("proxy_protocol_trusted", self.proxy_protocol_trusted),
        ):
            for entry in entries:
                if entry == UNIX_TOKEN:
                    continue
                net = ip_network(entry)
                if net.is_global:
                    notes.append(
                        f"{name} includes the public range {entry}: anyone who can send"
                        " from it (another tenant of the same provider) is believed"
                    )
                elif net.prefixlen < (16 if net.version == 4 else 48):
                    notes.append(
                        f"{name} includes the wide range {entry}: every host in it can"
                        " claim any client address; narrow it to your proxies"
                    )
        return tuple(notes)


def _error(setting: str, value: object, problem: str, fix: str) -> TrustConfigError:
    return TrustConfigError(f"TrustConfig {setting}={value!r}: {problem}. Fix: {fix}")


def _compile(
    setting: str, entries: Sequence[str], allow_trust_all: bool
) -> tuple[tuple[str, ...], AddressSet]:
    if isinstance(entries, str | bytes):
        raise _error(setting, entries, "must be a list of addresses", f"write [{entries!r}]")
    canonical: list[str] = []
    networks: list[IPv4Network | IPv6Network] = []
    unix = False
    for entry in entries:
        if entry == UNIX_TOKEN:
            unix = True
            canonical.append(UNIX_TOKEN)
            continue
        for net in _parse_network(setting, entry, allow_trust_all):
            networks.append(net)
            canonical.append(str(net))
    return tuple(canonical), AddressSet(networks, unix=unix)


def _parse_network(
    setting: str, entry: object, allow_trust_all: bool
) -> list[IPv4Network | IPv6Network]:
    """One entry → its networks (an IPv6 range covering mapped space also yields IPv4)."""
    if isinstance(entry, IPv4Address | IPv6Address | IPv4Network | IPv6Network):
        entry = str(entry)
    if not isinstance(entry, str):
        raise _error(setting, entry, "entries must be strings", "write addresses as text")
    if entry.startswith("unix:"):
        raise _error(setting, entry, "unix-socket paths are not matched", "write just 'unix:'")
    if "%" in entry:
        raise _error(setting, entry, "zones are not matched", "drop the %zone part")
    if not entry.isascii() or entry != entry.strip():
        raise _error(setting, entry, "is not an address or CIDR", "write e.g. 10.0.0.0/8")
    try:
        net = ip_network(entry, strict=True)
    except ValueError as exc:
        fix = "write an address or CIDR such as 10.0.0.0/8 or 2001:db8::/32"
        with suppress(ValueError):
            fix = f"did you mean {ip_network(entry, strict=False)}?"
        raise _error(setting, entry, f"is not a valid address or CIDR ({exc})", fix) from exc
    nets: list[IPv4Network | IPv6Network] = [net]
    if isinstance(net, IPv6Network) and net.overlaps(_MAPPED):
        nets = _fold_mapped(net)
    if any(n.prefixlen == 0 for n in nets) and not allow_trust_all:
        raise _error(
            setting,
            entry,
            "trusts every address, so any client can choose its address (reference §7.2)",
            "list only your proxies' ranges, or pass allow_trust_all=True if nothing but"
            " your proxies can reach the app",
        )
    return nets


def _fold_mapped(net: IPv6Network) -> list[IPv4Network | IPv6Network]:
    """IPv4-mapped CIDRs fold to IPv4; a wider IPv6 range also trusts all of IPv4."""
    if net.prefixlen >= 96:
        mapped = IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
        return [mapped]
    return [net, IPv4Network("0.0.0.0/0")]


def _check_source(source: object) -> tuple[str, SourceKind]:
    if not isinstance(source, str) or not source:
        raise _error("source", source, "must be a header name", "e.g. 'x-forwarded-for'")
    name = source.lower()
    if not _TOKEN_CHARS.issuperset(name):
        raise _error(
            "source",
            source,
            "is not a valid HTTP field name (RFC 9110 §5.1)",
            "use a header name such as 'x-forwarded-for', 'forwarded' or 'x-real-ip'",
        )
    if name == SourceKind.X_FORWARDED_FOR:
        return name, SourceKind.X_FORWARDED_FOR
    if name == SourceKind.FORWARDED:
        return name, SourceKind.FORWARDED
    reason = REFUSED_SOURCES.get(name)
    if reason is not None:
        raise _error(
            "source",
            source,
            reason,
            "use 'x-forwarded-for', 'forwarded', or a header your last proxy overwrites",
        )
    alias = _UNDERSCORE_ALIASES.get(name)
    if alias is not None:
        raise _error(
            "source",
            source,
            "is an underscore spelling, a different field than the one proxies write"
            " (reference §7.6)",
            f"use {alias!r}",
        )
    return name, SourceKind.SINGLE


def _check_counts(max_hops: object, trusted_hops: object, kind: SourceKind) -> None:
    if not _is_count(max_hops):
        raise _error("max_hops", max_hops, "must be a positive integer", "use e.g. 20")
    if trusted_hops is None:
        return
    if not _is_count(trusted_hops):
        raise _error(
            "trusted_hops",
            trusted_hops,
            "must be a positive integer (the number of reverse proxies) or None",
            "count the proxies that append to the header, e.g. 1",
        )
    if trusted_hops > max_hops:
        raise _error("trusted_hops", trusted_hops, f"exceeds max_hops={max_hops}", "raise max_hops")
    if kind is SourceKind.SINGLE:
        raise _error(
            "trusted_hops",
            trusted_hops,
            "counts list elements, but the source is a single-IP header",
            "drop trusted_hops, or use source='x-forwarded-for' or 'forwarded'",
        )


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
