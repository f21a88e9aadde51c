"""Diagnose fixture dumps after editing objects in them: one fixture, many variants."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from srcip.doctor import Diagnosis, diagnose, load_snapshot
from srcip.errors import Where
from srcip.manifests import read_documents

__all__ = ["Edit", "diagnose_edited"]

Edit = Callable[[dict[str, Any]], None]


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict) and value.get("kind") == "List":
        for item in value["items"]:
            yield from _objects(item)
    elif isinstance(value, dict):
        yield value


def diagnose_edited(paths: Sequence[Path], *edits: tuple[str, str, Edit]) -> Diagnosis:
    """Diagnose ``paths`` after each ``(kind, name, edit)`` changed that object in place."""
    docs: list[tuple[Where, object]] = list(read_documents(list(paths)))
    for kind, name, edit in edits:
        hits = [
            obj
            for _, value in docs
            for obj in _objects(value)
            if obj.get("kind") == kind and obj["metadata"]["name"] == name
        ]
        assert hits, f"{kind} {name} not in {[str(p) for p in paths]}"
        for obj in hits:
            edit(obj)
    return diagnose(load_snapshot(docs))
