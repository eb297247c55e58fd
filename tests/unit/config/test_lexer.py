"""weir.config.lexer: words, quotes, escapes, variables, limits and conditional blocks.

Behaviours marked "haproxy 2.6.12" were checked against the real binary with
`haproxy -c -f` on small files (printing words with `.notice`), not only read in its docs.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from weir.config.diagnostics import Diagnostics, Level, Where
from weir.config.lexer import MAX_NESTED_IFS, MAX_WORDS, Line, read_lines


def lex(text: str, env: Mapping[str, str] | None = None) -> tuple[list[Line], Diagnostics]:
    diags = Diagnostics()
    return read_lines(text, "t.cfg", diags, env={} if env is None else env), diags


def words(text: str, env: Mapping[str, str] | None = None) -> list[tuple[str, ...]]:
    lines, diags = lex(text, env)
    assert not diags.items, [d.message for d in diags.items]
    return [line.words for line in lines]


def one(line: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The words of a single line."""
    (only,) = words(line + "\n", env)
    return only


def alerts(diags: Diagnostics) -> list[tuple[int, str]]:
    return [(d.where.line if d.where else 0, d.message) for d in diags.errors]


# -- words, blanks, comments -----------------------------------------------------------------


def test_words_split_on_spaces_and_tabs() -> None:
    assert one("server  s1\t127.0.0.1:80   check") == ("server", "s1", "127.0.0.1:80", "check")


def test_vertical_tab_and_form_feed_separate_words() -> None:
    # haproxy 2.6.12: isspace() separators, not only space and tab
    assert one("a\vb\fc") == ("a", "b", "c")


def test_leading_blanks_are_skipped() -> None:
    assert one(" \t  mode http") == ("mode", "http")


def test_comment_ends_the_line() -> None:
    assert one("mode http # the mode") == ("mode", "http")


def test_comment_glued_to_a_word() -> None:
    assert one("global#this is the global section") == ("global",)


def test_blank_and_comment_lines_are_dropped() -> None:
    assert words("\n   \n# only a comment\n\t# indented comment\nglobal\n") == [("global",)]


def test_hash_inside_quotes_is_not_a_comment() -> None:
    assert one("x \"a#b\" 'c#d'") == ("x", "a#b", "c#d")


def test_escaped_hash_is_not_a_comment() -> None:
    assert one(r"x a\#b") == ("x", "a#b")


# -- quoting ---------------------------------------------------------------------------------


def test_double_quotes_keep_spaces() -> None:
    assert one('log-format "%t %s"') == ("log-format", "%t %s")


def test_single_quotes_interpret_nothing() -> None:
    assert one(r"""x '$HOME \x41 \n "q" #'""", {"HOME": "/root"}) == (
        "x",
        r'$HOME \x41 \n "q" #',
    )


def test_double_quotes_keep_single_quotes_and_vice_versa() -> None:
    assert one("""x "it's" 'say "hi"'""") == ("x", "it's", 'say "hi"')


def test_quotes_join_adjacent_text_into_one_word() -> None:
    assert one('x a"b c"d') == ("x", "ab cd")


def test_mixed_quotes_join() -> None:
    # configuration.txt 2.2's example: both forms give one word
    assert one("""x "%{+Q}o %t"' %s'\\ %{-Q}r""") == ("x", "%{+Q}o %t %s %{-Q}r")


def test_empty_quotes_give_an_empty_word_inside_a_line() -> None:
    assert one('x "" y') == ("x", "", "y")


def test_trailing_empty_words_are_dropped() -> None:
    # HAProxy cannot tell `x ""` from `x`: both leave args[1] empty.
    assert one("x \"\" ''") == ("x",)


def test_line_starting_with_an_empty_word_is_ignored() -> None:
    # haproxy 2.6.12: `"" .notice x` prints nothing, `"" bogus` is no error
    assert words('"" bogus line\nglobal\n') == [("global",)]


def test_unterminated_quote_is_an_alert_with_its_line_and_column() -> None:
    lines, diags = lex('global\n  log "127.0.0.1 local0\nmaxconn 10\n')
    assert [line.words for line in lines] == [("global",), ("maxconn", "10")]
    [(lineno, message)] = alerts(diags)
    assert lineno == 2
    assert "column 7" in message
    assert diags.errors[0].detail[1].index("^") == 2 + 6


def test_unterminated_single_quote_is_an_alert() -> None:
    _, diags = lex("x 'abc\n")
    assert alerts(diags)[0][0] == 1


def test_every_bad_line_is_reported_in_one_pass() -> None:
    lines, diags = lex("a \"x\nb ok\nc \\xZZ\nd 'y\n")
    assert [line.words for line in lines] == [("b", "ok")]
    assert [lineno for lineno, _ in alerts(diags)] == [1, 3, 4]


# -- backslash escapes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "word"),
    [
        ("a\\ b", "a b"),
        ("a\\#b", "a#b"),
        ("a\\\\b", "a\\b"),
        ("a\\'b", "a'b"),
        ('a\\"b', 'a"b'),
        ("a\\rb", "a\rb"),
        ("a\\nb", "a\nb"),
        ("a\\tb", "a\tb"),
        ("a\\x41b", "aAb"),
        ("\\x4a\\x4A\\x7e", "JJ~"),
    ],
)
def test_escape(written: str, word: str) -> None:
    assert one("x " + written) == ("x", word)


def test_escapes_work_inside_double_quotes() -> None:
    assert one('x "a\\"b\\x41\\\\ \\#"') == ("x", 'a"bA\\ #')


def test_unknown_escape_keeps_its_backslash() -> None:
    # haproxy 2.6.12: `\q` and `"\q"` both stay `\q`
    assert one('x a\\qb "c\\qd"') == ("x", "a\\qb", "c\\qd")


def test_escaped_dollar_outside_quotes_keeps_the_backslash() -> None:
    # haproxy 2.6.12 prints `a\$b`, although configuration.txt's table says `$`
    assert one("x a\\$b") == ("x", "a\\$b")


def test_escaped_dollar_inside_double_quotes_is_a_dollar() -> None:
    assert one('x "a\\$HOME"', {"HOME": "/root"}) == ("x", "a$HOME")


def test_backslash_tab_is_not_an_escape() -> None:
    # haproxy 2.6.12: `a\<TAB>b` is the two words `a\` and `b` (the doc table says otherwise)
    assert one("x a\\\tb") == ("x", "a\\", "b")


def test_trailing_backslash_is_kept() -> None:
    assert one("x a\\") == ("x", "a\\")


def test_nul_byte_from_hex_escape_ends_the_word() -> None:
    # haproxy 2.6.12: words are C strings, `.notice a\x00b` prints 'a'
    assert one("x a\\x00b c") == ("x", "a", "c")


@pytest.mark.parametrize("written", ["a\\x4", "a\\xZZ", "a\\x", '"\\x4"'])
def test_bad_hex_escape_is_an_alert(written: str) -> None:
    lines, diags = lex(f"x {written}\ny\n")
    assert [line.words for line in lines] == [("y",)]
    [(lineno, message)] = alerts(diags)
    assert lineno == 1
    assert "hexadecimal" in message
    assert "column 4" in message


# -- environment variables -------------------------------------------------------------------

ENV = {"V": "val", "E": "", "L": "a b  c", "LS": " x", "_U": "u"}


@pytest.mark.parametrize(
    ("written", "word"),
    [
        ('"$V"', "val"),
        ('"${V}"', "val"),
        ('"${V}x"', "valx"),
        ('"$V.x"', "val.x"),
        ('"$_U"', "u"),
        ('"a $V b"', "a val b"),
        ('p"$V"q', "pvalq"),
    ],
)
def test_variable_in_double_quotes(written: str, word: str) -> None:
    assert one("x " + written, ENV) == ("x", word)


def test_variable_name_takes_the_longest_run() -> None:
    # `$Vx` is the variable Vx, unset here
    assert one('x "$Vx" y', ENV) == ("x", "", "y")


def test_unquoted_variable_is_not_expanded() -> None:
    # haproxy 2.6.12: `.notice $HOME` prints '$HOME'
    assert one("x $V ${V}", ENV) == ("x", "$V", "${V}")


def test_single_quoted_variable_is_not_expanded() -> None:
    assert one("x '$V'", ENV) == ("x", "$V")


def test_unset_variable_expands_to_nothing() -> None:
    assert one('x a"$NOPE"b', ENV) == ("x", "ab")


def test_default_value_for_unset_variable() -> None:
    assert one('x "${NOPE-127.0.0.1}:514"', ENV) == ("x", "127.0.0.1:514")


def test_default_value_not_used_when_variable_is_set() -> None:
    assert one('x "${V-def}"', ENV) == ("x", "val")


def test_default_value_not_used_when_variable_is_empty() -> None:
    assert one('x "${E-def}" y', ENV) == ("x", "", "y")


def test_default_value_is_raw_up_to_the_brace() -> None:
    # haproxy 2.6.12: `"${NOPE-a"b}"` gives `a"b`, spaces stay in the word
    assert one('x "${NOPE-a"b c#}"', ENV) == ("x", 'a"b c#')


def test_empty_default_value() -> None:
    assert one('x "${NOPE-}" y', ENV) == ("x", "", "y")


def test_shell_colon_dash_form_is_an_error() -> None:
    _, diags = lex('x "${NOPE:-def}"\n', ENV)
    [(lineno, message)] = alerts(diags)
    assert lineno == 1
    assert "no matching '}'" in message


def test_unmatched_brace_is_an_error() -> None:
    _, diags = lex('x "${V"\n', ENV)
    assert "no matching '}'" in alerts(diags)[0][1]


def test_word_expansion_splits_on_blanks() -> None:
    assert one('x "${L[*]}" y', ENV) == ("x", "a", "b", "c", "y")


def test_word_expansion_joins_surrounding_text() -> None:
    assert one('x p"${L[*]}"q', ENV) == ("x", "pa", "b", "cq")


def test_word_expansion_with_default() -> None:
    assert one('x "${NOPE[*]-d e}"', ENV) == ("x", "d", "e")


def test_word_expansion_leading_blank_makes_an_empty_word() -> None:
    # haproxy 2.6.12: LS=" x" gives args[1]="" and args[2]="x"
    assert one('x "${LS[*]}"', ENV) == ("x", "", "x")


def test_word_expansion_needs_braces() -> None:
    assert one('x "$V[*]"', ENV) == ("x", "val[*]")


def test_bad_word_expansion_is_an_error() -> None:
    _, diags = lex('x "${V[x]}"\n', ENV)
    assert "[*]" in alerts(diags)[0][1]


def test_variable_without_expansion_keeps_spaces_in_one_word() -> None:
    assert one('x "$L"', ENV) == ("x", "a b  c")


@pytest.mark.parametrize("written", ['"$"', '"$1"', '"a$ b"', '"${}"', '"${1}"'])
def test_bad_variable_name_is_an_error(written: str) -> None:
    lines, diags = lex(f"x {written}\n", ENV)
    assert lines == []
    assert "must start with a letter" in alerts(diags)[0][1]


def test_default_environment_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEIR_LEXER_TEST", "from-os")
    lines = read_lines('x "$WEIR_LEXER_TEST"\n', "t.cfg", Diagnostics())
    assert lines[0].words == ("x", "from-os")


def test_pseudo_variables_line_and_file() -> None:
    assert words('global\n x "${.LINE}" "$.FILE"\n') == [("global",), ("x", "2", "t.cfg")]


def test_pseudo_variable_section_follows_sections() -> None:
    text = (
        'x "${.SECTION-none}"\n'
        "frontend fe\n"
        ' y "$.SECTION"\n'
        "global\n"
        ' z "$.SECTION"\n'
        "no backend be\n"
        ' w "$.SECTION"\n'
    )
    assert [w for w in words(text) if w[0] in {"x", "y", "z", "w"}] == [
        ("x", "none"),
        ("y", "fe"),
        ("z", "global"),
        ("w", "be"),
    ]


def test_unknown_pseudo_variable_is_an_error() -> None:
    _, diags = lex('x "$.FOO"\n')
    assert "pseudo-variable '.FOO'" in alerts(diags)[0][1]


# -- limits and file shape -------------------------------------------------------------------


def many(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_sixty_four_words_are_allowed() -> None:
    assert len(one(many(MAX_WORDS))) == 64


def test_sixty_five_words_are_an_alert() -> None:
    lines, diags = lex(many(MAX_WORDS + 1) + "\nnext\n")
    assert [line.words for line in lines] == [("next",)]
    [(lineno, message)] = alerts(diags)
    assert lineno == 1
    assert "more than 64 words" in message


def test_trailing_blank_after_sixty_four_words_counts() -> None:
    # haproxy 2.6.12: the blank starts a 65th (empty) word and the line is refused
    _, diags = lex(many(MAX_WORDS) + " \n")
    assert len(diags.errors) == 1
    _, diags = lex(many(MAX_WORDS) + " # comment\n")
    assert len(diags.errors) == 1


def test_comment_glued_after_sixty_four_words_is_fine() -> None:
    assert len(one(many(MAX_WORDS) + "# comment")) == 64


def test_word_expansion_counts_toward_the_limit() -> None:
    _, diags = lex('x "${L[*]}" ' + many(61) + "\n", ENV)
    assert len(diags.errors) == 1


def test_line_length_is_not_limited() -> None:
    # haproxy 2.6.12 grows its line buffer: a 1 MB line loads
    assert one("x " + "y" * 200_000) == ("x", "y" * 200_000)


def test_missing_final_newline_is_an_alert_on_the_last_line() -> None:
    lines, diags = lex("global\nmaxconn 10")
    assert [line.words for line in lines] == [("global",), ("maxconn", "10")]
    [(lineno, message)] = alerts(diags)
    assert lineno == 2
    assert "newline" in message


def test_empty_file_is_fine() -> None:
    assert lex("") == ([], Diagnostics())


def test_crlf_line_endings() -> None:
    lines, diags = lex("global\r\n  maxconn 10\r\n")
    assert not diags.items
    assert [line.words for line in lines] == [("global",), ("maxconn", "10")]
    assert lines[1].text == "  maxconn 10"


def test_carriage_return_ends_the_line() -> None:
    # haproxy 2.6.12: `.notice a\rb c` prints 'a'
    assert one("x a\rb c") == ("x", "a")


def test_nul_character_stops_the_file() -> None:
    lines, diags = lex("a\nb\x00c d\ne\n")
    assert [line.words for line in lines] == [("a",), ("b",)]
    [(lineno, message)] = alerts(diags)
    assert lineno == 2
    assert "NUL" in message


def test_line_keeps_where_and_raw_text() -> None:
    lines, _ = lex('# head\n\n  log "a b" # c\n')
    assert lines == [Line(Where("t.cfg", 3), ("log", "a b"), '  log "a b" # c')]


def test_valid_scope_declaration_is_dropped() -> None:
    assert words("[engine1] # spoe scope\nx\n") == [("x",)]


@pytest.mark.parametrize("line", ["[]", "[a b]", "[a] x", "[open"])
def test_bad_scope_declaration_is_an_alert(line: str) -> None:
    lines, diags = lex(line + "\nx\n")
    assert [line.words for line in lines] == [("x",)]
    assert [lineno for lineno, _ in alerts(diags)] == [1]


def test_scope_declaration_is_checked_even_in_a_false_block() -> None:
    _, diags = lex(".if 0\n[]\n.endif\n")
    assert [lineno for lineno, _ in alerts(diags)] == [2]


# -- conditional blocks ----------------------------------------------------------------------


def kept(text: str, env: Mapping[str, str] | None = None) -> list[str]:
    """First words of the lines that survive, with no diagnostic at all."""
    return [w[0] for w in words(text, env)]


def test_if_true_keeps_and_false_drops() -> None:
    assert kept(".if 1\na\n.endif\n.if 0\nb\n.endif\nc\n") == ["a", "c"]


def test_first_true_branch_wins() -> None:
    text = ".if 0\na\n.elif 1\nb\n.elif 1\nc\n.else\nd\n.endif\n"
    assert kept(text) == ["b"]


def test_else_taken_when_nothing_matched() -> None:
    assert kept(".if 0\na\n.elif 0\nb\n.else\nc\n.endif\n") == ["c"]


def test_else_skipped_after_a_true_if() -> None:
    assert kept(".if 1\na\n.else\nb\n.endif\n") == ["a"]


def test_nested_blocks() -> None:
    text = (
        ".if 1\n  .if 0\n  a\n  .else\n  b\n  .endif\n  c\n.else\n  .if 1\n  d\n  .endif\n.endif\n"
    )
    assert kept(text) == ["b", "c"]


def test_conditions_in_a_false_block_are_not_evaluated() -> None:
    # haproxy 2.6.12: `.if bogus(` inside `.if 0` is no error, nor is `.elif bogus(`
    # after a taken branch
    assert kept(".if 0\n.if bogus(\n.endif\n.endif\n.if 1\n.elif bogus(\n.endif\nz\n") == ["z"]


def test_lexing_errors_are_reported_in_a_false_block() -> None:
    # haproxy 2.6.12 tokenizes every line before looking at blocks
    lines, diags = lex('.if 0\nx "open\n.endif\nz\n')
    assert [line.words for line in lines] == [("z",)]
    assert [lineno for lineno, _ in alerts(diags)] == [2]


def test_unknown_directive_in_a_false_block_is_ignored() -> None:
    assert kept(".if 0\n.bogus\n.alert nope\n.endif\nz\n") == ["z"]


def test_condition_words_are_glued_with_spaces() -> None:
    env = {"A": "1", "B": "2"}
    assert kept(".if defined(A) && defined(B)\na\n.endif\n", env) == ["a"]
    assert kept(".if defined(A)&&defined(NOPE)\na\n.endif\nz\n", env) == ["z"]


def test_condition_sees_variables_and_quotes_resolved() -> None:
    env = {"WITH_SSL": "yes"}
    assert kept('.if streq("$WITH_SSL",yes)\na\n.endif\n', env) == ["a"]


def test_space_after_comma_belongs_to_the_argument() -> None:
    # haproxy 2.6.12: `.if streq("$HOME", /root)` is false (second argument " /root")
    env = {"H": "/root"}
    assert kept('.if streq("$H", /root)\na\n.else\nb\n.endif\n', env) == ["b"]


def test_comment_after_a_condition() -> None:
    assert kept(".if 1 # always\na\n.endif # done\n") == ["a"]


def test_empty_condition_is_false() -> None:
    assert kept('.if\na\n.endif\n.if ""\nb\n.endif\nz\n') == ["z"]


def test_blank_condition_is_an_error() -> None:
    # haproxy 2.6.12: `.if "" ""` glues to " ", which does not parse
    _, diags = lex('.if "" ""\na\n.endif\n')
    assert [lineno for lineno, _ in alerts(diags)] == [1]


def test_condition_error_is_an_alert_and_takes_no_branch() -> None:
    lines, diags = lex(".if bogus(\na\n.elif 1\nb\n.else\nc\n.endif\nz\n")
    assert [line.words for line in lines] == [("z",)]
    [(lineno, message)] = alerts(diags)
    assert lineno == 1
    assert "'.if' condition" in message
    assert "bogus(" in message
    assert diags.errors[0].detail[0].strip() == ".if bogus("


def test_elif_condition_error_is_an_alert() -> None:
    _, diags = lex(".if 0\n.elif streq(a)\n.endif\n")
    assert [lineno for lineno, _ in alerts(diags)] == [2]


@pytest.mark.parametrize(
    ("level", "directive"),
    [
        (Level.DIAG, ".diag"),
        (Level.NOTICE, ".notice"),
        (Level.WARNING, ".warning"),
        (Level.ALERT, ".alert"),
    ],
)
def test_message_directives(level: Level, directive: str) -> None:
    lines, diags = lex(f'global\n{directive} "switch to 2.6 soon"\n')
    assert [line.words for line in lines] == [("global",)]
    [item] = diags.items
    assert item.level is level
    assert item.where == Where("t.cfg", 2)
    assert "switch to 2.6 soon" in item.message


def test_alert_directive_makes_the_load_fail() -> None:
    _, diags = lex('.if !feature(OPENSSL)\n  .alert "SSL support is mandatory"\n.endif\n')
    assert diags.has_errors()


def test_message_directives_only_in_taken_branches() -> None:
    _, diags = lex(".if 0\n.alert a\n.else\n.notice b\n.endif\n")
    assert [(d.level, d.message) for d in diags.items] == [(Level.NOTICE, "'b'")]


def test_message_directive_with_two_words_is_an_alert() -> None:
    _, diags = lex(".notice two words\n")
    [(lineno, message)] = alerts(diags)
    assert lineno == 1
    assert "'words'" in message


def test_message_directive_without_message() -> None:
    _, diags = lex(".notice\n")
    assert [(d.level, d.message) for d in diags.items] == [(Level.NOTICE, "''")]


def test_quoted_directive_name_is_a_directive() -> None:
    _, diags = lex("'.notice' x\n")
    assert [d.level for d in diags.items] == [Level.NOTICE]


def test_unknown_directive_is_an_alert_and_reading_goes_on() -> None:
    lines, diags = lex(".bogus\n.NOTICE x\nz\n")
    assert [line.words for line in lines] == [("z",)]
    assert [lineno for lineno, _ in alerts(diags)] == [1, 2]


@pytest.mark.parametrize("directive", [".endif", ".else", ".elif 1"])
def test_directive_without_if_is_an_alert(directive: str) -> None:
    lines, diags = lex(f"{directive}\nz\n")
    assert [line.words for line in lines] == [("z",)]
    [(lineno, message)] = alerts(diags)
    assert lineno == 1
    assert "without a matching '.if'" in message


@pytest.mark.parametrize("second", [".elif 1", ".else"])
def test_directive_after_else_is_an_alert(second: str) -> None:
    lines, diags = lex(f".if 0\na\n.else\nb\n{second}\nc\n.endif\nz\n")
    assert [line.words for line in lines] == [("b",), ("z",)]
    assert [lineno for lineno, _ in alerts(diags)] == [5]


@pytest.mark.parametrize("directive", [".else", ".endif"])
def test_else_and_endif_take_no_argument(directive: str) -> None:
    _, diags = lex(f".if 1\n{directive} extra\n" + (".endif\n" if directive == ".else" else ""))
    [(lineno, message)] = alerts(diags)
    assert lineno == 2
    assert "'extra'" in message


def test_missing_endif_is_an_alert_at_the_end_of_file() -> None:
    lines, diags = lex("a\n.if 1\nb\n.if 0\nc\n")
    assert [line.words for line in lines] == [("a",), ("b",)]
    assert alerts(diags) == [
        (5, "'.if' of line 2 is never closed by '.endif'"),
        (5, "'.if' of line 4 is never closed by '.endif'"),
    ]


def test_nesting_limit() -> None:
    depth = MAX_NESTED_IFS
    assert kept(".if 1\n" * depth + "a\n" + ".endif\n" * depth) == ["a"]
    _, diags = lex(".if 1\n" * (depth + 1) + ".endif\n" * (depth + 1))
    assert [lineno for lineno, _ in alerts(diags)] == [depth + 1]
