"""TW506 retry-budget: a task whose attempts cannot all fit in the timeout around it.

Worst case of a task with a per-attempt ``timeout`` T and ``retry`` N (docs/language.md,
retry): (N + 1) attempts of T each, plus the waits before retries n = 1..N of
min(max_delay, delay × backoff^(n−1)).  When that exceeds the timeout of the workflow or of an
enclosing block, the last attempts can never happen: the budget is a lie.
"""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic, Related
from twdsl.lint import LintContext
from twdsl.syntax import ast as A

CODE = CODES["TW506"]
DEFAULTS = {"delay": 1000.0, "backoff": 2.0, "max_delay": 60_000.0}


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for decl in ctx.module.items:
        if isinstance(decl, A.WorkflowDecl):
            yield from _walk(decl.body, _timeout(decl.body), f"workflow '{decl.name.name}'")


def _walk(block: A.Block, limit: tuple[float, A.Field] | None, owner: str) -> Iterator[Diagnostic]:
    for item in block.items:
        if isinstance(item, A.TaskStmt) and item.body is not None and limit is not None:
            worst = worst_case(item.body)
            if worst is not None and worst > limit[0]:
                yield Diagnostic(
                    CODE.code, CODE.severity,
                    f"task '{item.name.name}' may need {_fmt(worst)} (every attempt timing out, "
                    f"with the waits between retries) but {owner} allows {_fmt(limit[0])}",
                    item.name.span, (Related(limit[1].span, "the enclosing timeout"),))
        elif isinstance(item, (A.ParallelStmt, A.SequenceStmt)):
            inner = _timeout(item.body)
            tighter = inner if inner and (limit is None or inner[0] < limit[0]) else limit
            kind = "parallel" if isinstance(item, A.ParallelStmt) else "sequence"
            yield from _walk(item.body, tighter, f"the {kind} block" if tighter is inner
                             else owner)
        elif isinstance(item, A.Stmt):
            for child in item.children():
                if isinstance(child, A.Block):
                    yield from _walk(child, limit, owner)


def worst_case(task: A.Block) -> float | None:
    """Milliseconds a task may take at worst, or None when it has no timeout or no retry.

    >>> from twdsl.syntax.parser import parse
    >>> t = parse('workflow W { task a { timeout: 10s retry: 3 } }').module.items[0].body.items[0]
    >>> worst_case(t.body)  # 4 attempts of 10 s + waits of 1, 2 and 4 s
    47000.0
    """
    timeout = _timeout(task)
    retry = task.get("retry")
    if timeout is None or retry is None:
        return None
    policy = dict(DEFAULTS)
    if isinstance(retry.value, A.NumberLit):
        attempts = float(retry.value.value)
    elif isinstance(retry.value, A.ObjectLit):
        fields = {f.key.name: f.value for f in retry.value.fields}
        a = fields.get("attempts")
        if not isinstance(a, A.NumberLit):
            return None
        attempts = float(a.value)
        for key in ("delay", "max_delay"):
            v = fields.get(key)
            if isinstance(v, A.DurationLit):
                policy[key] = v.millis
        b = fields.get("backoff")
        if isinstance(b, A.NumberLit):
            policy["backoff"] = float(b.value)
    else:
        return None
    n = int(attempts)
    waits = sum(min(policy["max_delay"], policy["delay"] * policy["backoff"] ** k)
                for k in range(n))
    return (n + 1) * timeout[0] + waits


def _timeout(block: A.Block) -> tuple[float, A.Field] | None:
    f = block.get("timeout")
    if f is not None and isinstance(f.value, A.DurationLit):
        return f.value.millis, f
    return None


def _fmt(ms: float) -> str:
    seconds = ms / 1000
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
