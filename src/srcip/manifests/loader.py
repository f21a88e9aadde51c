"""The one place that reads files: paths (``-`` for stdin) → documents → a Cluster.

Everything after reading the text is pure and lives in :mod:`srcip.manifests.documents`
and :mod:`srcip.manifests.convert`. While a load runs, the cyclic garbage collector is
paused: a large dump creates millions of objects, none of them in reference cycles, and
the collector's repeated full passes over them would double the load time.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from srcip.errors import ManifestError, Where
from srcip.manifests.convert import convert_documents
from srcip.manifests.documents import parse_stream
from srcip.model.objects import Cluster

__all__ = ["STDIN", "collector_paused", "load_cluster", "read_documents"]

STDIN = "-"


def load_cluster(
    paths: Sequence[str | os.PathLike[str]], *, default_scenario: bool = False
) -> Cluster:
    """Read every file (``-`` is stdin), in order, and convert them into one Cluster.

    ``default_scenario``: see :func:`srcip.manifests.convert.convert_documents`.
    """
    with collector_paused():
        return convert_documents(read_documents(paths), default_scenario=default_scenario)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large input is read and worked on.

    Hundreds of thousands of long-lived objects make each collection scan them all again,
    for nothing: the model builds no reference cycles to free.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_documents(paths: Sequence[str | os.PathLike[str]]) -> Iterator[tuple[Where, object]]:
    """Each file's non-empty documents, located by file name and 1-based index."""
    if isinstance(paths, str | os.PathLike):
        raise TypeError("paths must be a sequence of paths, not a single path")
    for path in paths:
        name = os.fspath(path)
        yield from parse_stream("<stdin>" if name == STDIN else name, _read_text(name))


def _read_text(name: str) -> str:
    if name == STDIN:
        return sys.stdin.read()
    try:
        with open(name, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise ManifestError(
            "no such file", where=Where(file=name), fix="check the path passed with -f"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ManifestError(
            f"is not UTF-8 text (byte {exc.start})",
            where=Where(file=name),
            fix="save the manifest as UTF-8",
        ) from exc
    except OSError as exc:
        raise ManifestError(
            f"cannot be read: {exc.strerror}",
            where=Where(file=name),
            fix="pass a readable file",
        ) from exc
