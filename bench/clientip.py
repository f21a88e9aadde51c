"""The client-IP benchmark: srcip against its peers, same inputs, same run.

Three pairs, each on two chains and in two modes, all in-process (no network, no server):

* ASGI: ``srcip.clientip.asgi.ClientIPMiddleware`` vs uvicorn's ``ProxyHeadersMiddleware``,
  each wrapping the same trivial app, driven by an awaited loop over prebuilt scopes
  (a fresh shallow copy per request for both: uvicorn rewrites ``scope["client"]`` in
  place, so reusing one dict would turn every request after the first into a direct one);
* WSGI: ``srcip.clientip.wsgi.ClientIPMiddleware`` vs werkzeug's ``ProxyFix``, same app,
  a fresh copy of a prebuilt environ per request (both write ``REMOTE_ADDR``);
* the function: ``srcip.clientip.resolve`` vs python-ipware's
  ``IpWare().get_client_ip(meta)``.

Chains (peer 127.0.0.1:51234 in every case; trusted: the peer, and 10.0.0.0/8):

* ``1 hop``: ``X-Forwarded-For: <client>``, the peer is the only proxy;
* ``5 hops``: ``X-Forwarded-For: <client>, 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4``.

Modes (what ``<client>`` is):

* ``warm``: 203.0.113.7 on every request, the same request again and again. srcip memoises
  per ``TrustConfig`` the peer decision, each element and each one-line header walk (and
  uvicorn its trust decisions), so this is their best case: every request is a memo hit.
* ``cold``: a different client on every request. Each (chain, layer) pair gets its own
  block of ``--pool`` (default 20,480) distinct addresses from 198.18.0.0/15 (RFC 2544,
  benchmarking), the six blocks disjoint, and every contender walks the block in order,
  continuing across runs. A value comes back only after ``--pool`` - 1 others, more than
  the 4,096 entries any memo holds (srcip's clear when full; uvicorn's ``lru_cache`` drops
  the oldest), so no client-dependent memo ever hits. The proxies (the peer, the 10.x hops)
  stay the same, as behind a real proxy tier.

In both modes srcip and its peer (and the bare app) get the very same prebuilt request
objects in the same order: the same pool, one cursor each, the same number of requests.

Each peer is configured for the same trust: srcip ``TrustConfig(trusted_proxies=[peer,
10.0.0.0/8])`` (a fresh config and middleware per pair); uvicorn ``trusted_hosts=[peer,
10.0.0.0/8]``; werkzeug ``x_for`` = the number of XFF elements to skip from the right plus
one (1, then 5; ``x_proto=0``: srcip reads no scheme either); python-ipware
``precedence=("HTTP_X_FORWARDED_FOR",)`` (srcip reads one header) with ``proxy_count=0``,
then ``proxy_list=["10.0.0.0/8"] * 4``. Before timing, every implementation must name the
right client: 203.0.113.7 in warm mode, a sample of the block in cold mode (indices from
8,192 on, so the check's own memo entries are long gone when the timed runs reach them).

Per-request cost is the best (lowest) mean over ``--repeats`` runs of ``--n`` requests,
srcip and its peer alternating, with the garbage collector off while timing, the process
pinned to one CPU. Ratios are srcip ÷ peer (lower is better; the target is ≤ 1.00×).
"net" subtracts the bare app's cost (the same loop without middleware) from both.
``--profile`` prints a cProfile of each srcip loop. Benchmarks are programs, not timed
tests (STYLE §14).

Run: ``.venv/bin/python bench/clientip.py [--n 20000] [--repeats 7] [--mode both|warm|cold]
[--pool 20480] [--quick] [--profile]``.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
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

#: The cold clients' range: RFC 2544's benchmarking block, 131,072 addresses.
COLD_RANGE = IPv4Network("198.18.0.0/15")
#: The largest memo in play (srcip's per-config memos, uvicorn's ``lru_cache``).
MEMO_SIZE = 4096
#: Distinct clients per (chain, layer) block in cold mode, by default.
COLD_POOL = 20_480
#: Cold-mode answers are checked from this index on: the timed runs reach index ``i`` only
#: after ``i`` other distinct clients, so a check's memo entries are evicted by then.
CHECK_FROM = 2 * MEMO_SIZE
CHECK_SAMPLES = 32

MODES = {
    "warm": "the same request every time (one client, 203.0.113.7): every srcip memo hits, "
    "its best case",
    "cold": "a new client on every request, cycling {pool:,} distinct addresses from "
    "198.18.0.0/15 per pair (> the 4,096 a memo holds): no client memo ever hits",
}

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
    """One benchmark chain; builds a request, in every shape, for a given client."""

    name: str
    hops: tuple[str, ...]  # trusted proxies listed in XFF, right of the client

    @property
    def proxies_in_header(self) -> int:
        return len(self.hops)

    def xff(self, client: str) -> str:
        return ", ".join((client, *self.hops))

    def asgi_headers(self, client: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"host", b"app.example"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"*/*"),
            (b"accept-encoding", b"gzip, deflate"),
            (b"x-forwarded-for", self.xff(client).encode("latin-1")),
        ]

    def text_headers(self, client: str) -> list[tuple[str, str]]:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.asgi_headers(client)]

    def scope(self, client: str) -> dict[str, Any]:
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
            "headers": self.asgi_headers(client),
            "client": (PEER_HOST, PEER_PORT),
            "server": ("127.0.0.1", 8000),
        }

    def environ(self, client: str) -> dict[str, Any]:
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
        for name, value in self.text_headers(client):
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        return environ


CHAINS = (
    Chain("1 hop", ()),
    Chain("5 hops", HOPS),
)
LAYERS = ("ASGI middleware", "WSGI middleware", "function")


def cold_clients(block: int, size: int) -> list[str]:
    """Block ``block`` of ``size`` distinct addresses from :data:`COLD_RANGE` (disjoint blocks)."""
    first = int(COLD_RANGE.network_address) + 1 + block * size
    if size <= MEMO_SIZE or first + size > int(COLD_RANGE.broadcast_address):
        raise ValueError(f"a cold block of {size:,} must exceed {MEMO_SIZE:,} and fit the range")
    return [str(IPv4Address(first + i)) for i in range(size)]


def clients_for(mode: str, block: int, pool: int) -> list[str]:
    """The clients one pair's requests carry, in order: one in warm mode, a block in cold."""
    return [CLIENT] if mode == "warm" else cold_clients(block, pool)


class Feed:
    """An endless walk over a prebuilt pool; each :meth:`take` continues where the last ended."""

    def __init__(self, pool: Sequence[Any]) -> None:
        self.pool = pool
        self.cursor = 0

    def take(self, n: int) -> list[Any]:
        """The next ``n`` items (references into the pool), wrapping around at its end."""
        pool, size, start = self.pool, len(self.pool), self.cursor
        self.cursor = (start + n) % size
        if size == 1:
            return [pool[0]] * n
        return [pool[(start + i) % size] for i in range(n)]


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
# Each loop gets the run's requests as a prebuilt list (built before the clock starts).


async def _asgi_loop(app: Any, scopes: list[dict[str, Any]]) -> int:
    receive, send = asgi_receive, asgi_send
    start = time.perf_counter_ns()
    for scope in scopes:
        await app(dict(scope), receive, send)
    return time.perf_counter_ns() - start


def asgi_loop(app: Any, scopes: list[dict[str, Any]]) -> int:
    return asyncio.run(_asgi_loop(app, scopes))


def wsgi_loop(app: Any, environs: list[dict[str, Any]]) -> int:
    start_response = wsgi_start_response
    start = time.perf_counter_ns()
    for environ in environs:
        app(dict(environ), start_response)
    return time.perf_counter_ns() - start


def resolve_loop(target: tuple[str, TrustConfig], header_lists: list[Any]) -> int:
    peer, config = target
    start = time.perf_counter_ns()
    for headers in header_lists:
        resolve(peer, headers, config)
    return time.perf_counter_ns() - start


def ipware_loop(ipware: IpWare, metas: list[dict[str, Any]]) -> int:
    get = ipware.get_client_ip
    start = time.perf_counter_ns()
    for meta in metas:
        get(meta)
    return time.perf_counter_ns() - start


@dataclass
class Contender:
    """One side of a pair: a timed loop, what it runs, and its own cursor over the pool."""

    label: str
    loop: Callable[[Any, list[Any]], int]
    target: Any
    pool: Sequence[Any]
    feed: Feed = field(init=False)

    def __post_init__(self) -> None:
        self.feed = Feed(self.pool)

    def run(self, n: int) -> int:
        """Time the next ``n`` requests from the pool; nanoseconds."""
        return self.loop(self.target, self.feed.take(n))


@dataclass(frozen=True)
class Pair:
    """srcip and one peer on one chain in one mode, plus the bare app (None for functions)."""

    layer: str
    chain: Chain
    mode: str
    clients: list[str]  # the client each pool index must resolve to
    srcip: Contender
    peer: Contender
    peer_name: str
    bare: Contender | None


def build_pairs(chain: Chain, mode: str, pool: int = COLD_POOL) -> list[Pair]:
    """The three pairs for one chain and mode, each side configured for the same trust.

    In cold mode each pair draws its clients from its own block of the range, so one pair's
    runs leave nothing in the module-level caches that another pair could hit.
    """
    hops = chain.proxies_in_header
    first_block = CHAINS.index(chain) * len(LAYERS)
    clients = {layer: clients_for(mode, first_block + k, pool) for k, layer in enumerate(LAYERS)}
    scopes = [chain.scope(c) for c in clients["ASGI middleware"]]
    environs = [chain.environ(c) for c in clients["WSGI middleware"]]
    text_headers = [chain.text_headers(c) for c in clients["function"]]
    metas = [chain.environ(c) for c in clients["function"]]

    def config() -> TrustConfig:
        return TrustConfig(trusted_proxies=TRUSTED, source="x-forwarded-for")

    ipware = IpWare(
        precedence=("HTTP_X_FORWARDED_FOR",),
        **({"proxy_list": ["10.0.0.0/8"] * hops} if hops else {"proxy_count": 0}),
    )
    srcip_asgi = AsgiClientIP(asgi_app, config())
    uvicorn = ProxyHeadersMiddleware(asgi_app, trusted_hosts=TRUSTED)
    srcip_wsgi = WsgiClientIP(wsgi_app, config(), warn_underscores=False)
    werkzeug = ProxyFix(wsgi_app, x_for=hops + 1, x_proto=0)
    peer = f"{PEER_HOST}:{PEER_PORT}"
    return [
        Pair(
            "ASGI middleware",
            chain,
            mode,
            clients["ASGI middleware"],
            Contender("srcip ClientIPMiddleware", asgi_loop, srcip_asgi, scopes),
            Contender("uvicorn ProxyHeadersMiddleware", asgi_loop, uvicorn, scopes),
            "uvicorn",
            Contender("bare app", asgi_loop, asgi_app, scopes),
        ),
        Pair(
            "WSGI middleware",
            chain,
            mode,
            clients["WSGI middleware"],
            Contender("srcip ClientIPMiddleware", wsgi_loop, srcip_wsgi, environs),
            Contender("werkzeug ProxyFix", wsgi_loop, werkzeug, environs),
            "werkzeug",
            Contender("bare app", wsgi_loop, wsgi_app, environs),
        ),
        Pair(
            "function",
            chain,
            mode,
            clients["function"],
            Contender("srcip resolve", resolve_loop, (peer, config()), text_headers),
            Contender("python-ipware get_client_ip", ipware_loop, ipware, metas),
            "python-ipware",
            None,
        ),
    ]


# ------------------------------------------------------------------- correctness first


def check_indices(pair: Pair) -> list[int]:
    """Which pool indices to check: the one in warm mode, a spread from CHECK_FROM in cold."""
    size = len(pair.clients)
    if size == 1:
        return [0]
    step = max((size - CHECK_FROM) // CHECK_SAMPLES, 1)
    return list(range(CHECK_FROM, size, step))


def check_answers(pair: Pair) -> None:
    """Every contender must name the right client before anything is timed."""
    for index in check_indices(pair):
        expected = pair.clients[index]
        seen = {c.label: _answer(c, index) for c in (pair.srcip, pair.peer)}
        wrong = {label: ip for label, ip in seen.items() if ip != expected}
        if wrong:
            sys.exit(
                f"{pair.layer}, {pair.chain.name}, {pair.mode}: expected {expected}, got {wrong}"
            )


def _answer(contender: Contender, index: int) -> str:
    target, request = contender.target, contender.pool[index]
    if contender.loop is asgi_loop:
        box: list[Any] = []

        async def capture(scope: Any, receive: Any, send: Any) -> None:
            box.append(scope["client"][0])

        inner = target.app
        target.app = capture
        try:
            asyncio.run(target(dict(request), asgi_receive, asgi_send))
        finally:
            target.app = inner
        return str(box[0])
    if contender.loop is wsgi_loop:
        environ = dict(request)
        target(environ, wsgi_start_response)
        return str(environ["REMOTE_ADDR"])
    if contender.loop is resolve_loop:
        peer, config = target
        return str(resolve(peer, request, config).ip)
    return str(target.get_client_ip(request)[0])


# ------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Row:
    """Per-request costs for one pair on one chain in one mode, in nanoseconds."""

    pair: Pair
    srcip_ns: float
    peer_ns: float
    bare_ns: float | None

    @property
    def ratio(self) -> float:
        return self.srcip_ns / self.peer_ns

    @property
    def meets(self) -> bool:
        return self.ratio <= TARGET

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
        contender.run(max(n // 10, 100))  # warm-up: first-call paths (and, warm, the memos)
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


def _ratios(rows: list[Row]) -> str:
    return " / ".join(f"{row.ratio:.2f}× ({row.pair.chain.name})" for row in rows)


def verdicts(rows: list[Row]) -> list[str]:
    """One line per layer: which modes meet the target, with the ratios."""
    lines = []
    for layer in LAYERS:
        mine = [row for row in rows if row.pair.layer == layer]
        if not mine:
            continue
        parts = []
        for mode in MODES:
            in_mode = [row for row in mine if row.pair.mode == mode]
            if in_mode:
                ok = all(row.meets for row in in_mode)
                parts.append(f"{mode} {'meets' if ok else 'MISSES'} {_ratios(in_mode)}")
        lines.append(f"  {layer} vs {mine[0].pair.peer_name}: " + "; ".join(parts))
    return lines


def render(rows: list[Row], n: int, repeats: int, pool: int) -> str:
    """The results table, the verdicts and the legend."""
    header = (
        f"{'layer':<16} {'chain':<7} {'mode':<5} {'srcip ns/req':>12} {'peer':<31} "
        f"{'peer ns/req':>11} {'bare ns':>8} {'srcip÷peer':>10} {'net':>6}  verdict"
    )
    modes = sorted({row.pair.mode for row in rows}, key=list(MODES).index)
    lines = [
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.machine()}; n={n:,} requests per run, best of {repeats} runs",
        *(f"{mode}: {MODES[mode].format(pool=pool)}" for mode in modes),
        "",
        header,
        "-" * len(header),
    ]
    for row in rows:
        net = row.net_ratio
        lines.append(
            f"{row.pair.layer:<16} {row.pair.chain.name:<7} {row.pair.mode:<5} "
            f"{row.srcip_ns:>12,.0f} {row.pair.peer.label:<31} {row.peer_ns:>11,.0f} "
            f"{'' if row.bare_ns is None else f'{row.bare_ns:,.0f}':>8} "
            f"{row.ratio:>9.2f}× {'' if net is None else f'{net:.2f}×':>6}  "
            f"{'meets' if row.meets else 'MISSES'} ≤ {TARGET:.2f}×"
        )
    lines += ["", f"Verdict (srcip ÷ peer, target ≤ {TARGET:.2f}×):", *verdicts(rows)]
    lines += ["", "What each validates:"]
    lines += [f"  {name:<14} {text}" for name, text in VALIDATES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="requests per timed run")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per contender")
    parser.add_argument("--mode", choices=("both", *MODES), default="both", help="warm, cold")
    parser.add_argument(
        "--pool", type=int, default=COLD_POOL, help="distinct clients per pair in cold mode"
    )
    parser.add_argument("--quick", action="store_true", help="n=2,000, 3 repeats")
    parser.add_argument("--profile", action="store_true", help="cProfile each srcip loop")
    args = parser.parse_args(argv)
    n, repeats = (2_000, 3) if args.quick else (args.n, args.repeats)
    if n < 1 or repeats < 1:
        parser.error("--n and --repeats must be positive")
    most = (COLD_RANGE.num_addresses - 2) // (len(CHAINS) * len(LAYERS))
    if not CHECK_FROM < args.pool <= most:  # CHECK_FROM > MEMO_SIZE: beyond any memo
        parser.error(f"--pool must be in ({CHECK_FROM:,}, {most:,}]")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, less jitter
    modes = list(MODES) if args.mode == "both" else [args.mode]
    pairs = [
        pair for mode in modes for chain in CHAINS for pair in build_pairs(chain, mode, args.pool)
    ]
    for pair in pairs:
        check_answers(pair)
    rows = [measure(pair, n, repeats) for pair in pairs]
    print(render(rows, n, repeats, args.pool))
    if args.profile:
        for pair in pairs:
            print(
                f"\n=== cProfile: {pair.layer}, {pair.srcip.label}, {pair.chain.name}, "
                f"{pair.mode} ==="
            )
            print(profile(pair, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
