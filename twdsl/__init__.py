"""twdsl: the toolchain for TWDSL, a typed workflow language.

The public API is small and explicit::

    >>> import twdsl
    >>> result = twdsl.analyze('workflow W { version: "1.0.0" }', path="w.twdsl")
    >>> result.ok
    True
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twdsl.analysis import Analysis, analyze
    from twdsl.diagnostics import Diagnostic, Fix, Severity, TextEdit
    from twdsl.formatter import FormatError, format_source
    from twdsl.source import SourceFile, Span
    from twdsl.syntax.parser import ParseResult, parse

# The public names, imported on first use: ``twdsl --help`` and ``--version`` import
# nothing of the compiler (PEP 562).
_HOME = {
    "Analysis": "twdsl.analysis", "analyze": "twdsl.analysis",
    "Diagnostic": "twdsl.diagnostics", "Fix": "twdsl.diagnostics",
    "Severity": "twdsl.diagnostics", "TextEdit": "twdsl.diagnostics",
    "FormatError": "twdsl.formatter", "format_source": "twdsl.formatter",
    "SourceFile": "twdsl.source", "Span": "twdsl.source",
    "ParseResult": "twdsl.syntax.parser", "parse": "twdsl.syntax.parser",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'twdsl' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


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
