"""The §6 findings on AWS NLBs, ingress-nginx auth-url and the dataplane under Local."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from srcip.doctor import Diagnosis, Finding, Severity
from srcip.doctor.checks_ecosystem2 import image_version
from tests.unit.doctor.editing import Edit, diagnose_edited

FIXTURES = Path(__file__).parent / "fixtures"


AWS_WEB = ("nodes-aws", "app-web-spread")
METAL_WEB = ("nodes-metal", "app-web-spread", "metallb-bgp")
NGINX_NLB = ("nodes-aws", "ingress-nginx-aws-nlb-proxy")
AUTH = ("ingress-auth-url-same-host",)
WEAVE = (*METAL_WEB, "weave-net")
ROUTER = (*AWS_WEB, "svc-web-aws-nlb-local-hcnp", "kube-router-service-proxy")
CILIUM_OLD = (*METAL_WEB, "cilium-v1.6")
INTERNAL = (*AWS_WEB, "svc-web-aws-nlb-internal")
IP_PRESERVE = (*AWS_WEB, "svc-web-aws-nlb-ip-preserve")
AWS = "service.beta.kubernetes.io/aws-load-balancer-"
AUTH_URL = "nginx.ingress.kubernetes.io/auth-url"


def run(files: tuple[str, ...], *edits: tuple[str, str, Edit]) -> Diagnosis:
    """Diagnose fixtures after each ``(kind, name, edit)`` changed that object in place."""
    return diagnose_edited([FIXTURES / f"{f}.yaml" for f in files], *edits)


def of_kind(result: Diagnosis, kind: str) -> list[Finding]:
    """The findings of ``kind``."""
    return [f for f in result.findings if f.kind == kind]


def only(result: Diagnosis, kind: str) -> Finding:
    """The single finding of ``kind``."""
    found = of_kind(result, kind)
    assert len(found) == 1, [f.kind for f in result.findings]
    return found[0]


def annotate(**values: str | None) -> Edit:
    """An edit that sets (or, with None, removes) metadata.annotations keys (``_`` → ``-``)."""

    def edit(obj: dict[str, Any]) -> None:
        annotations = obj["metadata"].setdefault("annotations", {})
        for key, value in values.items():
            full = key if "/" in key else AWS + key.replace("_", "-")
            if value is None:
                annotations.pop(full, None)
            else:
                annotations[full] = value

    return edit


def container(index: int = -1, *, image: str | None = None, env: dict[str, str] | None = None,
              args: list[str] | None = None) -> Edit:  # fmt: skip
    """An edit of a pod template's container (``index`` into containers)."""

    def edit(obj: dict[str, Any]) -> None:
        spec = obj["spec"]["template"]["spec"]
        item = spec["containers"][index]
        if image is not None:
            item["image"] = image
            for init in spec.get("initContainers", []):
                init["image"] = image
        if env is not None:
            item["env"] = [{"name": k, "value": v} for k, v in env.items()]
        if args is not None:
            item["args"] = args

    return edit


def data(**values: str) -> Edit:
    """An edit that merges ``values`` (``_`` → ``-``) into a ConfigMap's data."""

    def edit(obj: dict[str, Any]) -> None:
        obj.setdefault("data", {}).update({k.replace("_", "-"): v for k, v in values.items()})

    return edit


def spec(**values: Any) -> Edit:
    """An edit that sets (or, with None, removes) Service spec fields."""

    def edit(obj: dict[str, Any]) -> None:
        for key, value in values.items():
            if value is None:
                obj["spec"].pop(key, None)
            else:
                obj["spec"][key] = value

    return edit


CLUSTER = spec(externalTrafficPolicy="Cluster", healthCheckNodePort=None)

# --------------------------------------------------------------------------- one per kind

CASES = [
    pytest.param(
        NGINX_NLB,
        "nlb-tcp-health-check-proxy",
        Severity.INFO,
        ("health check protocol", "tcp (provider aws-nlb-instance default)"),
        f"{AWS}healthcheck-protocol=http",
        id="nlb-tcp-health-check-proxy",
    ),
    pytest.param(
        AUTH,
        "auth-url-same-host",
        Severity.ERROR,
        ("served by the same controller", "Ingress auth/oauth2-proxy host auth.example.com"),
        f"{AUTH_URL}=http://<auth-service>.<namespace>.svc.cluster.local/oauth2/auth",
        id="auth-url-same-host",
    ),
    pytest.param(
        WEAVE,
        "cni-masquerade-local",
        Severity.WARNING,
        ("DaemonSet kube-system/weave-net env NO_MASQ_LOCAL", "(unset)"),
        "kubectl -n kube-system set env daemonset/weave-net -c weave NO_MASQ_LOCAL=1",
        id="cni-masquerade-local",
    ),
    pytest.param(
        ROUTER,
        "no-health-check-server",
        Severity.ERROR,
        ("DaemonSet kube-system/kube-router image", "docker.io/cloudnativelabs/kube-router:v2.0.1"),
        "kube-router=docker.io/cloudnativelabs/kube-router:v2.1.0",
        id="no-health-check-server",
    ),
    pytest.param(
        CILIUM_OLD,
        "old-cilium-local",
        Severity.WARNING,
        (
            "DaemonSet kube-system/cilium container cilium-agent image",
            "docker.io/cilium/cilium:v1.6.3",
        ),
        "helm upgrade cilium cilium/cilium -n kube-system",
        id="old-cilium-local",
    ),
    pytest.param(
        INTERNAL,
        "aws-nlb-hairpin",
        Severity.WARNING,
        (
            "scheme",
            "internal (LB controller default, --default-load-balancer-scheme=internal)",
        ),
        f"{AWS}target-group-attributes=preserve_client_ip.enabled=false,proxy_protocol_v2.enabled=true",
        id="aws-nlb-hairpin",
    ),
    pytest.param(
        IP_PRESERVE,
        "aws-preserve-client-ip-sg",
        Severity.INFO,
        ("spec.loadBalancerSourceRanges", "(unset)"),
        '"loadBalancerSourceRanges":["<client CIDR>"]',
        id="aws-preserve-client-ip-sg",
    ),
]


@pytest.mark.parametrize(("files", "kind", "severity", "evidence", "fix"), CASES)
def test_finding(
    files: tuple[str, ...], kind: str, severity: Severity, evidence: tuple[str, str], fix: str
) -> None:
    """The dump produces the finding with the fields it read and a concrete fix."""
    finding = only(run(files), kind)
    assert finding.severity is severity
    assert evidence in finding.evidence, finding.evidence
    assert fix in finding.fix
    assert finding.explanation
    assert finding.references


CLEAN = [
    pytest.param((*METAL_WEB, "weave-net-no-masq-local"), id="weave-with-no-masq-local"),
    pytest.param(
        (*METAL_WEB, "cilium-kpr-dsr", "cilium-daemonset-v1.16"), id="current-cilium-metallb"
    ),
    pytest.param(
        (
            "nodes-gke",
            "app-web-spread",
            "svc-web-gke-local",
            "cilium-kpr-dsr",
            "cilium-daemonset-v1.16",
        ),
        id="current-cilium-gke-local",
    ),
]


@pytest.mark.parametrize("files", CLEAN)
def test_clean(files: tuple[str, ...]) -> None:
    """A healthy setup produces no warning and no error."""
    result = run(files)
    assert result.services
    assert not result.has_finding_at(Severity.WARNING), [f.title for f in result.findings]


# --------------------------------------------------------------------------- #5


def test_nlb_tcp_check_names_the_listener() -> None:
    """The evidence includes the ingress-nginx ConfigMap that turns PROXY on."""
    finding = only(run(NGINX_NLB), "nlb-tcp-health-check-proxy")
    assert (
        "ConfigMap ingress-nginx/ingress-nginx-controller use-proxy-protocol",
        "true",
    ) in finding.evidence
    assert ("load balancer proxyProtocol", f"v2 (annotation {AWS}proxy-protocol=*)") in (
        finding.evidence
    )


def _numeric_target_port(obj: dict[str, Any]) -> None:
    annotate(nlb_target_type="ip", healthcheck_port="8080")(obj)
    obj["spec"]["ports"][0]["targetPort"] = 8080


NLB_PROXY_EDITS = [
    pytest.param(annotate(healthcheck_protocol="http"), False, id="http-health-check"),
    pytest.param(annotate(proxy_protocol=None), False, id="no-proxy-protocol"),
    pytest.param(annotate(healthcheck_port="31080"), True, id="explicit-traffic-node-port"),
    pytest.param(annotate(healthcheck_port="10254"), False, id="explicit-other-port"),
    pytest.param(annotate(nlb_target_type="ip"), True, id="ip-targets"),
    pytest.param(_numeric_target_port, True, id="ip-targets-explicit-target-port"),
]


@pytest.mark.parametrize(("edit", "expected"), NLB_PROXY_EDITS)
def test_nlb_tcp_check_variants(edit: Edit, expected: bool) -> None:
    """Only a TCP probe of the traffic port meets the PROXY listener."""
    result = run(NGINX_NLB, ("Service", "ingress-nginx-controller", edit))
    assert bool(of_kind(result, "nlb-tcp-health-check-proxy")) is expected


def test_nlb_tcp_check_without_listener_config() -> None:
    """Without a PROXY-expecting ConfigMap the finding still names the LB side only."""
    result = run(
        NGINX_NLB, ("ConfigMap", "ingress-nginx-controller", data(use_proxy_protocol="false"))
    )
    finding = only(result, "nlb-tcp-health-check-proxy")
    assert not [f for f, _ in finding.evidence if f.startswith("ConfigMap")]


# --------------------------------------------------------------------------- #6


def _auth(url: str) -> tuple[str, str, Edit]:
    return ("Ingress", "grafana", annotate(**{AUTH_URL: url}))


def test_auth_url_evidence() -> None:
    """The finding names the Ingress, its auth-url, the PROXY switch and the bypassed IP."""
    finding = only(run(AUTH), "auth-url-same-host")
    assert finding.title.startswith("Ingress monitoring/grafana")
    assert finding.evidence == (
        (
            f"Ingress monitoring/grafana annotation {AUTH_URL}",
            "https://auth.example.com/oauth2/auth",
        ),
        ("served by the same controller", "Ingress auth/oauth2-proxy host auth.example.com"),
        ("ConfigMap ingress-nginx/ingress-nginx-controller use-proxy-protocol", "true"),
        ("status.loadBalancer.ingress[].ip (ipMode unset or VIP)", "203.0.113.50"),
    )
    assert "kubectl -n monitoring annotate ingress grafana --overwrite" in finding.fix


def _wildcard(obj: dict[str, Any]) -> None:
    obj["spec"]["rules"][0]["host"] = "*.example.com"


def _class(name: str) -> Edit:
    def edit(obj: dict[str, Any]) -> None:
        obj["spec"]["ingressClassName"] = name

    return edit


def _classless(obj: dict[str, Any]) -> None:
    del obj["spec"]["ingressClassName"]


def _controller_args(*extra: str) -> Edit:
    base = [
        "/nginx-ingress-controller",
        "--ingress-class=nginx",
        "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
    ]
    return container(args=[*base, *extra])


def _ip_mode(mode: str) -> Edit:
    def edit(obj: dict[str, Any]) -> None:
        obj["status"]["loadBalancer"]["ingress"][0]["ipMode"] = mode

    return edit


def _hostname_only(obj: dict[str, Any]) -> None:
    obj["status"]["loadBalancer"]["ingress"] = [{"hostname": "lb.example.com"}]


AUTH_VARIANTS = [
    pytest.param((_auth("https://$host/oauth2/auth"),), True, id="dollar-host"),
    pytest.param((_auth("https://$http_host:8443/oauth2/auth"),), True, id="dollar-http-host-port"),
    pytest.param((("Ingress", "oauth2-proxy", _wildcard),), True, id="wildcard-rule"),
    pytest.param((_auth("https://AUTH.example.com/oauth2/auth"),), True, id="case-insensitive"),
    pytest.param(
        (_auth("http://oauth2-proxy.auth.svc.cluster.local:4180/oauth2/auth"),),
        False,
        id="cluster-local-name",
    ),
    pytest.param((_auth("https://sso.other.org/auth"),), False, id="foreign-host"),
    pytest.param((_auth("/oauth2/auth"),), False, id="no-scheme"),
    pytest.param((_auth("https://$remote_addr/auth"),), False, id="other-variable"),
    pytest.param((_auth("https://[::1/auth"),), False, id="malformed-url"),
    pytest.param((("Ingress", "grafana", annotate(**{AUTH_URL: None})),), False, id="no-auth-url"),
    pytest.param(
        (("Ingress", "oauth2-proxy", _class("internal")),), False, id="other-class-serves"
    ),
    pytest.param((("Ingress", "grafana", _class("internal")),), False, id="other-class-asks"),
    pytest.param((("Ingress", "oauth2-proxy", _classless),), False, id="classless-not-watched"),
    pytest.param(
        (
            ("Ingress", "oauth2-proxy", _classless),
            (
                "Deployment",
                "ingress-nginx-controller",
                _controller_args("--watch-ingress-without-class=true"),
            ),
        ),
        True,
        id="classless-watched",
    ),
    pytest.param(
        (("Deployment", "ingress-nginx-controller", _controller_args("--watch-namespace=auth")),),
        False,
        id="watch-namespace-excludes-asker",
    ),
    pytest.param(
        (("ConfigMap", "ingress-nginx-controller", data(use_proxy_protocol="false")),),
        False,
        id="proxy-protocol-off",
    ),
    pytest.param(
        (("Service", "ingress-nginx-controller", _ip_mode("Proxy")),), False, id="ip-mode-proxy"
    ),
    pytest.param(
        (("Service", "ingress-nginx-controller", _hostname_only),), False, id="hostname-only"
    ),
]


@pytest.mark.parametrize(("edits", "expected"), AUTH_VARIANTS)
def test_auth_url_variants(edits: tuple[tuple[str, str, Edit], ...], expected: bool) -> None:
    """The finding needs a host this controller serves, PROXY on and the LB IP short-circuited."""
    result = run(AUTH, *edits)
    assert bool(of_kind(result, "auth-url-same-host")) is expected


def test_auth_url_own_host_without_rules() -> None:
    """``$host`` on an Ingress without rule hosts is served by the same controller."""

    def no_host(obj: dict[str, Any]) -> None:
        del obj["spec"]["rules"][0]["host"]

    result = run(AUTH, _auth("https://$host/oauth2/auth"), ("Ingress", "grafana", no_host))
    finding = only(result, "auth-url-same-host")
    assert ("served by the same controller", "Ingress monitoring/grafana host (every host)") in (
        finding.evidence
    )


# --------------------------------------------------------------------------- #11

WEAVE_MATRIX = [
    pytest.param("weave-kube:2.3.0", {"NO_MASQ_LOCAL": "1"}, True, id="2.3-has-no-switch"),
    pytest.param("weave-kube:2.6.5", {}, True, id="2.6-default-masquerades"),
    pytest.param("weave-kube:2.6.5", {"NO_MASQ_LOCAL": "1"}, False, id="2.6-with-1"),
    pytest.param("weave-kube:2.6.5", {"NO_MASQ_LOCAL": "0"}, False, id="2.6-any-value-counts"),
    pytest.param("weave-kube:2.8.1", {}, False, id="2.8-default-preserves"),
    pytest.param("weave-kube:2.8.1", {"NO_MASQ_LOCAL": "0"}, True, id="2.8-turned-off"),
    pytest.param("weave-kube:latest", {}, False, id="latest-taken-as-current"),
    pytest.param("weave-kube:latest", {"NO_MASQ_LOCAL": "0"}, True, id="latest-turned-off"),
]


@pytest.mark.parametrize(("image", "env", "expected"), WEAVE_MATRIX)
def test_weave_versions(image: str, env: dict[str, str], expected: bool) -> None:
    """Weave masquerades local deliveries by version and NO_MASQ_LOCAL (launch.sh)."""
    edit = container(0, image=f"docker.io/weaveworks/{image}", env=env)
    result = run(WEAVE, ("DaemonSet", "weave-net", edit))
    assert bool(of_kind(result, "cni-masquerade-local")) is expected


def test_weave_old_version_fix_says_upgrade() -> None:
    """Before 2.4 the fix also says to upgrade: there is no switch to set."""
    edit = container(0, image="docker.io/weaveworks/weave-kube:2.3.0")
    finding = only(run(WEAVE, ("DaemonSet", "weave-net", edit)), "cni-masquerade-local")
    assert "upgrade" in finding.fix
    assert "before 2.4 always masquerades" in finding.explanation


def test_weave_init_container_is_not_the_agent() -> None:
    """The weave-init container (2.8 manifests) has no env; the weave container decides."""

    def add_init(obj: dict[str, Any]) -> None:
        template = obj["spec"]["template"]["spec"]
        template["initContainers"] = [
            {"name": "weave-init", "image": "docker.io/weaveworks/weave-kube:2.8.1"}
        ]
        template["containers"][0]["image"] = "docker.io/weaveworks/weave-kube:2.8.1"
        template["containers"][0]["env"] = [{"name": "NO_MASQ_LOCAL", "value": "0"}]

    finding = only(run(WEAVE, ("DaemonSet", "weave-net", add_init)), "cni-masquerade-local")
    assert (
        "DaemonSet kube-system/weave-net container weave image",
        "docker.io/weaveworks/weave-kube:2.8.1",
    ) in finding.evidence


def test_weave_ignores_cluster_policy() -> None:
    """With Cluster kube-proxy masquerades anyway: no Weave finding."""
    result = run(WEAVE, ("Service", "web", CLUSTER))
    assert not of_kind(result, "cni-masquerade-local")


# --------------------------------------------------------------------------- #13


def test_no_health_check_server_evidence() -> None:
    """The finding shows the missing kube-proxy and the probe the LB sends."""
    finding = only(run(ROUTER), "no-health-check-server")
    assert ("DaemonSet kube-system/kube-proxy", "absent") in finding.evidence
    assert ("effective health check", "HTTP :31234/healthz") in finding.evidence
    assert "kube-router 2.0.1" in finding.explanation


def _router_args(*args: str) -> Edit:
    return container(args=list(args))


ROUTER_VARIANTS = [
    pytest.param((container(image="docker.io/cloudnativelabs/kube-router:v2.1.0"),), False,
                 id="v2.1-serves-it"),
    pytest.param((container(image="docker.io/cloudnativelabs/kube-router:latest"),), False,
                 id="unknown-tag-taken-as-current"),
    pytest.param((_router_args("--run-router=true", "--run-service-proxy=false"),), False,
                 id="service-proxy-off"),
    pytest.param((_router_args("--run-router=true"),), True, id="service-proxy-by-default"),
]  # fmt: skip


@pytest.mark.parametrize(("edits", "expected"), ROUTER_VARIANTS)
def test_kube_router_variants(edits: tuple[Edit, ...], expected: bool) -> None:
    """Only kube-router before v2.1.0 acting as service proxy leaves the port unserved."""
    result = run(ROUTER, *(("DaemonSet", "kube-router", e) for e in edits))
    assert bool(of_kind(result, "no-health-check-server")) is expected


def test_kube_router_beside_kube_proxy() -> None:
    """kube-proxy running serves healthCheckNodePort itself: no finding."""
    result = run((*ROUTER, "kube-proxy-daemonset"))
    assert not of_kind(result, "no-health-check-server")


def test_kube_router_cluster_policy() -> None:
    """A Cluster Service has no healthCheckNodePort to serve."""
    result = run(ROUTER, ("Service", "web", CLUSTER))
    assert not of_kind(result, "no-health-check-server")


def test_kube_router_probe_elsewhere() -> None:
    """A probe moved off healthCheckNodePort is health-check-port's business, not this one."""
    result = run(ROUTER, ("Service", "web", annotate(healthcheck_port="traffic-port")))
    assert not of_kind(result, "no-health-check-server")


def test_kube_router_metallb_has_no_probe() -> None:
    """MetalLB sends no health check: nothing to answer."""
    result = run((*METAL_WEB, "kube-router-service-proxy"))
    assert not of_kind(result, "no-health-check-server")


def test_cilium_health_check_nodeport_off() -> None:
    """Cilium's replacement with enable-health-check-nodeport=false serves nothing."""
    files = ("nodes-gke", "app-web-spread", "svc-web-gke-local", "cilium-kpr-dsr")
    edit = data(enable_health_check_nodeport="false")
    finding = only(run(files, ("ConfigMap", "cilium-config", edit)), "no-health-check-server")
    assert ("ConfigMap kube-system/cilium-config enable-health-check-nodeport", "false") in (
        finding.evidence
    )
    assert '"enable-health-check-nodeport":"true"' in finding.fix


# --------------------------------------------------------------------------- #16

CILIUM_MATRIX = [
    pytest.param("v1.6.3", {}, "cilium/cilium#9284", id="1.6.3-snat-rule"),
    pytest.param("v1.6.4", {}, None, id="1.6.4-fixed"),
    pytest.param("v1.5.6", {}, "cilium/cilium#9284", id="1.5.6-snat-rule"),
    pytest.param("v1.5.7", {}, None, id="1.5.7-fixed"),
    pytest.param("v1.4.2", {}, None, id="1.4-not-known-bad"),
    pytest.param("v1.6.5", {"enable-node-port": "true"}, "cilium/cilium#8698", id="1.6-bpf-nodeport"),
    pytest.param("v1.6.5", {"kube-proxy-replacement": "strict"}, "cilium/cilium#8698",
                 id="1.6-kpr-strict"),
    pytest.param("v1.7.0", {"enable-node-port": "true"}, None, id="1.7-bpf-honours-local"),
    pytest.param("latest", {}, None, id="unknown-tag-taken-as-current"),
]  # fmt: skip


@pytest.mark.parametrize(("tag", "config", "reference"), CILIUM_MATRIX)
def test_cilium_versions(tag: str, config: dict[str, str], reference: str | None) -> None:
    """Old Cilium loses the client under Local through its SNAT rule or BPF NodePort."""
    edits = (
        ("DaemonSet", "cilium", container(image=f"docker.io/cilium/cilium:{tag}")),
        ("ConfigMap", "cilium-config", data(**{k.replace("-", "_"): v for k, v in config.items()})),
    )
    found = of_kind(run(CILIUM_OLD, *edits), "old-cilium-local")
    assert [reference in f.references for f in found] == ([True] if reference else [])


def test_old_cilium_ignores_cluster_policy() -> None:
    """Under Cluster the client is lost anyway: no old-cilium finding."""
    result = run(CILIUM_OLD, ("Service", "web", CLUSTER))
    assert not of_kind(result, "old-cilium-local")


def test_old_cilium_operator_is_not_the_agent() -> None:
    """The cilium operator Deployment's image is not read as the agent's."""
    edit = container(image="docker.io/cilium/cilium:v1.16.5")
    assert not of_kind(run(CILIUM_OLD, ("DaemonSet", "cilium", edit)), "old-cilium-local")


# --------------------------------------------------------------------------- #17

HAIRPIN_VARIANTS = [
    pytest.param(annotate(scheme="internet-facing"), False, id="internet-facing"),
    pytest.param(annotate(scheme="internal"), True, id="explicit-internal"),
    pytest.param(annotate(internal="false"), False, id="legacy-internal-false"),
    pytest.param(annotate(internal="true"), True, id="legacy-internal-true"),
    pytest.param(
        annotate(target_group_attributes="preserve_client_ip.enabled=false"),
        False,
        id="preservation-off",
    ),
    pytest.param(annotate(nlb_target_type="ip"), False, id="ip-targets"),
]


@pytest.mark.parametrize(("edit", "expected"), HAIRPIN_VARIANTS)
def test_hairpin_variants(edit: Edit, expected: bool) -> None:
    """Only an internal NLB with instance targets and preservation on can hairpin."""
    result = run(INTERNAL, ("Service", "web", edit))
    assert bool(of_kind(result, "aws-nlb-hairpin")) is expected


def _in_tree(**extra: str | None) -> Edit:
    values: dict[str, str | None] = {"type": "nlb", "nlb_target_type": None, **extra}
    edit = annotate(**values)

    def both(obj: dict[str, Any]) -> None:
        edit(obj)
        del obj["spec"]["loadBalancerClass"]

    return both


IN_TREE = [
    pytest.param({"internal": "true"}, True, id="internal-true"),
    pytest.param({"internal": "0.0.0.0/0"}, True, id="internal-any-value"),
    pytest.param({"internal": "false"}, False, id="internal-false"),
    pytest.param({}, False, id="default-internet-facing"),
    pytest.param(
        {"internal": "true", "target_group_attributes": "preserve_client_ip.enabled=false"},
        False,
        id="preservation-off",
    ),
]


@pytest.mark.parametrize(("extra", "expected"), IN_TREE)
def test_hairpin_in_tree(extra: dict[str, str], expected: bool) -> None:
    """The in-tree NLB is internal for any aws-load-balancer-internal but "false"."""
    result = run(INTERNAL, ("Service", "web", _in_tree(**extra)))
    found = of_kind(result, "aws-nlb-hairpin")
    assert bool(found) is expected
    if found:
        assert "cloud-provider-aws 2025-08" in found[0].fix


def test_hairpin_fix_keeps_other_attributes() -> None:
    """The attribute fix keeps the Service's other target-group attributes."""
    edit = annotate(target_group_attributes="deregistration_delay.timeout_seconds=30")
    finding = only(run(INTERNAL, ("Service", "web", edit)), "aws-nlb-hairpin")
    assert (
        f"{AWS}target-group-attributes=deregistration_delay.timeout_seconds=30,"
        "preserve_client_ip.enabled=false,proxy_protocol_v2.enabled=true"
    ) in finding.fix


def test_hairpin_local_fix_uses_cluster_name() -> None:
    """Under Local the fix keeps preservation and points clients at the cluster name."""

    def local(obj: dict[str, Any]) -> None:
        obj["spec"]["externalTrafficPolicy"] = "Local"
        obj["spec"]["healthCheckNodePort"] = 31234

    finding = only(run(INTERNAL, ("Service", "web", local)), "aws-nlb-hairpin")
    assert "web.default.svc.cluster.local" in finding.fix
    assert "target-group-attributes" not in finding.fix


# --------------------------------------------------------------------------- #19


def _custom_sgs(manage: str | None) -> Edit:
    return annotate(security_groups="sg-0a1b2c3d4e5f", manage_backend_security_group_rules=manage)


SG_VARIANTS = [
    pytest.param(spec(loadBalancerSourceRanges=["198.51.100.0/24"]), False, id="source-ranges"),
    pytest.param(
        annotate(**{"service.beta.kubernetes.io/load-balancer-source-ranges": "198.51.100.0/24"}),
        False,
        id="source-ranges-annotation",
    ),
    pytest.param(
        annotate(manage_backend_security_group_rules="false"), False, id="rules-unmanaged"
    ),
    pytest.param(_custom_sgs(None), False, id="custom-groups-unmanaged"),
    pytest.param(_custom_sgs("true"), True, id="custom-groups-managed"),
    pytest.param(annotate(manage_backend_security_group_rules="yes"), True, id="unparsed-default"),
    pytest.param(
        annotate(target_group_attributes="preserve_client_ip.enabled=false"),
        False,
        id="preservation-off",
    ),
]


@pytest.mark.parametrize(("edit", "expected"), SG_VARIANTS)
def test_preserve_sg_variants(edit: Edit, expected: bool) -> None:
    """The info needs preservation, managed rules and no source ranges."""
    result = run(IP_PRESERVE, ("Service", "web", edit))
    assert bool(of_kind(result, "aws-preserve-client-ip-sg")) is expected


def test_preserve_sg_internal_default() -> None:
    """An internal NLB's default rule source is the VPC: the explanation says so."""
    finding = only(run(INTERNAL), "aws-preserve-client-ip-sg")
    assert "the VPC's CIDRs" in finding.explanation
    assert finding.severity is Severity.INFO


# --------------------------------------------------------------------------- helpers

IMAGES = [
    pytest.param("quay.io/cilium/cilium:v1.6.3", (1, 6, 3), id="registry-and-v"),
    pytest.param("cilium/cilium:1.16", (1, 16, 0), id="no-patch"),
    pytest.param("registry.local:5000/weave-kube:2.8.1", (2, 8, 1), id="registry-port"),
    pytest.param("quay.io/cilium/cilium:v1.16.5@sha256:0123abcd", (1, 16, 5), id="tag-and-digest"),
    pytest.param("registry.local:5000/weave-kube", None, id="port-no-tag"),
    pytest.param("quay.io/cilium/cilium@sha256:0123abcd", None, id="digest-only"),
    pytest.param("cilium/cilium:latest", None, id="latest"),
]


@pytest.mark.parametrize(("image", "expected"), IMAGES)
def test_image_version(image: str, expected: tuple[int, int, int] | None) -> None:
    """The version comes from the tag, never from a registry port or a digest."""
    assert image_version(image) == expected
