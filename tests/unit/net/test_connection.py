"""The sans-I/O echo connection: requests in, replies out, limits, PROXY header, fuzzing."""

from __future__ import annotations

import itertools
import json
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.clientip import TrustConfig
from srcip.net.config import ProxyProtocol
from srcip.net.connection import Phase
from srcip.net.limits import Limits
from srcip.proxyproto import AuthorityTLV, Command, Family, ProxyHeader, Transport, build
from tests.unit.net.helpers import answers_of, connect, make_app, take
from tests.unit.proxyproto.strategies import v2_headers

GET = b"GET / HTTP/1.1\r\nHost: echo\r\n\r\n"
V1 = ProxyHeader(
    version=1,
    family=Family.TCP4,
    src=IPv4Address("203.0.113.7"),
    dst=IPv4Address("198.51.100.10"),
    src_port=51234,
    dst_port=80,
)
V2 = ProxyHeader(
    version=2,
    family=Family.INET6,
    transport=Transport.STREAM,
    src=IPv6Address("2001:db8::7"),
    dst=IPv6Address("2001:db8::10"),
    src_port=4711,
    dst_port=80,
    tlvs=(AuthorityTLV(host="example.com"),),
)
PP_TRUST = TrustConfig(proxy_protocol_trusted=["10.0.0.0/8"])


def one(data: bytes, **kwargs: object) -> tuple[int, dict[str, str], bytes, bool]:
    """Feed ``data`` to a fresh connection; the single answer's status, headers, body, close."""
    app, _ = make_app(**kwargs)  # type: ignore[arg-type]
    conn = connect(app)
    conn.receive_data(data)
    replies = take(conn)
    (answer,) = answers_of(replies)
    return answer.status, answer.headers, answer.body, replies[-1].close


# ------------------------------------------------------------------ requests


def test_simple_request_gets_the_echo_document() -> None:
    """A GET is answered 200 with the JSON document naming the TCP peer and the request."""
    status, headers, body, close = one(b"GET /a/b?x=1 HTTP/1.1\r\nHost: echo\r\n\r\n")
    doc = json.loads(body)
    assert (status, headers["content-type"], close) == (200, "application/json", False)
    assert doc["peer"] == {"ip": "10.0.0.2", "port": 5555}
    assert doc["local"] == {"ip": "10.244.1.5", "port": 8080}
    assert doc["request"]["path"] == "/a/b"
    assert doc["request"]["query"] == "x=1"
    assert doc["request"]["headers"] == [["Host", "echo"]]
    assert doc["client"]["ip"] == "10.0.0.2"
    assert doc["client"]["status"] == "direct"


def test_pipelined_requests_are_answered_in_order() -> None:
    """Three requests in one chunk give three answers in request order, keep-alive."""
    app, log = make_app()
    conn = connect(app)
    conn.receive_data(b"".join(b"GET /%d HTTP/1.1\r\nHost: e\r\n\r\n" % i for i in range(3)))
    answers = answers_of(take(conn))
    assert [json.loads(a.body)["request"]["path"] for a in answers] == ["/0", "/1", "/2"]
    assert [entry.path for entry in log.requests] == ["/0", "/1", "/2"]
    assert conn.phase is Phase.IDLE
    assert conn.requests == 3


def test_request_split_byte_by_byte() -> None:
    """A request fed one byte at a time is parsed as if it came whole."""
    app, _ = make_app()
    conn = connect(app)
    wire = b"POST /p HTTP/1.1\r\nHost: e\r\nContent-Length: 5\r\n\r\nhello"
    for i in range(len(wire)):
        conn.receive_data(wire[i : i + 1])
    (answer,) = answers_of(take(conn))
    assert json.loads(answer.body)["request"]["body_bytes"] == 5


def test_chunked_body_is_counted() -> None:
    """A chunked body's size is reported."""
    status, _, body, _ = one(
        b"POST / HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    assert status == 200
    assert json.loads(body)["request"]["body_bytes"] == 8


def test_http10_closes_after_the_answer() -> None:
    """An HTTP/1.0 request without keep-alive is answered with Connection: close."""
    status, headers, _, close = one(b"GET / HTTP/1.0\r\n\r\n")
    assert (status, headers["connection"], close) == (200, "close", True)


def test_connection_close_stops_reading_pipelined_requests() -> None:
    """Nothing pipelined after a request saying Connection: close is answered."""
    app, _ = make_app()
    conn = connect(app)
    conn.receive_data(b"GET /1 HTTP/1.1\r\nConnection: close\r\n\r\n" + GET)
    replies = take(conn)
    assert len(answers_of(replies)) == 1
    assert replies[-1].close
    assert conn.phase is Phase.CLOSED
    conn.receive_data(GET)
    assert take(conn) == []


def test_head_request_has_length_but_no_body() -> None:
    """HEAD gets the headers of the GET answer (Content-Length included), no body."""
    app, _ = make_app()
    conn = connect(app)
    conn.receive_data(b"HEAD / HTTP/1.1\r\nHost: e\r\n\r\n")
    (reply,) = take(conn)
    head, _, body = reply.data.partition(b"\r\n\r\n")
    assert body == b""
    assert b"Content-Length: " in head
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) > 100


def test_expect_continue_gets_an_interim_answer() -> None:
    """Expect: 100-continue with an acceptable body gets 100 Continue first, then 200."""
    app, _ = make_app()
    conn = connect(app)
    conn.receive_data(b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
    assert [a.status for a in answers_of(take(conn))] == [100]
    conn.receive_data(b"ok")
    assert [a.status for a in answers_of(take(conn))] == [200]


def test_upgrade_is_answered_then_closed() -> None:
    """An Upgrade request gets its echo, then the connection closes (no protocol switch)."""
    app, _ = make_app()
    conn = connect(app)
    conn.receive_data(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nxx")
    replies = take(conn)
    answers = answers_of(replies)
    assert [a.status for a in answers] == [200]
    assert answers[0].headers["connection"] == "close"
    assert replies[-1].close
    assert conn.phase is Phase.CLOSED


def test_forwarded_headers_listed_in_order_and_trusted_only_from_proxies() -> None:
    """Every forwarding field is echoed as received; the client comes from trusted hops."""
    wire = (
        b"GET / HTTP/1.1\r\nX-Forwarded-For: 198.51.100.1\r\nX-Real-IP: 1.1.1.1\r\n"
        b"x-forwarded-for: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nVia: 1.1 lb\r\n\r\n"
    )
    _, _, body, _ = one(wire, trust=TrustConfig(trusted_proxies=["10.0.0.0/8"]))
    doc = json.loads(body)
    assert doc["forwarded"] == [
        ["X-Forwarded-For", "198.51.100.1"],
        ["X-Real-IP", "1.1.1.1"],
        ["x-forwarded-for", "203.0.113.7"],
        ["X-Forwarded-Proto", "https"],
        ["Via", "1.1 lb"],
    ]
    assert doc["client"]["ip"] == "203.0.113.7"
    assert doc["client"]["status"] == "ok"
    assert [hop["verdict"] for hop in doc["client"]["hops"]] == ["trusted", "client"]
    _, _, body, _ = one(wire)
    assert json.loads(body)["client"] == {
        "ip": "10.0.0.2",
        "status": "direct",
        "source": "peer",
        "hops": [
            {"source": "peer", "index": None, "raw": "10.0.0.2:5555", "ip": "10.0.0.2",
             "verdict": "client"}
        ],
    }  # fmt: skip


def test_resolution_memo_follows_the_source_lines() -> None:
    """Two requests with different X-Forwarded-For on one connection resolve differently."""
    app, _ = make_app(trust=TrustConfig(trusted_proxies=["10.0.0.0/8"]))
    conn = connect(app)
    for client in (b"203.0.113.7", b"198.51.100.9", b"203.0.113.7"):
        conn.receive_data(b"GET / HTTP/1.1\r\nX-Forwarded-For: " + client + b"\r\n\r\n")
    clients = [json.loads(a.body)["client"]["ip"] for a in answers_of(take(conn))]
    assert clients == ["203.0.113.7", "198.51.100.9", "203.0.113.7"]
    assert len(conn.resolved) == 2


# ------------------------------------------------------------------ limits and errors


@pytest.mark.parametrize(
    ("wire", "limits", "status"),
    [
        pytest.param(b"BREW / HTTP/1.1\r\n\r\n", Limits(), 400, id="bad-method"),
        pytest.param(b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", Limits(), 400, id="bad-name"),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            Limits(),
            400,
            id="smuggling-cl-te",
        ),
        pytest.param(
            b"GET /" + b"a" * 100 + b" HTTP/1.1\r\n\r\n", Limits(max_target=64), 414, id="target"
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nX-A: " + b"a" * 200 + b"\r\n\r\n",
            Limits(max_header_bytes=128),
            431,
            id="header-bytes",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(5)) + b"\r\n",
            Limits(max_headers=4),
            431,
            id="header-count",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n",
            Limits(max_body=10),
            413,
            id="content-length",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\nhello world\r\n",
            Limits(max_body=10),
            413,
            id="chunked-body",
        ),
        pytest.param(
            b"GET /?delay=999999 HTTP/1.1\r\n\r\n", Limits(max_delay_ms=1000), 400, id="delay"
        ),
    ],
)
def test_bad_requests_get_4xx_and_close(wire: bytes, limits: Limits, status: int) -> None:
    """Each broken limit or malformed request gets its status, and the connection closes."""
    app, log = make_app(limits=limits)
    conn = connect(app)
    conn.receive_data(wire + GET)
    replies = take(conn)
    assert [a.status for a in answers_of(replies)] == [status]
    assert replies[-1].close
    assert conn.phase is Phase.CLOSED
    assert len(log.closures) + len(log.requests) == 1


def test_body_at_the_limit_is_accepted() -> None:
    """A body of exactly max_body bytes is fine; one more byte is 413."""
    wire = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"
    assert one(wire, limits=Limits(max_body=10))[0] == 200
    assert one(wire.replace(b"10", b"11") + b"x", limits=Limits(max_body=10))[0] == 413


def test_unterminated_header_line_is_cut_at_the_limit() -> None:
    """A header line that never ends is refused 431 once the fed bytes pass the limit."""
    app, _ = make_app(limits=Limits(max_target=100, max_header_bytes=100))
    conn = connect(app)
    conn.receive_data(b"GET / HTTP/1.1\r\nX-Endless: ")
    for _ in range(10):
        conn.receive_data(b"a" * 50)
    replies = take(conn)
    assert [a.status for a in answers_of(replies)] == [431]
    assert conn.phase is Phase.CLOSED


def test_status_path() -> None:
    """/status/<code> answers that code with the document; a bad code is 400."""
    status, _, body, close = one(b"GET /status/503 HTTP/1.1\r\n\r\n")
    assert (status, close) == (503, False)
    assert json.loads(body)["request"]["path"] == "/status/503"
    assert one(b"GET /status/204 HTTP/1.1\r\n\r\n")[2] == b""
    for bad in (b"99", b"600", b"abc", b"2000"):
        assert one(b"GET /status/" + bad + b" HTTP/1.1\r\n\r\n")[0] == 400


def test_delay_is_carried_on_the_reply() -> None:
    """?delay=<ms> sets the reply's delay in seconds; 0 is no delay."""
    app, _ = make_app()
    conn = connect(app)
    conn.receive_data(b"GET /?delay=250 HTTP/1.1\r\n\r\nGET /?delay=0 HTTP/1.1\r\n\r\n")
    assert [r.delay for r in take(conn)] == [0.25, 0.0]


# ------------------------------------------------------------------ PROXY protocol


@pytest.mark.parametrize(
    ("header", "setting"),
    [
        pytest.param(V1, ProxyProtocol.V1, id="v1"),
        pytest.param(V2, ProxyProtocol.V2, id="v2"),
        pytest.param(V1, ProxyProtocol.ANY, id="any-v1"),
        pytest.param(V2, ProxyProtocol.ANY, id="any-v2"),
    ],
)
def test_proxy_header_then_request(header: ProxyHeader, setting: ProxyProtocol) -> None:
    """A required header is decoded, reported, and its source becomes the client."""
    app, _ = make_app(trust=PP_TRUST, proxy_protocol=setting)
    conn = connect(app, expect_proxy=True)
    assert conn.phase is Phase.PROXY
    conn.receive_data(build(header) + GET)
    (answer,) = answers_of(take(conn))
    doc = json.loads(answer.body)
    assert doc["peer"]["ip"] == "10.0.0.2"
    assert doc["proxy_protocol"]["version"] == header.version
    assert doc["proxy_protocol"]["src"] == str(header.src)
    assert doc["proxy_protocol"]["src_port"] == header.src_port
    assert doc["client"]["ip"] == str(header.src)
    assert doc["client"]["source"] == "proxy-protocol"


def test_proxy_header_tlvs_reported() -> None:
    """v2 TLVs appear with their type, name and decoded value."""
    app, _ = make_app(trust=PP_TRUST, proxy_protocol=ProxyProtocol.V2)
    conn = connect(app, expect_proxy=True)
    conn.receive_data(build(V2, crc32c=True) + GET)
    (answer,) = answers_of(take(conn))
    tlvs = json.loads(answer.body)["proxy_protocol"]["tlvs"]
    assert tlvs[0] == {"type": 2, "name": "AUTHORITY", "host": "example.com"}
    assert tlvs[1]["type"] == 3
    assert tlvs[1]["name"] == "CRC32C"
    assert isinstance(tlvs[1]["checksum"], int)


def test_proxy_header_split_across_chunks() -> None:
    """A header arriving in pieces is reassembled; the request after it is answered."""
    app, _ = make_app(trust=PP_TRUST, proxy_protocol=ProxyProtocol.V2)
    conn = connect(app, expect_proxy=True)
    wire = build(V2) + GET
    for i in range(0, len(wire), 7):
        conn.receive_data(wire[i : i + 7])
    assert [a.status for a in answers_of(take(conn))] == [200]


def test_local_command_keeps_the_socket_peer() -> None:
    """A v2 LOCAL header (a health check) leaves the socket peer as the client."""
    local = ProxyHeader(
        version=2, command=Command.LOCAL, family=Family.UNSPEC, transport=Transport.UNSPEC
    )
    app, _ = make_app(trust=PP_TRUST, proxy_protocol=ProxyProtocol.V2)
    conn = connect(app, expect_proxy=True)
    conn.receive_data(build(local) + GET)
    doc = json.loads(answers_of(take(conn))[0].body)
    assert doc["proxy_protocol"]["command"] == "LOCAL"
    assert doc["client"]["ip"] == "10.0.0.2"


@pytest.mark.parametrize(
    ("wire", "setting", "detail"),
    [
        pytest.param(
            build(V1), ProxyProtocol.V2, "PROXY v1 header on a v2 listener", id="v1-on-v2"
        ),
        pytest.param(
            build(V2), ProxyProtocol.V1, "PROXY v2 header on a v1 listener", id="v2-on-v1"
        ),
        pytest.param(GET, ProxyProtocol.ANY, "malformed PROXY header", id="http-instead"),
        pytest.param(b"PROXY TCP4 1.2.3.4\r\n", ProxyProtocol.V1, "malformed", id="v1-short"),
    ],
)
def test_bad_proxy_header_closes_with_one_log_line(
    wire: bytes, setting: ProxyProtocol, detail: str
) -> None:
    """A wrong-version or malformed header closes the connection silently, logged once."""
    app, log = make_app(trust=PP_TRUST, proxy_protocol=setting)
    conn = connect(app, expect_proxy=True)
    conn.receive_data(wire)
    replies = take(conn)
    assert [(r.data, r.close) for r in replies] == [(b"", True)]
    assert conn.phase is Phase.CLOSED
    ((peer, reason, logged),) = log.closures
    assert (peer, reason) == ("10.0.0.2:5555", "proxy_protocol")
    assert detail in logged
    assert log.requests == []


def test_proxy_header_from_a_peer_not_allowed_is_refused() -> None:
    """A peer outside --proxy-protocol-from that opens with a PROXY signature is closed."""
    app, log = make_app(trust=PP_TRUST, proxy_protocol=ProxyProtocol.ANY)
    conn = connect(app, peer=("192.0.2.1", 1234))
    conn.receive_data(build(V1) + GET)
    assert [(r.data, r.close) for r in take(conn)] == [(b"", True)]
    assert "not allowed" in log.closures[0].detail


def test_peer_not_in_proxy_list_connects_directly() -> None:
    """A peer outside --proxy-protocol-from speaks HTTP at once and is the client."""
    app, _ = make_app(trust=PP_TRUST, proxy_protocol=ProxyProtocol.ANY)
    conn = connect(app, peer=("192.0.2.1", 1234))
    conn.receive_data(GET)
    doc = json.loads(answers_of(take(conn))[0].body)
    assert (doc["proxy_protocol"], doc["client"]["ip"]) == (None, "192.0.2.1")


# ------------------------------------------------------------------ endings and timeouts


@pytest.mark.parametrize(
    ("wire", "expect_proxy", "status"),
    [
        pytest.param(b"", False, None, id="idle"),
        pytest.param(b"GET / HTTP/1.1\r\nHost", False, 408, id="head"),
        pytest.param(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc", False, 408, id="body"),
        pytest.param(b"PROXY TCP4", True, None, id="proxy-header"),
    ],
)
def test_timeouts_per_phase(wire: bytes, expect_proxy: bool, status: int | None) -> None:
    """An idle connection closes quietly, a slow request gets 408, a slow header closes."""
    app, log = make_app(trust=PP_TRUST, proxy_protocol=ProxyProtocol.V1)
    conn = connect(app, expect_proxy=expect_proxy)
    conn.receive_data(wire)
    conn.timed_out()
    replies = take(conn)
    assert replies[-1].close
    assert [a.status for a in answers_of(replies)] == ([] if status is None else [status])
    assert conn.phase is Phase.CLOSED
    assert len(log.closures) == (0 if wire == b"" else 1)


def test_eof_mid_proxy_header_is_logged() -> None:
    """The peer closing before the header is complete closes with one log line."""
    app, log = make_app(trust=PP_TRUST, proxy_protocol=ProxyProtocol.V2)
    conn = connect(app, expect_proxy=True)
    conn.receive_eof()
    assert take(conn)[-1].close
    assert "before a complete PROXY header" in log.closures[0].detail


def test_eof_after_requests_closes_after_answers() -> None:
    """A half-close after a request: the answer, then the close, nothing more is read."""
    app, _ = make_app()
    conn = connect(app)
    conn.receive_data(GET)
    conn.receive_eof()
    replies = take(conn)
    assert [a.status for a in answers_of(replies)] == [200]
    assert replies[-1].close
    conn.receive_eof()
    conn.receive_data(GET)
    assert take(conn) == []


def test_callback_bug_is_raised_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure inside the app is not mistaken for bad input: it reaches the shell."""
    app, _ = make_app()
    conn = connect(app)

    def broken(*args: object) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(app, "respond", broken)
    with pytest.raises(ZeroDivisionError):
        conn.receive_data(GET)


# ------------------------------------------------------------------ fuzzing

_http_tokens = st.sampled_from(
    [
        b"GET ", b"POST ", b"HEAD ", b"/", b"?delay=1", b"?format=text", b"/status/404",
        b"/healthz", b"/metrics", b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", b"Host: x\r\n",
        b"Content-Length: 3\r\n", b"Transfer-Encoding: chunked\r\n", b"\r\n", b"abc",
        b"3\r\nabc\r\n0\r\n\r\n", b"Expect: 100-continue\r\n", b"Connection: close\r\n",
        b"X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\n", b"Upgrade: h2c\r\n", b"\x00", b"\xff",
    ]
)  # fmt: skip
_wire = st.one_of(st.binary(max_size=300), st.lists(_http_tokens, max_size=40).map(b"".join))


def _allowed(status: int) -> bool:
    return status in (100, 200, 503) or 400 <= status < 500


@settings(max_examples=300, deadline=None)
@given(wire=_wire, cuts=st.lists(st.integers(0, 300), max_size=6), eof=st.booleans())
def test_fuzz_only_answers_come_out(wire: bytes, cuts: list[int], eof: bool) -> None:
    """Arbitrary bytes in any chunking never raise; only 1xx/200/4xx (503 healthz) leave."""
    app, _ = make_app(
        trust=TrustConfig(trusted_proxies=["10.0.0.0/8"]),
        limits=Limits(max_target=64, max_header_bytes=256, max_body=16, max_headers=8),
    )
    conn = connect(app)
    bounds = sorted({0, len(wire), *(c for c in cuts if c < len(wire))})
    for start, end in itertools.pairwise(bounds):
        conn.receive_data(wire[start:end])
    if eof:
        conn.receive_eof()
    conn.timed_out()
    replies = take(conn)
    for answer in answers_of(replies):
        assert _allowed(answer.status), answer
    assert replies[-1].close or conn.phase is not Phase.CLOSED


@settings(max_examples=200, deadline=None)
@given(header=v2_headers(), rest=st.binary(max_size=64), setting=st.sampled_from(ProxyProtocol))
def test_fuzz_proxy_then_bytes(header: ProxyHeader, rest: bytes, setting: ProxyProtocol) -> None:
    """Any v2 header (any setting) followed by any bytes: answers or a close, never a raise."""
    if setting is ProxyProtocol.OFF:
        setting = ProxyProtocol.ANY
    app, _ = make_app(trust=PP_TRUST, proxy_protocol=setting)
    conn = connect(app, expect_proxy=True)
    conn.receive_data(build(header) + rest)
    conn.receive_eof()
    for answer in answers_of(take(conn)):
        assert _allowed(answer.status)
