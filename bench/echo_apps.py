"""The peers ``bench/echo.py`` measures ``srcip echo`` against, as importable apps.

* ``flask_app``: the seeds' Python Flask example, verbatim (its ``logging.info`` line is
  below the root logger's default WARNING level, so it writes nothing, as in the seed).
* ``starlette_app``: a Starlette app answering the same JSON document as ``srcip echo``
  (the same keys and values, built with the same :mod:`srcip.net.document` functions and
  the same :func:`srcip.clientip.resolve`), encoded by Starlette's own ``JSONResponse``.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from srcip.clientip import TrustConfig, resolve
from srcip.net.document import FORWARDING_FIELDS, ConnectionFacts, echo_document, request_json
from srcip.net.peerkind import PodEnvironment, classify_peer

# ------------------------------------------------------------------ the seed's Flask app

flask_app = Flask(__name__)


@flask_app.before_request
def log_request() -> None:
    # With ExternalTrafficPolicy: Local, request.remote_addr is real IP
    client_ip = request.remote_addr
    logging.info(f"Request from {client_ip}: {request.method} {request.path}")


@flask_app.route("/")
def index() -> dict[str, Any]:
    return {"message": "Hello", "yourIP": request.remote_addr}


# ------------------------------------------------------------------ Starlette, same JSON

TRUST = TrustConfig()
ENV = PodEnvironment.from_env(os.environ)
HOSTNAME = socket.gethostname()


async def echo(req: Request) -> JSONResponse:
    """The echo document of ``srcip echo`` for this request."""
    scope = req.scope
    host, port = scope["client"]
    local_host, local_port = scope["server"]
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    resolution = resolve((host, port), headers, TRUST)
    facts = ConnectionFacts(
        peer_ip=host,
        peer_port=port,
        local_ip=local_host,
        local_port=local_port,
        peer_kind=classify_peer(host, ENV),
    )
    forwarded = [(n, v) for n, v in headers if n.lower() in FORWARDING_FIELDS]
    query = scope["query_string"]
    target = scope["raw_path"] + (b"?" + query if query else b"")
    body = request_json(scope["method"], target, scope["http_version"], headers, 0)
    return JSONResponse(echo_document(facts, forwarded, resolution, ENV, HOSTNAME, body))


starlette_app = Starlette(routes=[Route("/{path:path}", echo)])
