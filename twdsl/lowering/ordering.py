"""Ordering: every edge lifted to the children of the lowest common block that hold
the two ends, and the cycles a lifted edge can close (TW402)."""

from __future__ import annotations

from twdsl.ir import model as M
from twdsl.lang.cycles import find_cycle
from twdsl.lowering.base import (
    Abort,
    LowererBase,
    SpanNode,
    span_of,
)


class Ordering(LowererBase):
    def ancestors(self, nid: str) -> list[str]:
        out = [nid]
        while (p := self.nodes[out[-1]].parent) is not None:
            out.append(p)
        return out

    def lift_edges(self) -> None:
        """Every (before, after) pair of nodes becomes an edge between the children of their
        lowest common block that hold them."""
        for before, after, _why in self.edges:
            if before not in self.nodes or after not in self.nodes:
                continue
            a, b = self.ancestors(before), self.ancestors(after)
            if before in b or after in a:
                continue  # one holds the other: a handler of its task, a loop's own body
            sa = set(a)
            common = next((x for x in b if x in sa), None)
            if common is None:
                continue  # e.g. the workflow's on_success, which runs after the body
            ca, cb = a[a.index(common) - 1], b[b.index(common) - 1]
            if not isinstance(self.nodes[common], M.BlockNode):
                continue  # both sit in handlers or branches of one node: ordered by it
            target = self.nodes[cb]
            if ca not in target.after:
                target.after.append(ca)
            if ca in target.order_only:
                target.order_only.remove(ca)  # the edge has a reason beyond the order

    def check_cycles(self) -> None:
        for node in self.nodes.values():
            if not isinstance(node, M.BlockNode):
                continue
            cycle = find_cycle({c: self.nodes[c].after for c in node.children})
            if cycle:
                names = " and ".join(f"'{self.label(c)}'" for c in cycle[:2])
                first = self.nodes[cycle[0]]
                raise Abort(
                    f"blocks {names} each wait for a task in the other, so neither can "
                    "start; move the tasks that depend on each other into one block",
                    SpanNode(span_of(first.src, self.main.source)))

    def label(self, nid: str) -> str:
        n = self.nodes[nid]
        if isinstance(n, M.TaskNode):
            return n.name
        kind: str = n.role if isinstance(n, M.BlockNode) and n.role != "body" else n.kind
        if isinstance(n, M.BlockNode) and n.role == "use":
            kind = f"use {n.label}"
        if n.src is not None:
            return f"{kind} at line {n.src.line}"
        return nid
