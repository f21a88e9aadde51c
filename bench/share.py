"""Benchmark of ``share`` and ``trace`` at cluster scale, against issue 4's targets.

* ``share`` for 5,000 nodes and 150,000 pods behind one LoadBalancer Service, under
  ``Local`` and under ``Cluster`` (target ≤ 1 s), on an indexed cluster as the doctor runs
  it (index once, then every question); the index build and a from-scratch call are
  reported beside it;
* ``trace`` of one client through 1,000 nodes (target ≤ 200 ms): a ``Local`` Service with
  one pod on every node (1,000 delivered paths) and a ``Cluster`` Service with 10 pods
  (10,000 paths: every node can reach every pod). The app trusts no header, so no
  forging twin runs (a trusting app doubles the paths traced).

Clusters are built directly as model objects (no YAML), deterministically: pods spread
over nodes with a skew (node i gets 1 + (i mod 59) pods, scaled to the total), so the
Local split is uneven, as in real clusters. Each figure is the best of ``--repeat`` runs.
Run: ``python bench/share.py`` (``make bench``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from srcip.model.enums import ServiceType, TrafficPolicy
from srcip.model.index import build_index
from srcip.model.objects import (
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    LoadBalancerIngress,
    Node,
    NodeAddress,
    Service,
    ServicePort,
)
from srcip.model.share import share
from srcip.model.trace import trace

# `make bench` runs this file by path, which puts bench/ (not the repository) on sys.path.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe_machine  # noqa: E402

SHARE_TARGET_S = 1.0
TRACE_TARGET_S = 0.2
NODE_NET = IPv4Network("10.0.0.0/16")
POD_NET = IPv4Network("10.128.0.0/9")
SLICE_MAX = 100


def pod_counts(nodes: int, pods: int) -> list[int]:
    """Pods per node: skewed (1 + i mod 59), scaled so they add up to ``pods`` exactly."""
    raw = [1 + (i % 59) for i in range(nodes)]
    total = sum(raw)
    counts = [pods * r // total for r in raw]
    for i in range(pods - sum(counts)):
        counts[i % nodes] += 1
    return counts


def build(nodes: int, counts: Sequence[int], policy: TrafficPolicy) -> Cluster:
    """``nodes`` Nodes and one LoadBalancer Service with ``counts[i]`` pods on node i."""
    node_objs = []
    endpoints = []
    for i in range(nodes):
        name = f"node-{i}"
        node_objs.append(
            Node(
                name=name,
                addresses=(NodeAddress(type="InternalIP", address=NODE_NET[i + 2]),),
                pod_cidrs=(IPv4Network((int(POD_NET.network_address) + i * 256, 24)),),
                labels=(("topology.kubernetes.io/zone", f"zone-{i % 3}"),),
            )
        )
        base = int(POD_NET.network_address) + i * 256 + 2
        for k in range(counts[i]):
            endpoints.append(
                Endpoint(address=IPv4Address(base + k), node_name=name, target=f"web-{i}-{k}")
            )
    slices = tuple(
        EndpointSlice(
            name=f"web-{n}",
            service_name="web",
            ports=(EndpointPort(port=8080),),
            endpoints=tuple(endpoints[start : start + SLICE_MAX]),
        )
        for n, start in enumerate(range(0, len(endpoints), SLICE_MAX))
    )
    service = Service(
        name="web",
        type=ServiceType.LOAD_BALANCER,
        cluster_ips=(IPv4Address("10.96.0.10"),),
        ports=(ServicePort(port=80, target_port=8080, node_port=30080),),
        selector=(("app", "web"),),
        external_traffic_policy=policy,
        health_check_node_port=32000 if policy is TrafficPolicy.LOCAL else 0,
        load_balancer_ingress=(LoadBalancerIngress(ip=IPv4Address("198.51.100.10")),),
    )
    return Cluster(services=(service,), endpoint_slices=slices, nodes=tuple(node_objs))


def best(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest of ``repeat`` calls, and the last result."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def measure_share(nodes: int, pods: int, policy: TrafficPolicy, repeat: int) -> dict[str, Any]:
    """share() on an indexed cluster, the index build alone, and both from scratch."""
    cluster = build(nodes, pod_counts(nodes, pods), policy)
    index_s, index = best(lambda: build_index(cluster), repeat)
    share_s, report = best(lambda: share(cluster, index=index), repeat)
    total_s, _ = best(lambda: share(cluster), 1)
    (item,) = report.services
    assert sum(p.share for p in item.pods) + item.dropped == 1
    return {
        "policy": str(policy),
        "nodes": nodes,
        "pods": len(item.pods),
        "index_s": index_s,
        "share_s": share_s,
        "total_s": total_s,
        "busiest_over_fair": float(item.fairness.busiest_over_fair),
    }


def measure_trace(
    nodes: int, counts: Sequence[int], policy: TrafficPolicy, repeat: int
) -> dict[str, Any]:
    """trace() of one client on a prebuilt index (the index build reported apart)."""
    cluster = build(nodes, counts, policy)
    index_s, index = best(lambda: build_index(cluster), 1)
    total_s, result = best(lambda: trace(cluster, index=index), repeat)
    (item,) = result.services
    assert sum(o.probability for o in item.outcomes) == 1
    return {
        "policy": str(policy),
        "nodes": nodes,
        "pods": sum(counts),
        "paths": len(item.outcomes),
        "index_s": index_s,
        "trace_s": total_s,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run both benchmarks and print figures with their ratio to the targets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=150_000)
    parser.add_argument("--trace-nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"srcip share/trace benchmark — {describe_machine()}")
    print(f"share: {args.nodes:,} nodes, {args.pods:,} pods (target ≤ {SHARE_TARGET_S:g} s)")
    for policy in (TrafficPolicy.LOCAL, TrafficPolicy.CLUSTER):
        row = measure_share(args.nodes, args.pods, policy, args.repeat)
        ratio = SHARE_TARGET_S / row["share_s"]
        verdict = "meets" if ratio >= 1 else "MISSES"
        print(
            f"  {row['policy']:<7} share {row['share_s']:.3f} s on the index — {ratio:.2f}× "
            f"target, {verdict} (index build {row['index_s']:.3f} s; from scratch "
            f"{row['total_s']:.3f} s); busiest pod {row['busiest_over_fair']:.2f}× fair"
        )
    n = args.trace_nodes
    print(f"trace: one client through {n:,} nodes (target ≤ {TRACE_TARGET_S * 1000:g} ms)")
    cases = (
        (TrafficPolicy.LOCAL, [1] * n),
        (TrafficPolicy.CLUSTER, [1 if i < 10 else 0 for i in range(n)]),
    )
    for policy, counts in cases:
        row = measure_trace(n, counts, policy, args.repeat)
        ratio = TRACE_TARGET_S / row["trace_s"]
        verdict = "meets" if ratio >= 1 else "MISSES"
        print(
            f"  {row['policy']:<7} {row['pods']:,} pods, {row['paths']:,} paths: trace "
            f"{row['trace_s'] * 1000:.1f} ms (index {row['index_s'] * 1000:.1f} ms) — "
            f"{ratio:.2f}× target, {verdict}"
        )


if __name__ == "__main__":
    main()
