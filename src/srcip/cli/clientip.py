"""``srcip clientip``: see how srcip resolves the client address of one request.

``srcip clientip explain`` builds a :class:`~srcip.clientip.TrustConfig` from the options,
calls :func:`~srcip.clientip.resolve` once, and prints
:func:`~srcip.clientip.explain_lines` (or :func:`~srcip.clientip.explain` as JSON).
Exit codes as everywhere in srcip: 0 an address was resolved, 1 it was not (the problem is
in the output), 2 bad input (a :class:`~srcip.errors.SrcipError`: bad CIDR, unknown source,
a header not written ``Name: value``), as a one-paragraph message without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from srcip.cli.common import OUTPUT, emit_json, reports_errors, resolution_options
from srcip.clientip import NodeKind, TrustConfig, explain, explain_lines, parse_peer, resolve
from srcip.errors import UsageError

__all__ = ["clientip", "parse_header"]

# RFC 9110 §5.6.2 tchar: the characters a field name may contain.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` → ``(name, value)``; the value loses surrounding spaces and tabs.

    The name must be an RFC 9110 §5.1 token (so ``X_Forwarded_For`` is accepted as the
    different field it is, and ``X Forwarded For`` is refused).
    """
    name, sep, value = text.partition(":")
    if not sep or not name or not _TCHAR.issuperset(name):
        raise UsageError(
            f"--header {text!r} is not a field line. Fix: write 'Name: value', "
            "e.g. --header 'X-Forwarded-For: 203.0.113.7, 10.0.0.2'"
        )
    return name, value.strip(" \t")


def _check_peer(peer: str) -> None:
    if parse_peer(peer).kind is NodeKind.INVALID:
        raise UsageError(
            f"--peer {peer!r} is not a socket peer. Fix: write IP:PORT, [IPv6]:PORT, "
            "a bare address, or unix:PATH"
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def clientip() -> None:
    """Resolve the real client address of a request behind proxies."""


@clientip.command("explain")
@click.option("--peer", required=True, help="Socket peer: IP:PORT, [IPv6]:PORT or unix:PATH.")
@click.option(
    "--header",
    "-H",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="A request field line as received; repeat, in order, for several.",
)
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    metavar="CIDR",
    help="A trusted proxy address or CIDR, or unix:; repeat for several.",
)
@resolution_options
@OUTPUT
@reports_errors
def explain_command(
    peer: str,
    headers: Sequence[str],
    trusted: Sequence[str],
    source: str,
    trusted_hops: int | None,
    no_peer_check: bool,
    output: str,
) -> None:
    """Print the walk hop by hop with each verdict; exit 1 when no client was resolved.

    \b
    srcip clientip explain --peer 10.0.0.2:5555 --trust 10.0.0.0/8 \\
        --header 'X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.0.0.9'
    srcip clientip explain --peer 10.0.0.2:5555 --trust 10.0.0.0/8 --source forwarded \\
        --header 'Forwarded: for="[2001:db8::7]:4711"' -o json
    """
    lines = [parse_header(h) for h in headers]
    _check_peer(peer)
    config = TrustConfig(
        trusted_proxies=list(trusted),
        source=source,
        trusted_hops=trusted_hops,
        peer_check=not no_peer_check,
    )
    resolution = resolve(peer, lines, config)
    if output == "json":
        emit_json(explain(resolution))
    else:
        for line in explain_lines(resolution):
            click.echo(line)
    sys.exit(0 if resolution.ip is not None else 1)
