"""PROXY protocol v2: the binary header (spec §2.2).

Layout: a 12-byte signature, version|command (1 byte), family|transport (1 byte), a
big-endian length ``len`` of what follows, then ``len`` bytes: the address block for the
family and, after it, TLV vectors. The header is ``16 + len`` bytes; nothing is read past
that, whatever the buffer holds.

What is checked, in order, and the kind raised:

* version nibble 2 [``v2_unsupported_version``], decided on the 13th byte;
* command LOCAL or PROXY [``v2_invalid_command``];
* the 14th byte is one of the seven combinations spec §2.2 lists (0x00, 0x11, 0x12, 0x21,
  0x22, 0x31, 0x32): a family nibble above 3 is ``v2_invalid_family``; a transport nibble
  above 2, or UNSPEC paired with a specified value, is ``v2_invalid_transport``;
* ``16 + len`` within ``max_header_size`` [``tlv_truncated``, see
  :class:`~srcip.proxyproto.header.ErrorKind`], decided on the 16th byte;
* ``len`` at least the family's address block, 0/12/36/216 bytes
  [``v2_address_truncated``], also decided on the 16th byte;
* the TLVs after the block (:mod:`.tlvdecode`), then the CRC32C if one is present
  [``v2_crc32c_mismatch``]: computed over the ``16 + len`` bytes as received with the
  checksum field zeroed (spec §2.2.3).

LOCAL (spec §2.2: "discard the protocol block including the family") yields no addresses.
Its 14th byte is still checked like any other (unlisted values "must be rejected"), and
``len`` must still cover the family's block ("must not assume zero is presented for LOCAL
connections"); the block is skipped and the TLVs after it are decoded, so a LOCAL header's
CRC32C is verified too. PROXY with UNSPEC yields no addresses either (the spec lets a
receiver accept it and use the real endpoints).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import NoReturn

from crc32c import crc32c

from srcip.proxyproto.header import (
    Address,
    Command,
    ErrorKind,
    Family,
    ProxyHeader,
    Transport,
    fail,
    make_header,
    require_ips,
    require_no_addresses,
    require_ports,
)
from srcip.proxyproto.tlv import TLV, Crc32cTLV, encode_tlv
from srcip.proxyproto.tlvdecode import decode_tlvs

__all__ = [
    "FIXED_SIZE",
    "MAX_SIZE",
    "SIGNATURE",
    "build_v2",
    "parse_v2",
]

#: Spec §2.2: "\x0D \x0A \x0D \x0A \x00 \x0D \x0A \x51 \x55 \x49 \x54 \x0A".
SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
#: Signature, version|command, family|transport and the 2-byte length.
FIXED_SIZE = 16
#: The largest header the length field can describe.
MAX_SIZE = FIXED_SIZE + 0xFFFF
_VERSION = 0x2
_UNIX_PATH = 108

_FIXED = struct.Struct("!BBH")
_INET = struct.Struct("!IIHH")
_INET6 = struct.Struct("!16s16sHH")
_UNIX = struct.Struct(f"!{_UNIX_PATH}s{_UNIX_PATH}s")
_U32 = struct.Struct("!I")
_ZERO_CRC = bytes(4)

_Addresses = tuple[Address | None, Address | None, int | None, int | None]
_NO_ADDRESSES: _Addresses = (None, None, None, None)

# Spec §2.2, 13th byte, low nibble: "other values are unassigned ... Receivers must drop
# connections presenting unexpected values here."
_COMMANDS = {0x0: Command.LOCAL, 0x1: Command.PROXY}
_COMMAND_BITS = {command: bits for bits, command in _COMMANDS.items()}


def _inet(buf: bytes) -> _Addresses:
    src, dst, src_port, dst_port = _INET.unpack_from(buf, FIXED_SIZE)
    return IPv4Address(src), IPv4Address(dst), src_port, dst_port


def _inet6(buf: bytes) -> _Addresses:
    src, dst, src_port, dst_port = _INET6.unpack_from(buf, FIXED_SIZE)
    return IPv6Address(src), IPv6Address(dst), src_port, dst_port


def _unix(buf: bytes) -> _Addresses:
    src, dst = _UNIX.unpack_from(buf, FIXED_SIZE)
    return _path(src), _path(dst), None, None


def _unspec(buf: bytes) -> _Addresses:
    return _NO_ADDRESSES


def _path(raw: bytes) -> str:
    """A 108-byte ``sun_path``: up to the first NUL, or (leading NUL) a Linux abstract name.

    An abstract name is NUL plus the rest with trailing NULs dropped, since the fixed field
    has no room for the real address length; all NULs is the empty (unnamed) path.
    """
    if raw[0] == 0:
        name = raw[1:].rstrip(b"\0")
        return "\0" + name.decode("utf-8", "surrogateescape") if name else ""
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


# Spec §2.2, 14th byte: family (high nibble) | transport (low nibble), the combinations
# the spec lists, with the address block length and its decoder.
_Row = tuple[Family, Transport, int, Callable[[bytes], _Addresses]]
_FAMILIES: dict[int, _Row] = {
    0x00: (Family.UNSPEC, Transport.UNSPEC, 0, _unspec),
    0x11: (Family.INET, Transport.STREAM, _INET.size, _inet),
    0x12: (Family.INET, Transport.DGRAM, _INET.size, _inet),
    0x21: (Family.INET6, Transport.STREAM, _INET6.size, _inet6),
    0x22: (Family.INET6, Transport.DGRAM, _INET6.size, _inet6),
    0x31: (Family.UNIX, Transport.STREAM, _UNIX.size, _unix),
    0x32: (Family.UNIX, Transport.DGRAM, _UNIX.size, _unix),
}
_FAMILY_BYTES: dict[tuple[Family, Transport | None], tuple[int, int]] = {
    (row[0], row[1]): (byte, row[2]) for byte, row in _FAMILIES.items()
}


def _reject_family(byte: int) -> NoReturn:
    """Name what is wrong with a 14th byte that is not in the table."""
    if byte >> 4 > 0x3:  # spec §2.2: other families "must be rejected as invalid"
        fail(ErrorKind.V2_INVALID_FAMILY, f"family nibble {byte >> 4:#x} in byte {byte:#04x}")
    # Spec §2.2: other transports "must be rejected as invalid by receivers"; a specified
    # family with an UNSPEC transport (or the reverse) is not among the listed bytes.
    fail(ErrorKind.V2_INVALID_TRANSPORT, f"transport/family byte {byte:#04x}")


def parse_v2(buf: bytes, max_header_size: int) -> ProxyHeader | int:
    """Parse the v2 header at the start of ``buf`` (which starts with the signature).

    Returns the header, or the buffer length at which to try again.
    """
    if len(buf) > 12 and buf[12] >> 4 != _VERSION:  # spec §2.2: "must only accept" 2
        fail(ErrorKind.V2_UNSUPPORTED_VERSION, f"version nibble {buf[12] >> 4:#x}, not 0x2")
    if len(buf) < FIXED_SIZE:
        return FIXED_SIZE
    ver_cmd: int
    fam: int
    length: int
    ver_cmd, fam, length = _FIXED.unpack_from(buf, 12)
    command = _COMMANDS.get(ver_cmd & 0x0F)
    if command is None:
        fail(ErrorKind.V2_INVALID_COMMAND, f"command nibble {ver_cmd & 0x0F:#x}")
    row = _FAMILIES.get(fam)
    if row is None:
        _reject_family(fam)
    family, transport, address_size, decode_addresses = row
    total = FIXED_SIZE + length
    if total > max_header_size:
        fail(ErrorKind.TLV_TRUNCATED, f"header is {total} bytes; the limit is {max_header_size}")
    if length < address_size:  # spec §2.2: the block for this family is this long
        fail(ErrorKind.V2_ADDRESS_TRUNCATED, f"{family} needs {address_size} bytes, len={length}")
    if len(buf) < total:
        return total
    tlvs: tuple[TLV, ...] = ()
    if length > address_size:
        tlvs, crc_at = decode_tlvs(buf, FIXED_SIZE + address_size, total)
        if crc_at >= 0:
            _verify_crc32c(buf, total, crc_at)
    src, dst, src_port, dst_port = (
        decode_addresses(buf) if command is Command.PROXY else _NO_ADDRESSES
    )
    return make_header(2, command, family, transport, src, dst, src_port, dst_port, tlvs, total)


def _verify_crc32c(buf: bytes, total: int, at: int) -> None:
    """Spec §2.2.3: zero the checksum field, CRC-32C the whole header, compare."""
    (sent,) = _U32.unpack_from(buf, at)
    computed = crc32c(buf[:at] + _ZERO_CRC + buf[at + 4 : total])
    if computed != sent:
        fail(
            ErrorKind.V2_CRC32C_MISMATCH,
            f"CRC32C field says {sent:#010x}, the header's bytes give {computed:#010x}",
        )


def build_v2(header: ProxyHeader, *, crc32c_tlv: bool = False) -> bytes:
    """The v2 header for ``header``; ValueError if v2 cannot say it.

    Every :class:`Crc32cTLV` gets the correct checksum; ``crc32c_tlv`` appends one if the
    header has none.
    """
    command_bits = _COMMAND_BITS.get(header.command)
    family_byte = _FAMILY_BYTES.get((header.family, header.transport))
    if command_bits is None or family_byte is None:
        raise ValueError(
            f"v2 has no {header.command} {header.family}/{header.transport} header; families "
            "UNSPEC, INET, INET6, UNIX with a matching transport (UNSPEC only with UNSPEC)"
        )
    fam, address_size = family_byte
    if header.command is Command.LOCAL:
        require_no_addresses(header)
        block = bytes(address_size)  # LOCAL: the receiver skips it (spec §2.2)
    else:
        block = _encode_addresses(header)
    tlvs = header.tlvs
    if crc32c_tlv and not any(isinstance(t, Crc32cTLV) for t in tlvs):
        tlvs = (*tlvs, Crc32cTLV())
    area, crc_at = _encode_tlvs(tlvs)
    length = len(block) + len(area)
    if length > 0xFFFF:
        raise ValueError(f"v2 header body is {length} bytes; the length field holds 65535")
    head = SIGNATURE + _FIXED.pack(_VERSION << 4 | command_bits, fam, length)
    data = bytearray(head + block + area)
    if crc_at >= 0:
        at = len(head) + len(block) + crc_at
        data[at : at + 4] = _ZERO_CRC
        data[at : at + 4] = _U32.pack(crc32c(data))
    return bytes(data)


def _encode_tlvs(tlvs: tuple[TLV, ...]) -> tuple[bytes, int]:
    """The TLV area and the offset in it of the CRC32C value (-1 if none)."""
    parts: list[bytes] = []
    size, crc_at = 0, -1
    for tlv in tlvs:
        if isinstance(tlv, Crc32cTLV):
            if crc_at >= 0:
                raise ValueError("a v2 header carries at most one CRC32C TLV")
            crc_at = size + 3
        part = encode_tlv(tlv)
        parts.append(part)
        size += len(part)
    return b"".join(parts), crc_at


def _encode_addresses(header: ProxyHeader) -> bytes:
    """The address block of a PROXY header (spec §2.2, ``union proxy_addr``)."""
    if header.family is Family.UNSPEC:
        require_no_addresses(header)
        return b""
    if header.family is Family.UNIX:
        src, dst = header.src, header.dst
        if header.src_port is not None or header.dst_port is not None:
            raise ValueError("UNIX addresses have no ports")
        return _UNIX.pack(_encode_path(src), _encode_path(dst))
    if header.family is Family.INET:
        src4, dst4 = require_ips(header, IPv4Address)
        return _INET.pack(int(src4), int(dst4), *require_ports(header))
    src6, dst6 = require_ips(header, IPv6Address)
    return _INET6.pack(src6.packed, dst6.packed, *require_ports(header))


def _encode_path(path: Address | None) -> bytes:
    """A socket path for the 108-byte field; refuses what would not parse back the same."""
    if not isinstance(path, str):
        raise ValueError(f"a UNIX address is a path string, got {path!r}")
    raw = path.encode("utf-8", "surrogateescape")
    # A filesystem path ends at its first NUL; an abstract name (leading NUL) must not end
    # with NUL, which parsing would take for padding.
    abstract = raw[:1] == b"\0"
    fits = len(raw) > 1 and not raw.endswith(b"\0") if abstract else b"\0" not in raw
    if not fits or len(raw) > _UNIX_PATH:
        raise ValueError(f"{path!r} is not a socket path that fits 108 bytes unambiguously")
    return raw
