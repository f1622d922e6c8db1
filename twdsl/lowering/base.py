"""What every part of lowering shares: the lowerer's state and helpers, the scope of names
at a place, the file contexts, and the stand-ins for errors.  Each job of lowering is a mixin of
:class:`LowererBase` in a module of its own (statements, templates, tasks, expressions,
ordering); :class:`twdsl.lowering.Lowerer` combines them.  The methods below the state are the
jobs' entry points, declared here so that each part can call the others."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from twdsl.diagnostics import Diagnostic
from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.lang import types as T
from twdsl.lang.kinds import ErrorKind
from twdsl.semantics import policies as P
from twdsl.semantics.declarations import Declarations
from twdsl.semantics.model import FileScope
from twdsl.semantics.templates import Templates
from twdsl.source import SourceFile, Span
from twdsl.syntax import ast as A
from twdsl.syntax.fields import CONTAINERS


class Abort(Exception):
    """A construct lowering cannot handle: reported as a diagnostic at ``node``."""

    def __init__(self, message: str, node: A.Node) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


@dataclass(slots=True)
class Scope:
    """What names mean at one place: the tasks visible (name → node id), template instances
    (alias → their tasks), locals (loop variables, lambda and template parameters) and
    constants (template arguments that are literals, for policies)."""

    tasks: dict[str, str]
    instances: dict[str, dict[str, str]] = field(default_factory=dict)
    locals: frozenset[str] = frozenset()
    consts: dict[str, A.Expr] = field(default_factory=dict)
    prefix: str = ""

    def with_locals(self, names: Iterable[str]) -> Scope:
        return Scope(self.tasks, self.instances, self.locals | frozenset(names), self.consts,
                      self.prefix)


class FileContext:
    """What every workflow of one file shares when it is lowered: the file's scope (its
    semantic model's: agents, types, templates, resolved once by the checker), the IR entries
    of its agents and the tasks of its templates, and the source's hash.

    Made once per file: made per workflow, it made lowering a file's workflows cost time
    quadratic in the file's size.  The IR models it keeps (an agent's
    :class:`~twdsl.ir.model.AgentInfo`) are never edited once made (the passes edit copies of
    nodes, never agents).  A template of another file is expanded in that file's context
    (:meth:`Lowerer.use`), made from that file's scope."""

    def __init__(self, scope: FileScope, source: SourceFile | None) -> None:
        self.scope = scope
        self.module = scope.module
        self.source = source
        self.path = scope.path
        self.agent_decls = scope.agent_decls
        self.templates = scope.templates
        self.declarations = scope.declarations
        self.sha256 = hashlib.sha256(source.text.encode()).hexdigest() if source else ""
        self.agents: dict[str, M.AgentInfo] = {}  # declared agents' IR entries, by name
        #: template → its statements' tasks and aliased instances (alias → task names)
        self.template_scans: dict[str, Scan] = {}


@dataclass(slots=True)
class Scan:
    """The tasks and the aliased template instances (alias → the template's task names)
    among some statements, at any depth: what a scope is made of."""

    tasks: list[A.TaskStmt]
    instances: dict[str, list[str]]

    def instance_ids(self, prefix: str) -> dict[str, dict[str, str]]:
        return {alias: {t: f"{prefix}{alias}.{t}" for t in tasks}
                for alias, tasks in self.instances.items()}


class LowererBase:
    """The state of one workflow's lowering, and what every part reads."""

    def __init__(self, context: FileContext) -> None:
        self.context = context  # the file whose declarations are being lowered
        self.main = context  # the file of the workflow
        self.contexts: dict[str, FileContext] = {context.path: context}
        self.nodes: dict[str, M.Node] = {}
        self.counts: dict[str, int] = {}
        self.edges: list[tuple[str, str, A.Node]] = []  # (before, after, why) node ids
        self.agents: dict[str, M.AgentInfo] = {}
        self.diags: list[Diagnostic] = []
        self.default_retry: M.RetryPolicy | None = None
        self.reads: list[str] = []  # the tasks read by the expression being lowered
        self.task_stmts: dict[str, A.TaskStmt] = {}  # the workflow's tasks, by name
        self.depths: dict[str, int] = {}  # node id -> how many nodes hold it (ordering.py)

    # ------------------------------------------------------------------ helpers
    @property
    def path(self) -> str:
        return self.main.path

    @property
    def agent_decls(self) -> dict[str, A.AgentDecl]:
        return self.context.agent_decls

    @property
    def templates(self) -> Templates:
        return self.context.templates

    @property
    def declarations(self) -> Declarations:
        return self.context.declarations

    def src(self, node: A.Node) -> M.SourceRef:
        s = node.span  # the file the node is in: a template may come from another file
        return M.SourceRef(file=s.file, line=s.line, column=s.column,
                           end_line=s.end_line, end_column=s.end_column)

    def new_id(self, kind: str, prefix: str = "") -> str:
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        return f"{prefix}{kind}#{n}"

    def add(self, node: M.Node) -> M.Node:
        self.nodes[node.id] = node
        return node

    # ------------------------------------------------------------------ the parts' entry points
    def workflow(self, decl: A.WorkflowDecl) -> M.Program:
        raise NotImplementedError  # twdsl/lowering/statements.py

    def scan(self, items: Iterable[A.Node]) -> Scan:
        raise NotImplementedError  # twdsl/lowering/statements.py

    def block(self, items: Iterable[A.Node], scope: Scope, parent: str | None, role: str,
              owner: A.Node, sequential: bool = True, **options: object) -> str:
        raise NotImplementedError  # twdsl/lowering/statements.py

    def order(self, child: str, prev: str) -> None:
        raise NotImplementedError  # twdsl/lowering/statements.py

    def stmt(self, s: A.Stmt, scope: Scope, parent: str) -> list[str]:
        raise NotImplementedError  # twdsl/lowering/statements.py

    def block_options(self, body: A.Block, scope: Scope, parallel: bool) -> dict[str, object]:
        raise NotImplementedError  # twdsl/lowering/statements.py

    def use(self, s: A.UseStmt, scope: Scope, parent: str) -> str:
        raise NotImplementedError  # twdsl/lowering/templates.py

    def context_of(self, templates: Templates) -> FileContext:
        raise NotImplementedError  # twdsl/lowering/templates.py

    def task(self, s: A.TaskStmt, scope: Scope, parent: str) -> str:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def agent(self, v: A.Expr | A.Block | None, task: A.TaskStmt) -> tuple[str, A.AgentDecl | None]:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def on_error(self, v: A.Expr | A.Block, scope: Scope, owner: str | None) -> M.ErrorHandler:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def named_fallback(self, fb: A.Name, scope: Scope, owner: str | None) -> str:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def handler_block(self, v: A.Expr | A.Block, scope: Scope, owner: str | None) -> str:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def retry(self, v: A.Expr | A.Block, scope: Scope) -> M.RetryPolicy:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def cache(self, v: A.Expr | A.Block, scope: Scope, nid: str) -> M.CachePolicy | None:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def kinds(self, v: A.Expr | A.Block) -> list[ErrorKind]:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def policy(self, read: Any, v: A.Node, *args: Any) -> Any:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def const_in(self, scope: Scope) -> P.Const:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def duration(self, v: A.Expr | A.Block, scope: Scope) -> float:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def number(self, v: A.Expr | A.Block, scope: Scope) -> float:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def count(self, v: A.Expr | A.Block, scope: Scope, zero: bool = False) -> int:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def boolean(self, v: A.Expr | A.Block, scope: Scope) -> bool:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def string(self, f: A.Field | None) -> str | None:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def type_ref(self, t: T.Type) -> M.TypeRef:
        raise NotImplementedError  # twdsl/lowering/tasks.py

    def expr_or_block(self, v: A.Expr | A.Block, scope: Scope, reader: str) -> X.Expr:
        raise NotImplementedError  # twdsl/lowering/expressions.py

    def expr(self, e: A.Expr | A.Block, scope: Scope, reader: str | None = None) -> X.Expr:
        raise NotImplementedError  # twdsl/lowering/expressions.py

    def _expr(self, e: A.Expr, scope: Scope) -> X.Expr:
        raise NotImplementedError  # twdsl/lowering/expressions.py

    def task_of_expr(self, e: A.Node, scope: Scope) -> str | None:
        raise NotImplementedError  # twdsl/lowering/expressions.py

    def task_of_ref(self, r: A.Ref, scope: Scope) -> str | None:
        raise NotImplementedError  # twdsl/lowering/expressions.py

    def depth(self, nid: str) -> int:
        raise NotImplementedError  # twdsl/lowering/ordering.py

    def lift_edges(self) -> None:
        raise NotImplementedError  # twdsl/lowering/ordering.py

    def check_cycles(self) -> None:
        raise NotImplementedError  # twdsl/lowering/ordering.py

    def label(self, nid: str) -> str:
        raise NotImplementedError  # twdsl/lowering/ordering.py


@dataclass(eq=False, slots=True)
class SpanNode(A.Node):
    """A stand-in node carrying only a span, for errors about IR nodes."""


def span_of(src: M.SourceRef | None, source: SourceFile | None) -> Span:
    if source is None or src is None or src.file != source.path:
        if src is None:
            return Span(source.path if source else "", 0, 0, 1, 1, 1, 1)
        return Span(src.file, 0, 0, src.line, src.column, src.end_line, src.end_column)
    start = source.offset(src.line, src.column)
    end = source.offset(src.end_line, src.end_column)
    return source.span(start, max(start, end))




def walk_stmts(items: Iterable[A.Node]) -> Iterator[A.Node]:
    """The statements among ``items`` and every node below them that may hold one, depth
    first in source order.  In a module that checked (the only kind lowered), statements
    are only in statement bodies and in the block-valued fields (``on_error``, ``fallback``…:
    TW122 rejects them anywhere else), so nothing else is entered: not a task's input, which
    holds most of a file's nodes (walking every node of every workflow, several times, was
    most of lowering's time)."""
    stack: list[A.Node] = [i for i in reversed(list(items)) if isinstance(i, A.Stmt)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in reversed(list(node.children())) if _may_hold_stmts(c))


#: The fields whose value may be a block of statements (on_error, on_success, fallback…).
_BLOCK_FIELDS = frozenset(f.name for c in CONTAINERS.values() for f in c.fields if f.block)


def _may_hold_stmts(node: A.Node) -> bool:
    if isinstance(node, (A.Stmt, A.Block, A.CaseClause)):
        return True
    if isinstance(node, A.Field):
        return node.key.name in _BLOCK_FIELDS
    return isinstance(node, A.ObjectLit)  # a handler's value: `on_error: { fallback … }`
