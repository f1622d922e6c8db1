"""Common-subexpression elimination (twdsl.passes.cse) and the lazy ``let`` it relies on.

The fixtures (tests/fixtures/passes/cse) show what the pass writes; these tests check what it
must never change: every shared expression gives the same value or the same error as the
original, reads tasks at most as often, and a workflow runs the same at -O0 and -O1.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twdsl.compiler import compile_source
from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir.eval import EvalError, compile_expr, interpret
from twdsl.ir.render import expr_text
from twdsl.ir.validate import IRInvariantError, validate
from twdsl.passes import run_passes
from twdsl.passes.cse import eliminate
from twdsl.runtime.engine import Engine, RunOptions
from twdsl.runtime.events import Fanout


def L(v: Any) -> X.Lit:  # noqa: N802 - short builders keep the trees readable
    return X.Lit(v=v)


def V(name: str) -> X.Var:  # noqa: N802
    return X.Var(name=name)


def B(op: str, l: Any, r: Any) -> X.Binary:  # noqa: N802, E741
    return X.Binary(op=op, l=l, r=r)  # type: ignore[arg-type]


def G(obj: Any, *names: str) -> Any:  # noqa: N802
    for n in names:
        obj = X.Get(obj=obj, name=n)
    return obj


def C(fn: str, *args: Any) -> X.Call:  # noqa: N802
    return X.Call(fn=fn, args=list(args))


def T(field: str = "result") -> X.TaskField:  # noqa: N802
    return X.TaskField(node="t", field=field)


def lam(param: str, body: Any) -> X.Lambda:
    return X.Lambda(params=[param], body=body)


def meth(obj: Any, name: str, *args: Any) -> X.Method:
    return X.Method(obj=obj, name=name, args=list(args))


class Env:
    """Names and one task's result; counts task reads."""

    def __init__(self, names: dict[str, Any], result: Any) -> None:
        self.names, self.result, self.reads = names, result, 0

    def lookup(self, name: str) -> Any:
        return self.names[name]

    def task_field(self, node: str, field: str) -> Any:
        if (node, field) != ("t", "result"):
            raise KeyError(node)
        self.reads += 1
        return self.result


def outcome(e: Any, names: dict[str, Any], result: Any) -> tuple[str, str, int]:
    """What evaluating ``e`` gives, compiled and interpreted (they must agree): the value as
    JSON text or the error message, and the task reads."""
    seen = []
    for how in (compile_expr(e), lambda env: interpret(e, env)):
        env = Env(names, result)
        try:
            v = how(env)
            seen.append(("value", json.dumps(v, default=repr, sort_keys=True), env.reads))
        except EvalError as err:
            seen.append(("error", err.message, env.reads))
    assert seen[0] == seen[1], seen
    return seen[0]


# -- what is shared, and how ----------------------------------------------------------------

def test_largest_first_then_what_repeats_inside_it() -> None:
    a = G(T(), "a", "b")
    e = B("+", B("+", C("string", a), C("string", a)), a)
    new, shared = eliminate(e)
    assert expr_text(new) == ("let %cse2 = t.result.a.b in let %cse1 = string(%cse2) in "
                              "%cse1 + %cse1 + %cse2")
    assert [(expr_text(s), n) for s, n in shared] == [("string(t.result.a.b)", 2),
                                                       ("t.result.a.b", 2)]
    assert outcome(new, {}, {"a": {"b": "x"}}) == ("value", '"xxx"', 1)
    assert outcome(e, {}, {"a": {"b": "x"}}) == ("value", '"xxx"', 3)


def test_a_second_run_finds_nothing_and_names_do_not_collide() -> None:
    a = G(T(), "a", "b")
    once, _ = eliminate(B("+", a, a))
    assert eliminate(once) == (once, [])
    # a let already there keeps its name; a new one takes the next
    c = G(T(), "c", "d")
    e = X.Let(name="%cse1", value=L(1), body=B("+", B("+", c, c), V("%cse1")))
    new, shared = eliminate(e)
    assert expr_text(new) == "let %cse2 = t.result.c.d in let %cse1 = 1 in %cse2 + %cse2 + %cse1"
    assert len(shared) == 1


@pytest.mark.parametrize(("title", "e"), [
    ("a plain name", B("+", V("n"), V("n"))),
    ("a member of a plain name", B("+", G(V("cfg"), "x"), G(V("cfg"), "x"))),
    ("a task field", B("==", T(), T())),
    ("a constant", B("+", C("len", L("ab")), C("len", L("ab")))),
    ("current_time", B("-", C("string", V("current_time")), C("string", V("current_time")))),
    ("a lambda's parameter", meth(V("xs"), "map", lam("x", B("+", G(V("x"), "a", "b"),
                                                             G(V("x"), "a", "b"))))),
    ("a lambda alone", B("+", meth(V("xs"), "map", lam("x", V("x"))),
                         meth(V("ys"), "map", lam("x", V("x"))))),
    ("written once", G(T(), "a", "b")),
])
def test_not_shared(title: str, e: Any) -> None:
    assert eliminate(e) == (e, [])


def test_occurrences_under_a_shadowing_lambda_stay_the_others_are_shared() -> None:
    xab = G(V("x"), "a", "b")
    e = X.Array(items=[xab, xab, meth(V("xs"), "map", lam("x", xab))])
    new, shared = eliminate(e)
    assert expr_text(new) == "let %cse1 = x.a.b in [%cse1, %cse1, xs.map(x => x.a.b)]"
    assert [n for _, n in shared] == [2]
    names = {"x": {"a": {"b": 1}}, "xs": [{"a": {"b": 2}}]}
    assert outcome(new, names, None) == outcome(e, names, None) == ("value", "[1, 1, [2]]", 0)


def test_shared_from_inside_a_lambda_computed_once_for_all_calls() -> None:
    lim = G(T(), "limit", "max")
    e = X.Object(entries=[("ok", meth(V("xs"), "filter", lam("x", B("<", V("x"), lim)))),
                          ("max", lim)])
    new, _ = eliminate(e)
    assert expr_text(new) == "let %cse1 = t.result.limit.max in { ok: xs.filter(x => x < %cse1), "\
        "max: %cse1 }"
    names, result = {"xs": [1, 5, 2, 9]}, {"limit": {"max": 3}}
    assert outcome(new, names, result) == ("value", '{"max": 3, "ok": [1, 2]}', 1)
    assert outcome(e, names, result) == ("value", '{"max": 3, "ok": [1, 2]}', 5)


def test_errors_stay_where_they_were() -> None:
    boom = G(C("len", G(T(), "items")), "x")  # len(null) raises
    e = B("&&", V("ok"), B("==", boom, boom))
    new, shared = eliminate(e)
    assert len(shared) == 1
    msg = "len() takes a string, an array or an object, and this is null"
    for ok, expected in ((False, ("value", "false", 0)), (True, ("error", msg, 1))):
        assert outcome(new, {"ok": ok}, {"items": None}) == expected
    assert outcome(e, {"ok": True}, {"items": None}) == ("error", msg, 1)


def test_deep_expressions_do_not_reach_the_recursion_limit() -> None:
    n = max(3000, sys.getrecursionlimit() * 2)
    a = G(T(), "a", "b")
    e: Any = L(0)
    for _ in range(n):
        e = B("+", e, a)
    new, shared = eliminate(e)
    assert [cnt for _, cnt in shared] == [n]
    assert new.k == "let" and new.value == a
    assert outcome(new, {}, {"a": {"b": 2}}) == ("value", str(2 * n), 1)


# -- property: sharing never changes a value, an error or adds a read ------------------------

_POOL = [G(T(), "a", "b"), C("len", G(T(), "items")), B("+", V("n"), L(1)),
         meth(G(T(), "items"), "filter", lam("x", B(">", V("x"), V("n")))),
         C("string", V("current_time")), G(V("x"), "k", "j"),
         X.Index(obj=G(T(), "items"), index=V("n"))]
_leaf = st.one_of(st.sampled_from(_POOL), st.sampled_from([L(None), L(0), L(2), L(True),
                                                           L("s"), V("n"), V("x"), V("ok")]))


def _extend(sub: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(X.Binary, op=st.sampled_from(["+", "*", "==", "<", "&&", "||", "??"]),
                  l=sub, r=sub),
        st.builds(X.Array, items=st.lists(sub, max_size=3)),
        st.builds(X.Str, parts=st.lists(st.one_of(st.just("-"), sub), max_size=3)),
        st.builds(X.Method, obj=sub, name=st.sampled_from(["map", "filter", "any"]),
                  args=st.builds(lambda b: [lam("x", b)], sub)),
        st.builds(X.Method, obj=sub, name=st.sampled_from(["contains", "concat"]),
                  args=st.lists(sub, min_size=1, max_size=1)),
        st.builds(X.Call, fn=st.sampled_from(["len", "string", "max"]),
                  args=st.lists(sub, min_size=1, max_size=2)),
    )


_NAMES = [{"n": 1, "x": {"k": {"j": 3}}, "ok": True},
          {"n": 0, "x": None, "ok": False},
          {"n": 2, "x": {"k": None}, "ok": True, "current_time": "now"}]
_RESULTS = [{"a": {"b": 5}, "items": [1, 2, 3]}, {"a": None, "items": None},
            {"a": {"b": "z"}, "items": []}]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_leaf, _extend, max_leaves=20), st.integers(0, 2))
def test_sharing_never_changes_a_value_or_adds_a_read(e: Any, which: int) -> None:
    new, shared = eliminate(e)
    names = dict(_NAMES[which])
    names.setdefault("current_time", "t0")
    before = outcome(e, names, _RESULTS[which])
    after = outcome(new, names, _RESULTS[which])
    assert after[:2] == before[:2], (expr_text(e), expr_text(new))
    assert after[2] <= before[2]
    assert all("current_time" not in X.free_names(s) for s, _ in shared)
    assert eliminate(new)[1] == []  # nothing left to share


# -- the pass in the compiler ---------------------------------------------------------------

SOURCE = """
workflow W {
  version: "1.0.0"
  input { n: number = 2 }
  task a { agent: "Source" }
  task b {
    agent: "Sink"
    when: a.result.ready && len(a.result.items) > 0 && len(a.result.items) < 10
    input: { v: a.result.cached ?? string(a.result.n * n) + "/" + string(a.result.n * n) }
  }
  output { v: string = b.result.v ?? "none" }
}
"""


def _run(program: M.Program, source_result: Any) -> tuple[Any, ...]:
    calls: list[tuple[str, Any]] = []

    class Agents:
        def get(self, name: str) -> Any:
            async def agent(call: Any) -> Any:
                calls.append((name, call.input))
                return source_result if name == "Source" else {"v": call.input["v"]}
            return agent

    result = asyncio.run(Engine(program, Agents(), Fanout([]), RunOptions()).run({"n": 2}))
    tasks = {k: (r.status.value, r.result) for k, r in result.tasks.items()}
    return result.status.value, tasks, calls, result.outputs


@pytest.mark.parametrize(("source_result", "b_status", "v"), [
    # not ready, and items is null: len(null) would raise, but is never evaluated
    ({"ready": False, "items": None, "n": 1}, "skipped", "none"),
    ({"ready": True, "items": [1], "n": 3, "cached": None}, "completed", "6/6"),
    ({"ready": True, "items": [1], "n": 3, "cached": "c"}, "completed", "c"),
])
def test_a_workflow_runs_the_same_at_o0_and_o1(source_result: Any, b_status: str,
                                               v: str) -> None:
    o0 = compile_source(SOURCE, "w.twdsl", optimize=0).program
    o1 = compile_source(SOURCE, "w.twdsl", optimize=1).program
    assert o0 is not None and o1 is not None
    assert [c.message for c in o1.changes if c.pass_name == "cse"] == [
        "input: computed once: `string(a.result.n * n)` appeared 2 times",
        "when: computed once: `len(a.result.items)` appeared 2 times"]
    r0, r1 = _run(o0, source_result), _run(o1, source_result)
    assert r0 == r1
    status, tasks, _, outputs = r1
    assert (status, tasks["b"][0], outputs) == ("completed", b_status, {"v": v})


def test_lets_round_trip_through_json() -> None:
    o1 = compile_source(SOURCE, "w.twdsl", optimize=1).program
    assert o1 is not None
    again = M.Program.from_json(o1.to_json())
    assert again.to_json() == o1.to_json()
    assert again.nodes["b"].input.k == "let"  # type: ignore[union-attr]


def test_validation_catches_a_compiler_name_without_its_let() -> None:
    o0 = compile_source(SOURCE, "w.twdsl", optimize=0).program
    assert o0 is not None
    program = run_passes(o0, 1)
    b = program.nodes["b"]
    assert isinstance(b, M.TaskNode) and isinstance(b.input, X.Let)
    b.input = b.input.body  # the let's name is left unbound
    with pytest.raises(IRInvariantError) as info:
        validate(program, after="a test")
    assert "task 'b': an expression reads '%cse1', which no enclosing let binds" in \
        str(info.value)
    b.input = X.Let(name="n", value=L(1), body=V("n"))
    with pytest.raises(IRInvariantError) as info:
        validate(program, after="a test")
    assert "task 'b': a let binds 'n', which does not start with '%' (it could shadow a name "\
        "of the workflow)" in str(info.value)
