"""Per-declaration reuse of a file's checks between two analyses of it (the language server's:
an edit touches one declaration; the others need not be checked again).

What a workflow's checks find (its structure, names, graph, types, lint) depends on its own text
and on the file's *environment*: every declaration that is not a workflow (agents, types,
templates, imports), what the imports lend, and the configuration's agent names.  Workflows do
not see each other, except that their names must differ, which is checked on the whole module
every time.  So, while the environment stays the same, the diagnostics of a workflow whose text
did not change are the ones found last time, moved to where the workflow now is
(:class:`Reuse`).  Anything else (a changed environment, a workflow that moved to a column of
its own line other than the one it had) is checked again: reuse is never a guess.

The semantic model of an analysis that reused results holds the bodies it checked (the
environment's and the changed workflows'); the file's scope (declarations, templates) is whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from twdsl.diagnostics import Diagnostic
from twdsl.semantics.model import FileScope
from twdsl.source import Span
from twdsl.syntax import ast as A


@dataclass(frozen=True, slots=True)
class _Unit:
    """A workflow's diagnostics as found at ``start`` (offset), ``line`` and ``column``."""

    start: int
    line: int
    column: int
    diagnostics: tuple[Diagnostic, ...]


class Reuse:
    """What the last analysis of one file found per workflow, by the workflow's text."""

    def __init__(self) -> None:
        self.env: Any = None
        self.units: dict[str, _Unit] = {}
        self.reused = 0  # workflows whose diagnostics the last analysis reused (for tests)

    def plan(self, module: A.Module, text: str, scope: FileScope,
             agents: frozenset[str] | None) -> tuple[list[Any], list[Diagnostic]]:
        """The items of ``module`` to check (the environment and the workflows not seen
        before) and the diagnostics of the others, moved to where they are now."""
        env = environment(module, text, scope, agents)
        if env != self.env:
            self.env, self.units = env, {}
        check: list[Any] = []
        kept: list[Diagnostic] = []
        self.reused = 0
        for item in module.items:
            if not isinstance(item, A.WorkflowDecl):
                check.append(item)
                continue
            unit = self.units.get(text[item.span.start:item.span.end])
            if unit is None or unit.column != item.span.column:
                check.append(item)
                continue
            self.reused += 1
            d, dl = item.span.start - unit.start, item.span.line - unit.line
            kept.extend(unit.diagnostics if d == 0 and dl == 0 else
                        (moved(x, d, dl) for x in unit.diagnostics))
        return check, kept

    def learn(self, checked: Iterable[A.Node], text: str, diagnostics: list[Diagnostic]) -> None:
        """Keep the diagnostics each checked workflow has (by span) for the next analysis."""
        workflows = sorted((w for w in checked if isinstance(w, A.WorkflowDecl)),
                           key=lambda w: w.span.start)
        found: dict[int, list[Diagnostic]] = {id(w): [] for w in workflows}
        for d in diagnostics:
            w = _holder(workflows, d.span)
            if w is not None:
                found[id(w)].append(d)
        live = set()
        for w in workflows:
            key = text[w.span.start:w.span.end]
            live.add(key)
            self.units[key] = _Unit(w.span.start, w.span.line, w.span.column,
                                    tuple(found[id(w)]))
        if len(self.units) > 4 * max(1, len(live)) + 64:  # forget what edits left behind
            self.units = {k: v for k, v in self.units.items() if k in live}


def environment(module: A.Module, text: str, scope: FileScope,
                agents: frozenset[str] | None) -> Any:
    """What every workflow's checks depend on besides its own text (module docstring)."""
    own = tuple(text[d.span.start:d.span.end] for d in module.items
                if not isinstance(d, A.WorkflowDecl))
    lent_decls = scope.declarations
    lent = tuple(sorted((n, repr(v)) for n, v in (*lent_decls.imported_types.items(),
                                                   *((n, s) for n, s in lent_decls.agents.items()
                                                     if n not in lent_decls.agent_decls))))
    templates = tuple(sorted((n, home.path, _text_of(home.owner, home.decls.get(name)))
                             for n, (home, name) in scope.templates.lent.items()))
    complete = scope.imports.complete if scope.imports is not None else None
    return own, lent, templates, complete, agents


def _text_of(scope: Any, decl: A.Node | None) -> str:
    if decl is None or scope is None or not getattr(scope, "text", None):
        return repr(decl)  # no text to compare: the node itself (a new parse is a change)
    return str(scope.text[decl.span.start:decl.span.end])


def _holder(workflows: list[A.WorkflowDecl], span: Span) -> A.WorkflowDecl | None:
    for w in workflows:
        if w.span.start <= span.start < w.span.end or (span.start == w.span.end == span.end):
            return w
    return None


def moved(v: Any, d: int, dl: int) -> Any:
    """A diagnostic (or what it holds) ``d`` characters and ``dl`` lines further on."""
    if isinstance(v, Span):
        return Span(v.file, v.start + d, v.end + d, v.line + dl, v.column, v.end_line + dl,
                    v.end_column)
    if isinstance(v, tuple):
        return tuple(moved(x, d, dl) for x in v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return dataclasses.replace(v, **{f.name: moved(getattr(v, f.name), d, dl)
                                         for f in dataclasses.fields(v) if f.init})
    return v
