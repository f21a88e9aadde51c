"""Every check the doctor runs, in report order (seeds' checklist first, then §6).

A per-Service check is ``check(ctx: ServiceContext) -> Iterator[Finding]``; a cluster-wide
one is ``check(snapshot, inference) -> Iterator[Finding]``. One function per finding kind,
each documented in ``docs/reference/findings.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from srcip.doctor.checks_dataplane import (
    check_cilium_snat,
    check_double_health_check,
    check_k3s_servicelb,
    check_netpol_ipblock,
    check_sidecar,
)
from srcip.doctor.checks_ecosystem import (
    check_auth_url_same_host,
    check_aws_nlb_hairpin,
    check_aws_preserve_client_ip_sg,
    check_nlb_tcp_health_check_proxy,
)
from srcip.doctor.checks_ecosystem2 import (
    check_cni_masquerade_local,
    check_no_health_check_server,
    check_old_cilium_local,
)
from srcip.doctor.checks_path import (
    check_aws_ip_targets,
    check_azure_probe,
    check_cluster_node_addresses,
    check_health_check_port,
    check_ipvs_local,
    check_local_uneven,
    check_metallb_l2_local,
    check_proxy_without_proxy_protocol,
    check_slow_health_check,
)
from srcip.doctor.checks_proxy import (
    check_configmap_not_read,
    check_forwarded_headers,
    check_lb_bypass,
    check_proxy_protocol_one_side,
    check_proxy_trust,
)
from srcip.doctor.context import ServiceContext
from srcip.doctor.findings import Finding
from srcip.doctor.infer import Inference
from srcip.doctor.snapshot import Snapshot

__all__ = ["CLUSTER_CHECKS", "SERVICE_CHECKS", "ClusterCheck", "ServiceCheck"]

ServiceCheck = Callable[[ServiceContext], Iterator[Finding]]
ClusterCheck = Callable[[Snapshot, Inference], Iterator[Finding]]

SERVICE_CHECKS: tuple[ServiceCheck, ...] = (
    check_local_uneven,
    check_health_check_port,
    check_cluster_node_addresses,
    check_proxy_without_proxy_protocol,
    check_proxy_trust,
    check_proxy_protocol_one_side,
    check_lb_bypass,
    check_forwarded_headers,
    check_configmap_not_read,
    check_metallb_l2_local,
    check_ipvs_local,
    check_aws_ip_targets,
    check_azure_probe,
    check_slow_health_check,
    check_sidecar,
    check_cilium_snat,
    check_k3s_servicelb,
    check_netpol_ipblock,
    check_nlb_tcp_health_check_proxy,
    check_auth_url_same_host,
    check_cni_masquerade_local,
    check_no_health_check_server,
    check_old_cilium_local,
    check_aws_nlb_hairpin,
    check_aws_preserve_client_ip_sg,
)
CLUSTER_CHECKS: tuple[ClusterCheck, ...] = (check_double_health_check,)
