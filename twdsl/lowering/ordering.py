"""Ordering: every edge lifted to the children of the lowest common block that hold
the two ends, and the cycles a lifted edge can close (TW402)."""

from __future__ import annotations

from twdsl.ir import model as M
from twdsl.lang.cycles import block_cycle, block_cycle_message, lift
from twdsl.lowering.base import (
    Abort,
    LowererBase,
    SpanNode,
    span_of,
)
from twdsl.source import keyword_span


class Ordering(LowererBase):
    def parent_of(self, nid: str) -> str | None:
        return self.nodes[nid].parent

    def depth(self, nid: str) -> int:
        """How many blocks and nodes hold ``nid`` (memoized: each node climbs once)."""
        memo = self.depths
        climb: list[str] = []
        node: str | None = nid
        while node is not None and node not in memo:
            climb.append(node)
            node = self.nodes[node].parent
        d = -1 if node is None else memo[node]
        for n in reversed(climb):
            d += 1
            memo[n] = d
        return memo[nid]

    def lift_edges(self) -> None:
        """Every (before, after) pair of nodes becomes an edge between the children of their
        lowest common block that hold them."""
        for before, after, _why in self.edges:
            if before not in self.nodes or after not in self.nodes:
                continue
            lifted = lift(before, after, self.parent_of, self.depth)
            if lifted is None:
                continue  # one holds the other, or the workflow's on_success (after the body)
            common, ca, cb = lifted
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
            cycle = block_cycle(node.children, {c: self.nodes[c].after for c in node.children})
            if cycle:
                first = self.nodes[cycle[0]]
                keyword = self.label(cycle[0]).split(" ")[0] if not isinstance(
                    first, M.TaskNode) else "task"
                where = keyword_span(span_of(first.src, self.main.source), keyword)
                raise Abort(block_cycle_message(self.label(cycle[0]),
                                                self.label(cycle[1 % len(cycle)])),
                            SpanNode(where))

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
