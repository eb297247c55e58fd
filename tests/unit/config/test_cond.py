"""weir.config.cond: the `.if` / `-cc` condition language of HAProxy 2.6.

Expected answers marked "haproxy 2.6.12" were taken from `haproxy -cc EXPR` (exit status
0 = true, 1 = false, 2 = error) on the real binary.
"""

from __future__ import annotations

import pytest

from weir.config.cond import CondError, compare_version, evaluate, evaluate_text
from weir.version import FEATURES, HAPROXY_VERSION

ENV = {"HOME": "/root", "EMPTY": "", "C": "a,b"}


def ev(text: str, *, version: str = HAPROXY_VERSION, features: frozenset[str] = FEATURES) -> bool:
    """Evaluate one already-lexed condition text (as a single word)."""
    return evaluate([text], env=ENV, version=version, features=features)


def fails(text: str) -> CondError:
    with pytest.raises(CondError) as info:
        ev(text)
    return info.value


# -- integers and the empty condition --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", True),
        ("0", False),
        ("-1", True),
        ("42", True),
        ("0x10", True),
        ("0x0", False),
        ("010", True),
        ("00", False),
        ("  1  ", True),
    ],
)
def test_integers(text: str, value: bool) -> None:
    assert ev(text) is value


@pytest.mark.parametrize("text", ["08", "0x", "1abc", "1 2"])
def test_integer_followed_by_garbage_is_an_error(text: str) -> None:
    # haproxy 2.6.12: "08" reads as octal 0 then '8'; "0x" as 0 then 'x'
    fails(text)


def test_empty_condition_is_false() -> None:
    assert evaluate([]) is False
    assert evaluate([""]) is False


def test_blank_condition_is_an_error() -> None:
    # haproxy 2.6.12: `.if "" ""` glues to " " and is refused
    with pytest.raises(CondError):
        evaluate(["", ""])


# -- operators -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("!0", True), ("!1", False), ("! 0", True), ("!!1", True), ("!(0)", True)],
)
def test_negation(text: str, value: bool) -> None:
    assert ev(text) is value


def test_lone_negation_is_an_error() -> None:
    fails("!")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1 && 1", True), ("1 && 0", False), ("0 && 1", False), ("1&&1", True), ("1\t&&\t0", False)],
)
def test_and(text: str, value: bool) -> None:
    assert ev(text) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [("0 || 1", True), ("0 || 0", False), ("1 || 0", True), ("0||1", True)],
)
def test_or(text: str, value: bool) -> None:
    assert ev(text) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 || 0 && 0", True),  # 1 || (0 && 0)
        ("0 && 1 || 1", True),  # (0 && 1) || 1
        ("0 || 1 && 0", False),  # 0 || (1 && 0)
        ("1 && 0 || 1 && 1", True),
        ("!1 || 1", True),  # ! binds to its term only
    ],
)
def test_and_binds_tighter_than_or(text: str, value: bool) -> None:
    assert ev(text) is value


@pytest.mark.parametrize(
    ("text", "value"),
    [("(1 || 0) && 0", False), ("0 || (1 && 1)", True), ("((1))", True), ("( 1 )", True)],
)
def test_parentheses(text: str, value: bool) -> None:
    assert ev(text) is value


@pytest.mark.parametrize("text", ["(1", "1)", "()", "(", "(1 && 1"])
def test_unbalanced_parentheses_are_errors(text: str) -> None:
    fails(text)


@pytest.mark.parametrize("text", ["1 &&", "1 ||", "&& 1", "|| 1", "1 & 1", "1 | 0", "1 !"])
def test_bad_operator_use_is_an_error(text: str) -> None:
    fails(text)


def test_errors_carry_a_position() -> None:
    assert fails("1 && 0 x").position == 7
    assert fails("defined(HOME)x").position == 13


def test_depth_limit_on_chained_terms() -> None:
    # haproxy 2.6.12 accepts 1022 chained terms and refuses 1023
    assert ev("&&".join(["1"] * 1022)) is True
    fails("&&".join(["1"] * 1023))
    assert ev("||".join(["0"] * 1022)) is False
    fails("||".join(["0"] * 1023))


def test_depth_limit_on_nested_parentheses() -> None:
    # haproxy 2.6.12 accepts 340 nested parentheses and refuses 341
    assert ev("(" * 340 + "1" + ")" * 340) is True
    fails("(" * 341 + "1" + ")" * 341)


# -- predicates ------------------------------------------------------------------------------


def test_defined() -> None:
    assert ev("defined(HOME)") is True
    assert ev("defined(NOPE)") is False


def test_defined_counts_empty_variables() -> None:
    assert ev("defined(EMPTY)") is True


def test_predicate_without_parentheses_gets_one_empty_argument() -> None:
    # haproxy 2.6.12: `defined` and `defined()` are false, not errors
    assert ev("defined") is False
    assert ev("defined()") is False


def test_space_before_parenthesis_is_an_error() -> None:
    # haproxy 2.6.12: `defined (HOME)` stops after `defined`, then '(' is garbage
    fails("defined (HOME)")


@pytest.mark.parametrize("text", ["Defined(HOME)", "foo(1)", "strstr(abc,b)", "enabled(POLL)"])
def test_unknown_predicate_is_an_error(text: str) -> None:
    # strstr() and enabled() arrived after 2.6
    assert "unknown predicate" in fails(text).message


def test_feature_uses_weir_features() -> None:
    assert ev("feature(EPOLL)") is True
    assert ev("feature(OPENSSL)") is False  # weir has no TLS yet
    assert ev("feature(epoll)") is False


def test_feature_with_given_features() -> None:
    assert ev("feature(OPENSSL)", features=frozenset({"OPENSSL"})) is True
    assert ev("feature(PCRE)", features=frozenset({"PCRE2"})) is False


def test_streq_and_strneq() -> None:
    assert ev("streq(a,a)") is True
    assert ev("streq(a,b)") is False
    assert ev("strneq(a,b)") is True
    assert ev("strneq(a,a)") is False
    assert ev("streq(,)") is True


def test_spaces_in_arguments_are_significant() -> None:
    # haproxy 2.6.12: streq(a, a) is false
    assert ev("streq(a, a)") is False
    assert ev("streq(a b,a b)") is True


def test_argument_quoting() -> None:
    assert ev("streq(\"a,b\",'a,b')") is True
    assert ev('streq("x)",x\\)') is False  # `\)` is no escape: the second argument is x\
    assert ev("streq(a\\ b,'a b')") is True
    assert ev("streq(a\\\"b,'a\"b')") is True


def test_value_with_comma_changes_the_split() -> None:
    # haproxy 2.6.12: `streq("$C",x)` with C="a,b" reads streq(a,b,x), one argument too many
    with pytest.raises(CondError, match="expected '\\)'"):
        evaluate_text('streq("$C",x)', env=ENV)


@pytest.mark.parametrize("text", ["streq(a)", "streq()", "streq"])
def test_missing_argument_is_an_error(text: str) -> None:
    assert "needs 2 arguments" in fails(text).message


@pytest.mark.parametrize("text", ["streq(a,b,c)", "defined(HOME,x)", "defined(HOME"])
def test_extra_argument_or_missing_parenthesis_is_an_error(text: str) -> None:
    assert "expected ')'" in fails(text).message


def test_trailing_backslash_in_arguments_is_an_error() -> None:
    fails("defined(a\\")


@pytest.mark.parametrize(
    ("version", "atleast"),
    [
        ("2.6", True),
        ("2.6.12", True),
        ("2.6.13", False),
        ("2.7", False),
        ("3", False),
        ("2.6-dev5", True),
        ("2.6.12-dev1", True),
        ("2.6.12-rc1", True),
        ("2.6.12-1", False),
        ("2.6.12.0", True),
        ("2.6.12.1", False),
        ("1.8.30", True),
    ],
)
def test_version_atleast_and_before(version: str, atleast: bool) -> None:
    # answers of haproxy 2.6.12 for the same arguments
    assert ev(f"version_atleast({version})") is atleast
    assert ev(f"version_before({version})") is not atleast


@pytest.mark.parametrize("version", ["foo", "", "2.x", "2.6.12.0.1"])
def test_unparsable_version_counts_as_not_newer(version: str) -> None:
    # haproxy 2.6.12: version_atleast(foo) is true and version_before(foo) false
    assert ev(f"version_atleast({version})") is True
    assert ev(f"version_before({version})") is False


def test_version_parameter() -> None:
    assert ev("version_atleast(2.8)", version="2.8.1") is True
    assert ev("version_atleast(2.8)", version="2.8-dev3") is False


def test_compare_version_orders_dev_rc_release() -> None:
    assert compare_version("2.6.0", "2.6-dev1") == -1
    assert compare_version("2.6-rc1", "2.6-dev9") == -1
    assert compare_version("2.6-rc1", "2.6.0") == 1
    assert compare_version("2.6", "2.6.0.0") == 0
    assert compare_version("2.6", "x") == -3
    assert compare_version("x", "2.6") == -2


def test_openssl_version_predicates_fail_without_openssl() -> None:
    # as in a HAProxy built without OpenSSL
    with pytest.raises(CondError, match="OpenSSL"):
        ev("openssl_version_atleast(1.1.1)")
    with pytest.raises(CondError, match="OpenSSL"):
        ev("openssl_version_before(4.0.0)")


def test_ssllib_name_startswith_is_false_without_openssl() -> None:
    assert ev("ssllib_name_startswith(OpenSSL)") is False


def test_evaluation_short_circuits() -> None:
    assert ev("0 && openssl_version_atleast(1.1.1)") is False
    assert ev("1 || openssl_version_atleast(1.1.1)") is True


def test_syntax_is_checked_even_where_evaluation_would_stop() -> None:
    fails("1 || bogus(")


# -- words and -cc text ----------------------------------------------------------------------


def test_words_are_glued_with_single_spaces() -> None:
    assert evaluate(["defined(HOME)", "&&", "!defined(NOPE)"], env=ENV) is True
    # streq("a b","a b") after lexing is the two words `streq(a` and `b,a b)`... glued back
    assert evaluate(["streq(a", "b,a", "b)"], env=ENV) is True


def test_evaluate_text_resolves_quotes_and_variables() -> None:
    assert evaluate_text('streq("$HOME",/root)', env=ENV) is True
    assert evaluate_text("streq($HOME,/root)", env=ENV) is False  # not expanded unquoted
    assert evaluate_text("streq('a b',\"a b\")", env=ENV) is True


def test_evaluate_text_has_no_comments() -> None:
    # haproxy 2.6.12: `-cc '1 # 0'` is an error, not "1"
    with pytest.raises(CondError):
        evaluate_text("1 # 0", env=ENV)


def test_evaluate_text_keeps_leading_blanks() -> None:
    assert evaluate_text(" 1", env=ENV) is True
    with pytest.raises(CondError):
        evaluate_text(" ", env=ENV)
    assert evaluate_text("", env=ENV) is False


def test_evaluate_text_stops_at_a_newline() -> None:
    # haproxy 2.6.12: -cc $'1\n0 &&' is true
    assert evaluate_text("1\n0 &&", env=ENV) is True


def test_evaluate_text_tab_becomes_a_space() -> None:
    # the tab separates words, glued back with a space: `defined (HOME)` is an error
    with pytest.raises(CondError):
        evaluate_text("defined\t(HOME)", env=ENV)


@pytest.mark.parametrize("text", ['"1', "\\x4", '"$1"', '"${A"'])
def test_evaluate_text_lexing_errors(text: str) -> None:
    with pytest.raises(CondError):
        evaluate_text(text, env=ENV)


def test_evaluate_text_line_pseudo_variable_is_zero() -> None:
    assert evaluate_text('streq("${.LINE}",0) && !defined(.FILE)', env=ENV) is True


def test_evaluate_text_uses_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_COND_TEST", "x")
    assert evaluate_text('defined(WEIR_COND_TEST) && streq("$WEIR_COND_TEST",x)') is True
