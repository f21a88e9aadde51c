"""Provider presets: annotations → effective load balancer settings, with provenance."""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_address

import pytest

from srcip.model.loadbalancer import EffectiveLoadBalancer
from srcip.model.objects import KubeProxyConfig, Node, Service, ServicePort
from srcip.model.provider_presets import seconds
from srcip.model.providers import PROVIDERS, effective_load_balancer, infer_provider
from srcip.model.scenario import (
    Announcement,
    HealthCheckProtocol,
    HealthCheckSpec,
    HealthCheckTarget,
    LoadBalancerMode,
    LoadBalancerSpec,
    ProxyProtocolVersion,
    TargetType,
    Weighting,
)
from tests import factories as f

LB = ip_address("198.51.100.1")
AWS = "service.beta.kubernetes.io/aws-load-balancer-"
AZ = "service.beta.kubernetes.io/"
DO = "service.beta.kubernetes.io/do-loadbalancer-"
LIN = "service.beta.kubernetes.io/linode-loadbalancer-"
HZ = "load-balancer.hetzner.cloud/"
SCW = "service.beta.kubernetes.io/scw-loadbalancer-"
OS = "loadbalancer.openstack.org/"


def svc(
    etp: str = "Local",
    annotations: dict[str, str] | None = None,
    *,
    app_protocol: str | None = None,
    cls: str | None = None,
) -> Service:
    base = f.service(
        "web",
        type="LoadBalancer",
        cluster_ip="10.96.0.10",
        ports=(f.port(80, node_port=30080, target_port=8080),),
        etp=etp,
        lb_ips=("192.0.2.10",),
        hc_node_port=32000 if etp == "Local" else 0,
    )
    port = replace(base.ports[0], app_protocol=app_protocol)
    return replace(
        base,
        ports=(port,),
        annotations=tuple((annotations or {}).items()),
        load_balancer_class=cls,
    )


def resolve(service: Service, provider: str | None = None, **spec: object) -> EffectiveLoadBalancer:
    return effective_load_balancer(
        service,
        LoadBalancerSpec(provider=provider, **spec),
        address=LB,  # type: ignore[arg-type]
    )


def source(lb: EffectiveLoadBalancer, name: str) -> str:
    setting = lb.setting(name)
    assert setting is not None, name
    return setting.source


# --------------------------------------------------------------------------- table

V1, V2, OFF = ProxyProtocolVersion.V1, ProxyProtocolVersion.V2, ProxyProtocolVersion.OFF
PT, SNAT, PROXY, HTTP = (
    LoadBalancerMode.PASSTHROUGH,
    LoadBalancerMode.SNAT,
    LoadBalancerMode.PROXY,
    LoadBalancerMode.HTTP,
)
HCNP, HEALTHZ, TRAFFIC, PORT = (
    HealthCheckTarget.HEALTH_CHECK_NODE_PORT,
    HealthCheckTarget.PROXY_HEALTHZ,
    HealthCheckTarget.TRAFFIC_PORT,
    HealthCheckTarget.PORT,
)
H, T, S = HealthCheckProtocol.HTTP, HealthCheckProtocol.TCP, HealthCheckProtocol.HTTPS
VIP, NP, POD = TargetType.VIP, TargetType.NODE_PORT, TargetType.POD

# provider, etp, annotations, app protocol →
#   mode, proxy, targets, hc protocol, hc target, hc port, interval, unhealthy
CASES = [
    pytest.param("gke", "Local", {}, None, PT, OFF, VIP, H, HCNP, 32000, 3, 2, id="gke-local"),
    pytest.param("gke", "Cluster", {}, None, PT, OFF, VIP, H, HEALTHZ, 10256, 8, 3, id="gke-cluster"),
    pytest.param("aws-clb", "Cluster", {}, None, PROXY, OFF, NP, T, TRAFFIC, 30080, 10, 6, id="clb-cluster"),
    pytest.param(
        "aws-clb", "Local", {f"{AWS}proxy-protocol": "*"}, None,
        PROXY, V1, NP, H, HCNP, 32000, 10, 6, id="clb-proxy-v1",
    ),
    pytest.param(
        "aws-clb", "Cluster", {f"{AWS}backend-protocol": "http"}, None,
        HTTP, OFF, NP, T, TRAFFIC, 30080, 10, 6, id="clb-http",
    ),
    pytest.param("aws-nlb", "Local", {}, None, PT, OFF, NP, H, HCNP, 32000, 10, 2, id="nlb-intree-local"),
    pytest.param("aws-nlb", "Cluster", {}, None, PT, OFF, NP, T, TRAFFIC, 30080, 10, 2, id="nlb-intree-cluster"),
    pytest.param(
        "aws-nlb-instance", "Local", {}, None, PT, OFF, NP, H, HCNP, 32000, 10, 2, id="lbc-instance-local"
    ),
    pytest.param(
        "aws-nlb-instance", "Cluster",
        {f"{AWS}target-group-attributes": "preserve_client_ip.enabled=false,proxy_protocol_v2.enabled=true"},
        None, SNAT, V2, NP, T, TRAFFIC, 30080, 10, 3, id="lbc-instance-issue-17-fix",
    ),
    pytest.param("aws-nlb-ip", "Local", {}, None, SNAT, OFF, POD, T, TRAFFIC, 0, 10, 3, id="lbc-ip-issue-18"),
    pytest.param(
        "aws-nlb-ip", "Cluster", {f"{AWS}target-group-attributes": "preserve_client_ip.enabled=true"},
        None, PT, OFF, POD, T, TRAFFIC, 0, 10, 3, id="lbc-ip-preserve",
    ),
    pytest.param("azure", "Local", {}, None, PT, OFF, VIP, H, HCNP, 32000, 5, 2, id="azure-local"),
    pytest.param("azure", "Cluster", {}, None, PT, OFF, VIP, T, TRAFFIC, 30080, 5, 2, id="azure-cluster-tcp"),
    pytest.param("azure", "Cluster", {}, "http", PT, OFF, VIP, H, TRAFFIC, 30080, 5, 2, id="azure-issue-20"),
    pytest.param(
        "azure", "Cluster", {f"{AZ}azure-disable-load-balancer-floating-ip": "true"}, None,
        PT, OFF, NP, T, TRAFFIC, 30080, 5, 2, id="azure-no-floating-ip",
    ),
    pytest.param("digitalocean", "Local", {}, None, PT, OFF, NP, H, HCNP, 32000, 3, 3, id="do-local"),
    pytest.param("digitalocean", "Cluster", {}, None, PT, OFF, NP, H, HEALTHZ, 10256, 3, 3, id="do-cluster"),
    pytest.param(
        "digitalocean", "Local",
        {f"{DO}type": "REGIONAL", f"{DO}enable-proxy-protocol": "true"}, None,
        PROXY, V1, NP, H, HCNP, 32000, 3, 3, id="do-regional-issue-2",
    ),
    pytest.param("linode", "Cluster", {}, None, PROXY, OFF, NP, T, TRAFFIC, 30080, 5, 2, id="linode"),
    pytest.param(
        "linode", "Cluster", {f"{LIN}default-proxy-protocol": "v2"}, None,
        PROXY, V2, NP, T, TRAFFIC, 30080, 5, 2, id="linode-v2",
    ),
    pytest.param("hetzner", "Local", {}, None, PROXY, OFF, NP, T, TRAFFIC, 30080, 15, 3, id="hetzner-local"),
    pytest.param(
        "hetzner", "Cluster", {f"{HZ}uses-proxyprotocol": "true"}, None,
        PROXY, V1, NP, T, TRAFFIC, 30080, 15, 3, id="hetzner-issue-3",
    ),
    pytest.param("scaleway", "Cluster", {}, None, PROXY, OFF, NP, T, TRAFFIC, 30080, 5, 5, id="scaleway"),
    pytest.param(
        "scaleway", "Cluster", {f"{SCW}proxy-protocol-v2": "80,443"}, None,
        PROXY, V2, NP, T, TRAFFIC, 30080, 5, 5, id="scaleway-v2-ports",
    ),
    pytest.param("openstack", "Local", {}, None, PROXY, OFF, NP, H, HCNP, 32000, 5, 3, id="openstack-local"),
    pytest.param(
        "openstack", "Cluster", {f"{OS}proxy-protocol": "v2"}, None,
        PROXY, V2, NP, T, TRAFFIC, 30080, 5, 3, id="openstack-v2",
    ),
    pytest.param("metallb-l2", "Local", {}, None, PT, OFF, VIP, H, HCNP, 32000, 0, 1, id="metallb-l2"),
    pytest.param("metallb-bgp", "Cluster", {}, None, PT, OFF, VIP, T, TRAFFIC, 30080, 0, 1, id="metallb-bgp"),
    pytest.param("k3s", "Cluster", {}, None, SNAT, OFF, NP, T, TRAFFIC, 30080, 5, 2, id="k3s"),
    pytest.param("kind", "Cluster", {}, None, PROXY, OFF, NP, T, TRAFFIC, 30080, 5, 2, id="kind"),
    pytest.param("generic", "Local", {}, None, PT, OFF, VIP, H, HCNP, 32000, 5, 2, id="generic-local"),
    pytest.param(None, "Cluster", {}, None, PT, OFF, VIP, T, TRAFFIC, 30080, 5, 2, id="none-cluster"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "etp", "annotations", "app", "mode", "proxy", "targets", "protocol", "target",
     "port", "interval", "unhealthy"),
    CASES,
)  # fmt: skip
def test_preset_table(
    provider: str | None,
    etp: str,
    annotations: dict[str, str],
    app: str | None,
    mode: LoadBalancerMode,
    proxy: ProxyProtocolVersion,
    targets: TargetType,
    protocol: HealthCheckProtocol,
    target: HealthCheckTarget,
    port: int,
    interval: float,
    unhealthy: int,
) -> None:
    """Each preset turns its provider's defaults and annotations into the documented LB."""
    lb = resolve(svc(etp, annotations, app_protocol=app), provider)
    hc = lb.health_check
    got = (lb.mode, lb.proxy_protocol, lb.targets, hc.protocol, hc.target, hc.port)
    assert got == (mode, proxy, targets, protocol, target, port)
    assert (hc.interval_seconds, hc.unhealthy_threshold) == (interval, unhealthy)


def test_providers_constant_lists_every_preset_with_a_description() -> None:
    """PROVIDERS names every accepted provider with a one-line description."""
    assert "gke" in PROVIDERS
    assert "generic" in PROVIDERS
    assert len(PROVIDERS) == 16
    assert all(desc and "\n" not in desc for desc in PROVIDERS.values())


# --------------------------------------------------------------------------- provenance


def test_annotation_provenance_names_key_and_value() -> None:
    """A setting from an annotation names the annotation and its value."""
    lb = resolve(svc("Cluster", {f"{AWS}proxy-protocol": "*"}), "aws-clb")
    assert source(lb, "proxyProtocol") == f"annotation {AWS}proxy-protocol=*"
    assert source(lb, "mode").startswith("provider aws-clb default")
    assert source(lb, "weighting") == "srcip default"
    assert lb.setting("nope") is None


def test_spec_fields_override_presets_and_say_so() -> None:
    """Fields set in spec.loadBalancer win over the preset, with their path as source."""
    hc = HealthCheckSpec(interval_seconds=2, port=31999)
    lb = resolve(svc("Local"), "gke", mode=LoadBalancerMode.SNAT, health_check=hc)
    assert lb.mode is LoadBalancerMode.SNAT
    assert source(lb, "mode") == "spec.loadBalancer.mode"
    assert lb.health_check.target is PORT
    assert lb.health_check.port == 31999
    assert (
        source(lb, "healthCheck.intervalSeconds") == "spec.loadBalancer.healthCheck.intervalSeconds"
    )


def test_spec_address_overrides_the_default_address() -> None:
    """spec.address becomes the LB's address and is recorded as such."""
    lb = resolve(svc(), None, address=ip_address("192.0.2.99"))
    assert lb.address == ip_address("192.0.2.99")
    assert source(lb, "address") == "spec.loadBalancer.address"
    assert resolve(svc(), None).address == LB


def test_healthz_port_comes_from_the_kube_proxy_config() -> None:
    """The proxyHealthz target resolves to the configured healthzPort."""
    lb = effective_load_balancer(
        svc("Cluster"), LoadBalancerSpec(provider="gke"), address=LB,
        proxy_config=KubeProxyConfig(healthz_port=10999),
    )  # fmt: skip
    assert lb.health_check.port == 10999


def test_traffic_port_without_node_port_is_the_service_port() -> None:
    """allocateLoadBalancerNodePorts false: the traffic port is the service port (VIP)."""
    service = replace(svc("Cluster"), ports=(ServicePort(port=80),))
    assert resolve(service, None).health_check.port == 80
    assert resolve(replace(service, ports=()), None).health_check.port == 0


# --------------------------------------------------------------------------- GKE


def test_gke_weighted_pods_per_node_with_local() -> None:
    """GKE pods-per-node weighting applies with Local."""
    ann = {"networking.gke.io/weighted-load-balancing": "pods-per-node"}
    lb = resolve(svc("Local", ann), "gke")
    assert lb.weighting is Weighting.ENDPOINTS
    assert "weighted-load-balancing=pods-per-node" in source(lb, "weighting")


def test_gke_weighted_with_cluster_quotes_the_controller_event() -> None:
    """With Cluster the annotation has no effect, as the controller's event says."""
    ann = {"networking.gke.io/weighted-load-balancing": "pods-per-node"}
    lb = resolve(svc("Cluster", ann), "gke")
    assert lb.weighting is Weighting.EQUAL
    assert any("has no effect with External Traffic Policy: Cluster" in n for n in lb.notes)


# --------------------------------------------------------------------------- AWS


def test_lbc_proxy_v2_with_local_breaks_the_health_check() -> None:
    """LBC PROXY v2 + instance + Local: the HTTP probe to kube-proxy carries PROXY (note)."""
    lb = resolve(svc("Local", {f"{AWS}proxy-protocol": "*"}), "aws-nlb-instance")
    assert lb.proxy_protocol is V2
    assert lb.health_check.sends_proxy_header
    assert any("cannot parse" in n for n in lb.notes)


def test_lbc_per_target_group_proxy_and_cross_zone_attribute() -> None:
    """Per-target-group PROXY for the first port; cross-zone from the LB attributes."""
    ann = {
        f"{AWS}proxy-protocol-per-target-group": "80, 443",
        f"{AWS}attributes": "load_balancing.cross_zone.enabled=true",
    }
    lb = resolve(svc("Cluster", ann), "aws-nlb-instance")
    assert lb.proxy_protocol is V2
    assert lb.cross_zone
    off = resolve(
        svc("Cluster", {f"{AWS}attributes": "deletion_protection.enabled=true"}), "aws-nlb-ip"
    )
    assert not off.cross_zone


def test_aws_health_check_annotations() -> None:
    """aws-load-balancer-healthcheck-* keys override the defaults."""
    ann = {
        f"{AWS}healthcheck-protocol": "http",
        f"{AWS}healthcheck-port": "8081",
        f"{AWS}healthcheck-interval": "5",
        f"{AWS}healthcheck-timeout": "bogus",
        f"{AWS}healthcheck-healthy-threshold": "4",
        f"{AWS}healthcheck-unhealthy-threshold": "x",
        f"{AWS}healthcheck-success-codes": "200-299",
    }
    lb = resolve(svc("Cluster", ann), "aws-nlb-instance")
    hc = lb.health_check
    assert (hc.protocol, hc.target, hc.port, hc.path) == (H, PORT, 8081, "/")
    assert (hc.interval_seconds, hc.timeout_seconds, hc.healthy_threshold) == (5, 10, 4)
    assert hc.success_codes == (200, 299)
    assert len([n for n in lb.notes if "ignored" in n]) == 2


def test_aws_health_check_path_and_traffic_port_and_single_code() -> None:
    """Explicit path, traffic-port and a single success code."""
    ann = {
        f"{AWS}healthcheck-port": "traffic-port",
        f"{AWS}healthcheck-protocol": "HTTP",
        f"{AWS}healthcheck-path": "/ready",
        f"{AWS}healthcheck-success-codes": "200",
    }
    hc = resolve(svc("Local", ann), "aws-nlb-instance").health_check
    assert (hc.target, hc.path, hc.success_codes) == (TRAFFIC, "/ready", (200, 200))
    bad = resolve(svc("Local", {f"{AWS}healthcheck-success-codes": "ok"}), "aws-nlb-instance")
    assert bad.health_check.success_codes == (200, 399)
    tcp = resolve(svc("Local", {f"{AWS}healthcheck-protocol": "udp"}), "aws-nlb-instance")
    assert tcp.health_check.protocol is H


def test_clb_cross_zone_annotation() -> None:
    """The in-tree cross-zone annotation turns cross-zone on."""
    ann = {f"{AWS}cross-zone-load-balancing-enabled": "true"}
    assert resolve(svc("Cluster", ann), "aws-clb").cross_zone
    assert not resolve(svc("Cluster"), "aws-clb").cross_zone


def test_intree_nlb_proxy_annotation_is_noted() -> None:
    """The proxy-protocol annotation on the in-tree NLB is noted, PROXY stays off."""
    lb = resolve(svc("Cluster", {f"{AWS}proxy-protocol": "*"}), "aws-nlb")
    assert lb.proxy_protocol is OFF
    assert any("Classic ELB only" in n for n in lb.notes)


# --------------------------------------------------------------------------- Azure


def test_azure_probe_path_and_per_port_overrides() -> None:
    """Request path, per-port protocol, interval and probe count annotations (issue 20 fix)."""
    ann = {
        f"{AZ}azure-load-balancer-health-probe-request-path": "/healthz",
        f"{AZ}port_80_health-probe_interval": "10",
        f"{AZ}azure-load-balancer-health-probe-num-of-probe": "3",
    }
    lb = resolve(svc("Cluster", ann, app_protocol="http"), "azure")
    hc = lb.health_check
    assert (hc.protocol, hc.path, hc.interval_seconds, hc.unhealthy_threshold) == (
        H,
        "/healthz",
        10,
        3,
    )
    assert "appProtocol http" in source(lb, "healthCheck.protocol")
    per_port = resolve(svc("Cluster", {f"{AZ}port_80_health-probe_protocol": "https"}), "azure")
    assert per_port.health_check.protocol is S
    assert per_port.health_check.path == "/"
    glob = resolve(
        svc("Cluster", {f"{AZ}azure-load-balancer-health-probe-protocol": "Http"}), "azure"
    )
    assert glob.health_check.protocol is H


def test_azure_private_link_proxy_protocol_is_a_note() -> None:
    """PLS PROXY protocol is noted, not applied to the LB's own clients."""
    lb = resolve(svc("Cluster", {f"{AZ}azure-pls-proxy-protocol": "true"}), "azure")
    assert lb.proxy_protocol is OFF
    assert any("Private Link" in n for n in lb.notes)


# --------------------------------------------------------------------------- others


def test_digitalocean_override_health_check() -> None:
    """do-loadbalancer-override-health-check reads the manual health-check keys."""
    ann = {
        f"{DO}override-health-check": "true",
        f"{DO}healthcheck-protocol": "http",
        f"{DO}healthcheck-path": "/ping",
        f"{DO}healthcheck-port": "31000",
        f"{DO}healthcheck-check-interval-seconds": "10",
        f"{DO}type": "REGIONAL",
        f"{DO}protocol": "http",
    }
    lb = resolve(svc("Local", ann), "digitalocean")
    hc = lb.health_check
    assert (lb.mode, hc.protocol, hc.target, hc.port, hc.path, hc.interval_seconds) == (
        HTTP, H, PORT, 31000, "/ping", 10,
    )  # fmt: skip
    tcp = resolve(
        svc("Local", {f"{DO}override-health-check": "true", f"{DO}healthcheck-path": "/x"}),
        "digitalocean",
    )
    assert (tcp.health_check.protocol, tcp.health_check.path) == (T, None)


def test_linode_checks() -> None:
    """Linode check-type http/none, path and the default protocol annotation."""
    ann = {f"{LIN}check-type": "http", f"{LIN}check-path": "/up", f"{LIN}default-protocol": "http"}
    lb = resolve(svc("Cluster", ann), "linode")
    assert (lb.mode, lb.health_check.protocol, lb.health_check.path) == (HTTP, H, "/up")
    assert not resolve(svc("Cluster", {f"{LIN}check-type": "none"}), "linode").health_check.enabled
    plain = resolve(svc("Cluster", {f"{LIN}check-type": "http_body"}), "linode")
    assert plain.health_check.path == "/"


def test_hetzner_health_check_annotations() -> None:
    """Hetzner health-check protocol, port, path and durations."""
    ann = {
        f"{HZ}health-check-protocol": "http",
        f"{HZ}health-check-port": "31001",
        f"{HZ}health-check-http-path": "/healthz",
        f"{HZ}health-check-interval": "3s",
        f"{HZ}health-check-timeout": "500ms",
        f"{HZ}protocol": "http",
    }
    lb = resolve(svc("Local", ann), "hetzner")
    hc = lb.health_check
    assert (lb.mode, hc.protocol, hc.port, hc.path, hc.interval_seconds, hc.timeout_seconds) == (
        HTTP, H, 31001, "/healthz", 3, 0.5,
    )  # fmt: skip


def test_scaleway_per_port_health_check_and_http() -> None:
    """Scaleway per-port type and URI syntax; protocol-http."""
    ann = {
        f"{SCW}health-check-type": "80:http;443:https",
        f"{SCW}health-check-http-uri": "80:/ready;443:/",
        f"{SCW}protocol-http": "*",
        f"{SCW}send-proxy-v2": "true",
        f"{SCW}health-check-delay": "2m",
    }
    lb = resolve(svc("Cluster", ann), "scaleway")
    hc = lb.health_check
    assert (lb.mode, lb.proxy_protocol, hc.protocol, hc.path, hc.interval_seconds) == (
        HTTP, V2, H, "/ready", 120,
    )  # fmt: skip
    other = resolve(svc("Cluster", {f"{SCW}health-check-type": "443:http"}), "scaleway")
    assert other.health_check.protocol is T
    http = resolve(svc("Cluster", {f"{SCW}health-check-type": "http"}), "scaleway")
    assert http.health_check.path == "/"
    off = resolve(svc("Cluster", {f"{SCW}proxy-protocol-v1": "443"}), "scaleway")
    assert off.proxy_protocol is OFF


def test_openstack_monitor_switch_and_timings() -> None:
    """OpenStack enable-health-monitor false disables the probe; monitor keys read."""
    ann = {f"{OS}enable-health-monitor": "false", f"{OS}proxy-protocol": "true"}
    lb = resolve(svc("Cluster", ann), "openstack")
    assert not lb.health_check.enabled
    assert lb.proxy_protocol is V1


def test_metallb_announcement_and_k3s_source() -> None:
    """MetalLB L2 announces from one node; k3s snats from each node itself."""
    assert resolve(svc("Local"), "metallb-l2").announcement is Announcement.L2
    assert resolve(svc("Local"), "metallb-bgp").announcement is Announcement.ALL
    assert not resolve(svc("Cluster"), "metallb-l2").health_check.enabled
    k3s = resolve(svc("Cluster"), "k3s")
    assert k3s.source_per_target
    assert not k3s.health_check.enabled


def test_kind_notes_ip_mode_proxy() -> None:
    """cloud-provider-kind is a proxy and the note says ipMode Proxy."""
    assert any("ipMode: Proxy" in n for n in resolve(svc("Cluster"), "kind").notes)


# --------------------------------------------------------------------------- notes


def test_notes_for_contradictions() -> None:
    """Weighting with Cluster, pod targets without support, hcnp without a port."""
    lb = resolve(svc("Cluster"), "hetzner", weighting=Weighting.ENDPOINTS, targets=POD)
    assert any("needs externalTrafficPolicy: Local" in n for n in lb.notes)
    assert any("has no pod IP targets" in n for n in lb.notes)
    hc = HealthCheckSpec(target=HCNP)
    assert any("has none" in n for n in resolve(svc("Cluster"), None, health_check=hc).notes)


# --------------------------------------------------------------------------- inference


def node(provider_id: str | None) -> Node:
    return replace(f.node("n1", "10.0.1.2"), provider_id=provider_id)


@pytest.mark.parametrize(
    ("annotations", "cls", "provider_id", "expected"),
    [
        pytest.param({}, "service.k8s.aws/nlb", None, "aws-nlb-instance", id="class-lbc"),
        pytest.param({f"{AWS}nlb-target-type": "ip"}, "service.k8s.aws/nlb", None, "aws-nlb-ip", id="class-lbc-ip"),
        pytest.param({}, "networking.gke.io/l4-regional-external", None, "gke", id="class-gke"),
        pytest.param({f"{AWS}type": "nlb"}, None, None, "aws-nlb", id="intree-nlb"),
        pytest.param({f"{AWS}type": "external"}, None, None, "aws-nlb-instance", id="lbc-external"),
        pytest.param({f"{AWS}type": "nlb-ip"}, None, None, "aws-nlb-ip", id="lbc-nlb-ip"),
        pytest.param({f"{AWS}nlb-target-type": "instance"}, None, None, "aws-nlb-instance", id="lbc-target"),
        pytest.param({f"{AWS}proxy-protocol": "*"}, None, None, "aws-clb", id="clb"),
        pytest.param({f"{AZ}azure-load-balancer-internal": "true"}, None, None, "azure", id="azure"),
        pytest.param({"metallb.io/address-pool": "p"}, None, None, "metallb-l2", id="metallb"),
        pytest.param({"cloud.google.com/l4-rbs": "enabled"}, None, None, "gke", id="gke-ann"),
        pytest.param({}, "example.com/other", "hcloud://42", "hetzner", id="node-hcloud"),
        pytest.param({}, None, "k3s://n1", "k3s", id="node-k3s"),
        pytest.param({}, None, "bare://x", None, id="unknown-node"),
        pytest.param({}, None, None, None, id="nothing"),
    ],
)  # fmt: skip
def test_infer_provider(
    annotations: dict[str, str], cls: str | None, provider_id: str | None, expected: str | None
) -> None:
    """Class, annotation prefixes and node providerIDs, in that order."""
    service = svc("Cluster", annotations, cls=cls)
    got, why = infer_provider(service, (node(None), node(provider_id)))
    assert got == expected
    assert why


def test_inferred_provider_is_recorded() -> None:
    """The provider setting says how it was inferred."""
    lb = effective_load_balancer(
        svc("Local"), LoadBalancerSpec(), nodes=(node("gce://p/z/n"),), address=LB
    )
    assert lb.provider == "gke"
    assert "providerID" in source(lb, "provider")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", 10.0), ("10s", 10.0), ("1m", 60.0), ("250ms", 0.25), ("1h", 3600.0), ("x", None)],
)
def test_seconds(text: str, expected: float | None) -> None:
    """Go-style single-unit durations."""
    assert seconds(text) == expected
