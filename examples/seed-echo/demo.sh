#!/usr/bin/env bash
# make demo: the seeds' echo example: kube-proxy per packet, health checks, the whole path
# (trace, share), then the same scenario run for real on loopback (srcip lab run: what the
# pods saw under Cluster and Local, the split, a pod deletion under load; report in lab-report/).
set -euo pipefail
srcip="${1:-srcip}"
here="$(cd "$(dirname "$0")" && pwd)"
echo "== Which source address does the echo pod see? (srcip route on every node)"
"$srcip" route -f "$here/cluster.yaml" --all-nodes --packets "$here/packets.yaml"
echo
echo "== What each node answers the load balancer's health check (srcip health)"
"$srcip" health -f "$here/cluster.yaml"
echo
echo "== The whole path: load balancer, health checks, kube-proxy, the app (srcip trace)"
"$srcip" trace -f "$here/../echo/echo.yaml" -f "$here/../echo/scenario.yaml"
echo
echo "== How new connections split over pods placed 5/3/2, Local vs Cluster (srcip share)"
"$srcip" share -f "$here/../uneven-placement/uneven.yaml" --compare-policies
echo
echo "== The same path run for real on loopback, Cluster vs Local, the split, and a pod deleted"
echo "   under 200 requests/s (srcip lab run; the report goes to ${LAB_REPORT:-lab-report}/)"
"$srcip" lab run -f "$here/../echo/echo.yaml" -f "$here/../echo/scenario.yaml" --seed 1 \
    --experiment visibility,share,failover --compare-policies --report "${LAB_REPORT:-lab-report}"
