"""Walking and editing the node tree of a Program: what validation, the passes and the
renderers share (which node owns which, every expression of a node, removing a subtree)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from twdsl.ir import expr as X
from twdsl.ir import model as M


def owned(node: M.Node) -> list[str]:
    """The ids of the nodes ``node`` holds directly: a block's children, a branch's or a
    loop's body, a task's handler blocks, in the order they are written.  (Dispatched on
    ``kind``, not by class patterns: validation calls it for every node after every pass.)"""
    kind = node.kind
    if kind == "block":
        return list(node.children)  # type: ignore[union-attr]
    out: list[str | None]
    if kind == "task":
        h = node.on_error  # type: ignore[union-attr]
        out = [node.on_success, h.fallback, h.compensate, h.body]  # type: ignore[union-attr]
    elif kind == "if":
        out = [*(b.body for b in node.branches), node.otherwise]  # type: ignore[union-attr]
    elif kind == "switch":
        out = [*(c.body for c in node.cases), node.default]  # type: ignore[union-attr]
    elif kind in ("foreach", "while"):
        out = [node.body]  # type: ignore[union-attr]
    else:
        return []
    return [x for x in out if x is not None]


def program_roots(program: M.Program) -> list[str]:
    """The blocks no node holds: the body, then the workflow's handlers."""
    h = program.on_error
    return [x for x in (program.root, program.on_success, h.fallback, h.compensate, h.body)
            if x is not None]


def subtree(program: M.Program, node_id: str) -> list[str]:
    """``node_id`` and every node below it, parents first."""
    out, stack = [], [node_id]
    while stack:
        nid = stack.pop()
        if nid not in program.nodes:
            continue
        out.append(nid)
        stack.extend(reversed(owned(program.nodes[nid])))
    return out


def order(program: M.Program) -> list[str]:
    """Every node reachable from the program's roots, in a stable pre-order."""
    out: list[str] = []
    for r in program_roots(program):
        out.extend(subtree(program, r))
    return out


def node_exprs(node: M.Node) -> Iterator[tuple[str, X.Expr]]:
    """Every expression a node holds itself (not its children's), with a name for people."""
    match node:
        case M.TaskNode():
            if node.input is not None:
                yield "input", node.input
            if node.when is not None:
                yield "when", node.when
            if node.cache is not None and node.cache.key is not None:
                yield "cache key", node.cache.key
        case M.BlockNode():
            for k, v in node.bindings.items():
                yield f"argument {k}", v
        case M.IfNode():
            for i, b in enumerate(node.branches):
                yield ("condition" if i == 0 else f"condition {i + 1}"), b.cond
        case M.SwitchNode():
            yield "subject", node.subject
            for c in node.cases:
                for v in c.values:
                    yield "case value", v
        case M.ForeachNode():
            yield "items", node.items
        case M.WhileNode():
            yield "condition", node.cond


def map_exprs(program: M.Program, f: Callable[[object, str, X.Expr], X.Expr]) -> None:
    """Replace every expression of the program by ``f(owner, what, expr)``, in place:
    inputs' defaults, outputs, then each node's (``what`` names the place for people)."""
    for d in program.inputs:
        if d.default is not None:
            d.default = f(d, f"default of input {d.name}", d.default)
    for o in program.outputs:
        if o.value is not None:
            o.value = f(o, f"output {o.name}", o.value)
    for node in program.nodes.values():
        match node:
            case M.TaskNode():
                if node.input is not None:
                    node.input = f(node, "input", node.input)
                if node.when is not None:
                    node.when = f(node, "when", node.when)
                if node.cache is not None and node.cache.key is not None:
                    node.cache.key = f(node, "cache key", node.cache.key)
            case M.BlockNode():
                node.bindings = {k: f(node, f"argument {k}", v)
                                 for k, v in node.bindings.items()}
            case M.IfNode():
                for b in node.branches:
                    b.cond = f(node, "condition", b.cond)
            case M.SwitchNode():
                node.subject = f(node, "subject", node.subject)
                for c in node.cases:
                    c.values = [f(node, "case value", v) for v in c.values]
            case M.ForeachNode():
                node.items = f(node, "items", node.items)
            case M.WhileNode():
                node.cond = f(node, "condition", node.cond)


def program_exprs(program: M.Program) -> Iterator[X.Expr]:
    """Every expression of the program: inputs, outputs and every node's."""
    for d in program.inputs:
        if d.default is not None:
            yield d.default
    for o in program.outputs:
        if o.value is not None:
            yield o.value
    for node in program.nodes.values():
        for _, e in node_exprs(node):
            yield e


def readers(program: M.Program) -> dict[str, set[str]]:
    """Task id → the ids of the nodes whose expressions read it ('' for an input default
    or an output)."""
    out: dict[str, set[str]] = {}
    for d in program.inputs:
        for t in X.task_reads(d.default) if d.default is not None else ():
            out.setdefault(t, set()).add("")
    for o in program.outputs:
        for t in X.task_reads(o.value) if o.value is not None else ():
            out.setdefault(t, set()).add("")
    for node in program.nodes.values():
        for _, e in node_exprs(node):
            for t in X.task_reads(e):
                out.setdefault(t, set()).add(node.id)
    return out


def read_from_outside(program: M.Program, node_id: str) -> list[str]:
    """The tasks of ``node_id``'s subtree that an expression outside that subtree reads:
    removing the subtree would leave them unbound."""
    inside = set(subtree(program, node_id))
    rd = readers(program)
    return sorted(t for t in inside if any(r not in inside for r in rd.get(t, ())))


def remove(program: M.Program, node_id: str) -> None:
    """Delete ``node_id`` and its subtree from its block.  Siblings that waited for it wait
    for what it waited for instead, so every other ordering stays as it was."""
    node = program.nodes[node_id]
    parent = program.nodes.get(node.parent) if node.parent is not None else None
    if isinstance(parent, M.BlockNode):
        parent.children.remove(node_id)
        for c in parent.children:
            rewire(program.nodes[c], node_id, node.after, node.order_only)
    for nid in subtree(program, node_id):
        del program.nodes[nid]


def rewire(sibling: M.Node, gone: str, instead: list[str], instead_order: list[str]) -> None:
    """``sibling`` waited for ``gone``: make it wait for ``instead`` (an edge stays
    order-only only when both the old edge and the inherited one were)."""
    if gone not in sibling.after:
        return
    was_order = gone in sibling.order_only
    sibling.after.remove(gone)
    if was_order:
        sibling.order_only.remove(gone)
    for a in instead:
        if a in sibling.after:
            if not (was_order and a in instead_order) and a in sibling.order_only:
                sibling.order_only.remove(a)
            continue
        sibling.after.append(a)
        if was_order and a in instead_order:
            sibling.order_only.append(a)


def replace(program: M.Program, old_id: str, new_id: str) -> None:
    """Put node ``new_id`` (held by ``old_id``) in ``old_id``'s place in its block, with its
    edges, and delete ``old_id`` with everything else it held."""
    old = program.nodes[old_id]
    new = program.nodes[new_id]
    new.parent = old.parent
    new.after = list(old.after)
    new.order_only = list(old.order_only)
    parent = program.nodes.get(old.parent) if old.parent is not None else None
    if isinstance(parent, M.BlockNode):
        parent.children[parent.children.index(old_id)] = new_id
        for c in parent.children:
            sib = program.nodes[c]
            sib.after = [new_id if a == old_id else a for a in sib.after]
            sib.order_only = [new_id if a == old_id else a for a in sib.order_only]
    # delete what ``old_id`` held besides ``new_id``'s subtree, never walking into that one (a
    # walk of both subtrees per replacement made nested replacements quadratic)
    stack = [old_id]
    while stack:
        nid = stack.pop()
        if nid == new_id or nid not in program.nodes:
            continue
        stack.extend(owned(program.nodes[nid]))
        del program.nodes[nid]


def copy_program(program: M.Program) -> M.Program:
    """A copy the passes may edit without touching ``program``.  Expressions are frozen, so
    they are shared; every mutable part (nodes, their lists, branches, cases, handlers,
    declarations) is new.  Much cheaper than a deep copy, which copies every expression."""
    nodes: dict[str, M.Node] = {}
    for k, n in program.nodes.items():
        c = n.model_copy()
        c.after = list(n.after)
        c.order_only = list(n.order_only)
        if isinstance(c, M.BlockNode):
            c.children = list(c.children)
            c.bindings = dict(c.bindings)
        elif isinstance(c, M.TaskNode):
            c.on_error = c.on_error.model_copy()
            if c.cache is not None:
                c.cache = c.cache.model_copy()
        elif isinstance(c, M.IfNode):
            c.branches = [b.model_copy() for b in c.branches]
        elif isinstance(c, M.SwitchNode):
            c.cases = [x.model_copy(update={"values": list(x.values)}) for x in c.cases]
        nodes[k] = c
    return program.model_copy(update={
        "nodes": nodes, "inputs": [d.model_copy() for d in program.inputs],
        "outputs": [o.model_copy() for o in program.outputs],
        "on_error": program.on_error.model_copy(), "changes": list(program.changes)})
