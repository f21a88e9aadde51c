"""A fake Kubernetes API server on loopback, serving the real list paths from fixture objects.

It answers ``GET /api/v1[/namespaces/NS]/PLURAL`` and
``GET /apis/GROUP/VERSION[/namespaces/NS]/PLURAL`` the way kube-apiserver does: a
``<Kind>List`` without apiVersion/kind on the items, pages cut by ``limit`` and resumed by
``continue``; 401 and 403 ``Status`` answers; for an API group it does not serve, the
apiserver's plain ``404 page not found``; for a resource unknown in a served group, a 404
``Status`` ("the server could not find the requested resource"). Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURE = Path(__file__).resolve().parent / "data" / "doctor_cluster.json"

#: kind → plural, for every kind the fixture may hold.
PLURALS = {
    "Service": "services",
    "EndpointSlice": "endpointslices",
    "Node": "nodes",
    "Pod": "pods",
    "ConfigMap": "configmaps",
    "DaemonSet": "daemonsets",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "Ingress": "ingresses",
    "NetworkPolicy": "networkpolicies",
    "IPAddressPool": "ipaddresspools",
    "L2Advertisement": "l2advertisements",
    "FelixConfiguration": "felixconfigurations",
    "Gateway": "gateways",
}
#: The built-in kinds every cluster serves, by API version.
BUILTIN = {
    "v1": {"Service", "Node", "Pod", "ConfigMap"},
    "discovery.k8s.io/v1": {"EndpointSlice"},
    "apps/v1": {"DaemonSet", "Deployment", "StatefulSet"},
    "networking.k8s.io/v1": {"Ingress", "NetworkPolicy"},
}
TOKEN = "doctor-token"
ANY = "*"


def fixture_objects(*kinds: str) -> list[dict[str, Any]]:
    """The fixture cluster's objects (only those of ``kinds`` when given)."""
    items: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["items"]
    return [obj for obj in items if not kinds or obj["kind"] in kinds]


@dataclass
class Request:
    """One request as the fake server saw it."""

    method: str
    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass
class FakeKubeAPI:
    """The server's state; ``forbidden`` holds (plural, namespace or ``*``) pairs."""

    objects: list[dict[str, Any]]
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    #: plural → (status, body, content type) answered instead of the list
    overrides: dict[str, tuple[int, bytes, str]] = field(default_factory=dict)
    token: str = TOKEN
    requests: list[Request] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Listen on a free loopback port and serve in a thread."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Route one GET like kube-apiserver."""
        url = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        auth = handler.headers.get("Authorization")
        self.requests.append(Request("GET", url.path, query, auth))
        if auth != f"Bearer {self.token}":
            return _send(handler, 401, _status(401, "Unauthorized", "Unauthorized"))
        route = _route(url.path)
        if route is None or route[0] not in self.served():
            return _send(handler, 404, b"404 page not found\n", "text/plain; charset=utf-8")
        api_version, namespace, plural = route
        if plural in self.overrides:
            return _send(handler, *self.overrides[plural])
        kinds = {k for k in self.kinds(api_version) if PLURALS[k] == plural}
        if not kinds:
            message = "the server could not find the requested resource"
            return _send(handler, 404, _status(404, "NotFound", message))
        if (plural, namespace or ANY) in self.forbidden or (plural, ANY) in self.forbidden:
            return _send(handler, 403, _forbidden(api_version, plural, namespace))
        items = self.items(api_version, kinds, namespace)
        _send(handler, 200, _page(api_version, kinds.pop(), items, query))

    def served(self) -> set[str]:
        """The built-in API versions and those of the fixture's CRD objects."""
        return {obj["apiVersion"] for obj in self.objects} | set(BUILTIN)

    def kinds(self, api_version: str) -> set[str]:
        """The kinds served in ``api_version``: built-in ones and the fixture's."""
        found = {obj["kind"] for obj in self.objects if obj["apiVersion"] == api_version}
        return BUILTIN.get(api_version, set()) | found

    def items(
        self, api_version: str, kinds: set[str], namespace: str | None
    ) -> list[dict[str, Any]]:
        """The matching objects as list items (no apiVersion/kind), sorted as etcd keys."""
        found = [
            {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            for obj in self.objects
            if obj["apiVersion"] == api_version and obj["kind"] in kinds
            and namespace in (None, obj["metadata"].get("namespace"))
        ]  # fmt: skip
        return sorted(
            found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )


def _route(path: str) -> tuple[str, str | None, str] | None:
    """(apiVersion, namespace or None, plural) of a list path, None for anything else."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        api_version, rest = "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        api_version, rest = f"{parts[1]}/{parts[2]}", parts[3:]
    else:
        return None
    if len(rest) == 1:
        return api_version, None, rest[0]
    if len(rest) == 3 and rest[0] == "namespaces":
        return api_version, rest[1], rest[2]
    return None


def _page(api_version: str, kind: str, items: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    start = int(query.get("continue", "0") or 0)
    limit = int(query["limit"]) if "limit" in query else len(items)
    page = items[start : start + limit]
    metadata: dict[str, Any] = {"resourceVersion": "48500"}
    if start + limit < len(items):
        metadata["continue"] = str(start + limit)
        metadata["remainingItemCount"] = len(items) - start - limit
    body = {"kind": f"{kind}List", "apiVersion": api_version, "metadata": metadata, "items": page}
    return json.dumps(body).encode()


def _status(code: int, reason: str, message: str) -> bytes:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return json.dumps(body).encode()


def _forbidden(api_version: str, plural: str, namespace: str | None) -> bytes:
    group = api_version.rpartition("/")[0]
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f"{plural}{'.' + group if group else ''} is forbidden: User "
        f'"system:serviceaccount:srcip:doctor" cannot list resource "{plural}" in API group '
        f'"{group}" {scope}'
    )
    return _status(403, "Forbidden", message)


def _send(
    handler: BaseHTTPRequestHandler, code: int, body: bytes, content_type: str = "application/json"
) -> None:
    handler.send_response(code)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
