"""Endpoint categorisation (KP §2.3, §12), against upstream ``TestCategorizeEndpoints``.

The first table transcribes ``pkg/proxy/topology_test.go`` at commit 6c039d9 (the newest
stored version). The older commit 02756999 also had cases driven by the
``service.kubernetes.io/topology-aware-hints`` annotation and by the
``ProxyTerminatingEndpoints`` gate being off; current ``topology.go`` reads neither, so they
are left out (KP §0, §2.4). Neither version tests PreferSameNode; the second table states
``topologyModeFromHints`` of ``topology.go`` (commit 008b365) directly and is srcip's own.

Upstream's service fields map to KP §1.5: UsesClusterEndpoints = not iTP=Local or externally
accessible (a nodePort here); UsesLocalEndpoints = iTP=Local or (eTP=Local and externally
accessible). ``isLocal`` endpoints sit on the test node, the others on another node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.model.endpoints import TopologyMode, categorize_endpoints, topology_mode
from srcip.model.objects import Endpoint
from tests.factories import endpoint

NODE = "test-node"
OTHER = "other-node"


@dataclass(frozen=True)
class Svc:
    """The three upstream ``BaseServicePortInfo`` fields that decide the policies."""

    internal_local: bool = False
    external_local: bool = False
    node_port: int = 0

    @property
    def uses_cluster(self) -> bool:
        """UsesClusterEndpoints (KP §1.5)."""
        return not self.internal_local or self.node_port != 0

    @property
    def uses_local(self) -> bool:
        """UsesLocalEndpoints (KP §1.5)."""
        return self.internal_local or (self.external_local and self.node_port != 0)


def ep(
    address: str,
    *,
    local: bool = False,
    ready: bool = True,
    serving: bool = False,
    terminating: bool = False,
    zones: tuple[str, ...] = (),
    nodes: tuple[str, ...] = (),
) -> Endpoint:
    """An upstream ``BaseEndpointInfo``: like Go's zero values, ``serving`` defaults to false."""
    return endpoint(
        address,
        node=NODE if local else OTHER,
        ready=ready,
        serving=serving,
        terminating=terminating,
        zone_hints=zones,
        node_hints=nodes,
    )


def ips(*addresses: str) -> frozenset[str]:
    """A set of endpoint addresses, as upstream's ``sets.New[string](...)`` without ports."""
    return frozenset(addresses)


NONE = None  # upstream nil: the service never uses this kind of endpoints

# name, node zone label (None: no label), service, endpoints,
# cluster, local, all (None: same as the only non-nil one), onlyRemoteEndpoints
TEST_CATEGORIZE_ENDPOINTS = [
    pytest.param(
        "zone-a",
        Svc(),
        [
            ep("10.1.2.3", zones=("zone-a",)),
            ep("10.1.2.4", zones=("zone-b",)),
            ep("10.1.2.5", zones=("zone-c",)),
            ep("10.1.2.6", zones=("zone-a",)),
        ],
        ips("10.1.2.3", "10.1.2.6"),
        NONE,
        None,
        False,
        id="should use topology since all endpoints have hints, node has a zone label and and "
        "there are endpoints for the node's zone",
    ),
    pytest.param(
        "zone-a",
        Svc(external_local=True, node_port=8080),
        [
            ep("10.1.2.3", zones=("zone-a",), local=True),
            ep("10.1.2.4", zones=("zone-b",), local=True),
            ep("10.1.2.5", zones=("zone-c",)),
            ep("10.1.2.6", zones=("zone-a",)),
        ],
        ips("10.1.2.3", "10.1.2.6"),
        ips("10.1.2.3", "10.1.2.4"),
        ips("10.1.2.3", "10.1.2.4", "10.1.2.6"),
        False,
        id="externalTrafficPolicy: Local, topology ignored for Local endpoints",
    ),
    pytest.param(
        "zone-a",
        Svc(internal_local=True, node_port=8080),
        [
            ep("10.1.2.3", zones=("zone-a",), local=True),
            ep("10.1.2.4", zones=("zone-b",), local=True),
            ep("10.1.2.5", zones=("zone-c",)),
            ep("10.1.2.6", zones=("zone-a",)),
        ],
        ips("10.1.2.3", "10.1.2.6"),
        ips("10.1.2.3", "10.1.2.4"),
        ips("10.1.2.3", "10.1.2.4", "10.1.2.6"),
        False,
        id="internalTrafficPolicy: Local, topology ignored for Local endpoints",
    ),
    pytest.param(
        None,
        Svc(),
        [ep("10.1.2.3", zones=("zone-a",))],
        ips("10.1.2.3"),
        NONE,
        None,
        False,
        id="empty node labels",
    ),
    pytest.param(
        "",
        Svc(),
        [ep("10.1.2.3", zones=("zone-a",))],
        ips("10.1.2.3"),
        NONE,
        None,
        False,
        id="empty zone label",
    ),
    pytest.param(
        "zone-b",
        Svc(),
        [ep("10.1.2.3", zones=("zone-a",))],
        ips("10.1.2.3"),
        NONE,
        None,
        False,
        id="node in different zone, no endpoint filtering",
    ),
    pytest.param(
        "zone-a",
        Svc(),
        [
            ep("10.1.2.3", zones=("zone-a",)),
            ep("10.1.2.4", zones=("zone-b",)),
            ep("10.1.2.5", zones=("zone-c",)),
            ep("10.1.2.6", zones=("zone-a",), ready=False),
        ],
        ips("10.1.2.3"),
        NONE,
        None,
        False,
        id="unready endpoint",
    ),
    pytest.param(
        "zone-a",
        Svc(),
        [
            ep("10.1.2.3", zones=("zone-a",), ready=False),
            ep("10.1.2.4", zones=("zone-b",)),
            ep("10.1.2.5", zones=("zone-c",)),
            ep("10.1.2.6", zones=("zone-a",), ready=False),
        ],
        ips("10.1.2.4", "10.1.2.5"),
        NONE,
        None,
        False,
        id="only unready endpoints in same zone (should not filter)",
    ),
    pytest.param(
        "zone-a",
        Svc(),
        [
            ep("10.1.2.3", zones=("zone-a",)),
            ep("10.1.2.4", zones=("zone-b",)),
            ep("10.1.2.5"),  # missing hint
            ep("10.1.2.6", zones=("zone-a",)),
        ],
        ips("10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"),
        NONE,
        None,
        False,
        id="missing hints, no filtering applied",
    ),
    pytest.param(
        "zone-c",
        Svc(),
        [
            ep("10.1.2.3", zones=("zone-a", "zone-b", "zone-c")),
            ep("10.1.2.4", zones=("zone-b", "zone-c")),
            ep("10.1.2.5", zones=("zone-b", "zone-d")),
            ep("10.1.2.6", zones=("zone-c",)),
        ],
        ips("10.1.2.3", "10.1.2.4", "10.1.2.6"),
        NONE,
        None,
        False,
        id="multiple hints per endpoint, filtering includes any endpoint with zone included",
    ),
    pytest.param(
        "zone-a",
        Svc(external_local=True, node_port=8080),
        [
            ep("10.0.0.0", zones=("zone-a",), local=True),
            ep("10.0.0.1", zones=("zone-b",), local=True),
            ep("10.0.0.2", zones=("zone-a",)),
            ep("10.0.0.3", zones=("zone-b",)),
        ],
        ips("10.0.0.0", "10.0.0.2"),
        ips("10.0.0.0", "10.0.0.1"),
        ips("10.0.0.0", "10.0.0.1", "10.0.0.2"),
        False,
        id="conflicting topology and localness require merging allEndpoints",
    ),
    pytest.param(
        None,
        Svc(internal_local=True),
        [],
        NONE,
        ips(),
        None,
        False,
        id="internalTrafficPolicy: Local, with empty endpoints",
    ),
    pytest.param(
        None,
        Svc(internal_local=True),
        [ep("10.0.0.0"), ep("10.0.0.1")],
        NONE,
        ips(),
        None,
        True,
        id="internalTrafficPolicy: Local, but all endpoints are remote",
    ),
    pytest.param(
        None,
        Svc(internal_local=True),
        [ep("10.0.0.0", local=True), ep("10.0.0.1", local=True)],
        NONE,
        ips("10.0.0.0", "10.0.0.1"),
        None,
        False,
        id="internalTrafficPolicy: Local, all endpoints are local",
    ),
    pytest.param(
        None,
        Svc(internal_local=True),
        [ep("10.0.0.0", local=True), ep("10.0.0.1")],
        NONE,
        ips("10.0.0.0"),
        None,
        False,
        id="internalTrafficPolicy: Local, some endpoints are local",
    ),
    pytest.param(
        None,
        Svc(),
        [ep("10.0.0.0", ready=False), ep("10.0.0.1", ready=False)],
        ips(),
        NONE,
        None,
        False,
        id="Cluster traffic policy, endpoints not Ready",
    ),
    pytest.param(
        None,
        Svc(),
        [ep("10.0.0.0", ready=False), ep("10.0.0.1")],
        ips("10.0.0.1"),
        NONE,
        None,
        False,
        id="Cluster traffic policy, some endpoints are Ready",
    ),
    pytest.param(
        None,
        Svc(),
        [
            ep("10.0.0.0", ready=False, serving=True, terminating=True, local=True),
            ep("10.0.0.1", ready=False, serving=True, terminating=True),
        ],
        ips("10.0.0.0", "10.0.0.1"),
        NONE,
        None,
        False,
        id="Cluster traffic policy, all endpoints are terminating",
    ),
    pytest.param(
        None,
        Svc(internal_local=True, node_port=8080),
        [ep("10.0.0.0", local=True), ep("10.0.0.1")],
        ips("10.0.0.0", "10.0.0.1"),
        ips("10.0.0.0"),
        ips("10.0.0.0", "10.0.0.1"),
        False,
        id="iTP: Local, eTP: Cluster, some endpoints local",
    ),
    pytest.param(
        None,
        Svc(external_local=True, node_port=8080),
        [ep("10.0.0.0", local=True), ep("10.0.0.1")],
        ips("10.0.0.0", "10.0.0.1"),
        ips("10.0.0.0"),
        ips("10.0.0.0", "10.0.0.1"),
        False,
        id="iTP: Cluster, eTP: Local, some endpoints local",
    ),
    pytest.param(
        None,
        Svc(internal_local=True, external_local=True, node_port=8080),
        [ep("10.0.0.0", local=True), ep("10.0.0.1")],
        ips("10.0.0.0", "10.0.0.1"),
        ips("10.0.0.0"),
        ips("10.0.0.0", "10.0.0.1"),
        False,
        id="iTP: Local, eTP: Local, some endpoints local",
    ),
    pytest.param(
        None,
        Svc(internal_local=True, external_local=True, node_port=8080),
        [ep("10.0.0.0"), ep("10.0.0.1")],
        ips("10.0.0.0", "10.0.0.1"),
        ips(),
        ips("10.0.0.0", "10.0.0.1"),
        False,
        id="iTP: Local, eTP: Local, all endpoints remote",
    ),
    pytest.param(
        None,
        Svc(internal_local=True, external_local=True, node_port=8080),
        [
            ep("10.0.0.0", ready=False, serving=True, terminating=True),
            ep("10.0.0.1", ready=False, serving=True, terminating=True),
        ],
        ips("10.0.0.0", "10.0.0.1"),
        ips(),
        ips("10.0.0.0", "10.0.0.1"),
        True,
        id="iTP: Local, eTP: Local, all endpoints remote and terminating",
    ),
    pytest.param(
        None,
        Svc(external_local=True, node_port=8080),
        [
            ep("10.0.0.0"),
            ep("10.0.0.1", ready=False, serving=False, local=True),
            ep("10.0.0.2", ready=False, serving=True, terminating=True, local=True),
            ep("10.0.0.3", ready=False, serving=True, terminating=True),
        ],
        ips("10.0.0.0"),
        ips("10.0.0.2"),
        ips("10.0.0.0", "10.0.0.2"),
        False,
        id="iTP: Cluster, eTP: Local, with terminating endpoints",
    ),
    pytest.param(
        None,
        Svc(external_local=True),
        [ep("10.0.0.0"), ep("10.0.0.1", local=True)],
        ips("10.0.0.0", "10.0.0.1"),
        NONE,
        ips("10.0.0.0", "10.0.0.1"),
        False,
        id="externalTrafficPolicy ignored if not externally accessible",
    ),
    pytest.param(
        None,
        Svc(internal_local=True),
        [ep("10.0.0.0"), ep("10.0.0.1", local=True)],
        NONE,
        ips("10.0.0.1"),
        ips("10.0.0.1"),
        False,
        id="no cluster endpoints for iTP:Local internal-only service",
    ),
]


def addresses(endpoints: Sequence[Endpoint]) -> frozenset[str]:
    """The endpoints' addresses as strings."""
    return frozenset(str(e.address) for e in endpoints)


@pytest.mark.parametrize(
    ("zone", "svc", "endpoints", "cluster", "local", "all_", "only_remote"),
    TEST_CATEGORIZE_ENDPOINTS,
)
def test_TestCategorizeEndpoints(
    zone: str | None,
    svc: Svc,
    endpoints: list[Endpoint],
    cluster: frozenset[str] | None,
    local: frozenset[str] | None,
    all_: frozenset[str] | None,
    only_remote: bool,
) -> None:
    """Upstream TestCategorizeEndpoints: the cluster, local and reachable sets (KP §2.3, §12)."""
    result = categorize_endpoints(
        endpoints, node=NODE, zone=zone, uses_cluster=svc.uses_cluster, uses_local=svc.uses_local
    )
    # upstream nil ("never uses this kind") is an empty tuple here, and the flag says which
    assert (cluster is not None) is svc.uses_cluster
    assert (local is not None) is svc.uses_local
    assert addresses(result.cluster) == (cluster or frozenset())
    assert addresses(result.local) == (local or frozenset())
    if all_ is None:
        all_ = cluster if local is None else local
    assert all_ is not None
    assert addresses(result.all_reachable) == all_
    assert result.has_any is (bool(all_) or only_remote)


# name, node's zone, PreferSameTrafficDistribution gate, service, endpoints,
# cluster set, topology mode. From topologyModeFromHints / availableForTopology (008b365).
PREFER_SAME_NODE = [
    pytest.param(
        "zone-a",
        True,
        Svc(),
        [
            ep("10.0.0.1", zones=("zone-a",), nodes=(NODE,)),
            ep("10.0.0.2", zones=("zone-a",), nodes=(OTHER,)),
            ep("10.0.0.3", zones=("zone-b",), nodes=("node-3",)),
        ],
        ips("10.0.0.1"),
        TopologyMode.PREFER_SAME_NODE,
        id="every ready endpoint has a node hint and one names this node",
    ),
    pytest.param(
        "zone-a",
        False,
        Svc(),
        [
            ep("10.0.0.1", zones=("zone-a",), nodes=(NODE,)),
            ep("10.0.0.2", zones=("zone-a",), nodes=(OTHER,)),
            ep("10.0.0.3", zones=("zone-b",), nodes=("node-3",)),
        ],
        ips("10.0.0.1", "10.0.0.2"),
        TopologyMode.PREFER_SAME_ZONE,
        id="gate off, node hints ignored, zone hints used",
    ),
    pytest.param(
        "zone-a",
        True,
        Svc(),
        [
            ep("10.0.0.2", zones=("zone-a",), nodes=(OTHER,)),
            ep("10.0.0.3", zones=("zone-b",), nodes=("node-3",)),
        ],
        ips("10.0.0.2"),
        TopologyMode.PREFER_SAME_ZONE,
        id="no endpoint hinted for this node, falls back to zone hints",
    ),
    pytest.param(
        "zone-a",
        True,
        Svc(),
        [
            ep("10.0.0.1", zones=("zone-a",), nodes=(NODE,)),
            ep("10.0.0.2", zones=("zone-a",)),  # no node hint
            ep("10.0.0.3", zones=("zone-b",), nodes=("node-3",)),
        ],
        ips("10.0.0.1", "10.0.0.2"),
        TopologyMode.PREFER_SAME_ZONE,
        id="a ready endpoint without node hint disables PreferSameNode",
    ),
    pytest.param(
        "zone-c",
        True,
        Svc(),
        [
            ep("10.0.0.2", zones=("zone-a",), nodes=(OTHER,)),
            ep("10.0.0.3", zones=("zone-b",), nodes=("node-3",)),
        ],
        ips("10.0.0.2", "10.0.0.3"),
        TopologyMode.NONE,
        id="neither node nor zone hinted for this node, no filtering",
    ),
    pytest.param(
        "zone-a",
        True,
        Svc(),
        [
            ep("10.0.0.1", zones=("zone-a",), nodes=(NODE,)),
            ep("10.0.0.2", ready=False),  # unready: its missing hints do not count
            ep("10.0.0.3", zones=("zone-b",), nodes=("node-3",)),
        ],
        ips("10.0.0.1"),
        TopologyMode.PREFER_SAME_NODE,
        id="unready endpoints are not considered for the mode",
    ),
    pytest.param(
        "zone-a",
        True,
        Svc(),
        [
            ep("10.0.0.1", ready=False, serving=True, terminating=True, nodes=(NODE,)),
            ep("10.0.0.2", ready=False, serving=True, terminating=True, nodes=(OTHER,)),
        ],
        ips("10.0.0.1", "10.0.0.2"),
        TopologyMode.NONE,
        id="no ready endpoints: no mode, terminating fallback ignores hints",
    ),
    pytest.param(
        "zone-a",
        True,
        Svc(external_local=True, node_port=8080),
        [
            ep("10.0.0.1", zones=("zone-a",), nodes=(OTHER,)),
            ep("10.0.0.2", zones=("zone-a",), nodes=(NODE,), local=False),
            ep("10.0.0.3", zones=("zone-b",), nodes=(OTHER,), local=True),
        ],
        ips("10.0.0.2"),
        TopologyMode.PREFER_SAME_NODE,
        id="node hints never filter the local set",
    ),
]


@pytest.mark.parametrize(("zone", "gate", "svc", "endpoints", "cluster", "mode"), PREFER_SAME_NODE)
def test_prefer_same_node(
    zone: str,
    gate: bool,
    svc: Svc,
    endpoints: list[Endpoint],
    cluster: frozenset[str],
    mode: TopologyMode,
) -> None:
    """PreferSameNode wins over PreferSameZone only when every Ready endpoint is node-hinted."""
    result = categorize_endpoints(
        endpoints,
        node=NODE,
        zone=zone,
        uses_cluster=svc.uses_cluster,
        uses_local=svc.uses_local,
        prefer_same_node=gate,
    )
    assert addresses(result.cluster) == cluster
    assert result.topology is mode
    assert topology_mode(endpoints, NODE, zone, prefer_same_node=gate) is mode
    local = [e for e in endpoints if e.node_name == NODE and e.ready]
    assert addresses(result.local) == (addresses(local) if svc.uses_local else frozenset())


def test_no_endpoints_at_all() -> None:
    """Nothing to categorise: empty sets and no endpoints anywhere (upstream early return)."""
    result = categorize_endpoints([], node=NODE, uses_cluster=True, uses_local=True)
    assert result.cluster == result.local == result.all_reachable == ()
    assert result.has_any is False
    assert result.topology is TopologyMode.NONE


# --------------------------------------------------------------------------- properties

POLICIES = st.sampled_from([(True, False), (False, True), (True, True)])  # (cluster, local)


@st.composite
def endpoint_lists(draw: st.DrawFn) -> list[Endpoint]:
    """Endpoints with distinct addresses and arbitrary conditions, places and hints."""
    count = draw(st.integers(min_value=0, max_value=8))
    return [
        endpoint(
            f"10.0.0.{i}",
            node=draw(st.sampled_from([NODE, OTHER, "node-3", None])),
            ready=draw(st.booleans()),
            serving=draw(st.booleans()),
            terminating=draw(st.booleans()),
            zone_hints=tuple(draw(st.sets(st.sampled_from(["zone-a", "zone-b"])))),
            node_hints=tuple(draw(st.sets(st.sampled_from([NODE, OTHER])))),
        )
        for i in range(count)
    ]


def is_fallback(e: Endpoint) -> bool:
    """Not Ready but serving and terminating (KP §2.3)."""
    return not e.ready and e.serving and e.terminating


CATEGORIZE_INPUT = {
    "endpoints": endpoint_lists(),
    "policies": POLICIES,
    "zone": st.sampled_from(["zone-a", "zone-b", None]),
    "gate": st.booleans(),
}


@given(**CATEGORIZE_INPUT)
def test_local_set_is_on_this_node(
    endpoints: list[Endpoint], policies: tuple[bool, bool], zone: str | None, gate: bool
) -> None:
    """Every local endpoint runs on the node; an unused set is empty (KP §2.2, §2.3)."""
    uses_cluster, uses_local = policies
    result = categorize_endpoints(
        endpoints,
        node=NODE,
        zone=zone,
        uses_cluster=uses_cluster,
        uses_local=uses_local,
        prefer_same_node=gate,
    )
    assert all(e.node_name == NODE for e in result.local)
    assert uses_local or result.local == ()
    assert uses_cluster or result.cluster == ()


@given(**CATEGORIZE_INPUT)
def test_sets_never_mix_ready_and_terminating(
    endpoints: list[Endpoint], policies: tuple[bool, bool], zone: str | None, gate: bool
) -> None:
    """Each set is all Ready, or (fallback) all serving+terminating and not Ready (KP §2.3)."""
    uses_cluster, uses_local = policies
    result = categorize_endpoints(
        endpoints,
        node=NODE,
        zone=zone,
        uses_cluster=uses_cluster,
        uses_local=uses_local,
        prefer_same_node=gate,
    )
    for chosen in (result.cluster, result.local):
        assert all(e.ready for e in chosen) or all(is_fallback(e) for e in chosen)
    if result.cluster and not result.cluster[0].ready:
        assert not any(e.ready for e in endpoints)  # fallback only when nothing is Ready


@given(**CATEGORIZE_INPUT)
def test_has_any_iff_a_usable_endpoint_exists(
    endpoints: list[Endpoint], policies: tuple[bool, bool], zone: str | None, gate: bool
) -> None:
    """has_any iff some endpoint anywhere is Ready or serving+terminating (KP §2.3, §6)."""
    uses_cluster, uses_local = policies
    result = categorize_endpoints(
        endpoints,
        node=NODE,
        zone=zone,
        uses_cluster=uses_cluster,
        uses_local=uses_local,
        prefer_same_node=gate,
    )
    usable = any(e.ready or (e.serving and e.terminating) for e in endpoints)
    assert result.has_any is usable


@given(**CATEGORIZE_INPUT)
def test_reachable_is_the_union_and_local_ignores_hints(
    endpoints: list[Endpoint], policies: tuple[bool, bool], zone: str | None, gate: bool
) -> None:
    """all_reachable = cluster ∪ local; stripping hints never changes the local set (KP §12)."""
    uses_cluster, uses_local = policies
    kwargs = {"node": NODE, "uses_cluster": uses_cluster, "uses_local": uses_local}
    result = categorize_endpoints(endpoints, zone=zone, prefer_same_node=gate, **kwargs)
    assert addresses(result.all_reachable) == addresses(result.cluster) | addresses(result.local)
    assert len(result.all_reachable) == len(addresses(result.all_reachable))
    plain = [
        endpoint(
            str(e.address),
            node=e.node_name,
            ready=e.ready,
            serving=e.serving,
            terminating=e.terminating,
        )
        for e in endpoints
    ]
    assert addresses(categorize_endpoints(plain, zone=zone, **kwargs).local) == addresses(
        result.local
    )


@given(**CATEGORIZE_INPUT)
def test_topology_only_narrows_the_ready_set(
    endpoints: list[Endpoint], policies: tuple[bool, bool], zone: str | None, gate: bool
) -> None:
    """With Ready endpoints the cluster set is a non-empty subset of them (KP §12.2)."""
    uses_cluster, uses_local = policies
    result = categorize_endpoints(
        endpoints,
        node=NODE,
        zone=zone,
        uses_cluster=uses_cluster,
        uses_local=uses_local,
        prefer_same_node=gate,
    )
    ready = addresses([e for e in endpoints if e.ready])
    if uses_cluster and ready:
        assert addresses(result.cluster) <= ready
        assert result.cluster
        if result.topology is TopologyMode.NONE:
            assert addresses(result.cluster) == ready
