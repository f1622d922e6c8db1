"""Names, scopes and the dependency graph: exact diagnostics and edges."""

from __future__ import annotations

from twdsl import analyze, parse
from twdsl.semantics.graph import build_graph
from twdsl.semantics.names import Resolver

MANY = """agent A { input { x: any } output { ok: boolean } }
workflow W {
  version: "1.0.0"
  input { items: array<string>, n: number = 3 }
  task a { agent: A input: { x: b.result } }
  task b { agent: A input: { x: nn } depends: [a, zz] }
  task c { agent: AA on_error: skpi }
  task a { agent: A }
  foreach items in items { task d { agent: A input: { x: items } } break }
  parallel {
    task p1 { agent: A input: { x: p2.result } }
    task p2 { agent: A }
  }
  if (c.result.ok) { task e { agent: A input: { x: len(items) + lenn(items) } } }
  continue
  task f { agent: A retry: { attempts: 3, on: [timeout, transiant] } on_error: { when: [timeout], fallback: nope, then: skip } }
  output { r: any = e.result ?? f.result }
}
"""


def _diags(src: str) -> list[tuple[str, str, str]]:
    return [(str(d.span), d.code, d.message) for d in analyze(src, "w.twdsl").diagnostics]


def test_every_mistake_reported_once_in_order() -> None:
    assert _diags(MANY) == [
        ("w.twdsl:4:33", "TW504", "input 'n' is never read in workflow 'W'"),  # only 'nn' is
        ("w.twdsl:5:8", "TW401", "dependency cycle: a -> b -> a; these tasks can never start"),
        ("w.twdsl:6:33", "TW210", "undefined name 'nn'; did you mean 'n'?"),
        ("w.twdsl:6:51", "TW212", "'zz' in depends is not a task of workflow 'W'"),
        ("w.twdsl:7:19", "TW211", "unknown agent 'AA' (no 'agent' signature of that name; write "
                                  "the name as a string if it is bound in configuration); did "
                                  "you mean 'A'?"),
        ("w.twdsl:7:32", "TW213", "unknown on_error action 'skpi' (one of: skip, continue, "
                                  "fail); did you mean 'skip'?"),
        ("w.twdsl:8:8", "TW201", "task 'a' is declared twice in workflow 'W'"),
        ("w.twdsl:9:11", "TW214", "loop variable 'items' shadows the input of the same name; "
                                  "choose another name"),
        ("w.twdsl:14:65", "TW210", "unknown function 'lenn'; did you mean 'len'?"),
        ("w.twdsl:15:3", "TW215", "'continue' outside a loop: it may only appear inside a "
                                  "foreach or while body"),
        ("w.twdsl:16:57", "TW213", "unknown error kind 'transiant' (one of: timeout, agent, "
                                   "transient, validation, cancelled); did you mean 'transient'?"),
        ("w.twdsl:16:109", "TW216", "fallback 'nope' is not a task of workflow 'W': if the task "
                                    "fails, the run fails as if no fallback were given"),
    ]


def test_cycle_explains_each_edge() -> None:
    (cycle,) = [d for d in analyze(MANY, "w.twdsl").diagnostics if d.code == "TW401"]
    assert [(str(r.span), r.message) for r in cycle.related] == [
        ("w.twdsl:6:48", "'b' depends on 'a'"),
        ("w.twdsl:5:33", "'a' reads the result of 'b'"),
    ]


def test_undefined_name_fix_replaces_the_name() -> None:
    (d,) = [d for d in analyze(MANY, "w.twdsl").diagnostics if d.message.startswith("undefined")]
    assert d.fix is not None
    assert [(str(e.span), e.new_text) for e in d.fix.edits] == [("w.twdsl:6:33", "n")]


def _edges(src: str) -> list[tuple[str, str, str]]:
    (model,) = Resolver(parse(src, "g").module).run()
    return sorted((a, b, r.kind) for a, b, r in build_graph(model).edges(data="reason"))


def test_graph_edges_from_order_parallel_data_and_handlers() -> None:
    src = """workflow W {
      version: "1.0.0"
      task a { agent: "A" }
      parallel {
        task b { agent: "B" }
        task c { agent: "C" input: { x: a.result } on_success { task c_done { agent: "N" } } }
      }
      if (b.result.ok) { task d { agent: "D" } } else { task e { agent: "E" } }
      task f { agent: "F" }
      a -> f
    }"""
    # An explicit reason (data, chain) replaces the written order's on the same edge; after
    # the if, f waits for whichever branch ran (d or e), which already waited for b and c.
    assert _edges(src) == [
        ("a", "b", "order"), ("a", "c", "data"), ("a", "f", "chain"),
        ("b", "d", "data"), ("b", "e", "data"),
        ("c", "c_done", "handler"), ("c", "d", "order"), ("c", "e", "order"),
        ("c_done", "d", "order"), ("c_done", "e", "order"),
        ("d", "f", "order"), ("e", "f", "order"),
    ]


def test_while_condition_reads_its_own_body_without_a_cycle() -> None:
    src = """workflow W {
      version: "1.0.0"
      while (poll.result.pending ?? true) { max_iterations: 10  task poll { agent: "P" } }
    }"""
    assert _diags(src) == []


def test_if_condition_reading_its_own_branch_is_a_cycle() -> None:
    src = 'workflow W {\n  version: "1.0.0"\n  if (t.result.ok) { task t { agent: "T" } }\n}'
    assert [c for _, c, _ in _diags(src)] == ["TW401"]
    assert _diags(src)[0][2] == "dependency cycle: t -> t; these tasks can never start"


def test_scopes() -> None:
    src = """workflow W { version: "1.0.0"
      input { xs: array<number> }
      foreach x, i in xs {
        task t { agent: "T" input: { v: x + i, w: xs.map(y => y + x), z: xs.map(x => x) } }
      }
      task u { agent: "U" input: { v: x } }
      task v { agent: "V" input: { v: xs.map(xs => 1) } }
    }"""
    assert _diags(src) == [
        ("w.twdsl:6:39", "TW210", "undefined name 'x'; did you mean 'xs'?"),
        ("w.twdsl:7:46", "TW214", "lambda parameter 'xs' shadows the input of the same name; "
                                  "choose another name"),
    ]


def test_agents_named_as_strings_and_imported_names_are_not_guessed_at() -> None:
    src = """import { Deploy } from "./ops.twdsl"
    agent Build { input { x: any } output { y: any } }
    workflow W {
      version: "1.0.0"
      task a { agent: Build }
      task b { agent: Deploy }
      task c { agent: "BoundInConfig" }
    }"""
    assert _diags(src) == []


def test_semantics_wait_for_a_clean_parse() -> None:
    """A file with syntax errors gets those, not echoes of them as undefined names."""
    src = 'workflow W {\n  task a { agent: "A" input: { x: b.result } }\n  task b { agent = "B" }\n}'
    assert [c for _, c, _ in _diags(src)] == ["TW110"]


def test_examples_have_no_semantic_errors() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "create_full_stack_app.twdsl"
    assert analyze(path.read_text(), str(path)).diagnostics == []


def test_module_level_duplicates_and_a_task_named_like_an_input() -> None:
    src = """agent Build { input { x: any } output { y: any } }
template Build() { task t { agent: "A" } }
workflow W { version: "1.0.0" input { n: number } task n { agent: "A" input: { v: n } } }
"""
    assert _diags(src) == [
        ("w.twdsl:2:10", "TW203", "'Build' is declared twice in this file"),
        ("w.twdsl:3:56", "TW202", "task 'n' has the name of the input 'n' in workflow 'W'; "
                                  "rename one of them"),
    ]
