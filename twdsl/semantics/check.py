"""The semantic stage: names and scopes, the dependency graph, types, then the lint rules."""

from __future__ import annotations

from twdsl.diagnostics import Diagnostic
from twdsl.lint import LintContext, run_rules
from twdsl.semantics.graph import build_graph, check_graph
from twdsl.semantics.modules import Imports
from twdsl.semantics.names import Resolver
from twdsl.semantics.templates import Templates
from twdsl.semantics.typecheck import Checker, Signature
from twdsl.semantics.types import Type
from twdsl.syntax import ast as A


def check_semantics(module: A.Module, text: str = "", imports: Imports | None = None,
                    lent: dict[str, Signature | Type] | None = None) -> list[Diagnostic]:
    """Name, graph, type and lint diagnostics of a module that parsed without syntax errors.

    >>> from twdsl.syntax.parser import parse
    >>> m = parse('workflow W { version: "1" task a { agent: "A" depends: [b] } }').module
    >>> [d.message for d in check_semantics(m)]
    ["'b' in depends is not a task of workflow 'W'"]
    """
    templates = Templates({
        **{n: d for n, (_, d) in (imports.decls.items() if imports else ())
           if isinstance(d, A.TemplateDecl)},
        **{d.name.name: d for d in module.items if isinstance(d, A.TemplateDecl)}})
    local = [d for d in module.items if isinstance(d, A.TemplateDecl)]
    templates.check_declarations(local)
    resolver = Resolver(module, imports, templates)
    models = resolver.run()
    diags = list(resolver.diags)
    graphs = [build_graph(model) for model in models]
    for model, graph in zip(models, graphs, strict=True):
        diags.extend(check_graph(model, graph))
    diags.extend(Checker(module, lent, templates).run(models))
    diags.extend(templates.diags)
    diags.extend(run_rules(LintContext(module, models, graphs, text)))
    return diags
