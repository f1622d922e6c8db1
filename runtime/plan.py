"""``twdsl run --dry-run``: the plan of a run, with every input rendered that can be known
before anything runs, and no agent called."""

from __future__ import annotations

import json
from typing import Any

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir.eval import EvalError, evaluate
from twdsl.lang.values import to_json


class _Env:
    def __init__(self, vars: dict[str, Any]) -> None:
        self.vars = vars

    def lookup(self, name: str) -> Any:
        return self.vars[name]

    def task_field(self, node: str, field: str) -> Any:
        raise KeyError(node)


def plan(program: M.Program, inputs: dict[str, Any]) -> list[str]:
    """Lines of the plan: the tree of nodes, each task with its agent, its policies and its
    input (rendered when it depends on inputs only; otherwise what it waits for)."""
    lines = [f"workflow {program.workflow}" +
             (f" {program.version}" if program.version else "") +
             f" ({sum(isinstance(n, M.TaskNode) for n in program.nodes.values())} tasks)"]
    lines.append("inputs: " + json.dumps(to_json(inputs), sort_keys=True))
    env = _Env({**inputs, "context": {"workflow": program.workflow, "version": program.version,
                                      "run_id": "(dry run)", "inputs": inputs}})
    _node(program, program.root, env, 1, lines)
    if program.on_success:
        lines.append("  on_success:")
        _node(program, program.on_success, env, 2, lines)
    if program.outputs:
        lines.append("outputs: " + ", ".join(o.name for o in program.outputs))
    return lines


def _render(e: X.Expr | None, env: _Env) -> str:
    if e is None:
        return "{}"
    try:
        return json.dumps(to_json(evaluate(e, env)), sort_keys=True)
    except (EvalError, KeyError):
        reads = sorted(X.task_reads(e))
        vars_ = sorted(n for n in X.free_names(e) - set(env.vars)
                       if not n.startswith(X.COMPILER_PREFIX))
        known = [f"results of {', '.join(reads)}"] if reads else []
        known += [f"{', '.join(vars_)}"] if vars_ else []
        return "(known at run time: " + "; ".join(known or ["values"]) + ")"


def _node(p: M.Program, nid: str, env: _Env, depth: int, out: list[str]) -> None:
    n = p.nodes[nid]
    pad = "  " * depth
    after = f"  after {', '.join(n.after)}" if n.after else ""
    if isinstance(n, M.TaskNode):
        policy = []
        if n.timeout:
            policy.append(f"timeout {n.timeout:g}s")
        if n.retry and n.retry.attempts:
            policy.append(f"retry {n.retry.attempts}")
        if n.on_error.action != "fail":
            policy.append(f"on_error {n.on_error.action}")
        if n.when is not None:
            policy.append("when …")
        extra = f" [{', '.join(policy)}]" if policy else ""
        where = f"  ({n.src})" if n.src else ""
        out.append(f"{pad}task {n.name} → agent {n.agent}{extra}{after}{where}")
        out.append(f"{pad}  input: {_render(n.input, env)}")
        if n.on_success:
            out.append(f"{pad}  on_success:")
            _node(p, n.on_success, env, depth + 2, out)
        for what in ("fallback", "compensate", "body"):
            b = getattr(n.on_error, what)
            if b:
                out.append(f"{pad}  on_error {what}:")
                _node(p, b, env, depth + 2, out)
    elif isinstance(n, M.BlockNode):
        if n.role in ("sequence", "parallel", "use"):
            label = n.role if n.role != "use" else f"use {n.label}"
            out.append(f"{pad}{label}{after}")
            depth += 1
        for c in n.children:
            _node(p, c, env, depth, out)
    elif isinstance(n, M.IfNode):
        for i, b in enumerate(n.branches):
            out.append(f"{pad}{'if' if i == 0 else 'else if'} (…){after if i == 0 else ''}")
            _node(p, b.body, env, depth + 1, out)
        if n.otherwise:
            out.append(f"{pad}else")
            _node(p, n.otherwise, env, depth + 1, out)
    elif isinstance(n, M.SwitchNode):
        out.append(f"{pad}switch{after}")
        for case in n.cases:
            out.append(f"{pad}  case")
            _node(p, case.body, env, depth + 2, out)
        if n.default:
            out.append(f"{pad}  default")
            _node(p, n.default, env, depth + 2, out)
    elif isinstance(n, M.ForeachNode):
        items = _render(n.items, env)
        mode = "parallel" if n.parallel else "one at a time"
        out.append(f"{pad}foreach {n.var} in {items} ({mode}){after}")
        _node(p, n.body, env, depth + 1, out)
    elif isinstance(n, M.WhileNode):
        out.append(f"{pad}while (…) at most {n.max_iterations} times{after}")
        _node(p, n.body, env, depth + 1, out)
    else:
        out.append(f"{pad}{n.kind}")
