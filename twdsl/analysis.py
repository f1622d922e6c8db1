"""The analysis API: the one entry point that the CLI and the language server call."""

from __future__ import annotations

from dataclasses import dataclass

from twdsl.config import DEFAULT, Config
from twdsl.diagnostics import Diagnostic, Severity, sort_diagnostics
from twdsl.lint import LintContext, run_rules
from twdsl.policy import apply_policy
from twdsl.recursion import deep_recursion, gc_paused
from twdsl.semantics.check import check_semantics, file_scope
from twdsl.semantics.model import FileScope, SemanticModel
from twdsl.semantics.names import module_checks
from twdsl.semantics.reuse import Reuse
from twdsl.source import SourceFile
from twdsl.syntax import ast as A
from twdsl.syntax.parser import ParseResult, parse
from twdsl.syntax.structure import check_structure


@dataclass(slots=True)
class Analysis:
    """The result of analysing one file: its AST, every diagnostic in order, its scope
    (declarations and templates, resolved in their files) and, when it parsed without errors,
    its semantic model, which every later stage reads."""

    parse: ParseResult
    diagnostics: list[Diagnostic]
    scope: FileScope
    model: SemanticModel | None = None

    @property
    def module(self) -> A.Module:
        return self.parse.module

    @property
    def source(self) -> SourceFile:
        return self.parse.source

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def analyze(text: str, path: str = "<string>", config: Config = DEFAULT) -> Analysis:
    """Parse and check one file's text.  Pure: no file system, no global state; the caller
    finds and loads the configuration (twdsl.config) and passes it in.  Imports are not
    followed here (see :func:`twdsl.project.analyze_project`), so what they bring is not
    guessed at.

    >>> src = 'workflow W {\\n  version: "1.0.0"\\n  task t { agent: "Echo" timout: 5m }\\n}'
    >>> [(d.code, d.message) for d in analyze(src, "w.twdsl").diagnostics]
    [('TW120', "unknown field 'timout' in task 't'; did you mean 'timeout'?")]
    """
    return analyze_parsed(parse(text, path), config)


def analyze_parsed(result: ParseResult, config: Config = DEFAULT, scope: FileScope | None = None,
                   extra: list[Diagnostic] | None = None,
                   reuse: Reuse | None = None) -> Analysis:
    """Check an already parsed file.  ``scope``: the file's scope as a project resolved it
    (:class:`twdsl.project.Project`: what its imports lend it); None for a file on its own.
    ``extra``: diagnostics found about the file elsewhere (its imports).  ``reuse``: the
    workflows' results of the last analysis of this file (the language server keeps one per
    document): a workflow whose text and environment did not change is not checked again
    (twdsl.semantics.reuse); the diagnostics are the same."""
    text = result.source.text
    diags = list(result.diagnostics)
    diags.extend(extra or ())
    model = None
    with deep_recursion(), gc_paused():
        if scope is None:
            scope = file_scope(result.module, result.source.path, text=text)
        if not result.ok:  # names in a tree the parser had to repair would only echo its errors
            diags.extend(check_structure(result.module))
        elif reuse is None:
            diags.extend(check_structure(result.module))
            model = check_semantics(scope, config.agents)
            diags.extend(model.diagnostics)
            diags.extend(run_rules(LintContext(model, text)))
        else:
            items, kept = reuse.plan(result.module, text, scope, config.agents)
            part = A.Module(result.module.span, list(items))
            model = check_semantics(scope, config.agents, items)
            found = [*check_structure(part), *model.diagnostics,
                     *run_rules(LintContext(model, text, part))]
            reuse.learn(items, text, found)
            diags.extend(found)
            diags.extend(kept)
            diags.extend(module_checks(result.module))
    diags = apply_policy(diags, config, result.comments, text)
    return Analysis(result, sort_diagnostics(diags), scope, model)
