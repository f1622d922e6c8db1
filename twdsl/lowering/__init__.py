"""Lowering: one checked workflow (its AST) to the IR (docs/ir.md).

Runs only on a module that checked without errors.  It

* expands every ``use`` of a template into a block of the template's effective statements
  (its parent's and mixins' first, an ``override`` or a definition of an ``abstract`` task in
  place of the task it replaces), with the arguments bound as the block's ``bindings`` and the
  instance's tasks named ``alias.task``;
* resolves every name of an expression: a task's field becomes a ``TaskField`` by node id,
  anything else a ``Var``;
* resolves the policies: a task's ``retry`` and ``timeout`` fall back to its agent's, then the
  workflow's;
* turns every ordering the language gives (written order, ``depends``, chains, data) into
  ``after`` edges between siblings of one block.  An edge between tasks in different blocks is
  lifted to the children of their lowest common block that hold them.

A lifted edge can close a cycle that the task graph does not have (two sequences in a
``parallel``, each waiting on the other's second task): that is error TW402, with both edges.
"""

from __future__ import annotations

from collections.abc import Iterable

from twdsl.diagnostics import Diagnostic, Severity
from twdsl.ir import model as M
from twdsl.lowering.base import Abort, FileContext
from twdsl.lowering.expressions import Expressions
from twdsl.lowering.ordering import Ordering
from twdsl.lowering.statements import Statements
from twdsl.lowering.tasks import Tasks
from twdsl.lowering.templates import TemplateExpansion
from twdsl.recursion import gc_paused
from twdsl.semantics.model import FileScope
from twdsl.source import SourceFile
from twdsl.syntax import ast as A

__all__ = ["FileContext", "Lowerer", "lower_workflow", "lower_workflows"]


class Lowerer(Statements, TemplateExpansion, Tasks, Expressions, Ordering):
    """Lowers one workflow: the jobs of the modules of this package, on one state."""


def lower_workflow(scope: FileScope, source: SourceFile, workflow: A.WorkflowDecl,
                   context: FileContext | None = None,
                   ) -> tuple[M.Program | None, list[Diagnostic]]:
    """The IR of ``workflow`` (a declaration of the file whose scope is ``scope``: its
    semantic model's, :attr:`twdsl.semantics.model.SemanticModel.scope`), or None and the
    errors.  ``context``: the file's shared tables (:class:`FileContext`), when the caller
    lowers several workflows of one file (else they are built here, for this workflow)."""
    with gc_paused():  # like the parse and the checks: the AST is large and all alive
        if context is None:
            context = FileContext(scope, source)
        lowerer = Lowerer(context)
        try:
            program = lowerer.workflow(workflow)
        except Abort as e:
            return None, [Diagnostic("TW402" if e.message.startswith("blocks") else "TW403",
                                     Severity.ERROR, e.message, e.node.span)]
    if lowerer.diags:
        return None, lowerer.diags
    return program, []


def lower_workflows(scope: FileScope, source: SourceFile, workflows: Iterable[A.WorkflowDecl],
                    ) -> list[tuple[M.Program | None, list[Diagnostic]]]:
    """:func:`lower_workflow` of each of ``workflows`` (declarations of the file of
    ``scope``), sharing one :class:`FileContext`: what the file's declarations lower to is
    made once, not once per workflow, so lowering every workflow of a file costs time linear
    in the file."""
    with gc_paused():
        context = FileContext(scope, source)
        return [lower_workflow(scope, source, w, context) for w in workflows]


