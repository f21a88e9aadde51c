"""TrustConfig: validation at construction and the compiled membership test (reference §10)."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.clientip.trust import REFUSED_SOURCES, AddressSet, SourceKind, TrustConfig
from srcip.errors import TrustConfigError


def test_defaults_trust_nobody() -> None:
    """The default reads X-Forwarded-For but trusts no peer: every request is direct."""
    config = TrustConfig()
    assert config.source == "x-forwarded-for"
    assert config.source_kind is SourceKind.X_FORWARDED_FOR
    assert config.trusted_proxies == ()
    assert not config.trusted
    assert not config.is_trusted(IPv4Address("127.0.0.1"))


def test_entries_are_stored_canonical() -> None:
    """Addresses become /32 or /128 networks, mapped CIDRs fold to IPv4, order kept."""
    config = TrustConfig(
        trusted_proxies=[
            "10.0.0.0/8",
            "203.0.113.7",
            "2001:DB8::/32",
            "::ffff:192.168.0.0/112",
            "unix:",
            IPv4Network("198.51.100.0/24"),  # type: ignore[list-item]
            IPv6Address("2001:db8::1"),  # type: ignore[list-item]
        ]
    )
    assert config.trusted_proxies == (
        "10.0.0.0/8",
        "203.0.113.7/32",
        "2001:db8::/32",
        "192.168.0.0/16",
        "unix:",
        "198.51.100.0/24",
        "2001:db8::1/128",
    )
    assert config.trusted.unix


MEMBERSHIP = [
    pytest.param("10.1.2.3", True, id="in-v4-range"),
    pytest.param("11.0.0.0", False, id="after-v4-range"),
    pytest.param("9.255.255.255", False, id="before-v4-range"),
    pytest.param("::ffff:10.1.2.3", True, id="mapped-matches-v4"),
    pytest.param("192.168.255.255", True, id="folded-mapped-cidr"),
    pytest.param("2001:db8:ffff::1", True, id="in-v6-range"),
    pytest.param("2001:db9::1", False, id="outside-v6"),
    pytest.param("::a01:203", False, id="v4-compatible-is-not-v4"),
    pytest.param("203.0.113.7", True, id="single-address"),
    pytest.param("203.0.113.8", False, id="next-address"),
]


@pytest.mark.parametrize(("ip", "trusted"), MEMBERSHIP)
def test_is_trusted(ip: str, trusted: bool) -> None:
    """Membership by integer ranges; IPv4-mapped IPv6 is matched as IPv4 (§7.9)."""
    config = TrustConfig(
        trusted_proxies=["10.0.0.0/8", "203.0.113.7", "2001:db8::/32", "::ffff:192.168.0.0/112"]
    )
    assert config.is_trusted(ip_address(ip)) is trusted


def test_proxy_protocol_set_is_separate() -> None:
    """Who may send a PROXY header is its own list (reference §10, §7.21)."""
    config = TrustConfig(trusted_proxies=["10.0.0.0/8"], proxy_protocol_trusted=["172.16.0.0/12"])
    assert config.is_proxy_protocol_trusted(IPv4Address("172.16.5.5"))
    assert not config.is_proxy_protocol_trusted(IPv4Address("10.0.0.1"))
    assert config.proxy_protocol_trusted == ("172.16.0.0/12",)


def test_address_set_merges_overlapping_and_adjacent_ranges() -> None:
    """Overlapping, nested and adjacent networks merge into one span each."""
    nets = [IPv4Network(n) for n in ("10.0.0.0/9", "10.128.0.0/9", "10.0.0.0/16", "12.0.0.0/8")]
    merged = AddressSet(nets, unix=False)
    assert len(merged.starts) == 2
    assert merged.contains(IPv4Address("10.200.0.1"))
    assert not merged.contains(IPv4Address("11.0.0.1"))
    assert not merged.contains_key(-1)
    assert not AddressSet([], unix=False)
    assert AddressSet([], unix=True)


def test_trust_all_allowed_explicitly() -> None:
    """``0.0.0.0/0`` and ``::/0`` pass with allow_trust_all; ``::/0`` covers mapped IPv4."""
    config = TrustConfig(trusted_proxies=["::/0"], allow_trust_all=True)
    assert config.is_trusted(IPv4Address("8.8.8.8"))
    assert config.is_trusted(IPv6Address("2001:4860::8888"))
    assert config.trusted_proxies == ("::/0", "0.0.0.0/0")
    assert TrustConfig(trusted_proxies=["0.0.0.0/0"], allow_trust_all=True).is_trusted(
        IPv4Address("1.1.1.1")
    )


ERRORS = [
    pytest.param(
        {"trusted_proxies": ["10.0.0.0/33"]}, "trusted_proxies='10.0.0.0/33'", id="prefix"
    ),
    pytest.param({"trusted_proxies": ["10.0.0.1/8"]}, "did you mean 10.0.0.0/8", id="host-bits"),
    pytest.param({"trusted_proxies": ["ingress.local"]}, "not a valid address", id="hostname"),
    pytest.param({"trusted_proxies": ["0.0.0.0/0"]}, "allow_trust_all=True", id="trust-all-v4"),
    pytest.param({"trusted_proxies": ["::/0"]}, "allow_trust_all=True", id="trust-all-v6"),
    pytest.param({"trusted_proxies": ["::/64"]}, "allow_trust_all", id="v6-covering-mapped"),
    pytest.param(
        {"proxy_protocol_trusted": ["0.0.0.0/0"]}, "proxy_protocol_trusted", id="pp-trust-all"
    ),
    pytest.param({"trusted_proxies": ["unix:/run/x.sock"]}, "write just 'unix:'", id="unix-path"),
    pytest.param({"trusted_proxies": ["fe80::1%eth0"]}, "zones are not matched", id="zone"),
    pytest.param({"trusted_proxies": [" 10.0.0.1"]}, "not an address", id="whitespace"),
    pytest.param({"trusted_proxies": ["１０.0.0.1"]}, "not an address", id="non-ascii"),
    pytest.param({"trusted_proxies": [""]}, "not a valid address", id="empty-entry"),
    pytest.param({"trusted_proxies": [10]}, "must be strings", id="int-entry"),
    pytest.param({"trusted_proxies": "10.0.0.0/8"}, "must be a list", id="bare-string"),
    pytest.param({"source": "x-forwarded-host"}, "requested host", id="xfh"),
    pytest.param({"source": "Host"}, "requested host", id="host"),
    pytest.param({"source": "forwarded-for"}, "non-standard list", id="forwarded-for"),
    pytest.param({"source": "x-original-forwarded-for"}, "written by the client", id="orig-xff"),
    pytest.param({"source": "REMOTE_ADDR"}, "socket peer", id="remote-addr"),
    pytest.param({"source": "x_forwarded_for"}, "use 'x-forwarded-for'", id="underscore-xff"),
    pytest.param({"source": "X_Real_IP"}, "use 'x-real-ip'", id="underscore-real-ip"),
    pytest.param({"source": "x-real ip"}, "field name", id="space"),
    pytest.param({"source": ":authority"}, "field name", id="pseudo"),
    pytest.param({"source": ""}, "header name", id="empty"),
    pytest.param({"source": b"x-real-ip"}, "header name", id="bytes"),
    pytest.param({"max_hops": 0}, "max_hops=0", id="max-hops-zero"),
    pytest.param({"max_hops": -1}, "positive", id="max-hops-negative"),
    pytest.param({"max_hops": True}, "positive", id="max-hops-bool"),
    pytest.param({"max_hops": "20"}, "positive", id="max-hops-str"),
    pytest.param(
        {"trusted_hops": 0, "trusted_proxies": ["10.0.0.0/8"]}, "trusted_hops=0", id="hops-zero"
    ),
    pytest.param(
        {"trusted_hops": 21, "trusted_proxies": ["10.0.0.0/8"]}, "exceeds max_hops", id="hops-big"
    ),
    pytest.param(
        {"trusted_hops": 1, "trusted_proxies": ["10.0.0.0/8"], "source": "x-real-ip"},
        "single-IP header",
        id="hops-single",
    ),
    pytest.param({"trusted_hops": 2}, "peer_check=False", id="hops-without-proxies"),
    pytest.param({"peer_check": False}, "choose its address", id="no-gate-no-trust"),
    pytest.param({"peer_check": 1}, "True or False", id="peer-check-int"),
    pytest.param({"allow_trust_all": "yes"}, "True or False", id="trust-all-str"),
]


@pytest.mark.parametrize(("kwargs", "message"), ERRORS)
def test_bad_configuration_is_refused(kwargs: dict[str, object], message: str) -> None:
    """Bad settings fail at construction, naming setting, value and fix (STYLE §6)."""
    with pytest.raises(TrustConfigError, match="Fix:") as info:
        TrustConfig(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert str(info.value).startswith("TrustConfig ")


@pytest.mark.parametrize("name", sorted(REFUSED_SOURCES))
def test_every_refused_source_has_a_reason(name: str) -> None:
    """Each refused name (other X-Forwarded-* fields, lists nobody vouches for) is refused."""
    with pytest.raises(TrustConfigError, match=REFUSED_SOURCES[name][:20]):
        TrustConfig(trusted_proxies=["10.0.0.0/8"], source=name)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        pytest.param("X-Forwarded-For", SourceKind.X_FORWARDED_FOR, id="xff"),
        pytest.param("Forwarded", SourceKind.FORWARDED, id="forwarded"),
        pytest.param("X-Real-IP", SourceKind.SINGLE, id="x-real-ip"),
        pytest.param("CF-Connecting-IP", SourceKind.SINGLE, id="cloudflare"),
        pytest.param("True-Client-IP", SourceKind.SINGLE, id="akamai"),
        pytest.param("fly-client-ip", SourceKind.SINGLE, id="any-token"),
    ],
)
def test_sources_are_lower_cased(source: str, kind: SourceKind) -> None:
    """List sources are the two names; any other valid field name is a single-IP header."""
    config = TrustConfig(trusted_proxies=["10.0.0.0/8"], source=source)
    assert config.source == source.lower()
    assert config.source_kind is kind
    assert config.header_name == source.lower().encode()


def test_count_mode_without_gate_is_explicit() -> None:
    """trusted_hops without proxies is allowed only with peer_check=False (§7.2)."""
    config = TrustConfig(trusted_hops=2, peer_check=False)
    assert config.trusted_hops == 2
    assert TrustConfig(trusted_hops=20, trusted_proxies=["10.0.0.0/8"]).trusted_hops == 20


def test_unix_token_counts_as_trust_for_the_gate() -> None:
    """``unix:`` alone is a trusted set: count mode may keep the peer gate."""
    config = TrustConfig(trusted_proxies=["unix:"], trusted_hops=1)
    assert config.trusted


def test_config_is_a_frozen_value() -> None:
    """Equal settings give equal, hashable configs; fields cannot be reassigned."""
    a = TrustConfig(trusted_proxies=["10.0.0.0/8"], source="forwarded")
    b = TrustConfig(trusted_proxies=("10.0.0.0/8",), source="Forwarded")
    assert a == b
    assert hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.max_hops = 3  # type: ignore[misc]


CAUTIONS = [
    pytest.param(["8.8.8.0/24"], "public range", id="public-v4"),
    pytest.param(["2606:4700::/32"], "public range", id="public-v6"),
    pytest.param(["10.0.0.0/8"], "wide range 10.0.0.0/8", id="wide-v4"),
    pytest.param(["fd00::/8"], "wide range fd00::/8", id="wide-v6"),
]


@pytest.mark.parametrize(("entries", "text"), CAUTIONS)
def test_cautions_flag_public_and_wide_ranges(entries: list[str], text: str) -> None:
    """Risky but valid ranges are reported as data, not warnings (reference §4, §6)."""
    cautions = TrustConfig(trusted_proxies=entries).cautions()
    assert len(cautions) == 1
    assert text in cautions[0]


def test_cautions_quiet_for_narrow_private_ranges() -> None:
    """Narrow private ranges and ``unix:`` raise no caution, in either list."""
    config = TrustConfig(
        trusted_proxies=["10.4.0.0/16", "unix:"], proxy_protocol_trusted=["192.168.1.0/24"]
    )
    assert config.cautions() == ()
    assert (
        "proxy_protocol_trusted"
        in TrustConfig(proxy_protocol_trusted=["198.18.0.0/15", "52.0.0.0/8"]).cautions()[-1]
    )


@given(st.lists(st.ip_addresses(v=4), max_size=8), st.ip_addresses(v=4))
def test_membership_matches_ipaddress(hosts: list[IPv4Address], probe: IPv4Address) -> None:
    """The compiled ranges agree with ``ipaddress`` membership for /24 networks."""
    nets = {IPv4Network((int(h) & 0xFFFFFF00, 24)) for h in hosts if int(h) >> 24 != 0}
    config = TrustConfig(trusted_proxies=[str(n) for n in nets])
    assert config.is_trusted(probe) == any(probe in n for n in nets)
