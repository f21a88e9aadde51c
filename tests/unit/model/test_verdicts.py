"""Verdicts in words: where the client's address was lost, and spoofability by a forging twin.

Most cases build the hop records directly (the verdict reads only them, the resolution and
the client); the last ones run whole traces to check the twin end to end.
"""

from __future__ import annotations

from fractions import Fraction
from ipaddress import ip_address
from typing import Any

import pytest

from srcip.clientip.resolve import Resolution, resolve
from srcip.clientip.trust import TrustConfig
from srcip.errors import Where
from srcip.manifests import convert_documents
from srcip.model.objects import IPAddress
from srcip.model.scenario import AppSpec, ClientSpec, Scenario
from srcip.model.trace import FORGED, trace
from srcip.model.tracepath import HopRecord, Outcome, PathState
from srcip.model.verdicts import verdict_for
from srcip.proxyproto import Family, ProxyHeader, Transport

CLIENT = ip_address("203.0.113.7")
LB = ip_address("10.0.0.10")
NODE = ip_address("10.0.1.3")
POD = ip_address("10.244.1.5")
SCENARIO = Scenario(name="s")
ME = ClientSpec(name="me", address=CLIENT)
TRUST_ALL = TrustConfig(trusted_proxies=("0.0.0.0/0",), allow_trust_all=True)


def header(src: IPAddress = CLIENT) -> ProxyHeader:
    """A PROXY v2 header naming ``src``."""
    return ProxyHeader(version=2, family=Family.INET, transport=Transport.STREAM, src=src,
                       dst=ip_address("198.51.100.10"), src_port=40000, dst_port=80)  # fmt: skip


def hop(
    name: str,
    kind: str,
    peer: IPAddress,
    *,
    proxy: ProxyHeader | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> HopRecord:
    """One hop record."""
    return HopRecord(name=name, kind=kind, peer=peer, local=POD, proxy=proxy, headers=headers)


def delivered(hops: tuple[HopRecord, ...], resolution: Resolution) -> Outcome:
    """A delivered outcome through ``hops``."""
    state = PathState(client="me", probability=Fraction(1), hops=hops)
    return state.delivered(resolution=resolution)


def app_sees(peer: IPAddress, *headers: tuple[str, str]) -> Resolution:
    """What an app trusting nobody resolves from ``peer``."""
    return resolve(str(peer), headers, TrustConfig())


NOT_DELIVERED = PathState(client="me", probability=Fraction(1), hops=()).refused("the twin")


def verdict(outcome: Outcome, client: ClientSpec = ME, twin: Outcome = NOT_DELIVERED) -> str:
    """The verdict of ``outcome`` with a twin that proves nothing."""
    return verdict_for(outcome, twin, client, SCENARIO, FORGED).verdict


# --------------------------------------------------------------------------- endings


def test_dropped_and_refused_name_the_place() -> None:
    """Dropped and refused outcomes say where, and are never spoofable."""
    state = PathState(client="me", probability=Fraction(1), hops=())
    forged = delivered((), resolve(FORGED, (), TrustConfig()))
    dropped = verdict_for(state.dropped("load balancer: no targets"), forged, ME, SCENARIO, FORGED)
    assert dropped.verdict == "dropped at load balancer: no targets"
    assert not dropped.spoofable
    refused = verdict_for(state.refused("app in pod web-0: 400"), forged, ME, SCENARIO, FORGED)
    assert refused.verdict == "refused at app in pod web-0: 400"
    assert not refused.spoofable


@pytest.mark.parametrize(
    ("resolution", "text"),
    [
        pytest.param(app_sees(CLIENT), "client IP preserved", id="peer"),
        pytest.param(
            resolve(str(LB), (("x-forwarded-for", str(CLIENT)),), TRUST_ALL),
            "client IP preserved (via x-forwarded-for)",
            id="header",
        ),
        pytest.param(
            resolve(str(LB), (), TrustConfig(proxy_protocol_trusted=("0.0.0.0/0",),
                                             allow_trust_all=True), proxy=header()),
            "client IP preserved (via proxy-protocol)",
            id="proxy-header",
        ),
    ],
)  # fmt: skip
def test_preserved_says_how(resolution: Resolution, text: str) -> None:
    """The app resolving the client: preserved, with the source unless it is the peer."""
    outcome = delivered((hop("app", "app", LB),), resolution)
    assert verdict(outcome) == text


def test_unresolvable_client_says_why() -> None:
    """An app that names no client (a garbage hop in a trusted list): the status is given."""
    resolution = resolve(str(LB), (("x-forwarded-for", "garbage"),), TRUST_ALL)
    outcome = delivered((hop("app", "app", LB, headers=(("x-forwarded-for", "garbage"),)),),
                        resolution)  # fmt: skip
    assert outcome.app_client_ip is None
    assert verdict(outcome) == "no client address resolved (invalid_hop)"


def test_an_address_the_client_wrote_itself_is_spoofed() -> None:
    """The app's answer appears in a header the client sent: spoofed, from that header."""
    forger = ClientSpec(name="f", address=CLIENT, headers=(("x-forwarded-for", "1.2.3.4"),))
    xff = (("x-forwarded-for", f"1.2.3.4, {CLIENT}"),)
    outcome = delivered((hop("app", "app", LB, headers=xff),), resolve(str(LB), xff, TRUST_ALL))
    assert verdict(outcome, forger) == (
        "spoofed: the app took 1.2.3.4 from x-forwarded-for, written by the client"
    )


# --------------------------------------------------------------------------- carried to the app


@pytest.mark.parametrize(
    ("app_hop", "where"),
    [
        pytest.param(hop("app", "app", CLIENT), "the TCP peer", id="peer"),
        pytest.param(hop("app", "app", LB, proxy=header()), "the PROXY header", id="proxy"),
        pytest.param(
            hop("app", "app", LB, headers=(
                ("x-forwarded-for", str(CLIENT)), ("x-real-ip", str(CLIENT)),
                ("x-forwarded-for", str(CLIENT)),
            )),
            "x-forwarded-for, x-real-ip",
            id="headers-once-each",
        ),
    ],
)  # fmt: skip
def test_client_reaching_the_app_unused(app_hop: HopRecord, where: str) -> None:
    """The client's address is at the app, but the app resolves something else: say where."""
    hops = (hop("load balancer", "lb/passthrough", CLIENT), app_hop)
    outcome = delivered(hops, app_sees(NODE))
    assert verdict(outcome) == (
        f"client IP reaches the app in {where} but the app resolves {NODE} (direct, source peer)"
    )


# --------------------------------------------------------------------------- lost on the way


@pytest.mark.parametrize(
    ("last", "reason"),
    [
        pytest.param(("kube-proxy on node-2", "kube-proxy"), "SNAT", id="kube-proxy"),
        pytest.param(
            ("pod web-0", "pod"), "the pod's proxy opened a new connection", id="pod"
        ),
        pytest.param(("app", "app"), "the app", id="app"),
        pytest.param(("load balancer", "lb/snat"), "snat mode rewrites the source", id="snat"),
        pytest.param(
            ("load balancer", "lb/passthrough"), "passthrough mode rewrites the source",
            id="passthrough",
        ),
        pytest.param(
            ("load balancer", "lb/proxy"),
            "proxy mode opens a new connection without PROXY protocol or a header", id="proxy",
        ),
        pytest.param(
            ("load balancer", "lb/http"),
            "http mode opens a new connection without PROXY protocol or a header", id="http",
        ),
        pytest.param(
            ("istio sidecar", "sidecar/istio"), "the sidecar re-originates the connection",
            id="sidecar",
        ),
        pytest.param(
            ("nginx (ctl-0)", "ingress-nginx"),
            "it opens a new connection and forwards no client address", id="ingress",
        ),
        pytest.param(
            ("cf", "cdn"), "it opens a new connection and forwards no client address", id="cdn",
        ),
    ],
)  # fmt: skip
def test_loss_is_placed_at_the_last_hop_that_had_the_client(
    last: tuple[str, str], reason: str
) -> None:
    """The hop after the last one that still had the client is where it was lost."""
    name, kind = last
    hops = (hop(name, kind, CLIENT), hop("next", "pod", NODE), hop("app", "app", NODE))
    outcome = delivered(hops, app_sees(NODE))
    assert verdict(outcome) == f"lost at {name}: {reason} (next sees {NODE})"


def test_client_never_on_the_path() -> None:
    """No hop ever had the client's address: it never reached the path."""
    outcome = delivered((hop("app", "app", NODE),), app_sees(NODE))
    assert verdict(outcome) == (
        f"the client's address never reached the path (the app resolves {NODE})"
    )


def test_a_proxy_header_naming_someone_else_does_not_carry_the_client() -> None:
    """A PROXY header whose source is another address is not the client's."""
    hops = (
        hop("load balancer", "lb/proxy", CLIENT),
        hop("app", "app", LB, proxy=header(ip_address("192.0.2.1"))),
    )
    outcome = delivered(hops, app_sees(LB))
    assert verdict(outcome).startswith("lost at load balancer: proxy mode")


# --------------------------------------------------------------------------- the twin


@pytest.mark.parametrize(
    ("twin_ip", "twin_delivered", "spoofable"),
    [
        pytest.param(FORGED, True, True, id="twin-believed"),
        pytest.param(str(LB), True, False, id="twin-not-believed"),
        pytest.param(FORGED, False, False, id="twin-not-delivered"),
    ],
)
def test_spoofable_only_when_the_twin_gets_its_forged_address(
    twin_ip: str, twin_delivered: bool, spoofable: bool
) -> None:
    """Spoofable iff the forging twin is delivered and the app resolves the forged address."""
    resolution = resolve(str(LB), (("x-forwarded-for", str(CLIENT)),), TRUST_ALL)
    outcome = delivered((hop("app", "app", LB),), resolution)
    twin = delivered((), resolve(twin_ip, (), TrustConfig()))
    if not twin_delivered:
        twin = PathState(client="me", probability=Fraction(1), hops=()).dropped("x")
    scenario = Scenario(name="s", app=AppSpec(source="x-real-ip"))
    result = verdict_for(outcome, twin, ME, scenario, FORGED)
    assert result.spoofable is spoofable
    suffix = "; spoofable: the app trusts x-real-ip from an untrusted peer"
    assert result.verdict == "client IP preserved (via x-forwarded-for)" + (
        suffix if spoofable else ""
    )


def _cluster(**spec: Any) -> Any:
    """One Local LoadBalancer Service, one pod on node-1, and a Scenario."""
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
                     "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": "web"}]}}},
        },
        {"apiVersion": "srcip.dev/v1alpha1", "kind": "Scenario", "metadata": {"name": "t"},
         "spec": {"nodes": 1, **spec}},
    ]  # fmt: skip
    return convert_documents(
        (Where(file="t.yaml", document=i), doc) for i, doc in enumerate(documents, start=1)
    )


@pytest.mark.parametrize(
    ("app", "spoofable"),
    [
        pytest.param({"trustedProxies": ["0.0.0.0/0"], "source": "x-real-ip"}, True, id="real-ip"),
        pytest.param({"trustedProxies": ["0.0.0.0/0"]}, True, id="xff-from-everyone"),
        pytest.param({"trustedProxies": ["10.0.0.10"]}, False, id="xff-from-the-lb"),
        pytest.param({}, False, id="trusts-nobody"),
    ],
)
def test_forging_twin_through_an_http_load_balancer(app: dict[str, Any], spoofable: bool) -> None:
    """End to end: the twin writes the app's own source header; trusting everyone is spoofable."""
    cluster = _cluster(loadBalancer={"mode": "http"}, app=app)
    (item,) = trace(cluster).services
    (outcome,) = item.outcomes
    assert outcome.spoofable is spoofable
    assert ("spoofable" in outcome.verdict) is spoofable


def test_a_garbage_header_resolves_nothing_end_to_end() -> None:
    """A client sending an unparsable X-Forwarded-For to an app trusting all: no address."""
    client = {"address": str(CLIENT), "headers": {"X-Forwarded-For": "garbage"}}
    cluster = _cluster(loadBalancer={"mode": "http"}, clients=[client],
                       app={"trustedProxies": ["0.0.0.0/0"]})  # fmt: skip
    (item,) = trace(cluster).services
    (outcome,) = item.outcomes
    assert outcome.delivered
    assert outcome.app_client_ip is None
    assert outcome.verdict == "no client address resolved (invalid_hop)"
    assert not outcome.spoofable
