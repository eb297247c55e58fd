"""HAProxy 2.6 vocabulary tables: spot checks of well-known facts and internal consistency."""

from __future__ import annotations

import re

import pytest

from weir.config import catalog as c

LETTERS = re.compile(r"d?f?l?b?")


# --------------------------------------------------------------------------- proxy sections


@pytest.mark.parametrize(
    ("keyword", "sections"),
    [
        ("balance", "dlb"),
        ("bind", "fl"),
        ("use_backend", "fl"),
        ("default_backend", "dfl"),
        ("server", "lb"),
        ("default-server", "dlb"),
        ("mode", "dflb"),
        ("maxconn", "dfl"),
        ("fullconn", "dlb"),
        ("stick-table", "flb"),
        ("monitor-uri", "dfl"),
        ("cookie", "dlb"),
        ("http-request", "dflb"),
        ("tcp-response", "dlb"),
    ],
)
def test_proxy_keyword_sections(keyword: str, sections: str) -> None:
    assert c.PROXY[keyword] == sections


def test_frontend_and_backend_only_keywords() -> None:
    assert "f" not in c.PROXY["balance"]
    assert "b" not in c.PROXY["bind"]
    assert "d" not in c.PROXY["bind"]
    assert "d" not in c.PROXY["use_backend"]


def test_every_section_string_is_made_of_dflb_in_order() -> None:
    tables = {
        "PROXY": c.PROXY,
        "PROXY_COMPOUND": c.PROXY_COMPOUND,
        "OPTIONS": c.OPTIONS,
        "TIMEOUTS": c.TIMEOUTS,
        "STATS": c.STATS,
    }
    for name, table in tables.items():
        for keyword, letters in table.items():
            assert letters, f"{name}[{keyword!r}] is empty"
            assert set(letters) <= set("dflb"), f"{name}[{keyword!r}] = {letters!r}"
            assert LETTERS.fullmatch(letters), f"{name}[{keyword!r}] not in dflb order"


def test_compound_openers_cover_their_second_words() -> None:
    for key, letters in c.PROXY_COMPOUND.items():
        first = key.split()[0]
        assert first in c.PROXY, key
        assert set(letters) <= set(c.PROXY[first]), key
    for table, first in ((c.OPTIONS, "option"), (c.TIMEOUTS, "timeout"), (c.STATS, "stats")):
        union = set().union(*(set(v) for v in table.values()))
        assert union == set(c.PROXY[first])


def test_options() -> None:
    assert c.OPTIONS["httpchk"] == "dlb"
    assert c.OPTIONS["forwardfor"] == "dflb"
    assert c.OPTIONS["httplog"] == "dfl"
    assert c.OPTIONS["redispatch"] == "dlb"
    assert "http-use-htx" not in c.OPTIONS
    assert "redispatch" in c.NO_OPTION_OK
    assert "httplog" not in c.NO_OPTION_OK
    assert "httpchk" not in c.NO_OPTION_OK
    assert c.NO_OPTION_OK.issubset(c.OPTIONS)


def test_timeouts_and_stats() -> None:
    assert c.TIMEOUTS["http-request"] == "dflb"
    assert c.TIMEOUTS["client"] == "dfl"
    assert c.TIMEOUTS["connect"] == "dlb"
    assert c.STATS["uri"] == "dflb"
    assert c.STATS["admin"] == "flb"
    assert "socket" in c.STATS_GLOBAL
    assert "socket" not in c.STATS


def test_named_defaults_only_keywords_are_allowed_in_defaults() -> None:
    for keyword in c.NAMED_DEFAULTS_ONLY:
        assert "d" in c.PROXY[keyword]


# --------------------------------------------------------------------------- lookups


@pytest.mark.parametrize(
    ("words", "sections"),
    [
        (["option", "forwardfor"], "dflb"),
        (["timeout", "client", "5s"], "dfl"),
        (["no", "option", "redispatch"], "dlb"),
        (["stats", "uri", "/stats"], "dflb"),
        (["capture", "request", "header", "Host", "len", "20"], "fl"),
        (["tcp-request", "connection", "accept"], "dfl"),
        (["http-check", "set-var(check.x)", "int(1)"], "dlb"),
        (["persist", "rdp-cookie(mstshash)"], "dlb"),
        (["balance", "roundrobin"], "dlb"),
    ],
)
def test_proxy_keyword_sections_of_lines(words: list[str], sections: str) -> None:
    assert c.proxy_keyword_sections(words) == sections
    assert c.known_proxy_keyword(words)


@pytest.mark.parametrize(
    "words",
    [
        [],
        ["option"],
        ["option", "http-use-htx"],
        ["timeout", "appsession"],
        ["stats", "socket", "/run/x.sock"],
        ["capture", "request"],
        ["tcp-request", "bogus"],
        ["http-check", "send-lf"],
        ["reqadd", "X-Foo:\\ bar"],
        ["balanse", "roundrobin"],
        ["usesrc", "clientip"],
    ],
)
def test_unknown_proxy_lines(words: list[str]) -> None:
    assert not c.known_proxy_keyword(words)


def test_removed_hint_prefers_two_word_keys() -> None:
    hint = c.removed_hint(["option", "http_proxy"])
    assert hint is not None
    assert "2.5" in hint
    assert c.removed_hint(["no", "option", "forceclose"]) == c.REMOVED["option forceclose"]
    assert c.removed_hint(["contimeout", "5s"]) == c.REMOVED["contimeout"]
    assert c.removed_hint(["option", "httplog"]) is None
    assert c.removed_hint([]) is None


def test_action_family() -> None:
    assert c.action_family("sc-inc-gpc0(0)") == "sc-inc-gpc0"
    assert c.action_family("sc-inc-gpc(1,2)") == "sc-inc-gpc"
    assert c.action_family("set-var(txn.x,ifnotexists)") == "set-var"
    assert c.action_family("track-sc1") == "track-sc1"
    assert c.action_family("deny") == "deny"


# --------------------------------------------------------------------------- actions


def test_http_actions() -> None:
    for action in ("deny", "redirect", "set-header", "return", "track-sc2", "set-var"):
        assert action in c.HTTP_REQUEST_ACTIONS
    assert c.action_family("sc-inc-gpc0(0)") in c.HTTP_REQUEST_ACTIONS
    assert "set-status" in c.HTTP_RESPONSE_ACTIONS
    assert "set-status" not in c.HTTP_REQUEST_ACTIONS
    assert "set-path" not in c.HTTP_RESPONSE_ACTIONS
    assert "cache-use" in c.HTTP_REQUEST_ACTIONS
    assert "cache-store" in c.HTTP_RESPONSE_ACTIONS
    assert "track-sc3" not in c.HTTP_REQUEST_ACTIONS
    assert "deny" not in c.HTTP_AFTER_RESPONSE_ACTIONS
    assert c.HTTP_AFTER_RESPONSE_ACTIONS.issubset(c.HTTP_RESPONSE_ACTIONS)


def test_tcp_actions_follow_where_they_work() -> None:
    assert "expect-proxy" in c.TCP_REQUEST_CONNECTION_ACTIONS
    assert "expect-proxy" not in c.TCP_REQUEST_SESSION_ACTIONS
    assert "expect-proxy" not in c.TCP_REQUEST_CONTENT_ACTIONS
    assert "capture" in c.TCP_REQUEST_CONTENT_ACTIONS
    assert "capture" not in c.TCP_REQUEST_CONNECTION_ACTIONS
    assert "switch-mode" in c.TCP_REQUEST_CONTENT_ACTIONS
    assert "close" in c.TCP_RESPONSE_CONTENT_ACTIONS
    assert "close" not in c.TCP_REQUEST_CONTENT_ACTIONS
    for rules in (
        c.TCP_REQUEST_CONNECTION_ACTIONS,
        c.TCP_REQUEST_SESSION_ACTIONS,
        c.TCP_REQUEST_CONTENT_ACTIONS,
        c.TCP_RESPONSE_CONTENT_ACTIONS,
    ):
        assert {"accept", "reject", "set-var", "silent-drop"} <= rules


def test_action_sets_hold_family_names_only() -> None:
    every = (
        c.HTTP_REQUEST_ACTIONS
        | c.HTTP_RESPONSE_ACTIONS
        | c.HTTP_AFTER_RESPONSE_ACTIONS
        | c.TCP_REQUEST_CONNECTION_ACTIONS
        | c.TCP_REQUEST_SESSION_ACTIONS
        | c.TCP_REQUEST_CONTENT_ACTIONS
        | c.TCP_RESPONSE_CONTENT_ACTIONS
        | c.HTTP_CHECK
        | c.TCP_CHECK
    )
    assert all("(" not in action for action in every)
    assert c.ACTION_ARGUMENT_FORMS.keys() <= every


def test_check_keywords() -> None:
    assert {"expect", "send", "send-state", "disable-on-404"} <= c.HTTP_CHECK
    assert {"expect", "send", "send-binary", "send-lf"} <= c.TCP_CHECK
    assert "send-state" not in c.TCP_CHECK


# --------------------------------------------------------------------------- bind / server


@pytest.mark.parametrize(
    ("option", "arity"),
    [
        ("ssl", 0),
        ("crt", 1),
        ("alpn", 1),
        ("accept-proxy", 0),
        ("v4v6", 0),
        ("transparent", 0),
        ("name", 1),
        ("process", 1),
        ("thread", 1),
        ("crt-list", 1),
        ("verify", 1),
    ],
)
def test_bind_options(option: str, arity: int) -> None:
    assert c.BIND_OPTIONS[option] == arity


@pytest.mark.parametrize(
    ("option", "arity"),
    [
        ("check", 0),
        ("inter", 1),
        ("rise", 1),
        ("fall", 1),
        ("weight", 1),
        ("cookie", 1),
        ("maxconn", 1),
        ("backup", 0),
        ("ssl", 0),
        ("verify", 1),
        ("sni", 1),
        ("no-check", 0),
        ("no-ssl", 0),
        ("no-backup", 0),
        ("send-proxy-v2", 0),
        ("source", -1),
    ],
)
def test_server_options(option: str, arity: int) -> None:
    assert c.SERVER_OPTIONS[option] == arity


def test_option_tables_are_consistent() -> None:
    assert all(n in (0, 1) for n in c.BIND_OPTIONS.values())
    assert all(n >= -1 for n in c.SERVER_OPTIONS.values())
    assert c.SERVER_NOT_ON_DEFAULT_SERVER.issubset(c.SERVER_OPTIONS)
    assert "no-verifyhost" not in c.SERVER_OPTIONS
    assert "usesrc" not in c.SERVER_OPTIONS


# --------------------------------------------------------------------------- global, sections


def test_global_keywords() -> None:
    for keyword in ("daemon", "maxconn", "nbthread", "tune.bufsize", "ssl-default-bind-ciphers"):
        assert keyword in c.GLOBAL
    for keyword in ("tune.ssl.default-dh-param", "h1-case-adjust", "stats", "log"):
        assert keyword in c.GLOBAL
    assert "nbproc" not in c.GLOBAL
    assert "balance" not in c.GLOBAL
    assert (c.BUILD_DEPENDENT - c.GLOBAL).issubset(c.BIND_OPTIONS)
    assert {"option", "log", "busy-polling"} <= c.NO_PREFIX_OK


def test_sections() -> None:
    expected = {
        "global",
        "defaults",
        "frontend",
        "backend",
        "listen",
        "userlist",
        "peers",
        "resolvers",
        "mailers",
        "program",
        "http-errors",
        "ring",
        "cache",
        "fcgi-app",
        "log-forward",
    }
    assert expected <= c.SECTIONS
    assert c.SECTION_KEYWORDS.keys() <= c.SECTIONS
    assert c.SECTION_SUBKEYWORDS.keys() <= c.SECTION_KEYWORDS.keys()
    for section, subs in c.SECTION_SUBKEYWORDS.items():
        assert subs.keys() <= c.SECTION_KEYWORDS[section], section
    assert "nameserver" in c.SECTION_KEYWORDS["resolvers"]
    assert "peer" in c.SECTION_KEYWORDS["peers"]
    assert "total-max-size" in c.SECTION_KEYWORDS["cache"]
    assert "start-on-reload" in c.SECTION_SUBKEYWORDS["program"]["option"]


# --------------------------------------------------------------------------- removed


@pytest.mark.parametrize(
    ("keyword", "replacement"),
    [
        ("reqadd", "http-request add-header"),
        ("reqrep", "http-request replace-header"),
        ("reqiallow", "http-request allow"),
        ("rspadd", "http-response add-header"),
        ("rsprep", "http-response replace-header"),
        ("block", "http-request deny"),
        ("contimeout", "timeout connect"),
        ("clitimeout", "timeout client"),
        ("srvtimeout", "timeout server"),
        ("redispatch", "option redispatch"),
        ("monitor-net", "http-request return"),
        ("nbproc", "nbthread"),
        ("option independant-streams", "option independent-streams"),
        ("option forceclose", "option httpclose"),
        ("debug", "-d"),
    ],
)
def test_removed_keywords_point_to_their_replacement(keyword: str, replacement: str) -> None:
    assert replacement in c.REMOVED[keyword]


def test_removed_keywords_carry_a_version() -> None:
    for keyword, hint in c.REMOVED.items():
        assert hint.strip(), keyword
        if keyword != "resolution_pool_size":
            assert re.search(r"HAProxy \d\.\d", hint), keyword


def test_no_keyword_is_both_valid_and_removed() -> None:
    for keyword in c.REMOVED_PROXY:
        words = keyword.split()
        if words[0] == "option":
            assert words[1] not in c.OPTIONS, keyword
        else:
            assert keyword not in c.PROXY, keyword
            assert not any(k.split()[0] == keyword for k in c.PROXY_COMPOUND), keyword
    assert not c.REMOVED_GLOBAL.keys() & c.GLOBAL
    assert not c.REMOVED_RESOLVERS.keys() & c.SECTION_KEYWORDS["resolvers"]
    # 'grace' left the proxies in 2.5 but remains a global keyword.
    assert c.REMOVED.keys() & c.GLOBAL == {"grace"}
    assert c.REMOVED.keys() == (
        c.REMOVED_PROXY.keys() | c.REMOVED_GLOBAL.keys() | c.REMOVED_RESOLVERS.keys()
    )


def test_deprecated_keywords_are_still_valid() -> None:
    for keyword in c.DEPRECATED:
        assert keyword in c.PROXY or keyword in c.GLOBAL, keyword
        assert keyword not in c.REMOVED


# --------------------------------------------------------------------------- suggestions


def test_suggestions_close_matches() -> None:
    assert c.suggestions("balanse", c.PROXY) == ["balance"]
    assert c.suggestions("use-backend", c.PROXY) == ["use_backend"]
    assert c.suggestions("optoin", c.PROXY) == ["option"]
    assert c.suggestions("tiemout", c.PROXY) == ["timeout"]
    assert c.suggestions("independant-streams", c.OPTIONS) == ["independent-streams"]
    assert c.suggestions("tune.bufsiz", c.GLOBAL) == ["tune.bufsize"]
    assert c.suggestions("BALANCE", c.PROXY) == ["balance"]


def test_suggestions_refuse_far_words() -> None:
    assert c.suggestions("foo", c.PROXY) == []
    assert c.suggestions("x", c.PROXY) == []
    assert c.suggestions("frobnicate", c.GLOBAL) == []
    assert c.suggestions("balanse", []) == []


def test_suggestions_order_and_count() -> None:
    found = c.suggestions("errorlog", c.PROXY, n=3)
    assert found[0] == "errorloc"
    assert len(found) <= 3
    assert c.suggestions("maxcon", c.PROXY, n=5) == ["maxconn"]
