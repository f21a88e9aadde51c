"""asyncio servers around srcip's pure cores: first of them, the echo server.

``srcip echo`` shows the three addresses a source-IP debugging user must keep apart: the
TCP peer (and what it is: :class:`PeerKind`), what the PROXY header and the forwarding
headers claim, and the client :func:`srcip.clientip.resolve` makes of them under a trust
configuration. :class:`EchoServer` is an ``async with`` context manager exposing its
bound ``addresses``, so the lab can run many in one process on loopback addresses.

Modules: :mod:`.config` and :mod:`.limits` (what a server is told), :mod:`.peerkind`
(classifying the peer, pure), :mod:`.document` (the echo document, pure),
:mod:`.responses` (response bytes), :mod:`.app` (answers per request),
:mod:`.connection` (one connection, sans I/O), :mod:`.accesslog`, :mod:`.metrics`,
:mod:`.echo` (the asyncio shell), :mod:`.udp`, :mod:`.sockets`, :mod:`.serve` (running it
as a program).
"""

from srcip.net.accesslog import LoggingLog, RequestLog, StreamLog
from srcip.net.config import ALL_ADDRESSES, EchoConfig, LogFormat, ProxyProtocol
from srcip.net.echo import EchoServer
from srcip.net.limits import Limits
from srcip.net.peerkind import PeerKind, PodEnvironment, classify_peer
from srcip.net.serve import run_echo

__all__ = [
    "ALL_ADDRESSES",
    "EchoConfig",
    "EchoServer",
    "Limits",
    "LogFormat",
    "LoggingLog",
    "PeerKind",
    "PodEnvironment",
    "ProxyProtocol",
    "RequestLog",
    "StreamLog",
    "classify_peer",
    "run_echo",
]
