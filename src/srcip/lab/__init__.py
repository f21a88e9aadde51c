"""``srcip lab``: run a scenario as real listeners on loopback and compare with the model.

:class:`LabCluster` brings a scenario up (pods, per-node kube-proxy data paths and health
servers, the load balancer) on the address plan of :mod:`.addresses`; :mod:`.endpoints`
propagates pod events; :mod:`.experiments` measures (``visibility``, ``share``),
:mod:`.failover` and :mod:`.ratelimit` the other two experiments, each judged against the
model; :func:`run_lab` runs it all; :mod:`.report` and :mod:`.reportdir` render.
"""

from srcip.lab.addresses import AddressPlan, check_loopback, plan_for
from srcip.lab.cluster import LabCluster
from srcip.lab.endpoints import EndpointsController, PodChange
from srcip.lab.experiments import Observation, ShareResult, Visibility, share, visibility
from srcip.lab.failover import FailoverResult, failover
from srcip.lab.ratelimit import RateLimitResult, ratelimit
from srcip.lab.run import Experiment, LabRun, parse_experiments, run_lab

__all__ = [
    "AddressPlan",
    "EndpointsController",
    "Experiment",
    "FailoverResult",
    "LabCluster",
    "LabRun",
    "Observation",
    "PodChange",
    "RateLimitResult",
    "ShareResult",
    "Visibility",
    "check_loopback",
    "failover",
    "parse_experiments",
    "plan_for",
    "ratelimit",
    "run_lab",
    "share",
    "visibility",
]
