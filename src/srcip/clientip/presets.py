"""Ready-made :class:`~srcip.clientip.trust.TrustConfig` s for common topologies.

Presets fill in a configuration and nothing else: every trust decision stays visible in the
returned object, and the addresses of *your* proxies are always arguments, never guesses
(reference §10 "Presets document typical topologies instead of hiding trust decisions").
Provider address lists are not bundled because they drift (§7.19); pass them in.

=====================  ==========================================================================
preset                 topology (reference section)
=====================  ==========================================================================
``ingress_nginx``      client → ingress-nginx pods → app; the ingress writes X-Forwarded-For
                       (§3 "ingress-nginx": default config replaces it with one value)
``aws_alb``            client → AWS ALB (nodes inside your VPC subnets) → [ingress] → app;
                       the ALB appends the client to X-Forwarded-For
``gclb``               client → Google external Application LB → [ingress] → app; GFEs
                       append ``<client>, <load-balancer IP>`` (hence the LB IP must be trusted)
``cloudflare``         client → Cloudflare → [ingress] → app, Cloudflare ranges supplied by you;
                       authenticate origin pulls too: ranges are not identity (§4)
``nlb_proxy_v2``       client → AWS NLB with PROXY protocol v2 → app; no HTTP header is read
=====================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Sequence

from srcip.clientip.trust import TrustConfig
from srcip.errors import TrustConfigError

__all__ = [
    "GOOGLE_FRONTEND_RANGES",
    "aws_alb",
    "cloudflare",
    "gclb",
    "ingress_nginx",
    "nlb_proxy_v2",
]

#: Source ranges of Google Front Ends for external Application Load Balancers and health
#: checks, as listed in Google Cloud's firewall-rule documentation.
GOOGLE_FRONTEND_RANGES = ("35.191.0.0/16", "130.211.0.0/22")


def ingress_nginx(
    ingress_cidrs: Sequence[str], *, source: str = "x-forwarded-for", max_hops: int = 20
) -> TrustConfig:
    """Behind ingress-nginx: trust the ingress pods (their CIDR), read its header.

    With the default ``use-forwarded-headers: false`` the ingress replaces X-Forwarded-For
    with ``$remote_addr`` (one value) and also sets ``X-Real-IP``; pass ``source="x-real-ip"``
    to read that instead. Narrow ``ingress_cidrs`` to the ingress pods: a pod CIDR trusts
    every pod (reference §6).
    """
    return TrustConfig(
        trusted_proxies=_required("ingress_cidrs", ingress_cidrs),
        source=source,
        max_hops=max_hops,
    )


def aws_alb(
    vpc_cidrs: Sequence[str], *, extra_proxies: Sequence[str] = (), max_hops: int = 20
) -> TrustConfig:
    """Behind an AWS Application Load Balancer: trust its subnets (and any ingress).

    The ALB connects from addresses in the subnets it is attached to and appends the
    client address to X-Forwarded-For; an ingress behind it appends the ALB's address.
    """
    return TrustConfig(
        trusted_proxies=[*_required("vpc_cidrs", vpc_cidrs), *extra_proxies],
        source="x-forwarded-for",
        max_hops=max_hops,
    )


def gclb(
    load_balancer_ips: Sequence[str],
    *,
    extra_proxies: Sequence[str] = (),
    frontend_ranges: Sequence[str] = GOOGLE_FRONTEND_RANGES,
    max_hops: int = 20,
) -> TrustConfig:
    """Behind a Google Cloud external Application Load Balancer.

    GFEs send ``X-Forwarded-For: <supplied>, <client>, <load-balancer IP>`` from
    :data:`GOOGLE_FRONTEND_RANGES`; the load balancer's own (forwarding-rule) IP sits right
    of the client, so it is trusted too. This is the case that moved hypercorn users' hop
    counts by one (hypercorn#232, reference §2); ranges avoid counting.
    """
    return TrustConfig(
        trusted_proxies=[
            *frontend_ranges,
            *_required("load_balancer_ips", load_balancer_ips),
            *extra_proxies,
        ],
        source="x-forwarded-for",
        max_hops=max_hops,
    )


def cloudflare(
    cloudflare_ranges: Sequence[str],
    *,
    extra_proxies: Sequence[str] = (),
    source: str = "x-forwarded-for",
    max_hops: int = 20,
) -> TrustConfig:
    """Behind Cloudflare, with its published ranges supplied by you (they drift, §7.19).

    Cloudflare appends the visitor to X-Forwarded-For, and an ingress behind it appends
    Cloudflare's edge address, so the default walks X-Forwarded-For over both. When the app
    is reached directly from Cloudflare, ``source="cf-connecting-ip"`` reads the single
    header Cloudflare overwrites. Any Cloudflare customer can reach you from these ranges:
    pair this with authenticated origin pulls or a secret header (reference §4).
    """
    return TrustConfig(
        trusted_proxies=[*_required("cloudflare_ranges", cloudflare_ranges), *extra_proxies],
        source=source,
        max_hops=max_hops,
    )


def nlb_proxy_v2(nlb_cidrs: Sequence[str]) -> TrustConfig:
    """Behind an AWS Network Load Balancer sending PROXY protocol v2 straight to the app.

    Only the NLB's subnets may send the PROXY header; its source address becomes the
    effective peer, and with no HTTP proxy trusted the result is that address, status
    ``direct``, source ``proxy-protocol`` (reference §5 "Operational notes", §10 step 1).
    """
    return TrustConfig(proxy_protocol_trusted=_required("nlb_cidrs", nlb_cidrs))


def _required(name: str, entries: Sequence[str]) -> list[str]:
    if isinstance(entries, str):
        raise TrustConfigError(
            f"preset argument {name}={entries!r}: must be a list. Fix: [{entries!r}]"
        )
    values = list(entries)
    if not values:
        raise TrustConfigError(
            f"preset argument {name}=[]: a preset needs your proxies' addresses. Fix: pass"
            " the CIDRs they connect from"
        )
    return values
