"""AST building: one method per grammar rule, called by the parser on every LALR reduction.

Lists arrive as immutable cons cells ``(rest, item)`` and are flattened once, when the
enclosing node is built; nothing here mutates a value that is still on the parser's
stack, so error recovery may pop the stack at any point.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from typing import Any

from twdsl.diagnostics import Diagnostic, Severity
from twdsl.source import Span
from twdsl.syntax import ast as A
from twdsl.syntax.lexer import Token

Cons = tuple[Any, Any] | None
SubParser = Callable[[int, int, int, int], A.Expr]  # (start, stop, line, line_start) -> Expr

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_MS = {"ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'",
            "$": "$", "{": "{", "}": "}", "/": "/"}


def _cut(raw: str) -> str:
    """A long literal shortened for a message: its first and last digits."""
    return raw if len(raw) <= 24 else f"{raw[:10]}…{raw[-10:]}"


def flatten(cons: Cons) -> list[Any]:
    """Turn a cons list ``(((None, a), b), c)`` into ``[a, b, c]``."""
    out = []
    while cons is not None:
        cons, item = cons
        out.append(item)
    out.reverse()
    return out


class Builder:
    """Callbacks for the parser; collects diagnostics about literals (bad escapes, units)."""

    def __init__(self, file: str, text: str, sub_parser: SubParser | None = None) -> None:
        self.file = file
        self.text = text
        self.sub_parser = sub_parser
        self.diagnostics: list[Diagnostic] = []
        self._callbacks: list[Any] | None = None  # bound reduction methods, set by the parser

    # ------------------------------------------------------------ helpers
    def span(self, first: Any, last: Any) -> Span:
        a = first.span if isinstance(first, A.Node) else first
        b = last.span if isinstance(last, A.Node) else last
        if isinstance(a, Token):
            a = a.span(self.file)
        if isinstance(b, Token):
            b = b.span(self.file)
        return Span(self.file, a.start, b.end, a.line, a.column, b.end_line, b.end_column)

    def ident(self, tok: Token) -> A.Ident:
        if tok.type == "STRING":
            text = self._decode_plain(tok)
            return A.Ident(tok.span(self.file), text, quoted=True)
        return A.Ident(tok.span(self.file), tok.value)

    def error(self, code: str, message: str, span: Span) -> None:
        self.diagnostics.append(Diagnostic(code, Severity.ERROR, message, span))

    # ------------------------------------------------------------ lists
    def empty(self, c: list[Any]) -> Cons:
        return None

    def one(self, c: list[Any]) -> Cons:
        return (None, c[0])

    def cons(self, c: list[Any]) -> Cons:
        item = c[-1]
        if isinstance(item, Token) and item.type == "COMMA":
            item = c[-2]
        return (c[0], item)

    def items_semi(self, c: list[Any]) -> Cons:
        return c[0]

    # ------------------------------------------------------------ module
    def start(self, c: list[Any]) -> A.Module:
        return c[0]

    def expression(self, c: list[Any]) -> A.Expr:
        return c[0]

    def module(self, c: list[Any]) -> A.Module:
        items = flatten(c[0])
        end = len(self.text)
        span = Span(self.file, 0, end, 1, 1, *_end_position(self.text))
        return A.Module(span, items)

    def export_decl(self, c: list[Any]) -> A.Decl:
        decl = c[1]
        decl.exported = True
        decl.span = self.span(c[0], decl)
        return decl

    def import_all(self, c: list[Any]) -> A.ImportDecl:
        path = self.string([c[1]])
        alias = self.ident(c[3]) if len(c) == 4 else None
        return A.ImportDecl(self.span(c[0], c[-1]), path, None, alias)

    def import_names_decl(self, c: list[Any]) -> A.ImportDecl:
        path = self.string([c[-1]])
        return A.ImportDecl(self.span(c[0], c[-1]), path, flatten(c[2]), None)

    def import_name(self, c: list[Any]) -> A.ImportName:
        alias = self.ident(c[2]) if len(c) == 3 else None
        return A.ImportName(self.span(c[0], c[-1]), self.ident(c[0]), alias)

    # ------------------------------------------------------------ declarations
    def workflow_decl(self, c: list[Any]) -> A.WorkflowDecl:
        return A.WorkflowDecl(self.span(c[0], c[2]), self.ident(c[1]), c[2])

    def agent_decl(self, c: list[Any]) -> A.AgentDecl:
        return A.AgentDecl(self.span(c[0], c[2]), self.ident(c[1]), c[2])

    def type_decl(self, c: list[Any]) -> A.TypeDecl:
        return A.TypeDecl(self.span(c[0], c[3]), self.ident(c[1]), c[3])

    def template_decl(self, c: list[Any]) -> A.TemplateDecl:
        mods = flatten(c[0])
        first = mods[0] if mods else c[1]
        return A.TemplateDecl(self.span(first, c[7]), self.ident(c[2]), c[4] or [], c[6] or [],
                              c[7], [m.value for m in mods])

    def extends(self, c: list[Any]) -> list[A.Ref]:
        return flatten(c[1])

    def params(self, c: list[Any]) -> list[A.Param]:
        return flatten(c[0])

    def param(self, c: list[Any]) -> A.Param:
        default = None
        constraints = None
        i = 3
        while i < len(c):
            if c[i].type == "EQ":
                default = c[i + 1]
            else:
                constraints = c[i + 1]
            i += 2
        return A.Param(self.span(c[0], c[-1]), self.ident(c[0]), c[2], default, constraints)

    # ------------------------------------------------------------ types
    def named_type(self, c: list[Any]) -> A.NamedType:
        args = flatten(c[2]) if len(c) == 4 else []
        return A.NamedType(self.span(c[0], c[-1]), self.ident(c[0]), args)

    def optional_type(self, c: list[Any]) -> A.OptionalType:
        return A.OptionalType(self.span(c[0], c[1]), c[0])

    def record_type(self, c: list[Any]) -> A.RecordType:
        return A.RecordType(self.span(c[0], c[2]), flatten(c[1]))

    def type_field(self, c: list[Any]) -> A.TypeField:
        return A.TypeField(self.span(c[0], c[2]), self.ident(c[0]), c[2])

    # ------------------------------------------------------------ blocks
    def block(self, c: list[Any]) -> A.Block:
        return A.Block(self.span(c[0], c[2]), flatten(c[1]))

    def field(self, c: list[Any]) -> A.Field:
        return A.Field(self.span(c[0], c[2]), self.ident(c[0]), c[2])

    def block_field(self, c: list[Any]) -> A.Field:
        return A.Field(self.span(c[0], c[1]), self.ident(c[0]), self.object([c[1]]))

    def input_decl(self, c: list[Any]) -> A.InputDecl:
        return A.InputDecl(self.span(c[0], c[3]), flatten(c[2]))

    def output_decl(self, c: list[Any]) -> A.OutputDecl:
        return A.OutputDecl(self.span(c[0], c[3]), flatten(c[2]))

    def var_decl(self, c: list[Any]) -> A.VarDecl:
        value = c[4] if len(c) == 5 else None
        return A.VarDecl(self.span(c[0], c[-1]), self.ident(c[0]), c[2], value)

    # ------------------------------------------------------------ statements
    def task_stmt(self, c: list[Any]) -> A.TaskStmt:
        if len(c) == 3:
            return A.TaskStmt(self.span(c[0], c[2]), self.ident(c[1]), c[2], [])
        mods = flatten(c[0])
        return A.TaskStmt(self.span(mods[0], c[3]), self.ident(c[2]), c[3], [m.value for m in mods])

    def task_stub(self, c: list[Any]) -> A.TaskStmt:
        mods = flatten(c[0])
        return A.TaskStmt(self.span(mods[0], c[2]), self.ident(c[2]), None, [m.value for m in mods])

    def parallel_stmt(self, c: list[Any]) -> A.ParallelStmt:
        return A.ParallelStmt(self.span(c[0], c[1]), c[1])

    def sequence_stmt(self, c: list[Any]) -> A.SequenceStmt:
        return A.SequenceStmt(self.span(c[0], c[1]), c[1])

    def if_stmt(self, c: list[Any]) -> A.IfStmt:
        return A.IfStmt(self.span(c[0], c[4]), c[2], c[4], None)

    def if_else(self, c: list[Any]) -> A.IfStmt:
        return A.IfStmt(self.span(c[0], c[6]), c[2], c[4], c[6])

    def switch_stmt(self, c: list[Any]) -> A.SwitchStmt:
        return A.SwitchStmt(self.span(c[0], c[6]), c[2], flatten(c[5]))

    def case_clause(self, c: list[Any]) -> A.CaseClause:
        body = flatten(c[3])
        return A.CaseClause(self.span(c[0], body[-1] if body else c[2]), flatten(c[1]), body)

    def default_clause(self, c: list[Any]) -> A.CaseClause:
        body = flatten(c[2])
        return A.CaseClause(self.span(c[0], body[-1] if body else c[1]), [], body, True)

    def foreach_stmt(self, c: list[Any]) -> A.ForeachStmt:
        if len(c) == 5:
            return A.ForeachStmt(self.span(c[0], c[4]), self.ident(c[1]), None, c[3], c[4])
        return A.ForeachStmt(self.span(c[0], c[6]), self.ident(c[1]), self.ident(c[3]), c[5], c[6])

    def while_stmt(self, c: list[Any]) -> A.WhileStmt:
        return A.WhileStmt(self.span(c[0], c[4]), c[2], c[4])

    def use_stmt(self, c: list[Any]) -> A.UseStmt:
        alias = self.ident(c[6]) if len(c) == 7 else None
        return A.UseStmt(self.span(c[0], c[-1]), c[1], c[3] or [], alias)

    def args(self, c: list[Any]) -> list[A.Arg]:
        return flatten(c[0])

    def arg(self, c: list[Any]) -> A.Arg:
        return A.Arg(self.span(c[0], c[2]), self.ident(c[0]), c[2])

    def chain2(self, c: list[Any]) -> A.ChainStmt:
        last = c[2] if isinstance(c[2], list) else [c[2]]
        return A.ChainStmt(self.span(c[0], c[2][-1] if isinstance(c[2], list) else c[2]),
                           [[c[0]], last])

    def chain_more(self, c: list[Any]) -> A.ChainStmt:
        last = c[2] if isinstance(c[2], list) else [c[2]]
        return A.ChainStmt(self.span(c[0], last[-1]), c[0].steps + [last])

    def chain_group(self, c: list[Any]) -> list[A.Ref]:
        return flatten(c[1])

    def ref(self, c: list[Any]) -> A.Ref:
        if len(c) == 1:
            return A.Ref(c[0].span(self.file), [self.ident(c[0])])
        return A.Ref(self.span(c[0], c[2]), c[0].parts + [self.ident(c[2])])

    def break_stmt(self, c: list[Any]) -> A.BreakStmt:
        return A.BreakStmt(c[0].span(self.file))

    def continue_stmt(self, c: list[Any]) -> A.ContinueStmt:
        return A.ContinueStmt(c[0].span(self.file))

    # ------------------------------------------------------------ expressions
    def name(self, c: list[Any]) -> A.Name:
        return A.Name(c[0].span(self.file), c[0].value)

    def true(self, c: list[Any]) -> A.BoolLit:
        return A.BoolLit(c[0].span(self.file), True)

    def false(self, c: list[Any]) -> A.BoolLit:
        return A.BoolLit(c[0].span(self.file), False)

    def null(self, c: list[Any]) -> A.NullLit | A.ErrorExpr:
        if c[0].synthetic:  # inserted by recovery after a `key:` with no value
            return A.ErrorExpr(c[0].span(self.file))
        return A.NullLit(c[0].span(self.file))

    def number(self, c: list[Any]) -> A.NumberLit:
        raw = c[0].value
        try:
            value: int | float = float(raw) if "." in raw else int(raw)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            self.error("TW105", f"the number {_cut(raw)} has {len(raw):,} digits: an integer "
                       f"may have at most {sys.get_int_max_str_digits():,}", c[0].span(self.file))
            value = 0
        if isinstance(value, float) and math.isinf(value):
            self.error("TW105", f"the number {_cut(raw)} is too large: numbers go up to about "
                       "1.8e308", c[0].span(self.file))
            value = 0.0
        return A.NumberLit(c[0].span(self.file), value, raw)

    def duration(self, c: list[Any]) -> A.DurationLit:
        tok = c[0]
        raw = tok.value
        millis = 0.0
        pos = 0
        while pos < len(raw):
            m = _DURATION_PART.match(raw, pos)
            if m is None:
                self.error("TW104", f"'{raw}' is not a duration: write a number and a unit "
                           "(ms, s, m, h or d), e.g. 500ms, 30s, 5m, 1h30m",
                           tok.span(self.file))
                millis = math.nan
                break
            millis += float(m.group(1)) * _UNIT_MS[m.group(2)]
            pos = m.end()
        if math.isinf(millis):
            self.error("TW105", f"the duration {_cut(raw)} is too large", tok.span(self.file))
            millis = math.nan
        return A.DurationLit(tok.span(self.file), millis, raw)

    def array(self, c: list[Any]) -> A.ArrayLit:
        items = flatten(c[1]) if len(c) >= 3 else []
        return A.ArrayLit(self.span(c[0], c[-1]), items)

    def object(self, c: list[Any]) -> A.ObjectLit | A.Block:
        block: A.Block = c[0]
        if all(isinstance(i, A.Field) for i in block.items):
            return A.ObjectLit(block.span, block.items)  # type: ignore[arg-type]
        return block  # holds statements: only a block-valued field may take it

    def paren(self, c: list[Any]) -> A.Expr:
        inner = c[1]
        inner.span = self.span(c[0], c[2])
        return inner

    def binary(self, c: list[Any]) -> A.Binary:
        return A.Binary(self.span(c[0], c[2]), c[1].value, c[0], c[2])

    def unary(self, c: list[Any]) -> A.Unary:
        return A.Unary(self.span(c[0], c[1]), c[0].value, c[1])

    def member(self, c: list[Any]) -> A.Member:
        return A.Member(self.span(c[0], c[2]), c[0], self.ident(c[2]))

    def index(self, c: list[Any]) -> A.Index:
        return A.Index(self.span(c[0], c[3]), c[0], c[2])

    def call(self, c: list[Any]) -> A.Call:
        args = flatten(c[2]) if len(c) >= 4 else []
        return A.Call(self.span(c[0], c[-1]), c[0], args)

    def lambda_(self, c: list[Any]) -> A.Lambda:
        return A.Lambda(self.span(c[0], c[2]), [self.ident(c[0])], c[2])

    def lambda_multi(self, c: list[Any]) -> A.Lambda:
        if len(c) == 4:
            params: list[A.Ident] = []
        else:
            params = [self.ident(c[1])] + [self.ident(t) for t in flatten(c[3])]
        return A.Lambda(self.span(c[0], c[-1]), params, c[-1])

    def lambda_paren(self, c: list[Any]) -> A.Lambda:
        inner = c[0]
        if isinstance(inner, A.Name):
            param = A.Ident(Span(self.file, inner.span.start + 1, inner.span.end - 1,
                                 inner.span.line, inner.span.column + 1, inner.span.end_line,
                                 inner.span.end_column - 1), inner.name)
            return A.Lambda(self.span(inner, c[2]), [param], c[2])
        self.error("TW124", "a lambda's parameters must be names, e.g. (item, i) => …",
                   inner.span)
        return A.Lambda(self.span(inner, c[2]), [], c[2])

    # ------------------------------------------------------------ strings
    def string(self, c: list[Any]) -> A.StringLit:
        tok: Token = c[0]
        raw = tok.value
        q = 3 if raw.startswith('"""') else 1
        parts = self._string_parts(tok, tok.start + q, _content_end(tok, q))
        return A.StringLit(tok.span(self.file), parts, raw)

    def _decode_plain(self, tok: Token) -> str:
        q = 3 if tok.value.startswith('"""') else 1
        parts = self._string_parts(tok, tok.start + q, _content_end(tok, q), False)
        return "".join(p for p in parts if isinstance(p, str))

    def _string_parts(self, tok: Token, start: int, stop: int,
                      interpolate: bool = True) -> list[str | A.Expr]:
        text = self.text
        parts: list[str | A.Expr] = []
        buf: list[str] = []
        i = start
        while i < stop:
            ch = text[i]
            if ch == "\\" and i + 1 < stop:
                nxt = text[i + 1]
                if nxt in _ESCAPES:
                    buf.append(_ESCAPES[nxt])
                    i += 2
                    continue
                if nxt == "u":
                    m = re.compile(r"u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})").match(text, i + 1)
                    if m is not None:
                        code = int(m.group(1) or m.group(2), 16)
                        if code <= 0x10FFFF:
                            buf.append(chr(code))
                            i = m.end()
                            continue
                self._bad_escape(tok, i, text[i:i + 2])
                buf.append(nxt)
                i += 2
                continue
            if ch == "$" and interpolate and i + 1 < stop and text[i + 1] == "{":
                close = _interpolation_end(text, i + 2, stop)
                if close < 0:
                    self._at(tok, i, i + 2, "TW130",
                             "unterminated interpolation: add '}' to close '${'")
                    buf.append(text[i:stop])
                    break
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parts.append(self._interpolation(tok, i, close))
                i = close + 1
                continue
            buf.append(ch)
            i += 1
        if buf or not parts:
            parts.append("".join(buf))
        return parts

    def _interpolation(self, tok: Token, dollar: int, close: int) -> A.Expr:
        start = dollar + 2
        if not self.text[start:close].strip():
            self._at(tok, dollar, close + 1, "TW130", "empty interpolation '${}': put an "
                     "expression inside, e.g. ${name}")
            return A.ErrorExpr(self._tok_span(tok, dollar, close + 1))
        if self.sub_parser is None:
            return A.ErrorExpr(self._tok_span(tok, dollar, close + 1))
        line = tok.line + self.text.count("\n", tok.start, start)
        nl = self.text.rfind("\n", 0, start)
        return self.sub_parser(start, close, line, nl + 1)

    def _tok_span(self, tok: Token, start: int, end: int) -> Span:
        line = tok.line + self.text.count("\n", tok.start, start)
        line_start = self.text.rfind("\n", 0, start) + 1
        end_line = line + self.text.count("\n", start, end)
        end_ls = self.text.rfind("\n", 0, end) + 1
        return Span(self.file, start, end, line, start - line_start + 1, end_line,
                    end - end_ls + 1)

    def _at(self, tok: Token, start: int, end: int, code: str, message: str) -> None:
        self.error(code, message, self._tok_span(tok, start, end))

    def _bad_escape(self, tok: Token, at: int, seq: str) -> None:
        self._at(tok, at, at + len(seq), "TW103",
                 f"unknown escape sequence '{seq}': use \\n, \\t, \\r, \\\\, \\\", \\', \\$ "
                 "or \\u{…}; write '\\\\' for a backslash")


def _content_end(tok: Token, quote_len: int) -> int:
    """Where a string's content ends: before its closing quote, which an unterminated
    string (a token the lexer made up to go on) does not have in the text."""
    return tok.end if tok.synthetic else tok.end - quote_len


def _interpolation_end(text: str, i: int, stop: int) -> int:
    """Index of the '}' closing an interpolation that starts at ``i``, or -1."""
    depth = 0
    quote = ""
    while i < stop:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _end_position(text: str) -> tuple[int, int]:
    line = text.count("\n") + 1
    last = text.rfind("\n")
    return line, len(text) - last  # last == -1 gives len+1
