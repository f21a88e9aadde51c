#!/usr/bin/env bash
# make demo: the seeds' echo Service on three nodes, Local vs Cluster side by side.
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
