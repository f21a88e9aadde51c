"""Checks on AWS NLBs and ingress-nginx for the remaining ecosystem §6 scenarios.

* #5 (``nlb-tcp-health-check-proxy``): an AWS Load Balancer Controller NLB sends PROXY v2
  and health-checks the traffic port over TCP: every probe is a connection that sends
  nothing, which a PROXY listener logs as ``broken header: ""`` (ingress-nginx#9643).
* #6 (``auth-url-same-host``): an ingress-nginx ``auth-url`` on a host the same controller
  serves, with PROXY protocol on: the auth subrequest goes from the controller pod to the LB
  IP, kube-proxy short-circuits it (KP §10) and it arrives without a PROXY header
  (ingress-nginx#10821).
* #17 (``aws-nlb-hairpin``): an internal NLB with instance targets and client IP
  preservation: a pod calling it through the NLB hangs when the NLB picks the pod's own node
  (cloud-provider-aws#1160, #564).
* #19 (``aws-preserve-client-ip-sg``): client IP preservation with controller-managed backend
  security group rules and no ``loadBalancerSourceRanges``: the nodes' security groups judge
  the clients' own addresses (aws-load-balancer-controller#3521).

Provider facts are from ecosystem §1.2, the LB controller's ``model_build_target_group.go`` and
``model_build_load_balancer.go``, cloud-provider-aws ``aws.go`` and ``docs/service_controller.md``,
and ingress-nginx's ``nginx.tmpl``. Security groups, the NLB's own attributes and DNS are not
in the objects: those findings say what they cannot see.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

from srcip.doctor.context import ServiceContext, controller_config, controller_of
from srcip.doctor.findings import Finding, Severity
from srcip.doctor.infer import IngressController
from srcip.doctor.snapshot import IngressInfo
from srcip.model.enums import IPMode, TrafficPolicy
from srcip.model.loadbalancer import EffectiveLoadBalancer
from srcip.model.objects import Service
from srcip.model.scenario import HealthCheckProtocol, HealthCheckTarget, ProxyProtocolVersion

__all__ = [
    "check_auth_url_same_host",
    "check_aws_nlb_hairpin",
    "check_aws_preserve_client_ip_sg",
    "check_nlb_tcp_health_check_proxy",
]

_AWS = "service.beta.kubernetes.io/aws-load-balancer-"
_TG_ATTRIBUTES = f"{_AWS}target-group-attributes"
_PRESERVE = "preserve_client_ip.enabled"
_PROXY_V2 = "proxy_protocol_v2.enabled"
_MANAGE_RULES = f"{_AWS}manage-backend-security-group-rules"
_FRONTEND_SGS = f"{_AWS}security-groups"
_SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"
_LBC = frozenset({"aws-nlb-instance", "aws-nlb-ip"})  # aws-load-balancer-controller
_AUTH_URL = "nginx.ingress.kubernetes.io/auth-url"
_USE_PP = "use-proxy-protocol"
# nginx variables that stand for the request's own host in an auth-url (ingress-nginx docs'
# oauth2-proxy example uses https://$host/oauth2/auth).
_OWN_HOST = frozenset({"$host", "$http_host", "$best_http_host", "$server_name"})


def _tg_attributes(annotations: Mapping[str, str]) -> dict[str, str]:
    """``aws-load-balancer-target-group-attributes`` as a dict (``k=v,k=v``)."""
    raw = annotations.get(_TG_ATTRIBUTES, "")
    pairs = (item.partition("=") for item in raw.split(","))
    return {k.strip(): v.strip() for k, _, v in pairs if k.strip()}


def _source(lb: EffectiveLoadBalancer, name: str) -> str:
    setting = lb.setting(name)
    return setting.source if setting is not None else "provider default"


def _annotate(svc: Service, *pairs: str) -> str:
    return f"kubectl -n {svc.namespace} annotate svc {svc.name} --overwrite " + " ".join(pairs)


# --------------------------------------------------------------------------- #5


def _probes_traffic_port(lb: EffectiveLoadBalancer, svc: Service) -> bool:
    """The probe goes to the port the traffic goes to (``traffic-port`` or the same number).

    The traffic port is the NodePort for instance targets and the targetPort for ip targets.
    """
    hc = lb.health_check
    if hc.target is HealthCheckTarget.TRAFFIC_PORT:
        return True
    traffic = {p.node_port for p in svc.ports} | {
        p.target_port for p in svc.ports if isinstance(p.target_port, int)
    }
    return hc.target is HealthCheckTarget.PORT and hc.port in traffic


def _port_text(lb: EffectiveLoadBalancer) -> str:
    hc = lb.health_check
    return "traffic port" if hc.target is HealthCheckTarget.TRAFFIC_PORT else f"{hc.port}"


def check_nlb_tcp_health_check_proxy(ctx: ServiceContext) -> Iterator[Finding]:
    """An LB controller NLB with PROXY v2 health-checks the traffic port over TCP (#5)."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or lb.provider not in _LBC or lb.proxy_protocol is ProxyProtocolVersion.OFF:
        return
    hc = lb.health_check
    if not hc.enabled or hc.protocol is not HealthCheckProtocol.TCP:
        return
    if not _probes_traffic_port(lb, svc):
        return
    controller = controller_of(ctx)
    listener = (
        ((f"ConfigMap {controller.config_map} {_USE_PP}", "true"),)
        if controller is not None and _is_on(controller_config(ctx, controller).get(_USE_PP))
        else ()
    )
    yield Finding(
        severity=Severity.INFO,
        service=svc.key,
        kind="nlb-tcp-health-check-proxy",
        title='NLB TCP health checks on a PROXY listener: `broken header: ""` from NLB addresses',
        evidence=(
            ("load balancer proxyProtocol", f"v2 ({_source(lb, 'proxyProtocol')})"),
            ("health check protocol", f"tcp ({_source(lb, 'healthCheck.protocol')})"),
            ("health check port", f"{_port_text(lb)} ({_source(lb, 'healthCheck.target')})"),
            *listener,
        ),
        explanation=(
            "A TCP health check opens a connection to the traffic port and closes it without "
            "sending a byte, PROXY header included; a listener that requires PROXY protocol "
            'logs every probe as `broken header: ""` from the NLB\'s addresses (ecosystem §6 '
            "#5). Real traffic is not affected, hence info; the noise hides real PROXY errors "
            "such as in-cluster clients that bypass the NLB."
        ),
        fix=(
            "Health-check over HTTP: the NLB then sends its PROXY v2 header on the probe, which "
            "the listener expects (ingress-nginx answers /healthz on its default server):\n"
            + _annotate(
                svc,
                f"{_AWS}healthcheck-protocol=http",
                f"{_AWS}healthcheck-path=/healthz",
                f"{_AWS}healthcheck-port=traffic-port",
            )
        ),
        references=("kubernetes/ingress-nginx#9643",),
    )


# --------------------------------------------------------------------------- #6


def _is_on(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _controller_args(ctx: ServiceContext, controller: IngressController) -> tuple[str, ...]:
    owner = next(
        (o for o in ctx.snapshot.extras.owners if f"{o.kind} {o.key}" == controller.owner), None
    )
    return tuple(a for c in owner.containers for a in c.args) if owner is not None else ()


def _flag(args: tuple[str, ...], name: str) -> str | None:
    """The value of ``--name=value`` (the last one wins, as with Go's flag package)."""
    found = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    return found[-1] if found else None


def _served_ingresses(ctx: ServiceContext, controller: IngressController) -> list[IngressInfo]:
    """The Ingresses this controller serves: its class (``--ingress-class``, default nginx).

    Classless Ingresses count only with ``--watch-ingress-without-class=true``; a
    ``--watch-namespace`` limits the namespace. IngressClass objects are not read: the class
    name is taken to be the controller's ``--ingress-class`` (ingress-nginx's default setup).
    """
    args = _controller_args(ctx, controller)
    cls = _flag(args, "ingress-class") or "nginx"
    classless = _is_on(_flag(args, "watch-ingress-without-class"))
    namespace = _flag(args, "watch-namespace")
    return [
        i
        for i in ctx.snapshot.extras.ingresses
        if (i.class_name == cls or (i.class_name is None and classless))
        and (not namespace or i.namespace == namespace)
    ]


def _key(ingress: IngressInfo) -> str:
    return f"{ingress.namespace}/{ingress.name}"


def _auth_host(url: str) -> str | None:
    """The host of an auth-url (``$host`` kept as written); None when it has none."""
    text = url.strip()
    if "://" not in text:
        return None
    rest = text.split("://", 1)[1]
    if rest.startswith("$"):
        return rest.split("/", 1)[0].split(":", 1)[0]
    try:
        return urlsplit(text).hostname
    except ValueError:
        return None


def _serves(pattern: str, host: str) -> bool:
    """Whether an Ingress rule host (possibly ``*.example.com``) matches ``host``."""
    pattern, host = pattern.lower(), host.lower()
    if pattern.startswith("*."):
        head, _, tail = host.partition(".")
        return bool(head) and tail == pattern[2:]
    return pattern == host


def _serving(
    ingress: IngressInfo, host: str, served: list[IngressInfo]
) -> tuple[IngressInfo, str] | None:
    """The Ingress (and its rule host) of this controller that serves ``host``."""
    if host in _OWN_HOST:  # the request's own host: served here by definition
        return ingress, ingress.hosts[0] if ingress.hosts else "(every host)"
    for other in served:
        for pattern in other.hosts:
            if _serves(pattern, host):
                return other, pattern
    return None


def check_auth_url_same_host(ctx: ServiceContext) -> Iterator[Finding]:
    """An auth-url on a host of the same controller, with PROXY on and the LB bypassed (#6)."""
    svc, controller = ctx.service, controller_of(ctx)
    if controller is None or not _is_on(controller_config(ctx, controller).get(_USE_PP)):
        return
    bypassed = [
        str(i.ip)
        for i in svc.load_balancer_ingress
        if i.ip is not None and i.ip_mode is not IPMode.PROXY
    ]
    if not bypassed:
        return  # hostname-only or ipMode Proxy: the subrequest goes out and back through the LB
    served = _served_ingresses(ctx, controller)
    for ingress in served:
        url = dict(ingress.annotations).get(_AUTH_URL)
        host = _auth_host(url) if url is not None else None
        found = _serving(ingress, host, served) if host is not None else None
        if url is None or found is None:
            continue
        target, rule = found
        yield _auth_url_finding(
            ctx, controller, ingress, url, f"{_key(target)} host {rule}", bypassed
        )


def _auth_url_finding(
    ctx: ServiceContext,
    controller: IngressController,
    ingress: IngressInfo,
    url: str,
    served_by: str,
    vips: list[str],
) -> Finding:
    svc, name = ctx.service, _key(ingress)
    path = urlsplit(url).path or "/"
    return Finding(
        severity=Severity.ERROR,
        service=svc.key,
        kind="auth-url-same-host",
        title=f"Ingress {name}: auth-url goes back through the LB IP without a PROXY header",
        evidence=(
            (f"Ingress {name} annotation {_AUTH_URL}", url),
            ("served by the same controller", f"Ingress {served_by}"),
            (f"ConfigMap {controller.config_map} {_USE_PP}", "true"),
            ("status.loadBalancer.ingress[].ip (ipMode unset or VIP)", ", ".join(vips)),
        ),
        explanation=(
            "nginx sends the auth subrequest from the controller pod to the auth host, which "
            "resolves to the load balancer's IP. kube-proxy short-circuits in-cluster "
            "connections to an LB IP without ipMode Proxy straight to the endpoints (KP §10), "
            "so the subrequest reaches nginx's own PROXY listener without a PROXY header and "
            "fails (`broken header`): every protected request fails while unprotected ones work "
            "(ecosystem §6 #6)."
        ),
        fix=(
            "Point auth-url at the auth service's in-cluster name, which needs no PROXY header:\n"
            f"kubectl -n {ingress.namespace} annotate ingress {ingress.name} --overwrite "
            f"{_AUTH_URL}=http://<auth-service>.<namespace>.svc.cluster.local{path}"
        ),
        references=("kubernetes/ingress-nginx#10821",),
    )


# --------------------------------------------------------------------------- #17, #19


def _internal(lb: EffectiveLoadBalancer, annotations: Mapping[str, str]) -> tuple[bool, str]:
    """Whether the NLB is internal, and which annotation (or default) decided it."""
    scheme = annotations.get(f"{_AWS}scheme", "").strip().lower()
    legacy = annotations.get(f"{_AWS}internal")
    if lb.provider != "aws-nlb" and scheme in ("internal", "internet-facing"):
        return scheme == "internal", f"annotation {_AWS}scheme={scheme}"
    if legacy is not None:
        # LB controller: a bool; in-tree (cloud-provider-aws aws.go): anything but "false".
        inside = legacy.strip().lower() == "true" if lb.provider != "aws-nlb" else legacy != "false"
        return inside, f"annotation {_AWS}internal={legacy}"
    if lb.provider == "aws-nlb":
        return False, "in-tree default: internet-facing"
    return True, "LB controller default, --default-load-balancer-scheme=internal"


def _preserve(lb: EffectiveLoadBalancer, annotations: Mapping[str, str]) -> tuple[bool, str]:
    """Client IP preservation and its source; the in-tree NLB reads the attribute too."""
    if lb.provider != "aws-nlb":
        return lb.preserve_client_ip, _source(lb, "preserveClientIP")
    value = _tg_attributes(annotations).get(_PRESERVE)
    if value is None:  # cloud-provider-aws docs/service_controller.md: instance default true
        return True, "instance targets default (AWS)"
    return value.lower() == "true", f"annotation {_TG_ATTRIBUTES} {_PRESERVE}={value}"


def check_aws_nlb_hairpin(ctx: ServiceContext) -> Iterator[Finding]:
    """Internal NLB, instance targets, client IP preserved: in-cluster callers can hang (#17)."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or lb.provider not in ("aws-nlb", "aws-nlb-instance"):
        return
    annotations = dict(svc.annotations)
    internal, scheme_why = _internal(lb, annotations)
    preserve, preserve_why = _preserve(lb, annotations)
    if not internal or not preserve:
        return
    yield Finding(
        severity=Severity.WARNING,
        service=svc.key,
        kind="aws-nlb-hairpin",
        title="internal NLB keeps the client IP: a pod calling it hangs when sent to its own node",
        evidence=(
            ("inferred provider", f"{lb.provider} (instance targets)"),
            ("scheme", f"internal ({scheme_why})"),
            (_PRESERVE, f"true ({preserve_why})"),
            ("status.loadBalancer.ingress[].hostname", _hostnames(svc)),
        ),
        explanation=(
            "With client IP preservation the NLB forwards a connection to its target with the "
            "caller's own address as source. A pod or node inside the cluster that calls the "
            "NLB's name and is sent to its own node receives a packet from itself: the reply "
            "never goes back through the NLB and the connection hangs (NLBs do not hairpin). "
            "AWS reports a hostname, so kube-proxy does not short-circuit these calls "
            "(ecosystem §1.2, §6 #17). Objects do not show whether in-cluster clients call it."
        ),
        fix=_hairpin_fix(svc, annotations, lb),
        references=(
            "kubernetes/cloud-provider-aws#1160",
            "kubernetes/cloud-provider-aws#564",
            "openshift/cluster-ingress-operator#1426",
        ),
    )


def _hostnames(svc: Service) -> str:
    return ", ".join(i.hostname for i in svc.load_balancer_ingress if i.hostname) or "(none)"


def _hairpin_fix(svc: Service, annotations: Mapping[str, str], lb: EffectiveLoadBalancer) -> str:
    local_name = f"{svc.name}.{svc.namespace}.svc.cluster.local"
    if svc.external_traffic_policy is TrafficPolicy.LOCAL:
        # PROXY v2 with instance targets and Local breaks the healthCheckNodePort probe (LBC
        # docs/guide/service/nlb.md), so the attribute fix is not offered here.
        return (
            f"Have in-cluster clients call the Service by its cluster name ({local_name}) "
            "instead of the NLB; turning preservation off would hide the client address, and "
            "PROXY v2 with Local and instance targets breaks the healthCheckNodePort probe."
        )
    attrs = _tg_attributes(annotations)
    attrs[_PRESERVE], attrs[_PROXY_V2] = "false", "true"
    value = ",".join(f"{k}={v}" for k, v in attrs.items())
    older = (
        "\n(the in-tree controller reads this annotation since cloud-provider-aws 2025-08)"
        if lb.provider == "aws-nlb"
        else ""
    )
    return (
        "Turn preservation off and carry the client in a PROXY v2 header instead (the "
        'listener must then expect PROXY, e.g. ingress-nginx use-proxy-protocol: "true"), or '
        f"have in-cluster clients call {local_name}:\n"
        + _annotate(svc, f"{_TG_ATTRIBUTES}={value}")
        + older
    )


def _rules_managed(annotations: Mapping[str, str]) -> tuple[bool, str]:
    """Whether the LB controller writes the backend rules, and why (docs: security_groups.md)."""
    manage = annotations.get(_MANAGE_RULES)
    if manage is not None and manage.strip().lower() in ("true", "false"):
        return manage.strip().lower() == "true", f"annotation {_MANAGE_RULES}={manage}"
    if _FRONTEND_SGS in annotations:  # custom frontend groups: rules off unless asked
        return False, f"annotation {_FRONTEND_SGS} set"
    return True, "LB controller default (auto-created security groups)"


def check_aws_preserve_client_ip_sg(ctx: ServiceContext) -> Iterator[Finding]:
    """Preserved client IPs, controller-managed backend rules, no source ranges (#19)."""
    lb, svc = ctx.lb, ctx.service
    if lb is None or lb.provider not in _LBC or not lb.preserve_client_ip:
        return
    annotations = dict(svc.annotations)
    managed, managed_why = _rules_managed(annotations)
    if not managed or svc.load_balancer_source_ranges or annotations.get(_SOURCE_RANGES, ""):
        return
    internal, scheme_why = _internal(lb, annotations)
    default = "the VPC's CIDRs" if internal else "0.0.0.0/0"
    yield Finding(
        severity=Severity.INFO,
        service=svc.key,
        kind="aws-preserve-client-ip-sg",
        title="NLB keeps the client IP: the targets' security groups must admit the clients",
        evidence=(
            (_PRESERVE, f"true ({_source(lb, 'preserveClientIP')})"),
            ("backend security group rules", f"managed ({managed_why})"),
            ("spec.loadBalancerSourceRanges", "(unset)"),
            ("scheme", f"{'internal' if internal else 'internet-facing'} ({scheme_why})"),
        ),
        explanation=(
            "With client IP preservation packets reach the nodes (or pod ENIs) from the "
            "clients' own addresses, so the targets' security groups judge the clients, not the "
            "NLB. The LB controller admits them by referencing the NLB's security group (NLBs "
            "it created with security groups, v2.6+; AWS lets preserved traffic through such a "
            "reference), or, for an NLB without security groups, by CIDR rules from "
            f"loadBalancerSourceRanges, here defaulting to {default}. Users of v2.6 reported "
            "no traffic at all with preservation on, fixed by rules for the client networks "
            "(ecosystem §1.2, §6 #19). "
            "Neither the NLB's security groups nor the rules are in the objects: info."
        ),
        fix=(
            "Name the client CIDRs so that the controller writes them into its security group "
            "rules:\n"
            f"kubectl -n {svc.namespace} patch svc {svc.name} "
            """-p '{"spec":{"loadBalancerSourceRanges":["<client CIDR>"]}}'"""
            "\nor check the node/ENI security group admits the clients on the traffic port."
        ),
        references=(
            "kubernetes-sigs/aws-load-balancer-controller#3521",
            "kubernetes-sigs/aws-load-balancer-controller#4632",
        ),
    )
