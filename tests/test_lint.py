"""Lint rules beyond the registry's examples: exact messages and the cases that must not fire."""

from __future__ import annotations

from twdsl import analyze


def _diags(src: str) -> list[tuple[str, str, str]]:
    return [(str(d.span), d.code, d.message) for d in analyze(src, "l").diagnostics]


def test_tasks_after_break_and_across_exclusive_branches() -> None:
    src = """workflow W {
  version: "1.0.0"
  input { n: number }
  while (n > 0) {
    task a { agent: "A" }
    break
    task b { agent: "B" }
  }
  switch (n) {
    case 1: task c { agent: "C" }
    case 2: task d { agent: "D" depends: [c] }
    default: task e { agent: "E" }
  }
  task f { agent: "F" depends: [c, d] }
}
"""
    assert _diags(src) == [
        ("l:7:10", "TW507", "task 'b' can never run: it comes after 'break' in the same block"),
        ("l:11:43", "TW507", "task 'd' can never run: it depends on 'c', which is in another "
                             "branch of the same if/switch"),
    ]


def test_unread_results_matter_only_for_pure_agents() -> None:
    src = """agent Sum { input { xs: array<number> } output { total: number } pure: true }
agent Deploy { input { x: any } output { url: url } }
workflow W {
  version: "1.0.0"
  task s { agent: Sum input: { xs: [1] } }
  task t { agent: Sum input: { xs: [2] } }
  task d { agent: Deploy input: { x: t.result.total } }
}
"""
    assert _diags(src) == [
        ("l:5:8", "TW508", "the result of task 's' is never read, and its agent 'Sum' is pure: "
                           "the call does nothing"),
    ]
