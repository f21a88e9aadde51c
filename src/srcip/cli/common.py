"""What every srcip command shares: common options, error reporting, output helpers."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
from rich.console import Console

from srcip.errors import SrcipError

__all__ = [
    "FILES",
    "OUTPUT",
    "VERBOSE",
    "emit_json",
    "make_console",
    "reports_errors",
    "resolution_options",
]

P = ParamSpec("P")
R = TypeVar("R")

FILES = click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Kubernetes YAML/JSON (multi-document, kind: List); repeat for more files.",
)
OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for machines.",
)
VERBOSE = click.option(
    "-v", "--verbose", is_flag=True, help="Also show what the loader noticed and every reason."
)


def resolution_options(func: Callable[P, R]) -> Callable[P, R]:
    """``--source``, ``--trusted-hops`` and ``--no-peer-check``: how headers are read.

    Shared by every command that resolves a client with :mod:`srcip.clientip`; each adds
    its own ``--trust`` (the clientip and echo commands parse the list differently).
    """
    for option in reversed(_RESOLUTION_OPTIONS):
        func = option(func)
    return func


_RESOLUTION_OPTIONS = (
    click.option(
        "--source",
        default="x-forwarded-for",
        show_default=True,
        help="The one header to read: x-forwarded-for, forwarded, or a single-IP header.",
    ),
    click.option(
        "--trusted-hops",
        type=int,
        default=None,
        help="Count mode: the client is the element N from the right (N = reverse proxies).",
    ),
    click.option(
        "--no-peer-check",
        is_flag=True,
        help="Read headers from any peer (only with --trusted-hops, when only your proxy "
        "can reach the app).",
    ),
)


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn SrcipError into a one-paragraph message on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SrcipError as exc:
            click.echo(f"srcip: error: {exc}", err=True)
            sys.exit(2)

    return wrapper


def make_console(*, stderr: bool = False) -> Console:
    """A rich console; piped output gets 140 columns rather than rich's 80-column fallback."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 140)


def emit_json(data: object) -> None:
    """Print ``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))
