"""PROXY protocol v1 and v2, sans-I/O: parse and build the header a proxy puts first.

A load balancer that relays TCP (HAProxy ``send-proxy``, AWS NLB, GCP and Azure private
endpoints, ingress controllers) may prepend a header naming the client it relays for.
This package turns those bytes into a :class:`ProxyHeader` and back, strictly to HAProxy's
specification (``doc/proxy-protocol.txt``, 2020/03/05), and does no I/O: the caller reads
the socket and decides whom to trust (only configured proxies may send a header, spec
§5; see :mod:`srcip.clientip`).

* :func:`parse` for a whole buffer; :class:`Parser` for bytes as they arrive
  (``receive_data`` / ``next_event`` -> header or :data:`NEED_DATA`, then
  ``trailing_data``), modelled on h11.
* :func:`build` for the sender's side and for tests: ``parse(build(h)) == h``.
* Every refusal is :class:`srcip.errors.ProxyProtocolError` whose ``kind`` is an
  :class:`ErrorKind`; nothing else escapes :func:`parse` or :meth:`Parser.next_event`.

Modules: :mod:`.header` (the value and its enums), :mod:`.v1`, :mod:`.v2`, :mod:`.tlv`
(typed TLVs and their encoding), :mod:`.tlvdecode`, :mod:`.codec` (detection, ``parse``,
``build``), :mod:`.parser` (the streaming state machine).
"""

from __future__ import annotations

from srcip.proxyproto.codec import DEFAULT_MAX_HEADER_SIZE, build, parse
from srcip.proxyproto.header import Address, Command, ErrorKind, Family, ProxyHeader, Transport
from srcip.proxyproto.parser import NEED_DATA, NeedData, Parser, ParserState
from srcip.proxyproto.tlv import (
    TLV,
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
    "DEFAULT_MAX_HEADER_SIZE",
    "NEED_DATA",
    "TLV",
    "Address",
    "AlpnTLV",
    "AuthorityTLV",
    "AwsVpcEndpointTLV",
    "AzureLinkIdTLV",
    "Command",
    "Crc32cTLV",
    "ErrorKind",
    "Family",
    "GcpPscConnectionTLV",
    "NeedData",
    "NetnsTLV",
    "NoopTLV",
    "Parser",
    "ParserState",
    "ProxyHeader",
    "SslCipherTLV",
    "SslClient",
    "SslCnTLV",
    "SslKeyAlgTLV",
    "SslSigAlgTLV",
    "SslSubTLV",
    "SslTLV",
    "SslVersionTLV",
    "TLVType",
    "Transport",
    "UniqueIdTLV",
    "UnknownTLV",
    "build",
    "parse",
]
