"""Decoding a v2 TLV area into the typed values of :mod:`srcip.proxyproto.tlv`.

One loop walks a byte range: type (1 byte), length (2 bytes, big-endian), value (spec
§2.2). Every read is bounded by the range's end, which the caller takes from the header's
length field, so a TLV can never reach past the header (``tlv_truncated``). A table maps
each type to its decoder; the SSL decoder runs the same loop over its sub-TLVs with its
own table. Types without a decoder are kept raw, in order, repeats included.

Rules (kind raised in brackets):

* fewer than 3 bytes left for a TLV head, or a value running past its range
  [``tlv_truncated``];
* CRC32C not exactly 4 bytes, or present twice (one checksum cannot cover a header that
  holds another) [``tlv_invalid``]; the checksum itself is verified by :mod:`.v2`, which
  gets the value's offset from here;
* UNIQUE_ID over 128 bytes (spec §2.2.5), SSL shorter than its 5-byte head (§2.2.6),
  AUTHORITY or SSL_CN not UTF-8, NETNS and the other SSL strings not US-ASCII
  [``tlv_invalid``];
* vendor TLVs (0xE0-0xEF, application-specific per §2.2.8) are decoded only in the shape
  their cloud documents; any other shape is kept raw rather than rejected, since another
  application may use the same number.

Speed: the walk builds each plain TLV inline through its slot (:mod:`._slots`), and the
SSL TLV, identical across most connections from one balancer, is memoised by its bytes
(see ``_ssl_memo``). ``bench/proxyproto.py`` measures both paths.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache
from typing import NoReturn, TypeVar

from srcip.errors import ProxyProtocolError
from srcip.proxyproto._slots import maker1, maker2, maker3, setters
from srcip.proxyproto.header import ErrorKind, fail
from srcip.proxyproto.tlv import (
    TLV,
    UNIQUE_ID_MAX,
    VENDOR_SUBTYPE_ID,
    AlpnTLV,
    AuthorityTLV,
    AwsVpcEndpointTLV,
    AzureLinkIdTLV,
    Crc32cTLV,
    GcpPscConnectionTLV,
    NetnsTLV,
    NoopTLV,
    SslCipherTLV,
    SslClient,
    SslCnTLV,
    SslKeyAlgTLV,
    SslSigAlgTLV,
    SslSubTLV,
    SslTLV,
    SslVersionTLV,
    TLVType,
    UniqueIdTLV,
    UnknownTLV,
)

__all__ = [
    "decode_tlvs",
]

_T = TypeVar("_T", TLV, SslSubTLV)
#: A type whose value is its one field: (class, that field's slot store, text encoding or
#: None for bytes). The walk builds these inline (see :mod:`._slots`).
_Plain = tuple[type[_T], Callable[[object, object], None], str | None]
#: A type with rules beyond that: a function from the value bytes to the TLV.
_Custom = Callable[[bytes], _T]

#: How many distinct SSL TLV values the decoder remembers, and the largest it remembers
#: (real ones are 50-200 bytes), so the memo holds at most 128 KiB of keys.
SSL_MEMO_SIZE = 256
SSL_MEMO_MAX_VALUE = 512
_CRC32C = 0x03  # TLVType.CRC32C as a plain int, compared once per TLV
_TLV_HEAD = struct.Struct("!BH")
_SSL_HEAD = struct.Struct("!BI")
_U32_BE = struct.Struct("!I")
_U32_LE = struct.Struct("<I")
_U64_BE = struct.Struct("!Q")
_AWS_ID = bytes((VENDOR_SUBTYPE_ID,))
# Every client byte as a flag, so decoding does not go through IntFlag's constructor.
_CLIENT_FLAGS = tuple(SslClient(i) for i in range(256))
_new = object.__new__
_unknown = maker2(UnknownTLV, "type", "value")
_make_crc32c = maker1(Crc32cTLV, "checksum")
_make_unique_id = maker1(UniqueIdTLV, "unique_id")
_make_ssl = maker3(SslTLV, "client", "verify", "sub_tlvs")


def _walk(
    buf: bytes,
    pos: int,
    end: int,
    tables: tuple[dict[int, _Plain[_T]], dict[int, _Custom[_T]]],
    crcs: list[int] | None,
) -> list[_T | UnknownTLV]:
    """Decode the TLVs in ``buf[pos:end]``; append each CRC32C value offset to ``crcs``."""
    out: list[_T | UnknownTLV] = []
    append, unpack = out.append, _TLV_HEAD.unpack_from
    plain_get, custom_get = tables[0].get, tables[1].get
    type_, value = 0, b""
    try:
        while pos < end:
            if end - pos < 3:  # spec §2.2: a TLV is at least type + 2 length bytes
                fail(ErrorKind.TLV_TRUNCATED, f"{end - pos} byte(s) at offset {pos}, not a TLV")
            type_, length = unpack(buf, pos)
            start = pos + 3
            pos = start + length
            if pos > end:  # reads are bounded by the enclosing length field
                _overrun(type_, start, length, end)
            value = buf[start:pos]
            plain = plain_get(type_)
            if plain is not None:
                cls, store, encoding = plain
                tlv = _new(cls)
                store(tlv, value if encoding is None else value.decode(encoding))
                append(tlv)
                continue
            if type_ == _CRC32C and crcs is not None:
                crcs.append(start)
            decode = custom_get(type_)
            append(_unknown(type_, value) if decode is None else decode(value))
    except UnicodeDecodeError as exc:  # spec §2.2.2, §2.2.6, §2.2.7 name each encoding
        message = f"TLV {type_:#04x} is not text in its encoding: {value!r}"
        raise ProxyProtocolError(ErrorKind.TLV_INVALID, message) from exc
    return out


def _overrun(type_: int, start: int, length: int, end: int) -> NoReturn:
    message = (
        f"TLV {type_:#04x} at offset {start - 3} declares {length} bytes, {end - start} remain"
    )
    fail(ErrorKind.TLV_TRUNCATED, message)


def decode_tlvs(buf: bytes, pos: int, end: int) -> tuple[tuple[TLV, ...], int]:
    """The TLVs in ``buf[pos:end]`` and the offset of the CRC32C value (-1 if none)."""
    crcs: list[int] = []
    tlvs = tuple(_walk(buf, pos, end, _TABLES, crcs))
    if not crcs:
        return tlvs, -1
    if len(crcs) > 1:
        fail(ErrorKind.TLV_INVALID, f"{len(crcs)} CRC32C TLVs; a header carries at most one")
    return tlvs, crcs[0]


def _crc32c(value: bytes) -> Crc32cTLV:
    if len(value) != 4:  # spec §2.2.3: "a 32-bit number"
        fail(ErrorKind.TLV_INVALID, f"CRC32C value is {len(value)} bytes, not 4")
    return _make_crc32c(_U32_BE.unpack(value)[0])


def _unique_id(value: bytes) -> UniqueIdTLV:
    if len(value) > UNIQUE_ID_MAX:  # spec §2.2.5: "up to 128 bytes"
        fail(ErrorKind.TLV_INVALID, f"UNIQUE_ID is {len(value)} bytes; at most 128 allowed")
    return _make_unique_id(value)


def _ssl(value: bytes) -> SslTLV:
    """PP2_TYPE_SSL; values of usual size go through the memo below."""
    return _ssl_memo(value) if len(value) <= SSL_MEMO_MAX_VALUE else _decode_ssl(value)


def _decode_ssl(value: bytes) -> SslTLV:
    if len(value) < _SSL_HEAD.size:  # spec §2.2.6: uint8 client, uint32 verify, sub-TLVs
        fail(ErrorKind.TLV_INVALID, f"SSL value is {len(value)} bytes, shorter than 5")
    client, verify = _SSL_HEAD.unpack_from(value)
    subs = _walk(value, _SSL_HEAD.size, len(value), _SSL_TABLES, None)
    return _make_ssl(_CLIENT_FLAGS[client], verify, tuple(subs))


# The SSL TLV describes the TLS session (version, cipher, certificate algorithms, and the
# client CN only when clients present certificates), so most connections from one
# balancer carry the same bytes, and decoding it builds six objects, a third of a typical
# parse. Its result is immutable, so equal bytes may share it: a bounded memo (at most
# SSL_MEMO_SIZE values of at most SSL_MEMO_MAX_VALUE bytes; errors are not remembered).
_ssl_memo = lru_cache(maxsize=SSL_MEMO_SIZE)(_decode_ssl)


def _gcp(value: bytes) -> GcpPscConnectionTLV | UnknownTLV:
    if len(value) != _U64_BE.size:
        return UnknownTLV(type=TLVType.GCP.value, value=value)
    return GcpPscConnectionTLV(connection_id=_U64_BE.unpack(value)[0])


def _aws(value: bytes) -> AwsVpcEndpointTLV | UnknownTLV:
    if value[:1] == _AWS_ID and value.isascii():
        return AwsVpcEndpointTLV(vpce_id=value[1:].decode("ascii"))
    return UnknownTLV(type=TLVType.AWS.value, value=value)


def _azure(value: bytes) -> AzureLinkIdTLV | UnknownTLV:
    if len(value) != 5 or value[0] != VENDOR_SUBTYPE_ID:
        return UnknownTLV(type=TLVType.AZURE.value, value=value)
    return AzureLinkIdTLV(link_id=_U32_LE.unpack_from(value, 1)[0])


def _plain(cls: type[_T], field: str, encoding: str | None) -> _Plain[_T]:
    (store,) = setters(cls, field)
    return cls, store, encoding


# Keys are plain ints: the walk looks them up with the ints it unpacks.
_TABLES: tuple[dict[int, _Plain[TLV]], dict[int, _Custom[TLV]]] = (
    {
        TLVType.ALPN.value: _plain(AlpnTLV, "protocol", None),  # §2.2.1: any bytes
        TLVType.AUTHORITY.value: _plain(AuthorityTLV, "host", "utf-8"),  # §2.2.2
        TLVType.NOOP.value: _plain(NoopTLV, "padding", None),  # §2.2.4: ignored
        TLVType.NETNS.value: _plain(NetnsTLV, "namespace", "ascii"),  # §2.2.7
    },
    {
        TLVType.CRC32C.value: _crc32c,
        TLVType.UNIQUE_ID.value: _unique_id,
        TLVType.SSL.value: _ssl,
        TLVType.GCP.value: _gcp,
        TLVType.AWS.value: _aws,
        TLVType.AZURE.value: _azure,
    },
)

# Spec §2.2.6: VERSION, CIPHER, SIG_ALG and KEY_ALG are US-ASCII, the CN is UTF-8.
_SSL_TABLES: tuple[dict[int, _Plain[SslSubTLV]], dict[int, _Custom[SslSubTLV]]] = (
    {
        TLVType.SSL_VERSION.value: _plain(SslVersionTLV, "version", "ascii"),
        TLVType.SSL_CN.value: _plain(SslCnTLV, "common_name", "utf-8"),
        TLVType.SSL_CIPHER.value: _plain(SslCipherTLV, "cipher", "ascii"),
        TLVType.SSL_SIG_ALG.value: _plain(SslSigAlgTLV, "algorithm", "ascii"),
        TLVType.SSL_KEY_ALG.value: _plain(SslKeyAlgTLV, "algorithm", "ascii"),
    },
    {},
)
