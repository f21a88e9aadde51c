"""Leaving ``async with LabCluster`` leaves no task and no socket behind."""

from __future__ import annotations

import asyncio
import socket

import pytest

from srcip.errors import SrcipError
from srcip.lab import LabCluster, visibility
from srcip.manifests import load_cluster

ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]


def _bindable(addresses: list[tuple[str, int]]) -> None:
    for host, port in addresses:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen()
        finally:
            sock.close()


def _listeners(lab: LabCluster) -> list[tuple[str, int]]:
    found = [a for server in lab.pods.values() for a in server.addresses]
    found += [a for path in lab.nodes.values() for a in path.relay.addresses]
    assert lab.load_balancer is not None
    found += list(lab.load_balancer.relay.addresses)
    return found


def test_nothing_outlives_the_block() -> None:
    """After traffic, exit leaves only the caller's task, and every address binds again."""
    cluster = load_cluster(ECHO, default_scenario=True)

    async def scenario() -> tuple[list[tuple[str, int]], set[asyncio.Task[object]]]:
        async with LabCluster(cluster, seed=1, time_scale=0.05) as lab:
            await visibility(lab, requests=5)
            await asyncio.sleep(0.3)  # a few health-check rounds
            listening = _listeners(lab)
        return listening, asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]

    listening, left = asyncio.run(scenario())
    assert left == set()
    assert len(listening) == 2 + 3 * 2 + 1  # pods; per node the NodePort and VIP; the LB
    _bindable(listening)


def test_an_error_inside_the_block_still_cleans_up() -> None:
    """An exception in the caller's code stops everything and propagates."""
    cluster = load_cluster(ECHO, default_scenario=True)
    seen: list[tuple[str, int]] = []

    async def scenario() -> None:
        async with LabCluster(cluster, seed=1) as lab:
            seen.extend(_listeners(lab))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(scenario())
    _bindable(seen)


def test_a_failed_start_releases_what_was_bound() -> None:
    """If a listener cannot bind, the lab stops what it started and raises."""
    cluster = load_cluster(ECHO, default_scenario=True)
    lab = LabCluster(cluster, seed=1)
    vip = lab.plan.local(lab.vip)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT only
    blocker.bind((vip, lab.plan.port(80)))
    blocker.listen()

    async def scenario() -> None:
        async with lab:
            pytest.fail("the lab started although its VIP was taken")

    try:
        with pytest.raises(SrcipError, match="already in use"):
            asyncio.run(scenario())
    finally:
        blocker.close()
    _bindable([(lab.plan.local(p.ips[0]), 8080) for p in cluster.pods])


def test_a_second_lab_on_the_same_addresses_is_a_clear_error() -> None:
    """Two labs on one address base: the second fails with a fix, the first is untouched."""
    cluster = load_cluster(ECHO, default_scenario=True)

    async def scenario() -> str:
        async with LabCluster(cluster, seed=1) as first:
            try:
                async with LabCluster(cluster, seed=2):
                    return "started twice"
            except SrcipError as exc:
                await visibility(first, requests=2)  # the first lab still serves
                return str(exc)

    message = asyncio.run(scenario())
    assert "already in use" in message
    assert "--address-base" in message
