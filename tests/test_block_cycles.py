"""TW402, the cycles of blocks, is one rule (twdsl.lang.cycles) applied twice: by the checker
to the syntax tree (twdsl.semantics.graph) and by lowering to the IR.  Here both are run on
generated programs, and must agree on every one: `check` clean means lowering finds no block
cycle, and the cycle lowering reports is among those `check` reports (one per block), in the
same words at the same place."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from twdsl.analysis import analyze
from twdsl.lowering import lower_workflows

#: CI's bound; a longer campaign: TWDSL_PROPERTY_EXAMPLES=20000 pytest tests/test_block_cycles.py
EXAMPLES = int(os.environ.get("TWDSL_PROPERTY_EXAMPLES", "300"))

TEMPLATE = """template T(x: string) {
  task a { agent: "echo" input: { x: x } }
  task b { agent: "echo" depends: [a] }
}
"""


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A workflow of nested blocks holding tasks t0…tn and instances u0…um of T, where tasks
    depend on earlier or later tasks and instances, and instances read tasks."""
    n_tasks = draw(st.integers(2, 7))
    n_uses = draw(st.integers(0, 2))
    leaves = [f"t{i}" for i in range(n_tasks)] + [f"u{i}" for i in range(n_uses)]
    order = draw(st.permutations(leaves))
    tasks = [x for x in leaves if x.startswith("t")]

    def dep_of(me: str) -> str:
        others = [t for t in tasks if t != me] + [f"{u}.b" for u in leaves if u.startswith("u")]
        return draw(st.sampled_from(others))

    def leaf(name: str) -> str:
        if name.startswith("u"):
            arg = draw(st.sampled_from([*(f"{t}.result" for t in tasks), None]))
            x = f'"{name}"' if arg is None else f'string({arg})'
            return f"use T(x: {x}) as {name}"
        deps = draw(st.lists(st.sampled_from([0, 1]), max_size=2))
        body = 'agent: "echo"'
        if deps:
            body += " depends: [" + ", ".join(sorted({dep_of(name) for _ in deps})) + "]"
        return f"task {name} {{ {body} }}"

    def block(items: list[str], depth: int) -> str:
        if len(items) <= 1 or depth > 3 or not draw(st.booleans()):
            return " ".join(leaf(i) for i in items)
        cut = draw(st.integers(1, len(items) - 1))
        left, right = block(items[:cut], depth + 1), block(items[cut:], depth + 1)
        kind = draw(st.sampled_from(["sequence", "parallel", "if", "seq-in-par"]))
        if kind == "if":
            return f"if (true) {{ {left} }} else {{ {right} }}"
        if kind == "seq-in-par":
            return f"parallel {{ sequence {{ {left} }} sequence {{ {right} }} }}"
        return f"{kind} {{ {left} {right} }}"

    return TEMPLATE + ('workflow W {\n  version: "1.0.0"\n  ' + block(list(order), 0) + "\n}\n")


def check_and_lower(src: str) -> tuple[list[tuple[str, str, int]], list[tuple[str, str, int]]]:
    a = analyze(src, "w.twdsl")
    checked = [(d.code, d.message, d.span.start) for d in a.diagnostics
               if d.severity.value == "error"]
    assert a.model is not None
    workflow = next(d for d in a.module.items if type(d).__name__ == "WorkflowDecl")
    ((_program, lowered),) = lower_workflows(a.model.scope, a.source, [workflow])
    return checked, [(d.code, d.message, d.span.start) for d in lowered]


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(programs())
def test_check_and_lowering_agree_on_block_cycles(src: str) -> None:
    checked, lowered = check_and_lower(src)
    if any(code == "TW401" for code, _, _ in checked):
        return  # a cycle of tasks: lowering is never reached
    in_check = [c for c in checked if c[0] == "TW402"]
    in_lowering = [c for c in lowered if c[0] == "TW402"]
    # lowering stops at its first block cycle; the checker reports one per block
    assert bool(in_check) == bool(in_lowering), src
    assert set(in_lowering) <= set(in_check), src


def test_a_cycle_through_a_template_instance_is_reported_by_check() -> None:
    src = TEMPLATE + """workflow W {
  version: "1.0.0"
  parallel {
    use T(x: string(p.result)) as one
    task p { agent: "echo" depends: [one.b] }
  }
}
"""
    checked, lowered = check_and_lower(src)
    why = ("blocks 'use one at line 8' and 'p' each wait for a task in the other, so neither "
           "can start; move the tasks that depend on each other into one block")
    assert checked == lowered == [("TW402", why, src.index("use T(x: string"))]
