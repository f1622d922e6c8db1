"""The one module that converts between our positions and the protocol's.

Ours (twdsl.source.Span): 0-based code point offsets, 1-based lines and columns counted in code
points.  The protocol's: 0-based lines, and characters counted in the negotiated encoding's
units: UTF-16 by default (a character outside the Basic Multilingual Plane counts 2), or UTF-8
bytes, or UTF-32 (code points) when the client offers them.
"""

from __future__ import annotations

from lsprotocol import types as lsp

from twdsl.diagnostics import Diagnostic, Severity, TextEdit
from twdsl.source import SourceFile, Span

_SEVERITY = {Severity.ERROR: lsp.DiagnosticSeverity.Error,
             Severity.WARNING: lsp.DiagnosticSeverity.Warning,
             Severity.INFO: lsp.DiagnosticSeverity.Information,
             Severity.HINT: lsp.DiagnosticSeverity.Hint}


def _units(text: str, encoding: str) -> int:
    """Length of ``text`` in the encoding's code units."""
    if encoding == "utf-32" or text.isascii():
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def _chars(line: str, units: int, encoding: str) -> int:
    """How many code points of ``line`` make ``units`` code units (clamped to the line)."""
    if encoding == "utf-32" or line.isascii():
        return min(units, len(line))
    n = 0
    for i, c in enumerate(line):
        if n >= units:
            return i
        o = ord(c)
        if encoding == "utf-8":
            n += 1 if o < 0x80 else 2 if o < 0x800 else 3 if o < 0x10000 else 4
        else:
            n += 2 if o > 0xFFFF else 1
    return len(line)


class Converter:
    """Positions of one text (a document version or a snapshot's text).

    >>> c = Converter(SourceFile("w", "a\\n😀b"))
    >>> c.offset(lsp.Position(1, 2))  # after the emoji: 2 UTF-16 units, 1 code point
    3
    >>> (c.position(3).line, c.position(3).character)
    (1, 2)
    """

    def __init__(self, source: SourceFile, encoding: str = "utf-16") -> None:
        self.source = source
        self.encoding = str(encoding)

    def offset(self, pos: lsp.Position) -> int:
        """The offset of a protocol position (past the end of a line: the line's end)."""
        line = pos.line + 1
        if line > self.source.line_count:
            return len(self.source.text)
        text = self.source.line_text(line)
        return self.source.offset(line, _chars(text, pos.character, self.encoding) + 1)

    def position(self, offset: int) -> lsp.Position:
        line, col = self.source.position(max(0, min(offset, len(self.source.text))))
        return self._pos(line, col)

    def _pos(self, line: int, column: int) -> lsp.Position:
        text = self.source.line_text(line)
        return lsp.Position(line - 1, _units(text[:column - 1], self.encoding))

    def range(self, span: Span) -> lsp.Range:
        return lsp.Range(self._pos(span.line, span.column),
                         self._pos(span.end_line, span.end_column))

    def length(self, span: Span) -> int:
        """A one-line span's length in code units (semantic tokens)."""
        return _units(self.source.text[span.start:span.end], self.encoding)

    def edit(self, e: TextEdit) -> lsp.TextEdit:
        return lsp.TextEdit(self.range(e.span), e.new_text)

    def diagnostic(self, d: Diagnostic, uri_of: dict[str, str] | None = None) -> lsp.Diagnostic:
        """A diagnostic; related places in other files are left out unless ``uri_of`` maps
        their paths to URIs."""
        related = []
        for r in d.related:
            uri = (uri_of or {}).get(r.span.file)
            if r.span.file == d.span.file and uri is None:
                uri = (uri_of or {}).get(d.span.file)
            if uri is not None:
                conv = self if r.span.file == d.span.file else None
                rng = conv.range(r.span) if conv else lsp.Range(
                    lsp.Position(r.span.line - 1, r.span.column - 1),
                    lsp.Position(r.span.end_line - 1, r.span.end_column - 1))
                related.append(lsp.DiagnosticRelatedInformation(lsp.Location(uri, rng),
                                                                 r.message))
        return lsp.Diagnostic(
            range=self.range(d.span), message=d.message, severity=_SEVERITY[d.severity],
            code=d.code, source="twdsl", related_information=related or None,
            data={"code": d.code, "start": d.span.start, "end": d.span.end})
