"""Verdicts in words: what became of the client's address on one traced path.

``client IP preserved``, ``lost at kube-proxy on node-2: SNAT (the pod sees 10.0.1.3)``,
``spoofable: the app trusts x-forwarded-for from an untrusted peer``. The loss is placed at
the last hop that still had the client's address somewhere (TCP peer, PROXY header source
or a forwarding header): the next listener no longer has it. Spoofability is tested, not
guessed: every path is traced a second time for a twin client that sends a forged address
in the app's source header, and the path is spoofable when the app then resolves the
forged address.
"""

from __future__ import annotations

from ipaddress import ip_address

from srcip.model.objects import IPAddress
from srcip.model.scenario import ClientSpec, Scenario
from srcip.model.tracepath import HopRecord, Outcome

__all__ = ["verdict_for"]


def verdict_for(
    outcome: Outcome, twin: Outcome, client: ClientSpec, scenario: Scenario, forged: str
) -> Outcome:
    """``outcome`` with its verdict and spoofable flag filled in."""
    spoofable = twin.delivered and twin.app_client_ip == ip_address(forged)
    if outcome.dropped_at is not None:
        return outcome._replace(verdict=f"dropped at {outcome.dropped_at}")
    if outcome.refused_at is not None:
        return outcome._replace(verdict=f"refused at {outcome.refused_at}")
    text = _delivered_text(outcome, client)
    if spoofable:
        source = scenario.app.source
        text += f"; spoofable: the app trusts {source} from an untrusted peer"
    return outcome._replace(verdict=text, spoofable=spoofable)


def _delivered_text(outcome: Outcome, client: ClientSpec) -> str:
    resolution = outcome.resolution
    assert resolution is not None  # delivered outcomes carry one
    ip = outcome.app_client_ip
    if ip == client.address:
        return "client IP preserved" + (
            "" if resolution.source == "peer" else f" (via {resolution.source})"
        )
    if ip is None:
        return f"no client address resolved ({resolution.status})"
    if any(str(ip) in value for _, value in client.headers):
        return f"spoofed: the app took {ip} from {resolution.source}, written by the client"
    carried = _carried_until(outcome.hops, client.address)
    if carried == len(outcome.hops):
        app = outcome.hops[-1]
        return (
            f"client IP reaches the app in {_where(app, client.address)} but the app resolves "
            f"{ip} ({resolution.status}, source {resolution.source})"
        )
    return _lost_text(outcome.hops, carried, ip)


def _carried_until(hops: tuple[HopRecord, ...], client: IPAddress) -> int:
    """How many hops, from the first, still had the client's address somewhere."""
    for index, hop in enumerate(hops):
        if not _has(hop, client):
            return index
    return len(hops)


def _has(hop: HopRecord, client: IPAddress) -> bool:
    if hop.peer == client:
        return True
    if hop.proxy is not None and hop.proxy.src == client:
        return True
    text = str(client)
    return any(text in value for _, value in hop.headers)


def _where(hop: HopRecord, client: IPAddress) -> str:
    if hop.peer == client:
        return "the TCP peer"
    if hop.proxy is not None and hop.proxy.src == client:
        return "the PROXY header"
    names = [name for name, value in hop.headers if str(client) in value]
    return ", ".join(dict.fromkeys(names))


def _lost_text(hops: tuple[HopRecord, ...], carried: int, seen: IPAddress) -> str:
    if carried == 0:
        return f"the client's address never reached the path (the app resolves {seen})"
    last, after = hops[carried - 1], hops[carried]
    reason = {
        "kube-proxy": "SNAT",
        "pod": "the pod's proxy opened a new connection",
        "app": "the app",
    }.get(last.kind.split("/")[0], _hop_reason(last))
    return f"lost at {last.name}: {reason} ({after.name} sees {after.peer})"


def _hop_reason(hop: HopRecord) -> str:
    kind = hop.kind
    if kind.endswith("/no-preserve"):
        return "pod targets without preserveClientIP: the LB connects from its own address"
    if kind.startswith("lb/"):
        mode = kind.removeprefix("lb/")
        if mode in ("proxy", "http"):
            return f"{mode} mode opens a new connection without PROXY protocol or a header"
        return f"{mode} mode rewrites the source"
    if kind.startswith("sidecar/"):
        return "the sidecar re-originates the connection"
    return "it opens a new connection and forwards no client address"
