"""The log-format syntax: strings cut into nodes, flags, and the strings HAProxy 2.6 refuses.

Every refused string below was checked with `haproxy -c` (2.6.12), which refuses it too.
"""

from __future__ import annotations

import pytest

from weir.log.lfparse import (
    ESC,
    HEXA,
    JSON,
    MANDATORY,
    QUOTE,
    SEP,
    Expr,
    LogFormatError,
    Text,
    Var,
    parse,
)


def test_variables_text_and_separators() -> None:
    nodes, json = parse("%ci:%cp [%tr]   %ft%b", MANDATORY)
    assert not json
    assert nodes == [
        Var("ci", MANDATORY),
        Text(":"),
        Var("cp", MANDATORY),
        SEP,
        Text("["),
        Var("tr", MANDATORY),
        Text("]"),
        SEP,  # three blanks, one separator
        Var("ft", MANDATORY),
        Var("b", MANDATORY),
    ]


def test_variable_name_is_the_longest_alphanumeric_run() -> None:
    nodes, _ = parse("%HPO/%HP?%Tw_x")
    assert nodes == [Var("HPO", 0), Text("/"), Var("HP", 0), Text("?"), Var("Tw", 0), Text("_x")]


def test_flags_add_and_remove_and_ignore_unknown_words() -> None:
    nodes, _ = parse("%{+Q,+X}ci %{+Q,-Q}b %{+Z,Q}s %{+E}r", MANDATORY)
    assert nodes[0] == Var("ci", MANDATORY | QUOTE | HEXA)
    assert nodes[2] == Var("b", MANDATORY)
    assert nodes[4] == Var("s", MANDATORY)  # unknown or unsigned flags are ignored
    assert nodes[6] == Var("r", MANDATORY | ESC)


def test_percent_o_sets_the_default_of_the_items_after_it() -> None:
    nodes, _ = parse("%b %{+Q}o %b %{-Q}b %s")
    assert [n for n in nodes if isinstance(n, Var)] == [
        Var("b", 0),
        Var("b", QUOTE),
        Var("b", 0),
        Var("s", QUOTE),
    ]


def test_literal_percent_and_a_dropped_percent() -> None:
    nodes, _ = parse("100%% %-x")
    # `%%` is a '%'; a '%' before a character that starts nothing is dropped.
    assert nodes == [Text("100%"), SEP, Text("-x")]


def test_sample_expression_with_argument_and_flags() -> None:
    nodes, _ = parse("a %[capture.req.hdr(0)] %{+Q}[src]b", MANDATORY)
    assert nodes[2] == Expr("capture.req.hdr", "0", (), MANDATORY, "capture.req.hdr(0)")
    assert nodes[4] == Expr("src", None, (), MANDATORY | QUOTE, "src")
    assert nodes[5] == Text("b")


def test_converters_are_kept_for_the_compiler_to_refuse() -> None:
    nodes, _ = parse("%[src,lower,upper]")
    assert nodes == [Expr("src", None, ("lower", "upper"), 0, "src,lower,upper")]


def test_named_items_and_json() -> None:
    nodes, json = parse("%{+json}o %(client_ip)ci %(st:sint)ST %b")
    assert json
    assert nodes[1] == Var("ci", JSON, "client_ip")
    assert nodes[3] == Var("ST", JSON, "st")  # the type after ':' is not kept
    assert nodes[5] == Var("b", JSON)


def test_names_without_json_are_parsed_and_harmless() -> None:
    nodes, json = parse("%(x)ci")
    assert not json
    assert nodes == [Var("ci", 0, "x")]


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("a %", "lone '%'"),
        ("a % b", "is not a variable"),
        ("a %5", "is not a variable"),
        ("%{+Q}", "not followed by a variable"),
        ("%{+Q} x", "not followed by a variable"),
        ("a %{+Q", "missing '}'"),
        ("a %[src", "missing ']' after '%[src'"),
        ("a %[src x", "expected ']' after '%[src', found ' '"),
        ("%[hdr(host]", "missing ')'"),
        ("%[]", "empty sample expression"),
        ("%(name", "missing ')'"),
        ("%(name)", "names nothing"),
        ("%{+json}ci", "set it on %o"),
    ],
)
def test_refused_strings(fmt: str, message: str) -> None:
    with pytest.raises(LogFormatError, match=None) as e:
        parse(fmt)
    assert message in str(e.value)
