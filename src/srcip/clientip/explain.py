"""Render a :class:`~srcip.clientip.resolve.Resolution` hop by hop, for operators.

Two pure views of the same walk (reference §10 "A debug explain view prints the walk"):
:func:`explain` gives plain data (JSON-ready: str, int, None, lists and dicts) and
:func:`explain_lines` lines of text; ``srcip clientip explain`` prints one or the other.

Raw header text is attacker-controlled, so it is escaped (anything outside printable ASCII
becomes ``\\xNN`` / ``\\uNNNN``) and truncated before it reaches a terminal or a log
(reference §7.7, Envoy CVE-2024-45808).
"""

from __future__ import annotations

from typing import TypedDict

from srcip.clientip.resolve import PROXY_PROTOCOL, Hop, Resolution, Status, Verdict

__all__ = ["MAX_RAW", "ExplainedHop", "Explanation", "explain", "explain_lines", "safe_text"]

#: Longest raw text shown, in characters after escaping.
MAX_RAW = 80

#: One sentence per status: what happened and what ``ip`` holds (resolve's table).
SUMMARIES: dict[Status, str] = {
    Status.DIRECT: "the peer is not a trusted proxy, so it is the client; headers were not read",
    Status.OK: "the client is the first untrusted address from the right",
    Status.ALL_TRUSTED: "every element is a trusted proxy; the leftmost one is returned",
    Status.NO_HEADER: "the trusted peer sent no usable source header; the peer is returned",
    Status.INVALID_HOP: "the walk stopped at an element that is not an address; no client",
    Status.UNIDENTIFIED_HOP: "the walk stopped at an undisclosed node (unknown, _obfuscated,"
    " unix:, or no for=); no client",
    Status.HOP_LIMIT: "more trusted elements than max_hops; no client",
    Status.TOO_FEW_HOPS: "fewer elements than trusted_hops; no client",
    Status.AMBIGUOUS_HEADER: "the single-IP header came on several field lines; no client",
    Status.INVALID_VALUE: "the single-IP header does not hold exactly one address; no client",
    Status.NO_PEER_IP: "the peer has no IP address (a unix socket, or unparseable) and no"
    " header named a client",
    Status.PROXY_PROTOCOL_FORBIDDEN: "a PROXY protocol header came from a peer outside"
    " proxy_protocol_trusted; no client",
}

_NOTES: dict[Verdict, str] = {
    Verdict.TRUSTED: "trusted proxy",
    Verdict.COUNTED: "counted as a proxy hop (trusted_hops)",
    Verdict.CLIENT: "the client",
    Verdict.UNTRUSTED: "not trusted",
    Verdict.INVALID: "not an address",
    Verdict.UNIDENTIFIED: "undisclosed node",
}


class ExplainedHop(TypedDict):
    """One hop as plain data."""

    step: int
    source: str
    index: int | None
    raw: str
    ip: str | None
    zone: str | None
    verdict: str
    note: str


class Explanation(TypedDict):
    """A whole resolution as plain data."""

    status: str
    summary: str
    ip: str | None
    zone: str | None
    source: str
    index: int | None
    nearest_trusted: str | None
    hops: list[ExplainedHop]


def safe_text(text: str, limit: int = MAX_RAW) -> str:
    """Escape everything outside printable ASCII and cut to ``limit`` characters."""
    out = "".join(c if " " <= c <= "~" and c != "\\" else _escape(c) for c in text[: limit + 1])
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":
        return "\\\\"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def explain(resolution: Resolution) -> Explanation:
    """The resolution as JSON-ready data, hops in walk order."""
    return {
        "status": str(resolution.status),
        "summary": SUMMARIES[resolution.status],
        "ip": _text(resolution.ip),
        "zone": resolution.zone,
        "source": resolution.source,
        "index": resolution.index,
        "nearest_trusted": _text(resolution.nearest_trusted),
        "hops": [_hop(step, hop, resolution) for step, hop in enumerate(resolution.hops, 1)],
    }


def explain_lines(resolution: Resolution) -> list[str]:
    """The resolution as text: a headline, then one aligned line per hop."""
    data = explain(resolution)
    where = data["source"]
    if data["index"] is not None:
        where += f"[{data['index']}]"
    client = data["ip"] or "none"
    if data["zone"]:
        client += f"%{data['zone']}"
    lines = [f"client {client} ({data['status']}) from {where}: {data['summary']}"]
    rows = [
        (f"{h['step']}.", _label(h), h["raw"] or '""', h["verdict"], h["note"])
        for h in data["hops"]
    ]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(("  " + "  ".join([*cells, row[4]])).rstrip())
    if data["nearest_trusted"] is not None:
        lines.append(f"nearest trusted hop: {data['nearest_trusted']}")
    return lines


def _label(hop: ExplainedHop) -> str:
    if hop["index"] is None:
        return hop["source"]
    return f"{hop['source']}[{hop['index']}]"


def _hop(step: int, hop: Hop, resolution: Resolution) -> ExplainedHop:
    return {
        "step": step,
        "source": hop.source,
        "index": hop.index,
        "raw": safe_text(hop.raw),
        "ip": _text(hop.ip),
        "zone": hop.zone,
        "verdict": str(hop.verdict),
        "note": _note(step, hop, resolution),
    }


def _note(step: int, hop: Hop, resolution: Resolution) -> str:
    """The verdict in words, plus what it meant for this resolution."""
    note = _NOTES[hop.verdict]
    last = step == len(resolution.hops)
    status = resolution.status
    if hop.index is None:  # the socket peer or the PROXY source
        if status is Status.NO_HEADER and last:
            return f"{note}; forwarded nothing, so it is returned"
        if hop.verdict is Verdict.TRUSTED and not last:
            if resolution.hops[step].source == PROXY_PROTOCOL:
                return "allowed to send a PROXY header"
            return f"{note}: read on"
        return note
    if status is Status.ALL_TRUSTED and last:
        return f"{note}, leftmost: returned"
    return note


def _text(value: object) -> str | None:
    return None if value is None else str(value)
