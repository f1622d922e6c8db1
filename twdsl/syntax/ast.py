"""The AST: typed node classes, each with a Span; a ``visit_<Node>`` visitor; a dump for tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from twdsl.source import Span


@dataclass(eq=False, slots=True)
class Node:
    """Base of every AST node.  ``span`` covers the node's whole text."""

    span: Span

    #: Child attributes in source order (used by ``children`` and ``dump``).
    _children: ClassVar[tuple[str, ...]] = ()

    def children(self) -> Iterator[Node]:
        """Direct child nodes, in source order."""
        for name in self._children:
            value = getattr(self, name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, list):
                for v in value:
                    if isinstance(v, Node):
                        yield v
                    elif isinstance(v, list):  # list of lists (chain steps)
                        yield from (x for x in v if isinstance(x, Node))

    def walk(self) -> Iterator[Node]:
        """This node and all its descendants, depth first, in source order.

        ``children`` inlined: three checks walk every workflow, and this is twice as fast as
        extending the stack from the ``children`` generator (bench/check_throughput.py)."""
        stack: list[Node] = [self]
        pop = stack.pop
        while stack:
            node = pop()
            yield node
            names = node._children
            if not names:
                continue
            kids: list[Node] = []
            add = kids.append
            for name in names:
                value = getattr(node, name)
                if value is None:
                    continue
                if type(value) is list:
                    for v in value:
                        if type(v) is list:  # list of lists (chain steps)
                            kids.extend(x for x in v if isinstance(x, Node))
                        elif isinstance(v, Node):
                            add(v)
                elif isinstance(value, Node):
                    add(value)
            kids.reverse()
            stack.extend(kids)


# ------------------------------------------------------------------ names
@dataclass(eq=False, slots=True)
class Ident(Node):
    """A name as written at one place: a declaration's name, a field key, a parameter."""

    name: str
    quoted: bool = False  # an object key written as a string: "content-type": ...


@dataclass(eq=False, slots=True)
class Ref(Node):
    """A (possibly dotted) reference to a declaration: ``build`` or ``api.build``."""

    parts: list[Ident]
    _children: ClassVar = ("parts",)

    @property
    def dotted(self) -> str:
        return ".".join(p.name for p in self.parts)


# ------------------------------------------------------------------ types
@dataclass(eq=False, slots=True)
class NamedType(Node):
    """``string``, ``array<string>``, ``Stack`` (a declared type)."""

    name: Ident
    args: list[TypeExpr] = field(default_factory=list)
    _children: ClassVar = ("name", "args")


@dataclass(eq=False, slots=True)
class TypeField(Node):
    name: Ident
    type: TypeExpr
    _children: ClassVar = ("name", "type")


@dataclass(eq=False, slots=True)
class RecordType(Node):
    """``{ frontend: string, backend: string }``"""

    fields: list[TypeField]
    _children: ClassVar = ("fields",)


@dataclass(eq=False, slots=True)
class OptionalType(Node):
    """``T?``"""

    inner: TypeExpr
    _children: ClassVar = ("inner",)


TypeExpr = NamedType | RecordType | OptionalType


# ------------------------------------------------------------------ expressions
@dataclass(eq=False, slots=True)
class Expr(Node):
    """Base of expressions."""


@dataclass(eq=False, slots=True)
class Name(Expr):
    name: str


@dataclass(eq=False, slots=True)
class StringLit(Expr):
    """A string; ``parts`` alternates text and ``${…}`` expressions.  ``raw`` is the source text."""

    parts: list[str | Expr]
    raw: str
    _children: ClassVar = ("parts",)

    @property
    def value(self) -> str | None:
        """The string's value when it has no interpolation, else None."""
        if all(isinstance(p, str) for p in self.parts):
            return "".join(self.parts)  # type: ignore[arg-type]
        return None


@dataclass(eq=False, slots=True)
class NumberLit(Expr):
    value: int | float
    raw: str


@dataclass(eq=False, slots=True)
class DurationLit(Expr):
    """``500ms``, ``30s``, ``5m``, ``1h``, ``1d``, ``1h30m``; ``millis`` is the value."""

    millis: float
    raw: str


@dataclass(eq=False, slots=True)
class BoolLit(Expr):
    value: bool


@dataclass(eq=False, slots=True)
class NullLit(Expr):
    pass


@dataclass(eq=False, slots=True)
class ArrayLit(Expr):
    items: list[Expr]
    _children: ClassVar = ("items",)


@dataclass(eq=False, slots=True)
class ObjectLit(Expr):
    """``{ key: value … }`` (fields separated by newlines or commas)."""

    fields: list[Field]
    _children: ClassVar = ("fields",)


@dataclass(eq=False, slots=True)
class Member(Expr):
    """``obj.name``"""

    obj: Expr
    name: Ident
    _children: ClassVar = ("obj", "name")


@dataclass(eq=False, slots=True)
class Index(Expr):
    """``obj[index]``"""

    obj: Expr
    index: Expr
    _children: ClassVar = ("obj", "index")


@dataclass(eq=False, slots=True)
class Call(Expr):
    """``func(args…)``; methods are calls of a member: ``features.filter(f => …)``."""

    func: Expr
    args: list[Expr]
    _children: ClassVar = ("func", "args")


@dataclass(eq=False, slots=True)
class Unary(Expr):
    op: str
    operand: Expr
    _children: ClassVar = ("operand",)


@dataclass(eq=False, slots=True)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    _children: ClassVar = ("left", "right")


@dataclass(eq=False, slots=True)
class Lambda(Expr):
    """``f => body`` or ``(a, b) => body``."""

    params: list[Ident]
    body: Expr
    _children: ClassVar = ("params", "body")


@dataclass(eq=False, slots=True)
class ErrorExpr(Expr):
    """Stands for an expression that did not parse (only in ASTs with syntax errors)."""


# ------------------------------------------------------------------ blocks and fields
@dataclass(eq=False, slots=True)
class Field(Node):
    """``key: value``; ``key { … }`` means the same as ``key: { … }``.

    ``value`` is a Block only when the braces hold statements (handler fields such as
    ``on_success``); braces holding only fields are an ObjectLit.
    """

    key: Ident
    value: Expr | Block
    _children: ClassVar = ("key", "value")


@dataclass(eq=False, slots=True)
class VarDecl(Node):
    """An input or output declaration: ``name: Type [= expr]``."""

    name: Ident
    type: TypeExpr
    value: Expr | None = None
    _children: ClassVar = ("name", "type", "value")


@dataclass(eq=False, slots=True)
class InputDecl(Node):
    decls: list[VarDecl]
    _children: ClassVar = ("decls",)


@dataclass(eq=False, slots=True)
class OutputDecl(Node):
    decls: list[VarDecl]
    _children: ClassVar = ("decls",)


@dataclass(eq=False, slots=True)
class Block(Node):
    """A braced body: fields, declarations and statements, in source order."""

    items: list[Item]
    _children: ClassVar = ("items",)

    def fields(self) -> list[Field]:
        return [i for i in self.items if isinstance(i, Field)]

    def statements(self) -> list[Stmt]:
        return [i for i in self.items if isinstance(i, Stmt)]

    def get(self, key: str) -> Field | None:
        """The first field named ``key``, if any."""
        for item in self.items:
            if isinstance(item, Field) and item.key.name == key:
                return item
        return None


# ------------------------------------------------------------------ statements
@dataclass(eq=False, slots=True)
class Stmt(Node):
    """Base of statements."""


@dataclass(eq=False, slots=True)
class TaskStmt(Stmt):
    """``task name { fields }``; ``modifiers`` are abstract/final/override (templates)."""

    name: Ident
    body: Block | None
    modifiers: list[str] = field(default_factory=list)
    _children: ClassVar = ("name", "body")


@dataclass(eq=False, slots=True)
class ParallelStmt(Stmt):
    body: Block
    _children: ClassVar = ("body",)


@dataclass(eq=False, slots=True)
class SequenceStmt(Stmt):
    body: Block
    _children: ClassVar = ("body",)


@dataclass(eq=False, slots=True)
class IfStmt(Stmt):
    """``if (cond) {…} else if (…) {…} else {…}``; ``else_`` is a Block or a nested IfStmt."""

    cond: Expr
    then: Block
    else_: Block | IfStmt | None = None
    _children: ClassVar = ("cond", "then", "else_")


@dataclass(eq=False, slots=True)
class CaseClause(Node):
    """``case v1, v2: statements`` or ``default: statements`` (``values`` empty)."""

    values: list[Expr]
    body: list[Stmt]
    is_default: bool = False
    _children: ClassVar = ("values", "body")


@dataclass(eq=False, slots=True)
class SwitchStmt(Stmt):
    subject: Expr
    cases: list[CaseClause]
    _children: ClassVar = ("subject", "cases")


@dataclass(eq=False, slots=True)
class ForeachStmt(Stmt):
    """``foreach item in expr {…}`` or ``foreach item, i in expr {…}``."""

    var: Ident
    index: Ident | None
    iterable: Expr
    body: Block
    _children: ClassVar = ("var", "index", "iterable", "body")


@dataclass(eq=False, slots=True)
class WhileStmt(Stmt):
    cond: Expr
    body: Block
    _children: ClassVar = ("cond", "body")


@dataclass(eq=False, slots=True)
class Arg(Node):
    name: Ident
    value: Expr
    _children: ClassVar = ("name", "value")


@dataclass(eq=False, slots=True)
class UseStmt(Stmt):
    """``use Template(arg: value, …) [as alias]``: instantiate a template."""

    template: Ref
    args: list[Arg]
    alias: Ident | None = None
    _children: ClassVar = ("template", "args", "alias")


@dataclass(eq=False, slots=True)
class ChainStmt(Stmt):
    """``a -> b -> [c, d]``: explicit ordering; each step runs after the step before it."""

    steps: list[list[Ref]]
    _children: ClassVar = ("steps",)


@dataclass(eq=False, slots=True)
class BreakStmt(Stmt):
    pass


@dataclass(eq=False, slots=True)
class ContinueStmt(Stmt):
    pass


Item = Field | InputDecl | OutputDecl | Stmt


# ------------------------------------------------------------------ module level
@dataclass(eq=False, slots=True)
class ImportName(Node):
    name: Ident
    alias: Ident | None = None
    _children: ClassVar = ("name", "alias")


@dataclass(eq=False, slots=True)
class ImportDecl(Node):
    """``import "./lib.twdsl" [as ns]`` or ``import { a, b as c } from "./lib.twdsl"``."""

    path: StringLit
    names: list[ImportName] | None = None
    alias: Ident | None = None
    _children: ClassVar = ("names", "path", "alias")


@dataclass(eq=False, slots=True)
class Decl(Node):
    """Base of module-level declarations; ``exported`` when written after ``export``."""

    name: Ident


@dataclass(eq=False, slots=True)
class WorkflowDecl(Decl):
    body: Block
    exported: bool = False
    _children: ClassVar = ("name", "body")


@dataclass(eq=False, slots=True)
class AgentDecl(Decl):
    """``agent Name { input {…} output {…} }``: an agent's signature."""

    body: Block
    exported: bool = False
    _children: ClassVar = ("name", "body")


@dataclass(eq=False, slots=True)
class TypeDecl(Decl):
    type: TypeExpr
    exported: bool = False
    _children: ClassVar = ("name", "type")


@dataclass(eq=False, slots=True)
class Param(Node):
    """A template parameter: ``name: Type [= default] [where { constraints }]``."""

    name: Ident
    type: TypeExpr
    default: Expr | None = None
    constraints: Block | None = None
    _children: ClassVar = ("name", "type", "default", "constraints")


@dataclass(eq=False, slots=True)
class TemplateDecl(Decl):
    params: list[Param]
    extends: list[Ref]
    body: Block
    modifiers: list[str] = field(default_factory=list)
    exported: bool = False
    _children: ClassVar = ("name", "params", "extends", "body")


@dataclass(eq=False, slots=True)
class Module(Node):
    """A file: imports and declarations in order; ``comments`` are kept for the formatter."""

    items: list[ImportDecl | Decl]
    comments: list[Any] = field(default_factory=list)  # list[lexer.Comment]
    _children: ClassVar = ("items",)

    def declarations(self) -> list[Decl]:
        return [i for i in self.items if isinstance(i, Decl)]


# ------------------------------------------------------------------ visitor and dump
class Visitor:
    """Dispatch on node class: ``visit_TaskStmt(node)``; ``generic_visit`` visits children.

    >>> class Count(Visitor):
    ...     def __init__(self): self.n = 0
    ...     def visit_TaskStmt(self, node): self.n += 1; self.generic_visit(node)
    >>> from twdsl.syntax.parser import parse
    >>> c = Count(); c.visit(parse('workflow W { task a { agent: "x" } }').module); c.n
    1
    """

    def visit(self, node: Node) -> Any:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return self.generic_visit(node)
        return method(node)

    def generic_visit(self, node: Node) -> None:
        for child in node.children():
            self.visit(child)


_SKIP = frozenset({"span", "comments", "raw"})


def dump(node: Any, spans: bool = True) -> Any:
    """A plain, comparable tree of the AST for snapshots and round-trip tests.

    With ``spans=False`` two ASTs compare equal when they mean the same program,
    however they were laid out.
    """
    if isinstance(node, list):
        return [dump(n, spans) for n in node]
    if not isinstance(node, Node):
        return node
    out: dict[str, Any] = {"node": type(node).__name__}
    if spans:
        s = node.span
        out["at"] = f"{s.line}:{s.column}-{s.end_line}:{s.end_column}"
    for f in fields(node):
        if f.name in _SKIP:
            continue
        out[f.name] = dump(getattr(node, f.name), spans)
    return out
