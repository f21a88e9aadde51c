"""Edge proxies and mesh sidecars as pure transforms of a View; the shared header helpers."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.model.forwarding import (
    HopResult,
    append_forwarded,
    build_proxy_header,
    proxy_source,
    xff_list,
)
from srcip.model.hops import edge_forward, sidecar_forward
from srcip.model.scenario import (
    EdgeHop,
    EdgeHopKind,
    ForwardedFor,
    Interception,
    Mesh,
    ProxyProtocolVersion,
    SidecarHop,
)
from srcip.model.view import View
from srcip.proxyproto import Command, Family, ProxyHeader, Transport, build, parse

CLIENT = ip_address("203.0.113.7")
CDN = ip_address("198.51.100.10")
VIP = ip_address("192.0.2.10")
POD = ip_address("10.244.1.5")
V1 = ProxyProtocolVersion.V1
V2 = ProxyProtocolVersion.V2


def client_view(*headers: tuple[str, str], proxy: ProxyHeader | None = None) -> View:
    """What the first hop receives from the client."""
    return View(peer=CLIENT, local=VIP, local_port=443, headers=headers, proxy=proxy)


def cdn(**fields: object) -> EdgeHop:
    """A CDN hop at 198.51.100.10."""
    return EdgeHop(kind=EdgeHopKind.CDN, name="cdn", address=CDN, **fields)  # type: ignore[arg-type]


def forward(hop: EdgeHop, view: View) -> View:
    """The view after ``hop``, which must not refuse."""
    result = edge_forward(hop, view, next_local=VIP, next_port=80)
    assert result.view is not None
    return result.view


# --------------------------------------------------------------------------- edge hops


@pytest.mark.parametrize(
    ("hop", "incoming", "expected"),
    [
        pytest.param(cdn(), (), (("x-forwarded-for", "203.0.113.7"),), id="xff-added"),
        pytest.param(
            cdn(),
            (("x-forwarded-for", "1.2.3.4"),),
            (("x-forwarded-for", "1.2.3.4, 203.0.113.7"),),
            id="xff-appended-spoof-kept-on-the-left",
        ),
        pytest.param(
            cdn(),
            (("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "5.6.7.8")),
            (("x-forwarded-for", "1.2.3.4, 5.6.7.8, 203.0.113.7"),),
            id="xff-repeated-lines-joined",
        ),
        pytest.param(
            cdn(forwarded_for=ForwardedFor.REPLACE),
            (("x-forwarded-for", "1.2.3.4"),),
            (("x-forwarded-for", "203.0.113.7"),),
            id="xff-replaced",
        ),
        pytest.param(
            cdn(headers=("x-forwarded-for", "cf-connecting-ip")),
            (("cf-connecting-ip", "6.6.6.6"),),
            (("cf-connecting-ip", "203.0.113.7"), ("x-forwarded-for", "203.0.113.7")),
            id="cloudflare-cf-connecting-ip-overwritten",
        ),
        pytest.param(
            cdn(headers=("True-Client-IP",)),
            (),
            (("true-client-ip", "203.0.113.7"),),
            id="true-client-ip-name-lowered",
        ),
        pytest.param(
            cdn(headers=("forwarded",)),
            (("forwarded", "for=192.0.2.60"),),
            (("forwarded", "for=192.0.2.60, for=203.0.113.7"),),
            id="forwarded-rfc7239-appended",
        ),
        pytest.param(
            cdn(headers=("x-real-ip",)),
            (("x-real-ip", "6.6.6.6"),),
            (("x-real-ip", "203.0.113.7"),),
            id="x-real-ip-overwritten",
        ),
    ],
)
def test_edge_headers(
    hop: EdgeHop, incoming: tuple[tuple[str, str], ...], expected: tuple[tuple[str, str], ...]
) -> None:
    """A CDN writes its client-address headers per its settings (ecosystem §3)."""
    result = edge_forward(hop, client_view(*incoming), next_local=VIP, next_port=80)
    assert result.view == View(peer=CDN, local=VIP, local_port=80, headers=expected)
    assert result.client_seen == CLIENT


def test_edge_forwarded_quotes_ipv6() -> None:
    """RFC 7239 §6: an IPv6 node is bracketed and quoted."""
    view = View(peer=ip_address("2001:db8::7"), local=VIP, local_port=80)
    assert append_forwarded(view, view.peer).headers == (("forwarded", 'for="[2001:db8::7]"'),)


def test_edge_notes_client_single_address_header_it_does_not_write() -> None:
    """A client-sent True-Client-IP passes a CDN that does not overwrite it (spoofable)."""
    result = edge_forward(
        cdn(), client_view(("true-client-ip", "6.6.6.6")), next_local=VIP, next_port=80
    )
    assert result.view is not None
    assert result.view.header_values("true-client-ip") == ("6.6.6.6",)
    assert any("true-client-ip" in note for note in result.notes)


def test_edge_refuses_an_incoming_proxy_header() -> None:
    """An HTTP proxy reads a PROXY header as a broken request line: 400."""
    header = build_proxy_header(V1, src=CLIENT, dst=VIP, dst_port=443)
    result = edge_forward(cdn(), client_view(proxy=header), next_local=VIP, next_port=80)
    assert result == HopResult(view=None, refused=result.refused)
    assert result.refused is not None and "400" in result.refused  # noqa: PT018


@pytest.mark.parametrize(
    ("version", "src", "dst", "family", "transport"),
    [
        pytest.param(V1, "203.0.113.7", "192.0.2.10", Family.TCP4, None, id="v1-tcp4"),
        pytest.param(V2, "203.0.113.7", "192.0.2.10", Family.INET, Transport.STREAM, id="v2-inet"),
        pytest.param(V1, "2001:db8::7", "2001:db8::10", Family.TCP6, None, id="v1-tcp6"),
        pytest.param(
            V2,
            "2001:db8::7",
            "192.0.2.10",
            Family.INET6,
            Transport.STREAM,
            id="v2-mixed-families-mapped",
        ),
    ],
)
def test_edge_sends_proxy_header(
    version: ProxyProtocolVersion, src: str, dst: str, family: Family, transport: Transport | None
) -> None:
    """With proxyProtocol the next hop gets a PROXY header naming the hop's own client."""
    incoming = View(peer=ip_address(src), local=ip_address(dst), local_port=443)
    view = forward(cdn(proxy_protocol=version), incoming)
    header = view.proxy
    assert header is not None
    assert (header.family, header.transport, header.dst_port) == (family, transport, 443)
    assert proxy_source(header) == ip_address(src)
    mapped = IPv6Address(f"::ffff:{dst}") if family is Family.INET6 and "." in dst else None
    assert header.dst == (mapped or ip_address(dst))
    assert parse(build(header)) == header


def test_build_proxy_header_off_is_none() -> None:
    """proxyProtocol off sends no header."""
    assert build_proxy_header(ProxyProtocolVersion.OFF, src=CLIENT, dst=VIP, dst_port=80) is None


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="none"),
        pytest.param(
            ProxyHeader(version=2, command=Command.LOCAL, family=Family.UNSPEC), id="local"
        ),
        pytest.param(ProxyHeader(version=1, family=Family.UNKNOWN), id="v1-unknown"),
        pytest.param(
            ProxyHeader(version=2, family=Family.UNIX, src="/a", dst="/b"), id="unix-path"
        ),
    ],
)
def test_proxy_source_without_an_address(header: ProxyHeader | None) -> None:
    """LOCAL, UNKNOWN and UNIX headers name no client address (spec §2.1, §2.2)."""
    assert proxy_source(header) is None


def test_xff_list_trims_and_skips_empty_elements() -> None:
    """XFF elements are trimmed; empty ones are skipped."""
    assert xff_list(" 1.2.3.4 ,, 5.6.7.8 ,") == ["1.2.3.4", "5.6.7.8"]
    assert xff_list(None) == []


# --------------------------------------------------------------------------- sidecars


ISTIO = SidecarHop(mesh=Mesh.ISTIO, name="istio-proxy")
ISTIO_TPROXY = SidecarHop(mesh=Mesh.ISTIO, name="istio-proxy", interception=Interception.TPROXY)
LINKERD = SidecarHop(mesh=Mesh.LINKERD, name="linkerd-proxy")


def at_pod(*headers: tuple[str, str], peer: str = "203.0.113.7", pod: str = "10.244.1.5") -> View:
    """What the pod's network delivers to the sidecar."""
    return View(peer=ip_address(peer), local=ip_address(pod), local_port=8080, headers=headers)


@pytest.mark.parametrize(
    ("hop", "legacy", "pod", "peer", "local"),
    [
        pytest.param(
            ISTIO, False, "10.244.1.5", "127.0.0.6", "10.244.1.5", id="scenario-23-istio-127.0.0.6"
        ),
        pytest.param(ISTIO, False, "fd00::5", "::6", "fd00::5", id="scenario-23-istio-ipv6-::6"),
        pytest.param(
            ISTIO, True, "10.244.1.5", "127.0.0.1", "127.0.0.1", id="scenario-23-istio-before-1.10"
        ),
        pytest.param(
            ISTIO_TPROXY,
            False,
            "10.244.1.5",
            "203.0.113.7",
            "10.244.1.5",
            id="scenario-23-istio-tproxy-keeps-source",
        ),
        pytest.param(
            LINKERD,
            False,
            "10.244.1.5",
            "127.0.0.1",
            "127.0.0.1",
            id="scenario-24-linkerd-127.0.0.1",
        ),
        pytest.param(LINKERD, False, "fd00::5", "::1", "::1", id="scenario-24-linkerd-ipv6"),
    ],
)
def test_sidecar_peer(hop: SidecarHop, legacy: bool, pod: str, peer: str, local: str) -> None:
    """What the app sees as its TCP peer behind each sidecar (ecosystem §6 #23, #24)."""
    incoming = at_pod(peer="2001:db8::7" if ":" in pod else "203.0.113.7", pod=pod)
    result = sidecar_forward(hop, incoming, pod_ip=ip_address(pod), legacy_localhost=legacy)
    assert result.view is not None
    expected_peer = incoming.peer if hop.interception is Interception.TPROXY else ip_address(peer)
    assert result.view.peer == expected_peer
    assert result.view.local == ip_address(local)
    assert result.view.local_port == 8080


@pytest.mark.parametrize(
    "hop", [ISTIO, ISTIO_TPROXY, LINKERD], ids=["istio", "istio-tproxy", "linkerd"]
)
def test_sidecar_adds_no_forwarding_headers(hop: SidecarHop) -> None:
    """Neither Istio's inbound Envoy (use_remote_address false) nor Linkerd appends XFF."""
    incoming = at_pod(("x-forwarded-for", "198.51.100.1"))
    result = sidecar_forward(hop, incoming, pod_ip=POD)
    assert result.view is not None
    assert result.view.headers == incoming.headers


@pytest.mark.parametrize(
    ("hop", "headers", "seen"),
    [
        pytest.param(
            ISTIO,
            (("x-forwarded-for", "1.1.1.1, 198.51.100.1"),),
            "198.51.100.1",
            id="istio-rightmost-xff",
        ),
        pytest.param(ISTIO, (), "203.0.113.7", id="istio-no-xff-peer"),
        pytest.param(
            ISTIO, (("x-forwarded-for", "1.1.1.1, junk"),), "203.0.113.7", id="istio-bad-xff-peer"
        ),
        pytest.param(LINKERD, (("x-forwarded-for", "1.1.1.1"),), "203.0.113.7", id="linkerd-peer"),
    ],
)
def test_sidecar_client_seen(
    hop: SidecarHop, headers: tuple[tuple[str, str], ...], seen: str
) -> None:
    """The sidecar's own idea of the client: Envoy's trusted address, Linkerd's peer."""
    result = sidecar_forward(hop, at_pod(*headers), pod_ip=POD)
    assert result.client_seen == ip_address(seen)


def test_sidecar_passes_a_proxy_header_through_opaque() -> None:
    """A PROXY header breaks HTTP detection: opaque TCP, the header reaches the app."""
    header = build_proxy_header(V2, src=CLIENT, dst=POD, dst_port=8080)
    incoming = View(peer=ip_address("10.0.1.2"), local=POD, local_port=8080, proxy=header)
    result = sidecar_forward(ISTIO, incoming, pod_ip=POD)
    assert result.view is not None
    assert result.view.proxy == header
    assert result.view.peer == IPv4Address("127.0.0.6")
    assert result.client_seen == ip_address("10.0.1.2")
    assert any("opaque" in note for note in result.notes)


def test_linkerd_tproxy_is_modelled_as_redirect() -> None:
    """Linkerd has no TPROXY mode (linkerd2#4713): the app still sees 127.0.0.1."""
    hop = SidecarHop(mesh=Mesh.LINKERD, name="l", interception=Interception.TPROXY)
    result = sidecar_forward(hop, at_pod(), pod_ip=POD)
    assert result.view is not None
    assert result.view.peer == IPv4Address("127.0.0.1")
    assert any("4713" in note for note in result.notes)


# --------------------------------------------------------------------------- properties

ADDRESSES = st.ip_addresses(v=4).map(lambda a: IPv4Address(int(a)))
XFF_VALUES = st.lists(ADDRESSES, max_size=5).map(lambda xs: ", ".join(map(str, xs)))


@given(XFF_VALUES, ADDRESSES, st.sampled_from(list(ForwardedFor)))
def test_edge_xff_append_keeps_and_replace_leaves_one(
    prior: str, peer: IPv4Address, mode: ForwardedFor
) -> None:
    """Appending never removes an incoming XFF element; replacing leaves exactly one."""
    incoming = View(
        peer=peer, local=VIP, local_port=80, headers=(("x-forwarded-for", prior),) if prior else ()
    )
    out = forward(cdn(forwarded_for=mode), incoming)
    elements = xff_list(", ".join(out.header_values("x-forwarded-for")))
    if mode is ForwardedFor.APPEND:
        assert elements == [*xff_list(prior), str(peer)]
    else:
        assert elements == [str(peer)]


@given(
    ADDRESSES,
    XFF_VALUES,
    st.sampled_from([ISTIO, ISTIO_TPROXY, LINKERD]),
    st.booleans(),
    st.sampled_from(list(ProxyProtocolVersion)),
)
def test_output_peer_is_the_hop_unless_transparent(
    peer: IPv4Address,
    prior: str,
    sidecar: SidecarHop,
    legacy: bool,
    version: ProxyProtocolVersion,
) -> None:
    """A hop's output peer is its own address, except Istio TPROXY which keeps the source."""
    incoming = View(peer=peer, local=POD, local_port=80, headers=(("x-forwarded-for", prior),))
    assert forward(cdn(proxy_protocol=version), incoming).peer == CDN
    result = sidecar_forward(sidecar, incoming, pod_ip=POD, legacy_localhost=legacy)
    assert result.view is not None
    if sidecar is ISTIO_TPROXY:
        assert result.view.peer == peer
    else:
        assert result.view.peer in (IPv4Address("127.0.0.6"), IPv4Address("127.0.0.1"))
