"""Diagnostics: the one type every stage reports and every front end renders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from twdsl.source import SourceFile, Span


class Severity(str, Enum):
    """How serious a diagnostic is; the values are those of the JSON output."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    HINT = "hint"


@dataclass(frozen=True, slots=True)
class TextEdit:
    """Replace the text of ``span`` by ``new_text`` (an insertion when the span is empty)."""

    span: Span
    new_text: str


@dataclass(frozen=True, slots=True)
class Fix:
    """A mechanical fix: a title for menus and the edits that make it."""

    title: str
    edits: tuple[TextEdit, ...]


@dataclass(frozen=True, slots=True)
class Related:
    """Another place a diagnostic refers to, e.g. where a block was opened."""

    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A finding about a source file.

    ``code`` is stable (documented in docs/rules.md once rules exist; syntax codes
    are listed in docs/language.md); ``message`` is one line naming the thing.

    >>> from twdsl.source import Span
    >>> d = Diagnostic("TW110", Severity.ERROR, "unexpected ')'", Span("w.twdsl", 4, 5, 1, 5, 1, 6))
    >>> d.sort_key
    ('w.twdsl', 4, 'TW110')
    """

    code: str
    severity: Severity
    message: str
    span: Span
    related: tuple[Related, ...] = field(default=())
    fix: Fix | None = None

    @property
    def sort_key(self) -> tuple[str, int, str]:
        return (self.span.file, self.span.start, self.code)

    def to_json(self) -> dict[str, object]:
        """The JSON shape of ``twdsl check --format json`` (interfaces.md)."""
        out: dict[str, object] = {
            "path": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
        }
        if self.related:
            out["related"] = [
                {"path": r.span.file, "line": r.span.line, "column": r.span.column,
                 "message": r.message}
                for r in self.related
            ]
        if self.fix is not None:
            out["fix"] = {
                "title": self.fix.title,
                "edits": [
                    {
                        "line": e.span.line,
                        "column": e.span.column,
                        "end_line": e.span.end_line,
                        "end_column": e.span.end_column,
                        "new_text": e.new_text,
                    }
                    for e in self.fix.edits
                ],
            }
        return out


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in file and position order (stable for equal positions)."""
    return sorted(diags, key=lambda d: d.sort_key)


def render_text(diag: Diagnostic, source: SourceFile | None) -> str:
    """Render ``path:line:col: severity[CODE] message`` with the source line and a caret.

    >>> src = SourceFile("w.twdsl", "task a {\\n  agent \\"x\\"\\n}")
    >>> d = Diagnostic("TW110", Severity.ERROR, "expected ':'", src.span(17, 20))
    >>> print(render_text(d, src))
    w.twdsl:2:9: error[TW110] expected ':'
      2 |   agent "x"
        |         ^^^
    """
    s = diag.span
    head = f"{s.file}:{s.line}:{s.column}: {diag.severity.value}[{diag.code}] {diag.message}"
    lines = [head]
    if source is not None:
        text = source.line_text(s.line)
        if text or s.line <= source.line_count:
            gutter = str(s.line)
            width = len(gutter)
            expanded = text.replace("\t", " ")
            same_line = s.end_line == s.line
            caret_len = (s.end_column - s.column) if same_line else len(text) - s.column + 1
            caret_len = max(1, caret_len)
            lines.append(f"{' ' * 2}{gutter} | {expanded}")
            lines.append(f"{' ' * 2}{' ' * width} | {' ' * (s.column - 1)}{'^' * caret_len}")
    for rel in diag.related:
        lines.append(f"  note: {rel.message} at {rel.span}")
    if diag.fix is not None:
        lines.append(f"  help: {diag.fix.title}")
    return "\n".join(lines)
