"""Access rules on the resolved client address, with NetworkPolicy ``ipBlock`` semantics.

What is modelled: the ``ipBlock`` peer of a Kubernetes NetworkPolicy rule (networking/v1
``IPBlock``): a ``cidr`` with optional ``except`` CIDRs, each of which must be a strict
subset of ``cidr`` (the API server's ``ValidateIPBlock`` rejects anything else); an address
matches the block when it is inside ``cidr`` and inside none of the ``except`` entries.
Several blocks are OR-ed, as the peers of one NetworkPolicy rule are. An empty list of
blocks allows nobody, as a policy that selects a pod for Ingress with no rules does.

What is added, because an application (unlike a CNI) can fail to learn the address:
``ip is None`` (the resolution failed, see :mod:`srcip.clientip.resolve`) is denied by
default; ``unresolved=UnresolvedAccess.ALLOW`` lets such requests through instead.

Left out: pod and namespace selectors and ports, which need a cluster to evaluate. CIDRs
are parsed strictly: ``10.0.0.1/8`` (host bits set) is refused with the fix, where the API
server would accept it as a legacy spelling. IPv4-mapped IPv6 addresses
(``::ffff:10.1.2.3``) are matched as the IPv4 address they carry, like the resolver
reports them.

This module is pure (an import-linter contract forbids I/O and clocks here); the ASGI and
WSGI middleware answering ``403`` live in :mod:`srcip.clientip.asgi` and
:mod:`srcip.clientip.wsgi`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_network

from srcip.clientip.addresses import IPAddress, as_address, ip_text
from srcip.errors import TrustConfigError

__all__ = [
    "AccessDecision",
    "AccessPolicy",
    "IPBlock",
    "UnresolvedAccess",
    "as_address",
    "ip_text",
    "parse_cidr",
]

IPNetwork = IPv4Network | IPv6Network


class UnresolvedAccess(StrEnum):
    """What an access policy does with a request whose client address is unknown."""

    DENY = "deny"
    ALLOW = "allow"


def parse_cidr(text: str, what: str) -> IPNetwork:
    """A CIDR written ``address/prefix`` with no host bits; ``what`` names it in errors."""
    if "/" not in text:
        raise TrustConfigError(
            f"{what} {text!r} is not a CIDR. Fix: write address/prefix, e.g. {text}/32"
        )
    try:
        return ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise TrustConfigError(
            f"{what} {text!r} is not a valid CIDR ({exc}). "
            "Fix: write the network address, e.g. 10.0.0.0/8 or 2001:db8::/32"
        ) from exc


def _is_strict_subnet(inner: IPNetwork, outer: IPNetwork) -> bool:
    # ValidateIPBlock: `!cidr.Contains(except.IP) || cidrMaskLen >= exceptMaskLen` is an error.
    if inner.version != outer.version:
        return False
    return inner.prefixlen > outer.prefixlen and inner.network_address in outer


@dataclass(frozen=True, slots=True, kw_only=True)
class IPBlock:
    """One ``ipBlock``: addresses in ``cidr`` except those in any ``except_`` CIDR.

    ``except_`` carries the trailing underscore because ``except`` is a Python keyword;
    :meth:`from_dict` reads the Kubernetes spelling.
    """

    cidr: str
    except_: tuple[str, ...] = ()
    network: IPNetwork = field(init=False, repr=False, compare=False)
    excluded: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        network = parse_cidr(self.cidr, "ipBlock.cidr")
        excluded = []
        for i, text in enumerate(self.except_):
            sub = parse_cidr(text, f"ipBlock.except[{i}]")
            if not _is_strict_subnet(sub, network):
                raise TrustConfigError(
                    f"ipBlock.except[{i}] {text!r} must be a strict subset of cidr "
                    f"{self.cidr!r}. Fix: remove it or narrow it to a network inside the cidr"
                )
            excluded.append(sub)
        object.__setattr__(self, "network", network)
        object.__setattr__(self, "excluded", tuple(excluded))

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> IPBlock:
        """An ``ipBlock`` as written in a NetworkPolicy: ``{"cidr": …, "except": […]}``."""
        unknown = sorted(set(data) - {"cidr", "except"})
        if unknown:
            raise TrustConfigError(
                f"ipBlock has unknown field(s) {', '.join(unknown)}. Fix: use cidr and except"
            )
        cidr = data.get("cidr")
        if not isinstance(cidr, str):
            raise TrustConfigError(f"ipBlock.cidr must be a string, got {cidr!r}")
        excepts = data.get("except", [])
        if not isinstance(excepts, list) or not all(isinstance(e, str) for e in excepts):
            raise TrustConfigError(f"ipBlock.except must be a list of CIDRs, got {excepts!r}")
        return cls(cidr=cidr, except_=tuple(excepts))

    def contains(self, ip: str | IPAddress) -> bool:
        """Whether ``ip`` is in ``cidr`` and in none of the ``except`` CIDRs."""
        addr = as_address(ip)
        if addr not in self.network:  # a different family is never inside
            return False
        return not any(addr in sub for sub in self.excluded)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessDecision:
    """Whether a client may pass, and which rule (0-based) or policy decided it."""

    allowed: bool
    rule: int | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessPolicy:
    """Blocks OR-ed together; ``unresolved`` decides for requests without a client address."""

    allow: tuple[IPBlock, ...]
    unresolved: UnresolvedAccess = UnresolvedAccess.DENY

    @classmethod
    def from_blocks(
        cls,
        blocks: Iterable[Mapping[str, object]],
        *,
        unresolved: UnresolvedAccess = UnresolvedAccess.DENY,
    ) -> AccessPolicy:
        """A policy from NetworkPolicy-shaped ``ipBlock`` dicts (a ``from:`` list's blocks)."""
        return cls(allow=tuple(IPBlock.from_dict(b) for b in blocks), unresolved=unresolved)

    @classmethod
    def from_cidrs(
        cls, cidrs: Sequence[str], *, unresolved: UnresolvedAccess = UnresolvedAccess.DENY
    ) -> AccessPolicy:
        """A policy allowing each CIDR, with no exceptions."""
        return cls(allow=tuple(IPBlock(cidr=c) for c in cidrs), unresolved=unresolved)

    def decide(self, ip: str | IPAddress | None) -> AccessDecision:
        """The decision for a client address, or for ``None`` (an unresolved client)."""
        if ip is None:
            allowed = self.unresolved is UnresolvedAccess.ALLOW
            return AccessDecision(
                allowed=allowed, rule=None, reason=f"unresolved: {self.unresolved}"
            )
        addr = as_address(ip)
        for index, block in enumerate(self.allow):
            if block.contains(addr):
                return AccessDecision(allowed=True, rule=index, reason=f"allow[{index}]")
        return AccessDecision(allowed=False, rule=None, reason="no rule matches")

    def is_allowed(self, ip: str | IPAddress | None) -> bool:
        """Shorthand for ``decide(ip).allowed``."""
        return self.decide(ip).allowed
