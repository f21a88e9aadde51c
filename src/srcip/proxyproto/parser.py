"""A streaming, sans-I/O reader of one PROXY protocol header, in h11's style.

The caller owns the socket: it feeds whatever bytes arrived to :meth:`Parser.receive_data`
and asks :meth:`Parser.next_event` what happened, which answers a :class:`ProxyHeader`,
:data:`NEED_DATA`, or raises :class:`~srcip.errors.ProxyProtocolError` (a "remote" error
in h11's terms: the peer sent bad bytes). Misuse by the caller (feeding a parser that has
finished) is a RuntimeError, a "local" error.

States and transitions::

    state     receive_data(b"...")   receive_data(b"")     next_event()
    -------   --------------------   -------------------   ------------------------------
    WAITING   buffer the bytes       mark end of stream    header -> DONE, returns it;
                                                           bad bytes -> ERROR, raises;
                                                           else NEED_DATA (after end of
                                                           stream: ERROR, "incomplete")
    DONE      RuntimeError           RuntimeError          the same header again
    ERROR     RuntimeError           RuntimeError          raises the same error again

Exactly one header is read (spec §2: one header per connection; AWS NLB, for one, will
pass a client's own header through behind its own, which must stay application data).
Whatever followed it in the last chunk is :attr:`Parser.trailing_data`: the first bytes of
the application protocol, to be handled before reading the socket again.

A new attempt runs only once the buffer holds as many bytes as the last attempt asked
for (16 for a v2 fixed header, then ``16 + len``; one more byte for v1), and every check
that can fail early does: the input is refused as soon as it stops looking like a header,
a v1 line at 107 bytes, a v2 length over ``max_header_size`` as soon as it is read. So a
caller that asks after each chunk never buffers more than the header's bound plus one
chunk.
"""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Final

from srcip.errors import ProxyProtocolError
from srcip.proxyproto.codec import DEFAULT_MAX_HEADER_SIZE, check_max_header_size, parse_prefix
from srcip.proxyproto.header import ErrorKind, ProxyHeader

__all__ = [
    "NEED_DATA",
    "NeedData",
    "Parser",
    "ParserState",
]


class NeedData(Enum):
    """The type of :data:`NEED_DATA` (an enum, so type checkers narrow on ``is``)."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by :meth:`Parser.next_event` until the header is complete.
NEED_DATA: Final = NeedData.NEED_DATA


class ParserState(StrEnum):
    """Where a :class:`Parser` stands; see the module's transition table."""

    WAITING = "WAITING"
    DONE = "DONE"
    ERROR = "ERROR"


class Parser:
    """Read one PROXY protocol header (v1 or v2) from bytes fed in any chunking.

    ``max_header_size`` bounds a v2 header (default 4 KiB; 232..65551), as in
    :func:`~srcip.proxyproto.parse`.
    """

    __slots__ = ("_buffer", "_closed", "_error", "_header", "_max", "_trailing", "_want")

    def __init__(self, *, max_header_size: int = DEFAULT_MAX_HEADER_SIZE) -> None:
        check_max_header_size(max_header_size)
        self._max = max_header_size
        self._buffer = bytearray()
        self._want = 1  # try again once the buffer holds this many bytes
        self._closed = False
        self._header: ProxyHeader | None = None
        self._error: ProxyProtocolError | None = None
        self._trailing = b""

    @property
    def state(self) -> ParserState:
        """WAITING, DONE (a header was produced) or ERROR (the input was refused)."""
        if self._header is not None:
            return ParserState.DONE
        return ParserState.WAITING if self._error is None else ParserState.ERROR

    @property
    def header(self) -> ProxyHeader | None:
        """The header once produced, else None."""
        return self._header

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the header (application data); empty until DONE."""
        return self._trailing

    def receive_data(self, data: bytes) -> None:
        """Feed bytes as they arrive; ``b""`` means the peer closed its side."""
        if self._header is not None or self._error is not None:
            raise RuntimeError(f"parser is {self.state}; it reads one header and no more")
        if data:
            self._buffer += data
        else:
            self._closed = True

    def next_event(self) -> ProxyHeader | NeedData:
        """The header if complete, else :data:`NEED_DATA`; raises on invalid input."""
        if self._header is not None:
            return self._header
        if self._error is not None:
            raise self._error.with_traceback(None)
        if len(self._buffer) >= self._want:
            try:
                result = parse_prefix(bytes(self._buffer), self._max)
            except ProxyProtocolError as exc:
                self._error = exc
                raise
            if not isinstance(result, int):
                return self._finish(result)
            self._want = result
        if self._closed:
            self._error = ProxyProtocolError(
                ErrorKind.INCOMPLETE,
                f"stream ended after {len(self._buffer)} bytes, inside the header",
            )
            raise self._error
        return NEED_DATA

    def _finish(self, header: ProxyHeader) -> ProxyHeader:
        """Enter DONE: keep the header, hand the rest of the buffer over as trailing data."""
        self._header = header
        self._trailing = bytes(self._buffer[header.consumed :])
        self._buffer = bytearray()
        return header
