"""Tasks: agents, inputs, policies (retry, timeout, cache, priority), handlers and
fallbacks; and the settings that must be literals."""

from __future__ import annotations

from typing import Any

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.lang import types as T
from twdsl.lang.kinds import ErrorKind
from twdsl.lowering.base import (
    Abort,
    LowererBase,
    Scope,
)
from twdsl.semantics import policies as P
from twdsl.semantics.names import iter_tasks
from twdsl.syntax import ast as A


class Tasks(LowererBase):
    def task(self, s: A.TaskStmt, scope: Scope, parent: str) -> str:
        nid = scope.tasks.get(s.name.name, scope.prefix + s.name.name)
        if s.body is None:
            raise Abort(f"task '{s.name.name}' has no body: an abstract task runs nothing", s)
        f = {x.key.name: x.value for x in s.body.fields()}
        agent_name, sig = self.agent(f.get("agent"), s)
        node = M.TaskNode(id=nid, parent=parent, src=self.src(s), name=nid, agent=agent_name)
        self.add(node)
        if "input" in f:
            node.input = self.expr_or_block(f["input"], scope, nid)
        if sig is not None:
            node.input = self.input_defaults(sig, node.input)
        if "when" in f:
            node.when = self.expr(f["when"], scope, reader=nid)
        agent_fields = {x.key.name: x.value for x in sig.body.fields()} if sig else {}
        if "timeout" in f:
            node.timeout = self.duration(f["timeout"], scope)
        elif "timeout" in agent_fields:
            node.timeout = self.duration(agent_fields["timeout"], Scope({}))
        if "retry" in f:
            node.retry = self.retry(f["retry"], scope)
        elif "retry" in agent_fields:
            node.retry = self.retry(agent_fields["retry"], Scope({}))
        else:
            node.retry = self.default_retry
        if "priority" in f:
            node.priority = int(self.number(f["priority"], scope))
        if "cache" in f:
            node.cache = self.cache(f["cache"], scope, nid)
        if "depends" in f:
            v = f["depends"]
            refs = v.items if isinstance(v, A.ArrayLit) else [v]
            for r in refs:
                target = self.task_of_expr(r, scope)
                if target is not None:
                    self.edges.append((target, nid, r))
        if "on_success" in f:
            node.on_success = self.handler_block(f["on_success"], scope, nid)
        if "on_error" in f:
            node.on_error = self.on_error(f["on_error"], scope, nid)
        if sig is not None:
            info = self.agents[agent_name]
            node.pure = info.pure
            node.result_type = info.output
            node.input_type = info.input
        return nid

    def input_defaults(self, sig: A.AgentDecl, given: X.Expr | None) -> X.Expr | None:
        """A task's input with the defaults of its agent's signature for the inputs it leaves
        out (docs/language.md, Agent signatures); they see builtins only."""
        defaults = [(d.name.name, self.expr(d.value, Scope({})))
                    for item in sig.body.items if isinstance(item, A.InputDecl)
                    for d in item.decls if d.value is not None]
        if not defaults:
            return given
        if given is None:
            return X.Object(entries=defaults)
        if isinstance(given, X.Object):
            written = {k for k, _ in given.entries}
            return X.Object(entries=[*given.entries,
                                     *[(k, v) for k, v in defaults if k not in written]])
        return X.Call(fn="merge", args=[X.Object(entries=defaults), given])

    def agent(self, v: A.Expr | A.Block | None, task: A.TaskStmt) -> tuple[str, A.AgentDecl | None]:
        if isinstance(v, A.Name):
            name = v.name
        elif isinstance(v, A.StringLit) and all(isinstance(p, str) for p in v.parts):
            name = "".join(p for p in v.parts if isinstance(p, str))
        elif v is None:
            raise Abort(f"task '{task.name.name}' has no agent", task.name)
        else:
            raise Abort(P.AGENT_SHAPE, v)
        sig = self.agent_decls.get(name)
        if name not in self.agents:
            if sig is None:
                self.agents[name] = M.AgentInfo(name=name, declared=False)
            elif name in self.context.agents:
                self.agents[name] = self.context.agents[name]
            else:
                s = self.declarations.agents.get(name) or self.declarations.signature(sig)
                pure = {x.key.name: x.value for x in sig.body.fields()}.get("pure")
                self.agents[name] = self.context.agents[name] = M.AgentInfo(
                    name=name, declared=True,
                    pure=isinstance(pure, A.BoolLit) and pure.value,
                    input=self.type_ref(s.inputs) if s.inputs.fields else None,
                    output=None if s.output == T.ANY else self.type_ref(s.output))
        return name, sig

    def on_error(self, v: A.Expr | A.Block, scope: Scope, owner: str | None) -> M.ErrorHandler:
        if isinstance(v, A.Name):
            if v.name not in ("fail", "skip", "continue"):
                raise Abort(f"unknown on_error action '{v.name}'", v)
            return M.ErrorHandler(action=v.name)  # type: ignore[arg-type]
        if not isinstance(v, (A.Block, A.ObjectLit)):
            raise Abort(P.ON_ERROR_SHAPE, v)
        fields = v.fields() if isinstance(v, A.Block) else v.fields
        f = {x.key.name: x.value for x in fields}
        h = M.ErrorHandler(action="handle")
        if "when" in f:
            h.when = self.kinds(f["when"])
        if "retry" in f:
            h.retry = self.retry(f["retry"], scope)
        if "fallback" in f:
            fb = f["fallback"]
            if isinstance(fb, (A.Block, A.ObjectLit)):
                h.fallback = self.handler_block(fb, scope, owner)
            elif isinstance(fb, A.Name) and fb.name in scope.tasks:
                h.fallback = self.named_fallback(fb, scope, owner)
            # a fallback naming no task is warning TW216: the run fails as without one
        if "compensate" in f:
            h.compensate = self.handler_block(f["compensate"], scope, owner)
        if "then" in f:
            t = f["then"]
            if not isinstance(t, A.Name) or t.name not in ("fail", "skip", "continue"):
                raise Abort(P.THEN_SHAPE, t)
            h.then = t.name  # type: ignore[assignment]
        if isinstance(v, A.Block) and v.statements():
            h.body = self.block(v.items, scope, owner, "handler", v)
        return h

    def named_fallback(self, fb: A.Name, scope: Scope, owner: str | None) -> str:
        """``fallback: task``: a handler block running a copy of that task's definition
        (id ``owner.fallback.task``); the task itself still runs where it is written, and
        reading its name still reads that one (docs/ir.md, Lowering)."""
        stmt = self.task_stmts.get(fb.name) if not scope.prefix else None
        if stmt is None or owner is None:
            raise Abort(P.NAMED_FALLBACK_IN_TEMPLATE, fb)
        bid = self.new_id("block", scope.prefix)
        node = M.BlockNode(id=bid, parent=owner, role="handler", src=self.src(fb))
        self.add(node)
        prefix = f"{owner}.fallback."
        # the copy's own handler tasks are copies too (ids under the prefix); names of the
        # workflow's other tasks still read those tasks
        copied = {t.name.name for t, _ in iter_tasks([stmt]) if t is not stmt}
        tasks = {k: (prefix + k if k in copied else v) for k, v in scope.tasks.items()
                 if k != fb.name}
        inner = Scope(tasks, scope.instances, scope.locals, scope.consts, prefix)
        copy = self.task(stmt, inner, bid)
        self.nodes[copy].src = self.src(stmt)
        node.children.append(copy)
        return bid

    def handler_block(self, v: A.Expr | A.Block, scope: Scope, owner: str | None) -> str:
        if isinstance(v, A.Block):
            return self.block(v.items, scope, owner, "handler", v)
        if isinstance(v, A.ObjectLit):  # `{ task x {…} }` parsed as an object: no statements
            return self.block([], scope, owner, "handler", v)
        raise Abort(P.BLOCK_SHAPE, v)

    def retry(self, v: A.Expr | A.Block, scope: Scope) -> M.RetryPolicy:
        """The policy ``retry: …`` writes (twdsl.semantics.policies reads it)."""
        p = self.policy(P.read_retry, v, self.const_in(scope))
        return M.RetryPolicy(attempts=p.attempts, delay=p.delay, backoff=p.backoff,
                             max_delay=p.max_delay, jitter=p.jitter,
                             on=[ErrorKind(k) for k in p.on])

    def cache(self, v: A.Expr | A.Block, scope: Scope, nid: str) -> M.CachePolicy | None:
        if isinstance(v, A.BoolLit):
            return M.CachePolicy() if v.value else None
        if isinstance(v, (A.Block, A.ObjectLit)):
            fields = v.fields() if isinstance(v, A.Block) else v.fields
            f = {x.key.name: x.value for x in fields}
            return M.CachePolicy(
                ttl=self.policy(P.cache_ttl, v, self.const_in(scope)),
                key=self.expr(f["key"], scope, reader=nid) if "key" in f else None)
        return M.CachePolicy(ttl=self.policy(P.cache_ttl, v, self.const_in(scope)))

    def kinds(self, v: A.Expr | A.Block) -> list[ErrorKind]:
        return [ErrorKind(k) for k in self.policy(P.kinds, v)]

    def policy(self, read: Any, v: A.Node, *args: Any) -> Any:
        """``read(v, *args)`` of twdsl.semantics.policies, its error a diagnostic at ``v``."""
        try:
            return read(v, *args)
        except P.PolicyError as e:
            raise Abort(e.message, e.node) from None

    def const_in(self, scope: Scope) -> P.Const:
        """The values of settings in ``scope``: literals, and template parameters bound to
        literals."""
        def const(v: A.Node) -> object:
            if isinstance(v, A.Name) and v.name in scope.consts:
                return P.literal(scope.consts[v.name])
            return P.literal(v)
        return const

    def duration(self, v: A.Expr | A.Block, scope: Scope) -> float:
        return float(self.policy(P.duration, v, self.const_in(scope)))

    def number(self, v: A.Expr | A.Block, scope: Scope) -> float:
        return float(self.policy(P.number, v, self.const_in(scope)))

    def count(self, v: A.Expr | A.Block, scope: Scope, zero: bool = False) -> int:
        return int(self.policy(P.count, v, self.const_in(scope), zero))

    def boolean(self, v: A.Expr | A.Block, scope: Scope) -> bool:
        return bool(self.policy(P.boolean, v, self.const_in(scope)))

    def string(self, f: A.Field | None) -> str | None:
        if f is None:
            return None
        c = self.policy(P.literal, f.value)
        return c if isinstance(c, str) else None

    def type_ref(self, t: T.Type) -> M.TypeRef:
        if isinstance(t, T.Opt):
            return M.TypeRef(kind="optional", of=self.type_ref(t.inner))
        if isinstance(t, T.Arr):
            return M.TypeRef(kind="array", of=self.type_ref(t.elem))
        if isinstance(t, T.Rec):
            return M.TypeRef(kind="record", fields={k: self.type_ref(v) for k, v in t.fields})
        if isinstance(t, T.Prim):
            return M.TypeRef(kind=t.name)
        return M.TypeRef(kind="any")
