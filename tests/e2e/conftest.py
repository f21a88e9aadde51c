"""tests/e2e/: opt-in tests against a real cluster.

They run only with ``--cluster`` (the current kubeconfig context, or ``--cluster-context``);
without it every test here is skipped with the reason. Only get/list requests are sent (the
permissions of ``deploy/doctor-rbac.yaml`` suffice)::

    pytest tests/e2e --cluster [--cluster-context NAME]
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register --cluster and --cluster-context."""
    group = parser.getgroup("srcip-e2e", "srcip end-to-end tests against a real cluster")
    group.addoption(
        "--cluster",
        action="store_true",
        default=False,
        help="run tests/e2e against the cluster of the current kubeconfig context (read-only)",
    )
    group.addoption(
        "--cluster-context",
        default=None,
        help="kubeconfig context for --cluster (default: the current context)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --cluster, skip every test under tests/e2e, saying why."""
    if config.getoption("--cluster", default=False):
        return
    skip = pytest.mark.skip(reason="needs a real cluster: run pytest tests/e2e --cluster")
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cluster_context(pytestconfig: pytest.Config) -> str | None:
    """The kubeconfig context given with --cluster-context (None: the current one)."""
    context: str | None = pytestconfig.getoption("--cluster-context", default=None)
    return context
