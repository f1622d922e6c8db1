"""Inputs beyond the limits (docs/language.md, "Limits") are input errors naming the input,
exit 2, nothing run: `twdsl run` as a real process, and the API the CLI uses."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from cli_helpers import run

from twdsl.compiler import compile_source
from twdsl.runtime.inputs import MAX_DEPTH, InputError, load_json, validate_inputs

FLOW = """workflow W {
  version: "1.0.0"
  input {
    n: number
    xs: array<number>?
    o: object?
    a: number?
    b: number?
    c: number?
    d: number?
  }
  output {
    r: number = n
  }
}
"""
TAIL = "twdsl: the inputs of W do not fit its declaration; nothing was run\n"


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    (tmp_path / "w.twdsl").write_text(FLOW)
    return tmp_path


def refused(flow: Path, *args: str) -> str:
    done = run("run", "w.twdsl", "--no-state", *args, cwd=flow)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr


def test_bad_numbers_on_the_command_line(flow: Path) -> None:
    """All at once: every problem is reported, each naming its input."""
    assert refused(flow, "-i", "n=NaN", "-i", "a=-Infinity", "-i", "b=1e999",
                   "-i", f"c={'9' * 5000}", "-i", f"d={'9' * 400}.5") == "".join(
        f"twdsl: {m}\n" for m in [
            "input 'n': expected a finite number, got 'NaN'",
            "input 'a': expected a finite number, got '-Infinity'",
            "input 'b': '1e999' is too large for a number",
            "input 'c': an integer of 5,000 digits is too long (at most 4,300 digits)",
            f"input 'd': '{'9' * 20}...' is too large for a number"]) + TAIL


def test_a_thousand_nested_brackets_on_the_command_line(flow: Path) -> None:
    assert refused(flow, "-i", "n=1", "-i", "xs=" + "[" * 1000 + "]" * 1000) == (
        f"twdsl: input 'xs': nested more than {MAX_DEPTH} levels deep; input values nest at "
        f"most {MAX_DEPTH} levels\n{TAIL}")


def test_nan_inside_an_array_names_the_element(flow: Path) -> None:
    assert refused(flow, "-i", "n=1", "-i", "xs=[1, NaN]") == (
        f"twdsl: input 'xs[1]': NaN is not a number (JSON has no NaN or Infinity)\n{TAIL}")


@pytest.mark.parametrize("text, message", [
    ('{"n": 1, "o": {"a": ' + "[" * 1000 + "]" * 1000 + "}}",
     f"input 'o': nested more than {MAX_DEPTH} levels deep; input values nest at most "
     f"{MAX_DEPTH} levels (in.json:1:120)"),
    ('{"n": 1,\n "o": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}",
     f"input 'o': nested more than {MAX_DEPTH} levels deep; input values nest at most "
     f"{MAX_DEPTH} levels (in.json:2:607)"),
    ('{"n": ' + "9" * 5000 + ', "a": NaN, "b": 1e999, "o": {"deep": {"x": [Infinity]}}}',
     "input 'n': an integer of 5,000 digits is too long (at most 4,300 digits)\n"
     "twdsl: input 'o.deep.x[0]': Infinity is not a number (JSON has no NaN or Infinity)\n"
     "twdsl: input 'a': NaN is not a number (JSON has no NaN or Infinity)\n"
     "twdsl: input 'b': 1e999 is too large for a number"),
])
def test_bad_values_in_an_inputs_file(flow: Path, text: str, message: str) -> None:
    (flow / "in.json").write_text(text)
    assert refused(flow, "--inputs-file", "in.json") == f"twdsl: {message}\n{TAIL}"


def test_an_inputs_file_nested_too_deep_outside_any_input(flow: Path) -> None:
    (flow / "in.json").write_text("[" * 1000 + "]" * 1000)
    assert refused(flow, "--inputs-file", "in.json") == (
        f"twdsl: in.json:1:{MAX_DEPTH + 2}: nested more than {MAX_DEPTH} levels deep; input "
        f"values nest at most {MAX_DEPTH} levels\n{TAIL}")


def test_an_inputs_file_that_is_not_utf8(flow: Path) -> None:
    (flow / "in.json").write_bytes(b'{"n": "\xff"}')
    assert refused(flow, "--inputs-file", "in.json") == (
        "twdsl: in.json is not UTF-8 text: invalid start byte at byte 7\n")


def test_values_within_the_limits_run(flow: Path) -> None:
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    (flow / "in.json").write_text('{"n": ' + "9" * 4300 + ', "o": {"a": ' + nested + "}}")
    done = run("run", "w.twdsl", "--no-state", "--inputs-file", "in.json", cwd=flow)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["{", '"r":', "9" * 4300, "}"]
    done = run("run", "w.twdsl", "--no-state", "-i", "n=12345678901234567890", cwd=flow)
    assert done.stdout.split() == ["{", '"r":', "12345678901234567890", "}"]  # exact


def test_the_api_refuses_values_beyond_the_limits_too() -> None:
    program = compile_source(FLOW, "w.twdsl").program
    assert program is not None
    deep: list = []
    for _ in range(5000):  # deeper than recursion would go
        deep = [deep]
    with pytest.raises(InputError) as e:
        validate_inputs(program, {"n": math.nan, "xs": deep, "o": {"big": 10 ** 4300}})
    assert e.value.problems == [
        "input 'n': nan is not a finite number",
        f"input 'xs{'[0]' * MAX_DEPTH}': nested more than {MAX_DEPTH} levels deep; input "
        f"values nest at most {MAX_DEPTH} levels",
        "input 'o.big': an integer of more than 4,300 digits is too long"]
    assert load_json('{"a": [1, 2.5, "x"]}', "x") == {"a": [1, 2.5, "x"]}
