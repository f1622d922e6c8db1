"""The optimizer never changes what a user can observe (docs/language.md, Q2): for generated
workflows with deterministic agents, the -O0 and the -O1 programs produce the same outputs
and make the same agent calls — in the same order for the impure agent, whose order the
language fixes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twdsl.compiler import compile_source
from twdsl.runtime.engine import Engine, RunOptions
from twdsl.runtime.events import Fanout

HEADER = '''
agent Pure {
  input { x: any }
  output { v: number }
  pure: true
}

agent Effect {
  input { x: any }
  output { v: number }
}
'''


@st.composite
def workflows(draw: st.DrawFn) -> str:
    names: list[str] = []
    counter = [0]

    def value() -> str:
        choices = ["1", "2 + 3", '"s"', "len([1, 2, 3])", "n"]
        if names:
            n = draw(st.sampled_from(names))
            choices += [f"{n}.result.v ?? 0", f"({n}.result.v ?? 0) + ({n}.result.v ?? 0)"]
        return draw(st.sampled_from(choices))

    def task(depth: int) -> str:
        counter[0] += 1
        name = f"t{counter[0]}"
        agent = draw(st.sampled_from(["Pure", "Effect"]))
        when = draw(st.sampled_from(["", "", " when: 1 < 2", " when: false"]))
        text = f"task {name} {{ agent: {agent} input: {{ x: {value()} }}{when} }}"
        names.append(name)
        return text

    def stmt(depth: int) -> str:
        kinds = ["task", "task", "task"]
        if depth < 2:
            kinds += ["if", "parallel", "sequence", "foreach"]
        kind = draw(st.sampled_from(kinds))
        if kind == "task":
            return task(depth)
        body = " ".join(stmt(depth + 1) for _ in range(draw(st.integers(1, 3))))
        if kind == "if":
            cond = draw(st.sampled_from(["true", "false", "n > 1", "2 > 1"]))
            other = " ".join(stmt(depth + 1) for _ in range(draw(st.integers(0, 2))))
            return f"if ({cond}) {{ {body} }} else {{ {other} }}"
        if kind == "foreach":
            counter[0] += 1
            inner = f"t{counter[0]}"
            return (f"foreach i in {draw(st.sampled_from(['[]', '[1, 2]', 'range(n)']))} {{ "
                    f"task {inner} {{ agent: {draw(st.sampled_from(['Pure', 'Effect']))} "
                    "input: { x: i } } }")
        return f"{kind} {{ {body} }}"

    body = "\n  ".join(stmt(0) for _ in range(draw(st.integers(1, 5))))
    return (HEADER + 'workflow G {\n  version: "1"\n  input { n: number = 2 }\n  ' + body +
            "\n}\n")


class Agents:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    def get(self, name: str) -> Any:
        async def agent(call: Any) -> Any:
            await asyncio.sleep(0)
            x = json.dumps(call.input, sort_keys=True)
            self.calls.append((name, call.context["key"], x))
            return {"v": len(x) + len(call.task)}
        return agent


def execute(program: Any) -> tuple[Any, list[tuple[str, str, str]]]:
    agents = Agents()
    engine = Engine(program, agents, Fanout([]), RunOptions(max_concurrency=4))
    result = asyncio.run(engine.run({"n": 2}))
    records = {k: (r.status.value, r.result) for k, r in result.tasks.items()}
    return (result.status.value, records), agents.calls


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflows())
def test_optimized_and_unoptimized_programs_behave_the_same(src: str) -> None:
    o0 = compile_source(src, "g.twdsl", optimize=0)
    o1 = compile_source(src, "g.twdsl", optimize=1)
    if o0.program is None:  # a generated cycle or type error: nothing to compare
        assert o1.program is None
        return
    assert o1.program is not None
    (status0, tasks0), calls0 = execute(o0.program)
    (status1, tasks1), calls1 = execute(o1.program)
    assert status0 == status1
    ran0 = {k: v for k, v in tasks0.items() if v[0] != "skipped"}
    ran1 = {k: v for k, v in tasks1.items() if v[0] != "skipped"}
    assert ran0 == ran1
    assert sorted(calls0) == sorted(calls1)
    effects0 = [c for c in calls0 if c[0] == "Effect"]
    effects1 = [c for c in calls1 if c[0] == "Effect"]
    assert effects0 == effects1
