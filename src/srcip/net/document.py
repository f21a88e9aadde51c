"""The echo document: the three addresses a debugging user must keep apart, and context.

For every request that is not a reserved path the server answers a JSON object with, in
this order (issue 5 §1):

``peer``            ``{ip, port}`` of the TCP peer (what the kernel says; nginx's
                    ``$remote_addr``, echoserver's ``client_address``)
``local``           ``{ip, port}`` the connection reached
``proxy_protocol``  null, or the PROXY header: version, command, family, transport,
                    src, dst, src_port, dst_port and every TLV in wire order
``forwarded``       every forwarding-related field line as received, in order, as
                    ``[name, value]`` pairs (:data:`FORWARDING_FIELDS` and the
                    configured source header)
``client``          ``{ip, status, source, hops}``: :func:`srcip.clientip.resolve`'s answer
``peer_kind``       :func:`srcip.net.peerkind.classify_peer` of the TCP peer
``pod``             ``{name, namespace, node, ip}`` from the downward API
``hostname``        the machine's (the pod's) host name
``request``         ``{method, path, query, version, headers, body_bytes}``, headers as
                    ``[name, value]`` pairs in order, duplicates kept

Field values are bytes on the wire; they are shown as ISO-8859-1 text (RFC 9110 §5.5), so
every byte survives and JSON escapes what needs escaping. :func:`echo_document` builds the
whole object as plain data; the server splices precomputed JSON fragments of the same
parts (per server, per connection, per request) for speed, and the tests hold the two
equal. :func:`render_text` is the echoserver-style plain text (``client_address=`` is
the TCP peer there too, so scripts written against echoserver keep working).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from enum import IntFlag
from typing import Any

import msgspec

from srcip.clientip import Hop, Resolution
from srcip.net.peerkind import PeerKind, PodEnvironment
from srcip.proxyproto import TLV, ProxyHeader, SslTLV, TLVType

__all__ = [
    "FORWARDING_FIELDS",
    "ConnectionFacts",
    "client_json",
    "connection_fragment",
    "echo_document",
    "pod_json",
    "proxy_json",
    "render_text",
    "request_json",
    "tail_fragment",
]

#: Field names (lower case) reported under ``forwarded``: the forwarding headers that
#: proxies, CDNs and meshes write (reference/clientip.md §3, §4).
FORWARDING_FIELDS = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-forwarded-server",
        b"x-forwarded-scheme",
        b"x-forwarded-ssl",
        b"x-forwarded-uri",
        b"x-original-forwarded-for",
        b"x-real-ip",
        b"x-client-ip",
        b"x-cluster-client-ip",
        b"x-envoy-external-address",
        b"x-envoy-original-ip",
        b"true-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"forwarded-for",
        b"x-forwarded",
        b"client-ip",
        b"via",
    }
)

Pairs = Sequence[tuple[bytes, bytes]]
_encode = msgspec.json.encode


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionFacts:
    """What is fixed for a whole connection: both endpoints, the PROXY header, the kind."""

    peer_ip: str
    peer_port: int
    local_ip: str
    local_port: int
    proxy: ProxyHeader | None = None
    peer_kind: PeerKind = PeerKind.UNKNOWN


def proxy_json(header: ProxyHeader | None) -> dict[str, Any] | None:
    """The PROXY header as plain data (None without one)."""
    if header is None:
        return None
    return {
        "version": header.version,
        "command": str(header.command),
        "family": str(header.family),
        "transport": None if header.transport is None else str(header.transport),
        "src": None if header.src is None else _clean(str(header.src)),
        "dst": None if header.dst is None else _clean(str(header.dst)),
        "src_port": header.src_port,
        "dst_port": header.dst_port,
        "tlvs": [tlv_json(tlv) for tlv in header.tlvs],
    }


def tlv_json(tlv: TLV | object) -> dict[str, Any]:
    """One TLV: its type number, registered name (or None) and decoded fields."""
    type_ = int(getattr(tlv, "type", -1))
    name = TLVType(type_).name if type_ in TLVType._value2member_map_ else None
    out: dict[str, Any] = {"type": type_, "name": name}
    if is_dataclass(tlv):
        for spec in fields(tlv):
            if spec.name != "type":
                out[spec.name] = _value_json(getattr(tlv, spec.name))
    if isinstance(tlv, SslTLV):
        out["verified"] = tlv.verified
    return out


def _value_json(value: object) -> object:
    if isinstance(value, bytes):
        text = value.decode("latin-1")
        return text if text.isprintable() else value.hex()
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, IntFlag):
        return int(value)
    if isinstance(value, tuple):
        return [tlv_json(item) for item in value]
    return value


def _clean(text: str) -> str:
    """Text from the wire as valid Unicode: undecodable bytes (kept by ``surrogateescape``
    in UNIX paths and TLVs) become ``\\xNN`` escapes."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def hop_json(hop: Hop) -> dict[str, Any]:
    """One examined hop of the resolution."""
    return {
        "source": hop.source,
        "index": hop.index,
        "raw": hop.raw,
        "ip": None if hop.ip is None else str(hop.ip),
        "verdict": str(hop.verdict),
    }


def client_json(resolution: Resolution) -> dict[str, Any]:
    """``client``: the resolved address (or None), the status, the source and the hops."""
    return {
        "ip": None if resolution.ip is None else str(resolution.ip),
        "status": str(resolution.status),
        "source": resolution.source,
        "hops": [hop_json(hop) for hop in resolution.hops],
    }


def pod_json(env: PodEnvironment) -> dict[str, Any]:
    """``pod``: name, namespace, node and IP from the downward API (None when unset)."""
    return {
        "name": env.pod_name,
        "namespace": env.namespace,
        "node": env.node_name,
        "ip": None if env.pod_ip is None else str(env.pod_ip),
    }


def pairs_json(pairs: Pairs) -> list[list[str]]:
    """Field lines as ``[name, value]`` text pairs (ISO-8859-1, every byte kept)."""
    return [[name.decode("latin-1"), value.decode("latin-1")] for name, value in pairs]


def request_json(
    method: str, target: bytes, version: str, headers: Pairs, body_bytes: int
) -> dict[str, Any]:
    """``request``: the request line split into path and query, headers and body size."""
    path, _, query = target.partition(b"?")
    return {
        "method": method,
        "path": path.decode("latin-1"),
        "query": query.decode("latin-1"),
        "version": version,
        "headers": pairs_json(headers),
        "body_bytes": body_bytes,
    }


def connection_fragment(facts: ConnectionFacts) -> bytes:
    """``"peer":…,"local":…,"proxy_protocol":…`` as JSON members (no braces)."""
    return _encode(
        {
            "peer": {"ip": facts.peer_ip, "port": facts.peer_port},
            "local": {"ip": facts.local_ip, "port": facts.local_port},
            "proxy_protocol": proxy_json(facts.proxy),
        }
    )[1:-1]


def tail_fragment(peer_kind: PeerKind, env: PodEnvironment, hostname: str) -> bytes:
    """``"peer_kind":…,"pod":…,"hostname":…`` as JSON members (no braces)."""
    return _encode({"peer_kind": str(peer_kind), "pod": pod_json(env), "hostname": hostname})[1:-1]


def echo_document(
    facts: ConnectionFacts,
    forwarded: Pairs,
    resolution: Resolution,
    env: PodEnvironment,
    hostname: str,
    request: dict[str, Any],
) -> dict[str, Any]:
    """The whole echo document as plain data, keys in the documented order."""
    return {
        "peer": {"ip": facts.peer_ip, "port": facts.peer_port},
        "local": {"ip": facts.local_ip, "port": facts.local_port},
        "proxy_protocol": proxy_json(facts.proxy),
        "forwarded": pairs_json(forwarded),
        "client": client_json(resolution),
        "peer_kind": str(facts.peer_kind),
        "pod": pod_json(env),
        "hostname": hostname,
        "request": request,
    }


def render_text(document: dict[str, Any]) -> str:
    """The document as echoserver-style text (``client_address=`` is the TCP peer)."""
    pod, request, client = document["pod"], document["request"], document["client"]
    peer, local = document["peer"], document["local"]
    headers = request["headers"]
    lines = [f"Hostname: {document['hostname']}", "", "Pod Information:"]
    if any(pod.values()):
        lines += [
            f"\tnode name:\t{pod['node'] or '-'}",
            f"\tpod name:\t{pod['name'] or '-'}",
            f"\tpod namespace:\t{pod['namespace'] or '-'}",
            f"\tpod IP:\t{pod['ip'] or '-'}",
        ]
    else:
        lines.append("\t-no pod information available-")
    lines += [
        "",
        "Request Information:",
        f"\tclient_address={peer['ip']}",
        f"\tmethod={request['method']}",
        f"\treal path={request['path']}",
        f"\tquery={request['query']}",
        f"\trequest_version={request['version']}",
        "",
        "Source Addresses:",
        f"\tpeer_address={_endpoint(peer)}",
        f"\tpeer_kind={document['peer_kind']}",
        f"\tlocal_address={_endpoint(local)}",
        f"\tproxy_protocol={_proxy_text(document['proxy_protocol'])}",
        *(f"\tforwarded: {name}={value}" for name, value in document["forwarded"]),
        f"\tclient_ip={client['ip'] or '-'}",
        f"\tclient_status={client['status']}",
        f"\tclient_source={client['source']}",
        "",
        "Request Headers:",
        *(f"\t{name.lower()}={value}" for name, value in headers),
        "",
        "Request Body:",
        f"\t{request['body_bytes']} bytes" if request["body_bytes"] else "\t-no body in request-",
        "",
    ]
    return "\n".join(lines) + "\n"


def _endpoint(end: dict[str, Any]) -> str:
    ip = end["ip"]
    return f"[{ip}]:{end['port']}" if ":" in ip else f"{ip}:{end['port']}"


def _proxy_text(proxy: dict[str, Any] | None) -> str:
    if proxy is None:
        return "-"
    text = f"v{proxy['version']} {proxy['command']} {proxy['family']}"
    if proxy["src"] is not None:
        text += f" {proxy['src']}:{proxy['src_port']} -> {proxy['dst']}:{proxy['dst_port']}"
    return text
