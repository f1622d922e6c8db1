"""The analysis API: the one entry point that the CLI and the language server call."""

from __future__ import annotations

from dataclasses import dataclass

from twdsl.diagnostics import Diagnostic, Severity, sort_diagnostics
from twdsl.recursion import deep_recursion
from twdsl.semantics.check import check_semantics
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


def analyze(text: str, path: str = "<string>") -> Analysis:
    """Parse and check one file's text.  Pure: no file system, no global state.

    >>> a = analyze('workflow W {\\n  version: "1.0.0"\\n  task t { agnet: "Echo" }\\n}', "w.twdsl")
    >>> [(d.code, d.message) for d in a.diagnostics]
    [('TW120', "unknown field 'agnet' in task 't'; did you mean 'agent'?")]
    """
    result = parse(text, path)
    diags = list(result.diagnostics)
    with deep_recursion():
        diags.extend(check_structure(result.module))
        if result.ok:  # names in a tree the parser had to repair would only echo its errors
            diags.extend(check_semantics(result.module))
    return Analysis(result, sort_diagnostics(diags))
