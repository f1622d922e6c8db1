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
text.  It also refuses a file nested deeper than its limits (``MAX_DEPTH`` levels of syntax
tree, ``MAX_INDENT`` levels of indentation; docs/language.md, "Limits"): the output of such a
file would grow with the square of its depth.

Time is linear in the size of the file: whether a node fits on one line is decided from its
width, computed once per node, and nothing is ever rendered twice or thrown away (so no
comment is consumed by a layout that is not kept).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import islice
from typing import Any

from twdsl.diagnostics import Diagnostic, Severity
from twdsl.recursion import deep_recursion
from twdsl.syntax import ast as A
from twdsl.syntax.lexer import Comment
from twdsl.syntax.parser import ParseResult, parse

WIDTH = 100
INDENT = "  "
#: The deepest syntax tree the formatter walks (a chain of 20,000 ``+`` is that deep).
MAX_DEPTH = 20_000
#: The most levels of indentation it writes (blocks, arrays, objects over several lines).
MAX_INDENT = 1_000
_NEVER = 1 << 40  # the width of what cannot be written on one line

#: A rendering: its lines, the first without indentation (it goes on from where it is put),
#: the others indented in full.  Lists, not one string, so that nesting copies no text.
Lines = list[str]

_BLANK = re.compile(r"\n[ \t\r\f]*\n")

# Binding strength of operators; higher binds tighter.
_PREC = {"??": 1, "||": 2, "&&": 3, "==": 4, "!=": 4, "<": 5, ">": 5, "<=": 5, ">=": 5,
         "+": 6, "-": 6, "*": 7, "/": 7, "%": 7}
_LAMBDA, _UNARY, _POSTFIX = 0, 8, 9


class FormatError(Exception):
    """The file cannot be formatted: it does not parse (``diagnostics`` say why), or it nests
    deeper than the formatter's limits (``diagnostics`` is empty; the message says where)."""

    def __init__(self, diagnostics: list[Diagnostic], message: str | None = None) -> None:
        self.diagnostics = diagnostics
        if message is None:
            first = diagnostics[0]
            message = f"{first.span}: {first.message}"
        super().__init__(message)


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
        FormatError: the text has syntax errors, or nests deeper than the limits.
    """
    return format_parsed(parse(text, path))


def format_parsed(result: ParseResult) -> str:
    """Format an already parsed file (see :func:`format_source`)."""
    errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise FormatError(errors)
    _check_depth(result.module)
    with deep_recursion():
        return _Printer(result.source.text, result.comments).module(result.module)


def _too_deep(span: Any, what: str) -> FormatError:
    return FormatError([], f"{span}: cannot format this file: {what} (the formatter's limits "
                           "are in docs/language.md, \"Limits\")")


def _check_depth(module: A.Module) -> None:
    """Refuse a syntax tree deeper than MAX_DEPTH before any recursive walk (iteratively)."""
    stack: list[tuple[A.Node, int]] = [(module, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep(node.span, f"its syntax tree nests more than {MAX_DEPTH:,} "
                                       "levels deep here")
        stack.extend((child, depth + 1) for child in node.children())


class _Printer:
    def __init__(self, text: str, comments: list[Comment]) -> None:
        self.text = text
        self.comments = comments
        self.starts = [c.span.start for c in comments]
        self.ci = 0  # next comment not yet written
        self.written_to = 0  # the end of the last comment written
        self.widths: dict[int, int] = {}  # id(node) -> width on one line (see `width`)

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
                self.written_to = c.span.end
                return " " + c.text
        return ""

    def next_token(self, pos: int) -> int:
        """The offset of the first character at or after ``pos`` that is neither white space
        nor inside a comment."""
        text, n = self.text, len(self.text)
        while True:
            while pos < n and text[pos] in " \t\r\n\f":
                pos += 1
            k = bisect_left(self.starts, pos)
            if k < len(self.starts) and self.starts[k] == pos:
                pos = self.comments[k].span.end
                continue
            return pos

    def list_lines(self, elems: Sequence[Any], indent: int, start: int, close: int,
                   render: Callable[[Any, int], Lines], sep: str = "") -> Lines:
        """Lines for a list of items between offsets ``start`` and ``close``, with the
        comments among them.  ``render(elem, indent)`` gives an element's lines."""
        if indent > MAX_INDENT and elems:
            raise _too_deep(elems[0].span, f"it nests more than {MAX_INDENT:,} levels of "
                                           "indentation deep here")
        ind = INDENT * indent
        lines: Lines = []
        last = start
        for k, elem in enumerate(elems):
            head, last = self.leading(elem.span.start, ind, last, bool(lines))
            lines.extend(head)
            if lines and lines[-1] != "" and _BLANK.search(self.text, last, elem.span.start):
                lines.append("")
            nxt = elems[k + 1].span.start if k + 1 < len(elems) else close
            body = render(elem, indent)
            body[0] = ind + body[0]
            body[-1] += sep + self.trailing(elem.span.end_line, elem.span.end, nxt)
            lines.extend(body)
            # a comment after the element that its rendering took (a clause's last one)
            # counts as written with it: a blank line before it is not one before the next
            last = max(elem.span.end, min(self.written_to, nxt))
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
            last = self.written_to = c.span.end
        return lines, last

    # ------------------------------------------------------------------ widths
    def width(self, node: A.Node) -> int:
        """The length of ``node`` written on one line, as ``expr`` or ``type`` (not at the
        top) writes it when everything inside fits; ``_NEVER`` when it cannot be written on
        one line (a block with items, a string over several lines, a record type wider than
        half a line).  Computed once per node: the layout decisions stay linear."""
        key = id(node)
        w = self.widths.get(key)
        if w is None:
            w = min(self._width(node), _NEVER)
            self.widths[key] = w
        return w

    def _width(self, e: A.Node) -> int:
        if isinstance(e, A.Binary):
            p = _PREC[e.op]
            return (self._sub_width(e.left, p) + len(e.op) + 2
                    + self._sub_width(e.right, p + 1))
        if isinstance(e, A.Unary):
            extra = 2 if e.op == "-" and _starts_with_minus(e.operand) else 0
            return len(e.op) + self._sub_width(e.operand, _UNARY) + extra
        if isinstance(e, A.Member):
            return self._sub_width(e.obj, _POSTFIX) + 1 + len(e.name.name)
        if isinstance(e, A.Index):
            return self._sub_width(e.obj, _POSTFIX) + 2 + self.width(e.index)
        if isinstance(e, A.Call):
            return (self._sub_width(e.func, _POSTFIX) + 2
                    + self._list_width(e.args, 2))
        if isinstance(e, A.Lambda):
            params = len(e.params[0].name) if len(e.params) == 1 else \
                2 + sum([len(p.name) for p in e.params]) + 2 * (len(e.params) - 1)
            return params + 4 + self.width(e.body)
        if isinstance(e, A.Name):
            return len(e.name)
        if isinstance(e, (A.StringLit, A.NumberLit, A.DurationLit)):
            return _NEVER if "\n" in e.raw else len(e.raw)
        if isinstance(e, A.BoolLit):
            return 4 if e.value else 5
        if isinstance(e, A.NullLit):
            return 4
        if isinstance(e, A.ArrayLit):
            return 2 + self._list_width(e.items, 2)
        if isinstance(e, A.ObjectLit):
            return self.fields_width(e.fields)
        if isinstance(e, A.Block):
            return 2 if not e.items else _NEVER
        if isinstance(e, A.NamedType):
            if not e.args:
                return len(e.name.name)
            return len(e.name.name) + 2 + self._list_width(e.args, 2)
        if isinstance(e, A.OptionalType):
            return self.width(e.inner) + 1
        if isinstance(e, A.RecordType):
            if not e.fields:
                return 2
            w = 4 + sum([len(self.key(f.name)) + 2 + self.width(f.type) for f in e.fields]) \
                + 2 * (len(e.fields) - 1)
            return w if w <= WIDTH // 2 else _NEVER
        return _NEVER  # nothing else is written on one line

    def _sub_width(self, e: A.Node, min_prec: int) -> int:
        return self.width(e) + (2 if _prec(e) < min_prec else 0)

    def _list_width(self, nodes: Sequence[A.Node], sep: int) -> int:
        return sum([self.width(n) for n in nodes]) + sep * max(len(nodes) - 1, 0)

    def fields_width(self, fields: list[A.Field]) -> int:
        """The width of ``inline_fields``."""
        if not fields:
            return 2
        return 4 + sum([len(self.key(f.key)) + 2 + self.width(f.value) for f in fields]) \
            + 2 * (len(fields) - 1)

    def param_width(self, p: A.Param) -> int:
        w = len(p.name.name) + 2 + self.width(p.type)
        if p.default is not None:
            w += 3 + self.width(p.default)
        if p.constraints is not None:
            w += 7 + self.fields_width(p.constraints.fields())
        return w

    # ------------------------------------------------------------------ module
    def module(self, m: A.Module) -> str:
        lines: Lines = []
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
            body[-1] += self.trailing(item.span.end_line, item.span.end, nxt)
            lines.extend(body)
            last = item.span.end
            prev = item
        lines.extend(self.leading(len(self.text) + 1, "", last, bool(lines))[0])
        while lines and lines[-1] == "":
            lines.pop()
        first = 0
        while first < len(lines) and lines[first] == "":
            first += 1
        return "\n".join(lines[first:]) + "\n" if lines[first:] else ""

    def decl(self, d: A.Node, indent: int) -> Lines:
        if isinstance(d, A.ImportDecl):
            path = d.path.raw
            if d.names is not None:
                names = ", ".join([n.name.name + (f" as {n.alias.name}" if n.alias else "")
                                   for n in d.names])
                return [f"import {{ {names} }} from {path}"]
            return [f"import {path}" + (f" as {d.alias.name}" if d.alias else "")]
        prefix = "export " if getattr(d, "exported", False) else ""
        if isinstance(d, A.WorkflowDecl):
            return _cat(f"{prefix}workflow {d.name.name} ", self.block(d.body, indent))
        if isinstance(d, A.AgentDecl):
            return _cat(f"{prefix}agent {d.name.name} ", self.block(d.body, indent))
        if isinstance(d, A.TypeDecl):
            return _cat(f"{prefix}type {d.name.name} = ", self.type(d.type, indent, True))
        if isinstance(d, A.TemplateDecl):
            mods = "".join(m + " " for m in d.modifiers)
            ext = (" extends " + ", ".join([r.dotted for r in d.extends])) if d.extends else ""
            # "template " + name + "(" … ")" + ext + " {"
            used = len(prefix) + len(mods) + 9 + len(d.name.name) + 1 + 1 + len(ext) + 2
            params = self.params(d.params, indent, used)
            body = self.block(d.body, indent)
            return _cat(f"{prefix}{mods}template {d.name.name}(", params, f"){ext} ", body)
        raise AssertionError(f"unknown declaration {type(d).__name__}")

    def params(self, params: list[A.Param], indent: int, used: int) -> Lines:
        if not params:
            return [""]
        # The closing ')': a comment before it keeps the parameters one per line, where it
        # has a line of its own (on one line it would move into the body, and back).
        close = self.next_token(params[-1].span.end)
        if self.text.startswith(",", close):
            close = self.next_token(close + 1)
        one_line = sum([self.param_width(p) for p in params]) + 2 * (len(params) - 1)
        if used + one_line <= WIDTH and not self._pending(close):
            return _sep(", ", [self.param(p, indent) for p in params])
        lines = self.list_lines(params, indent + 1, params[0].span.start, close, self.param,
                                ",")
        return ["", *lines, INDENT * indent]

    def param(self, p: A.Param, indent: int) -> Lines:
        out = _cat(f"{p.name.name}: ", self.type(p.type, indent, False))
        if p.default is not None:
            out = _cat(out, " = ", self.expr(p.default, indent))
        if p.constraints is not None:
            out = _cat(out, " where ", self.inline_fields(p.constraints.fields(), indent))
        return out

    # ------------------------------------------------------------------ blocks
    def block(self, b: A.Block | A.ObjectLit, indent: int) -> Lines:
        items = b.items if isinstance(b, A.Block) else b.fields
        open_line = b.span.line
        first = items[0].span.start if items else b.span.end - 1
        head = "{" + self.trailing(open_line, b.span.start + 1, first)
        lines = self.list_lines(items, indent + 1, b.span.start + 1, b.span.end - 1, self.item)
        if not lines and head == "{":
            return ["{}"]
        return [head, *lines, INDENT * indent + "}"]

    def item(self, it: A.Node, indent: int) -> Lines:
        if isinstance(it, A.Field):
            return self.field(it, indent)
        if isinstance(it, (A.InputDecl, A.OutputDecl)):
            kw = "input" if isinstance(it, A.InputDecl) else "output"
            lines = self.list_lines(it.decls, indent + 1, it.span.start, it.span.end - 1,
                                    self.var_decl)
            if not lines:
                return [f"{kw} {{}}"]
            return [f"{kw} {{", *lines, INDENT * indent + "}"]
        assert isinstance(it, A.Stmt)
        return self.stmt(it, indent)

    def field(self, f: A.Field, indent: int) -> Lines:
        key = self.key(f.key)
        v = f.value
        if isinstance(v, (A.Block, A.ObjectLit)):
            return _cat(f"{key}: ", self.block(v, indent))
        return _cat(f"{key}: ", self.expr(v, indent, len(INDENT * indent) + len(key) + 2))

    def key(self, k: A.Ident) -> str:
        if k.quoted or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k.name):
            return _quote(k.name)
        return k.name

    def var_decl(self, d: A.VarDecl, indent: int) -> Lines:
        out = _cat(f"{self.key(d.name)}: ", self.type(d.type, indent, True))
        if d.value is not None:
            used = len(out[-1]) + (len(INDENT * indent) if len(out) == 1 else 0) + 3
            out = _cat(out, " = ", self.expr(d.value, indent, used))
        return out

    def inline_fields(self, fields: list[A.Field], indent: int) -> Lines:
        if not fields:
            return ["{}"]
        return _cat("{ ", _sep(", ", [_cat(f"{self.key(f.key)}: ", self.expr(f.value, indent))
                                      for f in fields]), " }")

    # ------------------------------------------------------------------ types
    def type(self, t: A.Node, indent: int, top: bool) -> Lines:
        if isinstance(t, A.NamedType):
            if t.args:
                return _cat(t.name.name + "<",
                            _sep(", ", [self.type(a, indent, False) for a in t.args]), ">")
            return [t.name.name]
        if isinstance(t, A.OptionalType):
            return _cat(self.type(t.inner, indent, top), "?")
        if isinstance(t, A.RecordType):
            if not t.fields:
                return ["{}"]
            if not top and self.width(t) <= WIDTH // 2 and not self._pending(t.span.end):
                return _cat("{ ", _sep(", ", [_cat(f"{self.key(f.name)}: ",
                                                   self.type(f.type, indent, False))
                                              for f in t.fields]), " }")
            lines = self.list_lines(
                t.fields, indent + 1, t.span.start + 1, t.span.end - 1,
                lambda f, i: _cat(f"{self.key(f.name)}: ", self.type(f.type, i, True)))
            return ["{", *lines, INDENT * indent + "}"]
        raise AssertionError(f"unknown type node {type(t).__name__}")

    # ------------------------------------------------------------------ statements
    def stmt(self, s: A.Stmt, indent: int) -> Lines:
        if isinstance(s, A.TaskStmt):
            mods = "".join(m + " " for m in s.modifiers)
            if s.body is None:
                return [f"{mods}task {s.name.name}"]
            return _cat(f"{mods}task {s.name.name} ", self.block(s.body, indent))
        if isinstance(s, A.ParallelStmt):
            return _cat("parallel ", self.block(s.body, indent))
        if isinstance(s, A.SequenceStmt):
            return _cat("sequence ", self.block(s.body, indent))
        if isinstance(s, A.IfStmt):
            out = _cat("if (", self.expr(s.cond, indent), ") ", self.block(s.then, indent))
            if isinstance(s.else_, A.IfStmt):
                out = _cat(out, " else ", self.stmt(s.else_, indent))
            elif s.else_ is not None:
                out = _cat(out, " else ", self.block(s.else_, indent))
            return out
        if isinstance(s, A.SwitchStmt):
            head = _cat("switch (", self.expr(s.subject, indent), ") {")
            # A clause's statements end where the next clause (or the switch) begins: a
            # comment after its last statement stays in it, on every pass.
            ends = {id(c): (s.cases[k + 1].span.start if k + 1 < len(s.cases)
                            else s.span.end - 1) for k, c in enumerate(s.cases)}
            lines = self.list_lines(s.cases, indent + 1, s.subject.span.end, s.span.end - 1,
                                    lambda c, i: self.case(c, i, ends[id(c)]))
            return [*head, *lines, INDENT * indent + "}"]
        if isinstance(s, A.ForeachStmt):
            var = s.var.name + (f", {s.index.name}" if s.index else "")
            return _cat(f"foreach {var} in ", self.expr(s.iterable, indent), " ",
                        self.block(s.body, indent))
        if isinstance(s, A.WhileStmt):
            return _cat("while (", self.expr(s.cond, indent), ") ", self.block(s.body, indent))
        if isinstance(s, A.UseStmt):
            args = _sep(", ", [_cat(f"{a.name.name}: ", self.expr(a.value, indent))
                               for a in s.args])
            alias = f" as {s.alias.name}" if s.alias else ""
            return _cat(f"use {s.template.dotted}(", args, f"){alias}")
        if isinstance(s, A.ChainStmt):
            return [" -> ".join([step[0].dotted if len(step) == 1 else
                                 "[" + ", ".join([r.dotted for r in step]) + "]"
                                 for step in s.steps])]
        if isinstance(s, A.BreakStmt):
            return ["break"]
        if isinstance(s, A.ContinueStmt):
            return ["continue"]
        raise AssertionError(f"unknown statement {type(s).__name__}")

    def case(self, c: A.CaseClause, indent: int, end: int) -> Lines:
        head = ["default:"] if c.is_default else \
            _cat("case ", _sep(", ", [self.expr(v, indent) for v in c.values]), ":")
        if not c.body:
            return head
        start = c.values[-1].span.end if c.values else c.span.start
        lines = self.list_lines(c.body, indent + 1, start, end, self.stmt)
        return [*head, *lines]

    # ------------------------------------------------------------------ expressions
    def expr(self, e: A.Node, indent: int, used: int = 0) -> Lines:
        """An expression's lines; several only where an object or array must be."""
        if isinstance(e, A.Binary):
            p = _PREC[e.op]
            left = self.sub(e.left, p, indent, used)
            right = self.sub(e.right, p + 1, indent, used)
            return _cat(left, f" {e.op} ", right)
        if isinstance(e, A.Unary):
            operand = self.sub(e.operand, _UNARY, indent, used)
            if e.op == "-" and operand[0].startswith("-"):
                operand = _cat("(", operand, ")")  # `-(-x)`, not `--x`
            return _cat(e.op, operand)
        if isinstance(e, A.Member):
            return _cat(self.sub(e.obj, _POSTFIX, indent, used), "." + e.name.name)
        if isinstance(e, A.Index):
            return _cat(self.sub(e.obj, _POSTFIX, indent, used), "[",
                        self.expr(e.index, indent), "]")
        if isinstance(e, A.Call):
            args = _sep(", ", [self.expr(a, indent, used) for a in e.args])
            return _cat(self.sub(e.func, _POSTFIX, indent, used), "(", args, ")")
        if isinstance(e, A.Lambda):
            params = e.params[0].name if len(e.params) == 1 else \
                "(" + ", ".join([p.name for p in e.params]) + ")"
            return _cat(params + " => ", self.expr(e.body, indent, used))
        if isinstance(e, A.Name):
            return [e.name]
        if isinstance(e, (A.StringLit, A.NumberLit, A.DurationLit)):
            return [e.raw]
        if isinstance(e, A.BoolLit):
            return ["true" if e.value else "false"]
        if isinstance(e, A.NullLit):
            return ["null"]
        if isinstance(e, A.ArrayLit):
            return self.array(e, indent, used)
        if isinstance(e, A.ObjectLit):
            if not e.fields:
                return ["{}"]
            if used + self.width(e) <= WIDTH and not self._pending(e.span.end):
                return self.inline_fields(e.fields, indent)
            return self.block(e, indent)
        if isinstance(e, A.Block):
            return self.block(e, indent)
        raise AssertionError(f"unknown expression {type(e).__name__}")

    def sub(self, e: A.Node, min_prec: int, indent: int, used: int) -> Lines:
        lines = self.expr(e, indent, used)
        return _cat("(", lines, ")") if _prec(e) < min_prec else lines

    def array(self, a: A.ArrayLit, indent: int, used: int) -> Lines:
        if not a.items:
            return ["[]"]
        if used + self.width(a) <= WIDTH and not self._pending(a.span.end):
            return _cat("[", _sep(", ", [self.expr(x, indent) for x in a.items]), "]")
        lines = self.list_lines(a.items, indent + 1, a.span.start + 1, a.span.end - 1,
                                lambda x, i: self.expr(x, i, len(INDENT * i)), ",")
        return ["[", *lines, INDENT * indent + "]"]


def _cat(*parts: str | Lines) -> Lines:
    """Text laid end to end: each part goes on from the last line of the parts before it."""
    out = [""]
    for p in parts:
        if isinstance(p, str):
            out[-1] += p
        else:
            out[-1] += p[0]
            if len(p) > 1:
                out.extend(islice(p, 1, None))
    return out


def _sep(sep: str, items: list[Lines]) -> Lines:
    """``items`` laid end to end with ``sep`` between them."""
    out = [""]
    for k, p in enumerate(items):
        if k:
            out[-1] += sep
        out[-1] += p[0]
        if len(p) > 1:
            out.extend(islice(p, 1, None))
    return out


def _prec(e: A.Node) -> int:
    if isinstance(e, A.Binary):
        return _PREC[e.op]
    if isinstance(e, A.Lambda):
        return _LAMBDA
    if isinstance(e, A.Unary):
        return _UNARY
    return _POSTFIX + 1


def _starts_with_minus(e: A.Node) -> bool:
    """Whether ``e``, as an operand of unary '-', is written starting with '-'."""
    while isinstance(e, (A.Member, A.Index, A.Call)):  # written from their left operand
        e = e.func if isinstance(e, A.Call) else e.obj
        if _prec(e) < _POSTFIX:
            return False  # in parentheses
    if isinstance(e, A.Unary):
        return e.op == "-"
    if isinstance(e, (A.NumberLit, A.DurationLit)):
        return e.raw.startswith("-")
    return False


def _quote(s: str) -> str:
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def _comment_lines(c: Comment, ind: str) -> list[str]:
    if "\n" not in c.text:
        return [ind + c.text]
    # A block comment spanning lines keeps its inner lines as written.
    first, *rest = c.text.split("\n")
    return [ind + first, *rest]
