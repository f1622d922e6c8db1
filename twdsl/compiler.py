"""The compiler's public API: source → checked → lowered → optimized IR.

``compile_source`` is what ``twdsl compile``, ``twdsl run`` and ``twdsl graph`` call.  It is
pure like :func:`twdsl.analyze`: the caller gives the text (and a ``load`` for imported
files) and the configuration.  User mistakes come back as diagnostics; a broken IR
invariant is a compiler bug and raises :class:`twdsl.ir.validate.IRInvariantError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from twdsl.analysis import Analysis
from twdsl.config import DEFAULT, Config
from twdsl.diagnostics import Diagnostic, Severity, sort_diagnostics
from twdsl.ir.model import Program
from twdsl.ir.validate import Memo, validate
from twdsl.lowering import lower_workflow, lower_workflows
from twdsl.passes import run_passes
from twdsl.project import Project
from twdsl.recursion import deep_recursion, gc_paused
from twdsl.syntax import ast as A


@dataclass(slots=True)
class Compilation:
    """The program (None when there are errors) and every diagnostic, warnings included."""

    program: Program | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)  # the file's workflows, in order

    @property
    def ok(self) -> bool:
        return self.program is not None


class WorkflowChoiceError(Exception):
    """The file has no workflow, several and none was named, or not the one named."""


def compile_source(text: str, path: str, workflow: str | None = None, optimize: int = 1,
                   config: Config = DEFAULT,
                   load: Callable[[str], str | None] | None = None) -> Compilation:
    """Compile the workflow ``workflow`` of the file ``path`` (the only one when None).

    >>> c = compile_source('workflow W { version: "1.0.0" task a { agent: "echo" } }', "w.twdsl")
    >>> [n.kind for n in c.program.nodes.values()]
    ['block', 'task']
    """
    project = Project({path: text}, load)
    analysis: Analysis = project.analysis(path, config)
    diags = list(analysis.diagnostics)
    module = analysis.module
    names = [d.name.name for d in module.items if isinstance(d, A.WorkflowDecl)]
    if not analysis.ok:
        return Compilation(None, diags, names)
    decl = _choose(module, path, workflow, names)
    # the collector paused throughout, as for the parse: lowering and the passes allocate
    # many objects that all stay alive, and each collection would walk the whole AST
    with deep_recursion(), gc_paused():
        program, errors = lower_workflow(analysis.scope, analysis.source, decl)
        if program is None:
            return Compilation(None, sort_diagnostics(diags + errors), names)
        memo: Memo = {}  # each expression checked once, not after every pass
        validate(program, after="lowering", memo=memo)
        program = run_passes(program, optimize, memo)
    return Compilation(program, diags, names)


def compile_workflows(analysis: Analysis, optimize: int = 1,
                      names: Iterable[str] | None = None) -> dict[str, Compilation]:
    """Every workflow of an analysed file (or those of ``names`` it has), by name, compiled
    from that one analysis (an analysis with errors compiles none): what compares versions of
    a file (twdsl.versions) calls, so that a file of many workflows is checked once, not once
    per workflow as ``compile_source`` for each would."""
    decls = [d for d in analysis.module.items if isinstance(d, A.WorkflowDecl)]
    all_names = [d.name.name for d in decls]
    if names is not None:
        wanted = set(names)
        decls = [d for d in decls if d.name.name in wanted]
    diags = list(analysis.diagnostics)
    if not analysis.ok:
        return {d.name.name: Compilation(None, diags, all_names) for d in decls}
    out: dict[str, Compilation] = {}
    with deep_recursion(), gc_paused():
        lowered = lower_workflows(analysis.scope, analysis.source, decls)
        for decl, (program, errors) in zip(decls, lowered, strict=True):
            if program is None:
                out[decl.name.name] = Compilation(None, sort_diagnostics(diags + errors),
                                                  all_names)
                continue
            memo: Memo = {}
            validate(program, after="lowering", memo=memo)
            out[decl.name.name] = Compilation(run_passes(program, optimize, memo), diags,
                                              all_names)
    return out


def _choose(module: A.Module, path: str, workflow: str | None,
            names: list[str]) -> A.WorkflowDecl:
    decls = [d for d in module.items if isinstance(d, A.WorkflowDecl)]
    if workflow is not None:
        for d in decls:
            if d.name.name == workflow:
                return d
        raise WorkflowChoiceError(
            f"{path}: no workflow named '{workflow}'" +
            (f" (it has: {', '.join(names)})" if names else " (it has no workflow)"))
    if not decls:
        raise WorkflowChoiceError(f"{path}: there is no workflow to compile in this file")
    if len(decls) > 1:
        raise WorkflowChoiceError(
            f"{path}: several workflows ({', '.join(names)}); choose one with --workflow NAME")
    return decls[0]


__all__ = ["Compilation", "Severity", "WorkflowChoiceError", "compile_source",
           "compile_workflows"]
