"""The explain view: a resolution hop by hop as plain data and as text (reference §10)."""

from __future__ import annotations

import json
from ipaddress import IPv4Address

import pytest

from srcip.clientip.explain import MAX_RAW, SUMMARIES, explain, explain_lines, safe_text
from srcip.clientip.resolve import Status, resolve
from srcip.clientip.trust import TrustConfig
from srcip.proxyproto.header import Command, Family, ProxyHeader, Transport

CONFIG = TrustConfig(trusted_proxies=["10.0.0.0/8"], proxy_protocol_trusted=["172.16.0.0/12"])


def test_chain_as_data() -> None:
    """Data is JSON-ready and lists every hop with its verdict and a note."""
    result = resolve("10.0.0.5:1", [("X-Forwarded-For", "203.0.113.7, 10.0.0.9")], CONFIG)
    data = explain(result)
    assert json.loads(json.dumps(data)) == data
    assert data["status"] == "ok"
    assert data["ip"] == "203.0.113.7"
    assert data["index"] == 0
    assert data["nearest_trusted"] == "10.0.0.9"
    assert [(h["step"], h["source"], h["index"], h["verdict"]) for h in data["hops"]] == [
        (1, "peer", None, "trusted"),
        (2, "x-forwarded-for", 1, "trusted"),
        (3, "x-forwarded-for", 0, "client"),
    ]
    assert data["hops"][0]["note"] == "trusted proxy: read on"


def test_chain_as_lines() -> None:
    """Text: a headline naming client, status and source, then aligned hop lines."""
    result = resolve("10.0.0.5:1", [("x-forwarded-for", "203.0.113.7, 10.0.0.9")], CONFIG)
    lines = explain_lines(result)
    assert lines[0].startswith("client 203.0.113.7 (ok) from x-forwarded-for[0]: ")
    assert lines[1].split() == [
        "1.",
        "peer",
        "10.0.0.5:1",
        "trusted",
        "trusted",
        "proxy:",
        "read",
        "on",
    ]
    assert lines[3].split()[:4] == ["3.", "x-forwarded-for[0]", "203.0.113.7", "client"]
    assert lines[-1] == "nearest trusted hop: 10.0.0.9"


NOTES = [
    pytest.param("10.0.0.5:1", [], None, "forwarded nothing, so it is returned", id="no-header"),
    pytest.param(
        "10.0.0.5:1", [("x-forwarded-for", "10.1.1.1")], None, "leftmost: returned", id="all"
    ),
    pytest.param("198.51.100.1:1", [], None, "the client", id="direct"),
    pytest.param("unix:/x", [], None, "undisclosed node", id="no-peer-ip"),
    pytest.param(
        "172.16.0.1:1",
        [],
        ProxyHeader(
            version=2,
            command=Command.PROXY,
            family=Family.INET,
            transport=Transport.STREAM,
            src=IPv4Address("10.0.0.8"),
            dst=IPv4Address("10.0.0.1"),
            src_port=1,
            dst_port=2,
        ),
        "allowed to send a PROXY header",
        id="proxy",
    ),
]


@pytest.mark.parametrize(("peer", "headers", "proxy", "note"), NOTES)
def test_notes_say_what_happened(
    peer: str, headers: list[tuple[str, str]], proxy: ProxyHeader | None, note: str
) -> None:
    """Each hop's note tells what its verdict meant for this resolution."""
    data = explain(resolve(peer, headers, CONFIG, proxy))
    assert any(note in hop["note"] for hop in data["hops"])


def test_failure_headline_and_zone() -> None:
    """Failures say ``client none``; zones are shown after the address."""
    failed = explain_lines(resolve("10.0.0.5:1", [("x-forwarded-for", "junk")], CONFIG))
    assert failed[0].startswith("client none (invalid_hop) from x-forwarded-for: ")
    zoned = explain_lines(resolve("10.0.0.5:1", [("x-forwarded-for", "fe80::1%eth0")], CONFIG))
    assert zoned[0].startswith("client fe80::1%eth0 (ok)")
    direct = explain_lines(resolve("198.51.100.1:1", [], CONFIG))
    assert not any(line.startswith("nearest") for line in direct)


def test_raw_text_is_escaped_and_truncated() -> None:
    """Control characters, non-ASCII and backslashes are escaped; long text is cut (§7.7)."""
    assert safe_text("a\x1b[31m\\é\u2028") == "a\\x1b[31m\\\\\\xe9\\u2028"
    long = safe_text("x" * 500)
    assert len(long) == MAX_RAW
    assert long.endswith("…")
    result = resolve("10.0.0.5:1", [("x-forwarded-for", "\x1b[2J" + "y" * 300)], CONFIG)
    shown = explain_lines(result)
    assert all("\x1b" not in line and len(line) < 200 for line in shown)
    empty = explain(
        resolve(
            "10.0.0.5:1",
            [("x-real-ip", "")],
            TrustConfig(trusted_proxies=["10.0.0.0/8"], source="x-real-ip"),
        )
    )
    assert empty["hops"][-1]["raw"] == ""
    assert (
        explain_lines(
            resolve(
                "10.0.0.5:1",
                [("x-real-ip", "")],
                TrustConfig(trusted_proxies=["10.0.0.0/8"], source="x-real-ip"),
            )
        )[-2].split()[2]
        == '""'
    )


def test_every_status_has_a_summary() -> None:
    """The summary table covers the status enum exactly."""
    assert set(SUMMARIES) == set(Status)
