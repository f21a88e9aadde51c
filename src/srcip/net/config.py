"""What an echo server is told: where to listen, whom to believe, how to log, its limits.

:class:`EchoConfig` is a frozen value built once (by ``srcip echo`` from its options, or by
the lab for each simulated pod). The trust part is a :class:`~srcip.clientip.TrustConfig`,
so the server resolves the client exactly as the library does; the PROXY protocol part is
the listener's :class:`ProxyProtocol` setting plus ``trust.proxy_protocol_trusted``, the
peers that must send a header (every other peer connects directly and may not send one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from srcip.clientip import TrustConfig
from srcip.errors import UsageError
from srcip.net.limits import Limits
from srcip.net.peerkind import PodEnvironment

__all__ = ["ALL_ADDRESSES", "EchoConfig", "LogFormat", "ProxyProtocol"]

#: The default listening addresses: every IPv4 and every IPv6 address.
ALL_ADDRESSES = ("0.0.0.0", "::")


class ProxyProtocol(StrEnum):
    """Which PROXY protocol header a listener requires from its PROXY peers."""

    OFF = "off"
    V1 = "v1"
    V2 = "v2"
    ANY = "any"

    def accepts(self, version: int) -> bool:
        """Whether a header of this version (1 or 2) is accepted."""
        return self is ProxyProtocol.ANY or self.value == f"v{version}"


class LogFormat(StrEnum):
    """How the one line per request is written."""

    TEXT = "text"
    JSON = "json"


@dataclass(frozen=True, slots=True, kw_only=True)
class EchoConfig:
    """One echo server: listeners, trust, PROXY protocol, logging, limits and pod identity.

    ``port`` 0 picks a free port (the first host's; other hosts reuse it). ``udp_port``
    adds a UDP echo on the same hosts (0: any free port). ``grace`` is how long a
    shutdown waits for requests in flight. ``hostname`` defaults to the machine's.
    """

    hosts: tuple[str, ...] = ALL_ADDRESSES
    port: int = 8080
    udp_port: int | None = None
    trust: TrustConfig = field(default_factory=TrustConfig)
    proxy_protocol: ProxyProtocol = ProxyProtocol.OFF
    limits: Limits = field(default_factory=Limits)
    environment: PodEnvironment = field(default_factory=PodEnvironment)
    log_format: LogFormat = LogFormat.TEXT
    grace: float = 10.0
    hostname: str | None = None
    metrics_top: int = 100

    def __post_init__(self) -> None:
        if not self.hosts:
            raise UsageError("no address to listen on. Fix: give at least one --host")
        for name, port in (("port", self.port), ("udp_port", self.udp_port)):
            if port is not None and not 0 <= port <= 65535:
                raise UsageError(f"{name} {port} is out of range. Fix: use 0..65535")
        if self.grace < 0:
            raise UsageError(f"grace {self.grace} is negative. Fix: use 0 or more seconds")
        pp_peers = bool(self.trust.proxy_protocol_trusted)
        if self.proxy_protocol is ProxyProtocol.OFF and pp_peers:
            raise UsageError(
                "PROXY protocol peers are listed but the PROXY protocol is off. Fix: pass"
                " --proxy-protocol v1, v2 or any, or drop --proxy-protocol-from"
            )
        if self.proxy_protocol is not ProxyProtocol.OFF and not pp_peers:
            raise UsageError(
                f"--proxy-protocol {self.proxy_protocol} needs the peers that send a header."
                " Fix: pass --proxy-protocol-from CIDR (your load balancer's addresses)"
            )
