"""Bracket balancing before parsing: every '{' '(' '[' gets its closer, or a diagnostic.

A missing or extra bracket is the commonest syntax error and the one that confuses
an LALR parser most, so it is settled here first: the parser then always sees a
balanced token stream.  When brackets do not balance, a second, indentation-aware
pass decides where a missing '}' most likely belongs (at the first line that is
not indented deeper than the line that opened the block), and the pass with fewer
diagnostics wins.
"""

from __future__ import annotations

from twdsl.diagnostics import Diagnostic, Related, Severity
from twdsl.source import Span
from twdsl.syntax.lexer import Token

OPEN = {"LBRACE": "RBRACE", "LPAR": "RPAR", "LSQB": "RSQB"}
CLOSE = {v: k for k, v in OPEN.items()}
TEXT = {"LBRACE": "{", "RBRACE": "}", "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]"}

# Words that name what a '{' opens, looked for on the opener's line.
_OWNERS = {"task": "task", "workflow": "workflow", "template": "template", "agent": "agent",
           "parallel": "parallel block", "sequence": "sequence block", "if": "if block",
           "else": "else block", "foreach": "foreach loop", "while": "while loop",
           "switch": "switch", "input": "input", "output": "output"}


class Opener:
    __slots__ = ("tok", "indent", "owner", "owner_tok")

    def __init__(self, tok: Token, indent: int, owner: str, owner_tok: Token) -> None:
        self.tok = tok
        self.indent = indent
        self.owner = owner
        self.owner_tok = owner_tok


def describe_owner(tokens: list[Token], i: int) -> tuple[str, Token]:
    """What the bracket at ``tokens[i]`` opens, e.g. ``task 'deploy'``, and its first token.

    Looks back from the bracket, nearest word first, over at most a few tokens of the same
    statement (so a long one-line file costs no more than a short one).
    """
    tok = tokens[i]
    if tok.type != "LBRACE":
        return f"'{TEXT[tok.type]}'", tok
    if i >= 2 and tokens[i - 1].type == "COLON":
        return f"the '{tokens[i - 2].value}' object", tokens[i - 2]
    j = i - 1
    while j >= 0 and i - j <= _LOOKBACK and tokens[j].type not in ("LBRACE", "RBRACE", "SEMI"):
        t = tokens[j]
        word = t.value if t.type == "NAME" else None
        if word in _NAMED and j + 1 < i and tokens[j + 1].type == "NAME":
            return f"{_OWNERS[word]} '{tokens[j + 1].value}'", t
        if word in _OWNERS and word not in _NAMED:
            return _OWNERS[word], t
        j -= 1
    if i >= 1 and tokens[i - 1].type == "NAME":
        return f"the '{tokens[i - 1].value}' block", tokens[i - 1]
    return "block", tok


_LOOKBACK = 24
_NAMED = ("task", "workflow", "template", "agent")


def balance(tokens: list[Token], file: str, lexer_errors: bool = False,
            quiet_at_eof: bool = False) -> tuple[list[Token], list[Diagnostic], dict[int, str]]:
    """Return tokens with every bracket closed, diagnostics for the repairs, and for each
    '{' token (by start offset) a description of what it opens.

    The plain pass matches brackets as written.  When it finds a problem, or the lexer
    did (an unterminated string can swallow a '}'), the indentation-aware pass runs too,
    and wins unless it needs more repairs than the plain pass has repairs plus closers
    that disagree with their opener's indentation.  ``quiet_at_eof``: the lexer already
    reported text swallowed up to the end of the file (an unclosed comment), so brackets
    still open there are closed without a diagnostic of their own.
    """
    if quiet_at_eof:
        out, diags = _pass(tokens, file, indent_aware=False, quiet_at_eof=True)
        return out, diags, _owners(out)
    plain, plain_diags = _pass(tokens, file, indent_aware=False)
    if not plain_diags and not lexer_errors:
        return plain, plain_diags, _owners(plain)
    suspicious = _misindented_closers(plain)
    smart, smart_diags = _pass(tokens, file, indent_aware=True)
    if len(smart_diags) <= len(plain_diags) + suspicious:
        return smart, smart_diags, _owners(smart)
    plain, plain_diags = _pass(tokens, file, indent_aware=False)  # token depths are per pass
    return plain, plain_diags, _owners(plain)


def _misindented_closers(tokens: list[Token]) -> int:
    """How many '}' do not line up with the line that opened their block."""
    count = 0
    stack: list[int] = []
    indents = _line_indents(tokens)
    for i, tok in enumerate(tokens):
        if tok.type == "LBRACE":
            stack.append(i)
        elif tok.type == "RBRACE" and stack:
            j = stack.pop()
            if tok.synthetic:
                continue
            opener_indent = indents[tokens[j].line]
            if tok.first and tok.column != opener_indent:
                count += 1
            elif not tok.first and tokens[j].line != tok.line \
                    and indents[tok.line] != opener_indent:
                count += 1
    return count


def _owners(tokens: list[Token]) -> dict[int, str]:
    return {t.start: describe_owner(tokens, i)[0] for i, t in enumerate(tokens)
            if t.type == "LBRACE" and not t.synthetic}


def _closers_after(tokens: list[Token]) -> list[int]:
    """For each index, how many '}' come after it."""
    out = [0] * len(tokens)
    count = 0
    for i in range(len(tokens) - 1, -1, -1):
        out[i] = count
        if tokens[i].type == "RBRACE":
            count += 1
    return out


def _line_indents(tokens: list[Token]) -> dict[int, int]:
    """Line number → column of the first token on that line."""
    out: dict[int, int] = {}
    for t in tokens:
        out.setdefault(t.line, t.column)
    return out


def _pass(tokens: list[Token], file: str, indent_aware: bool,
          quiet_at_eof: bool = False) -> tuple[list[Token], list[Diagnostic]]:
    out: list[Token] = []
    diags: list[Diagnostic] = []
    stack: list[Opener] = []
    depth = 0

    def close_missing(op: Opener, before: Token | None, at_eof: bool) -> None:
        nonlocal depth
        closer = OPEN[op.tok.type]
        text = TEXT[closer]
        o = op.owner_tok
        if before is None:
            prev = out[-1]
            at = Span(file, prev.end, prev.end, prev.end_line, prev.end_column, prev.end_line,
                      prev.end_column)
            where = "at end of file"
        else:
            at = before.span(file)
            where = ""
        msg = f"expected '{text}' to close {op.owner} opened at {o.line}:{o.column}"
        if where:
            msg += f" ({where})"
        note = Related(op.tok.span(file), f"the unclosed '{TEXT[op.tok.type]}' is here")
        if not (at_eof and quiet_at_eof):
            diags.append(Diagnostic("TW111", Severity.ERROR, msg, at, (note,)))
        ref = before if before is not None else out[-1]
        pos = ref.start if before is not None else ref.end
        line = ref.line if before is not None else ref.end_line
        col = ref.column if before is not None else ref.end_column
        synth = Token(closer, text, pos, pos, line, col, line, col, None, False, True)
        if closer == "RBRACE":
            depth -= 1
        synth.depth = depth
        out.append(synth)

    indents = _line_indents(tokens)
    closers_after = _closers_after(tokens) if indent_aware else []
    for i, tok in enumerate(tokens):
        t = tok.type
        if indent_aware and t == "RBRACE" and tok.first and stack \
                and stack[-1].tok.type == "LBRACE" and tok.column > stack[-1].indent \
                and closers_after[i] >= sum(o.tok.type == "LBRACE" for o in stack):
            # A '}' indented deeper than the block it would close, while the rest of the file
            # still closes every open block: this one is surplus.
            diags.append(Diagnostic(
                "TW112", Severity.ERROR,
                "unexpected '}': there is no open '{' to close here; delete it", tok.span(file)))
            continue
        if indent_aware and tok.first:
            # A line that is not indented deeper than the line that opened a block ends
            # that block, unless it is the block's own closer.
            c = tok.column
            while stack:
                top = stack[-1]
                if top.tok.type == "LBRACE":
                    if t == "RBRACE":
                        outer = any(o.tok.type == "LBRACE" and o.indent <= c for o in stack[:-1])
                        if c >= top.indent or not outer:
                            break
                    elif c > top.indent:
                        break
                elif c > top.indent or (t in CLOSE and CLOSE[t] == top.tok.type):
                    break
                stack.pop()
                close_missing(top, tok, False)
        if indent_aware and t == "LBRACE" and stack and stack[-1].tok.type == "LPAR" \
                and stack[-1].tok.line == tok.line and _last_on_line(tokens, i) \
                and out and out[-1].type not in ("LPAR", "COMMA", "COLON"):
            # `if (cond {`: the ')' belongs before the block's '{'.
            close_missing(stack.pop(), tok, False)
        if t in OPEN:
            owner, owner_tok = describe_owner(tokens, i)
            stack.append(Opener(tok, indents[tok.line], owner, owner_tok))
            tok.depth = depth
            if t == "LBRACE":
                depth += 1
            out.append(tok)
        elif t in CLOSE:
            want = CLOSE[t]
            if stack and stack[-1].tok.type == want:
                stack.pop()
                if t == "RBRACE":
                    depth -= 1
                tok.depth = depth
                out.append(tok)
            elif any(op.tok.type == want for op in stack):
                while stack[-1].tok.type != want:
                    close_missing(stack.pop(), tok, False)
                stack.pop()
                if t == "RBRACE":
                    depth -= 1
                tok.depth = depth
                out.append(tok)
            else:
                diags.append(Diagnostic(
                    "TW112", Severity.ERROR,
                    f"unexpected '{TEXT[t]}': there is no open '{TEXT[want]}' to close here; "
                    "delete it", tok.span(file)))
        else:
            tok.depth = depth
            out.append(tok)
    while stack:
        close_missing(stack.pop(), None, True)
    return out, diags


def _last_on_line(tokens: list[Token], i: int) -> bool:
    return i + 1 >= len(tokens) or tokens[i + 1].line != tokens[i].line
