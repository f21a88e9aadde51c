"""Run an echo server as a program: until SIGTERM or SIGINT, then drain and return 0.

uvloop runs the event loop when it is installed (the ``fast`` extra), plain asyncio
otherwise. Request lines go to ``stream`` (stdout for ``srcip echo``), buffered and
written once per loop turn, and so do a start line naming every bound address and a line
when draining begins and ends.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from srcip.clientip.server import format_endpoint
from srcip.net.accesslog import StreamLog
from srcip.net.config import EchoConfig
from srcip.net.echo import EchoServer

__all__ = ["loop_factory", "run_echo"]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed, else None (asyncio's default)."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_echo(config: EchoConfig, *, stream: TextIO) -> int:
    """Serve ``config`` until SIGTERM or SIGINT, drain within ``config.grace``, return 0."""
    return _run(_serve(config, stream))


def _run(coro: Coroutine[Any, Any, int]) -> int:
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)


async def _serve(config: EchoConfig, stream: TextIO) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log = StreamLog(stream, config.log_format)
    try:
        async with EchoServer(config, log=log) as server:
            urls = [f"http://{format_endpoint(h, p)}" for h, p in server.addresses]
            urls += [f"udp://{format_endpoint(h, p)}" for h, p in server.udp_addresses]
            log.note(f"srcip echo listening on {', '.join(urls)}")
            log.flush()
            await stop.wait()
            log.note(f"draining: {len(server.connections)} connections open")
        log.note("stopped")
        log.flush()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0
