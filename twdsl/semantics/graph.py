"""The dependency graph: which task runs after which, and why (networkx).

Edges come from four places (docs/language.md, question 1):
- the written order: a statement of a workflow body, a sequence, a branch or a loop body
  starts after the statement before it has finished (parallel children do not wait for each
  other), and a task's handler blocks run after the task;
- ``depends: [a, b]``;
- ordering chains ``a -> b -> [c, d]``;
- data: a task whose fields read task ``t`` runs after ``t``, and a block whose header
  (``if``, ``switch``, ``foreach``, ``while``) reads ``t`` starts after ``t``.

A cycle in this graph can never run; it is reported once per strongly connected component,
naming the cycle and, as related locations, why each edge exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twdsl.diagnostics import Diagnostic, Related, Severity
from twdsl.lang.cycles import find_cycle
from twdsl.semantics.names import Model, handler_items
from twdsl.source import Span
from twdsl.syntax import ast as A

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an edge exists: its kind and the source that made it."""

    kind: str  # "order", "depends", "chain", "data", "handler"
    span: Span

    def describe(self, before: str, after: str) -> str:
        return {
            "order": f"'{after}' comes after '{before}' in the written order",
            "depends": f"'{after}' depends on '{before}'",
            "chain": f"the chain orders '{before}' before '{after}'",
            "data": f"'{after}' reads the result of '{before}'",
            "handler": f"'{after}' is a handler of '{before}'",
        }[self.kind]


class TaskGraph:
    """Tasks and the edges between them (``a`` before ``b``), each with the first reason it
    exists.  Small on purpose: a check of a program with no cycle never needs more (networkx,
    which costs a tenth of a second to import, is used only to explain a cycle)."""

    def __init__(self) -> None:
        self.reasons: dict[tuple[str, str], Reason] = {}
        self.after: dict[str, list[str]] = {}  # task -> the tasks it waits for

    def add_nodes_from(self, names: Iterable[str]) -> None:
        for n in names:
            self.after.setdefault(n, [])

    def __contains__(self, name: object) -> bool:
        return name in self.after

    def has_edge(self, a: str, b: str) -> bool:
        return (a, b) in self.reasons

    def add_edge(self, a: str, b: str, reason: Reason) -> None:
        self.after.setdefault(a, [])
        self.after.setdefault(b, []).append(a)
        self.reasons[(a, b)] = reason

    def edges(self, data: str | None = None) -> list[tuple[str, str, Reason]] | list[
            tuple[str, str]]:
        if data is None:
            return list(self.reasons)
        return [(a, b, r) for (a, b), r in self.reasons.items()]

    def to_networkx(self) -> nx.DiGraph:
        import networkx as nx

        g: nx.DiGraph = nx.DiGraph()
        g.add_nodes_from(self.after)
        for (a, b), r in self.reasons.items():
            g.add_edge(a, b, reason=r)
        return g


def build_graph(model: Model) -> TaskGraph:
    """The task graph of one workflow or template; each edge has a ``reason``.

    >>> from twdsl.syntax.parser import parse
    >>> from twdsl.semantics.names import Resolver
    >>> src = 'workflow W { task a { agent: "A" } task b { agent: "B" input: { x: a.result } } }'
    >>> (m,) = Resolver(parse(src).module).run()
    >>> sorted(build_graph(m).edges(data="reason"))[0][:2]
    ('a', 'b')
    """
    g = TaskGraph()
    g.add_nodes_from(model.tasks)
    builder = _OrderEdges(g, model)
    builder.seq(model.decl.body.items, frozenset())
    for ref, user in model.order_refs:
        _edge(g, ref.parts[0].name, user, Reason("depends", ref.span))
    for node in model.decl.body.walk():
        if isinstance(node, A.ChainStmt):
            for before, after in zip(node.steps, node.steps[1:], strict=False):
                for r1 in before:
                    for r2 in after:
                        _edge(g, r1.parts[0].name, r2.parts[0].name, Reason("chain", node.span))
    for read in model.refs:
        if read.user is not None:
            _edge(g, read.target, read.user, Reason("data", read.node.span))
        elif read.block is not None:
            if isinstance(read.block, A.WhileStmt) and read.block in model.tasks[read.target].loops:
                continue  # a while condition reads the latest iteration of its own body
            for entry in builder.entries.get(id(read.block), ()):
                _edge(g, read.target, entry, Reason("data", read.node.span))
    return g


def _edge(g: TaskGraph, a: str, b: str, reason: Reason) -> None:
    if a not in g or b not in g:
        return  # an unknown task: reported by name resolution
    if not g.has_edge(a, b):  # keep the first reason: the written order comes first
        g.add_edge(a, b, reason)
    elif reason.kind != "order" and g.reasons[a, b].kind == "order":
        g.reasons[a, b] = reason  # an explicit reason explains better than order


class _OrderEdges:
    """Edges of the written order.  ``seq`` returns the tasks a following statement waits for."""

    def __init__(self, g: TaskGraph, model: Model) -> None:
        self.g = g
        self.model = model
        self.entries: dict[int, set[str]] = {}  # block statement -> its first tasks
        self._tasks: dict[int, frozenset[str]] = {}  # node -> the tasks below it (memo)

    def tasks_in(self, s: A.Node) -> frozenset[str]:
        """The tasks in ``s`` at any depth, each node's set made once from its children's
        (a walk per block made nested blocks quadratic in their depth)."""
        memo = self._tasks
        stack: list[tuple[A.Node, bool]] = [(s, False)]
        while stack:
            node, ready = stack.pop()
            if id(node) in memo:
                continue
            kids = list(node.children())
            if not ready:
                stack.append((node, True))
                stack.extend((k, False) for k in kids if id(k) not in memo)
                continue
            found: set[str] = set()
            for k in kids:
                found |= memo[id(k)]
            if isinstance(node, A.TaskStmt):
                found.add(node.name.name)
            memo[id(node)] = frozenset(found)
        return memo[id(s)]

    def seq(self, items: Iterable[A.Node], preds: frozenset[str]) -> frozenset[str]:
        for item in items:
            if isinstance(item, A.Stmt):
                preds = self.stmt(item, preds)
        return preds

    def stmt(self, s: A.Stmt, preds: frozenset[str]) -> frozenset[str]:
        if isinstance(s, A.TaskStmt):
            name = s.name.name
            if self.model.tasks.get(name) is None or self.model.tasks[name].node is not s:
                return preds  # a duplicate declaration: reported by name resolution
            for p in preds:
                _edge(self.g, p, name, Reason("order", s.span))
            exits = {name}
            if s.body is not None:
                for h in handler_items(s.body):
                    exits |= self.stmt_or_field(h, frozenset({name}), handler=True)
            return frozenset(exits)
        if isinstance(s, A.SequenceStmt):
            return self.block(s, s.body.items, preds)
        if isinstance(s, A.ParallelStmt):
            self.entries[id(s)] = set()
            ends: set[str] = set()
            for child in s.body.statements():
                ends |= self.stmt(child, preds)
            return frozenset(ends) or preds
        if isinstance(s, A.IfStmt):
            out = set(self.block(s, s.then.items, preds))
            if isinstance(s.else_, A.IfStmt):
                out |= self.stmt(s.else_, preds)
            elif s.else_ is not None:
                out |= self.block(s, s.else_.items, preds)
            else:
                out |= preds
            return frozenset(out)
        if isinstance(s, A.SwitchStmt):
            out = set()
            for case in s.cases:
                out |= self.block(s, case.body, preds)
            if not any(c.is_default for c in s.cases):
                out |= preds
            return frozenset(out)
        if isinstance(s, (A.ForeachStmt, A.WhileStmt)):
            return self.block(s, s.body.items, preds) | preds
        return preds  # chains, use, break, continue: no tasks of their own

    def stmt_or_field(self, node: A.Node, preds: frozenset[str], handler: bool) -> frozenset[str]:
        if isinstance(node, A.Stmt):
            if handler and isinstance(node, A.TaskStmt):
                for p in preds:
                    _edge(self.g, p, node.name.name, Reason("handler", node.span))
            return self.stmt(node, preds)
        if isinstance(node, A.Field) and isinstance(node.value, A.Block):
            return self.seq(node.value.items, preds) | preds
        return preds

    def block(self, owner: A.Stmt, items: Iterable[A.Node],
              preds: frozenset[str]) -> frozenset[str]:
        """A list of statements run in order; records its first tasks for header data edges."""
        first: set[str] = set()
        exits = preds
        started = False
        for item in items:
            if not isinstance(item, A.Stmt):
                continue
            exits = self.stmt(item, exits)
            if not started:
                first |= self.tasks_in(item)
                started = bool(first) or started
        self.entries.setdefault(id(owner), set()).update(first)
        return exits




def _shortest_cycle(g: Any, start: str) -> list[str]:
    """The shortest cycle through ``start`` (the one a reader can follow), ties broken by name."""
    best: list[str] | None = None
    import networkx as nx

    for succ in sorted(g.successors(start)):
        if succ == start:
            return [start]
        path = nx.shortest_path(g, succ, start)
        if best is None or len(path) < len(best):
            best = path
    assert best is not None
    return [start, *best[:-1]]


def check_graph(model: Model, graph: TaskGraph) -> list[Diagnostic]:
    """Dependency cycles, one diagnostic per strongly connected component."""
    diags: list[Diagnostic] = []
    if not find_cycle(graph.after):
        return diags
    import networkx as nx

    g = graph.to_networkx()
    tasks = model.tasks
    for comp in nx.strongly_connected_components(g):
        if len(comp) == 1:
            (only,) = comp
            if not g.has_edge(only, only):
                continue
        sub = g.subgraph(comp)
        start = min(comp, key=lambda t: tasks[t].node.span.start)
        cycle = _shortest_cycle(sub, start)
        edges = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
        names = " -> ".join([*cycle, cycle[0]])
        related = tuple(Related(g.edges[a, b]["reason"].span,
                                g.edges[a, b]["reason"].describe(a, b)) for a, b in edges)
        diags.append(Diagnostic(
            "TW401", Severity.ERROR,
            f"dependency cycle: {names}; these tasks can never start", tasks[start].node.name.span,
            related))
    return diags
