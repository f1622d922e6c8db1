"""Formatting: one canonical layout for TWDSL, keeping every comment.

The style: 2-space indentation; one field, declaration or statement per line; one
space around binary operators and after ':' and ','; at most one blank line kept
between items, and exactly one between top-level declarations; every field written
``key: value``.  An object that is a field's value is written one field per line; an
object or array elsewhere is written inline when it fits in 100 columns and holds no
comment.  Strings, numbers and durations are written as they were.

Comments stay where they were relative to the code: a comment on its own line stays
on its own line before the item that follows it; a comment at the end of a line stays
at the end of that item's line.  A comment inside an expression that is written on one
line moves to its own line before the next item (nothing is ever dropped).

The formatter refuses a file with syntax errors: formatting a misread file could lose
text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from twdsl.diagnostics import Diagnostic, Severity
from twdsl.recursion import deep_recursion
from twdsl.syntax import ast as A
from twdsl.syntax.lexer import Comment
from twdsl.syntax.parser import ParseResult, parse

WIDTH = 100
INDENT = "  "

_BLANK = re.compile(r"\n[ \t\r\f]*\n")

# Binding strength of operators; higher binds tighter.
_PREC = {"??": 1, "||": 2, "&&": 3, "==": 4, "!=": 4, "<": 5, ">": 5, "<=": 5, ">=": 5,
         "+": 6, "-": 6, "*": 7, "/": 7, "%": 7}
_LAMBDA, _UNARY, _POSTFIX = 0, 8, 9


class FormatError(Exception):
    """The file cannot be formatted because it does not parse; ``diagnostics`` say why."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0]
        super().__init__(f"{first.span}: {first.message}")


def format_source(text: str, path: str = "<string>") -> str:
    """Return ``text`` in canonical layout.

    >>> src = 'workflow W{version:"1.0.0"\\ntask a{agent:"Echo" input:{x:1+2*3}}}'
    >>> print(format_source(src), end="")
    workflow W {
      version: "1.0.0"
      task a {
        agent: "Echo"
        input: {
          x: 1 + 2 * 3
        }
      }
    }

    Raises:
        FormatError: the text has syntax errors.
    """
    return format_parsed(parse(text, path))


def format_parsed(result: ParseResult) -> str:
    """Format an already parsed file (see :func:`format_source`)."""
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise FormatError(errors)
    with deep_recursion():
        return _Printer(result.source.text, result.comments).module(result.module)


class _Printer:
    def __init__(self, text: str, comments: list[Comment]) -> None:
        self.text = text
        self.comments = comments
        self.ci = 0  # next comment not yet written

    # ------------------------------------------------------------------ comments
    def _pending(self, before: int) -> bool:
        return self.ci < len(self.comments) and self.comments[self.ci].span.start < before

    def trailing(self, line: int, after: int, before: int) -> str:
        """A comment that starts on ``line`` between ``after`` and ``before``, if any."""
        if self.ci < len(self.comments):
            c = self.comments[self.ci]
            if c.span.line == line and after <= c.span.start < before \
                    and "\n" not in c.text:
                self.ci += 1
                return " " + c.text
        return ""

    def list_lines(self, elems: Sequence[Any], indent: int, start: int, close: int,
                   render: Callable[[Any, int], str], sep: str = "") -> list[str]:
        """Lines for a list of items between offsets ``start`` and ``close``, with the
        comments among them.  ``render(elem, indent)`` gives an element's text."""
        ind = INDENT * indent
        lines: list[str] = []
        last = start
        for k, elem in enumerate(elems):
            head, last = self.leading(elem.span.start, ind, last, bool(lines))
            lines.extend(head)
            if lines and lines[-1] != "" and _BLANK.search(self.text, last, elem.span.start):
                lines.append("")
            nxt = elems[k + 1].span.start if k + 1 < len(elems) else close
            body = render(elem, indent) + sep
            body += self.trailing(elem.span.end_line, elem.span.end, nxt)
            lines.append(ind + body)
            last = elem.span.end
        lines.extend(self.leading(close, ind, last, bool(lines))[0])
        return lines

    def leading(self, before: int, ind: str, last: int,
                nonempty: bool) -> tuple[list[str], int]:
        """Own-line comments that start before ``before``, and the offset after them."""
        lines: list[str] = []
        while self._pending(before):
            c = self.comments[self.ci]
            self.ci += 1
            if (nonempty or lines) and _BLANK.search(self.text, min(last, c.span.start),
                                                     c.span.start):
                if not lines or lines[-1] != "":
                    lines.append("")
            lines.extend(_comment_lines(c, ind))
            last = c.span.end
        return lines, last

    # ------------------------------------------------------------------ module
    def module(self, m: A.Module) -> str:
        lines: list[str] = []
        last = 0
        prev: A.Node | None = None
        for k, item in enumerate(m.items):
            head, after = self.leading(item.span.start, "", last, bool(lines))
            if prev is not None:
                both_imports = isinstance(prev, A.ImportDecl) and isinstance(item, A.ImportDecl)
                want_blank = not both_imports or _BLANK.search(self.text, prev.span.end,
                                                               item.span.start)
                if want_blank and (not lines or lines[-1] != "") and (not head or head[0] != ""):
                    lines.append("")
            lines.extend(head)
            if head and lines[-1] != "" and _BLANK.search(self.text, after, item.span.start):
                lines.append("")
            nxt = m.items[k + 1].span.start if k + 1 < len(m.items) else len(self.text)
            body = self.decl(item, 0)
            body += self.trailing(item.span.end_line, item.span.end, nxt)
            lines.append(body)
            last = item.span.end
            prev = item
        lines.extend(self.leading(len(self.text) + 1, "", last, bool(lines))[0])
        while lines and lines[-1] == "":
            lines.pop()
        while lines and lines[0] == "":
            lines.pop(0)
        return "\n".join(lines) + "\n" if lines else ""

    def decl(self, d: A.Node, indent: int) -> str:
        if isinstance(d, A.ImportDecl):
            path = d.path.raw
            if d.names is not None:
                names = ", ".join(n.name.name + (f" as {n.alias.name}" if n.alias else "")
                                  for n in d.names)
                return f"import {{ {names} }} from {path}"
            return f"import {path}" + (f" as {d.alias.name}" if d.alias else "")
        prefix = "export " if getattr(d, "exported", False) else ""
        if isinstance(d, A.WorkflowDecl):
            return f"{prefix}workflow {d.name.name} {self.block(d.body, indent)}"
        if isinstance(d, A.AgentDecl):
            return f"{prefix}agent {d.name.name} {self.block(d.body, indent)}"
        if isinstance(d, A.TypeDecl):
            return f"{prefix}type {d.name.name} = {self.type(d.type, indent, True)}"
        if isinstance(d, A.TemplateDecl):
            mods = "".join(m + " " for m in d.modifiers)
            ext = (" extends " + ", ".join(r.dotted for r in d.extends)) if d.extends else ""
            # "template " + name + "(" … ")" + ext + " {"
            used = len(prefix) + len(mods) + 9 + len(d.name.name) + 1 + 1 + len(ext) + 2
            params = self.params(d.params, indent, used)
            body = self.block(d.body, indent)
            return f"{prefix}{mods}template {d.name.name}({params}){ext} {body}"
        raise AssertionError(f"unknown declaration {type(d).__name__}")

    def params(self, params: list[A.Param], indent: int, used: int) -> str:
        flat = [self.param(p, indent) for p in params]
        one_line = ", ".join(flat)
        if all("\n" not in p for p in flat) and used + len(one_line) <= WIDTH \
                and not any(self._pending(p.span.end) for p in params[-1:]):
            return one_line
        lines = self.list_lines(params, indent + 1, params[0].span.start, params[-1].span.end,
                                self.param, ",")
        return "\n" + "\n".join(lines) + "\n" + INDENT * indent

    def param(self, p: A.Param, indent: int) -> str:
        out = f"{p.name.name}: {self.type(p.type, indent, False)}"
        if p.default is not None:
            out += f" = {self.expr(p.default, indent)}"
        if p.constraints is not None:
            out += " where " + self.inline_fields(p.constraints.fields(), indent)
        return out

    # ------------------------------------------------------------------ blocks
    def block(self, b: A.Block | A.ObjectLit, indent: int) -> str:
        items = b.items if isinstance(b, A.Block) else b.fields
        open_line = b.span.line
        first = items[0].span.start if items else b.span.end - 1
        head = "{" + self.trailing(open_line, b.span.start + 1, first)
        lines = self.list_lines(items, indent + 1, b.span.start + 1, b.span.end - 1, self.item)
        if not lines and head == "{":
            return "{}"
        return head + "\n" + "\n".join(lines) + ("\n" if lines else "") + INDENT * indent + "}"

    def item(self, it: A.Node, indent: int) -> str:
        if isinstance(it, A.Field):
            return self.field(it, indent)
        if isinstance(it, (A.InputDecl, A.OutputDecl)):
            kw = "input" if isinstance(it, A.InputDecl) else "output"
            lines = self.list_lines(it.decls, indent + 1, it.span.start, it.span.end - 1,
                                    self.var_decl)
            if not lines:
                return f"{kw} {{}}"
            return f"{kw} {{\n" + "\n".join(lines) + "\n" + INDENT * indent + "}"
        assert isinstance(it, A.Stmt)
        return self.stmt(it, indent)

    def field(self, f: A.Field, indent: int) -> str:
        key = self.key(f.key)
        v = f.value
        if isinstance(v, (A.Block, A.ObjectLit)):
            return f"{key}: {self.block(v, indent)}"
        return f"{key}: {self.expr(v, indent, len(INDENT * indent) + len(key) + 2)}"

    def key(self, k: A.Ident) -> str:
        if k.quoted or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k.name):
            return _quote(k.name)
        return k.name

    def var_decl(self, d: A.VarDecl, indent: int) -> str:
        out = f"{self.key(d.name)}: {self.type(d.type, indent, True)}"
        if d.value is not None:
            out += f" = {self.expr(d.value, indent, len(out) + len(INDENT * indent) + 3)}"
        return out

    def inline_fields(self, fields: list[A.Field], indent: int) -> str:
        if not fields:
            return "{}"
        return "{ " + ", ".join(f"{self.key(f.key)}: {self.expr(f.value, indent)}"
                                for f in fields) + " }"

    # ------------------------------------------------------------------ types
    def type(self, t: A.Node, indent: int, top: bool) -> str:
        if isinstance(t, A.NamedType):
            if t.args:
                return t.name.name + "<" + ", ".join(self.type(a, indent, False)
                                                     for a in t.args) + ">"
            return t.name.name
        if isinstance(t, A.OptionalType):
            return self.type(t.inner, indent, top) + "?"
        if isinstance(t, A.RecordType):
            if not t.fields:
                return "{}"
            flat = "{ " + ", ".join(f"{self.key(f.name)}: {self.type(f.type, indent, False)}"
                                    for f in t.fields) + " }"
            if not top and "\n" not in flat and len(flat) <= WIDTH // 2 \
                    and not self._pending(t.span.end):
                return flat
            lines = self.list_lines(
                t.fields, indent + 1, t.span.start + 1, t.span.end - 1,
                lambda f, i: f"{self.key(f.name)}: {self.type(f.type, i, True)}")
            return "{\n" + "\n".join(lines) + "\n" + INDENT * indent + "}"
        raise AssertionError(f"unknown type node {type(t).__name__}")

    # ------------------------------------------------------------------ statements
    def stmt(self, s: A.Stmt, indent: int) -> str:
        if isinstance(s, A.TaskStmt):
            mods = "".join(m + " " for m in s.modifiers)
            if s.body is None:
                return f"{mods}task {s.name.name}"
            return f"{mods}task {s.name.name} {self.block(s.body, indent)}"
        if isinstance(s, A.ParallelStmt):
            return f"parallel {self.block(s.body, indent)}"
        if isinstance(s, A.SequenceStmt):
            return f"sequence {self.block(s.body, indent)}"
        if isinstance(s, A.IfStmt):
            out = f"if ({self.expr(s.cond, indent)}) {self.block(s.then, indent)}"
            if isinstance(s.else_, A.IfStmt):
                out += " else " + self.stmt(s.else_, indent)
            elif s.else_ is not None:
                out += " else " + self.block(s.else_, indent)
            return out
        if isinstance(s, A.SwitchStmt):
            head = f"switch ({self.expr(s.subject, indent)}) {{"
            lines = self.list_lines(s.cases, indent + 1, s.subject.span.end, s.span.end - 1,
                                    self.case)
            return head + "\n" + "\n".join(lines) + "\n" + INDENT * indent + "}"
        if isinstance(s, A.ForeachStmt):
            var = s.var.name + (f", {s.index.name}" if s.index else "")
            return f"foreach {var} in {self.expr(s.iterable, indent)} {self.block(s.body, indent)}"
        if isinstance(s, A.WhileStmt):
            return f"while ({self.expr(s.cond, indent)}) {self.block(s.body, indent)}"
        if isinstance(s, A.UseStmt):
            args = ", ".join(f"{a.name.name}: {self.expr(a.value, indent)}" for a in s.args)
            alias = f" as {s.alias.name}" if s.alias else ""
            return f"use {s.template.dotted}({args}){alias}"
        if isinstance(s, A.ChainStmt):
            return " -> ".join(step[0].dotted if len(step) == 1 else
                               "[" + ", ".join(r.dotted for r in step) + "]"
                               for step in s.steps)
        if isinstance(s, A.BreakStmt):
            return "break"
        if isinstance(s, A.ContinueStmt):
            return "continue"
        raise AssertionError(f"unknown statement {type(s).__name__}")

    def case(self, c: A.CaseClause, indent: int) -> str:
        head = "default:" if c.is_default else \
            "case " + ", ".join(self.expr(v, indent) for v in c.values) + ":"
        if not c.body:
            return head
        start = c.values[-1].span.end if c.values else c.span.start
        lines = self.list_lines(c.body, indent + 1, start, c.span.end, self.stmt)
        return head + "\n" + "\n".join(lines)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: A.Node, indent: int, used: int = 0) -> str:
        """An expression's text; multi-line only where an object or array must be."""
        if isinstance(e, A.Binary):
            p = _PREC[e.op]
            left = self.sub(e.left, p, indent, used)
            right = self.sub(e.right, p + 1, indent, used)
            return f"{left} {e.op} {right}"
        if isinstance(e, A.Unary):
            operand = self.sub(e.operand, _UNARY, indent, used)
            if e.op == "-" and operand.startswith("-"):
                operand = f"({operand})"  # `-(-x)`, not `--x`
            return e.op + operand
        if isinstance(e, A.Member):
            return f"{self.sub(e.obj, _POSTFIX, indent, used)}.{e.name.name}"
        if isinstance(e, A.Index):
            return f"{self.sub(e.obj, _POSTFIX, indent, used)}[{self.expr(e.index, indent)}]"
        if isinstance(e, A.Call):
            args = ", ".join(self.expr(a, indent, used) for a in e.args)
            return f"{self.sub(e.func, _POSTFIX, indent, used)}({args})"
        if isinstance(e, A.Lambda):
            params = e.params[0].name if len(e.params) == 1 else \
                "(" + ", ".join(p.name for p in e.params) + ")"
            return f"{params} => {self.expr(e.body, indent, used)}"
        if isinstance(e, A.Name):
            return e.name
        if isinstance(e, (A.StringLit, A.NumberLit, A.DurationLit)):
            return e.raw
        if isinstance(e, A.BoolLit):
            return "true" if e.value else "false"
        if isinstance(e, A.NullLit):
            return "null"
        if isinstance(e, A.ArrayLit):
            return self.array(e, indent, used)
        if isinstance(e, A.ObjectLit):
            if not e.fields:
                return "{}"
            flat = self.inline_fields(e.fields, indent)
            if "\n" not in flat and used + len(flat) <= WIDTH and not self._pending(e.span.end):
                return flat
            return self.block(e, indent)
        if isinstance(e, A.Block):
            return self.block(e, indent)
        raise AssertionError(f"unknown expression {type(e).__name__}")

    def sub(self, e: A.Node, min_prec: int, indent: int, used: int) -> str:
        text = self.expr(e, indent, used)
        return f"({text})" if _prec(e) < min_prec else text

    def array(self, a: A.ArrayLit, indent: int, used: int) -> str:
        if not a.items:
            return "[]"
        flat = "[" + ", ".join(self.expr(x, indent) for x in a.items) + "]"
        if "\n" not in flat and used + len(flat) <= WIDTH \
                and not self._pending(a.span.end):
            return flat
        lines = self.list_lines(a.items, indent + 1, a.span.start + 1, a.span.end - 1,
                                lambda x, i: self.expr(x, i, len(INDENT * i)), ",")
        return "[\n" + "\n".join(lines) + "\n" + INDENT * indent + "]"


def _prec(e: A.Node) -> int:
    if isinstance(e, A.Binary):
        return _PREC[e.op]
    if isinstance(e, A.Lambda):
        return _LAMBDA
    if isinstance(e, A.Unary):
        return _UNARY
    return _POSTFIX + 1


def _quote(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def _comment_lines(c: Comment, ind: str) -> list[str]:
    if "\n" not in c.text:
        return [ind + c.text]
    # A block comment spanning lines keeps its inner lines as written.
    first, *rest = c.text.split("\n")
    return [ind + first, *rest]
