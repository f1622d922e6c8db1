"""Parsing: tokens to AST through the LALR table, with error recovery that never raises.

The table comes from grammar/twdsl.lark (via Lark); this module drives it with our
own lexer so that keywords are contextual, spans are exact, and a syntax error is
reported in words and followed by resynchronisation at the next field, statement or
declaration of the enclosing block (brackets are balanced first, in brackets.py).
"""

from __future__ import annotations

import keyword
import sys
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

from twdsl.diagnostics import Diagnostic, Fix, Severity, TextEdit, sort_diagnostics
from twdsl.recursion import gc_paused
from twdsl.source import SourceFile, Span
from twdsl.syntax import ast as A
from twdsl.syntax import grammar
from twdsl.syntax.brackets import balance
from twdsl.syntax.builder import Builder
from twdsl.syntax.lexer import Comment, Token, tokenize


@dataclass(slots=True)
class ParseResult:
    """A parsed file: the AST (partial when there are errors), its comments and diagnostics."""

    module: A.Module
    comments: list[Comment]
    diagnostics: list[Diagnostic]
    source: SourceFile
    tokens: list[Token] = field(repr=False, default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file has no syntax errors."""
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


# --------------------------------------------------------------------------- table
@dataclass(frozen=True, slots=True)
class _Table:
    actions: dict[int, dict[str, tuple[bool, int]]]  # state -> terminal -> (shift?, arg)
    gotos: dict[int, dict[str, int]]  # state -> nonterminal -> state
    sizes: list[int]
    origins: list[str]
    methods: list[str | None]  # builder method per rule; None: pass the only child through
    start: dict[str, int]
    end: dict[str, int]


_OPENERS = frozenset({"LBRACE", "LPAR", "LSQB"})
_CLOSERS = frozenset({"RBRACE", "RPAR", "RSQB"})

# Lists that recovery resynchronises on: a list nonterminal and its element.
_LISTS = {"items": "item", "stmts": "stmt", "module_items": "module_item", "cases": "case_clause",
          "var_decls": "var_decl", "type_fields": "type_field"}


@cache
def _table() -> _Table:
    g = grammar.load()
    rules = grammar.rules()
    index = {id(r): i for i, r in enumerate(rules)}
    sizes = [len(r.expansion) for r in rules]
    # Lark's names are str subclasses with a Python-level __eq__; plain interned strings keep
    # the dictionary lookups of the parse loop in C.
    origins = [_plain(r.origin.name) for r in rules]
    methods: list[str | None] = []
    for r in rules:
        name = r.alias or r.origin.name
        if r.alias is None and r.options.expand1 and len(r.expansion) == 1:
            methods.append(None)
            continue
        name = str(name)
        methods.append(name + "_" if keyword.iskeyword(name) else name)
    actions: dict[int, dict[str, tuple[bool, int]]] = {}
    gotos: dict[int, dict[str, int]] = {}
    for state, row in g.states.items():
        acts: dict[str, tuple[bool, int]] = {}
        gos: dict[str, int] = {}
        for name, (action, arg) in row.items():
            sym = _plain(name)
            if sym.isupper() or sym == "$END":
                if action is g.shift:
                    acts[sym] = (True, cast(int, arg))
                else:
                    acts[sym] = (False, index[id(arg)])
            else:
                gos[sym] = cast(int, arg)
        actions[state] = acts
        gotos[state] = gos
    return _Table(actions, gotos, sizes, origins, methods, g.start_states, g.end_states)


def _plain(name: str) -> str:
    return sys.intern(str.__str__(name))


# --------------------------------------------------------------------------- entry points
def parse(text: str, path: str = "<string>") -> ParseResult:
    """Parse a TWDSL file.  Never raises for any input: problems become diagnostics.

    >>> r = parse('workflow W {\\n  version: "1.0.0"\\n  task a { agent: "Echo" }\\n}', "w.twdsl")
    >>> r.ok, [type(i).__name__ for i in r.module.items[0].body.items]
    (True, ['Field', 'TaskStmt'])
    """
    source = SourceFile(path, text)
    with gc_paused():  # the parse allocates many small objects and frees none
        tokens, comments, diags = tokenize(text, path)
        swallowed = any(d.code == "TW102" for d in diags)  # the rest of the file is a comment
        balanced, bdiags, owners = balance(tokens, path, bool(diags), swallowed)
        diags.extend(bdiags)
        builder = Builder(path, text)
        builder.sub_parser = _SubParser(builder, diags)
        module = _Driver(balanced, builder, owners, path, text, diags).run("start")
        if not isinstance(module, A.Module):  # only when recovery had to give up entirely
            module = A.Module(source.span(0, len(text)), [])
        module.comments = comments
        diags.extend(builder.diagnostics)
    return ParseResult(module, comments, sort_diagnostics(diags), source, balanced)


class _SubParser:
    """Parses the expression inside a string's ``${…}``, with the file's own positions."""

    def __init__(self, builder: Builder, diags: list[Diagnostic]) -> None:
        self.builder = builder
        self.diags = diags

    def __call__(self, start: int, stop: int, line: int, line_start: int) -> A.Expr:
        b = self.builder
        tokens, _comments, ldiags = tokenize(b.text, b.file, start, stop, line, line_start)
        self.diags.extend(ldiags)
        balanced, bdiags, owners = balance(tokens, b.file)
        self.diags.extend(bdiags)
        driver = _Driver(balanced, b, owners, b.file, b.text, self.diags)
        driver.end_name = "end of the interpolation '${…}'"
        result = driver.run("expression")
        if isinstance(result, A.Expr):
            return result
        sl, sc = line, start - line_start + 1
        return A.ErrorExpr(Span(b.file, start, stop, sl, sc, sl, sc + (stop - start)))


# --------------------------------------------------------------------------- the driver
_STMT = frozenset({"TASK", "PARALLEL", "SEQUENCE", "IF", "SWITCH", "FOREACH", "WHILE", "USE",
                   "BREAK", "CONTINUE"})
_EXPR = frozenset({"NAME", "STRING", "NUMBER", "DURATION", "TRUE", "FALSE", "NULL", "LPAR",
                   "LSQB", "LBRACE", "BANG", "MINUS"})
_OPS = frozenset({"PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "EQEQ", "NOTEQ", "LT", "GT",
                  "LE", "GE", "ANDAND", "OROR", "QQ"})
_DECL = frozenset({"WORKFLOW", "TEMPLATE", "AGENT", "TYPE", "IMPORT", "EXPORT"})
_KEYWORD_HINTS = {
    "else": "'else' must follow the '}' of an if block",
    "case": "'case' belongs directly inside a switch block",
    "default": "'default' belongs directly inside a switch block",
}


class _Driver:
    def __init__(self, tokens: list[Token], builder: Builder, owners: dict[int, str], file: str,
                 text: str, diags: list[Diagnostic]) -> None:
        self.tokens = tokens
        self.builder = builder
        self.owners = owners
        self.file = file
        self.text = text
        self.diags = diags
        self.table = _table()
        self.end_name = "end of file"
        callbacks = builder._callbacks
        if callbacks is None:  # bound once per builder; ${…} sub-parses reuse them
            callbacks = [getattr(builder, m) if m else None for m in self.table.methods]
            builder._callbacks = callbacks
        self.callbacks = callbacks

    def run(self, start: str) -> Any:
        t = self.table
        actions = t.actions
        gotos = t.gotos
        sizes = t.sizes
        origins = t.origins
        callbacks = self.callbacks
        end_state = t.end[start]
        tokens = self.tokens
        n = len(tokens)
        eof = self._eof()
        state_stack = [t.start[start]]
        value_stack: list[Any] = []
        self.state_stack = state_stack
        self.value_stack = value_stack
        last_error = -1
        i = 0
        while True:
            tok = tokens[i] if i < n else eof
            typ = tok.type
            row = actions[state_stack[-1]]
            if tok.first and i and tokens[i - 1].type == "COLON" and i + 1 < n \
                    and tokens[i + 1].type == "COLON" and tok.kw not in row \
                    and self._missing_value(i, tok):
                n += 1
                continue  # `key:` ends its line and the next line is `other: …`
            # the stack before this token, for the expected set should it fail: a copy when the
            # stack is shallow (cheapest), else the states each reduction pops (a copy per
            # token of a deep stack made deep nesting quadratic)
            deep = len(state_stack) > 256
            before: list[int] | None = None
            undo: list[list[int]] | None = None
            if deep:
                undo = []
            else:
                before = state_stack[:]
            kw = tok.kw
            if kw is not None:
                typ = kw if kw in row else ("NAME" if "NAME" in row else kw)
                if typ == kw and "NAME" in row and not self._accepts(state_stack, kw):
                    typ = "NAME"  # LALR's merged lookaheads admit the keyword; only a name fits
                if kw == "ELSE" and typ == "NAME" and i + 1 < n and (
                        tokens[i + 1].type == "LBRACE" or tokens[i + 1].value == "if"):
                    typ = kw  # a stray `else {`: an error, not a field named else
            while True:
                act = row.get(typ)
                if act is None:
                    break
                if act[0]:
                    state_stack.append(act[1])
                    value_stack.append(tok)
                    break
                r = act[1]
                size = sizes[r]
                if size:
                    s = value_stack[-size:]
                    if undo is not None:
                        undo.append(state_stack[-size:])
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    s = []
                    if undo is not None:
                        undo.append([])
                cb = callbacks[r]
                value = cb(s) if cb is not None else s[0]
                state_stack.append(gotos[state_stack[-1]][origins[r]])
                value_stack.append(value)
                if typ == "$END" and state_stack[-1] == end_state:
                    return value
                row = actions[state_stack[-1]]
            if act is not None:
                i += 1
                continue
            # ---- syntax error at tokens[i]
            if "NULL" in row and self._missing_value(i, tok):
                n += 1
                continue  # a synthetic value token was inserted; feed it
            if i != last_error:
                if undo is not None:  # undo this token's reductions (each pushed one goto)
                    before = state_stack[:]
                    for popped in reversed(undo):
                        before.pop()
                        before.extend(popped)
                assert before is not None
                self._report(i, tok, self._expected(before))
            elif i >= n:
                return None  # recovery made no progress at the end of the input: give up
            resume = self._recover(i, last_error == i)
            if resume is None:
                return None
            last_error = resume
            i = resume

    # ------------------------------------------------------------------ recovery
    def _recover(self, i: int, force_skip: bool) -> int | None:
        """Pop the parser back to the enclosing list and skip to where it can go on."""
        t = self.table
        state_stack = self.state_stack
        value_stack = self.value_stack
        closed = 0  # brackets whose closer was popped: never stop inside one of them
        while True:
            gos = t.gotos[state_stack[-1]]
            if closed == 0:
                if any(elem in gos for elem in _LISTS.values()):
                    break
                lst = next((name for name in _LISTS if name in gos), None)
                if lst is not None:  # right after an opener: the list is still empty
                    state_stack.append(gos[lst])
                    value_stack.append(None)
                    break
            if len(state_stack) == 1:
                return None
            state_stack.pop()
            top = value_stack.pop()
            if isinstance(top, Token):
                if top.type in _CLOSERS:
                    closed += 1
                elif top.type in _OPENERS and closed:
                    closed -= 1
        depth = sum(1 for v in value_stack if isinstance(v, Token) and v.type == "LBRACE")
        row = t.actions[state_stack[-1]]
        tokens = self.tokens
        n = len(tokens)
        j = i + 1 if force_skip else i
        while j < n:
            tok = tokens[j]
            if tok.type == "RBRACE":
                if tok.depth == depth - 1:
                    return j  # closes the list recovery popped back to
                j += 1  # closes a block nested in the skipped text
                continue
            if tok.depth == depth and (tok.first or j == 0 or tokens[j - 1].type in
                                       ("COMMA", "SEMI", "RBRACE")):
                typ = tok.type
                if tok.kw is not None:
                    typ = tok.kw if tok.kw in row else ("NAME" if "NAME" in row else tok.kw)
                if typ in row and (j != i or not force_skip):
                    return j
            j += 1
        return n  # end of input

    def _missing_value(self, i: int, tok: Token) -> bool:
        """``key:`` followed by nothing on its line: report it at the colon and go on as if
        the value had been ``null`` (so the next line parses as the next field)."""
        if i == 0:
            return False
        prev = self.tokens[i - 1]
        if prev.type != "COLON" or prev.synthetic:
            return False
        if tok.type != "$END" and tok.line == prev.line:
            return False
        key = self.tokens[i - 2].value if i >= 2 else ""
        self.diags.append(Diagnostic(
            "TW113", Severity.ERROR, f"expected a value after '{key}:'", prev.span(self.file)))
        synth = Token("NULL", "null", prev.end, prev.end, prev.end_line, prev.end_column,
                      prev.end_line, prev.end_column, None, False, True)
        synth.depth = prev.depth
        self.tokens.insert(i, synth)
        return True

    # ------------------------------------------------------------------ messages
    def _expected(self, stack: list[int]) -> set[str]:
        """Terminals truly acceptable after ``stack``: LALR's merged lookaheads admit more,
        so each candidate is checked by simulating its reductions."""
        return {term for term in self.table.actions[stack[-1]] if self._accepts(stack, term)}

    def _accepts(self, stack: list[int], term: str) -> bool:
        """Whether ``term`` can be shifted after the reductions it would cause.  A deep stack
        is not copied (a copy per keyword made deep nesting quadratic): the simulation pops
        below ``depth`` and pushes onto ``top``."""
        t = self.table
        if len(stack) <= 256:  # shallow: a copy is cheapest (the common case, by far)
            states = stack[:]
            while True:
                act = t.actions[states[-1]].get(term)
                if act is None:
                    return False
                if act[0] or term == "$END" and len(states) <= 2:
                    return True
                r = act[1]
                if t.sizes[r]:
                    del states[-t.sizes[r]:]
                nxt = t.gotos[states[-1]].get(t.origins[r])
                if nxt is None:  # reduced to the start symbol
                    return True
                states.append(nxt)
        depth = len(stack)  # stack[:depth] is what is left of the real stack
        top: list[int] = []  # states pushed by the simulated reductions

        def last() -> int:
            return top[-1] if top else stack[depth - 1]

        while True:
            act = t.actions[last()].get(term)
            if act is None:
                return False
            if act[0] or term == "$END" and depth + len(top) <= 2:
                return True
            r = act[1]
            k = t.sizes[r]
            drop = min(k, len(top))
            if drop:
                del top[-drop:]
            depth -= k - drop
            nxt = t.gotos[last()].get(t.origins[r])
            if nxt is None:  # reduced to the start symbol
                return True
            top.append(nxt)

    def _report(self, i: int, tok: Token, expected: set[str]) -> None:
        if tok.synthetic:  # a closer the bracket pass supplied: name what the file has there
            real = next((t for t in self.tokens[i + 1:] if not t.synthetic), None)
            tok = real if real is not None and real.start == tok.start else self._eof()
        what = self.end_name if tok.type == "$END" else _describe(tok)
        where = self._context()
        fix = None
        if tok.type == "EQ" and "COLON" in expected:
            if where in (" in input", " in output"):
                msg = f"unexpected '='{where}; declarations are written 'name: Type = default'"
            else:
                msg = f"unexpected '='{where}; fields are written 'name: value'"
                fix = Fix("replace '=' with ':'", (TextEdit(tok.span(self.file), ":"),))
        elif tok.kw is not None and tok.value in _KEYWORD_HINTS and tok.kw not in expected:
            msg = f"unexpected keyword '{tok.value}'{where}: {_KEYWORD_HINTS[tok.value]}"
        elif expected == {"COLON"} and i >= 1 and self.tokens[i - 1].line < tok.line \
                and self._after_value(i - 1):
            # `agent: "A" "extra"` then a line break: the stray value is the mistake, not
            # the next line (where the parser notices it, expecting ':' after a key)
            stray = self.tokens[i - 1]
            msg = (f"unexpected {_describe(stray)}{where} after a field's value: a field holds "
                   "one value (remove it, or write another field as 'name: value')")
            fix = Fix("remove it", (TextEdit(stray.span(self.file), ""),))
            self.diags.append(Diagnostic("TW110", Severity.ERROR, msg, stray.span(self.file),
                                         (), fix))
            return
        else:
            msg = f"unexpected {what}{where}; expected {_summarize(expected)}"
        span = tok.span(self.file)
        self.diags.append(Diagnostic("TW110", Severity.ERROR, msg, span, (), fix))

    def _after_value(self, k: int) -> bool:
        """Token ``k`` follows a complete value on its own line (``key: value`` then it)."""
        if k < 1:
            return False
        before = self.tokens[k - 1]
        return before.line == self.tokens[k].line and before.type in (
            "STRING", "NUMBER", "DURATION", "NAME", "TRUE", "FALSE", "NULL", "RBRACE", "RSQB",
            "RPAR")

    def _context(self) -> str:
        for v in reversed(self.value_stack):
            if isinstance(v, Token) and v.type == "LBRACE":
                owner = self.owners.get(v.start)
                if owner and owner != "block":
                    return f" in {owner}"
                return ""
        return ""

    def _eof(self) -> Token:
        text = self.text
        if self.tokens:
            last = self.tokens[-1]
            tok = Token("$END", "", last.end, last.end, last.end_line, last.end_column,
                        last.end_line, last.end_column)
        else:
            line = text.count("\n") + 1
            col = len(text) - text.rfind("\n")
            tok = Token("$END", "", len(text), len(text), line, col, line, col)
        tok.depth = 0
        return tok


def _describe(tok: Token) -> str:
    t = tok.type
    if t == "$END":
        return "end of file"
    if t == "NAME":
        return f"keyword '{tok.value}'" if tok.kw else f"name '{tok.value}'"
    if t == "STRING":
        v = tok.value.split("\n", 1)[0]  # one line, even for a triple-quoted string
        if len(v) > 24 or v != tok.value:
            v = v[:20] + "…" + tok.value[0]  # still quoted, so the excerpt reads as the user's
        return f"string {v}"
    if t == "NUMBER":
        return f"number {tok.value}"
    if t == "DURATION":
        return f"'{tok.value}'"
    return f"'{tok.value}'"


@cache
def _display() -> dict[str, str]:
    g = grammar.load()
    out = {name: f"'{text}'" for text, name in g.punctuation.items()}
    out.update({name: f"'{word}'" for word, name in g.keywords.items()})
    out.update({"NAME": "a name", "STRING": "a string", "NUMBER": "a number",
                "DURATION": "a duration", "$END": "end of file"})
    return out


def _summarize(expected: set[str]) -> str:
    """Expected terminals in words: 'a field or statement', 'an expression', "'}'"…"""
    e = set(expected)
    words: list[str] = []
    if _STMT <= e:
        words.append("a field or statement")
        e -= _STMT | {"NAME", "STRING", "INPUT", "OUTPUT", "ABSTRACT", "FINAL", "OVERRIDE",
                      "SEMI"}
    if _DECL <= e:
        words.append("a declaration (workflow, template, agent, type, import)")
        e -= _DECL | {"ABSTRACT", "FINAL"}
    if {"NAME", "STRING", "NUMBER", "LPAR"} <= e:
        words.append("an expression")
        e -= _EXPR
    ops = len(e & _OPS) >= 5
    if len(e) > 1:
        e.discard("FAT_ARROW")  # `x => …` is possible after any name, but rarely what was meant
    if ops:
        e -= _OPS | {"DOT", "LSQB", "LPAR"}
    display = _display()
    words.extend(sorted(display.get(x, x) for x in e))
    if ops:
        words.append("an operator")
    if not words:
        return "nothing more"
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


# ---------------------------------------------------------------------------- probing
#: The type of the token an editor puts where the cursor is (see :func:`expected_terminals`).
CURSOR = "$CURSOR"


class _Probe(_Driver):
    """The parser's driver, stopping at the cursor (a token no state accepts) to say what it
    expected there (errors before the cursor are recovered from as in a real parse)."""

    found: set[str] | None = None

    def _report(self, i: int, tok: Token, expected: set[str]) -> None:
        if tok.type == CURSOR:
            self.found = expected

    def _recover(self, i: int, force_skip: bool) -> int | None:
        if self.found is not None:
            return None
        return super()._recover(i, force_skip)

    def _missing_value(self, i: int, tok: Token) -> bool:
        return False


def _noop(children: list[object]) -> None:
    return None


_NOOPS: list[object] = [_noop] * 1000  # more than the grammar has rules

def expected_terminals(tokens: list[Token], path: str, text: str) -> set[str]:
    """The terminals the parser accepts where the token of type :data:`CURSOR` among
    ``tokens`` is (errors before it are recovered from as in a real parse): what an editor
    offers to complete there.  No tree is built; a probe that fails gives the empty set."""
    builder = Builder(path, text)
    builder._callbacks = _NOOPS  # no tree is built: only the parser's state matters
    probe = _Probe(tokens, builder, {}, path, text, [])
    try:
        probe.run("start")
    except Exception:  # a probe that fails only costs keyword suggestions
        return set()
    return probe.found or set()
