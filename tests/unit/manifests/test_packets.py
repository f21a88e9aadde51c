"""Reading a packets file for ``srcip route --packets``."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest

from srcip.errors import ManifestError
from srcip.manifests.packets import load_packets
from srcip.model.enums import Protocol


def write(tmp_path: Path, text: str) -> Path:
    """Write ``text`` to a packets file and return its path."""
    path = tmp_path / "packets.yaml"
    path.write_text(text)
    return path


def test_reads_yaml_and_json_lists(tmp_path: Path) -> None:
    """A YAML or JSON list becomes packets; protocol defaults to TCP and is case-insensitive."""
    yaml_path = write(
        tmp_path,
        "- {src: 203.0.113.7, dst: 10.0.0.1, port: 80}\n"
        "- {src: '2001:db8::1', dst: 'fd00::1', port: 53, protocol: udp}\n",
    )
    first, second = load_packets(yaml_path)
    assert first.src == ip_address("203.0.113.7")
    assert first.protocol is Protocol.TCP
    assert second.dst == ip_address("fd00::1")
    assert second.protocol is Protocol.UDP
    json_path = tmp_path / "p.json"
    json_path.write_text('[{"src": "1.2.3.4", "dst": "5.6.7.8", "port": 1, "protocol": "SCTP"}]')
    (only,) = load_packets(json_path)
    assert only.protocol is Protocol.SCTP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("{}", "expected a non-empty list", id="not-a-list"),
        pytest.param("[]", "expected a non-empty list", id="empty"),
        pytest.param("[: bad", "not valid YAML", id="syntax"),
        pytest.param("- 5", "must be a mapping", id="item-not-mapping"),
        pytest.param(
            "- {src: 1.2.3.4, dst: 5.6.7.8, port: 80, ttl: 3}", "unknown field 'ttl'", id="unknown"
        ),
        pytest.param(
            "- {src: 1.2.3.999, dst: 5.6.7.8, port: 80}", "field src = '1.2.3.999'", id="bad-src"
        ),
        pytest.param("- {dst: 5.6.7.8, port: 80}", "field src", id="missing-src"),
        pytest.param("- {src: 1.2.3.4, dst: 5.6.7.8, port: 0}", "field port = 0", id="port-zero"),
        pytest.param(
            "- {src: 1.2.3.4, dst: 5.6.7.8, port: true}", "field port = True", id="port-bool"
        ),
        pytest.param(
            "- {src: 1.2.3.4, dst: 5.6.7.8, port: '80'}", "field port = '80'", id="port-str"
        ),
        pytest.param(
            "- {src: 1.2.3.4, dst: 5.6.7.8, port: 80, protocol: ICMP}",
            "field protocol = 'ICMP'",
            id="protocol",
        ),
    ],
)
def test_bad_packets_name_file_item_and_field(tmp_path: Path, text: str, expected: str) -> None:
    """Every problem is a ManifestError naming the file (and item and field where known)."""
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_packets(path)
    assert expected in str(info.value)
    assert "packets.yaml" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    """A missing packets file is a ManifestError naming it."""
    with pytest.raises(ManifestError, match="cannot read the packets file"):
        load_packets(tmp_path / "absent.yaml")
