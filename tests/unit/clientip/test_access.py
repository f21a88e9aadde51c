"""Access rules with NetworkPolicy ipBlock semantics: tables, validation and properties."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from srcip.clientip.access import (
    AccessDecision,
    AccessPolicy,
    IPBlock,
    UnresolvedAccess,
    parse_cidr,
)
from srcip.errors import TrustConfigError

# The seed's NetworkPolicy: only the trusted client network 203.0.113.0/24 may connect.
SEED = AccessPolicy.from_blocks([{"cidr": "203.0.113.0/24"}])
# Kubernetes docs' example block: 172.17.0.0/16 except 172.17.1.0/24.
DOCS_BLOCK = IPBlock(cidr="172.17.0.0/16", except_=("172.17.1.0/24",))


@pytest.mark.parametrize(
    ("block", "ip", "expected"),
    [
        pytest.param(DOCS_BLOCK, "172.17.0.1", True, id="inside-cidr"),
        pytest.param(DOCS_BLOCK, "172.17.1.9", False, id="inside-except"),
        pytest.param(DOCS_BLOCK, "172.17.255.255", True, id="cidr-last-address"),
        pytest.param(DOCS_BLOCK, "172.18.0.1", False, id="outside-cidr"),
        pytest.param(DOCS_BLOCK, "::ffff:172.17.0.1", True, id="v4-mapped-is-v4"),
        pytest.param(DOCS_BLOCK, "2001:db8::1", False, id="other-family"),
        pytest.param(IPBlock(cidr="2001:db8::/32"), "2001:db8:1::5", True, id="v6-inside"),
        pytest.param(IPBlock(cidr="2001:db8::/32"), "2001:db9::5", False, id="v6-outside"),
        pytest.param(IPBlock(cidr="fe80::/10"), "fe80::1%eth0", True, id="v6-zone-ignored"),
        pytest.param(IPBlock(cidr="0.0.0.0/0"), "198.51.100.1", True, id="all-v4"),
        pytest.param(IPBlock(cidr="0.0.0.0/0"), "2001:db8::1", False, id="all-v4-not-v6"),
        pytest.param(
            IPBlock(cidr="10.0.0.0/8", except_=("10.1.0.0/16", "10.2.0.0/16")),
            "10.2.3.4",
            False,
            id="second-except",
        ),
    ],
)
def test_block_contains(block: IPBlock, ip: str, expected: bool) -> None:
    """An address matches a block when inside cidr and outside every except entry."""
    assert block.contains(ip) is expected


@pytest.mark.parametrize(
    ("ip", "allowed", "rule"),
    [
        pytest.param("203.0.113.7", True, 0, id="trusted-client-network"),
        pytest.param("198.51.100.7", False, None, id="other-client"),
        pytest.param(None, False, None, id="unresolved-denied-by-default"),
    ],
)
def test_seed_network_policy(ip: str | None, allowed: bool, rule: int | None) -> None:
    """The seed's ipBlock allows 203.0.113.0/24 only; an unknown client is denied."""
    decision = SEED.decide(ip)
    assert (decision.allowed, decision.rule) == (allowed, rule)
    assert SEED.is_allowed(ip) is allowed


def test_rules_are_ored_and_first_match_is_reported() -> None:
    """Several blocks are OR-ed; the decision names the first block that matched."""
    policy = AccessPolicy.from_cidrs(["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"])
    assert policy.decide("10.1.2.3") == AccessDecision(allowed=True, rule=0, reason="allow[0]")
    assert policy.decide("2001:db8::1").rule == 2
    assert policy.decide(IPv4Address("192.0.2.1")) == AccessDecision(
        allowed=False, rule=None, reason="no rule matches"
    )


def test_except_in_one_block_does_not_mask_another_block() -> None:
    """An except entry excludes from its own block only: another block may still allow."""
    policy = AccessPolicy(
        allow=(
            IPBlock(cidr="10.0.0.0/8", except_=("10.1.0.0/16",)),
            IPBlock(cidr="10.1.2.0/24"),
        )
    )
    assert policy.decide("10.1.2.3").rule == 1
    assert not policy.is_allowed("10.1.3.3")


def test_empty_policy_allows_nobody() -> None:
    """No blocks allow nobody, like an Ingress policy with no rules."""
    assert not AccessPolicy(allow=()).is_allowed("203.0.113.7")


def test_unresolved_can_be_allowed_explicitly() -> None:
    """unresolved=allow lets requests without a client address through, and says why."""
    policy = AccessPolicy.from_cidrs(["10.0.0.0/8"], unresolved=UnresolvedAccess.ALLOW)
    assert policy.decide(None) == AccessDecision(
        allowed=True, rule=None, reason="unresolved: allow"
    )


@pytest.mark.parametrize(
    ("block", "message"),
    [
        pytest.param({"cidr": "10.0.0.1/8"}, "host bits set", id="host-bits"),
        pytest.param({"cidr": "10.0.0.0/33"}, "not a valid CIDR", id="prefix-too-long"),
        pytest.param({"cidr": "10.0.0.1"}, "is not a CIDR", id="bare-address"),
        pytest.param({"cidr": "nope/8"}, "not a valid CIDR", id="junk"),
        pytest.param({"cidr": 10}, "must be a string", id="cidr-not-string"),
        pytest.param({}, "must be a string", id="cidr-missing"),
        pytest.param({"cidr": "10.0.0.0/8", "except": "10.1.0.0/16"}, "list", id="except-str"),
        pytest.param({"cidr": "10.0.0.0/8", "except": [1]}, "list", id="except-not-str"),
        pytest.param({"cidr": "10.0.0.0/8", "Except": []}, "unknown field", id="unknown-field"),
        pytest.param(
            {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}, "strict subset", id="except-equal"
        ),
        pytest.param(
            {"cidr": "10.0.0.0/16", "except": ["10.0.0.0/8"]}, "strict subset", id="except-wider"
        ),
        pytest.param(
            {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}, "strict subset", id="except-outside"
        ),
        pytest.param(
            {"cidr": "10.0.0.0/8", "except": ["2001:db8::/32"]}, "strict subset", id="except-v6"
        ),
        pytest.param(
            {"cidr": "10.0.0.0/8", "except": ["10.1.0.1/16"]}, r"except\[0\]", id="except-host-bits"
        ),
    ],
)
def test_invalid_blocks_are_refused(block: dict[str, object], message: str) -> None:
    """Bad CIDRs and except entries that are not strict subsets fail at construction."""
    with pytest.raises(TrustConfigError, match=message):
        AccessPolicy.from_blocks([block])


def test_parse_cidr_names_the_setting() -> None:
    """The error message names the setting that holds the bad CIDR and shows a fix."""
    with pytest.raises(TrustConfigError, match=r"^limit class 'x' network '1\.2\.3\.4' .*Fix"):
        parse_cidr("1.2.3.4", "limit class 'x' network")


@given(
    st.ip_addresses(v=4),
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=1, max_value=2),
)
def test_block_matches_cidr_minus_except(addr: IPv4Address, prefix: int, extra: int) -> None:
    """contains() equals 'in cidr and not in except' for generated IPv4 blocks."""
    cidr = ip_network((int(addr), prefix), strict=False)
    sub = ip_network((int(addr), prefix + extra), strict=False)
    block = IPBlock(cidr=str(cidr), except_=(str(sub),))
    probe = ip_address(int(addr) ^ 1)
    assert block.contains(probe) == (probe in cidr and probe not in sub)
    assert not block.contains(addr)
