"""The benchmark's cluster generator: loadable, valid, deterministic, in the stated proportions."""

from __future__ import annotations

import json
from collections import Counter
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
from bench.generate import (
    SLICE_MAX,
    generate_cluster,
    generate_packets,
    sizes_for,
    write_cluster,
    write_packets,
)

from srcip.manifests import load_cluster
from srcip.model.index import build_index

SCALE = 0.01  # 50 nodes, 100 Services, 2,000 endpoints

Json = dict[str, Any]


@pytest.fixture(scope="module")
def cluster() -> Json:
    """The generated cluster at the test scale, shared by the module."""
    return generate_cluster(SCALE)


def _kind(cluster: Json, kind: str) -> list[Json]:
    return [item for item in cluster["items"] if item["kind"] == kind]


def test_sizes_scale_from_full_cluster() -> None:
    """Scale 1.0 is 5,000 nodes, 10,000 Services and 200,000 endpoints; others shrink."""
    assert sizes_for(1.0).nodes == 5_000
    assert sizes_for(1.0).services == 10_000
    assert sizes_for(1.0).endpoints == 200_000
    assert sizes_for(SCALE).nodes == 50


@pytest.mark.parametrize("scale", [0.0, -1.0, 11.0])
def test_sizes_reject_out_of_range_scale(scale: float) -> None:
    """A scale outside (0, 10] is a ValueError."""
    with pytest.raises(ValueError, match="scale"):
        sizes_for(scale)


def test_generation_is_deterministic_for_a_seed() -> None:
    """The same seed gives the same cluster; another seed a different one."""
    assert generate_cluster(0.002, seed=7) == generate_cluster(0.002, seed=7)
    assert generate_cluster(0.002, seed=7) != generate_cluster(0.002, seed=8)


def test_object_counts_match_the_scale(cluster: Json) -> None:
    """Nodes, Services and endpoints are exactly the scaled counts, plus one proxy config."""
    sizes = sizes_for(SCALE)
    slices = _kind(cluster, "EndpointSlice")
    assert cluster["kind"] == "List"
    assert len(_kind(cluster, "Node")) == sizes.nodes
    assert len(_kind(cluster, "Service")) == sizes.services
    assert sum(len(s["endpoints"]) for s in slices) == sizes.endpoints
    assert len(_kind(cluster, "KubeProxyConfiguration")) == 1


def test_service_types_are_a_third_each_with_half_local(cluster: Json) -> None:
    """A third of each type; half the NodePort and LoadBalancer ones eTP=Local."""
    specs = [s["spec"] for s in _kind(cluster, "Service")]
    kinds = Counter((s["type"], s.get("externalTrafficPolicy")) for s in specs)
    third = len(specs) / 3
    for svc_type in ("NodePort", "LoadBalancer"):
        total = kinds[(svc_type, "Local")] + kinds[(svc_type, "Cluster")]
        assert abs(total - third) <= 1
        assert kinds[(svc_type, "Local")] == total // 2
    assert abs(kinds[("ClusterIP", None)] - third) <= 1


def test_load_balancers_have_vips_and_local_ones_health_check_ports(cluster: Json) -> None:
    """Every LoadBalancer has an ingress IP; exactly the Local ones have a healthCheckNodePort."""
    for service in _kind(cluster, "Service"):
        spec = service["spec"]
        is_lb = spec["type"] == "LoadBalancer"
        assert bool(service["status"]["loadBalancer"].get("ingress")) is is_lb
        needs_hc = is_lb and spec["externalTrafficPolicy"] == "Local"
        assert ("healthCheckNodePort" in spec) is needs_hc


def test_addresses_and_node_ports_are_unique(cluster: Json) -> None:
    """ClusterIPs are unique in 10.96.0.0/12; node port numbers are unique across Services."""
    specs = [s["spec"] for s in _kind(cluster, "Service")]
    cluster_ips = [ip_address(s["clusterIP"]) for s in specs]
    assert len(set(cluster_ips)) == len(cluster_ips)
    assert all(ip in ip_network("10.96.0.0/12") for ip in cluster_ips)
    ports = [p["nodePort"] for s in specs for p in s["ports"] if "nodePort" in p]
    ports += [s["healthCheckNodePort"] for s in specs if "healthCheckNodePort" in s]
    assert len(set(ports)) == len(ports)
    assert all(30000 <= port <= 65535 for port in ports)


def test_endpoints_sit_in_their_nodes_pod_cidr(cluster: Json) -> None:
    """Each endpoint has a nodeName and a pod IP inside that node's podCIDR; IPs are unique."""
    cidrs = {
        n["metadata"]["name"]: ip_network(n["spec"]["podCIDR"]) for n in _kind(cluster, "Node")
    }
    ips = []
    for endpoint_slice in _kind(cluster, "EndpointSlice"):
        for endpoint in endpoint_slice["endpoints"]:
            ips.append(ip_address(endpoint["addresses"][0]))
            assert ips[-1] in cidrs[endpoint["nodeName"]]
    assert len(set(ips)) == len(ips)


def test_slices_are_bounded_and_labelled(cluster: Json) -> None:
    """Slices hold at most 100 endpoints and name an existing Service in their namespace."""
    services = {
        (s["metadata"]["namespace"], s["metadata"]["name"]) for s in _kind(cluster, "Service")
    }
    for endpoint_slice in _kind(cluster, "EndpointSlice"):
        meta = endpoint_slice["metadata"]
        assert 0 < len(endpoint_slice["endpoints"]) <= SLICE_MAX
        assert (meta["namespace"], meta["labels"]["kubernetes.io/service-name"]) in services


def test_endpoints_are_mostly_ready_with_some_terminating(cluster: Json) -> None:
    """Most endpoints are ready and some are serving+terminating."""
    conditions = Counter(
        (e["conditions"]["ready"], e["conditions"]["terminating"])
        for s in _kind(cluster, "EndpointSlice")
        for e in s["endpoints"]
    )
    total = sum(conditions.values())
    assert conditions[(True, False)] > 0.85 * total
    assert conditions[(False, True)] > 0


def test_written_cluster_loads_and_indexes(tmp_path: Path) -> None:
    """The JSON written by write_cluster loads with load_cluster and indexes with build_index."""
    path = tmp_path / "cluster.json"
    written = write_cluster(path, 0.002)
    loaded = load_cluster([path])
    index = build_index(loaded)
    assert len(loaded.nodes) == len(_kind(written, "Node"))
    assert len(loaded.services) == len(_kind(written, "Service"))
    assert len(loaded.endpoint_slices) == len(_kind(written, "EndpointSlice"))
    assert [str(c) for c in loaded.proxy_config.cluster_cidrs] == ["10.128.0.0/9"]
    assert len(index.nodes) == len(loaded.nodes)


def test_packets_are_bounded_and_aimed_at_the_cluster(cluster: Json, tmp_path: Path) -> None:
    """generate_packets returns exactly N packets at real nodes, aimed at service addresses."""
    packets = generate_packets(cluster, 500)
    nodes = {n["metadata"]["name"] for n in _kind(cluster, "Node")}
    node_ips = {n["status"]["addresses"][0]["address"] for n in _kind(cluster, "Node")}
    vips = {
        i["ip"]
        for s in _kind(cluster, "Service")
        for i in s["status"]["loadBalancer"].get("ingress", [])
    }
    cluster_ips = {s["spec"]["clusterIP"] for s in _kind(cluster, "Service")}
    assert len(packets) == 500
    assert all(p.node in nodes and p.dst in cluster_ips | node_ips | vips for p in packets)
    write_packets(tmp_path / "packets.json", packets)
    assert len(json.loads((tmp_path / "packets.json").read_text())) == 500
