"""The semantic stage: templates, names and scopes, the dependency graph, then types."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from twdsl.diagnostics import Diagnostic
from twdsl.semantics.graph import build_graph, check_graph
from twdsl.semantics.modules import Imports
from twdsl.semantics.names import Model, Resolver
from twdsl.semantics.templates import Templates
from twdsl.semantics.typecheck import Checker, Signature
from twdsl.semantics.types import Type
from twdsl.syntax import ast as A


@dataclass(slots=True)
class Semantics:
    """What the semantic stage found: diagnostics, and per workflow/template its names and
    dependency graph (what later stages, the lint rules and the compiler, build on)."""

    diagnostics: list[Diagnostic]
    models: list[Model]
    graphs: list[nx.DiGraph]


def check_semantics(module: A.Module, imports: Imports | None = None,
                    lent: dict[str, Signature | Type] | None = None,
                    bound_agents: frozenset[str] | None = None) -> Semantics:
    """Check a module that parsed without syntax errors.

    >>> from twdsl.syntax.parser import parse
    >>> m = parse('workflow W { version: "1" task a { agent: "A" depends: [b] } }').module
    >>> [d.message for d in check_semantics(m).diagnostics]
    ["'b' in depends is not a task of workflow 'W'"]
    """
    templates = Templates({
        **{n: d for n, (_, d) in (imports.decls.items() if imports else ())
           if isinstance(d, A.TemplateDecl)},
        **{d.name.name: d for d in module.items if isinstance(d, A.TemplateDecl)}})
    local = [d for d in module.items if isinstance(d, A.TemplateDecl)]
    templates.check_declarations(local)
    resolver = Resolver(module, imports, templates, bound_agents)
    models = resolver.run()
    diags = list(resolver.diags)
    graphs = [build_graph(model) for model in models]
    for model, graph in zip(models, graphs, strict=True):
        diags.extend(check_graph(model, graph))
    unresolved = imports is None or not imports.complete
    diags.extend(Checker(module, lent, templates, unresolved).run(models))
    diags.extend(templates.diags)
    return Semantics(diags, models, graphs)
