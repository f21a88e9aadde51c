"""The ``srcip`` command line: parse, call one library function, render.

Exit codes: 0 ok, 1 problem found, 2 bad input. Every :class:`~srcip.errors.SrcipError`
becomes a one-paragraph message on stderr and exit code 2, never a traceback. Each
command lives in its own module and is imported when it runs (:class:`_LazyGroup`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import click

from srcip import __version__

__all__ = ["LAZY_COMMANDS", "cli", "main"]


class _LazyGroup(click.Group):
    """A group whose commands are imported when used, not at start.

    ``srcip echo`` should not pay for the manifest loader, the path model, the lab and the
    doctor (about 0.6 s and 20 MiB of imports); each command module loads on first use.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY_COMMANDS:
            return None
        module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


#: Command name → ``module:attribute`` of its click command.
LAZY_COMMANDS = {
    "clientip": "srcip.cli.clientip:clientip",
    "doctor": "srcip.cli.doctor:doctor",
    "health": "srcip.cli.kubeproxy:health",
    "echo": "srcip.cli.echo:echo",
    "lab": "srcip.cli.lab:lab",
    "route": "srcip.cli.kubeproxy:route",
    "share": "srcip.cli.path:share",
    "timeline": "srcip.cli.path:timeline",
    "trace": "srcip.cli.path:trace",
}


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="srcip")
def cli() -> None:
    """Which source address will my pod see for an external client, and why?"""


def main(argv: Sequence[str] | None = None) -> Any:
    """Run the srcip command line."""
    return cli.main(args=argv, prog_name="srcip")
