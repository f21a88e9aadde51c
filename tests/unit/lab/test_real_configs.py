"""The generated haproxy.cfg and nginx.conf: the directive each mode and knob turns into.

Every config is also handed to the program's own checker (``haproxy -c``, ``nginx -t``)
when the program is installed; a missing program skips naming its Debian package (fails
under ``CI=true``, as in :mod:`tests.integration.processes`).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from srcip.errors import SrcipError
from srcip.lab.real import (
    HAPROXY,
    NGINX,
    HealthProbe,
    Program,
    Target,
    check_config,
    haproxy_config,
    ingress_nginx_config,
    is_listening,
    run_peer,
)
from srcip.lab.real.process import _proc_address
from srcip.model.ingress import NginxSettings
from srcip.model.loadbalancer import EffectiveHealthCheck, EffectiveLoadBalancer
from srcip.model.scenario import (
    Announcement,
    ForwardedFor,
    HealthCheckProtocol,
    HealthCheckTarget,
    LoadBalancerMode,
    ProxyProtocolVersion,
    TargetType,
    Weighting,
)
from tests.integration.processes import free_port, require_program

TARGETS = (
    Target(name="node-1", host="127.0.0.21", port=30080),
    Target(name="node-2", host="127.0.0.22", port=30080),
)
PROBE = HealthProbe(port=32000)


def make_lb(
    mode: LoadBalancerMode = LoadBalancerMode.SNAT,
    *,
    proxy_protocol: ProxyProtocolVersion = ProxyProtocolVersion.OFF,
    forwarded_for: ForwardedFor = ForwardedFor.APPEND,
    **health: Any,
) -> EffectiveLoadBalancer:
    """A resolved LB; health check: HTTP /healthz on 32000 every 2 s, rise 2, fall 3."""
    check = EffectiveHealthCheck(
        protocol=HealthCheckProtocol.HTTP,
        target=HealthCheckTarget.HEALTH_CHECK_NODE_PORT,
        port=32000,
        path="/healthz",
        interval_seconds=2.0,
        timeout_seconds=1.5,
        healthy_threshold=2,
        unhealthy_threshold=3,
    )
    return EffectiveLoadBalancer(
        provider=None,
        mode=mode,
        proxy_protocol=proxy_protocol,
        weighting=Weighting.EQUAL,
        targets=TargetType.NODE_PORT,
        preserve_client_ip=mode is LoadBalancerMode.PASSTHROUGH,
        cross_zone=True,
        announcement=Announcement.ALL,
        address=ip_address("10.0.0.10"),
        forwarded_for=forwarded_for,
        health_check=replace(check, **health),
    )


def config(lb: EffectiveLoadBalancer, **kwargs: object) -> str:
    """haproxy_config with the test's listener, targets, probe and source."""
    settings: dict[str, object] = {"targets": TARGETS, "health": PROBE, "source": "127.0.0.10"}
    settings.update(kwargs)
    return haproxy_config(lb, listen=("127.0.0.9", 20080), **settings)  # type: ignore[arg-type]


def backend(text: str) -> list[str]:
    """The stripped lines of the backend section."""
    lines = text.split("backend targets\n", 1)[1].splitlines()
    return [line.strip() for line in lines if line.strip()]


def servers(text: str) -> list[str]:
    """The server lines."""
    return [line for line in backend(text) if line.startswith("server ")]


def checked(program: Program, text: str | object) -> None:
    """Hand ``text`` to the program's checker, or skip naming its package."""
    require_program(program.name, program.package)
    check_config(program, text)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- HAProxy


@pytest.mark.parametrize(
    ("lb", "expected", "absent"),
    [
        pytest.param(
            make_lb(LoadBalancerMode.PASSTHROUGH),
            ["mode tcp", "source 127.0.0.10 usesrc clientip"],  # probes from the LB's address
            ["send-proxy", "source 127.0.0.10\n"],
            id="passthrough-binds-client",
        ),
        pytest.param(
            make_lb(LoadBalancerMode.SNAT),
            ["mode tcp", "source 127.0.0.10"],
            ["send-proxy", "usesrc"],
            id="snat-binds-lb",
        ),
        pytest.param(
            make_lb(LoadBalancerMode.PROXY, proxy_protocol=ProxyProtocolVersion.V1),
            ["mode tcp", "source 127.0.0.10", "weight 1 send-proxy check"],
            ["send-proxy-v2"],
            id="proxy-v1",
        ),
        pytest.param(
            make_lb(LoadBalancerMode.PROXY, proxy_protocol=ProxyProtocolVersion.V2),
            ["mode tcp", "send-proxy-v2 check"],
            ["send-proxy "],
            id="proxy-v2",
        ),
        pytest.param(
            make_lb(LoadBalancerMode.HTTP),
            ["mode http", "option forwardfor", "set-header X-Forwarded-Proto http"],
            ["set-header X-Forwarded-For"],
            id="http-append",
        ),
        pytest.param(
            make_lb(LoadBalancerMode.HTTP, forwarded_for=ForwardedFor.REPLACE),
            ["mode http", "http-request set-header X-Forwarded-For %[src]"],
            ["option forwardfor"],
            id="http-replace",
        ),
    ],
)
def test_haproxy_mode_directives(
    lb: EffectiveLoadBalancer, expected: list[str], absent: list[str]
) -> None:
    """Each LB mode turns into its HAProxy mode, source binding, PROXY and XFF directives."""
    text = config(lb)
    for phrase in expected:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text
    checked(HAPROXY, text)


def test_haproxy_health_check_from_lb() -> None:
    """httpchk GET path on the probe port with inter/rise/fall and timeout from the LB."""
    text = config(make_lb())
    assert "timeout check 1500ms" in text
    assert "http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host lb-probe" in text
    assert "http-check expect status 200" in text
    assert servers(text)[0] == (
        "server t0-node-1 127.0.0.21:30080 weight 1 check inter 2000ms rise 2 fall 3 port 32000"
    )


def test_haproxy_probes_a_separate_check_host() -> None:
    """A target whose probe port lives elsewhere (a node behind a VIP alias) gets ``addr``."""
    targets = (replace(TARGETS[0], host="127.0.0.31", check_host="127.0.0.21"),)
    (line,) = servers(config(make_lb(), targets=targets))
    assert line.startswith("server t0-node-1 127.0.0.31:30080 ")
    assert line.endswith("port 32000 addr 127.0.0.21")


@pytest.mark.parametrize(
    ("health", "probe", "absent"),
    [
        pytest.param({"enabled": False}, PROBE, "check", id="disabled"),
        pytest.param({}, None, "check", id="no-probe"),
        pytest.param({"protocol": HealthCheckProtocol.TCP}, PROBE, "httpchk", id="tcp"),
    ],
)
def test_haproxy_without_http_checks(
    health: dict[str, Any], probe: HealthProbe | None, absent: str
) -> None:
    """A disabled check or no probe runs none; a TCP check is a connect without httpchk."""
    text = config(make_lb(**health), health=probe)
    assert absent not in "\n".join(backend(text))
    checked(HAPROXY, text)


def test_haproxy_check_variants() -> None:
    """Status ranges, PROXY probes, HTTPS, traffic-port probes and per-target ports."""
    lb = make_lb(
        success_codes=(200, 202), sends_proxy_header=True, protocol=HealthCheckProtocol.HTTPS
    )
    targets = (replace(TARGETS[0], check_port=32001), TARGETS[1])
    text = config(lb, targets=targets, health=HealthProbe(path="/ready"))
    assert "http-check expect rstatus ^(200|201|202)$" in text
    assert "uri /ready " in text
    first, second = servers(text)
    assert first.endswith("port 32001 check-send-proxy check-ssl verify none")
    assert "port" not in second.split("fall 3")[1].split("check-send-proxy")[0]
    checked(HAPROXY, text)


def test_haproxy_weights_per_source_and_layer2() -> None:
    """Weights, k3s-style per-target SNAT sources and L2's single active target."""
    lb = replace(make_lb(), source_per_target=True, announcement=Announcement.L2)
    targets = (replace(TARGETS[0], weight=3), replace(TARGETS[1], weight=0))
    text = config(lb, targets=targets, source=None)
    first, second = servers(text)
    assert "weight 3 source 127.0.0.21" in first
    assert "backup" not in first
    assert "weight 0 source 127.0.0.22 backup" in second
    assert "source 127.0.0.10" not in text
    checked(HAPROXY, text)


def test_haproxy_ipv6_and_odd_names() -> None:
    """IPv6 listeners and servers are bracketed; server names are made safe and unique."""
    targets = (Target(name="a b/c", host="::1", port=30080), Target(name="", host="::1", port=2))
    text = haproxy_config(
        make_lb(), listen=("::1", 20080), targets=targets, health=None, source="::1"
    )
    assert "bind [::1]:20080" in text
    assert [s.split()[1] for s in servers(text)] == ["t0-a_b_c", "t1"]
    checked(HAPROXY, text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"targets": ()}, "no targets", id="no-targets"),
        pytest.param({"source": None}, "no source address", id="no-source"),
        pytest.param(
            {"targets": (replace(TARGETS[0], weight=257),)}, "out of HAProxy's range", id="weight"
        ),
    ],
)
def test_haproxy_refuses(kwargs: dict[str, object], message: str) -> None:
    """What HAProxy cannot express is a SrcipError naming the fix."""
    with pytest.raises(SrcipError, match=message):
        config(make_lb(LoadBalancerMode.PROXY), **kwargs)


# --------------------------------------------------------------------------- nginx


def nginx_conf(settings: NginxSettings, directory: str = "/tmp/srcip-test") -> str:
    """ingress_nginx_config with the test's listener, one upstream and a source."""
    return ingress_nginx_config(
        settings,
        listen=("127.0.0.30", 20081),
        upstream=[("127.0.0.31", 8080), ("::1", 8080)],
        directory=directory,
        source="127.0.0.30",
    )


def nginx_checked(settings: NginxSettings) -> str:
    """The config, after ``nginx -t`` accepted it in a directory of its own."""
    require_program(NGINX.name, NGINX.package)
    check_config(NGINX, lambda directory: nginx_conf(settings, str(directory)))
    return nginx_conf(settings)


TRUSTED = (ip_network("10.0.0.0/8"), ip_network("192.0.2.1/32"))


@pytest.mark.parametrize(
    ("settings", "expected", "absent"),
    [
        pytest.param(
            NginxSettings(name="ing"),
            ["proxy_set_header X-Forwarded-For $remote_addr;", "listen 127.0.0.30:20081 default"],
            ["real_ip_header", "full_x_forwarded_for", "proxy_protocol default"],
            id="defaults-no-realip",
        ),
        pytest.param(
            NginxSettings(name="ing", use_forwarded_headers=True, proxy_real_ip_cidr=TRUSTED),
            [
                "real_ip_header X-Forwarded-For;",
                "real_ip_recursive on;",
                "set_real_ip_from 10.0.0.0/8;",
                "set_real_ip_from 192.0.2.1/32;",
                "map $http_x_forwarded_proto $srcip_scheme {\n        default"
                " $http_x_forwarded_proto;",
            ],
            ["$full_x_forwarded_for"],
            id="forwarded-headers",
        ),
        pytest.param(
            NginxSettings(name="ing", use_forwarded_headers=True, compute_full_forwarded_for=True),
            [
                "map $http_x_forwarded_for $full_x_forwarded_for {",
                'default "$http_x_forwarded_for, $realip_remote_addr";',
                "'' \"$realip_remote_addr\";",
                "proxy_set_header X-Forwarded-For $full_x_forwarded_for;",
            ],
            [],
            id="compute-full",
        ),
        pytest.param(
            NginxSettings(name="ing", compute_full_forwarded_for=True),
            ["proxy_set_header X-Forwarded-For $remote_addr;"],
            ["$full_x_forwarded_for", "real_ip_header"],
            id="compute-full-alone-is-inert",
        ),
        pytest.param(
            NginxSettings(name="ing", use_proxy_protocol=True),
            [
                "real_ip_header proxy_protocol;",
                "listen 127.0.0.30:20081 proxy_protocol default_server;",
                "443 https;",
                "default $proxy_protocol_server_port;",
            ],
            ["real_ip_header X-Forwarded-For"],
            id="proxy-protocol",
        ),
        pytest.param(
            NginxSettings(name="ing", enable_real_ip=True, forwarded_for_header="X-Client-Chain"),
            [
                "real_ip_header X-Client-Chain;",
                "proxy_set_header X-Original-Forwarded-For $http_x_client_chain;",
                "set_real_ip_from 0.0.0.0/0;",
            ],
            [],
            id="enable-real-ip-custom-header",
        ),
    ],
)
def test_nginx_knob_directives(
    settings: NginxSettings, expected: list[str], absent: list[str]
) -> None:
    """Each ingress-nginx knob turns into the template's directives, and nginx -t accepts it."""
    text = nginx_checked(settings)
    for phrase in expected:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text


def test_nginx_upstream_headers_and_paths() -> None:
    """X-Real-IP, the original XFF, proxy_bind, IPv6 upstreams and every path in the dir."""
    text = nginx_conf(NginxSettings(name="ing"), "/run/x")
    assert "proxy_set_header X-Real-IP $remote_addr;" in text
    assert "proxy_set_header X-Original-Forwarded-For $http_x_forwarded_for;" in text
    assert "proxy_bind 127.0.0.30;" in text
    assert "server [::1]:8080;" in text
    assert "pid /run/x/nginx.pid;" in text
    assert "proxy_temp_path /run/x/proxy;" in text
    bare = ingress_nginx_config(
        NginxSettings(name="ing"), listen=("::1", 1), upstream=[("::1", 2)], directory="/d"
    )
    assert "proxy_bind" not in bare
    assert "listen [::1]:1 default_server;" in bare


@pytest.mark.parametrize(
    ("settings", "upstream", "message"),
    [
        pytest.param(NginxSettings(name="ing"), [], "no backend", id="no-upstream"),
        pytest.param(
            NginxSettings(name="ing", use_forwarded_headers=True, use_proxy_protocol=True),
            [("127.0.0.1", 1)],
            "libnginx-mod-http-headers-more-filter",
            id="forwarded-with-proxy-protocol",
        ),
    ],
)
def test_nginx_refuses(
    settings: NginxSettings, upstream: list[tuple[str, int]], message: str
) -> None:
    """What Debian's nginx cannot do is a SrcipError naming the fix."""
    with pytest.raises(SrcipError, match=message):
        ingress_nginx_config(settings, listen=("127.0.0.1", 1), upstream=upstream, directory="/d")


# --------------------------------------------------------------------------- process


def test_check_config_reports_the_programs_complaint() -> None:
    """A config the program refuses is a SrcipError quoting its output."""
    require_program(HAPROXY.name, HAPROXY.package)
    with pytest.raises(SrcipError, match="haproxy refuses the generated config"):
        check_config(HAPROXY, "frontend x\n    no-such-keyword 1\n")


def test_missing_program_names_the_debian_package() -> None:
    """A program that is not installed is a SrcipError naming the package to install."""
    ghost = Program(name="srcip-no-such-proxy", package="srcip-ghost", run_args=(), check_args=())
    with pytest.raises(SrcipError, match="install the Debian package srcip-ghost"):
        check_config(ghost, "")

    async def scenario() -> None:
        async with run_peer(ghost, "", listen=[]):
            pass  # pragma: no cover - never entered

    with pytest.raises(SrcipError, match="apt-get install srcip-ghost"):
        asyncio.run(scenario())


def test_run_peer_starts_listens_and_cleans_up(tmp_path: Path) -> None:
    """run_peer returns once HAProxy listens and leaves no process or directory behind."""
    require_program(HAPROXY.name, HAPROXY.package)
    port = free_port("127.0.0.41")
    text = haproxy_config(
        make_lb(),
        listen=("127.0.0.41", port),
        targets=TARGETS[:1],
        health=None,
        source="127.0.0.10",
    )

    async def scenario() -> tuple[int, Path, str]:
        async with run_peer(HAPROXY, text, listen=[("127.0.0.41", port)]) as peer:
            assert is_listening("127.0.0.41", port)
            assert peer.config_path.read_text() == text
            return peer.pid, peer.directory, peer.log_text()

    pid, directory, _ = asyncio.run(scenario())
    assert not directory.exists()
    assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)
    assert not is_listening("127.0.0.41", port)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"


def test_run_peer_reports_a_failed_start() -> None:
    """A program that exits at start is a SrcipError with its log; nothing is left over."""
    require_program(HAPROXY.name, HAPROXY.package)

    async def scenario() -> None:
        refused = "frontend x\n    no-such-keyword 1\n"
        async with run_peer(HAPROXY, refused, listen=[("127.0.0.1", 1)]):
            pass  # pragma: no cover - never entered

    with pytest.raises(SrcipError, match="haproxy exited with"):
        asyncio.run(scenario())


def test_run_peer_times_out_when_nothing_listens() -> None:
    """A listener that never appears ends the wait after the bound, with the log."""
    require_program(NGINX.name, NGINX.package)
    port = free_port("127.0.0.42")
    other = free_port("127.0.0.43")

    def render(directory: Path) -> str:
        return ingress_nginx_config(
            NginxSettings(name="ing"),
            listen=("127.0.0.42", port),
            upstream=[("127.0.0.1", 1)],
            directory=str(directory),
        )

    async def scenario() -> None:
        async with run_peer(NGINX, render, listen=[("127.0.0.43", other)], ready_timeout=0.3):
            pass  # pragma: no cover - never entered

    with pytest.raises(SrcipError, match=r"nginx did not listen within 0\.3 s"):
        asyncio.run(scenario())


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        pytest.param("127.0.0.1", 8080, "0100007F:1F90", id="v4"),
        pytest.param("::1", 80, "00000000000000000000000001000000:0050", id="v6"),
    ],
)
def test_proc_address_format(host: str, port: int, expected: str) -> None:
    """Addresses are spelled as /proc/net/tcp prints them on a little-endian machine."""
    import sys

    if sys.byteorder != "little":  # pragma: no cover - every CI machine is little-endian
        pytest.skip("the expected spellings are little-endian")
    assert _proc_address(host, port) == expected


IGNORES_SIGTERM = """
import signal, socket, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sock = socket.socket()
sock.bind(("127.0.0.44", int(sys.argv[1])))
sock.listen()
time.sleep(60)
"""


def test_run_peer_kills_a_peer_that_ignores_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer still alive after the SIGTERM bound is killed and reaped."""
    import sys

    from srcip.lab.real import process

    monkeypatch.setattr(process, "STOP_TIMEOUT_S", 0.3)
    port = free_port("127.0.0.44")
    stubborn = Program(
        name=Path(sys.executable).name,
        package="python3",
        run_args=("-c", IGNORES_SIGTERM, str(port)),
        check_args=(),
    )
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))

    async def scenario() -> int:
        async with run_peer(stubborn, "", listen=[("127.0.0.44", port)]) as peer:
            return peer.pid

    pid = asyncio.run(scenario())
    assert not Path(f"/proc/{pid}").exists()
    assert not is_listening("127.0.0.44", port)


def test_is_listening_connects_without_proc(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without /proc/net the check is a TCP connect."""
    import socket

    from srcip.lab.real import process

    monkeypatch.setattr(process, "PROC_NET", tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.45", 0))
        port = sock.getsockname()[1]
        assert not is_listening("127.0.0.45", port)
        sock.listen()
        assert is_listening("127.0.0.45", port)
