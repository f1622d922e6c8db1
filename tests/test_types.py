"""The type checker: exact diagnostics, and the types given to task results (Q3, Q5)."""

from __future__ import annotations

import pytest

from twdsl import analyze
from twdsl.lang import types as T

SIGS = """agent Build { input { repo: url, branch: string = "main", flags: array<string>? }
               output { artifact: file, size: number } }
agent Check { input { artifact: file } output { passed: boolean, failures: array<string> } }
"""


def _diags(body: str) -> list[tuple[str, str, str]]:
    src = SIGS + 'workflow W {\n  version: "1.0.0"\n' + body + "\n}\n"
    offset = SIGS.count("\n") + 2
    return [(f"{d.span.line - offset}:{d.span.column}", d.code, d.message)
            for d in analyze(src, "w.twdsl").diagnostics]


def test_agent_inputs_are_checked_against_the_signature() -> None:
    assert _diags("""  input { repo: url }
  task b { agent: Build input: { repo: repo, brnach: "dev", flags: ["-O"] } }
  task c { agent: Build input: { branch: 1 } }""") == [
        ("2:46", "TW305", "agent 'Build' takes no input 'brnach'; did you mean 'branch'?"),
        ("3:32", "TW305", "task 'c' does not give agent 'Build' its required input 'repo'"),
        ("3:42", "TW301", "input 'branch' of agent 'Build' expects string, and this is number"),
    ]


def test_result_fields_come_from_the_signature() -> None:
    assert _diags("""  task b { agent: Build input: { repo: "https://x" } }
  output { a: file = b.result.artifcat, n: number = b.result.size + 1 }""") == [
        ("2:31", "TW302", "{ artifact: file, size: number } has no field 'artifcat'; did you "
                          "mean 'artifact'?"),
    ]


def test_results_of_tasks_that_may_not_run_are_optional() -> None:
    body = """  task b { agent: Build input: { repo: "https://x" } }
  if (b.result.size > 10) {
    task c { agent: Check input: { artifact: b.result.artifact } }
  }
  output {
    bad: boolean = c.result.passed
    good: boolean = c.result.passed ?? false
  }"""
    assert _diags(body) == [
        ("6:20", "TW301", "output 'bad' expects boolean, and this is boolean?; it may be null: "
                          "give a default with ??"),
    ]


def test_a_reader_inside_the_same_branch_sees_a_certain_result() -> None:
    assert _diags("""  input { go: boolean }
  if (go) {
    task b { agent: Build input: { repo: "https://x" } }
    task c { agent: Check input: { artifact: b.result.artifact } }
  }""") == []


def test_results_read_from_outside_a_loop_are_arrays() -> None:
    assert _diags("""  input { repos: array<url>, go: boolean }
  if (go) {
    foreach r in repos { task b { agent: Build input: { repo: r } } }
  }
  output {
    sizes: array<number> = (b.result ?? []).map(x => x.size)
    wrong: array<number> = b.result.map(x => x.size)
  }""") == [
        ("7:28", "TW301", "output 'wrong' expects array<number>, and this is array<number>?; it "
                          "may be null: give a default with ??"),
    ]


def test_conditions_loops_operators_and_methods() -> None:
    assert _diags("""  input { n: number, names: array<string>, maybe: boolean? }
  if (n) { task a { agent: "A" } }
  while (maybe) { max_iterations: 3  task b { agent: "B" } }
  foreach x in n { task c { agent: "C" } }
  task d { agent: "D" input: { s: "a" - 1, t: names.fitler(x => x.startsWith("a")),
                                u: names.filter(x => x.length()), v: names[0].upper() } }
  task e { agent: "E" timeout: 5 }""") == [
        ("2:7", "TW303", "the condition of if must be boolean, and `n` is number"),
        ("3:10", "TW303", "the condition of while must be boolean, and `maybe` is boolean?; read "
                          "it with ?? (e.g. `x ?? false`)"),
        ("4:16", "TW304", "foreach needs an array, and `n` is number"),
        ("5:35", "TW301", "'-' cannot combine string and number"),
        ("5:53", "TW302", "array<string> has no method 'fitler'; did you mean 'filter'?"),
        ("6:54", "TW301", "'filter' needs a lambda that returns boolean, and this one returns "
                          "number"),
        ("7:32", "TW301", "field 'timeout' expects duration, and this is number"),
    ]


def test_declared_types() -> None:
    src = """type Target = { host: string, port: number }
type Loop = Loop
workflow W { version: "1.0.0" input { t: Target, u: Tagret, l: Loop, a: array<string, number> }
  task use { agent: "A" input: { t: t, u: u, l: l, a: a } } }"""
    assert [(str(d.span), d.code, d.message) for d in analyze(src, "t").diagnostics] == [
        ("t:2:6", "TW310", "type 'Loop' is defined in terms of itself"),
        ("t:3:53", "TW310", "unknown type 'Tagret'; did you mean 'Target'?"),
        ("t:3:73", "TW310", "array takes one element type: array<T>"),
    ]


@pytest.mark.parametrize("src, dst, ok", [
    (T.STRING, T.URL, True), (T.URL, T.STRING, False), (T.NULL, T.Opt(T.NUMBER), True),
    (T.Opt(T.NUMBER), T.NUMBER, False), (T.Arr(T.NUMBER), T.Arr(T.ANY), True),
    (T.Rec((("a", T.NUMBER),)), T.OBJECT, True), (T.NUMBER, T.OBJECT, False),
    (T.Rec((("a", T.NUMBER),)), T.Rec((("a", T.NUMBER), ("b", T.Opt(T.STRING)))), True),
    (T.Rec((("a", T.NUMBER),)), T.Rec((("a", T.NUMBER), ("b", T.STRING))), False),
])
def test_assignable(src: T.Type, dst: T.Type, ok: bool) -> None:
    assert T.assignable(src, dst) is ok


def test_a_while_condition_reads_its_own_body_as_optional() -> None:
    """Before the first iteration the task has not run: its result is null."""
    assert _diags("""  while (!poll.result.passed) { max_iterations: 5
    task poll { agent: Check input: { artifact: "f" } } }
  while (!(again.result.passed ?? false)) { max_iterations: 5
    task again { agent: Check input: { artifact: "f" } } }""") == [
        ("1:11", "TW301", "'!' needs a boolean, and this is boolean?"),
    ]


def test_types_from_unfollowed_imports_are_not_guessed_at() -> None:
    src = ('import { Target } from "./lib.twdsl"\nworkflow W { version: "1.0.0" input { t: Target } '
           'task a { agent: "A" input: { t: t } } }')
    assert analyze(src, "w.twdsl").diagnostics == []


def test_builtin_function_arguments() -> None:
    assert _diags("""  input { xs: array<number>, s: string, o: { a: number } }
  task t { agent: "T" input: {
    a: len(xs) + len(s) + len(o) + len(5),
    b: range(3, 1, 2), c: min(xs) + max(1, 2, 3) + sum(["a"]),
    d: keys(o).join(","), e: merge(o, 1) } }""") == [
        ("3:40", "TW301", "len() takes a string, an array or an object, and this is number"),
        ("4:8", "TW301", "range() takes 1 or 2 arguments, and this call gives 3"),
        ("4:56", "TW301", "sum() takes an array of numbers, and this is array<string>"),
        ("5:39", "TW301", "merge() takes an object, and this is number"),
    ]
