"""TW509 nondeterministic-cache: exact messages and positions, where tasks may sit (loops,
handlers, templates), and the reads that must not be reported."""

from __future__ import annotations

import pytest

from twdsl import analyze

FIX_INPUT = "set `cache: { key: … }` to what identifies the work, or drop `cache`"
FIX_KEY = "take it out of the key, or drop `cache`"


def _diags(src: str) -> list[tuple[str, str, str]]:
    return [(str(d.span), d.code, d.message) for d in analyze(src, "l").diagnostics]


def test_the_read_is_reported_with_the_cache_setting_related() -> None:
    src = """workflow W {
  version: "1.0.0"
  input { q: string }
  task fetch {
    agent: "Search"
    input: { q: q, at: current_time }
    cache: 1h
  }
}
"""
    [d] = analyze(src, "l").diagnostics
    assert (str(d.span), d.code, d.severity.value) == ("l:6:24", "TW509", "warning")
    assert d.message == ("task 'fetch' is cached but its input reads current_time, which "
                         f"changes on every run: the cache will never be hit; {FIX_INPUT}")
    assert [(str(r.span), r.message) for r in d.related] == [("l:7:5", "the cache setting")]


def test_every_per_run_value_is_named_once_in_source_order() -> None:
    src = """workflow W {
  version: "1.0.0"
  task a {
    agent: "A"
    input: { run: workflow_id, attempt: task_id, again: workflow_id, id: context.run_id }
    cache: true
  }
}
"""
    assert _diags(src) == [(
        "l:5:19", "TW509",
        "task 'a' is cached but its input reads workflow_id, task_id and context.run_id, which "
        f"change on every run: the cache will never be hit; {FIX_INPUT}")]


def test_a_cache_key_is_checked_instead_of_the_input() -> None:
    src = """workflow W {
  version: "1.0.0"
  input { q: string }
  task a { agent: "A" input: { q: q } cache: { ttl: 30m, key: "${q}@${current_time}" } }
  task b { agent: "A" input: { q: q, at: current_time } cache: { ttl: 30m, key: q } }
}
"""
    assert _diags(src) == [(
        "l:4:71", "TW509",
        "task 'a' is cached but its cache key reads current_time, which changes on every run: "
        f"the cache will never be hit; {FIX_KEY}")]


def test_tasks_in_loops_handlers_and_templates_and_reads_in_strings_and_lambdas() -> None:
    src = """template T(n: number) {
  task a { agent: "A" input: { n: n, ctx: context } cache: true }
}
workflow W {
  version: "1.0.0"
  input { xs: array<number> }
  foreach x in xs {
    task b {
      agent: "A"
      input: { x: x, msg: "at ${current_time}" }
      cache: 5m
      on_success: {
        task c { agent: "C" input: { ids: xs.map(i => task_id) } cache: true }
      }
    }
  }
  use T(n: 1)
}
"""
    assert _diags(src) == [
        ("l:2:43", "TW509", "task 'a' is cached but its input reads context (with its run_id), "
                            f"which changes on every run: the cache will never be hit; "
                            f"{FIX_INPUT}"),
        ("l:10:33", "TW509", "task 'b' is cached but its input reads current_time, which "
                             f"changes on every run: the cache will never be hit; {FIX_INPUT}"),
        ("l:13:55", "TW509", "task 'c' is cached but its input reads task_id, which changes "
                             f"on every run: the cache will never be hit; {FIX_INPUT}"),
    ]


@pytest.mark.parametrize("task", [
    # not cached
    'task a { agent: "A" input: { at: current_time } }',
    'task a { agent: "A" input: { at: current_time } cache: false }',
    # the environment and the stable parts of the context are the same from run to run
    'task a { agent: "A" input: { home: env.HOME, w: context.workflow, '
    'v: context.version, i: context.inputs, j: context["inputs"] } cache: true }',
    # the key is computed once, before the first attempt: retry_count is 0 there
    'task a { agent: "A" input: { n: retry_count } cache: true }',
    # per-run values outside the key: when, and an input the key replaces
    'task a { agent: "A" input: { at: workflow_id } cache: { ttl: 1h, key: "k" } '
    'when: string(current_time) != "" }',
    # a cached task without an input
    'task a { agent: "A" cache: true }',
])
def test_what_is_not_reported(task: str) -> None:
    src = f'workflow W {{\n  version: "1.0.0"\n  {task}\n}}\n'
    assert [d for d in _diags(src) if d[1] == "TW509"] == []


def test_an_input_of_the_same_name_is_not_the_builtin() -> None:
    src = """workflow W {
  version: "1.0.0"
  input { current_time: string }
  task a { agent: "A" input: { at: current_time } cache: true }
}
"""
    assert _diags(src) == []
