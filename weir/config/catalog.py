"""HAProxy 2.6's configuration vocabulary, as data.

weir's keyword registry says what weir implements. This module says what HAProxy 2.6
itself knows, so that the parser can sort a word it does not implement into one of three
cases and answer each one precisely:

1. a real HAProxy 2.6 keyword weir lacks      -> "'X' is a HAProxy keyword that weir does
                                                  not support yet"
2. a keyword HAProxy removed or renamed        -> the hint in `REMOVED`
3. anything else                               -> a typo; `suggestions()` gives "did you mean"

Lookup order for a parser: registry (implemented) -> the section's tables here (known) ->
`REMOVED` -> `suggestions()` over both. A word can be known to 2.6 yet sit in the wrong
section (`PROXY["balance"]` has no "f"); HAProxy 2.6 only *warns* for most of those
("ignored because frontend 'x' has no backend capability") and fails for a few (`bind`,
`server`, `stats admin` ... in `defaults`), so how strict to be there is the parser's choice.

Section letters: d = defaults, f = frontend, l = listen, b = backend, always written in
that order. The letters say where the keyword has an effect according to the 2.6
documentation; where HAProxy 2.6 silently accepts a keyword in a section the
documentation leaves out (`unique-id-format` in a backend, `transparent` in a frontend),
the documentation wins. Keywords marked "(!)" by HAProxy are valid only in a *named*
`defaults` section; they are listed in `NAMED_DEFAULTS_ONLY` and still carry "d".

Actions. Rule actions are written in three shapes:
- plain words: ``deny``, ``set-header``;
- numbered stick-counter trackers: ``track-sc0``, ``track-sc1``, ``track-sc2`` (2.6 builds
  have three counters; a larger number is refused); they are listed under these names;
- parenthesised families: ``sc-inc-gpc0(0)``, ``set-var(txn.x)``, ``add-acl(/f.lst)``. The
  sets hold the family name only (``sc-inc-gpc0``, ``set-var``); call `action_family()` on
  the written word, which cuts at the first "(", then look the result up.
  `ACTION_ARGUMENT_FORMS` gives the argument shape each family expects.
Actions whose names start with ``lua.`` are registered at load time by Lua scripts
(`LUA_PREFIX`); they are real HAProxy features that weir does not run.

Provenance: HAProxy 2.6's doc/configuration.txt (2.6.12, 2023/03/28), the keyword tables
and strcmp chains of the v2.6.0 sources (cfgparse-global.c, cfgparse-listen.c, proxy.c,
server.c, listener.c, cfgparse-ssl.c, cfgparse-tcp.c, check.c, tcpcheck.c, the action
tables of http_act.c, tcp_act.c, tcp_rules.c, vars.c, stick_table.c, stream.c, ...), and
HAProxy 2.6.12's own answers (`haproxy -c`) for every entry. Keywords that exist only in
builds with an optional feature (QUIC, 51Degrees, DeviceAtlas, WURFL, zlib, OpenSSL
engines, memory profiling) are in the tables and also listed in `BUILD_DEPENDENT`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher
from typing import Final, TypeVar

_V = TypeVar("_V", str, int)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _by_value(groups: dict[_V, str]) -> dict[str, _V]:
    """Turn {value: "word word ..."} into {word: value}; a word listed twice is a bug."""
    out: dict[str, _V] = {}
    for value, text in groups.items():
        for word in text.split():
            if word in out:
                raise ValueError(f"{word!r} listed twice")
            out[word] = value
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- sections

SECTIONS: Final = _words(
    """
    global defaults frontend backend listen
    userlist peers mailers resolvers program http-errors ring cache fcgi-app log-forward
    namespace_list
    """
)
"""Every word that opens a section in a 2.6 configuration file. `namespace_list` takes no
name. The SPOE (`spoe-agent`, `spoe-group`, `spoe-message`) and OpenTracing (`ot-*`)
sections live in the filters' own files and are refused in the main file."""

SECTION_KEYWORDS: Final[dict[str, frozenset[str]]] = {
    "userlist": _words("group user"),
    "peers": _words("bind default-bind default-server disabled enabled log peer server table"),
    "mailers": _words("mailer timeout"),
    "resolvers": _words(
        "accepted_payload_size hold nameserver parse-resolv-conf resolve_retries timeout"
    ),
    "program": _words("command group option user"),
    "http-errors": _words("errorfile"),
    "ring": _words("backing-file description format maxlen server size timeout"),
    "cache": _words("max-age max-object-size max-secondary-entries process-vary total-max-size"),
    "fcgi-app": _words("acl docroot index log-stderr option pass-header path-info set-param"),
    "log-forward": _words("backlog bind dgram-bind log maxconn timeout"),
    "namespace_list": _words("namespace"),
}
"""First words of the sections other than global and the proxies. `bind`/`default-bind`
take `BIND_OPTIONS`; `server`/`default-server`/`peer` take `SERVER_OPTIONS`."""

SECTION_SUBKEYWORDS: Final[dict[str, dict[str, frozenset[str]]]] = {
    "mailers": {"timeout": _words("mail")},
    "resolvers": {
        "timeout": _words("resolve retry"),
        "hold": _words("nx obsolete other refused timeout valid"),
    },
    "program": {"option": _words("start-on-reload")},
    "ring": {"timeout": _words("connect server")},
    "fcgi-app": {"option": _words("get-values keep-conn max-reqs mpxs-conns")},
    "log-forward": {"timeout": _words("client")},
    "userlist": {"user": _words("password insecure-password groups"), "group": _words("users")},
}
"""Second words of the multi-word keywords in those sections (for userlist: the words that
may follow the name). `no option` is accepted for the program option and for the fcgi-app
options other than `max-reqs`."""

# --------------------------------------------------------------------------- global

GLOBAL: Final = _words(
    """
    ca-base chroot close-spread-time cluster-secret cpu-map crt-base daemon default-path
    description expose-experimental-directives external-check fd-hard-limit gid grace group
    h1-accept-payload-with-any-method h1-case-adjust h1-case-adjust-file
    h2-workaround-bogus-websocket-clients hard-stop-after
    httpclient.resolvers.id httpclient.resolvers.prefer httpclient.ssl.ca-file
    httpclient.ssl.verify insecure-fork-wanted insecure-setuid-wanted issuers-chain-path
    localpeer log log-send-hostname log-tag lua-load lua-load-per-thread lua-prepend-path
    master-worker mworker-max-reloads nbthread node numa-cpu-mapping pidfile
    pp2-never-send-local presetenv resetenv set-dumpable set-var set-var-fmt setenv
    stats strict-limits thread-group thread-groups uid ulimit-n unix-bind unsetenv user

    ssl-default-bind-ciphers ssl-default-bind-ciphersuites ssl-default-bind-curves
    ssl-default-bind-options ssl-default-server-ciphers ssl-default-server-ciphersuites
    ssl-default-server-options ssl-dh-param-file ssl-engine ssl-load-extra-del-ext
    ssl-load-extra-files ssl-mode-async ssl-propquery ssl-provider ssl-provider-path
    ssl-server-verify ssl-skip-self-issued-ca

    busy-polling max-spread-checks maxcompcpuusage maxcomprate maxconn maxconnrate maxpipes
    maxsessrate maxsslconn maxsslrate maxzlibmem no-memory-trimming noepoll noevports
    nogetaddrinfo nokqueue nopoll noreuseport nosplice profiling.memory profiling.tasks
    server-state-base server-state-file spread-checks

    tune.buffers.limit tune.buffers.reserve tune.bufsize tune.comp.maxlevel tune.fail-alloc
    tune.fd.edge-triggered tune.h2.header-table-size tune.h2.initial-window-size
    tune.h2.max-concurrent-streams tune.h2.max-frame-size tune.http.cookielen
    tune.http.logurilen tune.http.maxhdr tune.idle-pool.shared tune.idletimer
    tune.listener.multi-queue tune.lua.forced-yield tune.lua.maxmem tune.lua.service-timeout
    tune.lua.session-timeout tune.lua.task-timeout tune.maxaccept tune.maxpollevents
    tune.maxrewrite tune.pattern.cache-size tune.peers.max-updates-at-once tune.pipesize
    tune.pool-high-fd-ratio tune.pool-low-fd-ratio
    tune.quic.frontend.conn-tx-buffers.limit tune.quic.frontend.max-idle-timeout
    tune.quic.frontend.max-streams-bidi tune.quic.retry-threshold
    tune.rcvbuf.client tune.rcvbuf.server tune.recv_enough tune.runqueue-depth
    tune.sched.low-latency tune.sndbuf.client tune.sndbuf.server tune.ssl.cachesize
    tune.ssl.capture-buffer-size tune.ssl.capture-cipherlist-size tune.ssl.default-dh-param
    tune.ssl.force-private-cache tune.ssl.hard-maxrecord tune.ssl.keylog tune.ssl.lifetime
    tune.ssl.maxrecord tune.ssl.ssl-ctx-cache-size tune.vars.check-max-size
    tune.vars.global-max-size tune.vars.proc-max-size tune.vars.reqres-max-size
    tune.vars.sess-max-size tune.vars.txn-max-size tune.zlib.memlevel tune.zlib.windowsize

    quiet zero-warning

    51degrees-cache-size 51degrees-data-file 51degrees-property-name-list
    51degrees-property-separator
    deviceatlas-json-file deviceatlas-log-level deviceatlas-properties-cookie
    deviceatlas-property-separator
    wurfl-cache-size wurfl-data-file wurfl-engine-mode wurfl-information-list
    wurfl-information-list-separator wurfl-patch-file wurfl-useragent-priority
    """
)
"""First words of the `global` section. The documentation's `deviceatlas-separator` is
spelt `deviceatlas-property-separator` in the code, which is what HAProxy matches."""

STATS_GLOBAL: Final = _words("socket timeout maxconn bind-process")
"""Second words of `stats` in the global section."""

BUILD_DEPENDENT: Final = _words(
    """
    51degrees-cache-size 51degrees-data-file 51degrees-property-name-list
    51degrees-property-separator deviceatlas-json-file deviceatlas-log-level
    deviceatlas-properties-cookie deviceatlas-property-separator
    wurfl-cache-size wurfl-data-file wurfl-engine-mode wurfl-information-list
    wurfl-information-list-separator wurfl-patch-file wurfl-useragent-priority
    profiling.memory ssl-engine tune.zlib.memlevel tune.zlib.windowsize
    tune.quic.frontend.conn-tx-buffers.limit tune.quic.frontend.max-idle-timeout
    tune.quic.frontend.max-streams-bidi tune.quic.retry-threshold
    quic-cc-algo quic-force-retry
    """
)
"""Keywords (global ones and two bind options) that only builds with an optional feature
accept; a stock Debian 2.6 build answers "unknown keyword" for them."""

NO_PREFIX_OK: Final = _words(
    "option log busy-polling insecure-fork-wanted numa-cpu-mapping set-dumpable strict-limits"
)
"""First words that accept the `no` and `default` prefixes; 2.6 refuses the prefixes on
any other keyword. For `option` see also `NO_OPTION_OK`."""

EXPERIMENTAL: Final = _words("tune.fd.edge-triggered normalize-uri")
"""Keywords (a global one and an http-request action) that 2.6 accepts only after
`expose-experimental-directives`."""

# --------------------------------------------------------------------------- proxies

PROXY: Final[dict[str, str]] = _by_value(
    {
        "dflb": """
        acl bind-process compression disabled email-alert enabled errorfile errorfiles
        errorloc errorloc302 errorloc303 http-after-response http-error http-request
        http-response log log-tag mode option stats tcp-request timeout
        """,
        "dfl": """
        backlog clitcpka-cnt clitcpka-idle clitcpka-intvl default_backend error-log-format
        log-format log-format-sd max-session-srv-conns maxconn monitor-uri rate-limit
        unique-id-format unique-id-header
        """,
        "dlb": """
        balance cookie default-server dynamic-cookie-key external-check fullconn
        hash-balance-factor hash-type http-check http-reuse http-send-name-header
        load-server-state-from-file max-keep-alive-queue persist retries retry-on
        server-state-file-name source srvtcpka-cnt srvtcpka-idle srvtcpka-intvl tcp-check
        tcp-response transparent
        """,
        "flb": """
        description filter id redirect stick-table
        """,
        "fl": """
        bind capture declare monitor use_backend
        """,
        "lb": """
        dispatch force-persist ignore-persist server server-template stick use-fcgi-app
        use-server
        """,
    }
)
"""First word of every proxy keyword -> the sections where it applies. For a first word
that only opens a longer keyword (`option`, `timeout`, `stats`, `capture`, `tcp-request`,
...) the letters are the union over its second words; see `OPTIONS`, `TIMEOUTS`, `STATS`,
`PROXY_COMPOUND`, `HTTP_CHECK`, `TCP_CHECK`. `max-session-srv-conns` is undocumented but
accepted by 2.6. `usesrc` is left out: 2.6 only accepts it inside `source`."""

PROXY_COMPOUND: Final[dict[str, str]] = {
    "capture cookie": "fl",
    "capture request header": "fl",
    "capture response header": "fl",
    "declare capture": "fl",
    "email-alert from": "dflb",
    "email-alert level": "dflb",
    "email-alert mailers": "dflb",
    "email-alert myhostname": "dflb",
    "email-alert to": "dflb",
    "external-check command": "dlb",
    "external-check path": "dlb",
    "monitor fail": "fl",
    "persist rdp-cookie": "dlb",
    "rate-limit sessions": "dfl",
    "stick match": "lb",
    "stick on": "lb",
    "stick store-request": "lb",
    "stick store-response": "lb",
    "tcp-request connection": "dfl",
    "tcp-request content": "dflb",
    "tcp-request inspect-delay": "dflb",
    "tcp-request session": "dfl",
    "tcp-response content": "dlb",
    "tcp-response inspect-delay": "dlb",
}
"""Multi-word proxy keywords other than option/timeout/stats/http-check/tcp-check, keyed
by their words joined with one space. `persist rdp-cookie` may carry a cookie name in
parentheses: `persist rdp-cookie(name)`."""

NAMED_DEFAULTS_ONLY: Final = _words(
    """
    acl http-request http-response http-after-response
    tcp-request tcp-response
    """
)
"""Keywords 2.6 refuses in an anonymous `defaults` section (marked "(!)" by HAProxy); for
`tcp-request`/`tcp-response` this holds for every second word."""

OPTIONS: Final[dict[str, str]] = _by_value(
    {
        "dflb": """
        forwardfor http-buffer-request http-keep-alive http-no-delay
        http-restrict-req-hdr-names http-server-close httpclose independent-streams nolinger
        originalto splice-auto splice-request splice-response tcpka
        """,
        "dfl": """
        accept-invalid-http-request clitcpka contstats disable-h2-upgrade dontlog-normal
        dontlognull h1-case-adjust-bogus-client http-ignore-probes http-use-proxy-header
        httplog httpslog idle-close-on-response log-separate-errors logasap socket-stats
        tcp-smart-accept tcplog
        """,
        "dlb": """
        abortonclose accept-invalid-http-response allbackups checkcache external-check
        h1-case-adjust-bogus-server http-pretend-keepalive httpchk ldap-check
        log-health-checks mysql-check persist pgsql-check prefer-last-server redis-check
        redispatch smtpchk spop-check srvtcpka ssl-hello-chk tcp-check tcp-smart-connect
        transparent
        """,
    }
)
"""`option NAME` -> sections. The 2.6 matrix marks `tcplog` for backends too, but its own
description and the 2.6 binary say it is ignored there."""

NO_OPTION_OK: Final = _words(
    """
    abortonclose accept-invalid-http-request accept-invalid-http-response allbackups
    checkcache clitcpka contstats disable-h2-upgrade dontlog-normal dontlognull
    h1-case-adjust-bogus-client h1-case-adjust-bogus-server http-buffer-request
    http-ignore-probes http-keep-alive http-no-delay http-pretend-keepalive
    http-server-close http-use-proxy-header httpclose idle-close-on-response
    independent-streams log-health-checks log-separate-errors logasap nolinger persist
    prefer-last-server redispatch socket-stats splice-auto splice-request splice-response
    srvtcpka tcp-smart-accept tcp-smart-connect transparent
    """
)
"""Options that accept `no option NAME` (and `default option NAME`); 2.6 refuses the
prefix on the others ("negation/default is not supported")."""

TIMEOUTS: Final[dict[str, str]] = _by_value(
    {
        "dflb": """
        http-keep-alive http-request tarpit
        """,
        "dfl": """
        client client-fin
        """,
        "dlb": """
        check connect queue server server-fin tunnel
        """,
    }
)
"""`timeout NAME` in proxy sections -> sections."""

STATS: Final[dict[str, str]] = _by_value(
    {
        "dflb": """
        auth enable hide-version realm refresh scope show-desc show-legends show-modules
        show-node uri
        """,
        "flb": """
        admin http-request
        """,
    }
)
"""`stats NAME` in proxy sections -> sections (`show-modules` is accepted but not in the
2.6 matrix). Global `stats` words are in `STATS_GLOBAL`."""

HTTP_CHECK: Final = _words(
    "comment connect disable-on-404 expect send send-state set-var set-var-fmt unset-var"
)
TCP_CHECK: Final = _words(
    "comment connect expect send send-binary send-binary-lf send-lf set-var set-var-fmt unset-var"
)
"""Second words of `http-check` and `tcp-check` (sections: `PROXY`'s "dlb"). The `set-var`
family is written `set-var(check.name)`; match it with `action_family()`."""

DEPRECATED: Final[dict[str, str]] = {
    "bind-process": "has no effect since HAProxy 2.5 and is gone in 2.7; delete the line",
    "transparent": "deprecated proxy keyword; write 'option transparent'",
    "tune.ssl.capture-cipherlist-size": (
        "deprecated in HAProxy 2.6 and gone in 2.7; use 'tune.ssl.capture-buffer-size'"
    ),
}
"""Keywords 2.6 still accepts although they are on their way out (2.6 warns for the first
and last; the documentation marks `transparent` deprecated). The `process` bind option is
deprecated too (2.6 warns; gone in 2.7)."""

# --------------------------------------------------------------------------- actions

LUA_PREFIX: Final = "lua."
"""Prefix of actions, services, fetches and converters that Lua scripts register."""

SERVICES: Final = _words("prometheus-exporter")
"""Built-in services for `use-service` (besides `lua.*` ones)."""

_TRACK_SC = _words("track-sc0 track-sc1 track-sc2")
_COUNTERS = _words("sc-inc-gpc sc-inc-gpc0 sc-inc-gpc1 sc-set-gpt sc-set-gpt0")
_VARS = _words("set-var set-var-fmt unset-var")
_ADDRESSES = _words("set-src set-src-port set-dst set-dst-port")
_MARKS = _words("set-mark set-tos silent-drop")
_STREAM = _words("set-log-level set-nice")
_QUEUE = _words("set-priority-class set-priority-offset")
_PATTERNS = _words("add-acl del-acl set-map del-map")
_HEADERS = _words("add-header set-header del-header replace-header replace-value")

HTTP_REQUEST_ACTIONS: Final = (
    _words(
        """
        allow auth cache-use capture deny disable-l7-retry do-resolve early-hint
        normalize-uri ot-group redirect reject replace-path replace-pathq replace-uri
        return send-spoe-group set-method set-path set-pathq set-query set-timeout set-uri
        strict-mode tarpit use-service wait-for-body wait-for-handshake
        """
    )
    | _TRACK_SC
    | _COUNTERS
    | _VARS
    | _ADDRESSES
    | _MARKS
    | _STREAM
    | _QUEUE
    | _PATTERNS
    | _HEADERS
)
HTTP_RESPONSE_ACTIONS: Final = (
    _words(
        """
        allow cache-store capture deny ot-group redirect return send-spoe-group set-status
        strict-mode wait-for-body
        """
    )
    | _TRACK_SC
    | _COUNTERS
    | _VARS
    | _MARKS
    | _STREAM
    | _PATTERNS
    | _HEADERS
)
HTTP_AFTER_RESPONSE_ACTIONS: Final = (
    _words("allow capture ot-group set-status strict-mode") | _VARS | _HEADERS
)
TCP_REQUEST_CONNECTION_ACTIONS: Final = (
    _words("accept reject expect-proxy expect-netscaler-cip")
    | _TRACK_SC
    | _COUNTERS
    | _VARS
    | _ADDRESSES
    | _MARKS
)
TCP_REQUEST_SESSION_ACTIONS: Final = (
    _words("accept reject") | _TRACK_SC | _COUNTERS | _VARS | _ADDRESSES | _MARKS
)
TCP_REQUEST_CONTENT_ACTIONS: Final = (
    _words("accept reject capture do-resolve ot-group send-spoe-group switch-mode use-service")
    | _TRACK_SC
    | _COUNTERS
    | _VARS
    | _ADDRESSES
    | _MARKS
    | _STREAM
    | _QUEUE
)
TCP_RESPONSE_CONTENT_ACTIONS: Final = (
    _words("accept close reject ot-group send-spoe-group") | _COUNTERS | _VARS | _MARKS | _STREAM
)
"""Actions per rule set, as `action_family()` returns them. `ot-group` comes from the
OpenTracing add-on (present in the common distribution builds). 2.6 lists `capture`,
`expect-proxy` and `expect-netscaler-cip` for all three tcp-request rule sets but refuses
`capture` outside `content` and the `expect-*` ones outside `connection`; they are listed
only where they work."""

ACTION_ARGUMENT_FORMS: Final[dict[str, str]] = {
    "add-acl": "(<file-name>)",
    "del-acl": "(<file-name>)",
    "set-map": "(<file-name>)",
    "del-map": "(<file-name>)",
    "do-resolve": "(<var>,<resolvers>[,ipv4|ipv6])",
    "sc-inc-gpc": "(<idx>,<sc-id>)",
    "sc-inc-gpc0": "(<sc-id>)",
    "sc-inc-gpc1": "(<sc-id>)",
    "sc-set-gpt": "(<idx>,<sc-id>)",
    "sc-set-gpt0": "(<sc-id>)",
    "set-var": "(<var-name>[,<cond>...])",
    "set-var-fmt": "(<var-name>[,<cond>...])",
    "unset-var": "(<var-name>)",
}
"""Families whose written form carries a parenthesised argument right after the name."""

# --------------------------------------------------------------------------- bind / server

BIND_OPTIONS: Final[dict[str, int]] = _by_value(
    {
        0: """
        accept-proxy allow-0rtt defer-accept force-sslv3 force-tlsv10 force-tlsv11
        force-tlsv12 force-tlsv13 generate-certificates no-ca-names no-sslv3 no-tls-tickets
        no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13 prefer-client-ciphers quic-force-retry ssl
        strict-sni tfo transparent v4v6 v6only
        """,
        1: """
        accept-netscaler-cip alpn backlog ca-file ca-ignore-err ca-sign-file ca-sign-pass
        ca-verify-file ciphers ciphersuites crl-file crt crt-ignore-err crt-list curves
        ecdhe expose-fd gid group id interface level maxconn mode mss name namespace nice
        npn process proto quic-cc-algo severity-output shards ssl-max-ver ssl-min-ver tcp-ut
        thread tls-ticket-keys uid user verify
        """,
    }
)
"""`bind` option -> number of words it consumes after itself. `gid`/`group`/`mode`/`uid`/
`user` apply to UNIX sockets; `level`/`expose-fd`/`severity-output` to the stats socket;
`quic-*` need a QUIC build; `process` is deprecated (gone in 2.7)."""

SERVER_OPTIONS: Final[dict[str, int]] = _by_value(
    {
        0: """
        agent-check allow-0rtt backup check check-send-proxy check-ssl check-via-socks4
        disabled enabled force-sslv3 force-tlsv10 force-tlsv11 force-tlsv12 force-tlsv13
        no-agent-check no-backup no-check no-check-send-proxy no-check-ssl no-send-proxy
        no-send-proxy-v2 no-send-proxy-v2-ssl no-send-proxy-v2-ssl-cn no-ssl no-ssl-reuse
        no-sslv3 no-tfo no-tls-tickets no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13 non-stick
        send-proxy send-proxy-v2 send-proxy-v2-ssl send-proxy-v2-ssl-cn ssl ssl-reuse stick
        tfo tls-tickets
        """,
        1: """
        addr agent-addr agent-inter agent-port agent-send alpn ca-file check-alpn
        check-proto check-sni ciphers ciphersuites cookie crl-file crt downinter error-limit
        fall fastinter id init-addr inter log-proto max-reuse maxconn maxqueue minconn
        namespace npn observe on-error on-marked-down on-marked-up pool-low-conn
        pool-max-conn pool-purge-delay port proto proxy-v2-options redir resolve-net
        resolve-opts resolve-prefer resolvers rise slowstart sni socks4 ssl-max-ver
        ssl-min-ver tcp-ut track verify verifyhost weight ws
        """,
        -1: """
        source
        """,
    }
)
"""`server` / `default-server` option -> number of words it consumes after itself; -1 for
`source`, which takes `<addr>[:<port>[-<port>]]` then optional `usesrc <addr>` and
`interface <name>` pairs. The 2.6 documentation also lists `no-verifyhost`, which 2.6
itself does not know; it is left out."""

SERVER_NOT_ON_DEFAULT_SERVER: Final = _words("id no-sslv3 no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13")
"""Server options 2.6 refuses on a `default-server` line."""

# --------------------------------------------------------------------------- removed

REMOVED_PROXY: Final[dict[str, str]] = {
    "appsession": "removed in HAProxy 1.6; use 'cookie' persistence or a stick table",
    "block": "removed in HAProxy 2.1; use 'http-request deny' (same condition syntax)",
    "reqadd": "removed in HAProxy 2.1; use 'http-request add-header'",
    "reqallow": "removed in HAProxy 2.1; use 'http-request allow'",
    "reqiallow": "removed in HAProxy 2.1; use 'http-request allow'",
    "reqdel": "removed in HAProxy 2.1; use 'http-request del-header'",
    "reqidel": "removed in HAProxy 2.1; use 'http-request del-header'",
    "reqdeny": "removed in HAProxy 2.1; use 'http-request deny'",
    "reqideny": "removed in HAProxy 2.1; use 'http-request deny'",
    "reqpass": "removed in HAProxy 2.1 with nothing to replace it; delete the line",
    "reqipass": "removed in HAProxy 2.1 with nothing to replace it; delete the line",
    "reqrep": (
        "removed in HAProxy 2.1; use 'http-request replace-path', "
        "'http-request replace-uri' or 'http-request replace-header'"
    ),
    "cliexp": (
        "removed in HAProxy 2.1; use 'http-request replace-path', "
        "'http-request replace-uri' or 'http-request replace-header'"
    ),
    "reqirep": "removed in HAProxy 2.1; use 'http-request replace-header'",
    "reqtarpit": "removed in HAProxy 2.1; use 'http-request tarpit'",
    "reqitarpit": "removed in HAProxy 2.1; use 'http-request tarpit'",
    "rspadd": "removed in HAProxy 2.1; use 'http-response add-header'",
    "rspdel": "removed in HAProxy 2.1; use 'http-response del-header'",
    "rspidel": "removed in HAProxy 2.1; use 'http-response del-header'",
    "rspdeny": "removed in HAProxy 2.1; use 'http-response deny'",
    "rspideny": "removed in HAProxy 2.1; use 'http-response deny'",
    "rsprep": "removed in HAProxy 2.1; use 'http-response replace-header'",
    "rspirep": "removed in HAProxy 2.1; use 'http-response replace-header'",
    "srvexp": "removed in HAProxy 2.1; use 'http-response replace-header'",
    "redispatch": "removed in HAProxy 2.1 as a keyword of its own; use 'option redispatch'",
    "redisp": "removed in HAProxy 2.1 as a keyword of its own; use 'option redispatch'",
    "clitimeout": "removed in HAProxy 2.1; use 'timeout client'",
    "contimeout": "removed in HAProxy 2.1; use 'timeout connect'",
    "srvtimeout": "removed in HAProxy 2.1; use 'timeout server'",
    "monitor-net": (
        "removed in HAProxy 2.3; answer monitoring probes with "
        "'http-request return status 200 if { src <network> }'"
    ),
    "grace": (
        "removed from proxy sections in HAProxy 2.5; the global 'grace' keyword remains "
        "for a process-wide delay before stopping"
    ),
    "option forceclose": (
        "removed in HAProxy 2.0; delete it, or use 'option httpclose' if it is really needed"
    ),
    "option http-tunnel": "removed in HAProxy 2.1; delete the line, it is no longer needed",
    "option http_proxy": (
        "removed in HAProxy 2.5; combine 'http-request set-dst', 'http-request set-uri' "
        "and, for name resolution, 'http-request do-resolve'"
    ),
    "option http-use-htx": (
        "ignored since HAProxy 2.1 (HTX is the only HTTP engine) and unknown since 2.5; "
        "delete the line"
    ),
    "option independant-streams": (
        "this misspelt alias was dropped in HAProxy 2.1; write 'option independent-streams'"
    ),
}
REMOVED_GLOBAL: Final[dict[str, str]] = {
    "nbproc": (
        "removed in HAProxy 2.5; HAProxy runs threads instead (see 'nbthread'), which it "
        "starts on its own on multi-processor machines"
    ),
    "tune.chksize": "removed in HAProxy 2.5; checks use buffers sized by 'tune.bufsize'",
    "debug": "removed in HAProxy 2.3; start the process with '-d' instead",
}
REMOVED_RESOLVERS: Final[dict[str, str]] = {
    "resolution_pool_size": "never part of a stable HAProxy release; delete the line",
}
REMOVED: Final[dict[str, str]] = {**REMOVED_PROXY, **REMOVED_GLOBAL, **REMOVED_RESOLVERS}
"""Words HAProxy 2.6 refuses because they were removed or renamed -> a hint in weir's words.
Keys are written as in a config line: one word, or `option NAME`. `REMOVED_PROXY` applies
in proxy sections, `REMOVED_GLOBAL` in `global`, `REMOVED_RESOLVERS` in `resolvers`; check
the section's valid words first (`grace` is still a valid global keyword). 2.6 answers
`debug`, `option http-use-htx` and `option independant-streams` with a bare "unknown
keyword/option"; all the others get a specific refusal from 2.6 itself."""

# --------------------------------------------------------------------------- helpers


def action_family(word: str) -> str:
    """Return the name under which a written rule action is listed.

    ``"sc-inc-gpc0(0)"`` -> ``"sc-inc-gpc0"``, ``"set-var(txn.x)"`` -> ``"set-var"``;
    words without a parenthesis (``"deny"``, ``"track-sc1"``) come back unchanged.
    """
    return word.partition("(")[0]


def _strip_prefix(words: Sequence[str]) -> Sequence[str]:
    if len(words) > 1 and words[0] in ("no", "default"):
        return words[1:]
    return words


def proxy_keyword_sections(words: Sequence[str]) -> str | None:
    """Return the section letters of the HAProxy 2.6 proxy keyword a line starts with.

    `words` are a line's words (arguments may follow). A leading `no`/`default` is skipped.
    None when the line does not start with a keyword 2.6 accepts in proxy sections
    (removed keywords included). A bare compound opener (``["option"]``) is not a keyword.
    """
    words = _strip_prefix(words)
    if not words:
        return None
    first = words[0]
    second = words[1] if len(words) > 1 else ""
    if first == "option":
        return OPTIONS.get(second)
    if first == "timeout":
        return TIMEOUTS.get(second)
    if first == "stats":
        return STATS.get(second)
    if first in ("http-check", "tcp-check"):
        table = HTTP_CHECK if first == "http-check" else TCP_CHECK
        return PROXY[first] if action_family(second) in table else None
    if first == "persist" and action_family(second) == "rdp-cookie":
        return PROXY_COMPOUND["persist rdp-cookie"]
    for size in (3, 2):
        key = " ".join(words[:size])
        if key in PROXY_COMPOUND:
            return PROXY_COMPOUND[key]
    if any(k.startswith(first + " ") for k in PROXY_COMPOUND):
        return None
    return PROXY.get(first)


def known_proxy_keyword(words: Sequence[str]) -> bool:
    """Whether a proxy-section line starts with a keyword HAProxy 2.6 accepts somewhere.

    ``["option", "forwardfor"]`` and ``["timeout", "client", "5s"]`` are known;
    ``["reqadd", ...]`` (removed) and ``["balanse"]`` (typo) are not.
    """
    return proxy_keyword_sections(words) is not None


def removed_hint(words: Sequence[str]) -> str | None:
    """Return the `REMOVED` hint for a line's leading keyword, trying `option NAME` first."""
    words = _strip_prefix(words)
    if len(words) > 1 and " ".join(words[:2]) in REMOVED:
        return REMOVED[" ".join(words[:2])]
    return REMOVED.get(words[0]) if words else None


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance where swapping two neighbouring characters costs one edit."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            cur.append(cost)
        prev2, prev = prev, cur
    return prev[-1]


def suggestions(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Return up to `n` candidates close enough to `word` to be what the user meant.

    Close means at most one edit per four characters of `word` (at least one), where an
    edit inserts, deletes or replaces a character or swaps two neighbours. The nearest come
    first; ties go to the candidate sharing the longest common subsequence, then to
    alphabetical order. Words too far from every candidate get no suggestion.
    """
    target = word.lower()
    limit = max(1, len(target) // 4)
    scored: list[tuple[int, float, str]] = []
    for cand in set(candidates):
        if abs(len(cand) - len(target)) > limit:
            continue
        dist = _edit_distance(target, cand.lower())
        if dist <= limit and dist < len(target):
            ratio = SequenceMatcher(None, target, cand.lower()).ratio()
            scored.append((dist, -ratio, cand))
    scored.sort()
    return [cand for _, _, cand in scored[:n]]
