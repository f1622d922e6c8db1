"""Where the cursor is: the tokens before it, the blocks around it, and what the grammar
accepts next.

Only the top-level declaration holding the cursor is lexed and run through the parse table
(the same LALR table the parser drives), so finding the context costs a few milliseconds
however long the file is, and the current text is used, not the last analysed one.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from twdsl.syntax.grammar import load as load_grammar
from twdsl.syntax.lexer import Comment, Token, tokenize
from twdsl.syntax.parser import CURSOR as _CURSOR
from twdsl.syntax.parser import expected_terminals

#: A line starting a top-level declaration (what the formatter writes at column 1).
_TOP = re.compile(r"^(?:export\s+|abstract\s+|final\s+)*(?:workflow|agent|type|template|import)"
                  r"\b", re.M)


def chunk_start(text: str, offset: int) -> int:
    """Offset of the start of the top-level declaration that holds ``offset`` (0 if none)."""
    start = 0
    for m in _TOP.finditer(text, 0, offset):
        start = m.start()
    return start


def _line_col(text: str, start: int) -> tuple[int, int]:
    line = text.count("\n", 0, start) + 1
    return line, text.rfind("\n", 0, start) + 1


@dataclass(slots=True)
class Frame:
    """An open bracket around the cursor: ``owner`` says what it belongs to: ``workflow``,
    ``task``, ``agent``, ``template``, ``parallel``…, a field's key (``input``, ``retry``,
    ``on_error``…), ``call`` (a function's parentheses), ``use``, ``array``, ``paren``."""

    owner: str
    token: Token
    name: str | None = None  # the declared name: the task's, the workflow's, the callee's
    commas: int = 0
    index: int = 0  # of the opening token in the context's tokens
    iterable: list[str] = field(default_factory=list)  # foreach: the names of `in a.b`


@dataclass(slots=True)
class Context:
    tokens: list[Token]  # up to the cursor (a word being typed excluded)
    prefix: str  # the word being typed, up to the cursor
    prefix_start: int
    frames: list[Frame] = field(default_factory=list)
    expected: set[str] = field(default_factory=set)  # terminals the grammar accepts here
    in_string: bool = False
    in_comment: bool = False
    line: int = 1  # of the cursor

    @property
    def frame(self) -> Frame | None:
        return self.frames[-1] if self.frames else None

    def block(self) -> Frame | None:
        """The innermost brace block."""
        for f in reversed(self.frames):
            if f.token.type == "LBRACE":
                return f
        return None

    def field_key(self) -> str | None:
        """The key when the cursor is in a field's value (``key: |`` or ``key: [a, |``)."""
        toks = self.tokens
        stop = len(toks)
        frames = list(self.frames)
        while frames and frames[-1].owner == "array":
            stop = frames.pop().index
        if frames and frames[-1].token.type != "LBRACE" and frames[-1].owner != "use":
            return None
        lo = frames[-1].index + 1 if frames else 0
        depth = 0
        k = stop - 1
        while k >= lo:
            t = toks[k]
            if t.type in ("RBRACE", "RSQB", "RPAR"):
                depth += 1
            elif t.type in ("LBRACE", "LSQB", "LPAR"):
                depth -= 1
            elif depth == 0 and t.type in ("COMMA", "SEMI"):
                k += 1
                break
            elif depth == 0 and (t.first or toks[k - 1].type in ("LBRACE", "LPAR")):
                break
            k -= 1
        if stop == len(toks) and toks and self.line > toks[-1].end_line and \
                toks[-1].type not in _CONTINUES:
            return None  # a complete value, and the cursor on a line below it
        if k >= lo and k + 1 < stop and toks[k].type in ("NAME", "STRING") and \
                toks[k + 1].type == "COLON":
            return toks[k].value.strip("\"'")
        return None


_CONTINUES = frozenset({"COLON", "COMMA", "LSQB", "LPAR", "LBRACE", "DOT", "ARROW", "FAT_ARROW",
                        "PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "EQEQ", "NOTEQ", "LT", "GT",
                        "LE", "GE", "ANDAND", "OROR", "QQ", "BANG", "EQ"})


#: The last lexing per file: (text, chunk start, stop, tokens, comments).  Typing changes the
#: text near the cursor only, so the tokens before the first change are reused.
_LEXED: dict[str, tuple[str, int, int, list[Token], list[Comment]]] = {}


def _common_prefix(a: str, b: str, lo: int, hi: int) -> int:
    """The largest n in [lo, hi] with a[lo:n] == b[lo:n] (slices compare in C)."""
    if a[lo:hi] == b[lo:hi]:
        return hi
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def lex_until(text: str, path: str, start: int, stop: int) -> tuple[list[Token], list[Comment]]:
    """Tokens and comments of ``text[start:stop]``, reusing the last lexing of ``path``."""
    cached = _LEXED.get(path)
    tokens: list[Token] = []
    comments: list[Comment] = []
    resume = start
    if cached is not None and cached[1] == start:
        old, _, old_stop, old_tokens, old_comments = cached
        same = _common_prefix(old, text, start, min(old_stop, stop, len(old)))
        k = bisect_right([t.end for t in old_tokens], same) - 1  # tokens ending before
        if k >= 1:
            tokens = old_tokens[:k]  # the last complete one may have grown: lexed again
            resume = tokens[-1].end
            comments = [c for c in old_comments if c.span.end <= resume]
    if resume == start:
        line, line_start = _line_col(text, start)
    else:
        line, line_start = tokens[-1].end_line, text.rfind("\n", 0, resume) + 1
    more, more_comments, _ = tokenize(text, path, resume, stop, line, line_start)
    if more and resume != start:
        more[0].first = "\n" in text[resume:more[0].start]
    tokens = tokens + more
    comments = comments + more_comments
    _LEXED.clear()  # one file at a time: the one being typed in
    _LEXED[path] = (text, start, stop, tokens, comments)
    return tokens, comments


def context_at(text: str, offset: int, path: str = "<string>") -> Context:
    """The context of a cursor at ``offset`` in ``text``."""
    start = chunk_start(text, offset)
    tokens, comments = lex_until(text, path, start, offset)
    tokens = list(tokens)
    in_comment = any(c.span.start < offset <= c.span.end and
                     (c.is_block and not c.text.endswith("*/") or not c.is_block or
                      offset < c.span.end) for c in comments[-1:])
    in_string = bool(tokens) and tokens[-1].type == "STRING" and tokens[-1].end == offset and (
        len(tokens[-1].value) < 2 or tokens[-1].value[-1] != tokens[-1].value[0])
    unterminated = re.search(r"\"[^\"\n]*\Z", text[text.rfind("\n", 0, offset) + 1:offset])
    if unterminated and text[text.rfind("\n", 0, offset) + 1:offset].count('"') % 2 == 1:
        in_string = True
    prefix = ""
    if tokens and tokens[-1].end == offset and tokens[-1].type == "NAME":
        prefix = tokens[-1].value
        tokens = tokens[:-1]
    ctx = Context(tokens, prefix, offset - len(prefix), in_string=in_string,
                  in_comment=in_comment, line=text.count("\n", 0, offset) + 1)
    ctx.frames = _frames(tokens)
    ctx.expected = _expected(tokens, path, text)
    return ctx


def _frames(tokens: list[Token]) -> list[Frame]:
    frames: list[Frame] = []
    for i, t in enumerate(tokens):
        if t.type in ("LBRACE", "LPAR", "LSQB"):
            frames.append(_frame(tokens, i))
            frames[-1].index = i
        elif t.type in ("RBRACE", "RPAR", "RSQB"):
            if frames:
                frames.pop()
        elif t.type == "COMMA" and frames:
            frames[-1].commas += 1
    return frames


_BLOCK_WORDS = ("workflow", "task", "agent", "template", "parallel", "sequence", "foreach",
                "while", "if", "else", "switch")


def _frame(tokens: list[Token], i: int) -> Frame:
    t = tokens[i]
    prev = tokens[i - 1] if i else None
    if t.type == "LSQB":
        return Frame("array", t)
    if t.type == "LPAR":
        # `use T(`, `f(`, `x.m(`, `if (`, `while (`, `switch (`, template params
        j = i - 1
        if prev is not None and prev.type == "NAME":
            k = j
            while k >= 2 and tokens[k - 1].type == "DOT" and tokens[k - 2].type == "NAME":
                k -= 2
            before = tokens[k - 1] if k >= 1 else None
            if before is not None and before.value == "use":
                return Frame("use", t, ".".join(x.value for x in tokens[k:i] if x.type == "NAME"))
            if before is not None and before.value == "template":
                return Frame("params", t, prev.value)
            if prev.value in ("if", "while", "switch"):
                return Frame("paren", t)
            if j >= 1 and tokens[j - 1].type == "DOT":
                return Frame("method", t, prev.value)
            return Frame("call", t, prev.value)
        return Frame("paren", t)
    # LBRACE
    if prev is None:
        return Frame("block", t)
    if prev.type == "COLON":
        key = tokens[i - 2].value if i >= 2 else ""
        return Frame(key, t)
    if prev.type == "NAME":
        before = tokens[i - 2] if i >= 2 else None
        if before is not None and before.type == "NAME" and before.value in (
                "workflow", "task", "agent", "template"):
            return Frame(before.value, t, prev.value)
        if prev.value in ("parallel", "sequence", "else", "input", "output"):
            if prev.value in ("input", "output") and before is not None and \
                    before.type == "COLON":
                return Frame(prev.value, t)
            return Frame(prev.value, t)
        # `foreach x in xs {`, `key {` (a block field)
        k = i - 1
        while k > 0 and not tokens[k].first:
            k -= 1
        if tokens[k].value == "foreach":  # `foreach x[, i] in a.b {`: the variables
            head = tokens[k + 1:i]
            names = [x.value for x in head if x.type == "NAME"]
            cut = names.index("in") if "in" in names else len(names)
            return Frame("foreach", t, ",".join(names[:cut]), iterable=names[cut + 1:])
        if tokens[k].value == "while":
            return Frame("while", t)
        if before is not None and before.type == "RPAR" or prev.value == "where":
            return Frame("constraints" if prev.value == "where" else "template", t, None)
        return Frame(prev.value, t)
    if prev.type == "RPAR":  # `if (…) {`, `while (…) {`, template header `template T(…) {`
        depth = 0
        for k in range(i - 1, -1, -1):
            if tokens[k].type == "RPAR":
                depth += 1
            elif tokens[k].type == "LPAR":
                depth -= 1
                if depth == 0:
                    word = tokens[k - 1].value if k else ""
                    if word == "if":
                        return Frame("branch", t)
                    if word == "while":
                        return Frame("while", t)
                    if k >= 2 and tokens[k - 2].value == "template":
                        return Frame("template", t, word)
                    return Frame("block", t)
        return Frame("block", t)
    if prev.type == "EQ":
        return Frame("object", t)
    return Frame("object", t)


def _collapse(tokens: list[Token]) -> list[Token]:
    """The tokens with every brace group closed before the end emptied (``{ … }`` to
    ``{ }``): an empty block is valid wherever a block is, and the parser's state after it
    is the same, so the probe runs over the path to the cursor only."""
    out: list[Token] = []
    opened: list[int] = []  # indexes in out of the open braces
    for t in tokens:
        if t.type == "LBRACE":
            opened.append(len(out))
            out.append(t)
        elif t.type == "RBRACE" and opened:
            del out[opened.pop() + 1:]
            out.append(t)
        else:
            out.append(t)
    return out


def _expected(tokens: list[Token], path: str, text: str) -> set[str]:
    depth = 0
    toks: list[Token] = []
    for t in _collapse(tokens):
        if t.type == "RBRACE":
            depth = max(0, depth - 1)
        t.depth = depth
        if t.type == "LBRACE":
            depth += 1
        toks.append(t)
    last = toks[-1] if toks else None
    end = last.end if last else 0
    cursor = Token(_CURSOR, "", end, end, last.end_line if last else 1,
                   last.end_column if last else 1, last.end_line if last else 1,
                   last.end_column if last else 1)
    cursor.depth = depth
    toks.append(cursor)
    return expected_terminals(toks, path, text)


def keywords_expected(expected: set[str]) -> list[str]:
    """The keywords among the expected terminals, as words."""
    words = {name: word for word, name in load_grammar().keywords.items()}
    return sorted(words[t] for t in expected if t in words)
