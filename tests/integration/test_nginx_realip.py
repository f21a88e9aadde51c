"""Differential test: nginx's realip module against ``srcip.clientip.resolve``.

nginx (Debian 12: 1.22.1) runs with the configuration the reference recommends::

    set_real_ip_from <TRUSTED>; real_ip_header X-Forwarded-For; real_ip_recursive on;
    location / { return 200 "$remote_addr\\n"; }

and every request of a seeded corpus (:mod:`.xff_corpus`) is sent over a raw socket from a
chosen loopback peer. Three things are checked per request:

1. nginx's ``$remote_addr`` equals :mod:`.nginx_model`'s prediction, a port of nginx's C
   code, so every quirk below is pinned to a line of nginx, not to a guess;
2. on the agreeing corpus, srcip's answer equals nginx's under the mapping
   :func:`nginx_view`: the same address (compared canonically: nginx prints
   ``::ffff:a.b.c.d`` where srcip unmaps, and ``::a.b.c.d`` where Python prints hex), and
   where srcip refuses to name a client (``invalid_hop``, ``unidentified_hop``: ip None)
   nginx keeps the last trusted address it walked, which is srcip's ``nearest_trusted``;
3. on the quirk corpus, each side does what :data:`.xff_corpus.QUIRKS` documents, and the
   two answers do differ (so the list of differences stays exact).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from srcip.clientip import Resolution, Status, TrustConfig, Verdict, resolve
from tests.integration import nginx_model
from tests.integration.conftest import StartDaemon
from tests.integration.processes import accepts_connections, free_port
from tests.integration.xff_corpus import (
    QUIRKS,
    TRUSTED,
    XffCase,
    agreeing_cases,
    quirk_cases,
)

CONFIG = TrustConfig(trusted_proxies=list(TRUSTED), source="x-forwarded-for")
NETWORKS = [ipaddress.ip_network(net) for net in TRUSTED]
AGREEING = agreeing_cases()
QUIRK_CASES = quirk_cases()

#: What srcip's status must be for each corpus shape (the corpus's own check).
SHAPE_STATUSES = {
    "client": {Status.OK},
    "refused": {Status.INVALID_HOP, Status.UNIDENTIFIED_HOP},
    "all_trusted": {Status.ALL_TRUSTED},
    "no_header": {Status.NO_HEADER},
    "direct": {Status.DIRECT},
}

#: srcip's status where the walk meets each quirk.
QUIRK_STATUSES = {
    "v4-leading-zero": {Status.INVALID_HOP},
    "v4-empty-octet": {Status.INVALID_HOP},
    "unspecified": {Status.INVALID_HOP},
    "v4-broadcast": {Status.OK},
    "v6-zone": {Status.OK},
    "v6-brackets-without-port": {Status.OK},
    "port-zero": {Status.OK},
    "port-over-five-digits": {Status.INVALID_HOP},
    "v6-leading-colon": {Status.INVALID_HOP},
    "space-separated": {Status.INVALID_HOP},
    "tab-before-element": {Status.OK},
    "leading-comma": {Status.OK},
    "leading-separator-later-line": {Status.OK},
    "empty-line": {Status.OK},
    "hop-limit": {Status.HOP_LIMIT},
}

NGINX_CONF = """\
master_process off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        listen [::1]:{port};
{set_real_ip_from}
        real_ip_header X-Forwarded-For;
        real_ip_recursive on;
        location / {{
            default_type text/plain;
            return 200 "$remote_addr\\n";
        }}
    }}
}}
"""
IO_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Nginx:
    """A running nginx and how to ask it for ``$remote_addr``."""

    port: int

    def remote_addr(self, case: XffCase) -> str:
        """Send ``case`` from its peer address; nginx's ``$remote_addr`` for it."""
        lines = [b"GET / HTTP/1.1", b"Host: nginx.test", b"Connection: close"]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in case.fields]
        request = b"\r\n".join([*lines, b"", b""])
        host = "::1" if ":" in case.peer else "127.0.0.1"
        with socket.create_connection(
            (host, self.port), timeout=IO_TIMEOUT_S, source_address=(case.peer, 0)
        ) as sock:
            sock.sendall(request)
            response = _read_to_eof(sock)
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), response
        return body.decode("ascii").strip()


def _read_to_eof(sock: socket.socket, limit: int = 65536) -> bytes:
    """Everything until the peer closes, within IO_TIMEOUT_S and ``limit`` bytes."""
    deadline = time.monotonic() + IO_TIMEOUT_S
    chunks: list[bytes] = []
    while sum(map(len, chunks)) < limit and time.monotonic() < deadline:
        chunk = sock.recv(4096)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture(scope="module")
def nginx(
    nginx_bin: str, module_daemons: StartDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Nginx:
    """nginx with realip as in the module docstring, on 127.0.0.1 and ::1, one free port.

    ``master_process off`` keeps nginx to the one process we start (stopped by its pid, no
    orphaned worker) running as the current user, root in CI, so no ``user`` directive is
    needed; pid, logs and temporary directories live under the module's temporary path.
    """
    tmp: Path = tmp_path_factory.mktemp("nginx")
    port = free_port()
    set_real_ip_from = "\n".join(f"        set_real_ip_from {net};" for net in TRUSTED)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port, set_real_ip_from=set_real_ip_from))
    argv = [nginx_bin, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")]
    module_daemons(
        "nginx",
        [*argv, "-g", "daemon off;"],
        workdir=tmp,
        ready=lambda: accepts_connections("127.0.0.1", port),
    )
    return Nginx(port)


def srcip_resolution(case: XffCase) -> Resolution:
    """``resolve`` on what an HTTP server hands the app: values with OWS trimmed."""
    peer = f"[{case.peer}]:40000" if ":" in case.peer else f"{case.peer}:40000"
    headers = [(name, value.strip(" \t")) for name, value in case.fields]
    return resolve(peer, headers, CONFIG)


def canonical(text: str) -> str:
    """An address as srcip writes it: RFC 5952, IPv4-mapped unmapped."""
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def nginx_view(result: Resolution) -> str | None:
    """What nginx's ``$remote_addr`` is, given srcip's answer (None: no mapping)."""
    if result.status in (Status.OK, Status.ALL_TRUSTED, Status.DIRECT, Status.NO_HEADER):
        return str(result.ip)
    if result.status in (Status.INVALID_HOP, Status.UNIDENTIFIED_HOP):
        # nginx stops at the element it cannot parse and keeps the last address it had:
        # the nearest trusted hop (or the peer), where srcip names no client.
        return str(result.nearest_trusted)
    return None


def nginx_expected(case: XffCase) -> str:
    """The model's ``$remote_addr`` for ``case``."""
    lines = case.xff_lines() or None
    return nginx_model.realip_remote_addr(case.peer, lines, NETWORKS)


@pytest.mark.parametrize("case", AGREEING, ids=lambda case: case.id)
def test_resolve_agrees_with_nginx_realip(nginx: Nginx, case: XffCase) -> None:
    """On chains both sides read alike, srcip's answer is nginx's $remote_addr."""
    seen = nginx.remote_addr(case)
    assert seen == nginx_expected(case), "nginx_model no longer describes nginx"
    result = srcip_resolution(case)
    assert result.status in SHAPE_STATUSES[case.shape], result
    assert canonical(seen) == nginx_view(result), result


@pytest.mark.parametrize("case", QUIRK_CASES, ids=lambda case: case.id)
def test_documented_difference_from_nginx(nginx: Nginx, case: XffCase) -> None:
    """Where nginx and srcip read a chain differently, each does what QUIRKS documents."""
    seen = nginx.remote_addr(case)
    assert seen == nginx_expected(case), "nginx_model no longer describes nginx"
    result = srcip_resolution(case)
    assert case.quirk is not None
    quirk = QUIRKS[case.quirk]
    assert result.status in QUIRK_STATUSES[case.quirk], (quirk.srcip, result)
    if quirk.values:
        decisive = result.hops[-1]
        assert decisive.raw in quirk.values, result
        assert decisive.verdict in (Verdict.CLIENT, Verdict.INVALID), result
    assert canonical(seen) != nginx_view(result), f"no longer differs: {quirk}"


def test_corpus_covers_every_shape_and_quirk() -> None:
    """The corpus holds a few hundred chains and exercises every shape and every quirk."""
    assert len(AGREEING) >= 300
    assert {case.shape for case in AGREEING} == set(SHAPE_STATUSES)
    assert {case.quirk for case in QUIRK_CASES} == set(QUIRKS) == set(QUIRK_STATUSES)
    assert len({case.id for case in [*AGREEING, *QUIRK_CASES]}) == len(AGREEING) + len(QUIRK_CASES)
