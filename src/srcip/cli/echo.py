"""``srcip echo``: the echo server for source-IP debugging.

Parses the options into an :class:`~srcip.net.EchoConfig` (trust through
:class:`~srcip.clientip.TrustConfig`, the pod's identity from the downward-API environment)
and calls :func:`~srcip.net.run_echo`, which serves until SIGTERM or SIGINT and drains.
Exit codes: 0 after a clean drain, 2 for bad input (a bad CIDR, an address that cannot be
bound), as a one-paragraph message without a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from srcip.cli.common import reports_errors, resolution_options
from srcip.clientip import TrustConfig
from srcip.errors import UsageError
from srcip.net import (
    ALL_ADDRESSES,
    EchoConfig,
    Limits,
    LogFormat,
    PodEnvironment,
    ProxyProtocol,
    run_echo,
)

__all__ = ["echo", "split_list"]

#: ``--proxy-protocol`` without ``--proxy-protocol-from``: every peer must send a header.
EVERY_PEER = ("0.0.0.0/0", "::/0")
_DEFAULTS = Limits()
FC = TypeVar("FC", bound=Callable[..., Any])


def _limit(
    flag: str, field: str, kind: type, help_text: str, *, dest: str | None = None
) -> Callable[[FC], FC]:
    """A ``--max-*`` / ``--*-timeout`` option defaulting to :class:`Limits`' value."""
    names = (flag, dest) if dest else (flag,)
    return click.option(
        *names, type=kind, default=getattr(_DEFAULTS, field), show_default=True, help=help_text
    )


def split_list(values: Sequence[str]) -> list[str]:
    """Repeated options, each possibly comma-separated, as one list without blanks."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def trust_config(
    trusted: Sequence[str],
    source: str,
    trusted_hops: int | None,
    peer_check: bool,
    proxy_from: Sequence[str],
    proxy_protocol: ProxyProtocol,
) -> TrustConfig:
    """The resolver's configuration; PROXY peers default to everyone when the protocol is on.

    The trust options are validated on their own first, so "everyone may send a PROXY
    header" never lets ``--trust 0.0.0.0/0`` through.
    """
    base = TrustConfig(
        trusted_proxies=list(trusted),
        source=source,
        trusted_hops=trusted_hops,
        peer_check=peer_check,
    )
    if proxy_protocol is ProxyProtocol.OFF:
        if proxy_from:
            raise UsageError(
                "--proxy-protocol-from needs the PROXY protocol on. Fix: add"
                " --proxy-protocol v1, v2 or any"
            )
        return base
    everyone = not proxy_from
    return TrustConfig(
        trusted_proxies=base.trusted_proxies,
        source=base.source,
        trusted_hops=trusted_hops,
        peer_check=peer_check,
        proxy_protocol_trusted=list(EVERY_PEER if everyone else proxy_from),
        allow_trust_all=everyone,
    )


@click.command()
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="ADDR",
    help="Address to listen on; repeat for several. Default: every IPv4 and IPv6 address.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--udp",
    "udp_port",
    type=click.IntRange(0, 65535),
    default=None,
    metavar="PORT",
    help="Also echo UDP datagrams' source address on this port.",
)
@click.option(
    "--proxy-protocol",
    type=click.Choice([p.value for p in ProxyProtocol]),
    default="off",
    show_default=True,
    help="PROXY protocol header required from the --proxy-protocol-from peers.",
)
@click.option(
    "--proxy-protocol-from",
    "proxy_from",
    multiple=True,
    metavar="CIDR",
    help="Peers that must send a PROXY header (others may not); repeat or comma-separate. "
    "Default with --proxy-protocol: every peer.",
)
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    metavar="CIDR",
    help="Trusted proxy address or CIDR (or unix:); repeat or comma-separate.",
)
@resolution_options
@click.option(
    "--log-format",
    type=click.Choice([f.value for f in LogFormat]),
    default="text",
    show_default=True,
    help="One line per request: text, or JSON lines.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds SIGTERM waits for requests in flight.",
)
@_limit("--max-target", "max_target", int, "Longest request target in bytes (414).")
@_limit("--max-header-bytes", "max_header_bytes", int, "Largest header section in bytes (431).")
@_limit("--max-headers", "max_headers", int, "Most header fields (431).")
@_limit("--max-body", "max_body", int, "Largest body in bytes (413).")
@_limit("--max-connections", "max_connections", int, "Most open connections (503 beyond).")
@_limit(
    "--header-timeout", "header_timeout", float, "Seconds for a request's header section (408)."
)
@_limit("--idle-timeout", "idle_timeout", float, "Seconds a connection may wait silent.")
@_limit("--proxy-header-timeout", "proxy_header_timeout", float, "Seconds for the PROXY header.")
@_limit("--max-delay", "max_delay_ms", int, "Longest ?delay= in milliseconds.", dest="max_delay_ms")
@reports_errors
def echo(
    hosts: tuple[str, ...],
    port: int,
    udp_port: int | None,
    proxy_protocol: str,
    proxy_from: tuple[str, ...],
    trusted: tuple[str, ...],
    source: str,
    trusted_hops: int | None,
    no_peer_check: bool,
    log_format: str,
    grace: float,
    max_target: int,
    max_header_bytes: int,
    max_headers: int,
    max_body: int,
    max_connections: int,
    header_timeout: float,
    idle_timeout: float,
    proxy_header_timeout: float,
    max_delay_ms: int,
) -> None:
    """Echo what a pod sees: TCP peer, PROXY and forwarding headers, resolved client.

    JSON by default; ?format=text or Accept: text/plain for echoserver-style text.
    Reserved: /healthz, /metrics, /status/<code>; ?delay=<ms> on any path. Pod identity
    and peer classification come from POD_NAME, POD_NAMESPACE, NODE_NAME, POD_IP,
    NODE_IP, POD_CIDR, CLUSTER_CIDR, LB_CIDRS and NODE_CIDRS when set.

    \b
    srcip echo --port 8080
    srcip echo --trust 10.0.0.0/8 --source x-forwarded-for --log-format json
    srcip echo --proxy-protocol v2 --proxy-protocol-from 10.0.0.0/16 --udp 9000
    """
    setting = ProxyProtocol(proxy_protocol)
    trust = trust_config(
        split_list(trusted),
        source,
        trusted_hops,
        not no_peer_check,
        split_list(proxy_from),
        setting,
    )
    config = EchoConfig(
        hosts=tuple(split_list(hosts)) or ALL_ADDRESSES,
        port=port,
        udp_port=udp_port,
        trust=trust,
        proxy_protocol=setting,
        limits=Limits(
            max_target=max_target,
            max_header_bytes=max_header_bytes,
            max_headers=max_headers,
            max_body=max_body,
            max_connections=max_connections,
            header_timeout=header_timeout,
            idle_timeout=idle_timeout,
            proxy_header_timeout=proxy_header_timeout,
            max_delay_ms=max_delay_ms,
        ),
        environment=PodEnvironment.from_env(os.environ),
        log_format=LogFormat(log_format),
        grace=grace,
    )
    try:
        code = run_echo(config, stream=sys.stdout)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {', '.join(config.hosts)} port {port}: {exc.strerror or exc}."
            " Fix: choose another --port or --host, or stop what is using it"
        ) from exc
    sys.exit(code)
