"""Shared helpers for the echo server's unit tests: an app with an in-memory log, replies."""

from __future__ import annotations

from dataclasses import dataclass, field

from srcip.clientip import TrustConfig
from srcip.net.accesslog import AccessEntry, ClosedEntry
from srcip.net.app import EchoApp, Reply
from srcip.net.config import EchoConfig, ProxyProtocol
from srcip.net.connection import EchoConnection
from srcip.net.limits import Limits
from srcip.net.metrics import EchoMetrics
from srcip.net.peerkind import PodEnvironment

DATE = b"Date: Sat, 21 Nov 2026 00:00:00 GMT\r\n"
PEER = ("10.0.0.2", 5555)
LOCAL = ("10.244.1.5", 8080)


@dataclass
class MemoryLog:
    """A :class:`~srcip.net.accesslog.RequestLog` that keeps what it is given."""

    requests: list[AccessEntry] = field(default_factory=list)
    closures: list[ClosedEntry] = field(default_factory=list)

    def request(self, entry: AccessEntry) -> None:
        """Keep one request entry."""
        self.requests.append(entry)

    def closed(self, entry: ClosedEntry) -> None:
        """Keep one closed-connection entry."""
        self.closures.append(entry)


def make_app(
    *,
    trust: TrustConfig | None = None,
    proxy_protocol: ProxyProtocol = ProxyProtocol.OFF,
    limits: Limits | None = None,
    environment: PodEnvironment | None = None,
) -> tuple[EchoApp, MemoryLog]:
    """An app for ``hosts=127.0.0.1`` with the given settings, and its log."""
    config = EchoConfig(
        hosts=("127.0.0.1",),
        port=0,
        trust=trust or TrustConfig(),
        proxy_protocol=proxy_protocol,
        limits=limits or Limits(),
        environment=environment or PodEnvironment(),
        hostname="echo-test",
    )
    log = MemoryLog()
    app = EchoApp(config, hostname="echo-test", metrics=EchoMetrics(), log=log)
    app.date = DATE
    return app, log


def connect(
    app: EchoApp,
    *,
    peer: tuple[str, int] = PEER,
    local: tuple[str, int] = LOCAL,
    expect_proxy: bool = False,
) -> EchoConnection:
    """A new sans-I/O connection of ``app``."""
    return EchoConnection(app, peer, local, expect_proxy=expect_proxy)


@dataclass(frozen=True)
class Answer:
    """One parsed response."""

    status: int
    headers: dict[str, str]
    body: bytes


def parse_answers(data: bytes) -> list[Answer]:
    """Split concatenated responses (each with Content-Length, or 1xx/204/304 without)."""
    answers: list[Answer] = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {head!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body, data = data[:length], data[length:]
        answers.append(Answer(status, headers, body))
    return answers


def take(conn: EchoConnection) -> list[Reply]:
    """The connection's replies so far, removed from it (what the shell does)."""
    replies, conn.replies = conn.replies, []
    return replies


def answers_of(replies: list[Reply]) -> list[Answer]:
    """The responses in ``replies`` (replies with no bytes, bare closes, are skipped)."""
    return parse_answers(b"".join(reply.data for reply in replies))
