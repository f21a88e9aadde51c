"""Synthetic clusters and packets for the route benchmark, as ``kubectl get -o json`` gives them.

:func:`generate_cluster` returns one ``kind: List`` of plain dicts. At ``scale=1.0`` it holds:

* 5,000 Nodes: InternalIP ``10.0.x.y`` (from 10.0.0.0/16), a ``/24`` podCIDR out of
  10.128.0.0/9, zone labels spread evenly over three zones, and 1 % tainted
  ``ToBeDeletedByClusterAutoscaler`` (KP §14.3);
* 10,000 Services: a third each ClusterIP, NodePort and LoadBalancer; half of the NodePort
  and half of the LoadBalancer ones ``externalTrafficPolicy: Local``; unique clusterIPs in
  10.96.0.0/12; each LoadBalancer has a ``status.loadBalancer.ingress[].ip`` VIP from
  172.16.0.0/12, and each Local LoadBalancer a ``healthCheckNodePort`` (KP §1.6);
* 200,000 endpoints in EndpointSlices of at most 100 endpoints, labelled
  ``kubernetes.io/service-name``. Each endpoint is a pod IP inside its node's podCIDR with
  ``nodeName`` and ``zone`` set; 93 % are ready, 4 % serving and terminating, 3 % not ready.
  Endpoint counts per Service are skewed (log-normal), and 1 % of Services have none;
* one ``KubeProxyConfiguration`` (iptables, ``clusterCIDR: 10.128.0.0/9``).

Smaller scales shrink every count in proportion (rounded, at least one of each object).

NodePorts: the apiserver's default range 30000–32767 holds only 2,768 ports, fewer than the
~8,300 service ports of 6,667 external Services plus ~1,700 health-check ports. NodePorts are
just numbers to the model, so this generator hands out unique port numbers upward from 30000,
going beyond 32767 up to 65535 (as an apiserver started with
``--service-node-port-range=30000-65535`` would). One pool serves nodePorts and
healthCheckNodePorts of both protocols, as the apiserver's allocator does (a number belongs
to one Service whatever the protocol), so TCP/UDP pairs cannot be used to double the range.

:func:`generate_packets` draws a bounded list of first packets at random nodes: ClusterIP,
NodePort and LoadBalancer-VIP destinations, from pod, host and external (198.18.0.0/15, the
RFC 2544 benchmarking range) sources. Everything is deterministic for a seed
(``random.Random(seed)``); nothing touches the network.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "FULL_SCALE",
    "PacketSpec",
    "Sizes",
    "generate_cluster",
    "generate_packets",
    "sizes_for",
    "write_cluster",
    "write_packets",
]

Json = dict[str, Any]

NODE_NET = IPv4Network("10.0.0.0/16")
POD_NET = IPv4Network("10.128.0.0/9")
SERVICE_NET = IPv4Network("10.96.0.0/12")
LB_NET = IPv4Network("172.16.0.0/12")
EXTERNAL_NET = IPv4Network("198.18.0.0/15")
ZONES = ("zone-a", "zone-b", "zone-c")
REGION = "region-1"
NAMESPACES = 40
SLICE_MAX = 100  # the EndpointSlice controller's default maxEndpointsPerSlice
NODE_PORT_FIRST = 30000
PORT_LAST = 65535
POD_HOSTS = range(2, 255)  # .1 of each /24 is the node's pod-network gateway
TAINT_TO_BE_DELETED = "ToBeDeletedByClusterAutoscaler"

CLUSTER_IP, NODE_PORT, LOAD_BALANCER = "ClusterIP", "NodePort", "LoadBalancer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sizes:
    """Object counts for one scale."""

    nodes: int
    services: int
    endpoints: int


FULL_SCALE = Sizes(nodes=5_000, services=10_000, endpoints=200_000)


class PacketSpec(NamedTuple):
    """One first packet arriving at ``node``, as plain JSON-friendly values."""

    node: str
    src: str
    dst: str
    port: int
    protocol: str


def sizes_for(scale: float) -> Sizes:
    """Counts at ``scale`` (1.0 = 5,000 nodes); ValueError outside (0, 10]."""
    if not 0 < scale <= 10:
        raise ValueError(f"scale must be in (0, 10], got {scale}")
    return Sizes(
        nodes=max(1, round(FULL_SCALE.nodes * scale)),
        services=max(1, round(FULL_SCALE.services * scale)),
        endpoints=max(1, round(FULL_SCALE.endpoints * scale)),
    )


# --------------------------------------------------------------------------- Nodes


def _node(index: int, rng: random.Random) -> Json:
    name = f"node-{index:05d}"
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "topology.kubernetes.io/region": REGION,
        "topology.kubernetes.io/zone": ZONES[index % len(ZONES)],
    }
    pod_cidr = str(IPv4Network((int(POD_NET.network_address) + 256 * index, 24)))
    spec: Json = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    if rng.random() < 0.01:
        spec["taints"] = [
            {"key": TAINT_TO_BE_DELETED, "value": "1795000000", "effect": "NoSchedule"}
        ]
    internal_ip = NODE_NET.network_address + 10 + index
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": str(internal_ip)},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _nodes(count: int, rng: random.Random) -> list[Json]:
    if count > NODE_NET.num_addresses - 12 or count > POD_NET.num_addresses // 256:
        raise ValueError(f"{count} nodes do not fit in {NODE_NET} / {POD_NET}")
    return [_node(i, rng) for i in range(count)]


# --------------------------------------------------------------------------- Services


class _PortPool:
    """Unique node port numbers, counted upward from 30000 (see the module docstring)."""

    def __init__(self) -> None:
        self._next = NODE_PORT_FIRST

    def take(self) -> int:
        if self._next > PORT_LAST:
            raise ValueError("out of node ports (30000-65535): lower the scale")
        self._next += 1
        return self._next - 1


def _types(count: int, rng: random.Random) -> list[tuple[str, bool]]:
    """(type, eTP Local) per Service: a third of each type, half Local among external ones."""
    kinds: list[tuple[str, bool]] = []
    for i, kind in enumerate((CLUSTER_IP, NODE_PORT, LOAD_BALANCER)):
        share = count // 3 + (1 if i < count % 3 else 0)
        local = share // 2 if kind != CLUSTER_IP else 0
        kinds += [(kind, True)] * local + [(kind, False)] * (share - local)
    rng.shuffle(kinds)
    return kinds


def _ports(rng: random.Random) -> list[Json]:
    """Service ports: 10 % UDP DNS-like, 25 % http+https, the rest plain http."""
    draw = rng.random()
    if draw < 0.10:
        return [{"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 5353}]
    http = {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}
    if draw < 0.35:
        return [http, {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443}]
    return [http]


def _service(
    index: int,
    kind: tuple[str, bool],
    addrs: tuple[IPv4Address, IPv4Address | None],
    rng: random.Random,
    pool: _PortPool,
) -> Json:
    svc_type, local = kind
    cluster_ip, vip = addrs
    name = f"svc-{index:05d}"
    ports = _ports(rng)
    spec: Json = {
        "type": svc_type,
        "clusterIP": str(cluster_ip),
        "clusterIPs": [str(cluster_ip)],
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": ports,
        "selector": {"app": name},
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
    }
    status: Json = {"loadBalancer": {}}
    if svc_type != CLUSTER_IP:
        spec["externalTrafficPolicy"] = "Local" if local else "Cluster"
        for port in ports:
            port["nodePort"] = pool.take()
    if svc_type == LOAD_BALANCER:
        spec["allocateLoadBalancerNodePorts"] = True
        status = {"loadBalancer": {"ingress": [{"ip": str(vip), "ipMode": "VIP"}]}}
        if local:
            spec["healthCheckNodePort"] = pool.take()
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": f"team-{index % NAMESPACES:02d}"},
        "spec": spec,
        "status": status,
    }


def _sample_hosts(net: IPv4Network, count: int, rng: random.Random) -> list[IPv4Address]:
    """``count`` distinct host addresses of ``net``, skipping .0, .1 and the last."""
    if count > net.num_addresses - 3:
        raise ValueError(f"{count} addresses do not fit in {net}")
    base = int(net.network_address)
    return [
        IPv4Address(base + offset) for offset in rng.sample(range(2, net.num_addresses - 1), count)
    ]


def _services(count: int, rng: random.Random) -> list[Json]:
    kinds = _types(count, rng)
    cluster_ips = _sample_hosts(SERVICE_NET, count, rng)
    vips = iter(_sample_hosts(LB_NET, sum(k == LOAD_BALANCER for k, _ in kinds), rng))
    pool = _PortPool()
    services = []
    for i, kind in enumerate(kinds):
        vip = next(vips) if kind[0] == LOAD_BALANCER else None
        services.append(_service(i, kind, (cluster_ips[i], vip), rng, pool))
    return services


# --------------------------------------------------------------------------- EndpointSlices


def _endpoint_counts(services: int, total: int, rng: random.Random) -> list[int]:
    """Skewed counts summing to exactly ``total``; 1 % of Services (when that leaves any) get 0."""
    weights = [
        0.0 if rng.random() < 0.01 else rng.lognormvariate(0.0, 1.0) for _ in range(services)
    ]
    if not any(weights):
        weights[0] = 1.0
    nonempty = sum(1 for w in weights if w)
    floor_each = 1 if total >= nonempty else 0
    rest = total - floor_each * nonempty
    scale = rest / sum(weights)
    shares = [w * scale for w in weights]
    counts = [(floor_each if w else 0) + int(s) for w, s in zip(weights, shares, strict=True)]
    by_remainder = sorted(range(services), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


class _PodIPs:
    """Hands out pod IPs inside each node's podCIDR (.2–.254), choosing nodes at random."""

    def __init__(self, nodes: Sequence[Json], rng: random.Random) -> None:
        self._nodes = nodes
        self._used = [0] * len(nodes)
        self._rng = rng

    def take(self) -> tuple[Json, str]:
        start = self._rng.randrange(len(self._nodes))
        for step in range(len(self._nodes)):  # bounded linear probe past full nodes
            slot = (start + step) % len(self._nodes)
            if self._used[slot] < len(POD_HOSTS):
                node = self._nodes[slot]
                base = IPv4Network(node["spec"]["podCIDR"]).network_address
                self._used[slot] += 1
                return node, str(base + POD_HOSTS[self._used[slot] - 1])
        raise ValueError("every node's podCIDR is full: too many endpoints per node")


def _conditions(rng: random.Random) -> Json:
    draw = rng.random()
    if draw < 0.93:
        return {"ready": True, "serving": True, "terminating": False}
    if draw < 0.97:
        return {"ready": False, "serving": True, "terminating": True}
    return {"ready": False, "serving": False, "terminating": False}


def _endpoint(service: Json, ordinal: int, pods: _PodIPs, rng: random.Random) -> Json:
    node, pod_ip = pods.take()
    meta = service["metadata"]
    return {
        "addresses": [pod_ip],
        "conditions": _conditions(rng),
        "nodeName": node["metadata"]["name"],
        "zone": node["metadata"]["labels"]["topology.kubernetes.io/zone"],
        "targetRef": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": f"{meta['name']}-{ordinal}",
        },
    }


def _slices(service: Json, count: int, pods: _PodIPs, rng: random.Random) -> list[Json]:
    meta = service["metadata"]
    ports = [
        {"name": p["name"], "protocol": p["protocol"], "port": p["targetPort"]}
        for p in service["spec"]["ports"]
    ]
    endpoints = [_endpoint(service, k, pods, rng) for k in range(count)]
    slices = []
    for first in range(0, count, SLICE_MAX):
        slices.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": f"{meta['name']}-{rng.getrandbits(20):05x}{first // SLICE_MAX}",
                    "namespace": meta["namespace"],
                    "labels": {
                        "kubernetes.io/service-name": meta["name"],
                        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    },
                },
                "addressType": "IPv4",
                "ports": ports,
                "endpoints": endpoints[first : first + SLICE_MAX],
            }
        )
    return slices


# --------------------------------------------------------------------------- the cluster


def _proxy_config() -> Json:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": str(POD_NET),
    }


def generate_cluster(scale: float, seed: int = 1) -> Json:
    """A ``kind: List`` of Nodes, Services, EndpointSlices and a KubeProxyConfiguration."""
    sizes = sizes_for(scale)
    rng = random.Random(seed)
    nodes = _nodes(sizes.nodes, rng)
    services = _services(sizes.services, rng)
    pods = _PodIPs(nodes, rng)
    counts = _endpoint_counts(sizes.services, sizes.endpoints, rng)
    slices = [
        s for svc, n in zip(services, counts, strict=True) for s in _slices(svc, n, pods, rng)
    ]
    return {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"resourceVersion": ""},
        "items": [*nodes, *services, *slices, _proxy_config()],
    }


def write_cluster(path: Path | str, scale: float, seed: int = 1) -> Json:
    """Write :func:`generate_cluster` as JSON to ``path``; return the cluster written."""
    cluster = generate_cluster(scale, seed)
    Path(path).write_text(json.dumps(cluster, separators=(",", ":")), encoding="utf-8")
    return cluster


# --------------------------------------------------------------------------- packets


@dataclass(frozen=True, slots=True)
class _Targets:
    """What packets can be aimed at, pulled out of a generated cluster."""

    nodes: list[tuple[str, str, int]]  # name, InternalIP, podCIDR base as int
    cluster_ips: list[tuple[str, int, str]]  # clusterIP, port, protocol
    node_ports: list[tuple[int, str]]  # nodePort, protocol
    vips: list[tuple[str, int, str]]  # LB VIP, port, protocol


def _targets(cluster: Json) -> _Targets:
    targets = _Targets([], [], [], [])
    for item in cluster["items"]:
        if item["kind"] == "Node":
            base = int(IPv4Network(item["spec"]["podCIDR"]).network_address)
            ip = item["status"]["addresses"][0]["address"]
            targets.nodes.append((item["metadata"]["name"], ip, base))
        elif item["kind"] == "Service":
            spec = item["spec"]
            vips = [i["ip"] for i in item["status"]["loadBalancer"].get("ingress", [])]
            for port in spec["ports"]:
                targets.cluster_ips.append((spec["clusterIP"], port["port"], port["protocol"]))
                if "nodePort" in port:
                    targets.node_ports.append((port["nodePort"], port["protocol"]))
                targets.vips.extend((vip, port["port"], port["protocol"]) for vip in vips)
    return targets


def _source(kind: str, node: tuple[str, str, int], rng: random.Random) -> str:
    if kind == "pod":
        return str(IPv4Address(node[2] + rng.choice(POD_HOSTS)))
    if kind == "host":
        return node[1]
    return str(EXTERNAL_NET.network_address + rng.randrange(1, EXTERNAL_NET.num_addresses - 1))


def _packet(targets: _Targets, rng: random.Random) -> PacketSpec:
    """ClusterIP 40 % (pod/host sources); NodePort 30 % and VIP 30 % (mostly external)."""
    node = rng.choice(targets.nodes)
    draw = rng.random()
    if draw < 0.4 or not (targets.node_ports or targets.vips):
        dst, port, proto = rng.choice(targets.cluster_ips)
        src = _source(rng.choices(("pod", "host"), (0.7, 0.3))[0], node, rng)
        return PacketSpec(node[0], src, dst, port, proto)
    src = _source(rng.choices(("external", "pod", "host"), (0.8, 0.1, 0.1))[0], node, rng)
    if (draw < 0.7 and targets.node_ports) or not targets.vips:
        node_port, proto = rng.choice(targets.node_ports)
        return PacketSpec(node[0], src, node[1], node_port, proto)
    dst, port, proto = rng.choice(targets.vips)
    return PacketSpec(node[0], src, dst, port, proto)


def generate_packets(cluster: Json, count: int, seed: int = 2) -> list[PacketSpec]:
    """``count`` first packets at random nodes of ``cluster`` (see the module docstring)."""
    targets = _targets(cluster)
    rng = random.Random(seed)
    return [_packet(targets, rng) for _ in range(count)]


def write_packets(path: Path | str, packets: Sequence[PacketSpec]) -> None:
    """Write packets as a JSON list of ``[node, src, dst, port, protocol]``."""
    Path(path).write_text(
        json.dumps([list(p) for p in packets], separators=(",", ":")), encoding="utf-8"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python bench/generate.py OUT.json --scale 0.1``: write one cluster."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    write_cluster(args.out, args.scale, args.seed)


if __name__ == "__main__":
    main()
