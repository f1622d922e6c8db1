"""The semantic stage: names and scopes, then the dependency graph, over one module."""

from __future__ import annotations

from twdsl.diagnostics import Diagnostic
from twdsl.semantics.graph import build_graph, check_graph
from twdsl.semantics.names import Resolver
from twdsl.semantics.typecheck import Checker
from twdsl.syntax import ast as A


def check_semantics(module: A.Module) -> list[Diagnostic]:
    """Name and graph diagnostics of a module that parsed without syntax errors.

    >>> from twdsl.syntax.parser import parse
    >>> m = parse('workflow W { task a { agent: "A" depends: [b] } }').module
    >>> [d.message for d in check_semantics(m)]
    ["'b' in depends is not a task of workflow 'W'"]
    """
    resolver = Resolver(module)
    models = resolver.run()
    diags = list(resolver.diags)
    for model in models:
        diags.extend(check_graph(model, build_graph(model)))
    diags.extend(Checker(module).run(models))
    return diags
