"""Right-to-left splitting of X-Forwarded-For and RFC 7239 Forwarded (reference §4, §10.6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.clientip.forwarded import (
    MAX_ELEMENT_LENGTH,
    count_forwarded_elements,
    count_xff_elements,
    forwarded_elements,
    forwarded_rsplit,
    forwarded_separator,
    parse_forwarded_element,
    xff_elements,
)

XFF = [
    pytest.param("", [], id="empty"),
    pytest.param("1.2.3.4", [(0, "1.2.3.4")], id="one"),
    pytest.param("a, b,c", [(5, "c"), (2, "b"), (0, "a")], id="ows"),
    pytest.param(" a ,\t, ,b, ", [(8, "b"), (0, "a")], id="empty-elements"),
    pytest.param(",,,", [], id="only-commas"),
]


@pytest.mark.parametrize(("line", "expected"), XFF)
def test_xff_elements(line: str, expected: list[tuple[int, str]]) -> None:
    """Commas split, SP/HTAB are trimmed, empty elements skipped, rightmost first."""
    assert list(xff_elements(line)) == expected


FORWARDED = [
    pytest.param("", [], id="empty"),
    pytest.param("for=1.2.3.4", ["for=1.2.3.4"], id="one"),
    pytest.param(
        "for=1.2.3.4, for=5.6.7.8;proto=https", ["for=5.6.7.8;proto=https", "for=1.2.3.4"], id="two"
    ),
    pytest.param('for="a,b", for=c', ["for=c", 'for="a,b"'], id="comma-in-quotes"),
    pytest.param(r'for="a\",b", for=c', ["for=c", r'for="a\",b"'], id="escaped-quote-before-comma"),
    pytest.param(r'x="a\\", for=c', ["for=c", r'x="a\\"'], id="escaped-backslash-closes"),
    pytest.param('for="x, for=c', ["for=c", 'for="x'], id="unclosed-quote-on-the-left"),
    pytest.param('junk", for=c', ["for=c", 'junk"'], id="stray-closing-quote"),
    pytest.param('a"b,c"d, for=e', ["for=e", 'a"b,c"d'], id="quotes-mid-token"),
    pytest.param(" , for=c ,", ["for=c"], id="empty-elements"),
]


@pytest.mark.parametrize(("line", "expected"), FORWARDED)
def test_forwarded_elements(line: str, expected: list[str]) -> None:
    """Quote-aware from the right: a comma inside a quoted string never splits."""
    got = list(forwarded_elements(line))
    assert [text for _, text in got] == expected
    for offset, text in got:
        assert line[offset:].lstrip(" \t").startswith(text)


def test_separator_without_opening_quote_takes_the_rest() -> None:
    """A closing quote with no opening one makes the rest of the line one element."""
    assert forwarded_separator('a, b"', 5) == -1
    assert forwarded_separator("a, b", 4) == 1


def test_quote_scanning_is_bounded_to_one_element() -> None:
    """Quotes are matched only within MAX_ELEMENT_LENGTH: a longer string is one element."""
    short = 'a, for="' + "x," * 100 + '"'
    assert forwarded_separator(short, len(short)) == 1
    long = 'a, for="' + "x," * (MAX_ELEMENT_LENGTH // 2) + '"'
    assert forwarded_separator(long, len(long)) == -1
    escaped = "a, " + '"\\"' * MAX_ELEMENT_LENGTH
    assert forwarded_separator(escaped, len(escaped)) == -1
    assert parse_forwarded_element("for=" + "a" * MAX_ELEMENT_LENGTH) is None


@pytest.mark.parametrize("maxsplit", [0, 1, 2, 5])
def test_forwarded_rsplit_mirrors_str_rsplit(maxsplit: int) -> None:
    """Without quotes it is exactly ``str.rsplit(",", n)``; with quotes it keeps them whole."""
    line = "a, b,, c ,d"
    assert forwarded_rsplit(line, ",", maxsplit) == line.rsplit(",", maxsplit)
    assert forwarded_rsplit('x, for="a,b"', ",", 5) == ["x", ' for="a,b"']


ELEMENTS = [
    pytest.param("for=192.0.2.60", {"for": "192.0.2.60"}, id="rfc7239-simple"),
    pytest.param(
        "for=192.0.2.60;proto=http;by=203.0.113.43",
        {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"},
        id="rfc7239-example",
    ),
    pytest.param('For="[2001:db8:cafe::17]:4711"', {"for": "[2001:db8:cafe::17]:4711"}, id="v6"),
    pytest.param("FOR=1.2.3.4", {"for": "1.2.3.4"}, id="case-insensitive"),
    pytest.param("for=1.2.3.4; proto=https", {"for": "1.2.3.4", "proto": "https"}, id="ows"),
    pytest.param("for=[2001:db8::1]:80", {"for": "[2001:db8::1]:80"}, id="unquoted-v6"),
    pytest.param("for=1.2.3.4:80", {"for": "1.2.3.4:80"}, id="unquoted-port"),
    pytest.param(r'for="a\"b";x=y', {"for": 'a"b', "x": "y"}, id="escaped-quote"),
    pytest.param(r'for="a\\";x=y', {"for": "a\\", "x": "y"}, id="escaped-backslash"),
    pytest.param('for="";x=y', {"for": "", "x": "y"}, id="empty-quoted"),
    pytest.param('proto=https;for="1.2.3.4" ', {"proto": "https", "for": "1.2.3.4"}, id="trail"),
    pytest.param('for="a;b, c"', {"for": "a;b, c"}, id="separators-quoted"),
    pytest.param(";;for=1.2.3.4;", {"for": "1.2.3.4"}, id="empty-pairs"),
    pytest.param('host="ex.com";;for=x', {"host": "ex.com", "for": "x"}, id="empty-pair-quoted"),
    pytest.param(";", {}, id="no-pairs"),
    pytest.param("proto=https", {"proto": "https"}, id="no-for"),
    pytest.param('for="é"', {"for": "é"}, id="obs-text"),
]


@pytest.mark.parametrize(("element", "params"), ELEMENTS)
def test_parse_forwarded_element(element: str, params: dict[str, str]) -> None:
    """Pairs per RFC 7239 §4: names lower-cased, quoted values unescaped."""
    assert parse_forwarded_element(element) == params


MALFORMED = [
    pytest.param("for=1.2.3.4;for=5.6.7.8", id="duplicate"),
    pytest.param("for=1.2.3.4;For=5.6.7.8", id="duplicate-case"),
    pytest.param('for=1.2.3.4;for="x"', id="duplicate-quoted"),
    pytest.param("for", id="no-equals"),
    pytest.param('x="1";for', id="no-equals-after-quoted"),
    pytest.param("=1.2.3.4", id="no-name"),
    pytest.param("for =1.2.3.4", id="space-in-name"),
    pytest.param("f(r=1.2.3.4", id="bad-name"),
    pytest.param("for=", id="empty-value"),
    pytest.param('x="a";for=', id="empty-value-after-quoted"),
    pytest.param("for=a b", id="space-in-token"),
    pytest.param('x="a";for=a b', id="space-in-token-after-quoted"),
    pytest.param('for="1.2.3.4', id="unterminated"),
    pytest.param('for="1.2.3.4\\', id="trailing-backslash"),
    pytest.param('for="a\\"', id="escaped-terminator"),
    pytest.param('for="a\\"b\\', id="escaped-quote-then-trailing-backslash"),
    pytest.param('for="a"b', id="junk-after-quote"),
    pytest.param('for="a\x00"', id="nul-in-quotes"),
    pytest.param('for="a\\\x01"', id="escaped-ctl"),
    pytest.param('for=a"b"', id="quote-in-token"),
    pytest.param("for=<script>", id="markup"),
]


@pytest.mark.parametrize("element", MALFORMED)
def test_malformed_elements(element: str) -> None:
    """Duplicates, bad names, bad values and broken quoting make the element invalid."""
    assert parse_forwarded_element(element) is None


@pytest.mark.parametrize(
    ("text", "count"),
    [
        pytest.param("", 0, id="empty"),
        pytest.param("a, b ,", 2, id="trailing-comma"),
        pytest.param(" ,\t, a b", 1, id="spaces"),
    ],
)
def test_count_xff_elements(text: str, count: int) -> None:
    """Counting ignores empty elements, as the walk does."""
    assert count_xff_elements(text) == count


def test_count_forwarded_ignores_quoted_commas() -> None:
    """Commas inside well-formed quoted strings do not count as separators."""
    assert count_forwarded_elements('for="a,b", for=c,') == 2
    assert count_forwarded_elements("for=a, for=b") == 2
    assert count_forwarded_elements('for="a\\",b", x') == 2


TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=8)
QUOTED_CHARS = st.text(alphabet=' ,;="\\abc\t', max_size=10)


@st.composite
def elements(draw: st.DrawFn) -> str:
    """A well-formed Forwarded element with quoted values holding any separators."""
    pairs = []
    for name in draw(st.lists(TOKEN, min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()):
            raw = draw(QUOTED_CHARS)
            value = '"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            value = draw(TOKEN)
        pairs.append(f"{name}={value}")
    return ";".join(pairs)


@given(st.text(max_size=40), st.lists(elements(), min_size=1, max_size=4))
def test_left_junk_cannot_poison_the_right(junk: str, tail: list[str]) -> None:
    """Whatever precedes a well-formed right part, its elements come back intact (§4)."""
    line = junk + ", " + ", ".join(tail)
    got = [text for _, text in forwarded_elements(line)]
    assert got[: len(tail)] == list(reversed(tail))
    for element in tail:
        assert parse_forwarded_element(element) is not None


@given(st.lists(elements(), max_size=5))
def test_count_matches_split_for_well_formed(parts: list[str]) -> None:
    """For well-formed lines the C-speed count equals the number of elements split."""
    line = ", ".join(parts)
    assert count_forwarded_elements(line) == len(list(forwarded_elements(line))) == len(parts)


@given(st.text(max_size=60))
def test_splitters_never_raise(line: str) -> None:
    """Arbitrary text splits without error; each element parses or is refused."""
    for _, text in forwarded_elements(line):
        params = parse_forwarded_element(text)
        assert params is None or isinstance(params, dict)
    assert all(text == text.strip(" \t") and text for _, text in xff_elements(line))
    assert ",".join(forwarded_rsplit(line, ",", 3)) == line
