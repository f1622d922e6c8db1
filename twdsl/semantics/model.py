"""The one semantic model of a program (shared/design: "ONE semantic model").

:func:`twdsl.semantics.check.check_semantics` makes a :class:`SemanticModel` once per analysis
of a file; the lint rules, lowering (and through it the optimizer), the editor features and the
language server read it, and none of them derives its facts again:

* the file's scope (:class:`FileScope`): its imports, its agents' signatures and named types
  (:class:`~twdsl.semantics.declarations.Declarations`), and its templates with their
  effective parameters, tasks and statements, imported ones resolved in their own files
  (:class:`~twdsl.semantics.templates.Templates`);
* per workflow and template, its names and scopes (:class:`~twdsl.semantics.names.Model`), its
  task graph, and where each task sits (``facts``);
* the type of every expression (:meth:`SemanticModel.type_of`);
* each task's resolved policies (:meth:`SemanticModel.task_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twdsl.diagnostics import Diagnostic
from twdsl.lang import types as T
from twdsl.semantics.declarations import Declarations, Signature
from twdsl.semantics.modules import Imports
from twdsl.semantics.names import Model
from twdsl.semantics.policies import TaskPolicy, task_policy
from twdsl.semantics.templates import Templates
from twdsl.syntax import ast as A

if TYPE_CHECKING:
    from twdsl.semantics.graph import TaskGraph
    from twdsl.semantics.typecheck import TaskFacts


@dataclass(slots=True)
class FileScope:
    """What a file's declarations mean in that file: what another file is lent when it
    imports from this one, and what lowering expands a template of this file in."""

    path: str
    module: A.Module
    imports: Imports | None
    declarations: Declarations
    templates: Templates
    #: agent declarations in scope, by the name they are known by here (imported included)
    agent_decls: dict[str, A.AgentDecl] = field(default_factory=dict)
    text: str = ""  # the file's text (what reuse compares declarations by)

    @classmethod
    def of(cls, path: str, module: A.Module, imports: Imports | None,
           declarations: Declarations,
           lent_templates: dict[str, tuple[Templates, str]] | None = None) -> FileScope:
        own = {d.name.name: d for d in module.items if isinstance(d, A.TemplateDecl)}
        lent = dict(lent_templates or {})
        if imports is not None and lent_templates is None:
            # a project that did not resolve the imported files' scopes: their templates are
            # taken as declared (their own imports are not followed)
            foreign = {n: d for n, (_, d) in imports.decls.items()
                       if isinstance(d, A.TemplateDecl)}
            lent = {n: (Templates({d.name.name: d}, None, None, p), d.name.name)
                    for n, d in foreign.items() for p in [imports.decls[n][0]]}
        templates = Templates(own, lent, declarations, path)
        agents: dict[str, A.AgentDecl] = {}
        if imports is not None:
            agents.update({n: d for n, (_, d) in imports.decls.items()
                           if isinstance(d, A.AgentDecl)})
        agents.update(declarations.agent_decls)
        scope = cls(path, module, imports, declarations, templates, agents)
        templates.owner = scope
        return scope


@dataclass(slots=True)
class SemanticModel:
    """Everything the semantic stage learned about one module."""

    scope: FileScope
    bodies: list[Model]  # each workflow and template: its names and scopes
    graphs: list[TaskGraph]  # each body's task graph (same order)
    types: dict[int, T.Type]  # id(expression node) -> its type
    facts: dict[int, dict[str, TaskFacts]]  # id(body declaration) -> where its tasks sit
    diagnostics: list[Diagnostic]

    @property
    def module(self) -> A.Module:
        return self.scope.module

    @property
    def declarations(self) -> Declarations:
        return self.scope.declarations

    @property
    def templates(self) -> Templates:
        return self.scope.templates

    def type_of(self, node: A.Node) -> T.Type | None:
        """The type the checker gave an expression (None: not an expression it typed, e.g. in
        a part of the file that did not parse)."""
        return self.types.get(id(node))

    def body(self, decl: A.WorkflowDecl | A.TemplateDecl) -> Model | None:
        return next((m for m in self.bodies if m.decl is decl), None)

    def resolve_type(self, node: A.Node) -> T.Type:
        return self.declarations.resolve(node)

    def named_type(self, name: str) -> T.Type:
        return self.declarations.named(name)

    def agent(self, name: str) -> Signature | None:
        return self.declarations.agents.get(name)

    def task_signature(self, task: A.TaskStmt) -> Signature | None:
        return self.declarations.task_signature(task)

    def task_result(self, task: A.TaskStmt) -> T.Type:
        return self.declarations.task_result(task)

    def task_policy(self, task: A.TaskStmt,
                    body: A.WorkflowDecl | A.TemplateDecl | None = None) -> TaskPolicy:
        """The retry and timeout ``task`` runs with: its own, else its agent's, else (retry)
        its workflow's (literals only: a setting given by a template parameter is unknown
        here)."""
        assert task.body is not None
        name = self.declarations.agent_name(task)
        agent = self.scope.agent_decls.get(name) if name is not None else None
        workflow = body.body if isinstance(body, A.WorkflowDecl) else None
        return task_policy(task.body, agent, workflow)
