"""One line naming the machine a benchmark ran on, for every report in bench/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["describe_machine"]


def describe_machine() -> str:
    """CPU count and model, RAM and Python version, from /proc (Linux)."""
    cpu = "unknown CPU"
    with Path("/proc/cpuinfo").open(encoding="utf-8") as lines:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu
        )
    with Path("/proc/meminfo").open(encoding="utf-8") as lines:
        meminfo = dict(line.split(":", 1) for line in lines)
    ram_gib = int(meminfo.get("MemTotal", "0 kB").split()[0]) / 2**20
    python = sys.version.split()[0]
    return f"{os.cpu_count()} CPUs ({cpu}), {ram_gib:.1f} GiB RAM, Python {python}"
