"""Text → documents → objects: YAML/JSON streams, Lists, locations."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from srcip.errors import ManifestError, Where
from srcip.manifests.documents import (
    describe_location,
    describe_object,
    expand_document,
    parse_stream,
)

HERE = Where(file="f.yaml", document=2)


def test_multi_document_yaml_is_numbered_from_one_and_skips_empty_documents() -> None:
    """Empty documents keep their number but yield nothing."""
    text = "a: 1\n---\n---\nb: 2\n---\n"
    assert list(parse_stream("f.yaml", text)) == [
        (Where(file="f.yaml", document=1), {"a": 1}),
        (Where(file="f.yaml", document=3), {"b": 2}),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('{"kind": "List"}', [{"kind": "List"}], id="object"),
        pytest.param('\ufeff  \n{"a": 1}', [{"a": 1}], id="bom-and-space"),
        pytest.param("[1, 2]", [[1, 2]], id="array"),
        pytest.param("null", [], id="yaml-null"),
        pytest.param("{a: 1}\n---\n{b: 2}\n", [{"a": 1}, {"b": 2}], id="flow-yaml-fallback"),
    ],
)
def test_json_and_json_like_texts(text: str, expected: list[object]) -> None:
    """JSON is one document; flow-style YAML that is not JSON is read as YAML."""
    assert [value for _, value in parse_stream("f.json", text)] == expected


def test_json_array_of_null_is_one_document() -> None:
    """A JSON text is exactly one document, whatever it holds."""
    assert list(parse_stream("f.json", " [null] ")) == [(Where(file="f.json", document=1), [None])]


@pytest.mark.parametrize(
    ("text", "document", "fragment"),
    [
        pytest.param("a: [1,\n b: 2\n", 1, "at line 3, column 1", id="flow-sequence"),
        pytest.param("a: 1\n---\nb: c: d\n", 2, "at line 3, column 5", id="second-document"),
        pytest.param('{"a": 1', 1, "expected ',' or '}'", id="broken-json"),
        pytest.param("a: \x07", 1, "control characters are not allowed", id="reader-error"),
    ],
)
def test_unparsable_text_names_file_document_and_line(
    text: str, document: int, fragment: str
) -> None:
    """A syntax error names the file, the document and where in it."""
    with pytest.raises(ManifestError) as caught:
        list(parse_stream("f.yaml", text))
    message = str(caught.value)
    assert message.startswith(f"f.yaml, document {document}: the text does not parse")
    assert fragment in message
    assert "Fix:" in message


def test_plain_object_keeps_its_location_and_defaults_its_namespace() -> None:
    """A namespaced object without a namespace is located in ``default``."""
    (doc,) = expand_document(
        HERE, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    )
    assert doc.where == Where(
        file="f.yaml", document=2, kind="Service", namespace="default", name="s"
    )
    assert (doc.api_version, doc.kind) == ("v1", "Service")


@pytest.mark.parametrize(
    ("metadata", "namespace", "name"),
    [
        pytest.param({"name": "n"}, None, "n", id="cluster-scoped"),
        pytest.param("junk", None, None, id="metadata-not-mapping"),
        pytest.param({"name": 3}, None, None, id="name-not-string"),
    ],
)
def test_cluster_scoped_kinds_have_no_namespace(
    metadata: object, namespace: str | None, name: str | None
) -> None:
    """Nodes are never placed in a namespace; odd metadata leaves the name unknown."""
    (doc,) = expand_document(HERE, {"apiVersion": "v1", "kind": "Node", "metadata": metadata})
    assert (doc.where.namespace, doc.where.name) == (namespace, name)


def test_non_dict_mappings_are_copied() -> None:
    """Any mapping is accepted and handed on as a plain dict."""
    (doc,) = expand_document(HERE, MappingProxyType({"apiVersion": "v1", "kind": "Pod"}))
    assert doc.body == {"apiVersion": "v1", "kind": "Pod"}
    assert type(doc.body) is dict


def test_nested_lists_are_flattened_with_item_paths() -> None:
    """Each item of a (nested) List keeps the path of its item."""
    value = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}},
            {
                "apiVersion": "v1",
                "kind": "List",
                "items": [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}],
            },
        ],
    }
    docs = list(expand_document(HERE, value))
    assert [(d.where.item, d.kind, d.where.name) for d in docs] == [
        ("items[0]", "Service", "a"),
        ("items[1].items[0]", "Node", "n"),
    ]
    assert docs[1].where.describe() == "f.yaml, document 2, items[1].items[0], Node n"


def test_typed_list_supplies_kind_and_api_version_to_its_items() -> None:
    """A ServiceList from the API omits kind/apiVersion in its items; they are implied."""
    value = {
        "apiVersion": "v1",
        "kind": "ServiceList",
        "items": [{"metadata": {"name": "a"}}, {"apiVersion": "v2", "kind": "Thing"}],
    }
    docs = list(expand_document(HERE, value))
    assert [(d.api_version, d.kind) for d in docs] == [("v1", "Service"), ("v2", "Thing")]


def test_object_named_like_a_list_without_items_is_an_object() -> None:
    """Only a kind ending in List *with items* (or kind List) is a list."""
    (doc,) = expand_document(HERE, {"apiVersion": "x/v1", "kind": "AllowList"})
    assert doc.kind == "AllowList"


def test_list_without_items_is_empty() -> None:
    """``items: null`` holds nothing."""
    assert list(expand_document(HERE, {"apiVersion": "v1", "kind": "List", "items": None})) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            [1],
            "f.yaml, document 2: the document is a list, not a Kubernetes object",
            id="not-mapping",
        ),
        pytest.param(
            {"kind": "Service"},
            "f.yaml, document 2: field apiVersion: is missing",
            id="no-api-version",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": ""},
            "f.yaml, document 2: field kind = '': must be a non-empty string",
            id="empty-kind",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "List", "items": {"a": 1}},
            "f.yaml, document 2, List: field items = 'dict': must be a list of objects",
            id="items-not-list",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "List", "items": [{"kind": "Pod"}]},
            "f.yaml, document 2, items[0]: field apiVersion: is missing",
            id="item-without-api-version",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "List", "items": ["x"]},
            "f.yaml, document 2, items[0]: the document is a str",
            id="item-not-mapping",
        ),
    ],
)
def test_malformed_documents_are_refused(value: object, expected: str) -> None:
    """A document that is not an object, or lacks apiVersion/kind, is an error saying where."""
    with pytest.raises(ManifestError) as caught:
        list(expand_document(HERE, value))
    assert str(caught.value).startswith(expected)


def test_descriptions_split_location_and_object() -> None:
    """Notes print the object and its location separately."""
    where = Where(file="f", document=1, item="items[2]", kind="Pod", namespace="a", name="b")
    assert describe_location(where) == "f, document 1, items[2]"
    assert describe_object(where) == "Pod a/b"
