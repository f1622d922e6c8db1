"""Lowering and the IR: round trips through JSON, determinism, the schema, the invariants
(hand-broken programs give exact messages), and the compile errors TW402/TW403."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from twdsl.compiler import WorkflowChoiceError, compile_source
from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir.schema import render as render_schema
from twdsl.ir.validate import IRInvariantError, problems_of, validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("[!.]*.twdsl"))
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "passes").glob("*/*.twdsl"))


def _compile(text: str, level: int = 0, path: str = "w.twdsl") -> M.Program:
    c = compile_source(text, path, optimize=level)
    assert c.program is not None, [(d.code, d.message) for d in c.diagnostics]
    return c.program


@pytest.mark.parametrize("path", EXAMPLES + FIXTURES, ids=lambda p: p.name)
@pytest.mark.parametrize("level", [0, 1])
def test_round_trip_and_schema(path: Path, level: int) -> None:
    program = _compile(path.read_text(), level, path.name)
    text = program.to_json()
    again = M.Program.from_json(text)
    assert again == program
    assert again.to_json() == text
    jsonschema.validate(json.loads(text), json.loads((ROOT / "docs" / "ir.schema.json")
                                                     .read_text()))


def test_schema_file_is_up_to_date() -> None:
    """Regenerate with: python -m twdsl.ir.schema > docs/ir.schema.json"""
    assert (ROOT / "docs" / "ir.schema.json").read_text() == render_schema()


def test_determinism_across_processes() -> None:
    """Two processes with different hash seeds write byte-identical IR."""
    script = ("import sys; from twdsl.compiler import compile_source; "
              "p = sys.argv[1]; sys.stdout.write(compile_source(open(p).read(), p)"
              ".program.to_json())")
    outs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.append(subprocess.run(
            [sys.executable, "-c", script, "examples/create_full_stack_app.twdsl"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout)
    assert outs[0] == outs[1]
    assert json.loads(outs[0])["workflow"] == "CreateFullStackApp"


SEQ = """workflow W {
  version: "1.0.0"
  input { n: number }
  task a { agent: "A" }
  task b { agent: "B" input: { x: a.result } }
  task c { agent: "C" depends: [a] }
  parallel {
    task d { agent: "D" }
    task e { agent: "E" input: { y: d.result, z: n } }
  }
}
"""


def test_order_only_edges() -> None:
    """An edge is order-only when the written order is its only reason."""
    p = _compile(SEQ)
    edges = {n.id: (n.after, n.order_only) for n in p.nodes.values()}
    assert edges["b"] == (["a"], [])  # reads a
    assert edges["c"] == (["b", "a"], ["b"])  # after b by order, after a by depends
    assert edges["d"] == ([], [])
    assert edges["e"] == (["d"], [])  # parallel: data only
    assert edges["block#2"] == (["c"], ["c"])


def test_template_instance_and_alias_reads() -> None:
    p = _compile("""template Svc(name: string, retries: number = 2) {
  task build { agent: "B" input: { n: name } retry: retries }
  task ship { agent: "S" input: { b: build.result } }
}
workflow W {
  version: "1.0.0"
  use Svc(name: "api") as api
  task report { agent: "R" input: { s: api.ship.status } }
}
""")
    use = p.nodes["block#2"]
    assert isinstance(use, M.BlockNode)
    assert (use.role, use.label, use.children) == ("use", "api", ["api.build", "api.ship"])
    assert use.bindings == {"name": X.Lit(v="api"), "retries": X.Lit(v=2)}
    build = p.nodes["api.build"]
    assert isinstance(build, M.TaskNode) and build.retry is not None
    assert build.retry.attempts == 2
    assert p.nodes["report"].after == ["block#2"]
    assert p.nodes["report"].order_only == []


def test_cycle_between_blocks_is_tw402() -> None:
    c = compile_source("""workflow W {
  version: "1.0.0"
  parallel {
    sequence {
      task a { agent: "A" }
      task b { agent: "B" depends: [d] }
    }
    sequence {
      task c { agent: "C" }
      task d { agent: "D" depends: [a] }
    }
  }
}
""", "w.twdsl")
    assert c.program is None
    assert [(d.code, d.message, d.span.line, d.span.column) for d in c.diagnostics] == [
        ("TW402", "blocks 'sequence at line 4' and 'sequence at line 8' each wait for a task "
                  "in the other, so neither can start; move the tasks that depend on each "
                  "other into one block", 4, 5)]


def test_non_literal_setting_is_tw403() -> None:
    c = compile_source('workflow W {\n  version: "1.0.0"\n  input { n: number }\n'
                       '  task a { agent: "A" retry: n }\n}\n', "w.twdsl")
    assert [(d.code, d.message, d.span.line, d.span.column) for d in c.diagnostics] == [
        ("TW403", "this setting must be a literal value (or a template parameter given one)",
         4, 30)]


def test_choosing_the_workflow() -> None:
    text = ('workflow A { version: "1.0.0" task a { agent: "X" } }\n'
            'workflow B { version: "1.0.0" task b { agent: "X" } }\n')
    with pytest.raises(WorkflowChoiceError, match=r"several workflows \(A, B\); choose one"):
        compile_source(text, "w.twdsl")
    assert compile_source(text, "w.twdsl", "B").workflows == ["A", "B"]
    with pytest.raises(WorkflowChoiceError, match="no workflow named 'C' \\(it has: A, B\\)"):
        compile_source(text, "w.twdsl", "C")


# ------------------------------------------------------------------------ invariants

def _broken() -> M.Program:
    return _compile(SEQ)


def test_valid_program_has_no_problems() -> None:
    assert problems_of(_broken()) == []


def test_dangling_child_and_unbound_read() -> None:
    p = _broken()
    root = p.nodes[p.root]
    assert isinstance(root, M.BlockNode)
    root.children.append("ghost")
    b = p.nodes["b"]
    assert isinstance(b, M.TaskNode)
    b.input = X.TaskField(node="nope", field="result")
    assert problems_of(p) == [
        "block 'block#1': child 'ghost' is not a node",
        "task 'b': an expression reads task 'nope', which is not a task",
    ]


def test_cycle_and_foreign_edge() -> None:
    p = _broken()
    p.nodes["a"].after.append("c")
    p.nodes["d"].after.append("a")
    assert problems_of(p) == [
        "block 'block#1': its children wait in a cycle: a -> c -> b -> a",
        "'d' waits for 'a', which is not its sibling",
    ]


def test_orphan_and_order_only_outside_after() -> None:
    p = _broken()
    p.nodes["lost"] = M.TaskNode(id="lost", name="lost", agent="A")
    p.nodes["c"].order_only.append("a")  # already in after: fine
    p.nodes["b"].order_only.append("c")
    assert problems_of(p) == [
        "'b': order-only edge to 'c' is not in its after",
        "node 'lost' is not reachable from the program's root",
    ]


def test_validate_says_it_is_a_bug() -> None:
    p = _broken()
    p.nodes["a"].agent = "Unknown"
    with pytest.raises(IRInvariantError) as e:
        validate(p, after="the 'x' pass")
    assert str(e.value) == (
        "internal compiler error: the IR is invalid after the 'x' pass (a bug in twdsl; "
        "please report it with the workflow):\n"
        "  task 'a': agent 'Unknown' is not in the program's agents")
