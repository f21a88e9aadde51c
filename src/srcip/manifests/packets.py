"""Read a batch of packets for ``srcip route --packets FILE``.

The file is YAML or JSON holding a list of ``{src, dst, port, protocol}`` mappings
(``protocol`` defaults to TCP). Every problem names the file, the item and the field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from ipaddress import ip_address
from pathlib import Path

import yaml

from srcip.errors import ManifestError, Where
from srcip.model.enums import Protocol
from srcip.model.objects import IPAddress
from srcip.model.packet import Packet

__all__ = ["load_packets", "parse_packet"]

_FIELDS = ("src", "dst", "port", "protocol")


def load_packets(path: str | os.PathLike[str]) -> tuple[Packet, ...]:
    """Read and validate every packet of a packets file."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            f"cannot read the packets file: {exc.strerror}",
            where=Where(file=name),
            fix="give the path of a YAML or JSON list of {src, dst, port, protocol}",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ManifestError(
            f"not valid YAML or JSON: {exc}", where=Where(file=name), fix="fix the syntax"
        ) from exc
    if not isinstance(data, list) or not data:
        raise ManifestError(
            "expected a non-empty list of packets",
            where=Where(file=name),
            value=type(data).__name__,
            fix="write a list such as [{src: 203.0.113.7, dst: 10.0.1.2, port: 30080}]",
        )
    return tuple(
        parse_packet(item, where=Where(file=name, document=i + 1)) for i, item in enumerate(data)
    )


def parse_packet(item: object, *, where: Where) -> Packet:
    """One packet from a mapping with ``src``, ``dst``, ``port`` and optional ``protocol``."""
    if not isinstance(item, Mapping):
        raise ManifestError(
            "a packet must be a mapping with src, dst, port and protocol",
            where=where,
            value=item,
            fix="write {src: IP, dst: IP, port: N, protocol: TCP}",
        )
    unknown = sorted(set(map(str, item)) - set(_FIELDS))
    if unknown:
        raise ManifestError(
            f"unknown field {unknown[0]!r}",
            where=where,
            field=unknown[0],
            fix=f"use only {', '.join(_FIELDS)}",
        )
    src = _address(item.get("src"), "src", where)
    dst = _address(item.get("dst"), "dst", where)
    port = item.get("port")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ManifestError(
            "not a port number", where=where, field="port", value=port, fix="use 1..65535"
        )
    protocol = str(item.get("protocol", "TCP")).upper()
    if protocol not in Protocol.__members__:
        raise ManifestError(
            "not a protocol",
            where=where,
            field="protocol",
            value=item.get("protocol"),
            fix="use TCP, UDP or SCTP",
        )
    return Packet(src=src, dst=dst, port=port, protocol=Protocol(protocol))


def _address(value: object, name: str, where: Where) -> IPAddress:
    try:
        return ip_address(str(value).strip()) if value is not None else ip_address("")
    except ValueError as exc:
        raise ManifestError(
            "not an IP address",
            where=where,
            field=name,
            value=value,
            fix="write an IPv4 or IPv6 address",
        ) from exc
