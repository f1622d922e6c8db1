"""TW507 unreachable-task: a task that can never run.

Two ways: it comes after ``break`` or ``continue`` in the same block; or it depends (by
``depends``) on a task in another branch of the same ``if``/``switch``, which never runs when
this one's branch does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic, Related
from twdsl.lint import LintContext
from twdsl.syntax import ast as A

CODE = CODES["TW507"]
Path = tuple[tuple[int, int], ...]  # (id of an if/switch, branch) from the outside in


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for model in ctx.models:
        paths: dict[str, Path] = {}
        yield from _after_exit(model.decl.body.items, (), paths, in_loop=False)
        for ref, user in model.order_refs:
            dep = ref.parts[0].name
            if dep in paths and user in paths and _exclusive(paths[dep], paths[user]):
                yield Diagnostic(CODE.code, CODE.severity,
                                 f"task '{user}' can never run: it depends on '{dep}', which is "
                                 "in another branch of the same if/switch", ref.span,
                                 (Related(model.tasks[dep].node.name.span,
                                          f"'{dep}' is declared here"),))


def _after_exit(items: Iterable[A.Node], path: Path, paths: dict[str, Path],
                in_loop: bool) -> Iterator[Diagnostic]:
    """Walk a block in order: record each task's branch path; report tasks after an exit
    (an exit outside any loop is TW215's, and makes nothing unreachable here)."""
    exited: A.Stmt | None = None
    for item in items:
        if isinstance(item, (A.BreakStmt, A.ContinueStmt)):
            exited = exited or (item if in_loop else None)
            continue
        if isinstance(item, A.TaskStmt):
            paths.setdefault(item.name.name, path)
            if exited is not None:
                word = "break" if isinstance(exited, A.BreakStmt) else "continue"
                yield Diagnostic(CODE.code, CODE.severity,
                                 f"task '{item.name.name}' can never run: it comes after "
                                 f"'{word}' in the same block", item.name.span,
                                 (Related(exited.span, f"the '{word}'"),))
        elif isinstance(item, (A.ParallelStmt, A.SequenceStmt)):
            yield from _after_exit(item.body.items, path, paths, in_loop)
        elif isinstance(item, (A.ForeachStmt, A.WhileStmt)):
            yield from _after_exit(item.body.items, path, paths, True)
        elif isinstance(item, A.IfStmt):
            branch: A.IfStmt | A.Block | None = item
            k = 0
            while isinstance(branch, A.IfStmt):
                yield from _after_exit(branch.then.items, path + ((id(item), k),), paths,
                                       in_loop)
                branch, k = branch.else_, k + 1
            if branch is not None:
                yield from _after_exit(branch.items, path + ((id(item), k),), paths, in_loop)
        elif isinstance(item, A.SwitchStmt):
            for k, case in enumerate(item.cases):
                yield from _after_exit(case.body, path + ((id(item), k),), paths, in_loop)


def _exclusive(a: Path, b: Path) -> bool:
    """Whether two branch paths part at the same if/switch, in different branches."""
    for (sa, ka), (sb, kb) in zip(a, b, strict=False):
        if sa != sb:
            return False
        if ka != kb:
            return True
    return False
