"""The echo benchmark's parts: wrk output parsing, the report, and the peers' answers."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import pytest
from bench.echo import Row, WrkRun, parse_wrk, render
from bench.echo_apps import flask_app, starlette_app

WRK = """\
Running 2s test @ http://127.0.0.1:41000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.15ms  512.00us  10.01ms   90.00%
  Latency Distribution
     50%    2.05ms
     75%    2.30ms
     90%    2.70ms
     99%  {p99}
  59573 requests in 2.00s, 40.01MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 2
Requests/sec:  29786.50
Transfer/sec:     20.00MB
"""


@pytest.mark.parametrize(("p99", "ms"), [("850.00us", 0.85), ("3.18ms", 3.18), ("1.20s", 1200.0)])
def test_parse_wrk(p99: str, ms: float) -> None:
    """Requests/s, the p99 in milliseconds whatever wrk's unit, socket errors and non-2xx."""
    run = parse_wrk(WRK.format(p99=p99))
    assert run == WrkRun(29786.5, pytest.approx(ms), 6)  # type: ignore[arg-type]


def test_parse_wrk_refuses_other_output() -> None:
    """Output without the figures (wrk failed) is an error, not a zero."""
    with pytest.raises(ValueError, match="not wrk"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_render_ratios_and_verdicts() -> None:
    """Ratios are srcip ÷ peer; each target says met or MISSED; RSS against 60 MiB."""
    rows = [
        Row("srcip echo", WrkRun(30000, 3.0, 0), ()),
        Row("uvicorn + Starlette", WrkRun(25000, 9.0, 0), ()),
        Row("gunicorn + Flask (seed)", WrkRun(3000, 40.0, 0), ()),
        Row("nginx return (ceiling)", WrkRun(100000, 1.0, 0), ()),
    ]
    args = argparse.Namespace(connections=64, repeats=3, duration=10.0)
    text = render(rows, (61.0, 40.0, 1000), args)
    assert "target srcip >= 1.5x uvicorn + Starlette: 1.20x, MISSED" in text
    assert "target srcip >= 5.0x gunicorn + Flask (seed): 10.00x, met" in text
    assert "0.30x" in text
    assert "1000 idle keep-alive connections: 61.0 MiB" in text
    assert text.endswith("target <= 60 MiB, MISSED")


def test_flask_app_is_the_seed() -> None:
    """The Flask peer answers the seed's {message, yourIP}."""
    answer = flask_app.test_client().get("/", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert answer.get_json() == {"message": "Hello", "yourIP": "203.0.113.7"}


def test_starlette_app_answers_the_echo_document() -> None:
    """The Starlette peer answers the same document keys and addresses as srcip echo."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/a", "raw_path": b"/a", "query_string": b"x=1",
        "root_path": "", "headers": [(b"host", b"e"), (b"x-forwarded-for", b"198.51.100.1")],
        "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8080),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(starlette_app(scope, receive, send))
    doc = json.loads(b"".join(m.get("body", b"") for m in sent))
    assert list(doc) == [
        "peer", "local", "proxy_protocol", "forwarded", "client", "peer_kind", "pod",
        "hostname", "request",
    ]  # fmt: skip
    assert doc["peer"] == {"ip": "127.0.0.1", "port": 5555}
    assert doc["forwarded"] == [["x-forwarded-for", "198.51.100.1"]]
    assert doc["client"]["status"] == "direct"
    assert doc["request"]["query"] == "x=1"
