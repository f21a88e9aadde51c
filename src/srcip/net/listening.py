"""What every listener group of the lab shares: its servers, its connection tasks, closing.

A subclass opens its ``asyncio.Server`` objects in ``__aenter__`` (appending them to
``_servers``, and calling :meth:`aclose` if one fails) and tracks each connection's task in
``_tasks``; leaving the ``async with`` stops listening, cancels every connection and waits
for all of them, so nothing outlives the block (STYLE §8).
"""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["Listening"]


class Listening:
    """Servers and connection tasks, closed together."""

    def __init__(self) -> None:
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening, cancel every connection and wait for all of them."""
        for server in self._servers:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
