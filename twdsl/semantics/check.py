"""The semantic stage: templates, names and scopes, the dependency graph, then types; its
result is the one :class:`~twdsl.semantics.model.SemanticModel` of the file."""

from __future__ import annotations

from twdsl.semantics.declarations import Declarations, Lent
from twdsl.semantics.graph import build_graph, check_graph
from twdsl.semantics.model import FileScope, SemanticModel
from twdsl.semantics.modules import Imports
from twdsl.semantics.names import Resolver
from twdsl.semantics.typecheck import Checker
from twdsl.syntax import ast as A


def file_scope(module: A.Module, path: str = "<string>", imports: Imports | None = None,
               lent: Lent | None = None, text: str = "") -> FileScope:
    """The scope of a file checked on its own (a project makes scopes with
    :class:`twdsl.project.Project`, lending imported templates from their files)."""
    unresolved = imports is None or not imports.complete
    scope = FileScope.of(path, module, imports, Declarations(module, lent, unresolved))
    scope.text = text
    return scope


def check_semantics(scope: FileScope | A.Module, bound_agents: frozenset[str] | None = None,
                    items: list[A.Node] | None = None) -> SemanticModel:
    """Check a module that parsed without syntax errors; the diagnostics are the model's.
    ``items``: check these declarations of the module only (twdsl.semantics.reuse: the others'
    results are reused), and nothing across declarations (the caller checks that with
    :func:`twdsl.semantics.names.module_checks`).

    >>> from twdsl.syntax.parser import parse
    >>> m = parse('workflow W { version: "1" task a { agent: "A" depends: [b] } }').module
    >>> [d.message for d in check_semantics(m).diagnostics]
    ["'b' in depends is not a task of workflow 'W'"]
    """
    if isinstance(scope, A.Module):
        scope = file_scope(scope)
    module, templates = scope.module, scope.templates
    templates.check_declarations(list(templates.own.values()))
    resolver = Resolver(module, scope.imports, templates, bound_agents)
    bodies = resolver.run(items)
    diags = list(resolver.diags)
    graphs = [build_graph(model) for model in bodies]
    for model, graph in zip(bodies, graphs, strict=True):
        diags.extend(check_graph(model, graph))
    checker = Checker(scope.declarations, templates, scope.text)
    diags.extend(checker.run(bodies, items))
    diags.extend(templates.diags)
    return SemanticModel(scope, bodies, graphs, checker.types, checker.facts_of, diags)
