"""Lowering several workflows of one file with one shared set-up (``lower_workflows``, what
the compile benchmark uses) gives exactly what lowering each on its own gives, and the
validation memo shared with the passes changes nothing but the time."""

from __future__ import annotations

import sys
from pathlib import Path

import twdsl
from twdsl.ir.validate import Memo, validate
from twdsl.lowering import lower_workflow, lower_workflows
from twdsl.semantics.check import file_scope
from twdsl.passes import run_passes
from twdsl.recursion import deep_recursion
from twdsl.syntax import ast as A

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from gen import generate  # noqa: E402

# Two workflows sharing agents and a template used twice (with an alias, whose tasks the
# other workflow's names must not see), each with its own default retry.
TEXT = """
agent Fetch {
  input { url: string }
  output { body: string }
  retry: 2
}
agent Pure {
  pure: true
  input { x: number }
  output { y: number }
}
template Twice(n: number) {
  task first { agent: Pure  input: { x: n } }
  task second { agent: Pure  input: { x: first.result.y } }
}
workflow A {
  version: "1.0.0"
  retry: { attempts: 3, delay: 2s }
  task get { agent: Fetch  input: { url: "https://example.com" } }
  use Twice(n: 1) as t
  task after { agent: Pure  input: { x: t.second.result.y } }
}
workflow B {
  version: "1.0.0"
  use Twice(n: 2)
  task only { agent: Pure  input: { x: 3 }  on_error: { fallback { task fb { agent: Fetch
    input: { url: "x" } } } } }
}
"""


def _programs(text: str) -> tuple[list[str], list[str]]:
    parsed = twdsl.parse(text, "w.twdsl")
    decls = [d for d in parsed.module.items if isinstance(d, A.WorkflowDecl)]
    with deep_recursion():
        scope = file_scope(parsed.module, "w.twdsl")
        alone = [lower_workflow(scope, parsed.source, d) for d in decls]
        shared = lower_workflows(scope, parsed.source, decls)
    for p, errors in alone + shared:
        assert p is not None, [e.message for e in errors]
    return ([p.to_json() for p, _ in alone if p is not None],
            [p.to_json() for p, _ in shared if p is not None])


def test_shared_setup_gives_the_same_programs() -> None:
    alone, shared = _programs(TEXT)
    assert len(alone) == 2
    assert shared == alone
    assert '"t.second"' in alone[0] and '"t.second"' not in alone[1]
    assert '"Fetch"' in alone[1]  # the agent entry made for A is the one B lists too


def test_shared_setup_on_the_benchmark_mix() -> None:
    alone, shared = _programs(generate(1000, checked=True))
    assert len(alone) == 2
    assert shared == alone


def test_memo_shared_with_the_passes_changes_nothing() -> None:
    parsed = twdsl.parse(generate(1000, checked=True), "bench.twdsl")
    decls = [d for d in parsed.module.items if isinstance(d, A.WorkflowDecl)]
    with deep_recursion():
        for program, _ in lower_workflows(file_scope(parsed.module, "bench.twdsl"),
                                          parsed.source, decls):
            assert program is not None
            memo: Memo = {}
            validate(program, memo=memo)
            assert len(memo) > 0
            with_memo = run_passes(program, 1, memo)
            without = run_passes(program, 1)
            assert with_memo.to_json() == without.to_json()
            assert with_memo.changes == without.changes
