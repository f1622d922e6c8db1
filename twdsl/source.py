"""Source text and positions: the one ``Span`` type every stage and front end shares."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A range of source text.

    Offsets are 0-based character offsets into the file (``end`` exclusive);
    lines and columns are 1-based and count characters (code points).  The end
    column is exclusive: a one-character token at 3:5 ends at 3:6.

    >>> Span("w.twdsl", 0, 4, 1, 1, 1, 5).start_pos
    (1, 1)
    """

    file: str
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int

    @property
    def start_pos(self) -> tuple[int, int]:
        return (self.line, self.column)

    @property
    def end_pos(self) -> tuple[int, int]:
        return (self.end_line, self.end_column)

    def to(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(
            self.file, self.start, other.end, self.line, self.column, other.end_line,
            other.end_column,
        )

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(slots=True)
class SourceFile:
    """A file's text with a line index for position lookups.

    >>> src = SourceFile("w.twdsl", "a\\nbc\\n")
    >>> src.position(3)
    (2, 2)
    >>> src.line_text(2)
    'bc'
    """

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find = self.text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._line_starts = starts

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a 0-based offset."""
        line = bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def offset(self, line: int, column: int) -> int:
        """0-based offset of a 1-based (line, column)."""
        line = max(1, min(line, len(self._line_starts)))
        return min(self._line_starts[line - 1] + column - 1, len(self.text))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def span(self, start: int, end: int) -> Span:
        """The span of offsets ``start`` to ``end``."""
        line, col = self.position(start)
        end_line, end_col = self.position(end)
        return Span(self.path, start, end, line, col, end_line, end_col)


def keyword_span(span: Span, keyword: str) -> Span:
    """The first ``len(keyword)`` characters of ``span``, on its first line: where a
    diagnostic about a whole statement points (its keyword, not every line of its body).

    >>> keyword_span(Span("w.twdsl", 10, 90, 2, 3, 9, 4), "sequence").end_pos
    (2, 11)
    """
    width = len(keyword)
    return Span(span.file, span.start, span.start + width, span.line, span.column, span.line,
                span.column + width)


class NotUTF8(ValueError):
    """Bytes that are not UTF-8 text; ``line`` is the (1-based) line of the first bad byte."""

    def __init__(self, line: int) -> None:
        super().__init__(f"not UTF-8 text (invalid byte at line {line})")
        self.line = line


def utf8_text(raw: bytes) -> str:
    """The text of a file as twdsl reads every file it is given: UTF-8, a byte order mark
    dropped (line endings are the caller's: the formatter keeps CRLF); NotUTF8 otherwise.

    >>> utf8_text(b"\\xef\\xbb\\xbfa\\r\\n")
    'a\\r\\n'
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise NotUTF8(raw[: e.start].count(b"\n") + 1) from e
