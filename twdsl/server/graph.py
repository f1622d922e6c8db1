"""The workflow as an SVG picture for the web UI, laid out here (no Graphviz needed).

The IR is a tree of blocks whose children wait for siblings (``after``), so the layout is
nested: a block puts its children in layers (a child one layer below the latest sibling it
waits for), side by side within a layer, and draws an arrow for each ``after`` edge; a loop,
a branch, a parallel block or a handler is a framed group around its body.  Every task is a
``<g class="node" data-node="ID">``: the run page colours it by the status of its instances
(all iterations of a task in a loop share one box).  Deterministic: the same program gives
the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from twdsl.ir import model as M
from twdsl.ir.render import expr_text

TASK_W, TASK_H = 168, 46
GAP_X, GAP_Y = 22, 34
PAD, HEAD = 12, 20
CHAR = 6.6  # average width of a 12px character


@dataclass(slots=True)
class Box:
    w: float
    h: float
    draw: Callable[[float, float], list[str]]  # top-left → SVG elements


def _clip(text: str, width: float) -> str:
    room = max(3, int(width / CHAR))
    return text if len(text) <= room else text[: room - 1] + "…"


class _Layout:
    def __init__(self, program: M.Program) -> None:
        self.p = program

    # ------------------------------------------------------------------ nodes
    def node(self, nid: str) -> Box:
        node = self.p.nodes[nid]
        match node:
            case M.TaskNode():
                return self.with_handlers(self.task(node), node.on_error, node.on_success)
            case M.BlockNode():
                inner = self.block(node)
                if node.role in ("parallel", "use") or node.timeout is not None:
                    label = {"parallel": "parallel", "use": f"use {node.label or ''}"}.get(
                        node.role, node.role)
                    if node.timeout is not None:
                        from twdsl.ir.render import duration_text

                        label += f" · timeout {duration_text(node.timeout)}"
                    return self.frame(label, inner, "group")
                return inner
            case M.IfNode():
                arms = [(("if " if i == 0 else "else if ") + expr_text(b.cond), b.body)
                        for i, b in enumerate(node.branches)]
                if node.otherwise is not None:
                    arms.append(("else", node.otherwise))
                return self.frame("if", self.columns(arms), "branch")
            case M.SwitchNode():
                arms = [("case " + ", ".join(expr_text(v) for v in c.values), c.body)
                        for c in node.cases]
                if node.default is not None:
                    arms.append(("default", node.default))
                return self.frame(f"switch {expr_text(node.subject)}", self.columns(arms),
                                  "branch")
            case M.ForeachNode():
                var = node.var + (f", {node.index_var}" if node.index_var else "")
                label = f"foreach {var} in {expr_text(node.items)}"
                if node.parallel:
                    label += " · parallel"
                return self.frame(label, self.node(node.body), "loop")
            case M.WhileNode():
                return self.frame(f"while {expr_text(node.cond)}", self.node(node.body), "loop")
            case _:
                return self.pill(node.kind)

    def task(self, node: M.TaskNode) -> Box:
        nid, name, agent = node.id, node.name, node.agent

        shown = escape(_clip(name, (TASK_W - 50) * 0.88))  # bold: wider letters

        def draw(x: float, y: float) -> list[str]:
            out = [f'<g class="node" data-node="{escape(nid)}" transform="translate({x:g},{y:g})">',
                   f'<title>{escape(name)} ({escape(agent)})</title>',
                   f'<rect width="{TASK_W}" height="{TASK_H}" rx="8"/>',
                   f'<text class="name" x="12" y="19">{shown}</text>',
                   f'<text class="agent" x="12" y="35">{escape(_clip(agent, TASK_W - 24))}</text>',
                   f'<text class="badge" x="{TASK_W - 10}" y="19" text-anchor="end"></text>',
                   "</g>"]
            return out

        return Box(TASK_W, TASK_H, draw)

    def pill(self, text: str) -> Box:
        w = 28 + len(text) * CHAR

        def draw(x: float, y: float) -> list[str]:
            return [f'<g class="pill" transform="translate({x:g},{y:g})">'
                    f'<rect width="{w:g}" height="24" rx="12"/>'
                    f'<text x="{w / 2:g}" y="16" text-anchor="middle">{escape(text)}</text></g>']

        return Box(w, 24, draw)

    def with_handlers(self, box: Box, handler: M.ErrorHandler, on_success: str | None) -> Box:
        extra = [(label, bid) for label, bid in (
            ("on_success", on_success), ("fallback", handler.fallback),
            ("compensate", handler.compensate), ("on_error", handler.body)) if bid is not None]
        if not extra:
            return box
        side = [self.frame(label, self.node(bid), "handler") for label, bid in extra]
        w = box.w + sum(GAP_X + s.w for s in side)
        h = max(box.h, *(s.h for s in side))

        def draw(x: float, y: float) -> list[str]:
            out = box.draw(x, y)
            cx = x + box.w
            for s in side:
                out.append(f'<path class="edge handler" d="M{cx:g},{y + box.h / 2:g} '
                           f'H{cx + GAP_X:g}"/>')
                cx += GAP_X
                out += s.draw(cx, y)
                cx += s.w
            return out

        return Box(w, h, draw)

    def frame(self, label: str, inner: Box, kind: str) -> Box:
        w = max(inner.w + 2 * PAD, len(label) * CHAR + 2 * PAD)
        h = inner.h + 2 * PAD + HEAD

        def draw(x: float, y: float) -> list[str]:
            out = [f'<g class="frame {kind}"><rect x="{x:g}" y="{y:g}" width="{w:g}" '
                   f'height="{h:g}" rx="10"/><text x="{x + PAD:g}" y="{y + 15:g}">'
                   f'{escape(_clip(label, w - 2 * PAD))}</text></g>']
            out += inner.draw(x + (w - inner.w) / 2, y + PAD + HEAD)
            return out

        return Box(w, h, draw)

    def columns(self, arms: list[tuple[str, str]]) -> Box:
        boxes = [self.frame(label, self.node(body), "arm") for label, body in arms]
        if not boxes:
            return self.pill("nothing")
        w = sum(b.w for b in boxes) + GAP_X * (len(boxes) - 1)
        h = max(b.h for b in boxes)

        def draw(x: float, y: float) -> list[str]:
            out: list[str] = []
            for b in boxes:
                out += b.draw(x, y)
                x += b.w + GAP_X
            return out

        return Box(w, h, draw)

    # ------------------------------------------------------------------ blocks
    def block(self, node: M.BlockNode) -> Box:
        children = node.children
        if not children:
            return self.pill("empty")
        layer: dict[str, int] = {}
        for c in _ordered(self.p, children):
            after = [a for a in self.p.nodes[c].after if a in layer]
            layer[c] = 1 + max((layer[a] for a in after), default=-1)
        rows: list[list[str]] = []
        for c in children:
            while len(rows) <= layer[c]:
                rows.append([])
            rows[layer[c]].append(c)
        boxes = {c: self.node(c) for c in children}
        widths = [sum(boxes[c].w for c in row) + GAP_X * (len(row) - 1) for row in rows]
        heights = [max(boxes[c].h for c in row) for row in rows]
        w = max(widths)
        h = sum(heights) + GAP_Y * (len(rows) - 1)
        edges = [(a, c) for c in children for a in self.p.nodes[c].after if a in boxes]
        nodes = self.p.nodes

        def draw(x: float, y: float) -> list[str]:
            pos: dict[str, tuple[float, float]] = {}
            cy = y
            for row, rw, rh in zip(rows, widths, heights, strict=True):
                cx = x + (w - rw) / 2
                for c in row:
                    pos[c] = (cx, cy)
                    cx += boxes[c].w + GAP_X
                cy += rh + GAP_Y
            out: list[str] = []
            for a, c in edges:
                ax, ay = pos[a]
                bx, by = pos[c]
                x1, y1 = ax + _anchor(nodes[a], boxes[a]), ay + boxes[a].h
                x2, y2 = bx + _anchor(nodes[c], boxes[c]), by
                mid = (y1 + y2) / 2
                out.append(f'<path class="edge" d="M{x1:g},{y1:g} C{x1:g},{mid:g} {x2:g},'
                           f'{mid:g} {x2:g},{y2 - 2:g}" marker-end="url(#arrow)"/>')
            for c in children:
                out += boxes[c].draw(*pos[c])
            return out

        return Box(w, h, draw)


def _anchor(node: M.Node, box: Box) -> float:
    """Where an edge meets a box: a task's own rectangle (not its handlers), else the
    middle."""
    if isinstance(node, M.TaskNode):
        return TASK_W / 2
    return box.w / 2


def _ordered(program: M.Program, children: list[str]) -> list[str]:
    """Children such that each comes after the siblings it waits for (written order
    otherwise; a cycle, which validation refuses, is drawn in written order)."""
    done: set[str] = set()
    out: list[str] = []
    pending = list(children)
    sibling = set(children)
    while pending:
        for c in pending:
            if all(a in done or a not in sibling for a in program.nodes[c].after):
                out.append(c)
                done.add(c)
                pending.remove(c)
                break
        else:
            out += pending
            break
    return out


def svg(program: M.Program) -> str:
    """The program's picture."""
    lay = _Layout(program)
    body = lay.node(program.root)
    parts = [body]
    for label, bid in (("on_success", program.on_success), ("on_error", program.on_error.body),
                       ("fallback", program.on_error.fallback),
                       ("compensate", program.on_error.compensate)):
        if bid is not None:
            parts.append(lay.frame(f"workflow {label}", lay.node(bid), "handler"))
    margin = 12
    w = max(p.w for p in parts) + 2 * margin
    h = sum(p.h for p in parts) + GAP_Y * (len(parts) - 1) + 2 * margin
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="wfgraph" viewBox="0 0 {w:g} {h:g}" '
           f'width="{w:g}" height="{h:g}" role="img" aria-label="{escape(program.workflow)}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/>'
           '</marker></defs>']
    y = float(margin)
    for p in parts:
        out += p.draw(margin + (w - 2 * margin - p.w) / 2, y)
        y += p.h + GAP_Y
    out.append("</svg>")
    return "\n".join(out) + "\n"
