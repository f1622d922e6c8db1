"""Renderings of a Program for people: expressions as text, a compact textual dump (what the
pass fixtures compare), and the graph as Mermaid or Graphviz dot (``twdsl graph``).

Every rendering is deterministic: it follows the written order of the tree and names graph
nodes by their order of appearance, never by hashing or set order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.ir import tree

_PREC = {"??": 2, "||": 3, "&&": 4, "==": 5, "!=": 5, "<": 6, ">": 6, "<=": 6, ">=": 6,
         "+": 7, "-": 7, "*": 8, "/": 8, "%": 8}


def duration_text(seconds: float) -> str:
    """``90.0`` → ``90s``, ``0.5`` → ``500ms``, ``3600`` → ``1h``: the largest exact unit."""
    ms = round(seconds * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def expr_text(e: Any, prec: int = 0) -> str:
    """An expression in the language's own syntax (task fields by node id)."""
    match e:
        case X.Lit(v=v):
            return json.dumps(v)
        case X.Dur(seconds=s):
            return duration_text(s)
        case X.Var(name=n):
            return n
        case X.TaskField(node=n, field=f):
            return f"{n}.{f}"
        case X.Get(obj=o, name=n):
            return f"{expr_text(o, 10)}.{n}"
        case X.Index(obj=o, index=i):
            return f"{expr_text(o, 10)}[{expr_text(i)}]"
        case X.Call(fn=f, args=a):
            return f"{f}({', '.join(expr_text(x) for x in a)})"
        case X.Method(obj=o, name=n, args=a):
            return f"{expr_text(o, 10)}.{n}({', '.join(expr_text(x) for x in a)})"
        case X.Unary(op=op, e=x):
            return f"{op}{expr_text(x, 9)}"
        case X.Binary(op=op, l=a, r=b):
            p = _PREC[op]
            text = f"{expr_text(a, p)} {op} {expr_text(b, p + 1)}"
            return f"({text})" if p < prec else text
        case X.Array(items=items):
            return "[" + ", ".join(expr_text(x) for x in items) + "]"
        case X.Object(entries=es):
            if not es:
                return "{}"
            return "{ " + ", ".join(f"{_key(k)}: {expr_text(v)}" for k, v in es) + " }"
        case X.Str(parts=ps):
            body = "".join(_escape(p) if isinstance(p, str) else "${" + expr_text(p) + "}"
                           for p in ps)
            return f'"{body}"'
        case X.Lambda(params=ps, body=b):
            head = ps[0] if len(ps) == 1 else "(" + ", ".join(ps) + ")"
            text = f"{head} => {expr_text(b)}"
            return f"({text})" if prec > 0 else text
        case X.Let(name=n, value=v, body=b):  # the optimizer's: not the language's syntax
            text = f"let {n} = {expr_text(v)} in {expr_text(b)}"
            return f"({text})" if prec > 0 else text
    return repr(e)


def _key(k: str) -> str:
    return k if k.isidentifier() else json.dumps(k)


def _escape(s: str) -> str:
    return json.dumps(s)[1:-1].replace("${", "\\${")


# ------------------------------------------------------------------------ the textual dump

def dump(program: M.Program) -> str:
    """A compact, reviewable text of the program: one line per node, indented by nesting,
    with its edges (``after a, b*``: ``*`` marks an order-only edge) and settings."""
    out = [f"workflow {program.workflow}"]
    for d in program.inputs:
        out.append(f"  input {d.name}: {d.type}"
                   + (f" = {expr_text(d.default)}" if d.default is not None else ""))
    for o in program.outputs:
        out.append(f"  output {o.name}: {o.type}"
                   + (f" = {expr_text(o.value)}" if o.value is not None else ""))
    _dump_node(program, program.root, 1, "", out)
    if program.on_success is not None:
        _dump_node(program, program.on_success, 1, "on_success ", out)
    _dump_handler(program, program.on_error, 1, out)
    return "\n".join(out) + "\n"


def _edges(node: M.Node) -> str:
    if not node.after:
        return ""
    return " after " + ", ".join(a + ("*" if a in node.order_only else "") for a in node.after)


def _dump_node(program: M.Program, nid: str, depth: int, lead: str, out: list[str]) -> None:
    pad = "  " * depth
    node = program.nodes[nid]
    head = f"{pad}{lead}{nid}{_edges(node)}"
    match node:
        case M.TaskNode():
            parts = [f"agent={node.agent}"]
            if node.pure:
                parts.append("pure")
            if node.input is not None:
                parts.append(f"input={expr_text(node.input)}")
            if node.when is not None:
                parts.append(f"when={expr_text(node.when)}")
            if node.cache is not None and node.cache.key is not None:
                parts.append(f"cache.key={expr_text(node.cache.key)}")
            out.append(f"{head}: task " + " ".join(parts))
            if node.on_success is not None:
                _dump_node(program, node.on_success, depth + 1, "on_success ", out)
            _dump_handler(program, node.on_error, depth + 1, out)
        case M.BlockNode():
            extra = [f"{k}={expr_text(v)}" for k, v in node.bindings.items()]
            if node.timeout is not None:
                extra.append(f"timeout={duration_text(node.timeout)}")
            if node.max_concurrency is not None:
                extra.append(f"max_concurrency={node.max_concurrency}")
            if not node.fail_fast:
                extra.append("fail_fast=false")
            label = f" {node.label}" if node.label else ""
            out.append(f"{head}: {node.role}{label}" + (" " + " ".join(extra) if extra else ""))
            for c in node.children:
                _dump_node(program, c, depth + 1, "", out)
        case M.IfNode():
            out.append(f"{head}: if")
            for b in node.branches:
                _dump_node(program, b.body, depth + 1, f"when {expr_text(b.cond)}: ", out)
            if node.otherwise is not None:
                _dump_node(program, node.otherwise, depth + 1, "else: ", out)
        case M.SwitchNode():
            out.append(f"{head}: switch {expr_text(node.subject)}")
            for case in node.cases:
                vals = ", ".join(expr_text(v) for v in case.values)
                _dump_node(program, case.body, depth + 1, f"case {vals}: ", out)
            if node.default is not None:
                _dump_node(program, node.default, depth + 1, "default: ", out)
        case M.ForeachNode():
            var = node.var + (f", {node.index_var}" if node.index_var else "")
            mode = " parallel" if node.parallel else ""
            out.append(f"{head}: foreach {var} in {expr_text(node.items)}{mode}")
            _dump_node(program, node.body, depth + 1, "", out)
        case M.WhileNode():
            out.append(f"{head}: while {expr_text(node.cond)} max={node.max_iterations}")
            _dump_node(program, node.body, depth + 1, "", out)
        case _:
            out.append(f"{head}: {node.kind}")


def _dump_handler(program: M.Program, h: M.ErrorHandler, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    if h.action != "handle":
        if h.action != "fail":
            out.append(f"{pad}on_error {h.action}")
        return
    kinds = f" when [{', '.join(h.when)}]" if h.when is not None else ""
    out.append(f"{pad}on_error handle{kinds}" + (f" then {h.then}" if h.then else ""))
    for what in ("fallback", "compensate", "body"):
        bid = getattr(h, what)
        if bid is not None:
            _dump_node(program, bid, depth + 1, f"{what} ", out)


# ------------------------------------------------------------------------ graphs

@dataclass(slots=True)
class _Cluster:
    label: str
    items: list[str | _Cluster] = field(default_factory=list)  # graph node ids, clusters


@dataclass(slots=True)
class _Graph:
    """Graph nodes (id → (label, shape)), edges (src, dst, label, dashed), clusters."""

    nodes: dict[str, tuple[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, str, bool]] = field(default_factory=list)
    top: _Cluster = field(default_factory=lambda: _Cluster(""))


_Exit = tuple[str, str, bool]  # a graph node, the label and style of the edge leaving it


class _Builder:
    """Flattens the node tree into the picture users think of: tasks as boxes, branches as
    diamonds, loops, parallel blocks and template instances as clusters, handlers dashed."""

    def __init__(self, program: M.Program) -> None:
        self.p = program
        self.g = _Graph()
        self.stack = [self.g.top]

    def new(self, label: str, shape: str) -> str:
        gid = f"n{len(self.g.nodes) + 1}"
        self.g.nodes[gid] = (label, shape)
        self.stack[-1].items.append(gid)
        return gid

    def connect(self, incoming: Iterable[_Exit], to: str) -> None:
        for src, label, dashed in incoming:
            self.g.edges.append((src, to, label, dashed))

    def cluster(self, label: str) -> _Cluster:
        c = _Cluster(label)
        self.stack[-1].items.append(c)
        self.stack.append(c)
        return c

    def build(self, nid: str, incoming: list[_Exit]) -> list[_Exit]:
        """Draw ``nid`` entered from ``incoming``; the exits that lead on from it."""
        node = self.p.nodes[nid]
        match node:
            case M.TaskNode():
                label = node.name if node.agent == node.name else f"{node.name}\n{node.agent}"
                gid = self.new(label, "box")
                self.connect(incoming, gid)
                if node.on_success is not None:
                    self.build(node.on_success, [(gid, "on_success", True)])
                self.handler(node.on_error, gid)
                return [(gid, "", False)]
            case M.BlockNode():
                if node.role in ("parallel", "use") or node.timeout is not None:
                    what = {"parallel": "parallel", "use": f"use {node.label}"}.get(
                        node.role, node.role)
                    if node.timeout is not None:
                        what += f" (timeout {duration_text(node.timeout)})"
                    self.cluster(what)
                    try:
                        return self.block(node, incoming)
                    finally:
                        self.stack.pop()
                return self.block(node, incoming)
            case M.IfNode():
                gid = self.new("if", "diamond")
                self.connect(incoming, gid)
                exits: list[_Exit] = []
                for i, b in enumerate(node.branches):
                    cond = expr_text(b.cond)
                    label = cond if i == 0 else f"else if {cond}"
                    exits += self.build(b.body, [(gid, label, False)])
                if node.otherwise is not None:
                    exits += self.build(node.otherwise, [(gid, "else", False)])
                else:
                    exits.append((gid, "else", False))
                return exits
            case M.SwitchNode():
                gid = self.new(f"switch {expr_text(node.subject)}", "diamond")
                self.connect(incoming, gid)
                exits = []
                for case in node.cases:
                    label = "case " + ", ".join(expr_text(v) for v in case.values)
                    exits += self.build(case.body, [(gid, label, False)])
                if node.default is not None:
                    exits += self.build(node.default, [(gid, "default", False)])
                else:
                    exits.append((gid, "default", False))
                return exits
            case M.ForeachNode() | M.WhileNode():
                if isinstance(node, M.ForeachNode):
                    var = node.var + (f", {node.index_var}" if node.index_var else "")
                    label = f"foreach {var} in {expr_text(node.items)}"
                    if node.parallel:
                        label += " (parallel)"
                else:
                    label = f"while {expr_text(node.cond)}"
                self.cluster(label)
                try:
                    return self.build(node.body, incoming)
                finally:
                    self.stack.pop()
            case _:
                gid = self.new(node.kind, "stop")
                self.connect(incoming, gid)
                return []

    def block(self, node: M.BlockNode, incoming: list[_Exit]) -> list[_Exit]:
        if not node.children:
            return incoming
        exits: dict[str, list[_Exit]] = {}
        waited: set[str] = set()
        for c in _topological(self.p, node.children):
            child = self.p.nodes[c]
            inc: list[_Exit] = []
            if child.after:
                for a in child.after:
                    inc += [(s, lab, d) for s, lab, d in exits[a] if (s, lab, d) not in inc]
                    waited.add(a)
            else:
                inc = list(incoming)
            exits[c] = self.build(c, inc)
        out: list[_Exit] = []
        for c in node.children:
            if c not in waited:
                out += [x for x in exits[c] if x not in out]
        return out

    def handler(self, h: M.ErrorHandler, gid: str) -> None:
        for what in ("fallback", "compensate", "body"):
            bid = getattr(h, what)
            if bid is not None:
                label = "on_error" if what == "body" else what
                self.build(bid, [(gid, label, True)])


def _topological(program: M.Program, children: list[str]) -> list[str]:
    """Children in written order, moved down only as far as their ``after`` needs."""
    done: set[str] = set()
    out: list[str] = []
    pending = list(children)
    while pending:
        for c in pending:
            if all(a in done for a in program.nodes[c].after):
                out.append(c)
                done.add(c)
                pending.remove(c)
                break
        else:  # a cycle: the validator reports it; draw the rest in written order
            out += pending
            break
    return out


def _graph(program: M.Program) -> _Graph:
    b = _Builder(program)
    start = b.new(program.workflow, "start")
    exits = b.build(program.root, [(start, "", False)])
    if program.on_success is not None:
        b.build(program.on_success, [(s, "on_success", True) for s, _, _ in exits]
                or [(start, "on_success", True)])
    b.handler(program.on_error, start)
    return b.g


def mermaid(program: M.Program) -> str:
    """The program as a Mermaid flowchart."""
    g = _graph(program)
    out = ["flowchart TD"]
    counter = [0]

    def q(text: str) -> str:
        return '"' + text.replace('"', "#quot;").replace("\n", "<br/>") + '"'

    def emit(c: _Cluster, depth: int) -> None:
        pad = "  " * depth
        for item in c.items:
            if isinstance(item, str):
                label, shape = g.nodes[item]
                wrap = {"box": ("[", "]"), "diamond": ("{", "}"), "start": ("([", "])"),
                        "stop": ("[[", "]]")}[shape]
                out.append(f"{pad}{item}{wrap[0]}{q(label)}{wrap[1]}")
            else:
                counter[0] += 1
                out.append(f"{pad}subgraph c{counter[0]}[{q(item.label)}]")
                emit(item, depth + 1)
                out.append(f"{pad}end")

    emit(g.top, 1)
    for src, dst, label, dashed in g.edges:
        arrow = "-.->" if dashed else "-->"
        out.append(f"  {src} {arrow}" + (f"|{q(label)}|" if label else "") + f" {dst}")
    return "\n".join(out) + "\n"


def dot(program: M.Program) -> str:
    """The program as a Graphviz digraph."""
    g = _graph(program)
    out = [f"digraph {json.dumps(program.workflow)} {{", "  rankdir=TB;",
           "  node [fontname=\"Helvetica\"];", "  edge [fontname=\"Helvetica\"];"]
    counter = [0]

    def q(text: str) -> str:
        return json.dumps(text).replace("\\n", "\\n")

    def emit(c: _Cluster, depth: int) -> None:
        pad = "  " * depth
        for item in c.items:
            if isinstance(item, str):
                label, shape = g.nodes[item]
                shp = {"box": "box", "diamond": "diamond", "start": "oval",
                       "stop": "octagon"}[shape]
                out.append(f"{pad}{item} [label={q(label)}, shape={shp}];")
            else:
                counter[0] += 1
                out.append(f"{pad}subgraph cluster_{counter[0]} {{")
                out.append(f"{pad}  label={q(item.label)};")
                emit(item, depth + 1)
                out.append(f"{pad}}}")

    emit(g.top, 1)
    for src, dst, label, dashed in g.edges:
        attrs = []
        if label:
            attrs.append(f"label={q(label)}")
        if dashed:
            attrs.append("style=dashed")
        out.append(f"  {src} -> {dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    out.append("}")
    return "\n".join(out) + "\n"


__all__ = ["dot", "dump", "expr_text", "mermaid", "tree"]
