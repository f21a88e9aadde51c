"""resolve(): reference §10 "Pipeline per request", every status, adversarial inputs.

Tables first (one row per behaviour, ids naming it), then PROXY protocol handling, hops and
indices, then Hypothesis properties: a naive left-to-right model of the XFF walk as an
oracle, junk on the left that never changes the answer, and fuzzing where only statuses
may come back.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.clientip.addresses import NodeKind, parse_node
from srcip.clientip.resolve import PEER, PROXY_PROTOCOL, Hop, Resolution, Status, Verdict, resolve
from srcip.clientip.trust import TrustConfig
from srcip.proxyproto.header import Command, Family, ProxyHeader, Transport

XFF = "x-forwarded-for"
PROXY = "10.0.0.5:43210"  # a trusted ingress pod
CLIENT = "203.0.113.7"

# The package exports the function under the module's name; fetch the module itself.
resolve_module = importlib.import_module("srcip.clientip.resolve")

Headers = Sequence[tuple[str | bytes, str | bytes]]


def cfg(**kwargs: object) -> TrustConfig:
    """A config trusting 10.0.0.0/8 unless told otherwise."""
    kwargs.setdefault("trusted_proxies", ["10.0.0.0/8"])
    return TrustConfig(**kwargs)  # type: ignore[arg-type]


def xff(*values: str) -> list[tuple[str | bytes, str | bytes]]:
    """One X-Forwarded-For field line per value."""
    return [(XFF, v) for v in values]


def fwd(*values: str) -> list[tuple[str | bytes, str | bytes]]:
    """One Forwarded field line per value."""
    return [("forwarded", v) for v in values]


FWD = {"source": "forwarded"}
REAL_IP = {"source": "x-real-ip"}

# id, config kwargs, peer, headers, status, ip, source, index
CASES = [
    # §10.3 peer gate
    ("direct", {}, "198.51.100.9:1", xff("1.2.3.4"), Status.DIRECT, "198.51.100.9", PEER, None),
    ("direct-v6", {}, "[2001:db8::9]:1", xff("1.2.3.4"), Status.DIRECT, "2001:db8::9", PEER, None),
    ("direct-bare", {}, "198.51.100.9", [], Status.DIRECT, "198.51.100.9", PEER, None),
    (
        "default-config-direct",
        {"trusted_proxies": []},
        PROXY,
        xff("1.2.3.4"),
        Status.DIRECT,
        "10.0.0.5",
        PEER,
        None,
    ),
    # §10.6–8 walk
    ("ok", {}, PROXY, xff(CLIENT), Status.OK, CLIENT, XFF, 0),
    ("ok-chain", {}, PROXY, xff(f"198.51.100.1, {CLIENT}, 10.0.0.9"), Status.OK, CLIENT, XFF, 1),
    ("ok-port", {}, PROXY, xff(f"{CLIENT}:51234"), Status.OK, CLIENT, XFF, 0),
    ("ok-v6-brackets", {}, PROXY, xff("[2001:db8::7]:443"), Status.OK, "2001:db8::7", XFF, 0),
    (
        "ok-v6-bare-with-colons",
        {},
        PROXY,
        xff("2001:db8::7:443"),
        Status.OK,
        "2001:db8::7:443",
        XFF,
        0,
    ),
    ("ok-mapped-client", {}, PROXY, xff("::ffff:203.0.113.7"), Status.OK, CLIENT, XFF, 0),
    (
        "mapped-proxy-is-trusted",
        {},
        PROXY,
        xff(f"{CLIENT}, ::ffff:10.9.9.9"),
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    ("all-trusted", {}, PROXY, xff("10.1.1.1, 10.2.2.2"), Status.ALL_TRUSTED, "10.1.1.1", XFF, 0),
    ("no-header", {}, PROXY, [("host", "x")], Status.NO_HEADER, "10.0.0.5", PEER, None),
    ("only-empty-elements", {}, PROXY, xff(" , ,", ""), Status.NO_HEADER, "10.0.0.5", PEER, None),
    ("invalid-hop", {}, PROXY, xff(f"{CLIENT}, <script>"), Status.INVALID_HOP, None, XFF, None),
    ("invalid-hop-leading-zero", {}, PROXY, xff("010.0.0.1"), Status.INVALID_HOP, None, XFF, None),
    ("invalid-hop-quoted", {}, PROXY, xff('"1.2.3.4"'), Status.INVALID_HOP, None, XFF, None),
    ("invalid-hop-unspecified", {}, PROXY, xff("0.0.0.0"), Status.INVALID_HOP, None, XFF, None),
    ("unknown", {}, PROXY, xff(f"{CLIENT}, unknown"), Status.UNIDENTIFIED_HOP, None, XFF, None),
    ("obfuscated", {}, PROXY, xff("_hidden"), Status.UNIDENTIFIED_HOP, None, XFF, None),
    (
        "unix-untrusted",
        {},
        PROXY,
        xff(f"{CLIENT}, unix:"),
        Status.UNIDENTIFIED_HOP,
        None,
        XFF,
        None,
    ),
    (
        "unix-trusted",
        {"trusted_proxies": ["10.0.0.0/8", "unix:"]},
        PROXY,
        xff(f"{CLIENT}, unix:"),
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    (
        "unix-trusted-leftmost",
        {"trusted_proxies": ["10.0.0.0/8", "unix:"]},
        PROXY,
        xff("unix:, 10.1.1.1"),
        Status.UNIDENTIFIED_HOP,
        None,
        XFF,
        None,
    ),
    (
        "hop-limit",
        {"max_hops": 2},
        PROXY,
        xff("1.2.3.4, 10.0.0.3, 10.0.0.1, 10.0.0.2"),
        Status.HOP_LIMIT,
        None,
        XFF,
        None,
    ),
    (
        "max-hops-trusted-then-client",
        {"max_hops": 2},
        PROXY,
        xff("1.2.3.4, 10.0.0.1, 10.0.0.2"),
        Status.OK,
        "1.2.3.4",
        XFF,
        0,
    ),
    (
        "exactly-max-hops-trusted",
        {"max_hops": 2},
        PROXY,
        xff("10.0.0.1, 10.0.0.2"),
        Status.ALL_TRUSTED,
        "10.0.0.1",
        XFF,
        0,
    ),
    (
        "max-hops-then-client",
        {"max_hops": 2},
        PROXY,
        xff("1.2.3.4, 10.0.0.2"),
        Status.OK,
        "1.2.3.4",
        XFF,
        0,
    ),
    # count mode (reference §2): N proxies → element N from the right
    ("count-1", {"trusted_hops": 1}, PROXY, xff(f"1.1.1.1, {CLIENT}"), Status.OK, CLIENT, XFF, 1),
    (
        "count-2",
        {"trusted_hops": 2},
        PROXY,
        xff(f"1.1.1.1, {CLIENT}, 198.51.100.2"),
        Status.OK,
        CLIENT,
        XFF,
        1,
    ),
    (
        "count-ignores-trust",
        {"trusted_hops": 1},
        PROXY,
        xff("10.1.1.1"),
        Status.OK,
        "10.1.1.1",
        XFF,
        0,
    ),
    (
        "count-too-few",
        {"trusted_hops": 3},
        PROXY,
        xff(f"{CLIENT}, 198.51.100.2"),
        Status.TOO_FEW_HOPS,
        None,
        XFF,
        None,
    ),
    (
        "count-invalid",
        {"trusted_hops": 2},
        PROXY,
        xff("x, 198.51.100.2"),
        Status.INVALID_HOP,
        None,
        XFF,
        None,
    ),
    (
        "count-unidentified",
        {"trusted_hops": 1},
        PROXY,
        xff("unknown"),
        Status.UNIDENTIFIED_HOP,
        None,
        XFF,
        None,
    ),
    ("count-no-header", {"trusted_hops": 1}, PROXY, [], Status.NO_HEADER, "10.0.0.5", PEER, None),
    (
        "count-no-gate",
        {"trusted_hops": 1, "peer_check": False, "trusted_proxies": []},
        "198.51.100.9:1",
        xff(CLIENT),
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    (
        "no-gate-walks",
        {"peer_check": False},
        "198.51.100.9:1",
        xff(f"{CLIENT}, 10.0.0.3"),
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    (
        "no-gate-no-header",
        {"peer_check": False},
        "198.51.100.9:1",
        [],
        Status.NO_HEADER,
        "198.51.100.9",
        PEER,
        None,
    ),
    # §10.5 single-IP headers
    ("single-ok", REAL_IP, PROXY, [("X-Real-IP", CLIENT)], Status.OK, CLIENT, "x-real-ip", 0),
    (
        "single-ows",
        REAL_IP,
        PROXY,
        [("x-real-ip", f" {CLIENT}\t")],
        Status.OK,
        CLIENT,
        "x-real-ip",
        0,
    ),
    (
        "single-ambiguous",
        REAL_IP,
        PROXY,
        [("x-real-ip", CLIENT), ("x-real-ip", CLIENT)],
        Status.AMBIGUOUS_HEADER,
        None,
        "x-real-ip",
        None,
    ),
    (
        "single-list",
        REAL_IP,
        PROXY,
        [("x-real-ip", f"{CLIENT}, 10.0.0.1")],
        Status.INVALID_VALUE,
        None,
        "x-real-ip",
        None,
    ),
    (
        "single-unknown",
        REAL_IP,
        PROXY,
        [("x-real-ip", "unknown")],
        Status.INVALID_VALUE,
        None,
        "x-real-ip",
        None,
    ),
    (
        "single-empty",
        REAL_IP,
        PROXY,
        [("x-real-ip", "")],
        Status.INVALID_VALUE,
        None,
        "x-real-ip",
        None,
    ),
    ("single-absent", REAL_IP, PROXY, xff(CLIENT), Status.NO_HEADER, "10.0.0.5", PEER, None),
    (
        "single-untrusted-peer",
        REAL_IP,
        "198.51.100.9:1",
        [("x-real-ip", CLIENT)],
        Status.DIRECT,
        "198.51.100.9",
        PEER,
        None,
    ),
    # §10.2 peers without an address
    ("unix-peer", {}, "unix:/run/app.sock", xff(CLIENT), Status.NO_PEER_IP, None, PEER, None),
    ("no-peer", {}, None, xff(CLIENT), Status.NO_PEER_IP, None, PEER, None),
    ("garbage-peer", {}, "localhost:80", xff(CLIENT), Status.NO_PEER_IP, None, PEER, None),
    ("unknown-peer", {}, "unknown", xff(CLIENT), Status.NO_PEER_IP, None, PEER, None),
    (
        "unix-peer-trusted",
        {"trusted_proxies": ["unix:"]},
        "unix:/run/app.sock",
        xff(CLIENT),
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    (
        "unix-peer-trusted-no-header",
        {"trusted_proxies": ["unix:"]},
        "unix:",
        [],
        Status.NO_PEER_IP,
        None,
        PEER,
        None,
    ),
    (
        "unix-peer-no-gate",
        {"trusted_hops": 1, "peer_check": False, "trusted_proxies": []},
        "unix:/run/gunicorn.sock",
        xff(CLIENT),
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    (
        "unix-peer-no-gate-no-header",
        {"peer_check": False},
        "unix:",
        [],
        Status.NO_PEER_IP,
        None,
        PEER,
        None,
    ),
    # Forwarded (RFC 7239)
    ("fwd-ok", FWD, PROXY, fwd(f"for={CLIENT}"), Status.OK, CLIENT, "forwarded", 0),
    (
        "fwd-v6-port",
        FWD,
        PROXY,
        fwd('for="[2001:db8:cafe::17]:4711"'),
        Status.OK,
        "2001:db8:cafe::17",
        "forwarded",
        0,
    ),
    (
        "fwd-params",
        FWD,
        PROXY,
        fwd(f"for={CLIENT};proto=https;by=10.0.0.5"),
        Status.OK,
        CLIENT,
        "forwarded",
        0,
    ),
    ("fwd-case", FWD, PROXY, fwd(f"For={CLIENT}"), Status.OK, CLIENT, "forwarded", 0),
    (
        "fwd-chain",
        FWD,
        PROXY,
        fwd(f'for=1.1.1.1, for={CLIENT}, for="10.0.0.9"'),
        Status.OK,
        CLIENT,
        "forwarded",
        1,
    ),
    # a malformed left part is never parsed; an unterminated string counts as one element
    (
        "fwd-junk-left",
        FWD,
        PROXY,
        fwd(f'for="x, y\\"=, for={CLIENT}, for=10.0.0.9'),
        Status.OK,
        CLIENT,
        "forwarded",
        1,
    ),
    (
        "fwd-quoted-comma-left",
        FWD,
        PROXY,
        fwd(f'for="_a,b";host="x,y", for={CLIENT}'),
        Status.OK,
        CLIENT,
        "forwarded",
        1,
    ),
    (
        "fwd-unknown",
        FWD,
        PROXY,
        fwd("for=unknown"),
        Status.UNIDENTIFIED_HOP,
        None,
        "forwarded",
        None,
    ),
    (
        "fwd-obfuscated",
        FWD,
        PROXY,
        fwd('for="_gazonk"'),
        Status.UNIDENTIFIED_HOP,
        None,
        "forwarded",
        None,
    ),
    (
        "fwd-missing-for",
        FWD,
        PROXY,
        fwd("proto=https;by=10.0.0.5"),
        Status.UNIDENTIFIED_HOP,
        None,
        "forwarded",
        None,
    ),
    (
        "fwd-duplicate-for",
        FWD,
        PROXY,
        fwd(f"for={CLIENT};for=10.0.0.1"),
        Status.INVALID_HOP,
        None,
        "forwarded",
        None,
    ),
    (
        "fwd-broken-quote",
        FWD,
        PROXY,
        fwd('for="1.2.3.4'),
        Status.INVALID_HOP,
        None,
        "forwarded",
        None,
    ),
    (
        "fwd-all-trusted",
        FWD,
        PROXY,
        fwd("for=10.1.1.1, for=10.2.2.2"),
        Status.ALL_TRUSTED,
        "10.1.1.1",
        "forwarded",
        0,
    ),
    (
        "fwd-count",
        {**FWD, "trusted_hops": 2},
        PROXY,
        fwd(f"for={CLIENT}, for=198.51.100.3"),
        Status.OK,
        CLIENT,
        "forwarded",
        0,
    ),
    ("fwd-ignores-xff", FWD, PROXY, xff(CLIENT), Status.NO_HEADER, "10.0.0.5", PEER, None),
    # §10.4 header collection
    ("name-case", {}, PROXY, [("X-Forwarded-For", CLIENT)], Status.OK, CLIENT, XFF, 0),
    (
        "name-bytes-case",
        {},
        PROXY,
        [(b"X-FORWARDED-FOR", CLIENT.encode())],
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    (
        "underscore-is-another-field",
        {},
        PROXY,
        [("x_forwarded_for", CLIENT)],
        Status.NO_HEADER,
        "10.0.0.5",
        PEER,
        None,
    ),
    (
        "underscore-bytes",
        {},
        PROXY,
        [(b"x_forwarded_for", CLIENT.encode())],
        Status.NO_HEADER,
        "10.0.0.5",
        PEER,
        None,
    ),
    (
        "kelvin-sign-is-not-k",
        {"source": "x-k"},
        PROXY,
        [("x-\u212a", CLIENT)],
        Status.NO_HEADER,
        "10.0.0.5",
        PEER,
        None,
    ),
    (
        "lines-joined-in-order",
        {},
        PROXY,
        xff("1.1.1.1", f"{CLIENT}, 10.0.0.2"),
        Status.OK,
        CLIENT,
        XFF,
        1,
    ),
    (
        "walk-crosses-lines",
        {},
        PROXY,
        xff(CLIENT, "10.0.0.1", "10.0.0.2"),
        Status.OK,
        CLIENT,
        XFF,
        0,
    ),
    (
        "non-ascii-bytes",
        {},
        PROXY,
        [(b"x-forwarded-for", b"1.2.3.4\xe9")],
        Status.INVALID_HOP,
        None,
        XFF,
        None,
    ),
    ("nul-byte", {}, PROXY, xff("1.2.3.4\x00"), Status.INVALID_HOP, None, XFF, None),
    ("zone", {}, PROXY, xff("fe80::1%eth0"), Status.OK, "fe80::1", XFF, 0),
]


@pytest.mark.parametrize(
    ("kwargs", "peer", "headers", "status", "ip", "source", "index"),
    [pytest.param(*row[1:], id=row[0]) for row in CASES],
)
def test_resolve_table(
    kwargs: dict[str, object],
    peer: str | None,
    headers: Headers,
    status: Status,
    ip: str | None,
    source: str,
    index: int | None,
) -> None:
    """Each row: config, peer, field lines → status, address, source and index (§10)."""
    result = resolve(peer, headers, cfg(**kwargs))
    assert result.status is status
    assert (None if result.ip is None else str(result.ip)) == ip
    assert result.source == source
    assert result.index == index


def test_every_status_is_covered_by_the_table() -> None:
    """The table above exercises every status except the PROXY one, tested below."""
    seen = {row[4] for row in CASES}
    assert set(Status) - seen == {Status.PROXY_PROTOCOL_FORBIDDEN}


def test_zone_is_split_off() -> None:
    """A zone is reported apart from the address (§7.10)."""
    result = resolve(PROXY, xff("fe80::1%eth0"), cfg())
    assert result.ip == IPv6Address("fe80::1")
    assert result.zone == "eth0"


def test_asgi_pair_peer_is_the_same_as_text() -> None:
    """An ASGI ``(host, port)`` client gives the answer its ``host:port`` text gives."""
    config = cfg()
    for pair, text in (
        (("10.0.0.5", 43210), PROXY),
        (("2001:db8::9", 8), "[2001:db8::9]:8"),
        (("198.51.100.9", 1), "198.51.100.9:1"),
    ):
        by_pair, by_text = resolve(pair, xff(CLIENT), config), resolve(text, xff(CLIENT), config)
        assert by_pair[:6] == by_text[:6]
        assert by_pair.hops == by_text.hops
    odd = resolve((None, 0), xff(CLIENT), config)  # type: ignore[arg-type]
    assert odd.status is Status.NO_PEER_IP
    assert odd.hops[0].raw == "None:0"


@pytest.mark.parametrize(
    ("peer", "status", "raw"),
    [
        pytest.param(["10.0.0.5", 43210], Status.OK, PROXY, id="list-pair"),
        pytest.param(("10.0.0.5", None), Status.OK, "10.0.0.5", id="no-port"),
        pytest.param(("10.0.0.5", True), Status.NO_PEER_IP, "10.0.0.5:True", id="bool-port"),
        pytest.param(("10.0.0.5", 70000), Status.NO_PEER_IP, "10.0.0.5:70000", id="big-port"),
        pytest.param(("10.0.0.5",), Status.NO_PEER_IP, "('10.0.0.5',)", id="one-tuple"),
        pytest.param(("10.0.0.5", 1, 2), Status.NO_PEER_IP, "('10.0.0.5', 1, 2)", id="triple"),
    ],
)
def test_odd_peer_pairs_read_as_their_text(peer: object, status: Status, raw: str) -> None:
    """Pairs are read as the ``host:port`` text scope_peer() gives; other shapes are refused.

    An exact ``(str, int)`` pair already memoised never stands in for an equal pair of
    other types (``True == 1``): those are parsed from their own text.
    """
    config = cfg()
    assert resolve(("10.0.0.5", 1), xff(CLIENT), config).status is Status.OK  # memoised
    result = resolve(peer, xff(CLIENT), config)  # type: ignore[arg-type]
    assert result.status is status
    assert result.hops[0].raw == raw
    assert resolve(peer, xff(CLIENT), config) == result  # type: ignore[arg-type]


def test_hops_of_a_chain() -> None:
    """Hops list the peer, then the walked elements right to left, with verdicts."""
    result = resolve(PROXY, xff(f"198.51.100.1, {CLIENT}, 10.0.0.9"), cfg())
    assert result.hops == (
        Hop(PEER, None, PROXY, IPv4Address("10.0.0.5"), None, Verdict.TRUSTED),
        Hop(XFF, 2, "10.0.0.9", IPv4Address("10.0.0.9"), None, Verdict.TRUSTED),
        Hop(XFF, 1, CLIENT, IPv4Address(CLIENT), None, Verdict.CLIENT),
    )
    assert result.nearest_trusted == IPv4Address("10.0.0.9")


NEAREST = [
    pytest.param({}, PROXY, xff(CLIENT), "10.0.0.5", id="ok-peer-handed-it"),
    pytest.param({}, PROXY, xff("10.1.1.1, 10.2.2.2"), "10.2.2.2", id="all-trusted"),
    pytest.param({}, PROXY, xff("10.1.1.1"), "10.0.0.5", id="all-trusted-one"),
    pytest.param({}, PROXY, xff("x, 10.2.2.2"), "10.2.2.2", id="invalid"),
    pytest.param(
        {"max_hops": 1}, PROXY, xff("1.1.1.1, 10.1.1.1, 10.2.2.2"), "10.2.2.2", id="hop-limit"
    ),
    pytest.param({"trusted_hops": 2}, PROXY, xff("1.1.1.1, 8.8.8.8"), "8.8.8.8", id="counted"),
    pytest.param(
        {"trusted_proxies": ["10.0.0.0/8", "unix:"]},
        PROXY,
        xff("1.1.1.1, unix:"),
        "10.0.0.5",
        id="unix-hop-has-no-address",
    ),
    pytest.param({}, "198.51.100.9:1", [], None, id="direct"),
    pytest.param({}, PROXY, [], "10.0.0.5", id="no-header"),
]


@pytest.mark.parametrize(("kwargs", "peer", "headers", "nearest"), NEAREST)
def test_nearest_trusted(
    kwargs: dict[str, object], peer: str, headers: Headers, nearest: str | None
) -> None:
    """``nearest_trusted`` is the trusted hop that handed over the answer (for logging)."""
    got = resolve(peer, headers, cfg(**kwargs)).nearest_trusted
    assert (None if got is None else str(got)) == nearest


VERDICTS = [
    pytest.param({}, xff("x, 10.2.2.2"), ["trusted", "trusted", "invalid"], id="invalid"),
    pytest.param({}, xff("unknown"), ["trusted", "unidentified"], id="unidentified"),
    pytest.param(
        {"max_hops": 1}, xff("1.1.1.1, 10.1.1.1, 10.2.2.2"), ["trusted", "trusted"], id="limit"
    ),
    pytest.param({"trusted_hops": 2}, xff("1.1.1.1"), ["trusted", "counted"], id="too-few"),
    pytest.param(
        {"trusted_hops": 2}, xff("1.1.1.1, 8.8.8.8"), ["trusted", "counted", "client"], id="count"
    ),
    pytest.param({"source": "x-real-ip"}, [("x-real-ip", "?")], ["trusted", "invalid"], id="1ip"),
    pytest.param(
        {"source": "x-real-ip"},
        [("x-real-ip", "a"), ("x-real-ip", "b")],
        ["trusted"],
        id="ambiguous",
    ),
    pytest.param(
        {"peer_check": False, "trusted_proxies": ["10.9.0.0/16"]},
        xff("1.1.1.1"),
        ["untrusted", "client"],
        id="no-gate",
    ),
]


@pytest.mark.parametrize(("kwargs", "headers", "verdicts"), VERDICTS)
def test_hop_verdicts(kwargs: dict[str, object], headers: Headers, verdicts: list[str]) -> None:
    """Every hop carries the walk's verdict on it."""
    hops = resolve(PROXY, headers, cfg(**kwargs)).hops
    assert [str(h.verdict) for h in hops] == verdicts


def test_hop_limit_indices() -> None:
    """With ``hop_limit`` the walked hops keep their positions from the left."""
    result = resolve(PROXY, xff("1.1.1.1, 10.0.0.3, 10.0.0.1, 10.0.0.2"), cfg(max_hops=2))
    assert result.status is Status.HOP_LIMIT
    assert [h.index for h in result.hops] == [None, 3, 2]


def _chain(trusted: int, client: bool, forwarded: bool) -> list[tuple[str | bytes, str | bytes]]:
    """``trusted`` trusted proxies (10.0.1.x), with an untrusted client left of them or not."""
    elements = ([CLIENT] if client else []) + [f"10.0.1.{i}" for i in range(1, trusted + 1)]
    if forwarded:
        return fwd(", ".join(f"for={e}" for e in elements))
    return xff(", ".join(elements))


# max_hops bounds the *trusted header elements* (the peer is the gate, not a header
# element): up to max_hops of them are passed, one more is hop_limit (reference §10.8,
# "more than max_hops trusted"). An answer right after max_hops trusted ones is read.
HOP_LIMIT_BOUNDARY = [
    pytest.param(max_hops, trusted, client, forwarded, status, id=ident)
    for max_hops in (3, 20)
    for forwarded in (False, True)
    for trusted, client, status, case in [
        (max_hops - 1, True, Status.OK, "below-then-client"),
        (max_hops - 1, False, Status.ALL_TRUSTED, "below-alone"),
        (max_hops, True, Status.OK, "at-then-client"),
        (max_hops, False, Status.ALL_TRUSTED, "at-alone"),
        (max_hops + 1, True, Status.HOP_LIMIT, "above-then-client"),
        (max_hops + 1, False, Status.HOP_LIMIT, "above-alone"),
    ]
    for ident in [f"{'fwd' if forwarded else 'xff'}-max{max_hops}-{case}"]
]


@pytest.mark.parametrize(
    ("max_hops", "trusted", "client", "forwarded", "status"), HOP_LIMIT_BOUNDARY
)
def test_hop_limit_boundary(
    max_hops: int, trusted: int, client: bool, forwarded: bool, status: Status
) -> None:
    """More than max_hops trusted elements is hop_limit; max_hops of them, then anything, is not."""
    config = cfg(max_hops=max_hops, **(FWD if forwarded else {}))
    result = resolve(PROXY, _chain(trusted, client, forwarded), config)
    assert result.status is status
    if status is Status.OK:
        assert (result.ip, result.index) == (IPv4Address(CLIENT), 0)
        assert len(result.hops) == 1 + trusted + 1  # the peer, every proxy, the client
    elif status is Status.ALL_TRUSTED:
        assert (result.ip, result.index) == (IPv4Address("10.0.1.1"), 0)
    else:
        assert (result.ip, result.index) == (None, None)
        walked = result.hops[1:]
        assert len(walked) == max_hops  # the proxies passed; the one over the limit is not
        assert {h.verdict for h in walked} == {Verdict.TRUSTED}
        assert walked[-1].raw.endswith(f"10.0.1.{trusted - max_hops + 1}")
        assert walked[-1].index == trusted - max_hops + (1 if client else 0)
        assert result.nearest_trusted == IPv4Address(f"10.0.1.{trusted - max_hops + 1}")


@pytest.mark.parametrize("forwarded", [False, True], ids=["xff", "fwd"])
@pytest.mark.parametrize(
    ("trusted", "status"),
    [(19, Status.OK), (20, Status.OK), (21, Status.HOP_LIMIT)],
    ids=["below", "at", "above"],
)
def test_hop_limit_boundary_across_field_lines(
    trusted: int, status: Status, forwarded: bool
) -> None:
    """The limit counts trusted elements over all field lines, not per line."""
    elements = [CLIENT] + [f"10.0.1.{i}" for i in range(1, trusted + 1)]
    if forwarded:
        elements = [f"for={e}" for e in elements]
    lines = [", ".join(elements[:7]), ", ".join(elements[7:14]), ", ".join(elements[14:])]
    headers = fwd(*lines) if forwarded else xff(*lines)
    result = resolve(PROXY, headers, cfg(**(FWD if forwarded else {})))
    assert result.status is status
    assert result.ip == (IPv4Address(CLIENT) if status is Status.OK else None)


@pytest.mark.parametrize("forwarded", [False, True], ids=["xff", "fwd"])
@pytest.mark.parametrize(
    ("elements", "status", "index"),
    [(3, Status.TOO_FEW_HOPS, None), (4, Status.OK, 0), (5, Status.OK, 1)],
    ids=["max-1", "max", "max+1"],
)
def test_count_mode_at_max_hops_has_no_hop_limit(
    elements: int, status: Status, index: int | None, forwarded: bool
) -> None:
    """Count mode takes element N from the right (N ≤ max_hops): no hop_limit applies."""
    chain = [f"198.51.100.{i}" for i in range(1, elements + 1)]
    line = ", ".join(f"for={e}" for e in chain) if forwarded else ", ".join(chain)
    headers = fwd(line) if forwarded else xff(line)
    config = cfg(trusted_hops=4, max_hops=4, **(FWD if forwarded else {}))
    result = resolve(PROXY, headers, config)
    assert (result.status, result.index) == (status, index)
    if status is Status.OK:
        assert result.ip == IPv4Address(chain[-4])
        assert [h.verdict for h in result.hops[1:]] == [Verdict.COUNTED] * 3 + [Verdict.CLIENT]


def test_indices_count_non_empty_elements_over_all_lines() -> None:
    """``index`` counts non-empty elements of all field lines joined in order (issue 3 §2)."""
    headers = xff(" , 9.9.9.9,", "", "8.8.8.8, , 7.7.7.7", f"{CLIENT} ,, 10.0.0.1")
    result = resolve(PROXY, headers, cfg())
    assert result.index == 3
    elements = [e.strip() for _, v in headers for e in str(v).split(",") if e.strip()]
    assert elements[result.index] == CLIENT


def test_forwarded_indices_skip_quoted_commas() -> None:
    """Commas inside quoted strings on the left do not shift the Forwarded index."""
    headers = fwd('for="_a,b";host="x,y", for="_c"', f"for={CLIENT}, for=10.0.0.7")
    result = resolve(PROXY, headers, cfg(source="forwarded"))
    assert (result.status, result.index) == (Status.OK, 2)
    assert result.hops[-1].raw == f"for={CLIENT}"


def test_long_forwarded_chain_is_cut_in_chunks() -> None:
    """A trusted Forwarded chain longer than one split chunk is walked to its end."""
    chain = ", ".join(f"for=10.0.0.{i}" for i in range(1, 12))
    result = resolve(PROXY, fwd(f"for={CLIENT}, {chain}"), cfg(source="forwarded"))
    assert (result.status, result.ip, result.index) == (Status.OK, IPv4Address(CLIENT), 0)
    assert len(result.hops) == 13


def test_empty_elements_beyond_the_split_chunk() -> None:
    """Empty elements may push the client past a bounded split; it is still found."""
    result = resolve(PROXY, xff(f"9.9.9.9, {CLIENT}, , , , 10.0.0.1"), cfg(max_hops=2))
    assert (result.status, result.ip, result.index) == (Status.OK, IPv4Address(CLIENT), 1)


def test_huge_spoofed_prefix_is_skipped() -> None:
    """A 10,000-entry prefix left of the client changes nothing (§7.14)."""
    spoofed = ", ".join(f"1.2.{i // 256}.{i % 256}" for i in range(10_000))
    result = resolve(PROXY, xff(f"{spoofed}, {CLIENT}, 10.0.0.2"), cfg())
    assert (result.status, result.ip, result.index) == (Status.OK, IPv4Address(CLIENT), 10_000)
    assert len(result.hops) == 3


def test_many_field_lines() -> None:
    """Hundreds of field lines are read in order, the rightmost first."""
    headers = xff(*(f"1.1.{i}.1" for i in range(300)), CLIENT, *(["10.0.0.1"] * 5))
    result = resolve(PROXY, headers, cfg())
    assert (result.status, result.ip, result.index) == (Status.OK, IPv4Address(CLIENT), 300)


def test_hostile_long_elements_are_invalid_and_not_kept() -> None:
    """Kilobyte elements are refused at once and never become memo keys (§7.14)."""
    config = cfg()
    long = "1" * 5000
    assert resolve(PROXY, xff(f"{CLIENT}, {long}"), config).status is Status.INVALID_HOP
    assert long not in config.memo
    fconfig = cfg(source="forwarded")
    quoted = 'for="' + '\\"' * 2000 + '"'
    result = resolve(PROXY, fwd(f"for={CLIENT}, {quoted}"), fconfig)
    assert result.status is Status.INVALID_HOP
    assert all(len(key) <= 512 for key in fconfig.memo)


def test_memos_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-config memos are cleared when full, so rotating values cannot grow them."""
    monkeypatch.setattr(resolve_module, "_MEMO_SIZE", 4)
    config = cfg()
    for i in range(1, 12):
        assert resolve(f"10.0.0.{i}:1", xff(f"203.0.113.{i}"), config).status is Status.OK
    assert len(config.memo) <= 4
    assert len(config.peer_memo) <= 4
    assert len(config.line_memo) <= 4
    pairs = [(f"10.0.0.{i}", i) for i in range(1, 12)]
    for pair in pairs:
        assert resolve(pair, xff(CLIENT), config).status is Status.OK
    assert len(config.peer_memo) <= 4


def test_memo_hits_answer_exactly_as_the_first_walk() -> None:
    """A repeated request (memo hits) gives a Resolution equal to the first, hops included."""
    for headers, kwargs in [
        (xff(f"{CLIENT}, 10.0.0.1, 10.0.0.2"), {}),
        ([(XFF.encode(), f"{CLIENT}, 10.0.0.1".encode())], {}),
        (xff("junk, 10.0.0.1"), {}),
        (xff("10.0.0.1, 10.0.0.2"), {}),
        (xff("1.1.1.1, 10.0.0.3, 10.0.0.1, 10.0.0.2"), {"max_hops": 2}),
        (fwd(f'for="{CLIENT}";proto=https, for=10.0.0.1'), FWD),
        (xff(f"1.1.1.1, {CLIENT}"), {"trusted_hops": 2}),
    ]:
        config = cfg(**kwargs)
        first, second = resolve(PROXY, headers, config), resolve(PROXY, headers, config)
        assert first == second
        assert first.hops == second.hops == resolve(PROXY, headers, cfg(**kwargs)).hops


def test_memoised_line_keeps_each_peer_apart() -> None:
    """Two trusted peers sending the same line each get their own peer hop and nearest."""
    config = cfg()
    a = resolve("10.0.0.5:1", xff(CLIENT), config)
    b = resolve(("10.9.9.9", 2), xff(CLIENT), config)
    assert (a.ip, b.ip) == (IPv4Address(CLIENT), IPv4Address(CLIENT))
    assert (a.hops[0].raw, b.hops[0].raw) == ("10.0.0.5:1", "10.9.9.9:2")
    assert (a.nearest_trusted, b.nearest_trusted) == (
        IPv4Address("10.0.0.5"),
        IPv4Address("10.9.9.9"),
    )
    assert b.hops[1:] == a.hops[1:]


def test_long_lines_are_walked_but_not_kept() -> None:
    """A line longer than an element's limit is walked every time, never a memo key."""
    config = cfg()
    line = ", ".join(["198.51.100.1"] * 60 + [CLIENT, "10.0.0.1"])
    assert len(line) > 512
    assert resolve(PROXY, xff(line), config).index == 60
    assert line not in config.line_memo


def test_blank_line_forwards_nothing() -> None:
    """A line of separators and spaces has no element: the peer's no_header answer."""
    config = cfg()
    for _ in range(2):
        result = resolve(PROXY, xff(" , ,"), config)
        assert (result.status, str(result.ip)) == (Status.NO_HEADER, "10.0.0.5")


def test_resolution_value_semantics() -> None:
    """Resolutions are immutable values; a hand-made one has no hops."""
    a = resolve(PROXY, xff(CLIENT), cfg())
    assert a == resolve(PROXY, [(XFF.encode(), CLIENT.encode())], cfg())
    assert hash(a) == hash(resolve(PROXY, xff(CLIENT), cfg()))
    with pytest.raises(AttributeError):
        a.ip = None  # type: ignore[misc]
    assert Resolution(Status.DIRECT, None).hops == ()
    assert "trail" not in repr(a)
    assert repr(a).startswith("Resolution(status=<Status.OK: 'ok'>, ip=IPv4Address(")
    assert "verdict=<Verdict.CLIENT: 'client'>" in repr(a)


# ---------------------------------------------------------------- PROXY protocol (§10.1)

PP = {"proxy_protocol_trusted": ["172.16.0.0/12"]}
LB = "172.16.0.9:5555"


def header(
    src: object = IPv4Address(CLIENT),
    *,
    command: Command = Command.PROXY,
    family: Family = Family.INET,
    port: int | None = 4711,
    version: int = 2,
) -> ProxyHeader:
    """A PROXY header as ``srcip.proxyproto`` produces it."""
    return ProxyHeader(
        version=version,  # type: ignore[arg-type]
        command=command,
        family=family,
        transport=Transport.STREAM if version == 2 else None,
        src=src,  # type: ignore[arg-type]
        dst=None,
        src_port=port,
        dst_port=443,
    )


PROXY_CASES = [
    pytest.param(
        {},
        "198.51.100.9:1",
        header(),
        Status.PROXY_PROTOCOL_FORBIDDEN,
        None,
        PROXY_PROTOCOL,
        id="forbidden",
    ),
    pytest.param(
        {},
        None,
        header(),
        Status.PROXY_PROTOCOL_FORBIDDEN,
        None,
        PROXY_PROTOCOL,
        id="forbidden-no-peer",
    ),
    pytest.param({}, LB, header(), Status.DIRECT, CLIENT, PROXY_PROTOCOL, id="source-is-client"),
    pytest.param(
        {},
        LB,
        header(IPv6Address("2001:db8::5"), family=Family.INET6),
        Status.DIRECT,
        "2001:db8::5",
        PROXY_PROTOCOL,
        id="inet6",
    ),
    pytest.param(
        {},
        LB,
        header(IPv6Address("::ffff:203.0.113.7"), family=Family.INET6),
        Status.DIRECT,
        CLIENT,
        PROXY_PROTOCOL,
        id="mapped-source",
    ),
    pytest.param(
        {},
        LB,
        header(IPv6Address("fe80::1%eth1"), family=Family.INET6),
        Status.DIRECT,
        "fe80::1",
        PROXY_PROTOCOL,
        id="zoned-source",
    ),
    pytest.param(
        {},
        LB,
        header(family=Family.TCP4, version=1),
        Status.DIRECT,
        CLIENT,
        PROXY_PROTOCOL,
        id="v1-tcp4",
    ),
    pytest.param(
        {},
        LB,
        header(IPv4Address("10.0.0.8")),
        Status.OK,
        CLIENT,
        XFF,
        id="trusted-source-reads-xff",
    ),
    pytest.param(
        {},
        LB,
        header(IPv4Address("10.0.0.8")),
        Status.OK,
        CLIENT,
        XFF,
        id="trusted-source-reads-xff-again",
    ),
    pytest.param(
        {},
        "10.0.0.5:1",
        header(None, command=Command.LOCAL, family=Family.UNSPEC, port=None),
        Status.PROXY_PROTOCOL_FORBIDDEN,
        None,
        PROXY_PROTOCOL,
        id="local-from-untrusted",
    ),
    pytest.param(
        {"proxy_protocol_trusted": ["10.0.0.0/8"]},
        "10.0.0.5:1",
        header(None, command=Command.LOCAL, family=Family.UNSPEC, port=None),
        Status.OK,
        CLIENT,
        XFF,
        id="local-keeps-socket-peer",
    ),
    pytest.param(
        {},
        LB,
        header(None, family=Family.UNSPEC, port=None),
        Status.DIRECT,
        "172.16.0.9",
        PEER,
        id="unspec-keeps-socket-peer",
    ),
    pytest.param(
        {},
        LB,
        header(None, family=Family.UNKNOWN, port=None, version=1),
        Status.DIRECT,
        "172.16.0.9",
        PEER,
        id="v1-unknown-keeps-socket-peer",
    ),
    pytest.param(
        {},
        LB,
        header("/run/client.sock", family=Family.UNIX, port=None),
        Status.NO_PEER_IP,
        None,
        PROXY_PROTOCOL,
        id="unix-source",
    ),
    pytest.param(
        {"trusted_proxies": ["unix:"]},
        LB,
        header("/run/client.sock", family=Family.UNIX, port=None),
        Status.OK,
        CLIENT,
        XFF,
        id="unix-source-trusted",
    ),
    pytest.param(
        {},
        LB,
        header(IPv4Address("0.0.0.0")),
        Status.NO_PEER_IP,
        None,
        PROXY_PROTOCOL,
        id="unspecified-source",
    ),
    pytest.param(
        {},
        LB,
        header("203.0.113.7"),
        Status.NO_PEER_IP,
        None,
        PROXY_PROTOCOL,
        id="text-source-refused",
    ),
    pytest.param(
        {"proxy_protocol_trusted": ["unix:"]},
        "unix:/run/lb.sock",
        header(),
        Status.DIRECT,
        CLIENT,
        PROXY_PROTOCOL,
        id="from-unix-socket",
    ),
]


@pytest.mark.parametrize(("kwargs", "peer", "proxy", "status", "ip", "source"), PROXY_CASES)
def test_proxy_protocol(
    kwargs: dict[str, object],
    peer: str | None,
    proxy: ProxyHeader,
    status: Status,
    ip: str | None,
    source: str,
) -> None:
    """PROXY headers count only from allowed peers; PROXY over INET/INET6 sets the peer."""
    config = cfg(**{**PP, **kwargs})
    result = resolve(peer, xff(CLIENT), config, proxy)
    assert result.status is status
    assert (None if result.ip is None else str(result.ip)) == ip
    assert result.source == source


def test_proxy_hops_show_both_peers() -> None:
    """The socket peer and the PROXY source are both hops, in that order."""
    result = resolve(LB, [], cfg(**PP), header(port=None))
    assert [(h.source, h.raw, str(h.verdict)) for h in result.hops] == [
        (PEER, LB, "trusted"),
        (PROXY_PROTOCOL, CLIENT, "client"),
    ]
    assert result.nearest_trusted == IPv4Address("172.16.0.9")
    v6 = resolve(LB, [], cfg(**PP), header(IPv6Address("2001:db8::5"), family=Family.INET6))
    assert v6.hops[1].raw == "[2001:db8::5]:4711"
    zoned = resolve(LB, [], cfg(**PP), header(IPv6Address("fe80::1%eth1"), family=Family.INET6))
    assert zoned.zone == "eth1"


# ---------------------------------------------------------------- properties

TRUSTED_POOL = ["10.0.0.1", "10.2.3.4", "::ffff:10.9.9.9", "10.0.0.1:80", "unix:"]
UNTRUSTED_POOL = ["203.0.113.7", "198.51.100.1:443", "[2001:db8::1]:8", "2001:db8::2"]
BAD_POOL = ["unknown", "_obf", "x", "", " ", "0.0.0.0", "1.2.3.04"]
ELEMENT = st.sampled_from(TRUSTED_POOL + UNTRUSTED_POOL + BAD_POOL)
NAIVE_CONFIG = cfg(trusted_proxies=["10.0.0.0/8", "unix:"], max_hops=4)


def naive_walk(lines: list[str], config: TrustConfig) -> tuple[Status, str | None, int | None]:
    """The walk written plainly: split everything, then go right to left (oracle)."""
    elements = [e.strip(" \t") for line in lines for e in line.split(",")]
    elements = [e for e in elements if e]
    if not elements:
        return Status.NO_HEADER, "10.0.0.5", None
    walked = 0  # trusted elements passed
    for position in range(len(elements) - 1, -1, -1):
        node = parse_node(elements[position])
        trusted = (node.ip is not None and config.is_trusted(node.ip)) or (
            node.kind is NodeKind.UNIX and config.trusted.unix
        )
        if trusted:
            if walked == config.max_hops:
                return Status.HOP_LIMIT, None, None  # more than max_hops trusted elements
            walked += 1
            continue
        if node.kind is NodeKind.ADDRESS:
            return Status.OK, str(node.ip), position
        if node.kind is NodeKind.INVALID:
            return Status.INVALID_HOP, None, None
        return Status.UNIDENTIFIED_HOP, None, None
    last = parse_node(elements[0])
    if last.ip is None:
        return Status.UNIDENTIFIED_HOP, None, None
    return Status.ALL_TRUSTED, str(last.ip), 0


@given(st.lists(st.lists(ELEMENT, max_size=6), max_size=4))
def test_walk_matches_the_naive_model(lines_parts: list[list[str]]) -> None:
    """The lazy right-to-left walk agrees with a plain split-everything walk."""
    lines = [", ".join(parts) for parts in lines_parts]
    result = resolve(PROXY, xff(*lines), NAIVE_CONFIG)
    ip = None if result.ip is None else str(result.ip)
    assert (result.status, ip, result.index) == naive_walk(lines, NAIVE_CONFIG)


@given(st.lists(st.lists(ELEMENT, max_size=6), max_size=4))
def test_forwarded_walk_matches_the_naive_model(lines_parts: list[list[str]]) -> None:
    """The same chains written as Forwarded ``for=`` values resolve the same way."""
    xff_lines = [", ".join(parts) for parts in lines_parts]
    fwd_lines = [
        ", ".join(f'for="{p.strip()}";proto=https' if p.strip() else p for p in parts)
        for parts in lines_parts
    ]
    config = cfg(trusted_proxies=["10.0.0.0/8", "unix:"], max_hops=4, source="forwarded")
    result = resolve(PROXY, fwd(*fwd_lines), config)
    ip = None if result.ip is None else str(result.ip)
    assert (result.status, ip, result.index) == naive_walk(xff_lines, NAIVE_CONFIG)


@given(
    st.lists(st.text(max_size=30), max_size=5),
    st.sampled_from(UNTRUSTED_POOL),
    st.lists(st.sampled_from(TRUSTED_POOL[:4]), max_size=3),
    st.booleans(),
)
def test_left_prefix_never_changes_the_client(
    junk: list[str], client: str, proxies: list[str], separate_lines: bool
) -> None:
    """Anything left of an untrusted client (same or earlier lines) leaves the answer alone."""
    config = cfg()
    tail = ", ".join([client, *proxies])
    plain = resolve(PROXY, xff(tail), config)
    if separate_lines:
        spoofed = resolve(PROXY, xff(*junk, tail), config)
    else:
        spoofed = resolve(PROXY, xff(", ".join([*junk, tail])), config)
    assert plain.status is Status.OK
    assert (spoofed.status, spoofed.ip, spoofed.zone) == (plain.status, plain.ip, plain.zone)
    assert [h.raw for h in spoofed.hops] == [h.raw for h in plain.hops]


@given(st.text(max_size=40), st.sampled_from(UNTRUSTED_POOL[:2]), st.integers(0, 3))
def test_forwarded_left_junk_never_changes_the_client(junk: str, client: str, n: int) -> None:
    """Forwarded: unbalanced quotes, escapes and commas on the left cannot poison (§4)."""
    config = cfg(source="forwarded")
    tail = ", ".join([f'for="{client}"', *[f"for=10.0.0.{i + 1};proto=https" for i in range(n)]])
    plain = resolve(PROXY, fwd(tail), config)
    spoofed = resolve(PROXY, fwd(f"{junk}, {tail}"), config)
    assert plain.status is Status.OK
    assert (spoofed.status, spoofed.ip) == (plain.status, plain.ip)


@given(st.lists(st.sampled_from(TRUSTED_POOL[:4]), min_size=1, max_size=20))
def test_trusted_only_chain_is_all_trusted(chain: list[str]) -> None:
    """A chain of trusted addresses returns its leftmost one, with ``all_trusted``."""
    result = resolve(PROXY, xff(", ".join(chain)), cfg())
    assert result.status is Status.ALL_TRUSTED
    assert result.index == 0
    assert result.ip == parse_node(chain[0]).ip


@given(
    st.integers(1, 5),
    st.lists(st.sampled_from(UNTRUSTED_POOL + TRUSTED_POOL[:4]), max_size=8),
)
def test_count_mode_picks_the_nth_from_the_right(n: int, chain: list[str]) -> None:
    """Count mode returns element N from the right, or ``too_few_hops`` (reference §2)."""
    result = resolve(PROXY, xff(", ".join(chain)), cfg(trusted_hops=n))
    if len(chain) < n:
        assert result.status is (Status.TOO_FEW_HOPS if chain else Status.NO_HEADER)
    else:
        assert result.status is Status.OK
        assert result.index == len(chain) - n
        assert result.hops[-1].raw == chain[-n]


NAMES = st.sampled_from(["x-forwarded-for", "X-Forwarded-For", "forwarded", "x-real-ip", "host"])
TEXT = st.one_of(st.text(max_size=40), st.binary(max_size=40))


@given(
    st.sampled_from(["x-forwarded-for", "forwarded", "x-real-ip"]),
    st.one_of(st.none(), st.text(max_size=30), st.sampled_from([PROXY, "[::ffff:10.0.0.1]:1"])),
    st.lists(st.tuples(st.one_of(NAMES, NAMES.map(str.encode), TEXT), TEXT), max_size=6),
    st.one_of(st.none(), st.integers(1, 3)),
)
def test_resolve_never_raises(
    source: str, peer: str | None, headers: Headers, hops: int | None
) -> None:
    """Arbitrary peers and header bytes/strings only ever produce statuses (§10.9)."""
    if source == "x-real-ip":
        hops = None
    config = cfg(source=source, trusted_hops=hops)
    result = resolve(peer, headers, config)
    assert isinstance(result.status, Status)
    named = {Status.DIRECT, Status.OK, Status.ALL_TRUSTED, Status.NO_HEADER}
    assert (result.ip is not None) == (result.status in named)
    assert result.hops[0].source == PEER
    assert all(isinstance(h.raw, str) for h in result.hops)
