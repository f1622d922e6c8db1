"""Parser regressions found by benchmarks, reviews and fuzzing: each test is one bug."""

from __future__ import annotations

from twdsl import analyze, parse
from twdsl.syntax import ast as A


def test_empty_case_before_default_on_next_line() -> None:
    """`case "a":` ending its line before `default:` is an empty case, not a missing value."""
    src = ('workflow W {\n  version: "1.0.0"\n  input { x: string }\n  switch (x) {\n    case "a":\n    default:\n'
           '      task t { agent: "A" }\n  }\n}\n')
    result = analyze(src, "w.twdsl")
    assert result.diagnostics == []
    switch = result.module.items[0].body.items[2]
    assert isinstance(switch, A.SwitchStmt)
    assert [(len(c.values), len(c.body), c.is_default) for c in switch.cases] == [
        (1, 0, False), (0, 1, True)]


def test_dangling_key_before_next_field_still_reported() -> None:
    result = parse('workflow W {\n  version:\n  description: "x"\n}\n', "w.twdsl")
    assert [(d.span.line, d.span.column, d.code, d.message) for d in result.diagnostics] == [
        (2, 10, "TW113", "expected a value after 'version:'")]
    fields = result.module.items[0].body.items
    assert isinstance(fields[0].value, A.ErrorExpr)
    assert fields[1].key.name == "description"


def test_unclosed_comment_swallowing_the_file_is_one_error() -> None:
    result = parse('workflow W { /* note\n  version: "1.0.0"\n}\n', "w.twdsl")
    assert [(d.span.line, d.span.column, d.code) for d in result.diagnostics] == [
        (1, 14, "TW102")]


def test_unterminated_string_keeps_the_closers_after_it() -> None:
    result = parse('workflow W {\n  task a { agent: "A }\n}\n', "w.twdsl")
    assert [(d.span.line, d.span.column, d.code) for d in result.diagnostics] == [
        (2, 19, "TW101")]
    task = result.module.items[0].body.items[0]
    assert task.body.items[0].value.value == "A"


def test_stray_else_is_one_error_and_parsing_goes_on() -> None:
    src = ('workflow W { version: "1.0.0"\n task a { agent: "A" }\n'
           ' else { task b { agent: "B" } }\n task c { agnet: "C" } }')
    assert [(str(d.span), d.code) for d in analyze(src, "f").diagnostics] == [
        ("f:3:2", "TW110"), ("f:4:11", "TW120")]
    assert analyze(src, "f").diagnostics[0].message == (
        "unexpected keyword 'else' in workflow 'W': 'else' must follow the '}' of an if block")


def test_error_inside_interpolation_names_the_interpolation() -> None:
    d = parse('workflow W { description: "${1 +}" }', "f").diagnostics
    assert [(str(x.span), x.code, x.message) for x in d] == [
        ("f:1:33", "TW110", "unexpected end of the interpolation '${…}'; expected an expression")]


def test_equals_in_an_input_declaration_has_no_colon_fix() -> None:
    (d,) = parse("workflow W { input { x = 1 } }", "f").diagnostics
    assert (d.code, d.message, d.fix) == (
        "TW110", "unexpected '=' in input; declarations are written 'name: Type = default'", None)
