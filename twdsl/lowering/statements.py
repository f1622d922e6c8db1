"""The workflow and its statements: blocks, branches, loops, chains; the written order."""

from __future__ import annotations

from collections.abc import Iterable

from twdsl.ir import model as M
from twdsl.lowering.base import (
    Abort,
    LowererBase,
    Scan,
    Scope,
    walk_stmts,
)
from twdsl.syntax import ast as A


class Statements(LowererBase):
    def workflow(self, decl: A.WorkflowDecl) -> M.Program:
        body = decl.body
        scan = self.scan(body.items)
        tasks = {t.name.name: t.name.name for t in scan.tasks}
        self.task_stmts = {t.name.name: t for t in scan.tasks}
        scope = Scope(tasks, scan.instance_ids(""))
        fields = {f.key.name: f for f in body.fields()}
        if "retry" in fields:
            self.default_retry = self.retry(fields["retry"].value, scope)
        inputs: list[M.InputDecl] = []
        outputs: list[M.OutputDecl] = []
        for item in body.items:
            if isinstance(item, A.InputDecl):
                for d in item.decls:
                    t = self.type_ref(self.declarations.resolve(d.type))
                    inputs.append(M.InputDecl(
                        name=d.name.name, type=t,
                        default=self.expr(d.value, scope) if d.value is not None else None,
                        required=d.value is None and t.kind != "optional", src=self.src(d)))
        for item in body.items:
            if isinstance(item, A.OutputDecl):
                for d in item.decls:
                    outputs.append(M.OutputDecl(
                        name=d.name.name, type=self.type_ref(self.declarations.resolve(d.type)),
                        value=self.expr(d.value, scope) if d.value is not None else None,
                        src=self.src(d)))
        root = self.block(body.items, scope, None, "body", decl)
        on_success = None
        if "on_success" in fields:
            on_success = self.handler_block(fields["on_success"].value, scope, None)
        on_error = M.ErrorHandler()
        if "on_error" in fields:
            on_error = self.on_error(fields["on_error"].value, scope, None)
        self.lift_edges()
        self.check_cycles()
        return M.Program(
            workflow=decl.name.name,
            version=self.string(fields.get("version")),
            description=self.string(fields.get("description")),
            source=self.path,
            source_sha256=self.main.sha256,
            inputs=inputs, outputs=outputs,
            agents=dict(sorted(self.agents.items())),
            timeout=self.duration(fields["timeout"].value, scope) if "timeout" in fields
            else None,
            max_concurrency=self.count(fields["max_concurrency"].value, scope)
            if "max_concurrency" in fields else None,
            on_error=on_error, on_success=on_success, root=root,
            nodes=self.nodes)

    def scan(self, items: Iterable[A.Node]) -> Scan:
        """The tasks and aliased template instances among ``items``, at any depth."""
        tasks: list[A.TaskStmt] = []
        instances: dict[str, list[str]] = {}
        for node in walk_stmts(items):
            if isinstance(node, A.TaskStmt):
                tasks.append(node)
            elif isinstance(node, A.UseStmt) and node.alias is not None:
                eff = self.templates.effective(node.template.dotted)
                if eff is not None:
                    instances[node.alias.name] = list(eff.tasks)
        return Scan(tasks, instances)

    def block(self, items: Iterable[A.Node], scope: Scope, parent: str | None, role: str,
              owner: A.Node, sequential: bool = True, **options: object) -> str:
        bid = self.new_id("block", scope.prefix)
        node = M.BlockNode(id=bid, parent=parent, role=role, src=self.src(owner))  # type: ignore[arg-type]
        for k, v in options.items():
            setattr(node, k, v)
        self.add(node)
        prev: str | None = None
        for item in items:
            if not isinstance(item, A.Stmt):
                continue
            for child in self.stmt(item, scope, bid):
                node.children.append(child)
                if sequential and prev is not None:
                    self.order(child, prev)
                prev = child
        return bid

    def order(self, child: str, prev: str) -> None:
        """``child`` waits for ``prev`` because it is written after it (an order-only edge
        until a data, ``depends`` or chain edge between the two is lifted onto it)."""
        n = self.nodes[child]
        n.after.append(prev)
        n.order_only.append(prev)

    def stmt(self, s: A.Stmt, scope: Scope, parent: str) -> list[str]:
        """The node ids ``s`` becomes among its block's children (none for a chain)."""
        if isinstance(s, A.TaskStmt):
            return [self.task(s, scope, parent)]
        if isinstance(s, (A.SequenceStmt, A.ParallelStmt)):
            par = isinstance(s, A.ParallelStmt)
            opts = self.block_options(s.body, scope, par)
            return [self.block(s.body.items, scope, parent, "parallel" if par else "sequence",
                               s, sequential=not par, **opts)]
        if isinstance(s, A.IfStmt):
            nid = self.new_id("if", scope.prefix)
            branches: list[M.Branch] = []
            otherwise: str | None = None
            cur: A.IfStmt | None = s
            while cur is not None:
                cond = self.expr(cur.cond, scope, reader=nid)
                branches.append(M.Branch(cond=cond, body=self.block(
                    cur.then.items, scope, nid, "body", cur.then)))
                if isinstance(cur.else_, A.IfStmt):
                    cur = cur.else_
                else:
                    if cur.else_ is not None:
                        otherwise = self.block(cur.else_.items, scope, nid, "body", cur.else_)
                    cur = None
            self.add(M.IfNode(id=nid, parent=parent, src=self.src(s), branches=branches,
                              otherwise=otherwise))
            return [nid]
        if isinstance(s, A.SwitchStmt):
            nid = self.new_id("switch", scope.prefix)
            subject = self.expr(s.subject, scope, reader=nid)
            cases: list[M.Case] = []
            default: str | None = None
            for c in s.cases:
                body = self.block(c.body, scope, nid, "body", c)
                if c.is_default:
                    default = body
                else:
                    cases.append(M.Case(values=[self.expr(v, scope, reader=nid)
                                                for v in c.values], body=body))
            self.add(M.SwitchNode(id=nid, parent=parent, src=self.src(s), subject=subject,
                                  cases=cases, default=default))
            return [nid]
        if isinstance(s, A.ForeachStmt):
            nid = self.new_id("foreach", scope.prefix)
            items = self.expr(s.iterable, scope, reader=nid)
            names = [s.var.name] + ([s.index.name] if s.index is not None else [])
            inner = scope.with_locals(names)
            f = {x.key.name: x.value for x in s.body.fields()}
            body = self.block(s.body.items, inner, nid, "body", s.body)
            self.add(M.ForeachNode(
                id=nid, parent=parent, src=self.src(s), var=s.var.name,
                index_var=s.index.name if s.index is not None else None, items=items,
                body=body, parallel=self.boolean(f["parallel"], scope) if "parallel" in f
                else False,
                max_concurrency=self.count(f["max_concurrency"], scope)
                if "max_concurrency" in f else None,
                fail_fast=self.boolean(f["fail_fast"], scope) if "fail_fast" in f else True))
            return [nid]
        if isinstance(s, A.WhileStmt):
            nid = self.new_id("while", scope.prefix)
            cond = self.expr(s.cond, scope, reader=nid)
            f = {x.key.name: x.value for x in s.body.fields()}
            body = self.block(s.body.items, scope, nid, "body", s.body)
            self.add(M.WhileNode(id=nid, parent=parent, src=self.src(s), cond=cond, body=body,
                                 max_iterations=self.count(f["max_iterations"], scope)
                                 if "max_iterations" in f else 1000))
            return [nid]
        if isinstance(s, A.BreakStmt):
            nid = self.new_id("break", scope.prefix)
            self.add(M.BreakNode(id=nid, parent=parent, src=self.src(s)))
            return [nid]
        if isinstance(s, A.ContinueStmt):
            nid = self.new_id("continue", scope.prefix)
            self.add(M.ContinueNode(id=nid, parent=parent, src=self.src(s)))
            return [nid]
        if isinstance(s, A.ChainStmt):
            for before, after in zip(s.steps, s.steps[1:], strict=False):
                for r1 in before:
                    for r2 in after:
                        a, b = self.task_of_ref(r1, scope), self.task_of_ref(r2, scope)
                        if a is not None and b is not None:
                            self.edges.append((a, b, s))
            return []
        if isinstance(s, A.UseStmt):
            return [self.use(s, scope, parent)]
        raise Abort(f"the compiler cannot lower this statement ({type(s).__name__}) yet", s)

    def block_options(self, body: A.Block, scope: Scope, parallel: bool) -> dict[str, object]:
        f = {x.key.name: x.value for x in body.fields()}
        opts: dict[str, object] = {}
        if "timeout" in f:
            opts["timeout"] = self.duration(f["timeout"], scope)
        if parallel and "max_concurrency" in f:
            opts["max_concurrency"] = self.count(f["max_concurrency"], scope)
        if parallel and "fail_fast" in f:
            opts["fail_fast"] = self.boolean(f["fail_fast"], scope)
        return opts
