"""UDP answers: agnhost netexec's commands, and the JSON default."""

from __future__ import annotations

import json

import pytest

from srcip.net.peerkind import PeerKind, PodEnvironment
from srcip.net.udp import MAX_REPLY, udp_reply

ENV = PodEnvironment.from_env({"POD_NAME": "echo-1"})


def _reply(data: bytes, peer: tuple[str, int] = ("10.0.0.2", 5555)) -> bytes:
    return udp_reply(
        data, peer, ("10.244.1.5", 9000), hostname="echo-1", env=ENV, peer_kind=PeerKind.NODE
    )


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        (b"hostname", b"echo-1"),
        (b"hostname\n", b"echo-1"),
        (b"clientip", b"10.0.0.2:5555"),
        (b"echo hello world", b"hello world"),
        (b"echo ", b""),
    ],
)
def test_agnhost_commands(data: bytes, answer: bytes) -> None:
    """hostname, clientip and echo answer as agnhost netexec does."""
    assert _reply(data) == answer


def test_clientip_ipv6_is_bracketed() -> None:
    """An IPv6 sender is written [addr]:port."""
    assert _reply(b"clientip", ("2001:db8::7", 53)) == b"[2001:db8::7]:53"


def test_other_datagrams_get_json() -> None:
    """Anything else gets the sender, local address, peer kind, pod and size as JSON."""
    doc = json.loads(_reply(b"\x00\x01 anything"))
    assert doc == {
        "peer": {"ip": "10.0.0.2", "port": 5555},
        "local": {"ip": "10.244.1.5", "port": 9000},
        "peer_kind": "node",
        "pod": {"name": "echo-1", "namespace": None, "node": None, "ip": None},
        "hostname": "echo-1",
        "bytes": 11,
    }


def test_echo_is_capped() -> None:
    """An echo answer never exceeds one datagram."""
    assert len(_reply(b"echo " + b"x" * 70000)) == MAX_REPLY
