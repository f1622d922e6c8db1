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
from twdsl.lang.cycles import block_cycle, block_cycle_message, find_cycle, lift
from twdsl.semantics.names import Model, handler_items
from twdsl.source import Span, keyword_span
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
    """Dependency cycles, one diagnostic per strongly connected component; with none, the
    cycles of blocks the edges close (TW402)."""
    diags: list[Diagnostic] = []
    if not find_cycle(graph.after):
        return check_blocks(model, graph)
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


_KIND = {A.SequenceStmt: "sequence", A.ParallelStmt: "parallel", A.IfStmt: "if",
         A.SwitchStmt: "switch", A.ForeachStmt: "foreach", A.WhileStmt: "while"}


class _Blocks:
    """The blocks of a body as lowering makes them (twdsl/lowering/statements.py): the body,
    a sequence, a parallel, each branch, case and loop body, each handler block of a task and
    a template instance are blocks; an if, a switch, a loop and a task hold blocks but are
    not blocks themselves.  ``parent`` maps every statement and block (by ``id``) to what
    holds it."""

    def __init__(self) -> None:
        self.parent: dict[int, int | None] = {}
        self.depth: dict[int, int] = {}
        self.blocks: dict[int, list[A.Stmt]] = {}  # a block -> its child statements
        self.parallel: set[int] = set()  # the blocks whose children do not wait in turn
        self.task: dict[str, int] = {}  # a task's name -> its statement
        self.uses: dict[str, int] = {}  # an instance's alias -> its use statement
        self.same: dict[int, int] = {}  # an else-if -> the if it continues (one node)
        self.chains: list[A.ChainStmt] = []

    def hold(self, node: int, holder: int | None) -> None:
        self.parent[node] = holder
        self.depth[node] = 0 if holder is None else self.depth[holder] + 1

    def block(self, key: A.Node, items: Iterable[A.Node], holder: int | None) -> None:
        self.hold(id(key), holder)
        children = self.blocks.setdefault(id(key), [])
        for item in items:
            if isinstance(item, A.Stmt):
                children.append(item)
                self.stmt(item, id(key))

    def stmt(self, s: A.Stmt, holder: int) -> None:
        me = id(s)
        if isinstance(s, (A.SequenceStmt, A.ParallelStmt)):
            if isinstance(s, A.ParallelStmt):
                self.parallel.add(me)
            self.block(s, s.body.items, holder)  # the statement is the block
            return
        self.hold(me, holder)
        if isinstance(s, A.TaskStmt):
            self.task.setdefault(s.name.name, me)
            if s.body is not None:
                for f in s.body.fields():
                    self.handlers(f, me)
        elif isinstance(s, A.IfStmt):
            cur: A.IfStmt | None = s
            while cur is not None:  # else-if branches are branches of the first if
                self.same[id(cur)] = me
                self.block(cur.then, cur.then.items, me)
                nxt = cur.else_
                if isinstance(nxt, A.Block):
                    self.block(nxt, nxt.items, me)
                cur = nxt if isinstance(nxt, A.IfStmt) else None
        elif isinstance(s, A.UseStmt):
            if s.alias is not None:  # its tasks are one leaf here: a block of the instance's
                self.uses.setdefault(s.alias.name, me)
        elif isinstance(s, A.ChainStmt):
            self.chains.append(s)
        elif isinstance(s, A.SwitchStmt):
            for case in s.cases:
                self.block(case, case.body, me)
        elif isinstance(s, (A.ForeachStmt, A.WhileStmt)):
            self.block(s.body, s.body.items, me)

    def leaf(self, ref: A.Ref) -> int | None:
        """What a task reference names here: a task, or the instance holding ``alias.task``."""
        if len(ref.parts) > 1:
            return self.uses.get(ref.parts[0].name)
        return self.task.get(ref.parts[0].name)

    def reader(self, user: str | None, block: A.Stmt | None) -> int | None:
        if user is not None:
            return self.task.get(user)
        return None if block is None else self.same.get(id(block), id(block))

    def handlers(self, f: A.Field, owner: int | None) -> None:
        """A task's handler blocks, each held by the task (on_error's own statements, its
        fallback and compensate blocks, on_success)."""
        if f.key.name not in ("on_success", "on_error", "fallback", "compensate"):
            return
        v = f.value
        if isinstance(v, A.Block):
            self.block(v, v.items, owner)
            for inner in v.fields():
                self.handlers(inner, owner)
        elif isinstance(v, A.ObjectLit):
            for inner in v.fields:
                self.handlers(inner, owner)


def check_blocks(model: Model, graph: TaskGraph) -> list[Diagnostic]:
    """TW402: blocks that each wait for a task in the other (the rule of
    :mod:`twdsl.lang.cycles`, applied here to the syntax tree and by lowering to the IR).
    The edges are the task graph's, and those it leaves out: an instance of a template is one
    leaf (its tasks form no cycle with the workflow's that the instance's block would not),
    and a block's header waits as a whole."""
    tree = _Blocks()
    body = model.decl.body
    tree.block(body, body.items, None)
    for f in body.fields():  # the workflow's own handlers: run after the body, roots apart
        tree.handlers(f, None)
    edges: list[tuple[int | None, int | None]] = [
        (tree.task.get(a), tree.task.get(b)) for a, b in graph.reasons]
    # what the task graph leaves out: template instances (one leaf each) and block headers
    edges += [(tree.uses.get(ref.parts[0].name), tree.task.get(user))
              for ref, user in model.order_refs if len(ref.parts) > 1]
    edges += [(tree.leaf(r1), tree.leaf(r2)) for chain in tree.chains
              for before, after in zip(chain.steps, chain.steps[1:], strict=False)
              for r1 in before for r2 in after if len(r1.parts) > 1 or len(r2.parts) > 1]
    edges += [(tree.task.get(read.target), tree.reader(None, read.block))
              for read in model.refs if read.block is not None]
    edges += [(tree.uses.get(alias), tree.reader(user, block))
              for alias, _node, user, block in model.instance_reads]
    lifted: dict[int, dict[int, list[int]]] = {}
    for ta, tb in edges:
        if ta is None or tb is None or tb not in tree.parent:
            continue  # inherited from another template, or unknown (reported elsewhere)
        found = lift(ta, tb, tree.parent.__getitem__, tree.depth.__getitem__)
        if found is None or found[0] not in tree.blocks:
            continue  # one holds the other, or both in branches of one if, switch or task
        common, ca, cb = found
        into = lifted.setdefault(common, {}).setdefault(cb, [])
        if ca not in into:
            into.append(ca)
    diags: list[Diagnostic] = []
    for common, waits in lifted.items():
        children = tree.blocks[common]
        after = {id(c): list(waits.get(id(c), ())) for c in children}
        if common not in tree.parallel:  # the written order, as lowering adds it
            for prev, c in zip(children, children[1:], strict=False):
                after[id(c)].append(id(prev))
        cycle = block_cycle([id(c) for c in children], after)
        if cycle:
            by_id = {id(c): c for c in children}
            first, second = by_id[cycle[0]], by_id[cycle[1 % len(cycle)]]
            diags.append(Diagnostic("TW402", Severity.ERROR,
                                    block_cycle_message(_label(first), _label(second)),
                                    _head(first)))
    return diags


def _label(s: A.Stmt) -> str:
    """How TW402 names a block's child (as lowering's ``label`` does)."""
    if isinstance(s, A.TaskStmt):
        return s.name.name
    if isinstance(s, A.UseStmt):  # lowering's label of an instance: its alias, else template
        kind = f"use {s.alias.name if s.alias is not None else s.template.dotted}"
    else:
        kind = _KIND.get(type(s), "block")
    return f"{kind} at line {s.span.line}"


def _head(s: A.Stmt) -> Span:
    """Where TW402 points: the statement's first keyword (:func:`keyword_span`)."""
    kind = "task" if isinstance(s, A.TaskStmt) else "use" if isinstance(s, A.UseStmt) \
        else _KIND.get(type(s), "")
    return keyword_span(s.span, kind)
