"""srcip.doctor.kubeapi against a fake API server on loopback: lightkube's real client code
runs (kubeconfig, token auth, list paths, pagination, errors); nothing is mocked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from srcip.doctor.kubeapi import KINDS, RBAC_MANIFEST, read_cluster, read_cluster_documents
from srcip.errors import ClusterAPIError
from srcip.manifests import convert_documents
from srcip.model.enums import TrafficPolicy
from tests.integration.fake_kubeapi import TOKEN, FakeKubeAPI, fixture_objects

CONTEXT = "fake-ctx"
CRD_API_VERSIONS = {
    "metallb.io/v1beta1",
    "crd.projectcalico.org/v1",
    "gateway.networking.k8s.io/v1",
}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not be sent through a proxy from the environment."""
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api() -> Iterator[FakeKubeAPI]:
    """The fake API server holding the whole fixture cluster."""
    server = FakeKubeAPI(objects=fixture_objects())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def write_kubeconfig(tmp_path: Path, server: str, *, token: str = TOKEN) -> str:
    """A kubeconfig whose current context (namespace ``web``) points at ``server``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "doctor", "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": "fake", "user": "doctor", "namespace": "web"}},
            {"name": "other", "context": {"cluster": "fake", "user": "doctor"}},
        ],
        "current-context": CONTEXT,
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def key(obj: dict[str, Any]) -> tuple[str, str, str | None, str]:
    """(apiVersion, kind, namespace, name) of an object."""
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace"), meta["name"]


def test_every_kind_is_listed_located_and_unchanged(api: FakeKubeAPI, tmp_path: Path) -> None:
    """All namespaces: every fixture object comes back equal, with apiVersion/kind and a Where."""
    docs = read_cluster_documents(
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        context=None,
        namespace=None,
        all_namespaces=True,
    )
    expected = {key(obj): obj for obj in fixture_objects()}
    got = {key(doc): doc for _, doc in docs}
    assert len(got) == len(docs)
    assert got == expected
    assert [where.document for where, _ in docs] == list(range(1, len(docs) + 1))
    for where, doc in docs:
        assert where.file == f"cluster:{CONTEXT}"
        assert (where.kind, where.namespace, where.name) == key(doc)[1:]
    assert all(r.method == "GET" for r in api.requests)
    assert all(r.authorization == f"Bearer {TOKEN}" for r in api.requests)


def test_all_namespaces_uses_the_cluster_wide_paths(api: FakeKubeAPI, tmp_path: Path) -> None:
    """-A lists each kind once at its cluster-wide path, ``-n`` notwithstanding (as kubectl)."""
    read_cluster_documents(
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        context=None,
        namespace="web",
        all_namespaces=True,
    )
    paths = [r.path for r in api.requests]
    assert "/api/v1/services" in paths
    assert "/apis/discovery.k8s.io/v1/endpointslices" in paths
    assert "/apis/metallb.io/v1beta1/ipaddresspools" in paths
    assert not [p for p in paths if "/namespaces/" in p]
    assert len(paths) == len(set(paths))


@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        pytest.param("web", "web", id="namespace-given"),
        pytest.param(None, "web", id="context-namespace"),
    ],
)
def test_one_namespace_reads_it_and_the_cluster_wide_kinds(
    api: FakeKubeAPI, tmp_path: Path, namespace: str | None, expected: str
) -> None:
    """One namespace: its objects, Nodes and FelixConfigurations, and kube-system's config."""
    docs = read_cluster_documents(
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        context=None,
        namespace=namespace,
        all_namespaces=False,
    )
    got = {(where.kind, where.namespace, where.name) for where, _ in docs}
    assert ("Service", "web", "echo") in got
    assert ("Service", "kube-system", "kube-dns") not in got
    assert {("Node", None, "node-a"), ("Node", None, "node-b")} <= got
    assert ("FelixConfiguration", None, "default") in got
    assert ("ConfigMap", "kube-system", "kube-proxy") in got
    assert ("DaemonSet", "kube-system", "kube-proxy") in got
    assert ("IPAddressPool", "metallb-system", "default") not in got
    others = {ns for _, ns, _ in got} - {expected, "kube-system", None}
    assert not others
    paths = {r.path for r in api.requests}
    assert f"/api/v1/namespaces/{expected}/services" in paths
    assert "/api/v1/nodes" in paths
    assert "/api/v1/services" not in paths


def test_pagination_gathers_every_page(api: FakeKubeAPI, tmp_path: Path) -> None:
    """With one item a page, ``continue`` is followed to the end and nothing is lost."""
    kubeconfig = write_kubeconfig(tmp_path, api.url)
    whole = read_cluster(
        kubeconfig=kubeconfig, context=None, namespace=None, all_namespaces=True
    ).documents
    api.requests.clear()
    paged = read_cluster(
        kubeconfig=kubeconfig, context=None, namespace=None, all_namespaces=True, chunk_size=1
    ).documents
    assert [doc for _, doc in paged] == [doc for _, doc in whole]
    node_requests = [r.query for r in api.requests if r.path == "/api/v1/nodes"]
    assert node_requests == [{"limit": "1"}, {"limit": "1", "continue": "1"}]
    assert all(r.query.get("limit") == "1" for r in api.requests)


def test_absent_crds_are_noted_not_errors(api: FakeKubeAPI, tmp_path: Path) -> None:
    """An unserved group (Istio) and an unknown resource (BGPAdvertisement) are 'not installed'."""
    read = read_cluster(
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        context=None,
        namespace=None,
        all_namespaces=True,
    )
    assert read.notes == [
        "bgpadvertisements.metallb.io: not installed (the API does not serve metallb.io/v1beta1)",
        "gateways.networking.istio.io: not installed "
        "(the API does not serve networking.istio.io/v1beta1)",
        "envoyfilters.networking.istio.io: not installed "
        "(the API does not serve networking.istio.io/v1alpha3)",
    ]
    assert read.context == CONTEXT
    assert read.server == api.url


def test_without_crds_no_crd_is_requested(api: FakeKubeAPI, tmp_path: Path) -> None:
    """crds=False: only the built-in kinds are listed."""
    docs = read_cluster_documents(
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        context=None,
        namespace=None,
        all_namespaces=True,
        crds=False,
    )
    assert not {doc["apiVersion"] for _, doc in docs} & CRD_API_VERSIONS
    assert len(api.requests) == len(KINDS)


def test_expired_credentials_are_named(api: FakeKubeAPI, tmp_path: Path) -> None:
    """A token the server refuses (401) says so, names the server and the fix."""
    kubeconfig = write_kubeconfig(tmp_path, api.url, token="expired")
    with pytest.raises(ClusterAPIError) as caught:
        read_cluster_documents(
            kubeconfig=kubeconfig, context=None, namespace=None, all_namespaces=True
        )
    message = str(caught.value)
    assert "401 Unauthorized" in message
    assert "expired" in message
    assert api.url in message
    assert "kubectl config view" in message
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("forbidden", "resource", "scope", "can_i"),
    [
        pytest.param(
            ("endpointslices", "*"),
            "endpointslices.discovery.k8s.io",
            "in all namespaces",
            "kubectl auth can-i list endpointslices.discovery.k8s.io -A",
            id="endpointslices-all-namespaces",
        ),
        pytest.param(
            ("nodes", "*"),
            "nodes",
            "(cluster-wide)",
            "kubectl auth can-i list nodes`",
            id="nodes-cluster-wide",
        ),
        pytest.param(
            ("ipaddresspools", "*"),
            "ipaddresspools.metallb.io",
            "in all namespaces",
            "kubectl auth can-i list ipaddresspools.metallb.io -A",
            id="crd",
        ),
    ],
)
def test_missing_permission_names_resource_and_verb(
    api: FakeKubeAPI,
    tmp_path: Path,
    forbidden: tuple[str, str],
    resource: str,
    scope: str,
    can_i: str,
) -> None:
    """A 403 names the verb, the resource, the scope and the RBAC manifest."""
    api.forbidden.add(forbidden)
    with pytest.raises(ClusterAPIError) as caught:
        read_cluster_documents(
            kubeconfig=write_kubeconfig(tmp_path, api.url),
            context=None,
            namespace=None,
            all_namespaces=True,
        )
    message = str(caught.value)
    assert f"verb 'list' on resource {resource!r} {scope}" in message
    assert "403 Forbidden" in message
    assert "cannot list resource" in message  # the server's own words
    assert RBAC_MANIFEST in message
    assert can_i in message
    assert (caught.value.resource, caught.value.verb) == (resource, "list")


def test_namespaced_permission_error_names_the_namespace(api: FakeKubeAPI, tmp_path: Path) -> None:
    """A 403 in one namespace says which one and how to check it."""
    api.forbidden.add(("pods", "web"))
    with pytest.raises(ClusterAPIError, match=r"'pods' in namespace web .*can-i list pods -n web"):
        read_cluster_documents(
            kubeconfig=write_kubeconfig(tmp_path, api.url),
            context=None,
            namespace="web",
            all_namespaces=False,
        )


def test_unreadable_kube_system_is_a_note(api: FakeKubeAPI, tmp_path: Path) -> None:
    """Reading one namespace, a 403 on kube-system's ConfigMaps is noted and the rest read."""
    api.forbidden.add(("configmaps", "kube-system"))
    read = read_cluster(
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        context=None,
        namespace="web",
        all_namespaces=False,
        crds=False,
    )
    assert read.notes == ["configmaps in namespace kube-system: not readable (403), skipped"]
    kinds = {(where.kind, where.namespace) for where, _ in read.documents}
    assert ("ConfigMap", "web") in kinds
    assert ("ConfigMap", "kube-system") not in kinds
    assert ("DaemonSet", "kube-system") in kinds


def test_unreachable_server_is_named(tmp_path: Path) -> None:
    """Nothing listening: the error names the server URL and the fix."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(ClusterAPIError) as caught:
        read_cluster(
            kubeconfig=write_kubeconfig(tmp_path, url),
            context=None,
            namespace=None,
            all_namespaces=True,
            timeout=2.0,
        )
    message = str(caught.value)
    assert f"cannot reach the Kubernetes API server at {url}" in message
    assert "--context" in message
    assert caught.value.status is None


def test_unknown_context_lists_the_known_ones(api: FakeKubeAPI, tmp_path: Path) -> None:
    """--context that is not in the file: the error lists the file's contexts."""
    with pytest.raises(ClusterAPIError, match=r"context 'prod' is not in .*fake-ctx, other"):
        read_cluster_documents(
            kubeconfig=write_kubeconfig(tmp_path, api.url),
            context="prod",
            namespace=None,
            all_namespaces=False,
        )
    assert not api.requests


def test_another_context_is_used_and_named(api: FakeKubeAPI, tmp_path: Path) -> None:
    """--context picks that context: its name locates the documents, its namespace applies."""
    docs = read_cluster_documents(
        kubeconfig=write_kubeconfig(tmp_path, api.url),
        context="other",
        namespace=None,
        all_namespaces=False,
        crds=False,
    )
    assert {where.file for where, _ in docs} == {"cluster:other"}
    assert "/api/v1/namespaces/default/services" in {r.path for r in api.requests}


def test_missing_kubeconfig_file_is_named(tmp_path: Path) -> None:
    """--kubeconfig naming no file: the error names it and the fix."""
    missing = tmp_path / "nope"
    with pytest.raises(ClusterAPIError, match=r"cannot read the kubeconfig .*nope.*--kubeconfig"):
        read_cluster_documents(
            kubeconfig=str(missing), context=None, namespace=None, all_namespaces=True
        )


def test_no_kubeconfig_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No --kubeconfig, no KUBECONFIG file, no ~/.kube/config, not in a pod: say so."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterAPIError, match=r"no kubeconfig found \(KUBECONFIG=.*absent\)"):
        read_cluster_documents(kubeconfig=None, context=None, namespace=None, all_namespaces=True)


def test_kubeconfig_environment_variable_is_followed(
    api: FakeKubeAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --kubeconfig, the first existing file of $KUBECONFIG is read."""
    kubeconfig = write_kubeconfig(tmp_path, api.url)
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'absent'}:{kubeconfig}")
    docs = read_cluster_documents(
        kubeconfig=None, context=None, namespace=None, all_namespaces=True, crds=False
    )
    assert docs


def test_documents_feed_convert_documents(tmp_path: Path) -> None:
    """A live read of a Service, its EndpointSlice and the Nodes converts into a Cluster."""
    server = FakeKubeAPI(objects=fixture_objects("Service", "EndpointSlice", "Node"))
    server.start()
    try:
        docs = read_cluster_documents(
            kubeconfig=write_kubeconfig(tmp_path, server.url),
            context=None,
            namespace=None,
            all_namespaces=True,
        )
    finally:
        server.stop()
    cluster = convert_documents(docs)
    services = {(s.namespace, s.name): s for s in cluster.services}
    assert services["web", "echo"].external_traffic_policy is TrafficPolicy.LOCAL
    assert {n.name for n in cluster.nodes} == {"node-a", "node-b"}
    (endpoint_slice,) = [s for s in cluster.endpoint_slices if s.service_name == "echo"]
    assert [e.node_name for e in endpoint_slice.endpoints] == ["node-a"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param(
            (
                500,
                b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcdserver: '
                b'request timed out","code":500}',
                "application/json",
            ),
            r"answered 500 to 'list' pods in all namespaces: etcdserver: request timed out",
            id="server-error",
        ),
        pytest.param(
            (200, b"<html>login</html>", "text/html"),
            r"answered the list of pods with something that is not a Kubernetes list",
            id="not-kubernetes",
        ),
    ],
)
def test_other_answers_are_clear_errors(
    api: FakeKubeAPI, tmp_path: Path, answer: tuple[int, bytes, str], expected: str
) -> None:
    """A server error or a non-Kubernetes answer names the server and what it said."""
    api.overrides["pods"] = answer
    with pytest.raises(ClusterAPIError, match=expected):
        read_cluster_documents(
            kubeconfig=write_kubeconfig(tmp_path, api.url),
            context=None,
            namespace=None,
            all_namespaces=True,
        )


def test_an_unserved_builtin_kind_is_an_error(api: FakeKubeAPI, tmp_path: Path) -> None:
    """A 404 for a built-in kind (a cluster older than discovery.k8s.io/v1) is not a note."""
    api.overrides["endpointslices"] = (404, b"404 page not found\n", "text/plain")
    with pytest.raises(ClusterAPIError, match=r"does not serve discovery.k8s.io/v1 .*1\.21"):
        read_cluster_documents(
            kubeconfig=write_kubeconfig(tmp_path, api.url),
            context=None,
            namespace=None,
            all_namespaces=True,
        )


def edit_kubeconfig(path: str, change: Any) -> str:
    """Rewrite the kubeconfig at ``path`` through ``change(config)``."""
    config = yaml.safe_load(Path(path).read_text())
    change(config)
    Path(path).write_text(yaml.safe_dump(config))
    return path


def test_failing_credential_plugin_is_named(api: FakeKubeAPI, tmp_path: Path) -> None:
    """An exec credential plugin that cannot run: the credentials cannot be obtained."""

    def use_plugin(config: dict[str, Any]) -> None:
        config["users"][0]["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": str(tmp_path / "no-such-plugin"),
            }
        }

    kubeconfig = edit_kubeconfig(write_kubeconfig(tmp_path, api.url), use_plugin)
    with pytest.raises(ClusterAPIError, match=r"credentials of context 'fake-ctx' cannot be obt"):
        read_cluster_documents(
            kubeconfig=kubeconfig, context=None, namespace=None, all_namespaces=True
        )


def test_missing_certificate_authority_is_named(api: FakeKubeAPI, tmp_path: Path) -> None:
    """A certificate-authority file that does not exist: the context cannot be used."""

    def add_ca(config: dict[str, Any]) -> None:
        config["clusters"][0]["cluster"]["certificate-authority"] = str(tmp_path / "ca.crt")

    kubeconfig = edit_kubeconfig(write_kubeconfig(tmp_path, api.url), add_ca)
    with pytest.raises(ClusterAPIError, match=r"certificates of context 'fake-ctx' cannot be used"):
        read_cluster_documents(
            kubeconfig=kubeconfig, context=None, namespace=None, all_namespaces=True
        )


def test_no_current_context_asks_for_one(api: FakeKubeAPI, tmp_path: Path) -> None:
    """A kubeconfig without current-context and no --context: say how to pick one."""
    kubeconfig = edit_kubeconfig(
        write_kubeconfig(tmp_path, api.url), lambda config: config.pop("current-context")
    )
    with pytest.raises(ClusterAPIError, match=r"no usable current context .*--context"):
        read_cluster_documents(
            kubeconfig=kubeconfig, context=None, namespace=None, all_namespaces=True
        )


def test_in_cluster_without_service_account_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In a pod (KUBERNETES_SERVICE_HOST) with no kubeconfig and no token: say so."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    if Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists():
        pytest.skip("this test process runs in a pod with a service account")
    with pytest.raises(ClusterAPIError, match=r"in-cluster service account"):
        read_cluster_documents(kubeconfig=None, context=None, namespace=None, all_namespaces=True)
