"""TW509 nondeterministic-cache: a cached task whose cache key reads a value that is new in
every run.

A task's cache key is its rendered input, or the value of ``cache: { key: … }`` when given
(docs/language.md, cache).  When that value holds ``current_time``, ``workflow_id``,
``task_id`` or the run id (``context.run_id``, or ``context`` as a whole), no two runs ever
have the same key: the cache is never hit and only fills the store.  ``env`` is not reported:
the environment is configuration, the same from run to run on one machine (a variable that
is not — a per-run token — belongs outside the key, as ``cache: { key: … }`` allows).
``retry_count`` is not reported either: the key is computed once, before the first attempt.
"""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic, Related
from twdsl.lint import LintContext
from twdsl.semantics.names import Model, iter_tasks
from twdsl.syntax import ast as A

CODE = CODES["TW509"]

#: Builtin names whose value is new in every run.
VOLATILE = ("current_time", "workflow_id", "task_id")


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    models = {id(m.decl): m for m in ctx.models}
    for decl in ctx.module.items:
        if isinstance(decl, (A.WorkflowDecl, A.TemplateDecl)):
            model = models.get(id(decl))
            for task, _ in iter_tasks(decl.body.items):
                if task.body is not None:
                    yield from _task(task, task.body, _shadowing(model))


def _shadowing(model: Model | None) -> set[str]:
    """Names that are not the builtins here: inputs, parameters and tasks come first."""
    if model is None:
        return set()
    return set(model.inputs) | set(model.tasks) | set(model.inherited_tasks)


def _task(task: A.TaskStmt, body: A.Block, shadowed: set[str]) -> Iterator[Diagnostic]:
    cache = body.get("cache")
    if cache is None or isinstance(cache.value, A.BoolLit) and not cache.value.value:
        return
    key = None
    if isinstance(cache.value, A.ObjectLit):
        key = next((f for f in cache.value.fields if f.key.name == "key"), None)
    if key is not None:
        basis, where = key.value, "cache key"
        fix = "take it out of the key, or drop `cache`"
    else:
        field = body.get("input")
        if field is None:
            return
        basis, where = field.value, "input"
        fix = "set `cache: { key: … }` to what identifies the work, or drop `cache`"
    found = volatile_reads(basis, shadowed)
    if not found:
        return
    names: list[str] = []
    for label, _ in found:
        if label not in names:
            names.append(label)
    what = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    verb = "changes" if len(names) == 1 else "change"
    yield Diagnostic(
        CODE.code, CODE.severity,
        f"task '{task.name.name}' is cached but its {where} reads {what}, which {verb} on "
        f"every run: the cache will never be hit; {fix}",
        found[0][1].span, (Related(cache.span, "the cache setting"),))


def volatile_reads(e: A.Node, shadowed: set[str]) -> list[tuple[str, A.Node]]:
    """The reads of per-run values in an expression, in source order, as (label, node).

    >>> from twdsl.syntax.parser import parse
    >>> t = parse('workflow W { task a { input: { at: current_time, '
    ...           'w: context.workflow, r: context["run_id"] } } }')
    >>> task = t.module.items[0].body.items[0]
    >>> [label for label, _ in volatile_reads(task.body.get("input").value, set())]
    ['current_time', 'context.run_id']
    """
    out: list[tuple[str, A.Node]] = []
    shadowed = shadowed | {p.name for n in e.walk() if isinstance(n, A.Lambda)
                           for p in n.params}
    stack: list[A.Node] = [e]
    while stack:
        node = stack.pop()
        if isinstance(node, A.Name) and node.name not in shadowed:
            if node.name in VOLATILE:
                out.append((node.name, node))
            elif node.name == "context":
                out.append(("context (with its run_id)", node))
            continue
        field = _context_field(node, shadowed)
        if field is not None:
            if field == "run_id":  # workflow, version, inputs: the same in every run
                out.append(("context.run_id", node))
            if isinstance(node, A.Index):
                stack.append(node.index)
            continue  # context.<field>: the object as a whole is not read
        if isinstance(node, (A.Block, A.ErrorExpr)):
            continue
        stack.extend(reversed(list(node.children())))
    return out


def _context_field(node: A.Node, shadowed: set[str]) -> str | None:
    """``context.f`` or ``context["f"]`` (the builtin): ``f``."""
    if isinstance(node, (A.Member, A.Index)) and isinstance(node.obj, A.Name) \
            and node.obj.name == "context" and "context" not in shadowed:
        if isinstance(node, A.Member):
            return node.name.name
        if isinstance(node.index, A.StringLit) and node.index.value is not None:
            return node.index.value
    return None
