"""Benchmark: evaluating a typical task input, compiled to closures vs walking the tree.

The runtime evaluates a task's ``input`` once per run of the task: a 10,000-item ``foreach``
evaluates it 10,000 times, so this is the evaluator's hot path.  The expression is an object
of five fields, as the compiler lowers it::

    { id: item.id, name: user.name, score: fetch.result.score, tags: fetch.result.tags,
      greeting: "Hello, ${user.name}! You have ${item.count} items." }

against an Env like the runtime's (names in a chain of dicts, task fields from a table).
Four ways, timed in the same process and interleaved so that noise hits all of them:

* ``compiled``: ``compile_expr(e)`` once, then the closures (what the runtime does);
* ``evaluate``: ``evaluate(e, env)``, the same through the identity cache;
* ``walked``: ``interpret(e, env)``, the iterative tree walker (what deep trees use);
* ``recursive``: a minimal recursive tree walker written here (a ``match`` on the node, only
  the kinds this input uses, no checks beyond the evaluator's own helpers): the classic
  interpreter, to show what compiling buys over walking without the walker's own stack;
* ``python``: the same dict built by a hand-written Python function: the lower bound.

This measures; it never passes or fails.  Output: one JSON line per way (median µs per
evaluation over the repetitions, and its ratio to ``python``), a table on stderr.

    python bench/eval_speed.py            # 15 repetitions of 20,000 evaluations (~20 s)
    python bench/eval_speed.py --quick    # 3 repetitions of 2,000 (~1 s)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from twdsl.ir.eval import compile_expr, evaluate, interpret
from twdsl.ir.expr import Get, Object, Str, TaskField, Var
from twdsl.lang.values import render

INPUT = Object(entries=[
    ("id", Get(obj=Var(name="item"), name="id")),
    ("name", Get(obj=Var(name="user"), name="name")),
    ("score", Get(obj=TaskField(node="fetch", field="result"), name="score")),
    ("tags", Get(obj=TaskField(node="fetch", field="result"), name="tags")),
    ("greeting", Str(parts=["Hello, ", Get(obj=Var(name="user"), name="name"), "! You have ",
                            Get(obj=Var(name="item"), name="count"), " items."])),
])


class Frame:
    """Names in a chain of dicts and task fields from a table, like the runtime's Frame."""

    __slots__ = ("vars", "parent", "tasks")

    def __init__(self, vars: dict[str, Any], parent: Frame | None,
                 tasks: dict[tuple[str, str], Any]) -> None:
        self.vars, self.parent, self.tasks = vars, parent, tasks

    def lookup(self, name: str) -> Any:
        f: Frame | None = self
        while f is not None:
            if name in f.vars:
                return f.vars[name]
            f = f.parent
        raise KeyError(name)

    def task_field(self, node: str, field: str) -> Any:
        return self.tasks[(node, field)]


def walk(e: Any, env: Frame) -> Any:
    """The classic recursive tree-walking interpreter, for the kinds :data:`INPUT` uses."""
    match e.k:
        case "object":
            return {k: walk(v, env) for k, v in e.entries}
        case "get":
            o = walk(e.obj, env)
            return o.get(e.name) if type(o) is dict else None
        case "var":
            return env.lookup(e.name)
        case "task":
            return env.task_field(e.node, e.field)
        case "str":
            return "".join(p if isinstance(p, str) else render(walk(p, env)) for p in e.parts)
        case "lit":
            return e.v
    raise ValueError(e.k)


def by_hand(env: Frame) -> dict[str, Any]:
    item, user = env.lookup("item"), env.lookup("user")
    result = env.task_field("fetch", "result")
    return {"id": item["id"], "name": user["name"], "score": result["score"],
            "tags": result["tags"],
            "greeting": f"Hello, {user['name']}! You have {render(item['count'])} items."}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--n", type=int, default=20_000, help="evaluations per repetition")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.reps, args.n = 3, 2_000

    tasks = {("fetch", "result"): {"score": 0.93, "tags": ["a", "b"], "raw": {"x": 1}}}
    root = Frame({"user": {"name": "Ann", "id": 7}}, None, tasks)
    env = Frame({"item": {"id": "i-42", "count": 3}}, root, tasks)  # inside a foreach
    compiled = compile_expr(INPUT)
    ways: dict[str, Callable[[], Any]] = {
        "compiled": lambda: compiled(env),
        "evaluate": lambda: evaluate(INPUT, env),
        "walked": lambda: interpret(INPUT, env),
        "recursive": lambda: walk(INPUT, env),
        "python": lambda: by_hand(env),
    }
    expected = by_hand(env)
    for name, f in ways.items():
        assert f() == expected, (name, f(), expected)

    t0 = time.perf_counter()
    for _ in range(1000):
        compile_expr(INPUT)
    compile_us = (time.perf_counter() - t0) / 1000 * 1e6

    times: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for rep in range(args.reps):
        for name in names[rep % len(names):] + names[:rep % len(names)]:  # rotate the order
            f, n = ways[name], args.n
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            times[name].append((time.perf_counter() - t0) / n * 1e6)

    base = statistics.median(times["python"])
    meta = {"python": platform.python_version(), "reps": args.reps, "n": args.n}
    rows = []
    for name in names:
        med = statistics.median(times[name])
        row = {"bench": "eval_speed", "way": name, "median_us": round(med, 3),
               "min_us": round(min(times[name]), 3), "max_us": round(max(times[name]), 3),
               "vs_python": round(med / base, 2), **meta}
        rows.append(row)
        print(json.dumps(row))
    summary = {"bench": "eval_speed", "way": "summary", "compile_us": round(compile_us, 2),
               "walked_vs_compiled": round(statistics.median(times["walked"])
                                           / statistics.median(times["compiled"]), 2),
               "recursive_vs_compiled": round(statistics.median(times["recursive"])
                                              / statistics.median(times["compiled"]), 2),
               **meta}
    print(json.dumps(summary))
    print(f"\n{'way':<10} {'median µs':>10} {'min':>8} {'max':>8} {'× python':>9}", file=sys.stderr)
    for r in rows:
        print(f"{r['way']:<10} {r['median_us']:>10.2f} {r['min_us']:>8.2f} {r['max_us']:>8.2f} "
              f"{r['vs_python']:>9.2f}", file=sys.stderr)
    print(f"compile_expr once: {compile_us:.1f} µs; walked / compiled: "
          f"{summary['walked_vs_compiled']}×; recursive / compiled: "
          f"{summary['recursive_vs_compiled']}×", file=sys.stderr)


if __name__ == "__main__":
    main()
