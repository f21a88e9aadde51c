"""The client-IP benchmark: srcip against its peers, same inputs, same run.

Three pairs, each on two chains, all in-process (no network, no server):

* ASGI: ``srcip.clientip.asgi.ClientIPMiddleware`` vs uvicorn's ``ProxyHeadersMiddleware``,
  each wrapping the same trivial app, driven by an awaited loop over a prebuilt scope
  (a fresh shallow copy per request for both: uvicorn rewrites ``scope["client"]`` in
  place, so reusing one dict would turn every request after the first into a direct one);
* WSGI: ``srcip.clientip.wsgi.ClientIPMiddleware`` vs werkzeug's ``ProxyFix``, same app,
  a fresh copy of the same environ per request (both write ``REMOTE_ADDR``);
* the function: ``srcip.clientip.resolve`` vs python-ipware's
  ``IpWare().get_client_ip(meta)``.

Chains (peer 127.0.0.1:51234 in every case; trusted: the peer, and 10.0.0.0/8):

* ``1 hop``: ``X-Forwarded-For: 203.0.113.7``, the peer is the only proxy;
* ``5 hops``: ``X-Forwarded-For: 203.0.113.7, 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4``.

Each peer is configured for the same trust: srcip ``TrustConfig(trusted_proxies=[peer,
10.0.0.0/8])``; uvicorn ``trusted_hosts=[peer, 10.0.0.0/8]``; werkzeug ``x_for`` = the
number of XFF elements to skip from the right plus one (1, then 5; ``x_proto=0``: srcip
reads no scheme either); python-ipware ``precedence=("HTTP_X_FORWARDED_FOR",)`` (srcip
reads one header) with ``proxy_count=0``, then ``proxy_list=["10.0.0.0/8"] * 4``. Before
timing, every implementation must name 203.0.113.7 on both chains.

Per-request cost is the best (lowest) mean over ``--repeats`` runs of ``--n`` requests,
srcip and its peer alternating, with the garbage collector off while timing, the process
pinned to one CPU. Ratios are
srcip ÷ peer (lower is better; the target is ≤ 1.00×). "net" subtracts the bare app's
cost (the same loop without middleware) from both. ``--profile`` prints a cProfile of
each srcip loop. Benchmarks are programs, not timed tests (STYLE §14).

Run: ``.venv/bin/python bench/clientip.py [--n 20000] [--repeats 7] [--quick] [--profile]``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import platform
import pstats
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from python_ipware import IpWare
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from srcip.clientip import TrustConfig, resolve
from srcip.clientip.asgi import ClientIPMiddleware as AsgiClientIP
from srcip.clientip.wsgi import ClientIPMiddleware as WsgiClientIP

PEER_HOST, PEER_PORT = "127.0.0.1", 51234
CLIENT = "203.0.113.7"
HOPS = ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")
TRUSTED = [f"{PEER_HOST}/32", "10.0.0.0/8"]
TARGET = 1.0

#: What each implementation checks beyond picking an element (reference §1a).
VALIDATES = {
    "srcip": "peer gate; every walked element parsed as an IP (ports, brackets, zones, "
    "IPv4-mapped unmapped, junk refused); CIDR trust walk; typed status",
    "uvicorn": "peer gate (trusted_hosts); CIDR trust walk; result not validated as an IP",
    "werkzeug": "no peer gate; picks values[-x_for]; result not validated as an IP",
    "python-ipware": "no peer gate (headers from anyone); result validated as an IP; "
    "proxy_list checks the trailing hops against the networks",
}


@dataclass(frozen=True)
class Chain:
    """One benchmark input, in every shape the implementations take."""

    name: str
    xff: str
    proxies_in_header: int  # trusted proxies listed in XFF, right of the client

    @property
    def asgi_headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"host", b"app.example"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"*/*"),
            (b"accept-encoding", b"gzip, deflate"),
            (b"x-forwarded-for", self.xff.encode("latin-1")),
        ]

    @property
    def text_headers(self) -> list[tuple[str, str]]:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.asgi_headers]

    @property
    def scope(self) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": self.asgi_headers,
            "client": (PEER_HOST, PEER_PORT),
            "server": ("127.0.0.1", 8000),
        }

    @property
    def environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": PEER_HOST,
            "REMOTE_PORT": str(PEER_PORT),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.text_headers:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return environ


CHAINS = (
    Chain("1 hop", CLIENT, 0),
    Chain("5 hops", ", ".join((CLIENT, *HOPS)), len(HOPS)),
)


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    """The trivial app both ASGI middleware wrap."""


async def asgi_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def asgi_send(message: Any) -> None:
    return None


def wsgi_app(environ: Any, start_response: Any) -> Iterable[bytes]:
    """The trivial app both WSGI middleware wrap."""
    return (b"",)


def wsgi_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
    return None


# ------------------------------------------------------------------- the timed loops


async def _asgi_loop(app: Any, scope: dict[str, Any], n: int) -> int:
    receive, send = asgi_receive, asgi_send
    start = time.perf_counter_ns()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return time.perf_counter_ns() - start


def asgi_loop(app: Any, scope: dict[str, Any], n: int) -> int:
    return asyncio.run(_asgi_loop(app, scope, n))


def wsgi_loop(app: Any, environ: dict[str, Any], n: int) -> int:
    start_response = wsgi_start_response
    start = time.perf_counter_ns()
    for _ in range(n):
        app(dict(environ), start_response)
    return time.perf_counter_ns() - start


def resolve_loop(args: tuple[str, list[tuple[str, str]], TrustConfig], n: int) -> int:
    peer, headers, config = args
    start = time.perf_counter_ns()
    for _ in range(n):
        resolve(peer, headers, config)
    return time.perf_counter_ns() - start


def ipware_loop(args: tuple[IpWare, dict[str, Any]], n: int) -> int:
    ipware, meta = args
    get = ipware.get_client_ip
    start = time.perf_counter_ns()
    for _ in range(n):
        get(meta)
    return time.perf_counter_ns() - start


Loop = Callable[[Any, int], int]


@dataclass(frozen=True)
class Contender:
    """One side of a pair: a timed loop and what it runs on."""

    label: str
    loop: Callable[..., int]
    args: tuple[Any, ...]

    def run(self, n: int) -> int:
        return self.loop(*self.args, n)


@dataclass(frozen=True)
class Pair:
    """srcip and one peer on one chain, plus the bare app (None for the function pair)."""

    layer: str
    chain: Chain
    srcip: Contender
    peer: Contender
    peer_name: str
    bare: Contender | None


def build_pairs(chain: Chain) -> list[Pair]:
    """The three pairs for one chain, each side configured for the same trust."""
    config = TrustConfig(trusted_proxies=TRUSTED, source="x-forwarded-for")
    scope, environ = chain.scope, chain.environ
    hops = chain.proxies_in_header
    ipware = IpWare(
        precedence=("HTTP_X_FORWARDED_FOR",),
        **({"proxy_list": ["10.0.0.0/8"] * hops} if hops else {"proxy_count": 0}),
    )
    srcip_asgi = AsgiClientIP(asgi_app, config)
    uvicorn = ProxyHeadersMiddleware(asgi_app, trusted_hosts=TRUSTED)
    srcip_wsgi = WsgiClientIP(wsgi_app, config, warn_underscores=False)
    werkzeug = ProxyFix(wsgi_app, x_for=hops + 1, x_proto=0)
    peer = f"{PEER_HOST}:{PEER_PORT}"
    return [
        Pair(
            "ASGI middleware",
            chain,
            Contender("srcip ClientIPMiddleware", asgi_loop, (srcip_asgi, scope)),
            Contender("uvicorn ProxyHeadersMiddleware", asgi_loop, (uvicorn, scope)),
            "uvicorn",
            Contender("bare app", asgi_loop, (asgi_app, scope)),
        ),
        Pair(
            "WSGI middleware",
            chain,
            Contender("srcip ClientIPMiddleware", wsgi_loop, (srcip_wsgi, environ)),
            Contender("werkzeug ProxyFix", wsgi_loop, (werkzeug, environ)),
            "werkzeug",
            Contender("bare app", wsgi_loop, (wsgi_app, environ)),
        ),
        Pair(
            "function",
            chain,
            Contender("srcip resolve", resolve_loop, ((peer, chain.text_headers, config),)),
            Contender("python-ipware get_client_ip", ipware_loop, ((ipware, environ),)),
            "python-ipware",
            None,
        ),
    ]


# ------------------------------------------------------------------- correctness first


def check_answers(pair: Pair) -> None:
    """Every contender must name the same client before anything is timed."""
    seen: dict[str, str] = {}
    for contender in (pair.srcip, pair.peer):
        seen[contender.label] = _answer(contender)
    wrong = {label: ip for label, ip in seen.items() if ip != CLIENT}
    if wrong:
        sys.exit(f"{pair.layer}, {pair.chain.name}: expected {CLIENT}, got {wrong}")


def _answer(contender: Contender) -> str:
    target, data = contender.args[0], contender.args[1:] and contender.args[1]
    if contender.loop is asgi_loop:
        box: list[Any] = []

        async def capture(scope: Any, receive: Any, send: Any) -> None:
            box.append(scope["client"][0])

        app = target
        inner = app.app
        app.app = capture
        try:
            asyncio.run(app(dict(data), asgi_receive, asgi_send))
        finally:
            app.app = inner
        return str(box[0])
    if contender.loop is wsgi_loop:
        environ = dict(data)
        target(environ, wsgi_start_response)
        return str(environ["REMOTE_ADDR"])
    if contender.loop is resolve_loop:
        peer, headers, config = target
        return str(resolve(peer, headers, config).ip)
    ipware, meta = target
    return str(ipware.get_client_ip(meta)[0])


# ------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Row:
    """Per-request costs for one pair on one chain, in nanoseconds."""

    pair: Pair
    srcip_ns: float
    peer_ns: float
    bare_ns: float | None

    @property
    def ratio(self) -> float:
        return self.srcip_ns / self.peer_ns

    @property
    def net_ratio(self) -> float | None:
        if self.bare_ns is None:
            return None
        peer_net = self.peer_ns - self.bare_ns
        return (self.srcip_ns - self.bare_ns) / peer_net if peer_net > 0 else None


def measure(pair: Pair, n: int, repeats: int) -> Row:
    """Best mean per request over ``repeats`` alternating runs (after one warm-up each)."""
    contenders = [pair.srcip, pair.peer] + ([pair.bare] if pair.bare else [])
    best = [float("inf")] * len(contenders)
    for contender in contenders:
        contender.run(max(n // 10, 100))  # warm-up: caches, first-call paths
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for k, contender in enumerate(contenders):
                best[k] = min(best[k], contender.run(n) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Row(pair, best[0], best[1], best[2] if pair.bare else None)


def profile(pair: Pair, n: int, top: int = 12) -> str:
    """cProfile of the srcip loop, the ``top`` entries by internal time."""
    profiler = cProfile.Profile()
    profiler.enable()
    pair.srcip.run(n)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def render(rows: list[Row], n: int, repeats: int) -> str:
    """The results table and the legend."""
    header = (
        f"{'layer':<16} {'chain':<7} {'srcip ns/req':>12} {'peer':<31} {'peer ns/req':>11} "
        f"{'bare ns':>8} {'srcip÷peer':>10} {'net':>6}  verdict"
    )
    lines = [
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}; n={n:,} requests per run, best of {repeats} runs",
        "",
        header,
        "-" * len(header),
    ]
    for row in rows:
        net = row.net_ratio
        lines.append(
            f"{row.pair.layer:<16} {row.pair.chain.name:<7} {row.srcip_ns:>12,.0f} "
            f"{row.pair.peer.label:<31} {row.peer_ns:>11,.0f} "
            f"{'' if row.bare_ns is None else f'{row.bare_ns:,.0f}':>8} "
            f"{row.ratio:>9.2f}× {'' if net is None else f'{net:.2f}×':>6}  "
            f"{'meets' if row.ratio <= TARGET else 'MISSES'} ≤ {TARGET:.2f}×"
        )
    lines += ["", "What each validates:"]
    lines += [f"  {name:<14} {text}" for name, text in VALIDATES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="requests per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per contender")
    parser.add_argument("--quick", action="store_true", help="n=2,000, 3 repeats")
    parser.add_argument("--profile", action="store_true", help="cProfile each srcip loop")
    args = parser.parse_args(argv)
    n, repeats = (2_000, 3) if args.quick else (args.n, args.repeats)
    if n < 1 or repeats < 1:
        parser.error("--n and --repeats must be positive")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, less jitter
    pairs = [pair for chain in CHAINS for pair in build_pairs(chain)]
    for pair in pairs:
        check_answers(pair)
    rows = [measure(pair, n, repeats) for pair in pairs]
    print(render(rows, n, repeats))
    if args.profile:
        for pair in pairs:
            print(f"\n=== cProfile: {pair.layer}, {pair.srcip.label}, {pair.chain.name} ===")
            print(profile(pair, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
