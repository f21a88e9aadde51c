"""The pure model of kube-proxy: typed objects in, decisions with their reasons out.

No I/O, clock or randomness here (DESIGN.md); time and affinity memory are parameters and
random endpoint choice is returned as exact probabilities.
"""

from srcip.model.endpoints import EndpointCategories, categorize_endpoints
from srcip.model.enums import (
    CNIMode,
    EntryPoint,
    IPFamily,
    Protocol,
    ProxyMode,
    SourceClass,
    TrafficPolicy,
    Verdict,
)
from srcip.model.healthcheck import (
    HealthAnswer,
    ProxyHealthState,
    proxy_health_answers,
    service_health_answer,
)
from srcip.model.healthreport import HealthReport, health_report
from srcip.model.index import ClusterIndex, build_index
from srcip.model.kubeproxy import route_packet
from srcip.model.objects import Cluster
from srcip.model.packet import AffinityState, EndpointChoice, Packet, RouteResult

__all__ = [
    "AffinityState",
    "CNIMode",
    "Cluster",
    "ClusterIndex",
    "EndpointCategories",
    "EndpointChoice",
    "EntryPoint",
    "HealthAnswer",
    "HealthReport",
    "IPFamily",
    "Packet",
    "Protocol",
    "ProxyHealthState",
    "ProxyMode",
    "RouteResult",
    "SourceClass",
    "TrafficPolicy",
    "Verdict",
    "build_index",
    "categorize_endpoints",
    "health_report",
    "proxy_health_answers",
    "route_packet",
    "service_health_answer",
]
