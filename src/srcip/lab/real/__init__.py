"""Real HAProxy and nginx standing in for the lab's built-in load balancer and ingress.

``srcip lab --engine real`` puts the software users run where the built-in hops would be:
:func:`haproxy_config` renders the scenario's load balancer as an ``haproxy.cfg``,
:func:`ingress_nginx_config` an ingress-nginx hop as an ``nginx.conf``, and
:func:`run_peer` runs either as a child process on loopback for the length of an
``async with`` block. The differential tests hold both to the model's predictions
(``tests/integration/test_real_engine.py``).
"""

from srcip.lab.real.haproxy import HealthProbe, Target, haproxy_config
from srcip.lab.real.nginx import HEADERS_MORE_PACKAGE, ingress_nginx_config
from srcip.lab.real.process import (
    HAPROXY,
    NGINX,
    Program,
    RunningPeer,
    check_config,
    find_program,
    is_listening,
    run_peer,
)

__all__ = [
    "HAPROXY",
    "HEADERS_MORE_PACKAGE",
    "NGINX",
    "HealthProbe",
    "Program",
    "RunningPeer",
    "Target",
    "check_config",
    "find_program",
    "haproxy_config",
    "ingress_nginx_config",
    "is_listening",
    "run_peer",
]
