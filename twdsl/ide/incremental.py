"""Incremental parsing: reparse only the top-level declarations an edit touched.

A file is cut at the lines that start a top-level declaration (``workflow``, ``agent``,
``type``, ``template``, ``import``, ``export``… at column 1).  Each piece is parsed on its own,
at its real offsets (the text before it is given as blank space with the same line breaks), and
kept by its text: after an edit, the pieces whose text did not change are reused, moved to their
new offsets if the edit changed the length of the text before them.

The result is the full parse's whenever it is used: if any piece has a syntax error (a cut in
the wrong place, inside a string or a block, shows up as one), the whole file is parsed again
the ordinary way, so the diagnostics of a broken file are exactly the CLI's.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from twdsl.recursion import deep_recursion, gc_paused
from twdsl.semantics.reuse import Reuse
from twdsl.source import SourceFile, Span
from twdsl.syntax import ast as A
from twdsl.syntax.lexer import Comment
from twdsl.syntax.parser import ParseResult, parse

_TOP = re.compile(r"^(?:export\s+|abstract\s+|final\s+)*(?:workflow|agent|type|template|import)"
                  r"\b", re.M)


def pieces(text: str) -> list[tuple[int, int]]:
    """(start, end) of the pieces of ``text``, in order, covering it.

    >>> pieces('agent A {}\\n\\nworkflow W {\\n  type: 1\\n}\\n')
    [(0, 12), (12, 37)]
    """
    starts = [m.start() for m in _TOP.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return list(zip(starts, [*starts[1:], len(text)], strict=True))


class IncrementalParser:
    """The last pieces of each file, kept by their text."""

    def __init__(self) -> None:
        self._pieces: dict[str, dict[str, tuple[int, int, ParseResult]]] = {}
        self.reused = 0  # pieces reused by the last parse (for tests and measurements)
        #: per file, the workflows' check results of its last analysis (reused likewise)
        self.checks: dict[str, Reuse] = {}

    def reuse(self, path: str) -> Reuse:
        """The check results of ``path``'s last analysis, for the next one."""
        found = self.checks.get(path)
        if found is None:
            found = self.checks[path] = Reuse()
        return found

    def parse(self, text: str, path: str) -> ParseResult:
        """Parse ``text`` as :func:`twdsl.parse` would."""
        old = self._pieces.get(path, {})
        new: dict[str, tuple[int, int, ParseResult]] = {}
        results: list[ParseResult] = []
        self.reused = 0
        line = 1
        last = 0
        for start, end in pieces(text):
            line += text.count("\n", last, start)
            last = start
            chunk = text[start:end]
            hit = old.get(chunk)
            if hit is not None:
                self.reused += 1
                result = hit[2] if hit[0] == start else _moved(hit[2], start - hit[0],
                                                               line - hit[1])
            else:
                pad = " " * (start - (line - 1)) + "\n" * (line - 1)
                result = parse(pad + chunk, path)
            if not result.ok:
                self._pieces.pop(path, None)
                return parse(text, path)
            new[chunk] = (start, line, result)
            results.append(result)
        self._pieces[path] = new
        return _merge(text, path, results)

    def forget(self, path: str) -> None:
        self._pieces.pop(path, None)
        self.checks.pop(path, None)


def _merge(text: str, path: str, results: list[ParseResult]) -> ParseResult:
    source = SourceFile(path, text)
    items: list[Any] = []
    comments: list[Comment] = []
    diags = []
    for r in results:
        items.extend(r.module.items)
        comments.extend(r.comments)
        diags.extend(r.diagnostics)
    module = A.Module(source.span(0, len(text)), items)
    module.comments = comments
    return ParseResult(module, comments, diags, source, [])


_FIELDS: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _moved(result: ParseResult, d: int, dl: int) -> ParseResult:
    """A copy of a piece's parse, ``d`` characters and ``dl`` lines further on (the piece
    starts a line, so columns stay).  A copy, not an update: older snapshots share nodes."""
    new_span = Span
    node_type = A.Node
    new_object = object.__new__

    def span(s: Span) -> Span:
        return new_span(s.file, s.start + d, s.end + d, s.line + dl, s.column, s.end_line + dl,
                        s.end_column)

    def node(v: Any) -> Any:
        cls = v.__class__
        new = new_object(cls)
        for name in _FIELDS.get(cls) or _names(cls):
            x = getattr(v, name)
            if x.__class__ is new_span:
                x = span(x)
            elif isinstance(x, node_type):
                x = node(x)
            elif x.__class__ is list and x:
                x = [node(y) if isinstance(y, node_type) else
                     [node(z) for z in y] if y.__class__ is list else y for y in x]
            setattr(new, name, x)
        return new

    def other(v: Any) -> Any:  # diagnostics and what they hold (frozen dataclasses)
        if isinstance(v, Span):
            return span(v)
        if isinstance(v, tuple):
            return tuple(other(x) for x in v)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return dataclasses.replace(v, **{n: other(getattr(v, n)) for n in _names(type(v))
                                             if n in _init_names(type(v))})
        return v

    with deep_recursion(), gc_paused():
        module = node(result.module)
        comments = [Comment(c.text, span(c.span)) for c in result.comments]
        diags = [other(x) for x in result.diagnostics]
    module.comments = comments
    return ParseResult(module, comments, diags, result.source, [])


_INIT: dict[type, frozenset[str]] = {}


def _init_names(cls: type) -> frozenset[str]:
    names = _INIT.get(cls)
    if names is None:
        names = _INIT[cls] = frozenset(f.name for f in dataclasses.fields(cls) if f.init)
    return names
