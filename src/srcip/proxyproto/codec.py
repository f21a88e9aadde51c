"""Whole-buffer entry points: detect the version, :func:`parse` a header, :func:`build` one.

Detection follows spec §2.2 ("Identifying the protocol version is easy"): the v2
signature, or ``PROXY`` for v1, or neither, which is ``not_proxy_protocol``. The decision
is made byte by byte: as soon as the bytes received stop being a prefix of either, the
input is refused, without waiting for the 8 or 16 bytes the spec's one-shot reader
waits for. A receiver must be configured to expect the header and must not guess
(spec §5), so there is no "maybe it is plain HTTP" outcome here.

:func:`parse_prefix` is the shared core: it returns a header or the buffer length at
which trying again can make progress. :func:`parse` turns the latter into ``incomplete``;
:class:`~srcip.proxyproto.parser.Parser` into ``NEED_DATA``.
"""

from __future__ import annotations

import struct

from srcip.proxyproto.header import ErrorKind, ProxyHeader, fail
from srcip.proxyproto.v1 import PREFIX, build_v1, parse_v1
from srcip.proxyproto.v2 import FIXED_SIZE, MAX_SIZE, SIGNATURE, build_v2, parse_v2

__all__ = [
    "DEFAULT_MAX_HEADER_SIZE",
    "build",
    "check_max_header_size",
    "parse",
    "parse_prefix",
]

#: 4 KiB, like nginx; room for the address block and a generous TLV area.
DEFAULT_MAX_HEADER_SIZE = 4096
#: The longest address block (UNIX, 216 bytes) must fit: a smaller limit would refuse
#: valid headers that carry no TLVs at all.
MIN_MAX_HEADER_SIZE = FIXED_SIZE + 216


def check_max_header_size(max_header_size: int) -> None:
    """Refuse a limit that would reject valid TLV-less headers or exceed the length field."""
    if not MIN_MAX_HEADER_SIZE <= max_header_size <= MAX_SIZE:
        raise ValueError(
            f"max_header_size={max_header_size}: must be in {MIN_MAX_HEADER_SIZE}..{MAX_SIZE}"
        )


def parse_prefix(buf: bytes, max_header_size: int) -> ProxyHeader | int:
    """The header at the start of ``buf``, or the length at which to try again."""
    if buf[:12] == SIGNATURE:
        return parse_v2(buf, max_header_size)
    if buf[:5] == PREFIX:
        return parse_v1(buf)
    if SIGNATURE.startswith(buf) or PREFIX.startswith(buf):
        return len(buf) + 1
    fail(
        ErrorKind.NOT_PROXY_PROTOCOL,
        f"starts with {buf[:16]!r}: neither the v2 signature nor 'PROXY'",
    )


def parse(buf: bytes, *, max_header_size: int = DEFAULT_MAX_HEADER_SIZE) -> ProxyHeader:
    """Parse the PROXY protocol header at the start of ``buf`` (v1 or v2).

    Bytes after the header are ignored; ``header.consumed`` says where it ends. Raises
    :class:`~srcip.errors.ProxyProtocolError`; its ``kind`` is ``incomplete`` when ``buf``
    is a valid start that more bytes could complete. ValueError for a ``max_header_size``
    outside 232..65551.
    """
    check_max_header_size(max_header_size)
    if type(buf) is not bytes:
        buf = bytes(buf)  # one copy, so decoded values are bytes whatever was passed
    result = parse_prefix(buf, max_header_size)
    if isinstance(result, int):
        fail(ErrorKind.INCOMPLETE, f"{len(buf)} bytes are a valid start; at least {result} needed")
    return result


def build(header: ProxyHeader, *, crc32c: bool = False) -> bytes:
    """Serialise ``header`` as v1 or v2 (by ``header.version``), so ``parse`` gives it back.

    ``consumed`` is ignored. v2 TLVs are written in order; every ``Crc32cTLV`` gets the
    checksum of the header as built, and ``crc32c=True`` appends one if there is none.
    Raises ValueError if the header is not one the protocol can carry (a v1 header with
    TLVs, addresses of the wrong family, a port out of range, ...).
    """
    if header.version == 1:
        if crc32c:
            raise ValueError("v1 has no TLVs, hence no CRC32C")
        return build_v1(header)
    if header.version == 2:
        try:
            return build_v2(header, crc32c_tlv=crc32c)
        except struct.error as exc:  # an SSL, Azure or GCP number too big for its field
            raise ValueError(f"a TLV field does not fit its wire size: {exc}") from exc
    raise ValueError(f"version {header.version!r}: the PROXY protocol has versions 1 and 2")
