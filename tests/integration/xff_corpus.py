"""A deterministic corpus of X-Forwarded-For header chains for the nginx differential test.

Two parts:

* :func:`agreeing_cases`: chains on which nginx's realip module and ``resolve`` must give
  the same answer (after the mapping in ``test_nginx_realip``). Every element the walk can
  reach is one both sides read the same way: an IPv4 or IPv6 address, trusted or not, in
  the spellings both accept (``v4:port``, ``[v6]:port``, upper case, exploded, IPv4-mapped),
  or one both refuse (``unknown``, junk, out-of-range octets or ports, CIDRs, quotes, …).
  Left of the stopping point anything goes, nginx-only quirks included, since neither side
  reads that far. Lines vary in number, in separators (spaces, empty elements), in the
  field name's case, and carry decoys (``X_Forwarded_For``, ``X-Real-IP``, ``Forwarded``).
* :func:`quirk_cases`: for each documented difference in :data:`QUIRKS`, chains whose walk
  reaches exactly one element (or line) that nginx and srcip read differently.

Field values are ``str`` holding the wire bytes as Latin-1 (so non-ASCII junk round-trips).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SEED = 20261121

#: ``set_real_ip_from`` in nginx and ``trusted_proxies`` in srcip: the same list.
TRUSTED = (
    "127.0.0.1/32",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "198.51.100.7/32",
    "2001:db8:1::/48",
    "fd00::/8",
)
TRUSTED_PEER_V4 = "127.0.0.1"
TRUSTED_PEER_V6 = "::1"
UNTRUSTED_PEER = "127.0.0.9"

XFF_NAMES = ("X-Forwarded-For", "x-forwarded-for", "X-FORWARDED-FOR", "X-Forwarded-for")
DECOYS = (
    ("X_Forwarded_For", "203.0.113.66"),  # another field; nginx drops underscore names
    ("X-Real-IP", "203.0.113.67"),
    ("Forwarded", "for=203.0.113.68"),
    ("X-Forwarded-Host", "spoofed.example"),
)

#: Elements both sides refuse; none contains a space or comma (nginx splits on those).
BOTH_REFUSE = (
    "unknown",
    "_hidden",
    "_h1dd3n:_p0rt",
    "junk",
    "<script>",
    "1.2.3",
    "1.2.3.4.5",
    "256.1.1.1",
    "203.0.113.5:99999",
    "203.0.113.5:65536",
    "[2001:db8:2::5]:",
    "2001:db8:2:0:0:0:0:5:80",
    "2001:db8:2::5%",
    "203.0.113.5:",
    "203.0.113.5:http",
    "203.0.113.5:80:90",
    "[2001:db8::1",
    "2001:db8::g",
    "2001:db8::1::2",
    "1:2:3:4:5:6:7:8:9",
    "203.0.113.0/24",
    "unix:",
    "unix:/run/app.sock",
    '"203.0.113.5"',
    "for=203.0.113.5",
    "203.0.113.5;",
    "::ffff:203.0.113.5:80",
    "0x7f.0.0.1",
    # Fullwidth digits, sent as UTF-8 (both refuse non-ASCII digits).
    "２０３.０.１１３.５".encode().decode("latin-1"),
)


@dataclass(frozen=True, slots=True)
class XffCase:
    """One request: the peer it comes from and its header field lines, in order."""

    id: str
    peer: str
    fields: tuple[tuple[str, str], ...]
    shape: str  # what the walk meets: client, refused, all_trusted, no_header, direct, quirk
    quirk: str | None = None  # the QUIRKS entry a quirk case exercises

    def xff_lines(self) -> list[bytes]:
        """The X-Forwarded-For values as nginx stores them (wire bytes, spaces trimmed)."""
        return [
            value.encode("latin-1").strip(b" ")
            for name, value in self.fields
            if name.lower() == "x-forwarded-for"
        ]


def _v4(rng: random.Random, net: str) -> str:
    network = ipaddress.IPv4Network(net)
    return str(network[rng.randrange(1, network.num_addresses - 1)])


def _v6(rng: random.Random, net: str) -> str:
    network = ipaddress.IPv6Network(net)
    return str(network[rng.randrange(1, min(network.num_addresses, 1 << 64))])


def trusted_address(rng: random.Random) -> str:
    """An address inside :data:`TRUSTED` (never a peer address)."""
    pick = rng.randrange(6)
    if pick == 0:
        return _v4(rng, "10.0.0.0/8")
    if pick == 1:
        return _v4(rng, "172.16.0.0/12")
    if pick == 2:
        return _v4(rng, "192.168.0.0/16")
    if pick == 3:
        return "198.51.100.7"
    return _v6(rng, "2001:db8:1::/48" if pick == 4 else "fd00::/8")


def untrusted_address(rng: random.Random) -> str:
    """A syntactically plain address outside :data:`TRUSTED`."""
    pick = rng.randrange(7)
    if pick == 0:
        return _v4(rng, "203.0.113.0/24")
    if pick == 1:
        return rng.choice(
            ("198.51.100.8", "198.51.100.6", "192.0.2.1", "8.8.4.4", "1.1.1.1", "224.0.0.1")
        )
    if pick == 2:
        return _v4(rng, "100.64.0.0/10")
    if pick == 3:
        return _v4(rng, "172.32.0.0/16")  # just outside 172.16.0.0/12
    if pick == 4:
        return _v6(rng, "2001:db8:2::/48")
    if pick == 5:
        # ::203.0.113.9 is IPv4-compatible (RFC 4291 §2.5.5.1): an IPv6 address to both.
        return rng.choice(
            ("2606:4700::1111", "2001:db8:ffff::1:2", "2001:db8:0:1::9", "::203.0.113.9", "ff02::1")
        )
    return _v6(rng, "2001:db8::/48")  # next to the trusted 2001:db8:1::/48


def spelled(rng: random.Random, address: str) -> str:
    """``address`` in one of the spellings nginx and srcip both accept, same value."""
    ip = ipaddress.ip_address(address)
    port = rng.choice((1, 80, 443, 4711, 51234, 65535))
    style = rng.randrange(10)
    if ip.version == 4:
        if style == 0:
            return f"{ip}:{port}"
        if style == 3:
            return f"{ip}:{port:05d}"  # leading zeros, five digits at most
        if style == 1:
            return f"::ffff:{ip}"
        if style == 2:
            return f"[::ffff:{ip}]:{port}"
        return str(ip)
    if style == 0:
        return f"[{ip}]:{port}"
    if style == 3:
        return f"[{ip}]:{port:05d}"
    if style == 1:
        return str(ip).upper()
    if style == 2:
        return ip.exploded
    return str(ip)


def any_element(rng: random.Random) -> str:
    """Anything at all, for the part of a chain left of where both walks stop."""
    pick = rng.randrange(4)
    if pick == 0:
        return spelled(rng, untrusted_address(rng))
    if pick == 1:
        return spelled(rng, trusted_address(rng))
    if pick == 2:
        return rng.choice(BOTH_REFUSE)
    return rng.choice([v for q in QUIRKS.values() for v in q.values])


SEPARATORS = (", ", ", ", ",", " , ", ",  ", ",, ", ", ,", ",,")


def render_lines(rng: random.Random, elements: Sequence[str], max_lines: int = 3) -> list[str]:
    """Spread ``elements`` (left to right) over 1..``max_lines`` non-empty field lines."""
    count = min(len(elements), rng.randint(1, max_lines))
    cuts = sorted(rng.sample(range(1, len(elements)), count - 1)) if count > 1 else []
    lines = []
    for start, end in zip([0, *cuts], [*cuts, len(elements)], strict=True):
        text = elements[start]
        for element in elements[start + 1 : end]:
            text += rng.choice(SEPARATORS) + element
        if not lines and rng.random() < 0.3:
            # Only the first line may start with a separator: ",x" glues, and on a later
            # line ", x" ends nginx's walk there (QUIRKS "leading-comma", "...-later-line").
            text = rng.choice((", ", ",, ", ",  ")) + text
        if rng.random() < 0.15:
            text += rng.choice((",", ", ", " ,", ",,"))
        lines.append(text)
    return lines


def with_decoys(rng: random.Random, xff_lines: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The XFF lines (random name case) with decoy fields interleaved."""
    fields = [(rng.choice(XFF_NAMES), line) for line in xff_lines]
    for decoy in DECOYS:
        if rng.random() < 0.2:
            fields.insert(rng.randint(0, len(fields)), decoy)
    return tuple(fields)


def agreeing_cases(count: int = 320, seed: int = SEED) -> list[XffCase]:
    """Chains both sides define the same way; shapes cycle through the walk's outcomes."""
    rng = random.Random(seed)
    shapes = ("client", "client", "client", "refused", "all_trusted", "no_header", "direct")
    cases = []
    for index in range(count):
        shape = shapes[index % len(shapes)]
        peer = TRUSTED_PEER_V6 if rng.random() < 0.15 else TRUSTED_PEER_V4
        right = [spelled(rng, trusted_address(rng)) for _ in range(rng.randint(0, 6))]
        left = [any_element(rng) for _ in range(rng.randint(0, 4))]
        if shape == "client":
            elements = [*left, spelled(rng, untrusted_address(rng)), *right]
        elif shape == "refused":
            elements = [*left, rng.choice(BOTH_REFUSE), *right]
        elif shape == "all_trusted":
            elements = [*right, spelled(rng, trusted_address(rng))]
        elif shape == "direct":
            peer = UNTRUSTED_PEER
            elements = [*left, spelled(rng, untrusted_address(rng)), *right]
        else:
            elements = []
        lines = render_lines(rng, elements) if elements else []
        cases.append(XffCase(f"{index:03d}-{shape}", peer, with_decoys(rng, lines), shape))
    return cases + _max_hops_boundary(random.Random(seed + 2))


#: srcip's default ``max_hops``: this many trusted elements are walked as nginx walks them
#: (it has no limit); one more is the "hop-limit" quirk.
MAX_HOPS = 20


def _max_hops_boundary(rng: random.Random) -> list[XffCase]:
    """Exactly MAX_HOPS trusted elements, with a client left of them and without.

    Built from their own random stream, so the seeded corpus above is unchanged.
    """
    trusted = [spelled(rng, trusted_address(rng)) for _ in range(MAX_HOPS)]
    client = [spelled(rng, untrusted_address(rng)), *trusted]
    return [
        XffCase(
            f"max-hops-{MAX_HOPS}-{shape}",
            TRUSTED_PEER_V4,
            with_decoys(rng, render_lines(rng, elements, max_lines=2)),
            shape,
        )
        for shape, elements in (("client", client), ("all_trusted", trusted))
    ]


@dataclass(frozen=True, slots=True)
class Quirk:
    """A documented difference: what nginx does, what srcip does, and why (with source)."""

    nginx: str
    srcip: str
    values: tuple[str, ...] = ()
    #: Builds (xff lines) from (rng, left elements, right trusted elements); default: the
    #: quirk value as one element between them.
    lines: Callable[[random.Random, list[str], list[str]], list[str]] | None = None


def _space_split(rng: random.Random, left: list[str], right: list[str]) -> list[str]:
    pair = rng.choice(
        (f"{untrusted_address(rng)} {trusted_address(rng)}", f"{untrusted_address(rng)}  10.1.1.1")
    )
    return [", ".join([*left, pair, *right])]


def _tab_before(rng: random.Random, left: list[str], right: list[str]) -> list[str]:
    return [", ".join([*left, "\t" + untrusted_address(rng), *right])]


def _leading_comma(rng: random.Random, left: list[str], right: list[str]) -> list[str]:
    lines = [", ".join(left)] if left else []
    lines.append("," + ", ".join([untrusted_address(rng), *right]))
    return lines


def _leading_separator(rng: random.Random, left: list[str], right: list[str]) -> list[str]:
    right = right or [trusted_address(rng)]
    prefix = rng.choice((", ", ",, ", ", ,"))
    return [", ".join([*left, untrusted_address(rng)]), prefix + ", ".join(right)]


def _empty_line(rng: random.Random, left: list[str], right: list[str]) -> list[str]:
    lines = [", ".join([*left, untrusted_address(rng)]), rng.choice(("", ",", ", ,", " "))]
    return [*lines, ", ".join(right)] if right else lines


def _hop_limit(rng: random.Random, left: list[str], right: list[str]) -> list[str]:
    trusted = [trusted_address(rng) for _ in range(rng.randint(21, 26))]
    return [", ".join([*left, untrusted_address(rng), *trusted[:10]]), ", ".join(trusted[10:])]


def _hop_limit_boundary(rng: random.Random) -> list[str]:
    """MAX_HOPS + 1 trusted elements (the fewest that are hop_limit) left of a client."""
    trusted = [trusted_address(rng) for _ in range(MAX_HOPS + 1)]
    return [", ".join([untrusted_address(rng), *trusted[:10]]), ", ".join(trusted[10:])]


#: Every difference between nginx 1.22 realip and srcip that the corpus exercises.
#: nginx sources: ``nginx_model`` (ported from release-1.22.1); srcip: reference §10.7/§10.8.
QUIRKS: dict[str, Quirk] = {
    "v4-leading-zero": Quirk(
        nginx="ngx_inet_addr reads each octet as decimal: 010.0.0.1 is 10.0.0.1",
        srcip="refused (leading zeros are ambiguous, CVE-2021-29921): invalid_hop",
        values=("010.0.0.1", "203.000.113.5", "0203.0.113.5", "::ffff:010.0.0.1"),
    ),
    "v4-empty-octet": Quirk(
        nginx="ngx_inet_addr counts an empty octet as 0: 203.0.113. is 203.0.113.0",
        srcip="refused: invalid_hop",
        values=("203.0.113.", "10..1.2", ".203.0.113"),
    ),
    "unspecified": Quirk(
        nginx="0.0.0.0 and :: are addresses like any other",
        srcip="refused, no client has them (reference §10.7): invalid_hop",
        values=("0.0.0.0", "::", "0.0.0.0:80", "[::]:443"),
    ),
    "v4-broadcast": Quirk(
        nginx="255.255.255.255 is INADDR_NONE, ngx_inet_addr's error value: refused",
        srcip="a valid address",
        values=("255.255.255.255",),
    ),
    "v6-zone": Quirk(
        nginx="ngx_inet6_addr has no zones: refused",
        srcip="address with the zone split off into Resolution.zone",
        values=("fe80::1%eth0", "fe80::abcd%2", "[fe80::1%eth0]:80"),
    ),
    "v6-brackets-without-port": Quirk(
        nginx="ngx_parse_addr_port wants ':port' after ']': refused",
        srcip="accepted (unambiguous)",
        values=("[2001:db8:2::5]", "[::ffff:203.0.113.5]"),
    ),
    "port-zero": Quirk(
        nginx="ngx_parse_addr_port refuses port 0",
        srcip="accepted (a numeric port in 0..65535)",
        values=("203.0.113.5:0", "[2001:db8:2::5]:0"),
    ),
    "port-over-five-digits": Quirk(
        nginx="ngx_atoi takes any number of leading zeros: :065535 is port 65535",
        srcip="a port has at most five digits: invalid_hop",
        values=("203.0.113.5:065535", "[2001:db8:2::5]:000080"),
    ),
    "v6-leading-colon": Quirk(
        nginx="ngx_inet6_addr skips one leading ':' (:1:2:3:4:5:6:7:8 is 1:2:3:4:5:6:7:8)",
        srcip="refused: invalid_hop",
        values=(":1:2:3:4:5:6:7:8", ":2001:db8:2:0:0:0:0:5"),
    ),
    "space-separated": Quirk(
        nginx="the walk splits on spaces as well as commas: 'a b' is two elements",
        srcip="one element (commas separate, RFC 9110 §5.6.1), not an address: invalid_hop",
        lines=_space_split,
    ),
    "tab-before-element": Quirk(
        nginx="the walk splits on ' ' and ',' only, so ',<TAB>a' leaves a tab in the element",
        srcip="OWS includes HTAB (RFC 9110 §5.6.3): the address is read",
        lines=_tab_before,
    ),
    "leading-comma": Quirk(
        nginx="a line ',a' glues the comma to 'a' (index 0 is never tested as a separator)",
        srcip="an empty element, skipped: 'a' is read",
        lines=_leading_comma,
    ),
    "leading-separator-later-line": Quirk(
        nginx="a line ', a' ends NGX_DONE, not NGX_OK, so the lines before it are not read",
        srcip="an empty element, skipped: the walk goes on into the previous line",
        lines=_leading_separator,
    ),
    "empty-line": Quirk(
        nginx="a line with no element stops the walk (the last address is kept)",
        srcip="a line with no element adds none (RFC 9110 §5.3): the walk goes on",
        lines=_empty_line,
    ),
    "hop-limit": Quirk(
        nginx="no limit on trusted hops",
        srcip=f"more than max_hops ({MAX_HOPS}) trusted hops: hop_limit, ip None",
        lines=_hop_limit,
    ),
}


def quirk_cases(per_quirk: int = 6, seed: int = SEED + 1) -> list[XffCase]:
    """For each quirk, chains whose walk reaches the differing element or line."""
    rng = random.Random(seed)
    cases = []
    for name, quirk in QUIRKS.items():
        for index in range(per_quirk):
            left = [spelled(rng, untrusted_address(rng)) for _ in range(rng.randint(0, 2))]
            right = [spelled(rng, trusted_address(rng)) for _ in range(rng.randint(0, 3))]
            if quirk.lines is not None:
                lines = quirk.lines(rng, left, right)
            else:
                value = quirk.values[index % len(quirk.values)]
                lines = render_lines(rng, [*left, value, *right], max_lines=2)
            case_id = f"{name}-{index}"
            fields = with_decoys(rng, lines)
            cases.append(XffCase(case_id, TRUSTED_PEER_V4, fields, "quirk", name))
    boundary = random.Random(seed + 2)  # its own stream: the cases above are unchanged
    fields = with_decoys(boundary, _hop_limit_boundary(boundary))
    cases.append(
        XffCase(f"hop-limit-{MAX_HOPS + 1}", TRUSTED_PEER_V4, fields, "quirk", "hop-limit")
    )
    return cases
