"""docs/agents.md stays true: its workflow example checks clean and runs on the built-in
agents, and its tables list exactly the binding keys and the built-in agents there are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import twdsl
from twdsl.compiler import compile_source
from twdsl.runtime import run
from twdsl.runtime.agents.builtin import BUILTINS
from twdsl.runtime.agents.registry import KEYS

DOC = (Path(__file__).resolve().parent.parent / "docs" / "agents.md").read_text()


def _section(title: str) -> str:
    start = DOC.index(title)
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end >= 0 else None]


def test_the_workflow_example_checks_clean_and_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (example,) = re.findall(r"```twdsl\n(.*?)```", DOC, re.S)
    assert twdsl.analyze(example, "demo.twdsl").diagnostics == []
    result = run(compile_source(example, "demo.twdsl").program, {})
    assert (result.status.value, result.outputs) == ("completed", {"answer": 42})
    assert result.tasks["shaky"].attempts == 3
    assert "[say] got 42\n" in capsys.readouterr().err


def test_the_keys_table_lists_every_key() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (all|python|command|url) \|", _section("### Keys"),
                      re.M)
    documented = {(key, kind) for key, kind in rows}
    common = set(KEYS["python"]) & set(KEYS["command"]) & set(KEYS["url"])
    expected = {(key, "all") for key in common}
    expected |= {(key, kind) for kind in ("python", "command", "url") for key in KEYS[kind]
                 if key != kind and key not in common}
    assert documented == expected


def test_the_builtin_table_lists_every_builtin() -> None:
    rows = re.findall(r"^\| `(\w+)` \|", _section("## Built-in agents"), re.M)
    assert rows == list(BUILTINS)
