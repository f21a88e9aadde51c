"""Splitting ``X-Forwarded-For`` and RFC 7239 ``Forwarded`` field lines from the right.

Only the right end of a forwarding list is written by proxies you trust; everything to the
left may be the client's (reference §4, §7.1). So the splitters here work **right to
left** (lazily: :func:`xff_elements`, :func:`forwarded_elements`; or a bounded number of
cuts at a time: :meth:`str.rsplit` and its quote-aware twin :func:`forwarded_rsplit`) and
the resolver stops at the first element it does not trust: a 300-entry spoofed prefix is
never parsed (§7.14), and junk on the left — an unbalanced quote, a stray backslash — can
never change how the right part is split (§4, §10 step 6). XFF elements are not unquoted:
``"1.2.3.4"`` is invalid there, as no proxy writes it.
Field lines are split one at a time: a quoted-string never spans two field lines, so a
client-sent line cannot swallow a proxy-appended one.

``X-Forwarded-For`` (de facto): elements separated by commas, optional whitespace (SP,
HTAB) trimmed, empty elements skipped (RFC 9110 §5.6.1 list rules).

``Forwarded`` (RFC 7239 §4): ``1#forwarded-element``, ``forwarded-element = [ forwarded-pair ]
*( ";" [ forwarded-pair ] )``, ``forwarded-pair = token "=" value``, ``value = token /
quoted-string``. Splitting from the right is quote-aware: scanning leftwards, the first
``"`` met outside a string closes one, and the string opens at the next ``"`` preceded by
an even run of backslashes (RFC 9110 §5.6.4 quoted-pair). An element is then parsed left to
right and strictly: parameter names are case-insensitive (§4) and may appear once per
element (§4: "MUST NOT occur more than once"); quoted values are unescaped. Deviations, both
on the permissive side and both unambiguous: OWS around ``;`` is tolerated (several proxies
emit ``for=192.0.2.1; proto=https``), and unquoted ``[v6]`` / ``v4:port`` values are
accepted although ``[``, ``]`` and ``:`` are not token characters (reference §10 step 6).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "MAX_ELEMENT_LENGTH",
    "count_forwarded_elements",
    "count_xff_elements",
    "forwarded_elements",
    "forwarded_rsplit",
    "forwarded_separator",
    "parse_forwarded_element",
    "xff_elements",
]

_OWS = " \t"
#: Longest Forwarded element accepted (``for``, ``by``, ``proto`` and a 253-character
#: ``host`` fit); it also bounds the quote scanning of :func:`forwarded_separator`.
MAX_ELEMENT_LENGTH = 512
# RFC 9110 §5.6.2 tchar.
_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_UNQUOTED = _TCHAR | frozenset("[]:")
# qdtext / quoted-pair may carry HTAB, SP, VCHAR and obs-text, never other controls.
_CTL = frozenset(chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F))
# A quoted-string, used only to count the elements left of the client. It always matches
# (an unterminated string runs to the end, a lone trailing backslash is allowed) and its
# quantifier is possessive, so the scan is linear even on hostile input: a pattern that can
# fail would be retried from every later quote, quadratic on ``"\\"\\"\\"…``.
_QUOTED = re.compile(r'"(?:[^"\\]++|\\[\s\S]?)*+(?:"|\Z)')


def xff_elements(line: str) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, element)`` for the non-empty elements of one XFF line, right first."""
    end = len(line)
    while True:
        comma = line.rfind(",", 0, end)
        text = line[comma + 1 : end].strip(_OWS)
        if text:
            yield comma + 1, text
        if comma < 0:
            return
        end = comma


def forwarded_elements(line: str) -> Iterator[tuple[int, str]]:
    """Yield ``(offset, element)`` for the non-empty elements of one Forwarded line.

    Right to left and quote-aware (:func:`forwarded_separator`).
    """
    end = len(line)
    while end > 0:
        comma = forwarded_separator(line, end)
        text = line[comma + 1 : end].strip(_OWS)
        if text:
            yield comma + 1, text
        end = comma


def forwarded_rsplit(line: str, sep: str, maxsplit: int) -> list[str]:
    """``str.rsplit(",", maxsplit)``, quote-aware: commas inside quoted strings stay.

    Same shape as :meth:`str.rsplit` (``sep`` must be ``","``) so the resolver walks
    X-Forwarded-For and Forwarded with one loop; parts are not stripped.
    """
    parts: list[str] = []
    end = len(line)
    while len(parts) < maxsplit:
        comma = forwarded_separator(line, end)
        if comma < 0:
            break
        parts.append(line[comma + 1 : end])
        end = comma
    parts.append(line[:end])
    parts.reverse()
    return parts


def forwarded_separator(line: str, end: int) -> int:
    """Index of the comma that ends the element before ``line[:end]``'s last one, or -1.

    Commas inside quoted strings are skipped. Quotes are looked for only within
    :data:`MAX_ELEMENT_LENGTH` characters of ``end``: a closing quote whose opening one is
    not found there makes the rest of the line (to its left) one element, which is then
    refused as invalid. So one call costs at most that window of Python-level work, and
    only that element is lost, never the elements to its right.
    """
    floor = end - MAX_ELEMENT_LENGTH if end > MAX_ELEMENT_LENGTH else 0
    comma = line.rfind(",", 0, end)
    quote = line.rfind('"', floor, end)
    while quote > comma:  # the nearest quote closes a string: skip to its opening quote
        opening = _opening_quote(line, quote, floor)
        if opening < 0:
            return -1
        if comma > opening:  # the comma was inside the string; look again, left of it
            comma = line.rfind(",", 0, opening)
        quote = line.rfind('"', floor, opening)
    return comma


def _opening_quote(line: str, closing: int, floor: int) -> int:
    """Index of the ``"`` opening the string that ends at ``closing`` (not before ``floor``)."""
    pos = closing
    while True:
        quote = line.rfind('"', floor, pos)
        if quote < 0:
            return -1
        run = quote
        while run > floor and line[run - 1] == "\\":
            run -= 1
        if (quote - run) % 2 == 0:
            return quote
        pos = quote


def parse_forwarded_element(text: str) -> dict[str, str] | None:
    """Parse one element into ``{lower-case name: unescaped value}``; None if malformed.

    Elements longer than :data:`MAX_ELEMENT_LENGTH` are malformed: no proxy writes one.
    """
    if len(text) > MAX_ELEMENT_LENGTH:
        return None
    if '"' not in text:
        return _parse_plain(text)
    params: dict[str, str] = {}
    pos, n = 0, len(text)
    while pos < n:
        if text[pos] in _OWS or text[pos] == ";":
            pos += 1
            continue
        eq = text.find("=", pos)
        if eq < 0:
            return None
        name = text[pos:eq].lower()
        if text[eq + 1 : eq + 2] == '"':
            value, pos = _quoted(text, eq + 2)
        else:
            semi = text.find(";", eq + 1)
            pos = n if semi < 0 else semi
            value = text[eq + 1 : pos].rstrip(_OWS)
            if not value or not _UNQUOTED.issuperset(value):
                return None
        if value is None or not _add(params, name, value):
            return None
        while pos < n and text[pos] in _OWS:
            pos += 1
        if pos < n and text[pos] != ";":
            return None
    return params


def _parse_plain(text: str) -> dict[str, str] | None:
    """The common case without quotes: split on ``;`` and ``=``."""
    params: dict[str, str] = {}
    for pair in text.split(";"):
        pair = pair.strip(_OWS)
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if not (value and _UNQUOTED.issuperset(value) and _add(params, name.lower(), value)):
            return None
    return params


def _add(params: dict[str, str], name: str, value: str) -> bool:
    """Record a pair; False for a bad name or a repeated one (RFC 7239 §4)."""
    if not name or name in params or not _TCHAR.issuperset(name):
        return False
    params[name] = value
    return True


def _quoted(text: str, pos: int) -> tuple[str | None, int]:
    """Read a quoted-string body starting after its ``"``: ``(value or None, next pos)``."""
    close = text.find('"', pos)
    if close < 0:
        return None, pos
    body = text[pos:close]
    if "\\" not in body:
        return (None if _CTL.intersection(body) else body), close + 1
    chars: list[str] = []
    n = len(text)
    while pos < n:
        char = text[pos]
        if char == '"':
            value = "".join(chars)
            return (None if _CTL.intersection(value) else value), pos + 1
        if char == "\\":
            pos += 1
            if pos == n:
                break
            char = text[pos]
        chars.append(char)
        pos += 1
    return None, pos


def count_xff_elements(text: str) -> int:
    """Number of non-empty comma-separated elements in ``text`` (C-speed, for indices)."""
    parts = text.replace(" ", "").replace("\t", "").split(",")
    return len(parts) - parts.count("")


def count_forwarded_elements(text: str) -> int:
    """Number of non-empty Forwarded elements in ``text``; quoted commas do not split.

    Used only for the index of a resolved element, i.e. on the part left of it, which is
    never parsed: for a malformed left part the count is a best effort (an unterminated
    quoted string runs to the end). Linear time on any input.
    """
    if '"' in text:
        text = _QUOTED.sub("q", text)
    return count_xff_elements(text)
