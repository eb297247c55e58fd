"""The Prometheus exporter: metric names, types and labels as HAProxy 2.6's, parsed by the
`prometheus_client` text parser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from stats_runtime import stats_keywords

from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.proxy.runtime import Runtime, build
from weir.stats.fields import Clock
from weir.stats.prometheus import BadQueryError, Query, parse_query, render
from weir.stream import Stream

CONFIG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe1
    bind 127.0.0.1:18080
    acl metrics path /metrics
    http-request use-service prometheus-exporter if metrics
    default_backend be1
backend be1
    server s1 127.0.0.1:18081 check
    server s2 127.0.0.1:18082 weight 20 maxconn 30
    server s3 127.0.0.1:18083 disabled
listen tcp1
    mode tcp
    bind 127.0.0.1:18090
    server t1 127.0.0.1:18091
"""


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    with stats_keywords():
        yield


def _runtime(tmp_path: Path, text: str = CONFIG) -> Runtime:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not diags.has_errors(), [d.message for d in diags.errors]
    return build(cfg)


def _families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _clock() -> Clock:
    return Clock.now(0.0, 0.0)


def test_exposition_parses_with_haproxys_names_and_types(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    s1 = rt.backends["be1"].servers[0]
    s1.check_status, s1.check_health, s1.check_code, s1.check_duration_ms = "L7OK", 4, 200, 3
    text = render(rt, _clock())
    fams = _families(text)
    # prometheus_client strips `_total` from counter family names
    for name, typ in [
        ("haproxy_process_nbthread", "gauge"),
        ("haproxy_process_uptime_seconds", "gauge"),
        ("haproxy_process_connections", "counter"),
        ("haproxy_process_build_info", "gauge"),
        ("haproxy_frontend_current_sessions", "gauge"),
        ("haproxy_frontend_http_requests", "counter"),
        ("haproxy_frontend_status", "gauge"),
        ("haproxy_backend_http_responses", "counter"),
        ("haproxy_backend_status", "gauge"),
        ("haproxy_backend_agg_server_status", "gauge"),
        ("haproxy_server_check_status", "gauge"),
        ("haproxy_server_weight", "gauge"),
        ("haproxy_server_status", "gauge"),
    ]:
        assert name in fams, name
        assert fams[name].type == typ, name  # type: ignore[attr-defined]
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in fams.values()
        for s in f.samples  # type: ignore[attr-defined]
    }
    assert samples["haproxy_backend_http_responses_total", (("code", "2xx"), ("proxy", "be1"))] == 0
    assert samples["haproxy_server_weight", (("proxy", "be1"), ("server", "s2"))] == 20
    assert samples["haproxy_server_limit_sessions", (("proxy", "be1"), ("server", "s2"))] == 30
    status = ("haproxy_server_status", (("proxy", "be1"), ("server", "s3"), ("state", "MAINT")))
    assert samples[status] == 1
    check = ("haproxy_server_check_status", (("proxy", "be1"), ("server", "s1"), ("state", "L7OK")))
    assert samples[check] == 1
    assert samples["haproxy_server_check_code", (("proxy", "be1"), ("server", "s1"))] == 200
    assert (
        samples["haproxy_server_check_duration_seconds", (("proxy", "be1"), ("server", "s1"))]
        == 0.003
    )
    # only checked servers have check series; tcp proxies have no HTTP series
    assert (
        "haproxy_server_check_status",
        (("proxy", "be1"), ("server", "s2"), ("state", "L7OK")),
    ) not in samples
    assert not any(
        k[0] == "haproxy_frontend_http_requests_total" and ("proxy", "tcp1") in k[1]
        for k in samples
    )
    assert samples["haproxy_frontend_status", (("proxy", "fe1"), ("state", "UP"))] == 1
    assert samples["haproxy_backend_agg_server_status", (("proxy", "be1"), ("state", "UP"))] == 2


def test_layout_follows_haproxy(tmp_path: Path) -> None:
    text = render(_runtime(tmp_path), _clock())
    lines = text.splitlines()
    assert lines[0].startswith("# HELP haproxy_process_nbthread ")
    assert lines[1] == "# TYPE haproxy_process_nbthread gauge"
    assert lines[2] == "haproxy_process_nbthread 1"
    assert "haproxy_process_current_zlib_memory NaN" in lines
    assert 'haproxy_process_build_info{version="2.6.12-weir-0.1.0"} 1' in lines
    # one header per metric, even for the six HTTP response classes
    assert text.count("# TYPE haproxy_server_http_responses_total counter") == 1
    i = lines.index('haproxy_server_http_responses_total{proxy="be1",server="s1",code="1xx"} 0')
    assert (
        lines[i + 1] == 'haproxy_server_http_responses_total{proxy="be1",server="s2",code="1xx"} 0'
    )
    assert 'haproxy_backend_queue_time_average_seconds{proxy="be1"} 0.000000' in lines
    assert 'haproxy_server_limit_sessions{proxy="be1",server="s1"} NaN' in lines
    # families come in HAProxy's order: process, frontend, backend, server
    order = [line.split()[2].split("_")[1] for line in lines if line.startswith("# TYPE")]
    assert order == sorted(order, key=["process", "frontend", "backend", "server"].index)


def test_scope_and_no_maint(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    only_fe = render(rt, _clock(), parse_query(b"/metrics?scope=frontend"))
    assert "haproxy_frontend_" in only_fe
    assert "haproxy_process_" not in only_fe
    assert "haproxy_server_" not in only_fe
    two = render(rt, _clock(), parse_query("/metrics?scope=global&scope=server"))
    assert "haproxy_process_" in two
    assert "haproxy_server_" in two
    assert "haproxy_backend_" not in two
    assert render(rt, _clock(), parse_query("/metrics?scope=")) == ""
    no_maint = render(rt, _clock(), parse_query("/metrics?no-maint"))
    assert 'server="s3"' not in no_maint
    assert parse_query("/metrics") == Query()
    with pytest.raises(BadQueryError):
        parse_query("/metrics?scope=bogus")
    with pytest.raises(BadQueryError):
        parse_query("/metrics?scope")


def test_service_matches_its_condition_and_answers(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    fe = rt.frontends[0]
    service = fe.stats
    assert service is not None
    assert service.prometheus is not None
    from weir.proto.h1 import parse_request_head

    def stream(target: bytes) -> Stream:
        s = Stream("127.0.0.1", 5000, fe)
        found = parse_request_head(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert found is not None
        s.req = found[0]
        return s

    assert service.matches(b"GET", b"/metrics", stream(b"/metrics"))
    assert not service.matches(b"GET", b"/other", stream(b"/other"))
    # no stats page here: without the Stream nothing matches
    assert not service.matches(b"GET", b"/metrics")
    response = service.handle(b"GET", b"/metrics", None, stream=stream(b"/metrics"))
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-type: text/plain; version=0.0.4" in head
    assert b"haproxy_frontend_current_sessions" in body
    bad = service.handle(b"GET", b"/metrics?scope=x", None, stream=stream(b"/metrics?scope=x"))
    assert bad.startswith(b"HTTP/1.1 400 ")


def test_only_the_prometheus_service_and_only_use_service(tmp_path: Path) -> None:
    def errors(line: str) -> list[str]:
        path = tmp_path / "bad.cfg"
        path.write_text(
            CONFIG.replace(
                "    http-request use-service prometheus-exporter if metrics\n", line + "\n"
            )
        )
        diags = Diagnostics()
        load([str(path)], diags, env={})
        return [d.message for d in diags.errors]

    assert (
        "the only service weir has is 'prometheus-exporter'"
        in errors("    http-request use-service lua.hello")[0]
    )
    assert (
        "requires either 'if' or 'unless'"
        in errors("    http-request use-service prometheus-exporter when metrics")[0]
    )
    assert "unknown ACL" in errors("    http-request use-service prometheus-exporter if nope")[0]
    assert "weir does not support yet" in errors("    http-request send-spoe-group a b")[0]
    assert errors("    http-request use-service prometheus-exporter") == []


def test_tcp_proxy_warns_and_serves_nothing(tmp_path: Path) -> None:
    text = (
        CONFIG + "\nlisten t2\n    mode tcp\n    bind 127.0.0.1:18095\n"
        "    http-request use-service prometheus-exporter\n    server x 127.0.0.1:1\n"
    )
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    warnings = [d.message for d in diags.warnings]
    assert any("'http-request' rules ignored for listen 't2'" in w for w in warnings)
    rt = build(cfg)
    assert next(f for f in rt.frontends if f.name == "t2").stats is None
