"""The parsers' fast constructors build exactly what the dataclass constructors build."""

from __future__ import annotations

from dataclasses import fields

import pytest

from srcip.proxyproto import Command, Family, ProxyHeader, SslClient, SslTLV, Transport, UnknownTLV
from srcip.proxyproto._slots import maker1, maker2, maker3, setters, text_maker
from srcip.proxyproto.header import make_header
from srcip.proxyproto.tlv import AlpnTLV, AuthorityTLV


def test_makers_equal_constructors() -> None:
    """Each maker's object equals, hashes and prints like the constructor's."""
    pairs = [
        (maker1(AlpnTLV, "protocol")(b"h2"), AlpnTLV(protocol=b"h2")),
        (text_maker(AuthorityTLV, "host", "utf-8")(b"a.example"), AuthorityTLV(host="a.example")),
        (maker2(UnknownTLV, "type", "value")(7, b"x"), UnknownTLV(type=7, value=b"x")),
        (
            maker3(SslTLV, "client", "verify", "sub_tlvs")(SslClient.SSL, 0, ()),
            SslTLV(client=SslClient.SSL),
        ),
    ]
    for made, built in pairs:
        assert made == built
        assert hash(made) == hash(built)
        assert repr(made) == repr(built)


def test_make_header_equals_the_constructor() -> None:
    """make_header sets every field the dataclass declares."""
    made = make_header(
        2, Command.LOCAL, Family.UNSPEC, Transport.UNSPEC, None, None, None, None, (), 16
    )
    built = ProxyHeader(
        version=2,
        command=Command.LOCAL,
        family=Family.UNSPEC,
        transport=Transport.UNSPEC,
        consumed=16,
    )
    assert made == built
    assert all(getattr(made, f.name) == getattr(built, f.name) for f in fields(ProxyHeader))


def test_made_objects_stay_frozen() -> None:
    """Objects from a maker refuse assignment like any frozen dataclass."""
    made = maker1(AlpnTLV, "protocol")(b"h2")
    with pytest.raises(AttributeError):
        made.protocol = b"x"  # type: ignore[misc]


@pytest.mark.parametrize("names", [(), ("value",), ("value", "type"), ("type", "value", "extra")])
def test_setters_require_every_field_in_order(names: tuple[str, ...]) -> None:
    """A maker that does not name every field, in order, cannot be created."""
    with pytest.raises(TypeError, match="UnknownTLV has fields"):
        setters(UnknownTLV, *names)
