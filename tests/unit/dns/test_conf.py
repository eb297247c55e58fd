"""The `resolvers` section, the servers' DNS options, `init-addr` and `server-template`,
as `weir -c` reads them (checked against `haproxy -c` 2.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.config.address import Family
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Config
from weir.dns.conf import ResolversConf, ServerDns, read_resolv_conf
from weir.dns.template import template_range

HEAD = """\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
"""
SECTION = """\
resolvers dns
    nameserver ns1 127.0.0.1:5353
    nameserver ns2 udp@[::1]:53
    resolve_retries 5
    timeout resolve 2s
    timeout retry 300ms
    hold valid 100ms
    hold nx 2s
    hold obsolete 1s
    accepted_payload_size 8192
"""


def _load(tmp_path: Path, text: str) -> tuple[Config, Diagnostics]:
    path = tmp_path / "w.cfg"
    path.write_text(text)
    diags = Diagnostics()
    return load([str(path)], diags, env={}), diags


def _messages(diags: Diagnostics, level: Level = Level.ALERT) -> list[str]:
    return [d.format(pid=1) for d in diags.items if d.level is level]


def test_section_keywords(tmp_path: Path) -> None:
    cfg, diags = _load(tmp_path, SECTION + HEAD + "backend b\n    server s 127.0.0.1:80\n")
    assert _messages(diags) == []
    rs = cfg.resolvers["dns"]
    assert isinstance(rs, ResolversConf)
    assert [(n.name, n.host, n.port) for n in rs.nameservers.values()] == [
        ("ns1", "127.0.0.1", 5353),
        ("ns2", "::1", 53),
    ]
    assert (rs.resolve_retries, rs.timeout_resolve, rs.timeout_retry) == (5, 2000, 300)
    assert rs.hold == {
        "nx": 2000, "other": 30000, "refused": 30000, "timeout": 30000, "valid": 100,
        "obsolete": 1000,
    }  # fmt: skip
    assert rs.accepted_payload_size == 8192


def test_section_mistakes_are_reported_with_their_line(tmp_path: Path) -> None:
    text = (
        "resolvers dns\n"
        "    nameserver ns1 127.0.0.1:53\n"
        "    nameserver ns1 127.0.0.2:53\n"  # 3
        "    nameserver ns2 tcp@127.0.0.1:53\n"  # 4
        "    nameserver ns3 dns.example:53\n"  # 5
        "    nameserver ns4 127.0.0.1\n"  # 6
        "    hold bogus 1s\n"  # 7
        "    accepted_payload_size 70000\n"  # 8
        "    frobnicate\n"  # 9
        "resolvers dns\n"  # 10
    )
    _, diags = _load(tmp_path, text + HEAD + "backend b\n    server s 127.0.0.1:80\n")
    found = _messages(diags)
    lines = [d.where.line for d in diags.items if d.level is Level.ALERT and d.where]
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "has same name as another nameserver (declared at" in found[0]
    assert "'tcp@' nameservers (DNS over TCP)" in found[1]
    assert "unknown <event>: 'bogus'" in found[4]
    assert "must be between 12 and 65535 inclusive (was 70000)" in found[5]
    assert "unknown keyword 'frobnicate' in 'resolvers' section" in found[6]


def test_server_options(tmp_path: Path) -> None:
    cfg, diags = _load(
        tmp_path,
        SECTION
        + HEAD
        + "backend b\n"
        + "    default-server resolvers dns init-addr none\n"
        + "    server s1 app.invalid:80 resolve-prefer ipv4 resolve-net 10.0.0.0/8,fd00::/8 "
        + "resolve-opts allow-dup-ip,ignore-weight\n"
        + "    server s2 127.0.0.1:81\n",
    )
    assert _messages(diags) == []
    s1, s2 = cfg.backends["b"].servers
    dns = s1.dns
    assert isinstance(dns, ServerDns)
    assert dns.resolvers == "dns"
    assert dns.prefer is Family.IPV4
    assert [str(n) for n in dns.nets] == ["10.0.0.0/8", "fd00::/8"]
    assert dns.allow_dup_ip
    assert dns.ignore_weight
    assert dns.init_addr == ("none",)
    assert s1.address is not None
    assert (s1.address.fqdn, s1.address.host, s1.address.port_low) == ("app.invalid", "", 80)
    assert s2.address is not None
    assert s2.address.host == "127.0.0.1"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("resolve-prefer ipv5", "'resolve-prefer' expects either ipv4 or ipv6 as argument."),
        ("resolve-opts bogus", "unknown resolve-opts option 'bogus'"),
        ("resolve-net 10.0.0.0/33", "'resolve-net' invalid network '10.0.0.0/33'."),
        ("init-addr libc,bogus", "unknown init-addr method 'bogus'"),
    ],
)
def test_bad_server_options(tmp_path: Path, option: str, message: str) -> None:
    _, diags = _load(tmp_path, HEAD + f"backend b\n    server s 127.0.0.1:80 {option}\n")
    [found] = _messages(diags)
    assert message in found
    assert "w.cfg:7]" in found


def test_unknown_resolvers_on_a_server_is_an_error_at_its_line(tmp_path: Path) -> None:
    _, diags = _load(
        tmp_path,
        SECTION + HEAD + "backend b\n    server s1 a.invalid:80 resolvers nope init-addr none\n",
    )
    [found] = _messages(diags)
    assert "w.cfg:17]" in found
    assert "backend 'b', server 's1': unable to find required resolvers 'nope'" in found


def test_init_addr_methods(tmp_path: Path) -> None:
    cfg, diags = _load(
        tmp_path,
        SECTION
        + HEAD
        + "backend b\n"
        + "    server s1 localhost:80 resolvers dns\n"  # libc works
        + "    server s2 a.invalid:80 resolvers dns\n"  # last,libc,none: disabled, warned
        + "    server s3 a.invalid:80 init-addr libc,192.0.2.9\n"  # falls back, warned
        + "    server s4 a.invalid:80 init-addr none\n",  # silently without address
    )
    assert _messages(diags) == []
    warnings = _messages(diags, Level.WARNING)
    assert len(warnings) == 2
    assert "'server b/s2' : could not resolve address 'a.invalid', disabling server." in warnings[0]
    assert "'server b/s3' : could not resolve address 'a.invalid', falling back" in warnings[1]
    hosts = [s.address.host for s in cfg.backends["b"].servers if s.address is not None]
    assert hosts[0] in ("127.0.0.1", "::1")
    assert hosts[1:] == ["", "192.0.2.9", ""]


def test_a_name_that_does_not_resolve_without_a_fallback_is_an_error(tmp_path: Path) -> None:
    _, diags = _load(tmp_path, HEAD + "backend b\n    server s1 a.invalid:80\n")
    [found] = _messages(diags)
    assert "'server b/s1' : could not resolve address 'a.invalid'." in found


def test_init_addr_last_reads_the_server_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text(
        "1\n# be_id be_name srv_id srv_name srv_addr ...\n"
        "3 b 1 s1 192.0.2.44 2 0 1 1 10 1 0 0 0 0 0 0 a.invalid 80 - 0 0 - - 0\n"
    )
    cfg, diags = _load(
        tmp_path,
        f"global\n    server-state-file {state}\n"
        + HEAD
        + "backend b\n    load-server-state-from-file global\n"
        + "    server s1 a.invalid:80 init-addr last\n",
    )
    assert _messages(diags) == []
    s1 = cfg.backends["b"].servers[0]
    assert s1.address is not None
    assert s1.address.host == "192.0.2.44"


def test_server_template(tmp_path: Path) -> None:
    cfg, diags = _load(
        tmp_path,
        SECTION
        + HEAD
        + "backend b\n"
        + "    server-template web 2-4 a.invalid:8080 check resolvers dns init-addr none\n"
        + "    server-template x 0 a.invalid:80\n"
        + "    server-template y 2 127.0.0.1\n",
    )
    [found] = _messages(diags)
    assert "Wrong server-template number or range arg '0'." in found
    servers = cfg.backends["b"].servers
    assert [s.name for s in servers] == ["web2", "web3", "web4", "y1", "y2"]
    assert [s.puid for s in servers] == [1, 2, 3, 4, 5]
    assert all(s.check.enabled for s in servers[:3])
    assert servers[3].address is not None
    assert servers[3].address.port_low == 0


def test_template_ranges() -> None:
    assert template_range("3") == range(1, 4)
    assert template_range("5-7") == range(5, 8)
    assert template_range("0") is None
    assert template_range("5-3") is None
    assert template_range("a") is None


def test_srv_labels_are_refused_with_resolvers(tmp_path: Path) -> None:
    _, diags = _load(
        tmp_path,
        SECTION + HEAD + "backend b\n    server-template s 2 _http._tcp.a.invalid resolvers dns "
        "init-addr none\n",
    )
    assert any("SRV records are HAProxy's but weir" in m for m in _messages(diags))


def test_resolv_conf_lines() -> None:
    found, warnings = read_resolv_conf(
        "# comment\nnameserver 10.0.0.53\nnameserver\nnameserver bogus\nsearch x\nnameserver ::1\n"
    )
    assert found == ["10.0.0.53", "::1"]
    assert len(warnings) == 2
