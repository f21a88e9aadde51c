"""Loading files: YAML and JSON, several files, stdin, file errors."""

from __future__ import annotations

import gc
import io
import json
from pathlib import Path

import pytest

from srcip.errors import ManifestError, Where
from srcip.manifests import load_cluster, read_documents
from srcip.model.enums import ProxyMode

SERVICE_YAML = """\
# the echo Service and its Deployment, as users apply them
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: echo}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 2
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec: {containers: [{name: echo, image: registry.k8s.io/echoserver:1.10}]}
"""

KUBE_PROXY_YAML = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-proxy, namespace: kube-system}
data:
  config.conf: |-
    apiVersion: kubeproxy.config.k8s.io/v1alpha1
    kind: KubeProxyConfiguration
    mode: nftables
    clusterCIDR: 10.244.0.0/16
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write ``text`` to ``tmp_path/name``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_several_files_of_yaml_and_json_make_one_cluster(tmp_path: Path) -> None:
    """Objects from every file are combined; the kube-proxy ConfigMap is read."""
    dump = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"name": "echo-1", "labels": {"kubernetes.io/service-name": "echo"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": "node-1"}],
            },
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": "node-1"},
                "status": {"addresses": [{"type": "InternalIP", "address": "10.0.1.2"}]},
            },
        ],
    }
    cluster = load_cluster(
        [
            write(tmp_path, "echo.yaml", SERVICE_YAML),
            str(write(tmp_path, "dump.json", json.dumps(dump))),
            write(tmp_path, "kube-proxy.yaml", KUBE_PROXY_YAML),
        ]
    )
    assert [s.name for s in cluster.services] == ["echo"]
    assert [s.name for s in cluster.endpoint_slices] == ["echo-1"]
    assert [n.name for n in cluster.nodes] == ["node-1"]
    assert cluster.proxy_config.mode is ProxyMode.NFTABLES
    assert [w.name for w in cluster.workloads] == ["echo"]
    assert cluster.placements == ()  # the dump's EndpointSlice says where the pods run
    assert any("has EndpointSlices in the input" in note for note in cluster.notes)


def test_documents_are_located_by_file_and_index(tmp_path: Path) -> None:
    """read_documents yields each non-empty document with its file and 1-based index."""
    path = write(tmp_path, "a.yaml", "---\na: 1\n---\n---\nb: 2\n")
    assert list(read_documents([path])) == [
        (Where(file=str(path), document=1), {"a": 1}),
        (Where(file=str(path), document=3), {"b": 2}),
    ]


def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-`` is standard input, named <stdin> in errors."""
    monkeypatch.setattr("sys.stdin", io.StringIO(SERVICE_YAML))
    assert [s.name for s in load_cluster(["-"]).services] == ["echo"]
    monkeypatch.setattr("sys.stdin", io.StringIO("kind: Service\n"))
    with pytest.raises(ManifestError, match=r"^<stdin>, document 1: field apiVersion: is missing"):
        load_cluster(["-"])


def test_errors_in_a_file_name_it(tmp_path: Path) -> None:
    """A bad field in a file names the file, document, object, field and value."""
    path = write(tmp_path, "bad.yaml", SERVICE_YAML.replace("port: 80", "port: eighty"))
    with pytest.raises(ManifestError) as caught:
        load_cluster([path])
    assert str(caught.value).startswith(
        f"{path}, document 1, Service default/echo: field spec.ports[0].port = 'eighty': "
        "has the wrong type: expected int, got str"
    )


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    """A YAML error names the document and the line."""
    path = write(tmp_path, "bad.yaml", SERVICE_YAML + "---\nkind: [Service\n")
    with pytest.raises(
        ManifestError, match=r"bad.yaml, document 3: the text does not parse .* line"
    ):
        load_cluster([path])


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        pytest.param("missing.yaml", None, "no such file", id="missing"),
        pytest.param("", None, "cannot be read", id="directory"),
        pytest.param("latin1.yaml", b"a: \xe9\n", "is not UTF-8 text (byte 3)", id="not-utf8"),
    ],
)
def test_unreadable_files_are_manifest_errors(
    tmp_path: Path, name: str, content: bytes | None, problem: str
) -> None:
    """Missing, unreadable and non-UTF-8 files name the file and a fix."""
    path = tmp_path / name if name else tmp_path
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ManifestError) as caught:
        load_cluster([path])
    assert str(caught.value).startswith(f"{path}: {problem}")
    assert caught.value.fix


def test_a_single_path_is_not_a_sequence_of_paths(tmp_path: Path) -> None:
    """Passing one path instead of a list is a programming error, not a silent misread."""
    with pytest.raises(TypeError, match="sequence of paths"):
        load_cluster(str(tmp_path / "a.yaml"))  # a str is a Sequence[str] to the type checker
    with pytest.raises(TypeError):
        list(read_documents(tmp_path))  # type: ignore[arg-type]


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_state_is_restored(tmp_path: Path, enabled: bool) -> None:
    """The collector is paused during a load and left as it was, even after an error."""
    path = write(tmp_path, "a.yaml", SERVICE_YAML)
    bad = write(tmp_path, "b.yaml", "kind: X\n")
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        load_cluster([path])
        assert gc.isenabled() is enabled
        with pytest.raises(ManifestError):
            load_cluster([bad])
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
