"""PROXY protocol parsing: srcip.proxyproto against the ``proxy-protocol`` package.

Same inputs, same run, same process. The peer is ``proxy-protocol`` from PyPI (import
name ``proxyprotocol``; its v2 entry point is ``ProxyProtocolV2().unpack(bytes)``, its v1
one ``ProxyProtocolV1().unpack(line)``), with its ``crc32c`` extra installed so that it
verifies checksums at all. srcip's entry point is ``srcip.proxyproto.parse(bytes)``, which
also detects the version.

Inputs (1,024 distinct headers each, cycled in order; ``build`` writes them):

* ``v2 typical``: TCP over IPv4 with ALPN, AUTHORITY, CRC32C, UNIQUE_ID and SSL (client
  flags, verify, VERSION, CN, CIPHER, SIG_ALG, KEY_ALG sub-TLVs), 172 bytes. Addresses,
  ports and UNIQUE_ID differ per header (so the CRC32C does too); ALPN, AUTHORITY and SSL
  are those of one TLS frontend, as from one balancer. TLVs are in ascending type order:
  the peer recomputes the checksum over its TLVs re-sorted, so it rejects valid headers
  in any other order.
* ``v2 distinct SSL``: the same with a different client CN in every header, so no two
  SSL TLVs are equal and srcip's memo of decoded SSL TLVs never hits (its worst case).
* ``v2 …, peer reads every value``: the typical and the distinct-SSL inputs, the peer also
  reading every TLV value it otherwise decodes lazily (srcip's parse decodes everything up
  front anyway), so both sides do the same work.
* ``v1 TCP4``: ``PROXY TCP4 a b p q\\r\\n`` lines.

Each figure is the best of ``--repeat`` timed passes of ``--parses`` calls, srcip and peer
passes interleaved, on one pinned CPU where the OS allows it. Before timing, every input
is parsed by both and the results compared field by field. Then a table of behaviour on
edge-case vectors shows where the two disagree.

Benchmarks are programs, not timed tests (STYLE §14). Nothing here touches the network.
Run: ``.venv/bin/python bench/proxyproto.py [--parses 100000] [--repeat 5] [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import struct
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version
from ipaddress import IPv4Address

import crc32c
from proxyprotocol.v1 import ProxyProtocolV1
from proxyprotocol.v2 import ProxyProtocolV2

from srcip.errors import ProxyProtocolError
from srcip.proxyproto import (
    AlpnTLV,
    AuthorityTLV,
    Crc32cTLV,
    Family,
    ProxyHeader,
    SslCipherTLV,
    SslClient,
    SslCnTLV,
    SslKeyAlgTLV,
    SslSigAlgTLV,
    SslTLV,
    SslVersionTLV,
    Transport,
    UniqueIdTLV,
    build,
    parse,
)

DISTINCT = 1024
TARGET = 3.0
_V2 = ProxyProtocolV2()
_V1 = ProxyProtocolV1()


def _ssl(common_name: str) -> SslTLV:
    subs = (
        SslVersionTLV(version="TLSv1.3"),
        SslCnTLV(common_name=common_name),
        SslCipherTLV(cipher="TLS_AES_128_GCM_SHA256"),
        SslSigAlgTLV(algorithm="RSA-SHA256"),
        SslKeyAlgTLV(algorithm="RSA2048"),
    )
    return SslTLV(client=SslClient.SSL | SslClient.CERT_CONN, verify=0, sub_tlvs=subs)


def v2_inputs(*, distinct_ssl: bool) -> list[bytes]:
    """1,024 distinct v2 headers with TLVs and a CRC32C, in the peer's TLV order."""
    shared = _ssl("client.example")
    out = []
    for i in range(DISTINCT):
        tlvs = (
            AlpnTLV(protocol=b"h2"),
            AuthorityTLV(host="api.example.com"),
            Crc32cTLV(),
            UniqueIdTLV(unique_id=f"{i:032x}".encode()),
            _ssl(f"client-{i}.example") if distinct_ssl else shared,
        )
        header = ProxyHeader(
            version=2,
            family=Family.INET,
            transport=Transport.STREAM,
            src=IPv4Address(0xC6336400 + i),  # 198.51.100.0 onwards
            dst=IPv4Address("192.0.2.10"),
            src_port=1024 + i,
            dst_port=443,
            tlvs=tlvs,
        )
        out.append(build(header))
    return out


def v1_inputs() -> list[bytes]:
    """1,024 distinct v1 TCP4 lines."""
    return [
        f"PROXY TCP4 198.51.{i >> 8}.{i & 0xFF} 192.0.2.10 {1024 + i} 443\r\n".encode()
        for i in range(DISTINCT)
    ]


def _peer_reads_everything(data: bytes) -> object:
    result = _V2.unpack(data)
    tlv = result.tlv
    ssl = tlv.ssl
    return (
        tlv.alpn,
        tlv.authority,
        tlv.crc32c,
        tlv.unique_id,
        ssl.client,
        ssl.verify,
        ssl.version,
        ssl.cn,
        ssl.cipher,
        ssl.sig_alg,
        ssl.key_alg,
    )


def check_agreement(inputs: Sequence[bytes]) -> None:
    """Both parsers read every v2 input to the same addresses and TLV values."""
    for data in inputs:
        ours, theirs = parse(data), _V2.unpack(data)
        ssl = ours.find_tlv(SslTLV)
        alpn, authority = ours.find_tlv(AlpnTLV), ours.find_tlv(AuthorityTLV)
        unique_id = ours.find_tlv(UniqueIdTLV)
        assert ssl is not None
        assert alpn is not None
        assert authority is not None
        assert unique_id is not None
        assert (ours.src, ours.src_port) == theirs.source
        assert (ours.dst, ours.dst_port) == theirs.dest
        assert alpn.protocol == theirs.tlv.alpn
        assert authority.host == theirs.tlv.authority
        assert unique_id.unique_id == theirs.tlv.unique_id
        peer_ssl = theirs.tlv.ssl
        assert (ssl.client, ssl.verify) == (peer_ssl.client, peer_ssl.verify)
        assert (ssl.version, ssl.common_name, ssl.cipher) == (
            peer_ssl.version,
            peer_ssl.cn,
            peer_ssl.cipher,
        )


def check_v1_agreement(inputs: Sequence[bytes]) -> None:
    """Both parsers read every v1 input to the same addresses."""
    for data in inputs:
        ours, theirs = parse(data), _V1.unpack(data)
        assert ((ours.src, ours.src_port), (ours.dst, ours.dst_port)) == (
            theirs.source,
            theirs.dest,
        )


def ops_per_second(fn: Callable[[bytes], object], inputs: Sequence[bytes], parses: int) -> float:
    """Calls of ``fn`` per second over ``parses`` calls cycling through ``inputs``."""
    rounds, rest = divmod(parses, len(inputs))
    batch = list(inputs) * rounds + list(inputs[:rest])
    gc.collect()
    start = time.perf_counter()
    for data in batch:
        fn(data)
    return parses / (time.perf_counter() - start)


def race(
    ours: Callable[[bytes], object],
    peer: Callable[[bytes], object],
    inputs: Sequence[bytes],
    parses: int,
    repeat: int,
) -> tuple[float, float]:
    """Best rate of each over ``repeat`` interleaved passes (one warm-up pass each)."""
    ops_per_second(ours, inputs, len(inputs))
    ops_per_second(peer, inputs, len(inputs))
    best_ours = best_peer = 0.0
    for _ in range(repeat):
        best_ours = max(best_ours, ops_per_second(ours, inputs, parses))
        best_peer = max(best_peer, ops_per_second(peer, inputs, parses))
    return best_ours, best_peer


def _outcome(fn: Callable[[bytes], object], data: bytes) -> str:
    try:
        result = fn(data)
    except ProxyProtocolError as exc:
        return f"refused: {exc.kind}"
    except Exception as exc:  # the peer's own errors, and what escapes it
        return f"refused: {type(exc).__module__}.{type(exc).__qualname__}"
    tlvs = getattr(result, "tlvs", None)
    if tlvs is None:  # the peer keeps a TLV mapping, or none at all for v1
        tlvs = getattr(result, "tlv", None) or ()
    return f"accepted, {len(tlvs)} TLV(s)" if data.startswith(_SIG) else "accepted"


_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
_ADDR = bytes([192, 0, 2, 1, 198, 51, 100, 2, 0, 80, 1, 187])
_UID_129 = b"\x05\x00\x81" + b"x" * 129
_LOCAL_BLOCK = bytes([0xC0, 0, 2, 1, 0x33, 0, 4, 0, 0, 0, 0, 0])  # reads as TLVs if misparsed


def _v2(ver_cmd: int, fam: int, body: bytes) -> bytes:
    return _SIG + struct.pack("!BBH", ver_cmd, fam, len(body)) + body


def _with_crc(data: bytes, at: int) -> bytes:
    zeroed = data[:at] + bytes(4) + data[at + 4 :]
    return data[:at] + struct.pack("!I", crc32c.crc32c(zeroed)) + data[at + 4 :]


def behaviour_vectors() -> list[tuple[str, str, bytes]]:
    """(case, what the spec says, bytes) for the behaviour table."""
    crc_first = _v2(0x21, 0x11, _ADDR + b"\x03\x00\x04\0\0\0\0\x01\x00\x02h2")
    inet = 0x11
    return [
        ("v2 CRC32C TLV before ALPN", "valid", _with_crc(crc_first, 31)),
        ("v2 CRC32C wrong", "invalid §2.2.3", _v2(0x21, inet, _ADDR + b"\x03\x00\x04\0\0\0\1")),
        ("v2 LOCAL with INET block", "valid, 0 TLVs", _v2(0x20, inet, _LOCAL_BLOCK)),
        ("v2 family 0x4", "invalid §2.2", _v2(0x21, 0x41, _ADDR)),
        ("v2 transport 0x3", "invalid §2.2", _v2(0x21, 0x13, _ADDR)),
        ("v2 TLV longer than header", "invalid", _v2(0x21, inet, _ADDR + b"\x01\x00\x09h2")),
        ("v2 2 dangling TLV bytes", "invalid", _v2(0x21, inet, _ADDR + b"\x01\x00")),
        ("v2 UNIQUE_ID of 129 bytes", "invalid §2.2.5", _v2(0x21, inet, _ADDR + _UID_129)),
        ("v2 SSL TLV of 3 bytes", "invalid §2.2.6", _v2(0x21, inet, _ADDR + b"\x20\x00\x03abc")),
        ("v2 AUTHORITY not UTF-8", "invalid §2.2.2", _v2(0x21, inet, _ADDR + b"\x02\0\2\xff\xfe")),
        ("v2 address block of 8 bytes", "invalid", _v2(0x21, inet, _ADDR[:8])),
        ("v2 two AUTHORITY TLVs", "valid, 2 TLVs", _v2(0x21, inet, _ADDR + b"\2\0\1a\2\0\1b")),
        ("v1 port 080", "invalid §2.1", b"PROXY TCP4 1.2.3.4 5.6.7.8 080 443\r\n"),
        ("v1 TCP6 with %zone", "invalid §2.1", b"PROXY TCP6 fe80::1%eth0 ::1 80 443\r\n"),
        ("v1 UNKNOWN line of 216 bytes", "invalid §2.1", b"PROXY UNKNOWN " + b"x" * 200 + b"\r\n"),
        ("v1 port 65536", "invalid §2.1", b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 443\r\n"),
    ]  # fmt: skip


def behaviour_table() -> list[tuple[str, str, str, str]]:
    """(case, spec, srcip outcome, peer outcome) for every edge-case vector."""
    rows = []
    for case, spec, data in behaviour_vectors():
        peer = _V1.unpack if data.startswith(b"PROXY") else _V2.unpack
        rows.append((case, spec, _outcome(parse, data), _outcome(peer, data)))
    return rows


def _pin_one_cpu() -> tuple[str, set[int] | None]:
    """Pin this process to one CPU; returns a note and the affinity to restore."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned", None  # macOS, Windows
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}", before


def run(parses: int, repeat: int) -> list[tuple[str, int, float, float]]:
    """Every race: (input, header bytes, srcip ops/s, peer ops/s)."""
    typical, distinct, lines = (
        v2_inputs(distinct_ssl=False),
        v2_inputs(distinct_ssl=True),
        v1_inputs(),
    )
    check_agreement(typical)
    check_agreement(distinct)
    check_v1_agreement(lines)
    races = [
        ("v2 TLVs + CRC32C, typical", typical, parse, _V2.unpack),
        ("v2 TLVs + CRC32C, distinct SSL", distinct, parse, _V2.unpack),
        ("v2 typical, peer reads every value", typical, parse, _peer_reads_everything),
        ("v2 distinct SSL, peer reads every value", distinct, parse, _peer_reads_everything),
        ("v1 TCP4", lines, parse, _V1.unpack),
    ]
    results = []
    for name, inputs, ours, peer in races:
        size = round(sum(map(len, inputs)) / len(inputs))
        results.append((name, size, *race(ours, peer, inputs, parses, repeat)))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the races and print ops/s, ratios and the behaviour table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parses", type=int, default=100_000, help="calls per timed pass")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes; the best counts")
    parser.add_argument("--quick", action="store_true", help="10,000 parses, 2 passes")
    args = parser.parse_args(argv)
    parses, repeat = (10_000, 2) if args.quick else (args.parses, args.repeat)
    pinned, affinity = _pin_one_cpu()
    try:
        _report(parses, repeat, pinned)
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
    return 0


def _report(parses: int, repeat: int, pinned: str) -> None:
    print(
        f"srcip.proxyproto vs proxy-protocol {version('proxy-protocol')} "
        f"(crc32c {version('crc32c')}, hardware={crc32c.hardware_based}); "
        f"Python {platform.python_version()}; {pinned}"
    )
    print(f"{parses:,} parses per pass, best of {repeat}; inputs agree field by field\n")
    columns = ("bytes", "srcip ops/s", "peer ops/s", "srcip ÷ peer")
    print(f"{'input':38s} {columns[0]:>5s} {columns[1]:>12s} {columns[2]:>11s} {columns[3]:>13s}")
    results = run(parses, repeat)
    for name, size, ours, peer in results:
        print(f"{name:38s} {size:5d} {ours:12,.0f} {peer:11,.0f} {ours / peer:12.2f}×")
    typical = results[0][2] / results[0][3]
    verdict = "meets" if typical >= TARGET else "MISSES"
    print(f"\ntarget: v2 with TLVs and CRC32C ≥ {TARGET:.2f}× the peer: {typical:.2f}× {verdict}\n")
    print(f"{'case':30s} {'spec':15s} {'srcip':31s} peer")
    for case, spec, ours_outcome, peer_outcome in behaviour_table():
        print(f"{case:30s} {spec:15s} {ours_outcome:31s} {peer_outcome}")


if __name__ == "__main__":
    sys.exit(main())
