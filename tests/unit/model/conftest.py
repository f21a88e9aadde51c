"""Fixtures for the model tests.

The packet-flow ports share plain modules rather than fixtures: ``kubeproxy_upstream``
(upstream's NewFakeProxier cluster and the flow assertions), ``kubeproxy_scenarios`` (each
upstream test's Services and EndpointSlices) and ``kubeproxy_tables`` (flows both backends'
upstream files share).
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["iptables", "nftables"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each Linux kube-proxy backend in turn (KP §15)."""
    mode: str = request.param
    return mode
