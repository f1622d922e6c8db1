"""Lexing: source text to tokens and comments, reporting bad characters instead of raising."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from twdsl.diagnostics import Diagnostic, Severity
from twdsl.source import Span
from twdsl.syntax import grammar


class Token:
    """A lexed token.  ``kw`` is the keyword terminal when the word is a keyword; whether
    it acts as that keyword or as a NAME is decided by the parser state (contextual)."""

    __slots__ = ("type", "value", "start", "end", "line", "column", "end_line", "end_column",
                 "kw", "first", "synthetic", "depth")

    def __init__(self, type_: str, value: str, start: int, end: int, line: int, column: int,
                 end_line: int, end_column: int, kw: str | None = None, first: bool = False,
                 synthetic: bool = False) -> None:
        self.type = type_
        self.value = value
        self.start = start
        self.end = end
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.kw = kw
        self.first = first  # first token on its line
        self.synthetic = synthetic  # inserted by recovery, not in the source
        self.depth = 0  # number of enclosing '{' (set by the bracket pass)

    def __repr__(self) -> str:
        return f"Token({self.type}, {self.value!r}, {self.line}:{self.column})"

    def span(self, file: str) -> Span:
        return Span(file, self.start, self.end, self.line, self.column, self.end_line,
                    self.end_column)


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``//`` or ``/* */`` comment, kept for the formatter."""

    text: str
    span: Span

    @property
    def is_block(self) -> bool:
        return self.text.startswith("/*")


@cache
def _master() -> re.Pattern[str]:
    g = grammar.load()
    parts = [r"(?P<WS>[ \t\f\r\n]+)"]
    for name in ("COMMENT", "STRING", "DURATION", "NUMBER", "NAME"):
        parts.append(f"(?P<{name}>{g.patterns[name]})")
    parts.append(r"(?P<OPEN_COMMENT>/\*)")  # a /* that COMMENT could not close
    punct = sorted(g.punctuation.items(), key=lambda kv: -len(kv[0]))
    for text, name in punct:
        parts.append(f"(?P<{name}>{re.escape(text)})")
    return re.compile("|".join(parts))


# Prefixes that start a token the master pattern could not complete.
_UNTERMINATED = re.compile(r'"""|"|\'|/\*')


def tokenize(text: str, file: str, start: int = 0, stop: int | None = None, line: int = 1,
             line_start: int = 0) -> tuple[list[Token], list[Comment], list[Diagnostic]]:
    """Split ``text`` into tokens and comments; bad input becomes diagnostics, never exceptions.

    >>> toks, comments, diags = tokenize('task a { timeout: 5m } // x', "w.twdsl")
    >>> [(t.type, t.value) for t in toks]  # doctest: +NORMALIZE_WHITESPACE
    [('NAME', 'task'), ('NAME', 'a'), ('LBRACE', '{'), ('NAME', 'timeout'), ('COLON', ':'),
     ('DURATION', '5m'), ('RBRACE', '}')]
    >>> comments[0].text
    '// x'
    """
    match = _master().match
    keywords = grammar.load().keywords
    tokens: list[Token] = []
    comments: list[Comment] = []
    diags: list[Diagnostic] = []
    pos = start
    n = len(text) if stop is None else stop
    first = True
    append = tokens.append
    while pos < n:
        m = match(text, pos, n)
        if m is None or m.lastgroup == "OPEN_COMMENT":
            pos, line, line_start = _lex_error(text, pos, line, line_start, file, tokens, comments,
                                               diags, first)
            first = False
            continue
        kind = m.lastgroup or ""
        end = m.end()
        value = m.group()
        if kind == "WS":
            nl = value.count("\n")
            if nl:
                line += nl
                line_start = value.rfind("\n") + pos + 1
                first = True
            pos = end
            continue
        col = pos - line_start + 1
        nl = value.count("\n") if kind in ("COMMENT", "STRING") else 0
        if nl:
            end_line = line + nl
            end_col = end - (pos + value.rfind("\n"))
        else:
            end_line = line
            end_col = col + len(value)
        if kind == "COMMENT":
            comments.append(Comment(value, Span(file, pos, end, line, col, end_line, end_col)))
        else:
            append(Token("NAME" if kind == "NAME" else kind, value, pos, end, line, col, end_line,
                         end_col, keywords.get(value) if kind == "NAME" else None, first))
            first = False
        if nl:
            line = end_line
            line_start = pos + value.rfind("\n") + 1
        pos = end
    return tokens, comments, diags


def _lex_error(text: str, pos: int, line: int, line_start: int, file: str, tokens: list[Token],
               comments: list[Comment], diags: list[Diagnostic],
               first: bool) -> tuple[int, int, int]:
    """Handle text the master pattern cannot match at ``pos``; return the new position."""
    col = pos - line_start + 1
    m = _UNTERMINATED.match(text, pos)
    if m is not None and m.group() == "/*":
        end = len(text)
        nl = text.count("\n", pos, end)
        last_nl = text.rfind("\n", pos, end)
        end_line = line + nl
        end_col = (end - last_nl) if nl else col + (end - pos)
        span = Span(file, pos, end, line, col, end_line, end_col)
        comments.append(Comment(text[pos:end] + "*/", span))
        diags.append(Diagnostic("TW102", Severity.ERROR,
                                "unterminated comment: add '*/' to close the comment opened here",
                                Span(file, pos, pos + 2, line, col, line, col + 2)))
        return end, end_line, (last_nl + 1) if nl else line_start
    if m is not None:
        quote = m.group()
        eol = text.find("\n", pos)
        end = len(text) if eol < 0 or quote == '"""' else eol
        # The string most likely ends before closing brackets at the end of its line:
        # `agent: "x }` means `"x"` then `}`.
        while end > pos + len(quote) and text[end - 1] in " \t\r}]),;":
            end -= 1
        if quote == '"""':
            nl = text.count("\n", pos, end)
        else:
            nl = 0
        value = text[pos:end]
        span = Span(file, pos, end, line, col, line, col + (end - pos))
        diags.append(Diagnostic("TW101", Severity.ERROR,
                                f"unterminated string: add the closing {quote}",
                                Span(file, pos, pos + len(quote), line, col, line,
                                     col + len(quote))))
        # Keep a string token so that parsing goes on as if the string had been closed.
        tok = Token("STRING", value + quote, pos, end, line, col, line + nl,
                    span.end_column, None, first)
        tok.synthetic = True
        tokens.append(tok)
        if nl:
            last_nl = text.rfind("\n", pos, end)
            return end, line + nl, last_nl + 1
        return end, line, line_start
    ch = text[pos]
    what = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
    diags.append(Diagnostic("TW100", Severity.ERROR,
                            f"unexpected character {what}: it is not part of TWDSL; delete it",
                            Span(file, pos, pos + 1, line, col, line, col + 1)))
    return pos + 1, line, line_start
