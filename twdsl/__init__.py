"""twdsl: the toolchain for TWDSL, a typed workflow language.

The public API is small and explicit::

    >>> import twdsl
    >>> result = twdsl.analyze('workflow W { version: "1.0.0" }', path="w.twdsl")
    >>> result.ok
    True
"""

from __future__ import annotations

__version__ = "0.1.0"

from twdsl.analysis import Analysis, analyze
from twdsl.diagnostics import Diagnostic, Fix, Severity, TextEdit
from twdsl.formatter import FormatError, format_source
from twdsl.source import SourceFile, Span
from twdsl.syntax.parser import ParseResult, parse

__all__ = [
    "Analysis",
    "Diagnostic",
    "Fix",
    "FormatError",
    "ParseResult",
    "Severity",
    "SourceFile",
    "Span",
    "TextEdit",
    "__version__",
    "analyze",
    "format_source",
    "parse",
]
