"""Ingress controllers: their settings with the real defaults, and what they do to a request.

Scenario numbers (``scenario-7``) are those of ecosystem.md §6.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.errors import ManifestError
from srcip.model.forwarding import build_proxy_header, xff_list
from srcip.model.hops import (
    EnvoySettings,
    IngressSettings,
    NginxSettings,
    TraefikSettings,
    ingress_forward,
    ingress_settings,
)
from srcip.model.loadbalancer import Setting
from srcip.model.objects import ConfigMap, IPAddress
from srcip.model.scenario import IngressHop, IngressKind, ProxyProtocolVersion
from srcip.model.view import View
from srcip.proxyproto import Command, Family, ProxyHeader

NGINX = IngressKind.INGRESS_NGINX
TRAEFIK = IngressKind.TRAEFIK
ENVOY = IngressKind.ENVOY
CLIENT = ip_address("203.0.113.7")
LB = ip_address("10.0.1.2")  # a node's SNAT address or a proxy LB
CDN = ip_address("198.51.100.10")
INGRESS_POD = ip_address("10.244.2.9")
BACKEND = ip_address("10.96.0.20")


def hop(kind: IngressKind, config_map: str | None = None, **config: str) -> IngressHop:
    """An ingress hop with ``config`` (keys with '_' spelled '-' for ingress-nginx)."""
    pairs = tuple(
        (k.replace("_", "-") if kind is NGINX else k.replace("__", "."), v)
        for k, v in config.items()
    )
    return IngressHop(
        kind=kind, name="ing", service="ingress/ing", config=pairs, config_map=config_map
    )


def settings_of(kind: IngressKind, **config: str) -> IngressSettings:
    """Effective settings for ``config`` without a ConfigMap."""
    return ingress_settings(hop(kind, **config), [])


def request(
    *headers: tuple[str, str], peer: IPAddress = CLIENT, proxy: ProxyHeader | None = None
) -> View:
    """What the controller's pod receives."""
    return View(peer=peer, local=INGRESS_POD, local_port=80, proxy=proxy, headers=headers)


def pp(src: IPAddress = CLIENT, dst_port: int = 80) -> ProxyHeader | None:
    """A PROXY v2 header for a connection from ``src``."""
    return build_proxy_header(ProxyProtocolVersion.V2, src=src, dst=LB, dst_port=dst_port)


LOCAL = ProxyHeader(version=2, command=Command.LOCAL, family=Family.UNSPEC)


def send(settings: IngressSettings, view: View) -> View:
    """The request the controller sends to the backend (must not be refused)."""
    result = ingress_forward(settings, view, pod_ip=INGRESS_POD, backend=BACKEND, backend_port=8080)
    assert result.view is not None, result.refused
    assert (result.view.peer, result.view.local, result.view.local_port) == (
        INGRESS_POD,
        BACKEND,
        8080,
    )
    assert result.view.proxy is None
    return result.view


def seen(settings: IngressSettings, view: View) -> IPAddress | None:
    """The address the controller takes for the client."""
    return ingress_forward(
        settings, view, pod_ip=INGRESS_POD, backend=BACKEND, backend_port=8080
    ).client_seen


# --------------------------------------------------------------------------- settings


def test_nginx_defaults_are_the_controllers() -> None:
    """config.go NewDefault + ReadConfig: forwarded headers off, trust 0.0.0.0/0, PROXY off."""
    s = settings_of(NGINX)
    assert s == NginxSettings(name="ing", settings=s.settings)
    assert isinstance(s, NginxSettings)
    assert s.proxy_real_ip_cidr == (ip_network("0.0.0.0/0"),)
    assert not s.realip
    assert {x.source for x in s.settings} == {"default"}
    assert Setting(name="forwarded-for-header", value="X-Forwarded-For", source="default") in (
        s.settings
    )


def test_config_map_merged_under_hop_config() -> None:
    """The named ConfigMap's data applies; the hop's own config wins."""
    cm = ConfigMap(
        namespace="ingress-nginx",
        name="ingress-nginx-controller",
        data=(("use-forwarded-headers", "true"), ("use-proxy-protocol", "true")),
    )
    s = ingress_settings(
        hop(NGINX, "ingress-nginx/ingress-nginx-controller", use_proxy_protocol="false"), [cm]
    )
    assert isinstance(s, NginxSettings)
    assert s.use_forwarded_headers
    assert not s.use_proxy_protocol
    sources = {x.name: x.source for x in s.settings}
    assert sources["use-forwarded-headers"] == "ConfigMap ingress-nginx/ingress-nginx-controller"
    assert sources["use-proxy-protocol"] == "spec.hops[].config"


def test_config_map_without_namespace_is_in_default() -> None:
    """``configMap: name`` means default/name."""
    cm = ConfigMap(name="nginx", data=(("enable-real-ip", "true"),))
    s = ingress_settings(hop(NGINX, "nginx"), [cm])
    assert isinstance(s, NginxSettings)
    assert s.enable_real_ip


def test_missing_config_map_is_a_manifest_error() -> None:
    """A configMap the input lacks names the field and the fix."""
    with pytest.raises(ManifestError) as caught:
        ingress_settings(hop(NGINX, "ingress-nginx/missing"), [])
    assert caught.value.field == "spec.hops[].configMap"
    assert caught.value.where.kind == "Scenario"
    assert caught.value.fix is not None


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        pytest.param("true", True, id="true"),
        pytest.param("True", True, id="True"),
        pytest.param("1", True, id="1"),
        pytest.param("t", True, id="t"),
        pytest.param("FALSE", False, id="FALSE"),
        pytest.param("", False, id="empty"),
    ],
)
def test_nginx_booleans_are_go_parsebool(raw: str, value: bool) -> None:
    """mapstructure's weak decoding uses strconv.ParseBool."""
    s = settings_of(NGINX, use_forwarded_headers=raw)
    assert isinstance(s, NginxSettings)
    assert s.use_forwarded_headers is value


def test_nginx_bad_boolean_keeps_the_default_with_a_note() -> None:
    """'yes' is no Go bool: the controller warns and keeps false."""
    s = settings_of(NGINX, use_forwarded_headers="yes")
    assert isinstance(s, NginxSettings)
    assert not s.use_forwarded_headers
    assert any("'yes' is not a boolean" in n for n in s.notes)
    assert Setting(name="use-forwarded-headers", value="false", source="default") in s.settings


def test_nginx_cidr_list_parsed() -> None:
    """proxy-real-ip-cidr is comma separated; bare addresses and host bits are accepted."""
    s = settings_of(NGINX, proxy_real_ip_cidr="10.0.0.1/8, ,192.168.0.1")
    assert isinstance(s, NginxSettings)
    assert s.proxy_real_ip_cidr == (ip_network("10.0.0.0/8"), ip_network("192.168.0.1/32"))


def test_bad_cidr_in_config_map_names_the_config_map() -> None:
    """A CIDR nginx -t would refuse fails with the ConfigMap's field."""
    cm = ConfigMap(
        namespace="ingress-nginx", name="c", data=(("proxy-real-ip-cidr", "10.0.0.0/33"),)
    )
    with pytest.raises(ManifestError) as caught:
        ingress_settings(hop(NGINX, "ingress-nginx/c"), [cm])
    assert caught.value.where.kind == "ConfigMap"
    assert caught.value.where.name == "c"
    assert caught.value.field == "data.proxy-real-ip-cidr"


def test_bad_cidr_in_hop_config_names_the_scenario_field() -> None:
    """The same mistake in the hop's config names spec.hops[].config."""
    with pytest.raises(ManifestError) as caught:
        settings_of(TRAEFIK, forwardedHeaders__trustedIPs="10.0.0.0/8,nope")
    assert caught.value.where.kind == "Scenario"
    assert caught.value.field == "spec.hops[].config.forwardedHeaders.trustedIPs"


@pytest.mark.parametrize(
    ("kind", "key", "fragment"),
    [
        pytest.param(
            NGINX,
            "use-forwarded-header",
            "did you mean use-forwarded-headers?",
            id="scenario-8-typo",
        ),
        pytest.param(
            NGINX,
            "forwardedHeaders.trustedIPs",
            "it is a traefik setting",
            id="scenario-8-other-controller",
        ),
        pytest.param(NGINX, "jaeger-collector-host", "no such key", id="scenario-8-removed-key"),
        pytest.param(
            TRAEFIK,
            "use-forwarded-headers",
            "it is a ingress-nginx setting",
            id="traefik-given-nginx-key",
        ),
        pytest.param(ENVOY, "numTrustedProxy", "did you mean numTrustedProxies?", id="envoy-typo"),
    ],
)
def test_keys_the_controller_does_not_read(kind: IngressKind, key: str, fragment: str) -> None:
    """Keys a controller ignores are reported, never applied (ecosystem §6 #8)."""
    s = ingress_settings(
        IngressHop(kind=kind, name="ing", service="s/s", config=((key, "true"),)), []
    )
    assert any(note.startswith(f"{key}:") and fragment in note for note in s.notes)


def test_leader_election_config_map_noted() -> None:
    """A ConfigMap named like the leader lock is not the controller's (ecosystem §6 #8)."""
    cm = ConfigMap(
        namespace="ingress-nginx",
        name="ingress-controller-leader-nginx",
        data=(("use-forwarded-headers", "true"), ("compute-full-forwarded-for", "true")),
    )
    s = ingress_settings(hop(NGINX, "ingress-nginx/ingress-controller-leader-nginx"), [cm])
    assert any("leader-election" in note for note in s.notes)


@pytest.mark.parametrize(
    ("config", "spoofable"),
    [
        pytest.param(
            {"use_forwarded_headers": "true"}, True, id="scenario-7-forwarded-headers-0.0.0.0/0"
        ),
        pytest.param({"enable_real_ip": "true"}, True, id="scenario-7-enable-real-ip-0.0.0.0/0"),
        pytest.param(
            {"use_forwarded_headers": "true", "proxy_real_ip_cidr": "::/0"},
            True,
            id="scenario-7-ipv6-everything",
        ),
        pytest.param(
            {"use_forwarded_headers": "true", "proxy_real_ip_cidr": "198.51.100.0/24"},
            False,
            id="narrowed-cidr",
        ),
        pytest.param(
            {"enable_real_ip": "true", "use_proxy_protocol": "true"},
            False,
            id="real-ip-from-proxy-protocol",
        ),
        pytest.param({}, False, id="defaults"),
    ],
)
def test_spoofable_forwarded_headers_noted(config: dict[str, str], spoofable: bool) -> None:
    """Forwarded headers trusted from every peer let clients pick their address."""
    s = settings_of(NGINX, **config)
    assert any("any client can choose" in n for n in s.notes) is spoofable


def test_compute_full_forwarded_for_alone_noted() -> None:
    """compute-full-forwarded-for needs use-forwarded-headers (nginx.tmpl)."""
    s = settings_of(NGINX, compute_full_forwarded_for="true")
    assert any("has no effect without use-forwarded-headers" in n for n in s.notes)


def test_traefik_settings() -> None:
    """Traefik entry point options, insecure noted, PROXY listener on when configured."""
    s = settings_of(
        TRAEFIK,
        forwardedHeaders__trustedIPs="10.0.0.0/8",
        forwardedHeaders__insecure="true",
        proxyProtocol__insecure="true",
    )
    assert isinstance(s, TraefikSettings)
    assert s.forwarded_trusted_ips == (ip_network("10.0.0.0/8"),)
    assert s.proxy_protocol
    assert len(s.notes) == 2
    plain = settings_of(TRAEFIK)
    assert isinstance(plain, TraefikSettings)
    assert not plain.proxy_protocol
    assert plain.notes == ()


def test_traefik_bad_boolean_is_an_error() -> None:
    """Traefik refuses to start with a non-boolean option."""
    with pytest.raises(ManifestError, match="is not a boolean"):
        settings_of(TRAEFIK, proxyProtocol__insecure="yes")


def test_envoy_defaults() -> None:
    """0 trusted hops; useRemoteAddress true as every modelled gateway sets it."""
    s = settings_of(ENVOY)
    assert isinstance(s, EnvoySettings)
    assert (s.xff_num_trusted_hops, s.use_remote_address, s.skip_xff_append, s.proxy_protocol) == (
        0,
        True,
        False,
        False,
    )
    assert Setting(name="xffNumTrustedHops", value="0", source="default") in s.settings


@pytest.mark.parametrize(
    ("config", "hops", "disagree"),
    [
        pytest.param({"xffNumTrustedHops": "2"}, 2, False, id="envoy-name"),
        pytest.param({"numTrustedProxies": "1"}, 1, False, id="istio-name"),
        pytest.param(
            {"xffNumTrustedHops": "2", "numTrustedProxies": "1"}, 2, True, id="both-disagree"
        ),
        pytest.param(
            {"xffNumTrustedHops": "1", "numTrustedProxies": "1"}, 1, False, id="both-agree"
        ),
    ],
)
def test_envoy_trusted_hops(config: dict[str, str], hops: int, disagree: bool) -> None:
    """xffNumTrustedHops, or Istio's numTrustedProxies."""
    s = settings_of(ENVOY, **config)
    assert isinstance(s, EnvoySettings)
    assert s.xff_num_trusted_hops == hops
    assert any("disagree" in n for n in s.notes) is disagree


@pytest.mark.parametrize("value", ["-1", "two", ""])
def test_envoy_bad_count_is_an_error(value: str) -> None:
    """A hop count must be a non-negative integer."""
    with pytest.raises(ManifestError, match="non-negative integer"):
        settings_of(ENVOY, xffNumTrustedHops=value)


# --------------------------------------------------------------------------- ingress-nginx


def nginx(**config: str) -> NginxSettings:
    """ingress-nginx settings."""
    s = settings_of(NGINX, **config)
    assert isinstance(s, NginxSettings)
    return s


def test_nginx_default_replaces_xff_and_keeps_the_original() -> None:
    """Default: $remote_addr is the peer; XFF replaced, the client's copy in X-Original-Forwarded-For."""
    out = send(nginx(), request(("x-forwarded-for", "6.6.6.6"), peer=LB))
    assert out.header_values("x-forwarded-for") == ("10.0.1.2",)
    assert out.header_values("x-real-ip") == ("10.0.1.2",)
    assert out.header_values("x-original-forwarded-for") == ("6.6.6.6",)
    assert out.header_values("x-forwarded-proto") == ("http",)
    assert seen(nginx(), request(("x-forwarded-for", "6.6.6.6"), peer=LB)) == LB


def test_nginx_without_incoming_xff_sends_no_original_header() -> None:
    """An empty proxy_set_header value sends no header."""
    out = send(nginx(), request())
    assert out.header_values("x-original-forwarded-for") == ()
    assert out.header_values("x-forwarded-for") == ("203.0.113.7",)


def test_scenario_7_forwarded_headers_from_everyone_are_spoofable() -> None:
    """use-forwarded-headers behind an L4 LB with 0.0.0.0/0: the client picks its address."""
    s = nginx(use_forwarded_headers="true")
    view = request(("x-forwarded-for", "6.6.6.6"))
    assert seen(s, view) == ip_address("6.6.6.6")
    assert send(s, view).header_values("x-real-ip") == ("6.6.6.6",)


@pytest.mark.parametrize(
    ("cidr", "peer", "xff", "client"),
    [
        pytest.param(
            "198.51.100.0/24", CDN, "6.6.6.6, 203.0.113.7", "203.0.113.7", id="rightmost-untrusted"
        ),
        pytest.param(
            "198.51.100.0/24", LB, "6.6.6.6", "10.0.1.2", id="peer-untrusted-headers-ignored"
        ),
        pytest.param(
            "0.0.0.0/0", CDN, "203.0.113.7, 198.51.100.1", "203.0.113.7", id="all-trusted-leftmost"
        ),
        pytest.param(
            "198.51.100.0/24",
            CDN,
            "203.0.113.7, junk, 198.51.100.1",
            "198.51.100.1",
            id="unparsable-keeps-last-good",
        ),
        pytest.param(
            "198.51.100.0/24", CDN, "junk", "198.51.100.10", id="unparsable-last-keeps-peer"
        ),
        pytest.param("198.51.100.0/24", CDN, "203.0.113.7:4711", "203.0.113.7", id="port-accepted"),
        pytest.param(
            "198.51.100.0/24", CDN, "1.1.1.1 203.0.113.7", "203.0.113.7", id="space-separated"
        ),
    ],
)
def test_nginx_realip_walk(cidr: str, peer: IPAddress, xff: str, client: str) -> None:
    """ngx_http_get_forwarded_addr_internal with real_ip_recursive on."""
    s = nginx(use_forwarded_headers="true", proxy_real_ip_cidr=cidr)
    assert seen(s, request(("x-forwarded-for", xff), peer=peer)) == ip_address(client)


def test_nginx_xff_lines_joined() -> None:
    """real_ip_header X-Forwarded-For reads every line."""
    s = nginx(use_forwarded_headers="true", proxy_real_ip_cidr="198.51.100.0/24")
    view = request(
        ("x-forwarded-for", "203.0.113.7"), ("x-forwarded-for", "198.51.100.1"), peer=CDN
    )
    assert seen(s, view) == CLIENT


def test_nginx_custom_header_reads_the_first_line() -> None:
    """forwarded-for-header CF-Connecting-IP: a custom header's first line is used."""
    s = nginx(use_forwarded_headers="true", forwarded_for_header="CF-Connecting-IP")
    view = request(("cf-connecting-ip", "203.0.113.7"), ("cf-connecting-ip", "6.6.6.6"), peer=CDN)
    assert seen(s, view) == CLIENT
    assert send(s, view).header_values("x-original-forwarded-for") == ("203.0.113.7, 6.6.6.6",)


def test_nginx_enable_real_ip_alone() -> None:
    """enable-real-ip turns realip on but the upstream XFF is still replaced."""
    s = nginx(enable_real_ip="true", proxy_real_ip_cidr="198.51.100.0/24")
    out = send(s, request(("x-forwarded-for", "1.1.1.1, 203.0.113.7"), peer=CDN))
    assert out.header_values("x-forwarded-for") == ("203.0.113.7",)


@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        pytest.param("1.1.1.1", "1.1.1.1, 198.51.100.10", id="appended"),
        pytest.param(None, "198.51.100.10", id="no-incoming"),
    ],
)
def test_scenario_8_compute_full_forwarded_for(xff: str | None, expected: str) -> None:
    """use-forwarded-headers + compute-full-forwarded-for: incoming XFF + $realip_remote_addr."""
    s = nginx(use_forwarded_headers="true", compute_full_forwarded_for="true")
    headers = (("x-forwarded-for", xff),) if xff else ()
    assert send(s, request(*headers, peer=CDN)).header_values("x-forwarded-for") == (expected,)


def test_scenario_4_proxy_protocol_expected_but_absent() -> None:
    """use-proxy-protocol with a plain-TCP LB: 'broken header', connection closed."""
    result = ingress_forward(
        nginx(use_proxy_protocol="true"),
        request(),
        pod_ip=INGRESS_POD,
        backend=BACKEND,
        backend_port=80,
    )
    assert result.view is None
    assert result.refused is not None
    assert "broken header" in result.refused


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(nginx(), id="nginx-without-use-proxy-protocol"),
        pytest.param(settings_of(TRAEFIK), id="traefik-without-proxyProtocol"),
        pytest.param(settings_of(ENVOY), id="envoy-without-listener-filter"),
    ],
)
def test_scenario_4_unexpected_proxy_header_is_a_bad_request(settings: IngressSettings) -> None:
    """A PROXY header at a listener that does not expect one: 400."""
    result = ingress_forward(
        settings, request(proxy=pp(), peer=LB), pod_ip=INGRESS_POD, backend=BACKEND, backend_port=80
    )
    assert result.view is None
    assert result.refused is not None
    assert "400" in result.refused


def test_nginx_proxy_protocol_gives_the_client() -> None:
    """real_ip_header proxy_protocol: the PROXY source when the LB is trusted."""
    s = nginx(use_proxy_protocol="true")
    view = request(("x-forwarded-for", "6.6.6.6"), peer=LB, proxy=pp())
    assert seen(s, view) == CLIENT
    out = send(s, view)
    assert out.header_values("x-forwarded-for") == ("203.0.113.7",)
    assert out.header_values("x-real-ip") == ("203.0.113.7",)


def test_nginx_proxy_protocol_from_untrusted_peer_keeps_the_peer() -> None:
    """The socket peer must be in proxy-real-ip-cidr, even for proxy_protocol."""
    s = nginx(use_proxy_protocol="true", proxy_real_ip_cidr="192.168.0.0/16")
    result = ingress_forward(
        s, request(peer=LB, proxy=pp()), pod_ip=INGRESS_POD, backend=BACKEND, backend_port=80
    )
    assert result.client_seen == LB
    assert any("kept the TCP peer" in n for n in result.notes)


def test_nginx_proxy_protocol_local_keeps_the_peer() -> None:
    """A LOCAL header names no client: $remote_addr is the peer."""
    result = ingress_forward(
        nginx(use_proxy_protocol="true"),
        request(peer=LB, proxy=LOCAL),
        pod_ip=INGRESS_POD,
        backend=BACKEND,
        backend_port=80,
    )
    assert result.client_seen == LB
    assert result.notes == ()


BOTH = {
    "use_forwarded_headers": "true",
    "use_proxy_protocol": "true",
    "proxy_real_ip_cidr": "10.0.0.0/8,198.51.100.0/24",
}


@pytest.mark.parametrize(
    ("proxy", "xff", "client", "custom"),
    [
        pytest.param(
            pp(CDN), "203.0.113.7", "203.0.113.7", "203.0.113.7", id="trusted-proxy-source-xff-read"
        ),
        pytest.param(
            pp(CLIENT), "6.6.6.6", "203.0.113.7", "203.0.113.7", id="untrusted-proxy-source-used"
        ),
        pytest.param(
            pp(CDN), None, "10.0.1.2", None, id="trusted-proxy-source-without-xff-keeps-peer"
        ),
        pytest.param(LOCAL, "6.6.6.6", "10.0.1.2", None, id="local-header"),
    ],
)
def test_nginx_forwarded_headers_with_proxy_protocol(
    proxy: ProxyHeader | None, xff: str | None, client: str, custom: str | None
) -> None:
    """The geo/map pair: XFF only when the PROXY source is trusted (nginx.tmpl 414-443)."""
    s = nginx(**BOTH)
    headers = (("x-forwarded-for", xff),) if xff else ()
    view = request(*headers, peer=LB, proxy=proxy)
    assert seen(s, view) == ip_address(client)
    expected = (custom,) if custom else ()
    assert send(s, view).header_values("x-forwarded-for-proxy-protocol") == expected


@pytest.mark.parametrize(
    ("proxy", "xff", "expected"),
    [
        pytest.param(pp(CLIENT), "1.1.1.1", ("1.1.1.1, 203.0.113.7",), id="xff-plus-proxy-address"),
        pytest.param(pp(CLIENT), None, ("203.0.113.7",), id="proxy-address-alone"),
        pytest.param(LOCAL, None, (), id="local-empty-no-header"),
    ],
)
def test_nginx_full_xff_with_proxy_protocol(
    proxy: ProxyHeader | None, xff: str | None, expected: tuple[str, ...]
) -> None:
    """$full_x_forwarded_for with PROXY appends $proxy_protocol_addr (PR #1618)."""
    s = nginx(**BOTH, compute_full_forwarded_for="true")
    headers = (("x-forwarded-for", xff),) if xff else ()
    assert (
        send(s, request(*headers, peer=LB, proxy=proxy)).header_values("x-forwarded-for")
        == expected
    )


@pytest.mark.parametrize(
    ("config", "headers", "proxy", "scheme"),
    [
        pytest.param(
            {}, (("x-forwarded-proto", "https"),), None, "http", id="untrusted-proto-ignored"
        ),
        pytest.param(
            {"use_forwarded_headers": "true"},
            (("x-forwarded-proto", "https"),),
            None,
            "https",
            id="forwarded-proto",
        ),
        pytest.param(
            {"use_proxy_protocol": "true"}, (), pp(dst_port=443), "https", id="proxy-port-443"
        ),
        pytest.param(
            {"use_proxy_protocol": "true"}, (), pp(dst_port=80), "http", id="proxy-port-80"
        ),
    ],
)
def test_nginx_forwarded_proto(
    config: dict[str, str],
    headers: tuple[tuple[str, str], ...],
    proxy: ProxyHeader | None,
    scheme: str,
) -> None:
    """$pass_access_scheme per lua_ingress.lua."""
    out = send(nginx(**config), request(*headers, peer=LB, proxy=proxy))
    assert out.header_values("x-forwarded-proto") == (scheme,)


# --------------------------------------------------------------------------- Traefik


def traefik(**config: str) -> TraefikSettings:
    """Traefik settings (``a__b`` spells ``a.b``)."""
    s = settings_of(TRAEFIK, **config)
    assert isinstance(s, TraefikSettings)
    return s


def test_traefik_untrusted_peer_loses_forwarded_headers() -> None:
    """Untrusted: X-Forwarded-* and X-Real-Ip (underscore spellings too) deleted, then set."""
    view = request(
        ("x-forwarded-for", "6.6.6.6"),
        ("x_real_ip", "6.6.6.6"),
        ("x-forwarded-proto", "https"),
        ("user-agent", "curl"),
    )
    result = ingress_forward(traefik(), view, pod_ip=INGRESS_POD, backend=BACKEND, backend_port=80)
    assert result.view is not None
    assert result.view.headers == (
        ("user-agent", "curl"),
        ("x-real-ip", "203.0.113.7"),
        ("x-forwarded-proto", "http"),
        ("x-forwarded-for", "203.0.113.7"),
    )
    assert result.client_seen == CLIENT
    assert any("deleted" in n for n in result.notes)


def test_traefik_untrusted_without_managed_headers_has_no_note() -> None:
    """Nothing deleted, nothing said."""
    result = ingress_forward(
        traefik(), request(), pod_ip=INGRESS_POD, backend=BACKEND, backend_port=80
    )
    assert result.notes == ()


def test_traefik_trusted_peer_appends() -> None:
    """A trusted peer's headers are kept, lines joined, and the peer appended."""
    s = traefik(forwardedHeaders__trustedIPs="198.51.100.0/24")
    view = request(
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-for", "1.1.1.1"),
        ("x-real-ip", "203.0.113.7"),
        ("x-forwarded-proto", "https"),
        peer=CDN,
    )
    out = send(s, view)
    assert out.header_values("x-forwarded-for") == ("203.0.113.7, 1.1.1.1, 198.51.100.10",)
    assert out.header_values("x-real-ip") == ("203.0.113.7",)
    assert out.header_values("x-forwarded-proto") == ("https",)


def test_traefik_not_append_x_forwarded_for() -> None:
    """notAppendXForwardedFor: the joined XFF passes without the peer."""
    s = traefik(forwardedHeaders__insecure="true", forwardedHeaders__notAppendXForwardedFor="true")
    out = send(s, request(("x-forwarded-for", "1.1.1.1"), peer=CDN))
    assert out.header_values("x-forwarded-for") == ("1.1.1.1",)


@pytest.mark.parametrize(
    ("config", "proxy", "remote", "ignored"),
    [
        pytest.param(
            {"proxyProtocol__trustedIPs": "10.0.0.0/8"}, pp(), CLIENT, False, id="trusted-lb-used"
        ),
        pytest.param(
            {"proxyProtocol__trustedIPs": "192.168.0.0/16"},
            pp(),
            LB,
            True,
            id="untrusted-lb-ignored",
        ),
        pytest.param({"proxyProtocol__insecure": "true"}, pp(), CLIENT, False, id="insecure-used"),
        pytest.param(
            {"proxyProtocol__trustedIPs": "10.0.0.0/8"}, LOCAL, LB, False, id="local-header"
        ),
        pytest.param(
            {"proxyProtocol__trustedIPs": "10.0.0.0/8"}, None, LB, False, id="header-optional"
        ),
    ],
)
def test_traefik_proxy_protocol(
    config: dict[str, str], proxy: ProxyHeader | None, remote: IPAddress, ignored: bool
) -> None:
    """go-proxyproto USE for trusted peers (header optional), IGNORE for others."""
    result = ingress_forward(
        traefik(**config),
        request(peer=LB, proxy=proxy),
        pod_ip=INGRESS_POD,
        backend=BACKEND,
        backend_port=80,
    )
    assert result.client_seen == remote
    assert result.view is not None
    assert result.view.header_values("x-forwarded-for") == (str(remote),)
    assert any("ignored" in n for n in result.notes) is ignored


def test_traefik_forwarded_trust_checks_the_proxy_source() -> None:
    """After a used PROXY header the remote address is the client, so its XFF is untrusted."""
    s = traefik(proxyProtocol__trustedIPs="10.0.0.0/8", forwardedHeaders__trustedIPs="10.0.0.0/8")
    out = send(s, request(("x-forwarded-for", "6.6.6.6"), peer=LB, proxy=pp()))
    assert out.header_values("x-forwarded-for") == ("203.0.113.7",)


# --------------------------------------------------------------------------- Envoy


def envoy(**config: str) -> EnvoySettings:
    """Envoy gateway settings."""
    s = settings_of(ENVOY, **config)
    assert isinstance(s, EnvoySettings)
    return s


HEADERS_RST_XFF = "203.0.113.128, 203.0.113.10, 203.0.113.1"
EDGE = ip_address("192.0.2.5")


@pytest.mark.parametrize(
    ("config", "peer", "xff", "trusted", "out_xff", "external"),
    [
        pytest.param(
            {},
            EDGE,
            HEADERS_RST_XFF,
            "192.0.2.5",
            f"{HEADERS_RST_XFF}, 192.0.2.5",
            "192.0.2.5",
            id="headers-rst-example-1",
        ),
        pytest.param(
            {"useRemoteAddress": "false"},
            ip_address("10.11.12.13"),
            f"{HEADERS_RST_XFF}, 192.0.2.5",
            "192.0.2.5",
            f"{HEADERS_RST_XFF}, 192.0.2.5",
            None,
            id="headers-rst-example-2",
        ),
        pytest.param(
            {"xffNumTrustedHops": "2"},
            EDGE,
            HEADERS_RST_XFF,
            "203.0.113.10",
            f"{HEADERS_RST_XFF}, 192.0.2.5",
            "203.0.113.10",
            id="headers-rst-example-3",
        ),
        pytest.param(
            {"useRemoteAddress": "false", "xffNumTrustedHops": "2"},
            ip_address("10.11.12.13"),
            f"{HEADERS_RST_XFF}, 192.0.2.5",
            "203.0.113.10",
            f"{HEADERS_RST_XFF}, 192.0.2.5",
            None,
            id="headers-rst-example-4",
        ),
        pytest.param(
            {"useRemoteAddress": "false"},
            ip_address("10.20.30.40"),
            None,
            "10.20.30.40",
            None,
            None,
            id="headers-rst-example-5",
        ),
        pytest.param(
            {"xffNumTrustedHops": "5"},
            EDGE,
            HEADERS_RST_XFF,
            "192.0.2.5",
            f"{HEADERS_RST_XFF}, 192.0.2.5",
            "192.0.2.5",
            id="too-few-falls-back",
        ),
        pytest.param(
            {"xffNumTrustedHops": "1"},
            EDGE,
            "203.0.113.7:4711",
            "192.0.2.5",
            "203.0.113.7:4711, 192.0.2.5",
            "192.0.2.5",
            id="port-rejected",
        ),
        pytest.param(
            {"skipXffAppend": "true"},
            EDGE,
            "203.0.113.7",
            "192.0.2.5",
            "203.0.113.7",
            "192.0.2.5",
            id="skip-xff-append",
        ),
        pytest.param({}, LB, None, "10.0.1.2", "10.0.1.2", None, id="internal-no-external-address"),
        pytest.param(
            {"numTrustedProxies": "1"},
            LB,
            "203.0.113.7",
            "203.0.113.7",
            "203.0.113.7, 10.0.1.2",
            "203.0.113.7",
            id="istio-gateway-num-trusted-proxies",
        ),
    ],
)
def test_envoy_trusted_client_address(
    config: dict[str, str],
    peer: IPAddress,
    xff: str | None,
    trusted: str,
    out_xff: str | None,
    external: str | None,
) -> None:
    """Envoy's trusted client address and XFF handling (headers.rst examples 1-5)."""
    view = request(*((("x-forwarded-for", xff),) if xff else ()), peer=peer)
    s = envoy(**config)
    assert seen(s, view) == ip_address(trusted)
    out = send(s, view)
    assert out.header_values("x-forwarded-for") == ((out_xff,) if out_xff else ())
    assert out.header_values("x-envoy-external-address") == ((external,) if external else ())


@pytest.mark.parametrize(
    ("config", "proto"),
    [
        pytest.param({}, "http", id="untrusted-proto-overwritten"),
        pytest.param({"xffNumTrustedHops": "1"}, "https", id="trusted-proto-kept"),
    ],
)
def test_envoy_forwarded_proto(config: dict[str, str], proto: str) -> None:
    """x-forwarded-proto is trusted only with xff_num_trusted_hops > 0."""
    out = send(envoy(**config), request(("x-forwarded-proto", "https"), peer=LB))
    assert out.header_values("x-forwarded-proto") == (proto,)


def test_envoy_sets_proto_when_absent_with_trusted_hops() -> None:
    """With N > 0 and no incoming value, the downstream scheme (http) is written."""
    out = send(envoy(xffNumTrustedHops="1"), request(peer=LB))
    assert out.header_values("x-forwarded-proto") == ("http",)


def test_envoy_proxy_protocol() -> None:
    """With the listener filter the PROXY source is the remote address, appended to XFF."""
    s = envoy(proxyProtocol="true")
    out = send(s, request(peer=LB, proxy=pp()))
    assert out.header_values("x-forwarded-for") == ("203.0.113.7",)
    assert seen(s, request(peer=LB, proxy=pp())) == CLIENT
    refused = ingress_forward(
        s, request(peer=LB), pod_ip=INGRESS_POD, backend=BACKEND, backend_port=80
    )
    assert refused.view is None
    assert refused.refused is not None


# --------------------------------------------------------------------------- properties

ADDRESSES = st.ip_addresses(v=4)
CHAINS = st.lists(ADDRESSES, min_size=1, max_size=5).map(lambda xs: ", ".join(map(str, xs)))


@given(CHAINS, ADDRESSES)
def test_appending_controllers_never_drop_incoming_xff(prior: str, peer: IPAddress) -> None:
    """Traefik (trusted), Envoy and nginx with compute-full-forwarded-for keep every element."""
    appenders: list[IngressSettings] = [
        traefik(forwardedHeaders__insecure="true"),
        envoy(),
        nginx(use_forwarded_headers="true", compute_full_forwarded_for="true"),
    ]
    for s in appenders:
        out = send(s, request(("x-forwarded-for", prior), peer=peer))
        elements = xff_list(", ".join(out.header_values("x-forwarded-for")))
        assert elements[:-1] == xff_list(prior)
        assert elements[-1] == str(peer)


@given(CHAINS, ADDRESSES)
def test_replacing_nginx_leaves_exactly_one(prior: str, peer: IPAddress) -> None:
    """Default ingress-nginx sends exactly one XFF element, its $remote_addr."""
    out = send(nginx(), request(("x-forwarded-for", prior), peer=peer))
    assert xff_list(", ".join(out.header_values("x-forwarded-for"))) == [str(peer)]
