"""IR invariants, checked after lowering and after every optimizer pass.

A program that breaks one was made wrong by the compiler, never by the user: the error says
so (``IRInvariantError``), and the CLI reports it as an internal error with a request to
report it.
"""

from __future__ import annotations

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir import tree
from twdsl.lang.cycles import find_cycle


class IRInvariantError(Exception):
    """A compiler bug: the IR does not hold one of its invariants."""


#: What the checks of one expression found, by ``id`` of the expression (which the entry
#: keeps alive, so the id is not reused): the task ids it reads, in order, and its problems
#: that do not depend on the program (see :func:`_facts`).
Memo = dict[int, tuple[X.Expr, list[str], list[str]]]


def validate(program: M.Program, after: str = "lowering", memo: Memo | None = None) -> None:
    """Raise :class:`IRInvariantError` naming every broken invariant (``after``: the stage
    that produced ``program``, for the message).  ``memo``: shared by the checks of
    successive versions of one program (twdsl.passes.run_passes), whose expressions are
    mostly the same frozen objects, so that each is walked once, not after every pass."""
    problems = problems_of(program, memo)
    if problems:
        raise IRInvariantError(
            f"internal compiler error: the IR is invalid after {after} (a bug in twdsl; "
            "please report it with the workflow):\n  " + "\n  ".join(problems))


def problems_of(program: M.Program, memo: Memo | None = None) -> list[str]:
    nodes = program.nodes
    if memo is None:
        memo = {}
    out: list[str] = []

    def ref(owner: str, what: str, nid: str | None, kind: type | None = None) -> None:
        if nid is None:
            return
        n = nodes.get(nid)
        if n is None:
            out.append(f"{owner}: {what} '{nid}' is not a node")
        elif kind is not None and not isinstance(n, kind):
            out.append(f"{owner}: {what} '{nid}' is a {n.kind}, not a {kind.__name__}")

    for key, node in nodes.items():
        if key != node.id:
            out.append(f"node '{key}' has id '{node.id}'")
    ref("program", "root", program.root, M.BlockNode)
    ref("program", "on_success", program.on_success, M.BlockNode)
    _handler("program", program.on_error, ref, out)
    for d in program.inputs:
        if d.default is not None:
            _exprs(f"input {d.name}", [d.default], nodes, out, memo)
    for o in program.outputs:
        if o.value is not None:
            _exprs(f"output {o.name}", [o.value], nodes, out, memo)
    children_of: dict[str, str] = {}
    for node in nodes.values():
        owner = f"{node.kind} '{node.id}'"
        ref(owner, "parent", node.parent)
        if isinstance(node, M.BlockNode):
            for c in node.children:
                ref(owner, "child", c)
                if c in children_of:
                    out.append(f"'{c}' is a child of both '{children_of[c]}' and '{node.id}'")
                children_of[c] = node.id
                if c in nodes and nodes[c].parent != node.id:
                    out.append(f"child '{c}' of '{node.id}' names parent '{nodes[c].parent}'")
            siblings = set(node.children)
            for c in node.children:
                for a in nodes[c].after if c in nodes else []:
                    if a not in siblings:
                        out.append(f"'{c}' waits for '{a}', which is not its sibling")
                for a in nodes[c].order_only if c in nodes else []:
                    if a not in nodes[c].after:
                        out.append(f"'{c}': order-only edge to '{a}' is not in its after")
            cyc = find_cycle({c: nodes[c].after for c in node.children if c in nodes})
            if cyc:
                out.append(f"block '{node.id}': its children wait in a cycle: "
                           f"{' -> '.join([*cyc, cyc[0]])}")
            if node.max_concurrency is not None and node.max_concurrency < 1:
                out.append(f"{owner}: max_concurrency {node.max_concurrency} < 1")
            _positive(owner, "timeout", node.timeout, out)
            _exprs(owner, list(node.bindings.values()), nodes, out, memo)
        elif isinstance(node, M.TaskNode):
            _exprs(owner, [e for e in (node.input, node.when) if e is not None], nodes, out, memo)
            if node.cache is not None and node.cache.key is not None:
                _exprs(owner, [node.cache.key], nodes, out, memo)
            _positive(owner, "timeout", node.timeout, out)
            _retry(owner, node.retry, out)
            ref(owner, "on_success", node.on_success, M.BlockNode)
            _handler(owner, node.on_error, ref, out)
            if node.agent not in program.agents:
                out.append(f"{owner}: agent '{node.agent}' is not in the program's agents")
        elif isinstance(node, M.IfNode):
            for b in node.branches:
                ref(owner, "branch", b.body, M.BlockNode)
            _exprs(owner, [b.cond for b in node.branches], nodes, out, memo)
            ref(owner, "else", node.otherwise, M.BlockNode)
        elif isinstance(node, M.SwitchNode):
            for case in node.cases:
                ref(owner, "case", case.body, M.BlockNode)
                _exprs(owner, case.values, nodes, out, memo)
            _exprs(owner, [node.subject], nodes, out, memo)
            ref(owner, "default", node.default, M.BlockNode)
        elif isinstance(node, (M.ForeachNode, M.WhileNode)):
            ref(owner, "body", node.body, M.BlockNode)
            _exprs(owner, [node.items if isinstance(node, M.ForeachNode) else node.cond],
                   nodes, out, memo)
            if isinstance(node, M.WhileNode) and node.max_iterations < 1:
                out.append(f"{owner}: max_iterations {node.max_iterations} < 1")
            if isinstance(node, M.ForeachNode) and node.max_concurrency is not None and \
                    node.max_concurrency < 1:
                out.append(f"{owner}: max_concurrency {node.max_concurrency} < 1")
    _reachability(program, out)
    return out


def _reachability(program: M.Program, out: list[str]) -> None:
    """Every node is held once (by a block, a branch, a loop or a handler) and is reachable
    from the program's roots; a held node names its holder as parent."""
    nodes = program.nodes
    held: dict[str, str] = {}
    owns = {nid: tree.owned(node) for nid, node in nodes.items()}
    for node in nodes.values():
        for c in owns[node.id]:
            if c in held and held[c] != node.id:
                out.append(f"'{c}' is held by both '{held[c]}' and '{node.id}'")
            held[c] = node.id
            if c in nodes and not isinstance(node, M.BlockNode) and nodes[c].parent != node.id:
                out.append(f"'{c}' (held by '{node.id}') names parent '{nodes[c].parent}'")
    for r in tree.program_roots(program):
        if r in held:
            out.append(f"'{r}' is a root of the program but held by '{held[r]}'")
    seen: set[str] = set()  # what tree.order(program) reaches, with each owned list made once
    stack = tree.program_roots(program)
    while stack:
        nid = stack.pop()
        if nid in nodes and nid not in seen:
            seen.add(nid)
            stack.extend(owns[nid])
    for nid in nodes:
        if nid not in seen:
            out.append(f"node '{nid}' is not reachable from the program's root")


def _exprs(owner: str, exprs: list[X.Expr], nodes: dict[str, M.Node], out: list[str],
           memo: Memo) -> None:
    for e in exprs:
        reads, problems = _facts(e, memo)
        for t in reads:
            if not isinstance(nodes.get(t), M.TaskNode):
                out.append(f"{owner}: an expression reads task '{t}', which is not a task")
        out.extend(f"{owner}: {p}" for p in problems)


def _facts(e: X.Expr, memo: Memo) -> tuple[list[str], list[str]]:
    """The tasks ``e`` reads (one per read, in order) and its problems that hold whatever the
    program around it (its lets), from ``memo`` when ``e`` was checked before."""
    known = memo.get(id(e))
    if known is not None:
        return known[1], known[2]
    reads = [x.node for x in X.walk(e) if isinstance(x, X.TaskField)]
    problems: list[str] = []
    _lets(e, problems)
    memo[id(e)] = (e, reads, problems)
    return reads, problems


def _lets(e: X.Expr, out: list[str]) -> None:
    """A name the compiler invented (X.COMPILER_PREFIX) is read only inside the let that
    binds it, and a let binds only such names (so it never shadows a user's name)."""
    stack: list[tuple[X.Expr, frozenset[str]]] = [(e, frozenset())]
    while stack:
        x, bound = stack.pop()
        if isinstance(x, X.Var):
            if x.name.startswith(X.COMPILER_PREFIX) and x.name not in bound:
                out.append(f"an expression reads '{x.name}', which no enclosing let binds")
        elif isinstance(x, X.Let):
            if not x.name.startswith(X.COMPILER_PREFIX):
                out.append(f"a let binds '{x.name}', which does not start with "
                           f"'{X.COMPILER_PREFIX}' (it could shadow a name of the workflow)")
            stack.append((x.value, bound))
            stack.append((x.body, bound | {x.name}))
        else:
            stack.extend((c, bound) for c in X.children(x))


def _positive(owner: str, what: str, value: float | None, out: list[str]) -> None:
    if value is not None and not value > 0:
        out.append(f"{owner}: {what} {value} is not positive")


def _retry(owner: str, p: M.RetryPolicy | None, out: list[str]) -> None:
    if p is None:
        return
    if p.attempts < 0 or p.delay < 0 or p.max_delay < 0 or p.backoff < 1:
        out.append(f"{owner}: retry policy out of range: {p.model_dump()}")


def _handler(owner: str, h: M.ErrorHandler, ref, out: list[str]) -> None:  # type: ignore[no-untyped-def]
    if h.fallback is None and h.compensate is None and h.body is None and h.retry is None:
        # most tasks': nothing to resolve (a quick path: this runs for every task, every pass)
        if h.action != "handle" and h.when:
            out.append(f"{owner}: on_error '{h.action}' carries handler parts")
        return
    for what in ("fallback", "compensate", "body"):
        ref(owner, what, getattr(h, what), M.BlockNode)
    _retry(owner, h.retry, out)
    if h.action != "handle" and (h.fallback or h.compensate or h.body or h.retry or h.when):
        out.append(f"{owner}: on_error '{h.action}' carries handler parts")

