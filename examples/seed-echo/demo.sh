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
