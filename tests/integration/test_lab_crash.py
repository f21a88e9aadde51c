"""A pod's app that dies mid-run: the lab runs on, reports the failures, and cleans up."""

from __future__ import annotations

import asyncio
import socket
from ipaddress import IPv4Network
from typing import Any

import pytest

from srcip.errors import UsageError
from srcip.lab import LabCluster, visibility
from srcip.lab.experiments import RequestResult, Visibility
from srcip.manifests import load_cluster
from srcip.net.lbproxy import LoadBalancer

BASE = IPv4Network("127.73.0.0/16")  # apart from other lab runs on this machine
ECHO = ["examples/echo/echo.yaml", "examples/echo/scenario.yaml"]
Address = tuple[str, int]


def _bindable(addresses: list[Address]) -> None:
    for host, port in addresses:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen()
        finally:
            sock.close()


def _listeners(lab: LabCluster) -> list[Address]:
    found = [a for server in lab.pods.values() for a in server.addresses]
    found += [a for path in lab.nodes.values() for a in path.relay.addresses]
    assert isinstance(lab.load_balancer, LoadBalancer)
    return found + list(lab.load_balancer.relay.addresses)


async def _half_request(lab: LabCluster) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to echo-0 through the LB, its request head not finished."""
    for _ in range(50):
        source = (lab.plan.local(lab.scenario.clients[0].address), 0)
        reader, writer = await asyncio.open_connection(*lab.entry_address, local_addr=source)
        writer.write(b"GET / HTTP/1.1\r\nHost: lab\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        if any(s.connections for k, s in lab.pods.items() if k.startswith("echo-0:")):
            return reader, writer
        writer.transport.abort()
    pytest.fail("no connection reached echo-0 in 50 tries")


def test_a_crashing_pod_is_reported_and_leaves_nothing_behind() -> None:
    """echo-0 dies mid-run: its open connection is cut, later requests to it fail (the model,
    not told, still expects it to serve), echo-1 keeps serving, and exit leaves nothing."""
    cluster = load_cluster(ECHO, default_scenario=True)

    async def scenario() -> tuple[bytes | str, Visibility, list[Address], set[asyncio.Task[Any]]]:
        async with LabCluster(cluster, seed=4, time_scale=0.05, drop_hold=1.0, base=BASE) as lab:
            listening = _listeners(lab)
            reader, writer = await _half_request(lab)
            crashed = asyncio.Event()

            async def crash() -> None:
                await crashed.wait()
                await lab.crash_pod("echo-0")

            def progress(done: int, total: int) -> None:
                if done == 8:
                    crashed.set()

            async with asyncio.TaskGroup() as group:
                group.create_task(crash())
                seen = group.create_task(visibility(lab, requests=40, progress=progress))
            try:
                cut: bytes | str = await asyncio.wait_for(reader.read(), 2.0)
            except ConnectionResetError:
                cut = "reset"
            finally:
                writer.transport.abort()
            with pytest.raises(UsageError, match="runs no app"):
                await lab.crash_pod("echo-9")
        return cut, seen.result(), listening, asyncio.all_tasks() - {asyncio.current_task()}

    cut, seen, listening, left = asyncio.run(scenario())
    assert cut in (b"", "reset")  # the half-sent request never got an answer
    before, after = seen.observations[:8], seen.observations[8:]
    assert all(o.result is RequestResult.OK and o.allowed for o in before)
    failed = [o for o in after if o.result is not RequestResult.OK]
    assert failed
    assert all(o.result is RequestResult.REFUSED and not o.allowed for o in failed)
    served = [o for o in after if o.result is RequestResult.OK]
    assert served
    assert {o.pod for o in served} == {"echo-1"}
    assert not seen.all_allowed
    assert left == set()
    _bindable(listening)
