"""Checks on PROXY protocol and forwarded headers at ingress-nginx (ecosystem §6 #1–#8).

The controller behind a Service is the ingress-nginx Deployment/DaemonSet its selector
picks; the ConfigMap it reads is the one its ``--configmap`` argument names (infer.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_network

from srcip.doctor.context import ServiceContext, controller_config, controller_of
from srcip.doctor.findings import Finding, Severity
from srcip.doctor.infer import IngressController
from srcip.errors import ManifestError
from srcip.model.enums import IPMode
from srcip.model.ingress import ingress_settings
from srcip.model.ingress_keys import INGRESS_NGINX_KEYS
from srcip.model.scenario import IngressHop, IngressKind, LoadBalancerMode, ProxyProtocolVersion

__all__ = [
    "check_configmap_not_read",
    "check_forwarded_headers",
    "check_lb_bypass",
    "check_proxy_protocol_one_side",
    "check_proxy_trust",
]

_USE_PP = "use-proxy-protocol"
_USE_FH = "use-forwarded-headers"
_REAL_IP = "proxy-real-ip-cidr"


def _cm_patch(controller: IngressController, data: str) -> str:
    namespace, _, name = (controller.config_map or "NAMESPACE/NAME").rpartition("/")
    return f"kubectl -n {namespace} patch configmap {name} --type merge -p '{{\"data\":{data}}}'"


def _is_on(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def check_proxy_protocol_one_side(ctx: ServiceContext) -> Iterator[Finding]:
    """PROXY protocol on at the LB or at ingress-nginx, but not both (#4)."""
    lb, svc, controller = ctx.lb, ctx.service, controller_of(ctx)
    if lb is None or controller is None:
        return
    listener = _is_on(controller_config(ctx, controller).get(_USE_PP))
    sender = lb.proxy_protocol is not ProxyProtocolVersion.OFF
    if listener == sender:
        return
    source = lb.setting("proxyProtocol")
    evidence = (
        (f"ConfigMap {controller.config_map} {_USE_PP}", "true" if listener else "false/absent"),
        ("load balancer proxyProtocol", f"{lb.proxy_protocol.value}"),
        ("proxyProtocol decided by", source.source if source is not None else "provider default"),
    )
    if listener:
        title = "ingress-nginx expects PROXY protocol but the load balancer does not send it"
        why = 'nginx reads the request line as a PROXY header: `broken header: "GET / ..."`'
        fix = (
            "Turn it on at the load balancer too (AWS Classic ELB shown) or turn "
            f"{_USE_PP} off:\nkubectl -n {svc.namespace} annotate svc {svc.name} "
            "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol='*'"
        )
    else:
        title = "the load balancer sends PROXY protocol but ingress-nginx does not expect it"
        why = "nginx reads the PROXY line as a malformed HTTP request and answers 400"
        fix = _cm_patch(controller, f'{{"{_USE_PP}":"true"}}')
    yield Finding(
        severity=Severity.ERROR,
        service=svc.key,
        kind="proxy-protocol-one-side",
        title=title,
        evidence=evidence,
        explanation=f"PROXY protocol must be on at both ends or neither: {why} (ecosystem §6 #4).",
        fix=fix,
        references=("kubernetes/ingress-nginx#1067",),
    )


def check_lb_bypass(ctx: ServiceContext) -> Iterator[Finding]:
    """PROXY protocol at the LB, an LB IP in status without ``ipMode: Proxy`` (#1/#2/#3)."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or lb.proxy_protocol is ProxyProtocolVersion.OFF:
        return
    bypassed = [
        i for i in svc.load_balancer_ingress if i.ip is not None and i.ip_mode is not IPMode.PROXY
    ]
    if not bypassed:
        return
    ipvs = ctx.snapshot.extras.kube_proxy_mode == "ipvs"
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="lb-bypass",
        title="in-cluster clients reach the pods without the LB's PROXY header",
        evidence=(
            ("status.loadBalancer.ingress[].ip", ", ".join(str(i.ip) for i in bypassed)),
            ("status.loadBalancer.ingress[].ipMode", "VIP (unset)"),
            ("load balancer proxyProtocol", lb.proxy_protocol.value),
            *((("kube-proxy mode", "ipvs"),) if ipvs else ()),
        ),
        explanation=(
            "kube-proxy short-circuits connections from inside the cluster to an LB IP "
            "straight to the endpoints unless the ingress's ipMode is Proxy (KP §10, KEP-1860): "
            "those connections carry no PROXY header, so a PROXY-expecting listener breaks "
            "(cert-manager self-checks, pods calling the public name)."
        ),
        fix=(
            "Have the cloud controller set ipMode: Proxy (Hetzner: HCCM ≥ 1.21), or publish a "
            "hostname instead of the IP, e.g. DigitalOcean:\n"
            f"kubectl -n {svc.namespace} annotate svc {svc.name} "
            "service.beta.kubernetes.io/do-loadbalancer-hostname=lb.example.com"
        ),
        references=(
            "kubernetes/kubernetes#66607",
            "kubernetes/ingress-nginx#3996",
            "hetznercloud/hcloud-cloud-controller-manager#727",
        ),
    )


def check_forwarded_headers(ctx: ServiceContext) -> Iterator[Finding]:
    """``use-forwarded-headers`` behind an L4 LB, or ``proxy-real-ip-cidr`` 0.0.0.0/0 (#7)."""
    lb, svc, controller = ctx.lb, ctx.service, controller_of(ctx)
    if lb is None or controller is None:
        return
    data = controller_config(ctx, controller)
    field = f"ConfigMap {controller.config_map}"
    if _is_on(data.get(_USE_FH)) and lb.mode is not LoadBalancerMode.HTTP:
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="forwarded-headers",
            title="ingress-nginx trusts X-Forwarded-For from clients behind an L4 load balancer",
            evidence=((f"{field} {_USE_FH}", "true"), ("load balancer mode", lb.mode.value)),
            explanation=(
                "An L4 load balancer writes no X-Forwarded-For, so the header nginx trusts is "
                "the client's own: anyone can claim any address (ecosystem §6 #7)."
            ),
            fix=_cm_patch(controller, f'{{"{_USE_FH}":"false"}}'),
            references=("kubernetes/ingress-nginx#1309", "kubernetes/ingress-nginx#3333"),
        )
    cidrs = [c.strip() for c in data.get(_REAL_IP, "").split(",") if c.strip()]
    if any(_is_everything(c) for c in cidrs):
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="forwarded-headers",
            title=f"{_REAL_IP} trusts every address",
            evidence=((f"{field} {_REAL_IP}", ", ".join(cidrs)),),
            explanation=(
                "nginx's real-ip module takes the client address from the header of any peer "
                "in proxy-real-ip-cidr; 0.0.0.0/0 makes every client a trusted proxy."
            ),
            fix=_cm_patch(controller, f'{{"{_REAL_IP}":"<the load balancer\'s CIDR>"}}'),
            references=("kubernetes/ingress-nginx#1668", "kubernetes/ingress-nginx#1815"),
        )


def _is_everything(cidr: str) -> bool:
    try:
        return ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def check_proxy_trust(ctx: ServiceContext) -> Iterator[Finding]:
    """An L7 load balancer writes X-Forwarded-For that ingress-nginx does not trust."""
    lb, svc, controller = ctx.lb, ctx.service, controller_of(ctx)
    if lb is None or controller is None or lb.mode is not LoadBalancerMode.HTTP:
        return
    data = controller_config(ctx, controller)
    if _is_on(data.get(_USE_FH)):
        return
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="proxy-trust",
        title="ingress-nginx logs the load balancer's address: it ignores its X-Forwarded-For",
        evidence=(
            ("load balancer mode", "http"),
            (f"ConfigMap {controller.config_map} {_USE_FH}", data.get(_USE_FH, "absent")),
        ),
        explanation=(
            "An HTTP load balancer connects from its own address and names the client in "
            "X-Forwarded-For; ingress-nginx reads that header only with use-forwarded-headers "
            "(and from proxy-real-ip-cidr peers)."
        ),
        fix=_cm_patch(
            controller,
            f'{{"{_USE_FH}":"true","{_REAL_IP}":"<the load balancer\'s CIDR>"}}',
        ),
        references=("kubernetes/ingress-nginx#5970",),
    )


def check_configmap_not_read(ctx: ServiceContext) -> Iterator[Finding]:
    """Controller keys in a ConfigMap it does not read, or unknown keys in the one it does (#8)."""
    controller = controller_of(ctx)
    if controller is None:
        return
    svc = ctx.service
    for cm in ctx.snapshot.cluster.config_maps:
        keys = sorted(k for k, _ in cm.data if k in INGRESS_NGINX_KEYS)
        if cm.namespace != controller.namespace or cm.key == controller.config_map or not keys:
            continue
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="configmap-not-read",
            title=f"ConfigMap {cm.key} holds ingress-nginx keys the controller never reads",
            evidence=(
                (f"ConfigMap {cm.key} data keys", ", ".join(keys)),
                (f"{controller.owner} --configmap", controller.config_map or "(not set)"),
            ),
            explanation=(
                "ingress-nginx reads exactly one ConfigMap, the one its --configmap flag names; "
                "keys anywhere else (e.g. the leader-election lock) have no effect."
            ),
            fix="Move the keys into the ConfigMap the controller reads:\n"
            + _cm_patch(controller, "{" + ",".join(f'"{k}":"..."' for k in keys) + "}"),
            references=("kubernetes/ingress-nginx#5970",),
        )
    if controller.config_map is None or controller.config_map not in {
        c.key for c in ctx.snapshot.cluster.config_maps
    }:
        return
    hop = IngressHop(
        kind=IngressKind.INGRESS_NGINX,
        name=controller.owner,
        service=svc.key,
        config_map=controller.config_map,
    )
    try:
        notes = ingress_settings(hop, ctx.snapshot.cluster.config_maps).notes
    except ManifestError as exc:  # a value the controller would refuse to load
        yield Finding(
            severity=Severity.ERROR,
            service=svc.key,
            kind="configmap-not-read",
            title=f"ConfigMap {controller.config_map} has a value ingress-nginx rejects",
            evidence=((f"ConfigMap {controller.config_map} {exc.field}", str(exc.value)),),
            explanation=str(exc),
            fix=exc.fix or "Correct the value.",
            references=(),
        )
        return
    unknown = [n for n in notes if "does not read" in n]
    for note in unknown:
        key = note.split(":", 1)[0]
        yield Finding(
            severity=Severity.WARNING,
            service=svc.key,
            kind="configmap-not-read",
            title=f"ConfigMap {controller.config_map}: {key} is not an ingress-nginx key",
            evidence=((f"ConfigMap {controller.config_map} data", key),),
            explanation=note,
            fix="Rename or remove the key (ingress-nginx ConfigMap reference: "
            "docs/user-guide/nginx-configuration/configmap.md).",
            references=("kubernetes/ingress-nginx#5970",),
        )
