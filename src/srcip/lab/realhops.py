"""``--engine real`` for the ingress hop: one real nginx per ingress-nginx controller pod.

Where the built-in engine runs an :class:`~srcip.net.httphop.HttpHop` for each endpoint of
the controller's Service (:meth:`srcip.lab.hops.LabHops.ingress_hops`), the real engine runs
nginx from :func:`~srcip.lab.real.nginx.ingress_nginx_config` with
:func:`~srcip.lab.real.process.run_peer`, wired exactly like the built-in hop:

* it **listens** on the pod's loopback address on each of the pod's mapped endpoint ports;
* its one **upstream** is the backend Service's ClusterIP as the pod's own node catches it
  (the ClusterIP's per-node alias, a :class:`~srcip.net.nodeproxy.NodeDataPath`, KP §4.1),
  so kube-proxy picks the backend pod and its source as for any pod client, and the
  NetworkPolicies are enforced at the backend pod there (:func:`policy_denies`);
* ``proxy_bind`` is the pod's loopback address (the upstream view's peer in
  :func:`srcip.model.hops.ingress_forward`).

The trusted ranges (``proxy-real-ip-cidr``) are written in loopback terms by
:func:`loopback_ranges`. nginx writes loopback addresses into ``X-Forwarded-For``,
``X-Real-IP`` and ``X-Original-Forwarded-For``; the experiments translate them back
(:func:`srcip.lab.realengine.scenario_text`, :func:`srcip.lab.experiments.observe`).

Refused (:func:`refuse_real_hops`): edge hops and sidecars (no real program stands in for
them yet), Traefik and Envoy ingress controllers (only nginx is generated), and
``use-forwarded-headers`` with ``use-proxy-protocol``, which needs the headers-more module
missing from Debian's nginx (:mod:`srcip.lab.real.nginx`).

Not followed: which node forwarded the connection into nginx. nginx opens its upstream
connection from an ephemeral port nothing can tie to the incoming one, so the lab's journal
names the ingress pod's node for such a request, where the built-in hop carries the node the
load balancer chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from ipaddress import ip_network
from pathlib import Path
from typing import Any

from srcip.lab.addresses import AddressPlan
from srcip.lab.real.nginx import HEADERS_MORE_PACKAGE, ingress_nginx_config
from srcip.lab.real.process import NGINX, find_program, run_peer
from srcip.model.ingress import NginxSettings, ingress_settings
from srcip.model.objects import ConfigMap, IPNetwork
from srcip.model.scenario import IngressKind, Scenario
from srcip.net.tcp_relay import Address

__all__ = ["NginxPod", "loopback_ranges", "real_ingress", "refuse_real_hops"]


def refuse_real_hops(scenario: Scenario, config_maps: Sequence[ConfigMap]) -> list[str]:
    """What of the Scenario's hops ``--engine real`` cannot run, each with why."""
    missing = []
    if scenario.edge_hops:
        missing.append("edge hops under --engine real (no real proxy stands in for them yet)")
    if scenario.sidecar is not None:
        missing.append("a sidecar under --engine real (no real mesh proxy stands in for it)")
    hop = scenario.ingress
    if hop is None:
        return missing
    if hop.kind is not IngressKind.INGRESS_NGINX:
        missing.append(f"a {hop.kind} ingress under --engine real (only nginx is generated)")
        return missing
    settings = ingress_settings(hop, config_maps)
    assert isinstance(settings, NginxSettings)
    if settings.use_forwarded_headers and settings.use_proxy_protocol:
        missing.append(
            f"ingress {hop.name} with use-forwarded-headers and use-proxy-protocol under"
            " --engine real (needs more_set_input_headers from the headers-more module,"
            f" which Debian's nginx lacks: {HEADERS_MORE_PACKAGE})"
        )
    return missing


def loopback_ranges(nets: Sequence[IPNetwork], plan: AddressPlan) -> tuple[IPNetwork, ...]:
    """``proxy-real-ip-cidr`` for nginx on loopback: each range as given (it still covers
    the scenario addresses clients write into headers), plus every plan address it covers
    as its loopback host (what the lab's peers and real hops write)."""
    found: list[IPNetwork] = list(nets)
    for address, local in plan.items():
        host = ip_network(local)
        if host not in found and any(
            address.version == net.version and address in net for net in nets
        ):
            found.append(host)
    return tuple(found)


class NginxPod:
    """One ingress controller pod as nginx: ``listen`` → ``upstream`` bound to ``source``."""

    def __init__(
        self,
        settings: NginxSettings,
        *,
        listen: Sequence[Address],
        upstream: Address,
        source: str,
    ) -> None:
        if not listen:
            raise ValueError("an ingress pod needs at least one listener")
        find_program(NGINX)
        self.settings, self.listen = settings, tuple(listen)
        self.upstream, self.source = upstream, source

    def config(self, directory: Path) -> str:
        """The ``nginx.conf`` for this pod (extra ports as more ``listen`` lines)."""
        text = ingress_nginx_config(
            self.settings, listen=self.listen[0], upstream=[self.upstream],
            directory=str(directory), source=self.source,
        )  # fmt: skip
        first = f"        listen {self.listen[0][0]}:{self.listen[0][1]}"
        extra = [first.replace(f":{self.listen[0][1]}", f":{port}") for _, port in self.listen[1:]]
        lines = []
        for line in text.splitlines():
            lines.append(line)
            if line.startswith(first):
                tail = line[len(first) :]
                lines.extend(f"{e}{tail}" for e in extra)
        return "\n".join(lines) + "\n"

    def running(self) -> AbstractAsyncContextManager[Any]:
        """``async with pod.running()``: nginx listening until the block ends."""
        return run_peer(NGINX, self.config, listen=list(self.listen))


def real_ingress(settings: NginxSettings, *, plan: AddressPlan) -> NginxSettings:
    """``settings`` with the trusted ranges in loopback terms (:func:`loopback_ranges`)."""
    return replace(settings, proxy_real_ip_cidr=loopback_ranges(settings.proxy_real_ip_cidr, plan))
