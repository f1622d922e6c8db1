"""The analysis API: the one entry point that the CLI and the language server call."""

from __future__ import annotations

from dataclasses import dataclass

from twdsl.config import DEFAULT, Config
from twdsl.diagnostics import Diagnostic, Severity, sort_diagnostics
from twdsl.lint import LintContext, run_rules
from twdsl.policy import apply_policy
from twdsl.recursion import deep_recursion, gc_paused
from twdsl.semantics.check import check_semantics
from twdsl.semantics.modules import Imports
from twdsl.semantics.typecheck import Signature
from twdsl.semantics.types import Type
from twdsl.source import SourceFile
from twdsl.syntax import ast as A
from twdsl.syntax.parser import ParseResult, parse
from twdsl.syntax.structure import check_structure


@dataclass(slots=True)
class Analysis:
    """The result of analysing one file: its AST and every diagnostic, in order."""

    parse: ParseResult
    diagnostics: list[Diagnostic]

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


def analyze_parsed(result: ParseResult, config: Config = DEFAULT, imports: Imports | None = None,
                   lent: dict[str, Signature | Type] | None = None,
                   extra: list[Diagnostic] | None = None) -> Analysis:
    """Check an already parsed file; ``imports``/``lent`` come from the project, ``extra``
    are diagnostics found about the file elsewhere (its imports)."""
    text = result.source.text
    diags = list(result.diagnostics)
    diags.extend(extra or ())
    with deep_recursion(), gc_paused():
        diags.extend(check_structure(result.module))
        if result.ok:  # names in a tree the parser had to repair would only echo its errors
            sem = check_semantics(result.module, imports, lent, config.agents)
            diags.extend(sem.diagnostics)
            diags.extend(run_rules(LintContext(result.module, sem.models, sem.graphs, text)))
    diags = apply_policy(diags, config, result.comments, text)
    return Analysis(result, sort_diagnostics(diags))
