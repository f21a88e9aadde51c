"""The echo document: the fast spliced JSON equals the plain-data document; text view."""

from __future__ import annotations

import json
from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from srcip.clientip import TrustConfig, resolve
from srcip.net.app import Request
from srcip.net.document import (
    FORWARDING_FIELDS,
    ConnectionFacts,
    proxy_json,
    render_text,
    tlv_json,
)
from srcip.net.peerkind import PeerKind, PodEnvironment
from srcip.proxyproto import (
    AlpnTLV,
    Family,
    ProxyHeader,
    SslClient,
    SslTLV,
    SslVersionTLV,
    UnknownTLV,
)
from tests.unit.net.helpers import connect, make_app, take
from tests.unit.proxyproto.strategies import v2_headers

ENV = PodEnvironment.from_env(
    {"POD_NAME": "echo-1", "POD_NAMESPACE": "demo", "NODE_NAME": "node-1", "POD_IP": "10.244.1.5"}
)
_names = st.sampled_from([b"Host", b"X-Forwarded-For", b"Forwarded", b"Accept", b"X-Real-IP"])
_values = st.binary(max_size=30).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


def _request(headers: list[tuple[bytes, bytes]], target: bytes = b"/p?q=1") -> Request:
    lines = tuple(v for n, v in headers if n.lower() == b"x-forwarded-for")
    forwarded = [(n, v) for n, v in headers if n.lower() in FORWARDING_FIELDS]
    return Request("GET", target, "1.1", headers, 0, True, lines, forwarded, b"")


@settings(max_examples=100, deadline=None)
@given(headers=st.lists(st.tuples(_names, _values), max_size=6))
def test_spliced_json_equals_the_document(headers: list[tuple[bytes, bytes]]) -> None:
    """The server's fragment-spliced JSON decodes to exactly :func:`echo_document`."""
    app, _ = make_app(trust=TrustConfig(trusted_proxies=["10.0.0.0/8"]), environment=ENV)
    conn = connect(app)
    request = _request(headers)
    reply = app.respond(conn, request)
    body = reply.data.partition(b"\r\n\r\n")[2]
    resolution = resolve(conn.peer_text, headers, app.config.trust)
    assert json.loads(body) == app.document(conn, request, resolution)
    assert list(json.loads(body)) == [
        "peer", "local", "proxy_protocol", "forwarded", "client", "peer_kind", "pod",
        "hostname", "request",
    ]  # fmt: skip


def test_pod_section_from_the_environment() -> None:
    """pod {name, namespace, node, ip} and hostname come from the environment."""
    app, _ = make_app(environment=ENV)
    conn = connect(app)
    conn.receive_data(b"GET / HTTP/1.1\r\n\r\n")
    body = take(conn)[0].data.partition(b"\r\n\r\n")[2]
    doc = json.loads(body)
    assert doc["pod"] == {
        "name": "echo-1",
        "namespace": "demo",
        "node": "node-1",
        "ip": "10.244.1.5",
    }
    assert doc["hostname"] == "echo-test"
    assert doc["peer_kind"] == "unknown"


@settings(max_examples=100, deadline=None)
@given(header=v2_headers())
def test_proxy_json_is_always_encodable(header: ProxyHeader) -> None:
    """Every parseable v2 header (UNIX paths, raw TLVs) becomes valid JSON data."""
    data = proxy_json(header)
    assert data is not None
    assert json.loads(json.dumps(data)) == data
    assert data["version"] == 2
    assert len(data["tlvs"]) == len(header.tlvs)


def test_tlv_rendering() -> None:
    """Bytes show as text when printable, else hex; SSL sub-TLVs nest; flags are ints."""
    assert tlv_json(AlpnTLV(protocol=b"h2")) == {"type": 1, "name": "ALPN", "protocol": "h2"}
    assert tlv_json(UnknownTLV(type=0xF0, value=b"\x00\x01")) == {
        "type": 240, "name": None, "value": "0001",
    }  # fmt: skip
    ssl = tlv_json(SslTLV(client=SslClient.SSL, sub_tlvs=(SslVersionTLV(version="TLSv1.3"),)))
    assert ssl["client"] == 1
    assert ssl["verified"] is True
    assert ssl["sub_tlvs"] == [{"type": 33, "name": "SSL_VERSION", "version": "TLSv1.3"}]


def test_text_view_is_echoserver_style() -> None:
    """The text view has client_address= (the TCP peer) and the three addresses."""
    app, _ = make_app(trust=TrustConfig(trusted_proxies=["10.0.0.0/8"]), environment=ENV)
    conn = connect(app)
    conn.facts = ConnectionFacts(
        peer_ip="10.0.0.2", peer_port=5555, local_ip="10.244.1.5", local_port=8080,
        proxy=ProxyHeader(version=1, family=Family.TCP4, src=IPv4Address("203.0.113.7"),
                          dst=IPv4Address("10.0.0.9"), src_port=1234, dst_port=80),
        peer_kind=PeerKind.NODE,
    )  # fmt: skip
    headers = [(b"Host", b"e"), (b"X-Forwarded-For", b"198.51.100.1")]
    request = _request(headers)
    resolution = resolve(conn.peer_text, headers, app.config.trust)
    text = render_text(app.document(conn, request, resolution))
    assert "\tclient_address=10.0.0.2\n" in text
    assert "\tnode name:\tnode-1\n" in text
    assert "\tpeer_kind=node\n" in text
    assert "\tproxy_protocol=v1 PROXY TCP4 203.0.113.7:1234 -> 10.0.0.9:80\n" in text
    assert "\tforwarded: X-Forwarded-For=198.51.100.1\n" in text
    assert "\tclient_ip=198.51.100.1\n" in text
    assert "\treal path=/p\n" in text
    assert "-no body in request-" in text


@pytest.mark.parametrize(
    ("query", "accept", "text"),
    [
        (b"format=text", b"", True),
        (b"", b"text/plain", True),
        (b"", b"text/plain, application/json", False),
        (b"format=json", b"text/plain", False),
        (b"", b"*/*", False),
    ],
)
def test_content_negotiation(query: bytes, accept: bytes, text: bool) -> None:
    """?format= wins; otherwise Accept naming text/plain but not JSON asks for text."""
    app, _ = make_app()
    conn = connect(app)
    accept_line = b"Accept: " + accept + b"\r\n" if accept else b""
    conn.receive_data(b"GET /?" + query + b" HTTP/1.1\r\n" + accept_line + b"\r\n")
    data = take(conn)[0].data
    assert (b"Content-Type: text/plain" in data) is text
    assert data.endswith(b"}\n") is not text


def test_ipv6_peer_text_and_unknown_body() -> None:
    """An IPv6 peer is bracketed in the text view; a body's size is reported."""
    app, _ = make_app()
    conn = connect(app, peer=("2001:db8::7", 4711))
    conn.receive_data(b"POST /?format=text HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
    body = take(conn)[0].data.partition(b"\r\n\r\n")[2].decode()
    assert "\tpeer_address=[2001:db8::7]:4711\n" in body
    assert "\t3 bytes\n" in body
    assert "\t-no pod information available-\n" in body
