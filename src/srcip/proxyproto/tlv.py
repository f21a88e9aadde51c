"""PROXY protocol v2 TLV vectors as typed values, and their encoding.

After the address block a v2 header may carry Type-Length-Value vectors: one type byte,
a big-endian 16-bit length, then the value (spec §2.2). Each registered type has a frozen
class here whose fields are the decoded value; a class's ``type`` is its type number and
:meth:`encode_value` gives the value bytes back. Types with no class (and vendor types
whose value does not have the documented shape) stay :class:`UnknownTLV`, raw.

Decoded types: ALPN, AUTHORITY, CRC32C, NOOP, UNIQUE_ID, SSL with its sub-TLVs, NETNS
(spec §2.2.1-§2.2.7), and three vendor types from the application-specific range 0xE0-0xEF
(spec §2.2.8), as documented by the clouds that send them: AWS 0xEA subtype 0x01 (VPC
endpoint id, ASCII), Azure 0xEE subtype 0x01 (Private Link id, 32-bit little-endian), GCP
0xE0 (Private Service Connect connection id, 64-bit big-endian).

Type numbers are ``IntEnum``/``IntFlag`` rather than the house ``StrEnum``: on the wire
they are numbers, not strings. Decoding lives in :mod:`srcip.proxyproto.tlvdecode`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import ClassVar

__all__ = [
    "TLV",
    "AlpnTLV",
    "AuthorityTLV",
    "AwsVpcEndpointTLV",
    "AzureLinkIdTLV",
    "Crc32cTLV",
    "GcpPscConnectionTLV",
    "NetnsTLV",
    "NoopTLV",
    "SslCipherTLV",
    "SslClient",
    "SslCnTLV",
    "SslKeyAlgTLV",
    "SslSigAlgTLV",
    "SslSubTLV",
    "SslTLV",
    "SslVersionTLV",
    "TLVType",
    "UnknownTLV",
    "encode_tlv",
]

_TLV_HEAD = struct.Struct("!BH")
_SSL_HEAD = struct.Struct("!BI")
_U32_BE = struct.Struct("!I")
_U32_LE = struct.Struct("<I")
_U64_BE = struct.Struct("!Q")

#: Spec §2.2.5: "an opaque byte sequence of up to 128 bytes".
UNIQUE_ID_MAX = 128
#: Vendor subtype byte of the AWS and Azure TLVs that this module decodes.
VENDOR_SUBTYPE_ID = 0x01


class TLVType(IntEnum):
    """Registered TLV type numbers (spec §2.2) and the decoded vendor types."""

    ALPN = 0x01
    AUTHORITY = 0x02
    CRC32C = 0x03
    NOOP = 0x04
    UNIQUE_ID = 0x05
    SSL = 0x20
    SSL_VERSION = 0x21
    SSL_CN = 0x22
    SSL_CIPHER = 0x23
    SSL_SIG_ALG = 0x24
    SSL_KEY_ALG = 0x25
    NETNS = 0x30
    GCP = 0xE0  # Private Service Connect connection id
    AWS = 0xEA  # subtype 0x01: VPC endpoint id
    AZURE = 0xEE  # subtype 0x01: Private Link LinkID


class SslClient(IntFlag):
    """Bits of the SSL TLV's ``client`` field (spec §2.2.6)."""

    SSL = 0x01  # the client connected over SSL/TLS
    CERT_CONN = 0x02  # it presented a certificate on this connection
    CERT_SESS = 0x04  # it presented one at least once in this TLS session


_NO_FLAGS = SslClient(0)


def _frame(type_: int, value: bytes) -> bytes:
    """One TLV on the wire; refuses what the 8-bit type or 16-bit length cannot describe."""
    if not 0 <= type_ <= 0xFF:
        raise ValueError(f"TLV type {type_} is outside 0..255")
    if len(value) > 0xFFFF:
        raise ValueError(f"TLV 0x{type_:02x} value is {len(value)} bytes; the maximum is 65535")
    return _TLV_HEAD.pack(type_, len(value)) + value


@dataclass(frozen=True, slots=True, kw_only=True)
class AlpnTLV:
    """PP2_TYPE_ALPN (spec §2.2.1): the application protocol, e.g. ``b"h2"``."""

    type: ClassVar[int] = TLVType.ALPN
    protocol: bytes

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthorityTLV:
    """PP2_TYPE_AUTHORITY (spec §2.2.2): the host name the client asked for (SNI), UTF-8."""

    type: ClassVar[int] = TLVType.AUTHORITY
    host: str

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.host.encode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class Crc32cTLV:
    """PP2_TYPE_CRC32C (spec §2.2.3): a CRC-32C of the whole header, already verified.

    A parsed header only ever holds a checksum that matched, so ``checksum`` is fully
    determined by the rest of the header and is left out of equality; ``build`` writes
    the right value whatever this field says.
    """

    type: ClassVar[int] = TLVType.CRC32C
    checksum: int = field(default=0, compare=False)

    def encode_value(self) -> bytes:
        """The value bytes (the stored checksum; ``build`` recomputes it)."""
        return _U32_BE.pack(self.checksum)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoopTLV:
    """PP2_TYPE_NOOP (spec §2.2.4): padding, to be ignored; kept so re-encoding is exact."""

    type: ClassVar[int] = TLVType.NOOP
    padding: bytes = b""

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.padding


@dataclass(frozen=True, slots=True, kw_only=True)
class UniqueIdTLV:
    """PP2_TYPE_UNIQUE_ID (spec §2.2.5): an opaque connection id of at most 128 bytes."""

    type: ClassVar[int] = TLVType.UNIQUE_ID
    unique_id: bytes

    def encode_value(self) -> bytes:
        """The value bytes; refuses ids longer than the spec allows."""
        if len(self.unique_id) > UNIQUE_ID_MAX:
            raise ValueError(f"UNIQUE_ID is {len(self.unique_id)} bytes; the maximum is 128")
        return self.unique_id


@dataclass(frozen=True, slots=True, kw_only=True)
class SslVersionTLV:
    """PP2_SUBTYPE_SSL_VERSION (spec §2.2.6): the TLS version, US-ASCII (``TLSv1.3``)."""

    type: ClassVar[int] = TLVType.SSL_VERSION
    version: str

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.version.encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class SslCnTLV:
    """PP2_SUBTYPE_SSL_CN (spec §2.2.6): the client certificate's Common Name, UTF-8."""

    type: ClassVar[int] = TLVType.SSL_CN
    common_name: str

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.common_name.encode("utf-8")


@dataclass(frozen=True, slots=True, kw_only=True)
class SslCipherTLV:
    """PP2_SUBTYPE_SSL_CIPHER (spec §2.2.6): the cipher name, US-ASCII."""

    type: ClassVar[int] = TLVType.SSL_CIPHER
    cipher: str

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.cipher.encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class SslSigAlgTLV:
    """PP2_SUBTYPE_SSL_SIG_ALG (spec §2.2.6): the server certificate's signature algorithm."""

    type: ClassVar[int] = TLVType.SSL_SIG_ALG
    algorithm: str

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.algorithm.encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class SslKeyAlgTLV:
    """PP2_SUBTYPE_SSL_KEY_ALG (spec §2.2.6): the server certificate's key algorithm."""

    type: ClassVar[int] = TLVType.SSL_KEY_ALG
    algorithm: str

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.algorithm.encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownTLV:
    """A TLV kept raw: an unregistered type, or a vendor type not in its documented shape."""

    type: int
    value: bytes

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.value


SslSubTLV = SslVersionTLV | SslCnTLV | SslCipherTLV | SslSigAlgTLV | SslKeyAlgTLV | UnknownTLV


@dataclass(frozen=True, slots=True, kw_only=True)
class SslTLV:
    """PP2_TYPE_SSL (spec §2.2.6): ``client`` bits, ``verify`` and sub-TLVs in wire order.

    ``verify`` is zero when the client presented a certificate and it was verified.
    """

    type: ClassVar[int] = TLVType.SSL
    client: SslClient = _NO_FLAGS
    verify: int = 0
    sub_tlvs: tuple[SslSubTLV, ...] = ()

    @property
    def verified(self) -> bool:
        """True when the client's certificate was verified (``verify == 0``)."""
        return self.verify == 0

    @property
    def version(self) -> str | None:
        """The first SSL_VERSION sub-TLV's text, or None."""
        return next((s.version for s in self.sub_tlvs if isinstance(s, SslVersionTLV)), None)

    @property
    def common_name(self) -> str | None:
        """The first SSL_CN sub-TLV's text, or None."""
        return next((s.common_name for s in self.sub_tlvs if isinstance(s, SslCnTLV)), None)

    @property
    def cipher(self) -> str | None:
        """The first SSL_CIPHER sub-TLV's text, or None."""
        return next((s.cipher for s in self.sub_tlvs if isinstance(s, SslCipherTLV)), None)

    def encode_value(self) -> bytes:
        """The value bytes: the 5-byte client/verify head, then the sub-TLVs."""
        head = _SSL_HEAD.pack(self.client, self.verify)
        return head + b"".join(_frame(s.type, s.encode_value()) for s in self.sub_tlvs)


@dataclass(frozen=True, slots=True, kw_only=True)
class NetnsTLV:
    """PP2_TYPE_NETNS (spec §2.2.7): the network namespace's name, US-ASCII."""

    type: ClassVar[int] = TLVType.NETNS
    namespace: str

    def encode_value(self) -> bytes:
        """The value bytes."""
        return self.namespace.encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class AwsVpcEndpointTLV:
    """AWS type 0xEA, subtype 0x01: the VPC endpoint id in ASCII (``vpce-0123…``)."""

    type: ClassVar[int] = TLVType.AWS
    vpce_id: str

    def encode_value(self) -> bytes:
        """The value bytes: subtype, then the id."""
        return bytes((VENDOR_SUBTYPE_ID,)) + self.vpce_id.encode("ascii")


@dataclass(frozen=True, slots=True, kw_only=True)
class AzureLinkIdTLV:
    """Azure type 0xEE, subtype 0x01: the Private Link LinkID, 32-bit little-endian."""

    type: ClassVar[int] = TLVType.AZURE
    link_id: int

    def encode_value(self) -> bytes:
        """The value bytes: subtype, then the id."""
        return bytes((VENDOR_SUBTYPE_ID,)) + _U32_LE.pack(self.link_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class GcpPscConnectionTLV:
    """GCP type 0xE0: the Private Service Connect connection id, 64-bit big-endian."""

    type: ClassVar[int] = TLVType.GCP
    connection_id: int

    def encode_value(self) -> bytes:
        """The value bytes."""
        return _U64_BE.pack(self.connection_id)


TLV = (
    AlpnTLV
    | AuthorityTLV
    | Crc32cTLV
    | NoopTLV
    | UniqueIdTLV
    | SslTLV
    | NetnsTLV
    | AwsVpcEndpointTLV
    | AzureLinkIdTLV
    | GcpPscConnectionTLV
    | UnknownTLV
)


def encode_tlv(tlv: TLV) -> bytes:
    """One TLV on the wire (a CRC32C with its stored value; ``build`` fills it in)."""
    return _frame(tlv.type, tlv.encode_value())
