"""``srcip doctor``: parse, read the cluster (dump or live API), diagnose, render.

Exit codes: 0 nothing at or above ``--fail-on`` (or no ``--fail-on``), 1 a finding at or
above it, 2 bad input (a :class:`~srcip.errors.SrcipError`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from srcip.cli.common import OUTPUT, VERBOSE, emit_json, make_console, reports_errors
from srcip.doctor import Severity, diagnose, diagnosis_json, load_snapshot, print_diagnosis
from srcip.errors import UsageError, Where
from srcip.manifests import collector_paused, read_documents

__all__ = ["doctor"]

DUMP_COMMAND = (
    "kubectl get svc,endpointslices,nodes,pods,configmaps,daemonsets,deployments,"
    "ingresses,networkpolicies -A -o yaml"
)
_SERVICE_PREFIXES = ("svc/", "service/", "services/")


def _service_name(target: str | None) -> str | None:
    if target is None:
        return None
    for prefix in _SERVICE_PREFIXES:
        if target.startswith(prefix):
            return target[len(prefix) :]
    if "/" in target:
        raise UsageError(f"{target!r} is not a Service. Fix: write svc/NAME (and -n NAMESPACE)")
    return target


def _documents(
    files: Sequence[str],
    *,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
) -> list[tuple[Where, object]]:
    if files:
        return list(read_documents(files))
    # Imported here: only the live path needs the Kubernetes client.
    from srcip.doctor.kubeapi import read_cluster_documents

    return [
        (where, doc)
        for where, doc in read_cluster_documents(
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
            all_namespaces=all_namespaces,
        )
    ]


@click.command(
    epilog=(
        "\b\nOffline, from a dump made with:\n"
        f"  {DUMP_COMMAND} > dump.yaml\n"
        "  srcip doctor -f dump.yaml\n"
        "(MetalLB, Calico FelixConfiguration and other CRDs may be added as more -f files.)"
    )
)
@click.argument("target", required=False, metavar="[svc/NAME]")
@click.option("--context", help="kubeconfig context to read (live mode).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="kubeconfig file.")
@click.option("-n", "--namespace", help="Only Services of this namespace.")
@click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace (the default with -f).")
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="A kubectl dump (YAML/JSON, kind: List) instead of the live cluster; repeatable.",
)
@OUTPUT
@click.option(
    "--fail-on",
    type=click.Choice([Severity.WARNING.value, Severity.ERROR.value]),
    help="Exit 1 when a finding at or above this level exists (for CI).",
)
@VERBOSE
@reports_errors
def doctor(
    target: str | None,
    context: str | None,
    kubeconfig: str | None,
    namespace: str | None,
    all_namespaces: bool,
    files: tuple[str, ...],
    output: str,
    fail_on: str | None,
    verbose: bool,
) -> None:
    """Explain which source address each external Service's pods see, what is wrong, and the fix.

    Reads the current kubeconfig context (read-only: get/list), or a dump given with -f.
    """
    if namespace is not None and all_namespaces:
        raise UsageError("-n/--namespace and -A/--all-namespaces exclude each other. Fix: pick one")
    with collector_paused():  # a large cluster is many long-lived objects and no cycles
        docs = _documents(
            files,
            kubeconfig=kubeconfig,
            context=context,
            namespace=namespace,
            all_namespaces=all_namespaces,
        )
        snapshot = load_snapshot(docs)
        result = diagnose(snapshot, namespace=namespace, service=_service_name(target))
        if output == "json":
            emit_json(diagnosis_json(result))
        else:
            print_diagnosis(make_console(), result, verbose=verbose)
    if fail_on is not None and result.has_finding_at(Severity(fail_on)):
        sys.exit(1)
