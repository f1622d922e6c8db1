"""Lowering: one checked workflow (its AST) to the IR (docs/ir.md).

Runs only on a module that checked without errors.  It

* expands every ``use`` of a template into a block of the template's effective statements
  (its parent's and mixins' first, an ``override`` or a definition of an ``abstract`` task in
  place of the task it replaces), with the arguments bound as the block's ``bindings`` and the
  instance's tasks named ``alias.task``;
* resolves every name of an expression: a task's field becomes a ``TaskField`` by node id,
  anything else a ``Var``;
* resolves the policies: a task's ``retry`` and ``timeout`` fall back to its agent's, then the
  workflow's;
* turns every ordering the language gives (written order, ``depends``, chains, data) into
  ``after`` edges between siblings of one block.  An edge between tasks in different blocks is
  lifted to the children of their lowest common block that hold them.

A lifted edge can close a cycle that the task graph does not have (two sequences in a
``parallel``, each waiting on the other's second task): that is error TW402, with both edges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from twdsl.diagnostics import Diagnostic, Severity
from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.lang import types as T
from twdsl.lang.constraints import KEYS
from twdsl.lang.cycles import find_cycle
from twdsl.lang.kinds import ErrorKind
from twdsl.recursion import gc_paused
from twdsl.semantics import policies as P
from twdsl.semantics.declarations import Declarations
from twdsl.semantics.model import FileScope
from twdsl.semantics.names import iter_tasks
from twdsl.semantics.templates import Templates, literal_value
from twdsl.source import SourceFile, Span
from twdsl.syntax import ast as A
from twdsl.syntax.fields import CONTAINERS


class _Abort(Exception):
    """A construct lowering cannot handle: reported as a diagnostic at ``node``."""

    def __init__(self, message: str, node: A.Node) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


@dataclass(slots=True)
class _Scope:
    """What names mean at one place: the tasks visible (name → node id), template instances
    (alias → their tasks), locals (loop variables, lambda and template parameters) and
    constants (template arguments that are literals, for policies)."""

    tasks: dict[str, str]
    instances: dict[str, dict[str, str]] = field(default_factory=dict)
    locals: frozenset[str] = frozenset()
    consts: dict[str, A.Expr] = field(default_factory=dict)
    prefix: str = ""

    def with_locals(self, names: Iterable[str]) -> _Scope:
        return _Scope(self.tasks, self.instances, self.locals | frozenset(names), self.consts,
                      self.prefix)


def lower_workflow(scope: FileScope, source: SourceFile, workflow: A.WorkflowDecl,
                   context: FileContext | None = None,
                   ) -> tuple[M.Program | None, list[Diagnostic]]:
    """The IR of ``workflow`` (a declaration of the file whose scope is ``scope``: its
    semantic model's, :attr:`twdsl.semantics.model.SemanticModel.scope`), or None and the
    errors.  ``context``: the file's shared tables (:class:`FileContext`), when the caller
    lowers several workflows of one file (else they are built here, for this workflow)."""
    with gc_paused():  # like the parse and the checks: the AST is large and all alive
        if context is None:
            context = FileContext(scope, source)
        lowerer = _Lowerer(context)
        try:
            program = lowerer.workflow(workflow)
        except _Abort as e:
            return None, [Diagnostic("TW402" if e.message.startswith("blocks") else "TW403",
                                     Severity.ERROR, e.message, e.node.span)]
    if lowerer.diags:
        return None, lowerer.diags
    return program, []


def lower_workflows(scope: FileScope, source: SourceFile, workflows: Iterable[A.WorkflowDecl],
                    ) -> list[tuple[M.Program | None, list[Diagnostic]]]:
    """:func:`lower_workflow` of each of ``workflows`` (declarations of the file of
    ``scope``), sharing one :class:`FileContext`: what the file's declarations lower to is
    made once, not once per workflow, so lowering every workflow of a file costs time linear
    in the file."""
    with gc_paused():
        context = FileContext(scope, source)
        return [lower_workflow(scope, source, w, context) for w in workflows]


class FileContext:
    """What every workflow of one file shares when it is lowered: the file's scope (its
    semantic model's: agents, types, templates, resolved once by the checker), the IR entries
    of its agents and the tasks of its templates, and the source's hash.

    Made once per file: made per workflow, it made lowering a file's workflows cost time
    quadratic in the file's size.  The IR models it keeps (an agent's
    :class:`~twdsl.ir.model.AgentInfo`) are never edited once made (the passes edit copies of
    nodes, never agents).  A template of another file is expanded in that file's context
    (:meth:`_Lowerer.use`), made from that file's scope."""

    def __init__(self, scope: FileScope, source: SourceFile | None) -> None:
        self.scope = scope
        self.module = scope.module
        self.source = source
        self.path = scope.path
        self.agent_decls = scope.agent_decls
        self.templates = scope.templates
        self.declarations = scope.declarations
        self.sha256 = hashlib.sha256(source.text.encode()).hexdigest() if source else ""
        self.agents: dict[str, M.AgentInfo] = {}  # declared agents' IR entries, by name
        #: template → its statements' tasks and aliased instances (alias → task names)
        self.template_scans: dict[str, _Scan] = {}


@dataclass(slots=True)
class _Scan:
    """The tasks and the aliased template instances (alias → the template's task names)
    among some statements, at any depth: what a scope is made of."""

    tasks: list[A.TaskStmt]
    instances: dict[str, list[str]]

    def instance_ids(self, prefix: str) -> dict[str, dict[str, str]]:
        return {alias: {t: f"{prefix}{alias}.{t}" for t in tasks}
                for alias, tasks in self.instances.items()}


class _Lowerer:
    def __init__(self, context: FileContext) -> None:
        self.context = context  # the file whose declarations are being lowered
        self.main = context  # the file of the workflow
        self.contexts: dict[str, FileContext] = {context.path: context}
        self.nodes: dict[str, M.Node] = {}
        self.counts: dict[str, int] = {}
        self.edges: list[tuple[str, str, A.Node]] = []  # (before, after, why) node ids
        self.agents: dict[str, M.AgentInfo] = {}
        self.diags: list[Diagnostic] = []
        self.default_retry: M.RetryPolicy | None = None
        self.reads: list[str] = []  # the tasks read by the expression being lowered

    # ------------------------------------------------------------------ helpers
    @property
    def path(self) -> str:
        return self.main.path

    @property
    def agent_decls(self) -> dict[str, A.AgentDecl]:
        return self.context.agent_decls

    @property
    def templates(self) -> Templates:
        return self.context.templates

    @property
    def declarations(self) -> Declarations:
        return self.context.declarations

    def src(self, node: A.Node) -> M.SourceRef:
        s = node.span  # the file the node is in: a template may come from another file
        return M.SourceRef(file=s.file, line=s.line, column=s.column,
                           end_line=s.end_line, end_column=s.end_column)

    def new_id(self, kind: str, prefix: str = "") -> str:
        n = self.counts.get(kind, 0) + 1
        self.counts[kind] = n
        return f"{prefix}{kind}#{n}"

    def add(self, node: M.Node) -> M.Node:
        self.nodes[node.id] = node
        return node

    # ------------------------------------------------------------------ the workflow
    def workflow(self, decl: A.WorkflowDecl) -> M.Program:
        body = decl.body
        scan = self.scan(body.items)
        tasks = {t.name.name: t.name.name for t in scan.tasks}
        self.task_stmts = {t.name.name: t for t in scan.tasks}
        scope = _Scope(tasks, scan.instance_ids(""))
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

    def scan(self, items: Iterable[A.Node]) -> _Scan:
        """The tasks and aliased template instances among ``items``, at any depth."""
        tasks: list[A.TaskStmt] = []
        instances: dict[str, list[str]] = {}
        for node in _walk_stmts(items):
            if isinstance(node, A.TaskStmt):
                tasks.append(node)
            elif isinstance(node, A.UseStmt) and node.alias is not None:
                eff = self.templates.effective(node.template.dotted)
                if eff is not None:
                    instances[node.alias.name] = list(eff.tasks)
        return _Scan(tasks, instances)

    # ------------------------------------------------------------------ statements
    def block(self, items: Iterable[A.Node], scope: _Scope, parent: str | None, role: str,
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

    def stmt(self, s: A.Stmt, scope: _Scope, parent: str) -> list[str]:
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
        raise _Abort(f"the compiler cannot lower this statement ({type(s).__name__}) yet", s)

    def block_options(self, body: A.Block, scope: _Scope, parallel: bool) -> dict[str, object]:
        f = {x.key.name: x.value for x in body.fields()}
        opts: dict[str, object] = {}
        if "timeout" in f:
            opts["timeout"] = self.duration(f["timeout"], scope)
        if parallel and "max_concurrency" in f:
            opts["max_concurrency"] = self.count(f["max_concurrency"], scope)
        if parallel and "fail_fast" in f:
            opts["fail_fast"] = self.boolean(f["fail_fast"], scope)
        return opts

    # ------------------------------------------------------------------ templates
    def use(self, s: A.UseStmt, scope: _Scope, parent: str) -> str:
        name = s.template.dotted
        decl = self.templates.decls.get(name)
        eff = self.templates.effective(name)
        if decl is None or eff is None:
            raise _Abort(f"template '{name}' cannot be expanded", s.template)
        label = s.alias.name if s.alias is not None else None
        bid = self.new_id("block", scope.prefix)
        prefix = f"{scope.prefix}{label or bid}."
        args = {a.name.name: a.value for a in s.args}
        bindings: dict[str, X.Expr] = {}
        consts: dict[str, A.Expr] = {}
        checks: dict[str, M.ParamCheck] = {}
        for pname, param in eff.params.items():
            value = args.get(pname, param.default)
            if value is None:
                bindings[pname] = X.Lit(v=None)
                continue
            # arguments are evaluated where `use` is written; defaults inside the template
            bindings[pname] = self.expr(value, scope if pname in args else _Scope({}),
                                        reader=bid)
            consts[pname] = value
            if param.constraints is not None and not isinstance(bindings[pname], X.Lit):
                # a literal argument was checked by twdsl check; a computed one is checked
                # when the instance starts (docs/language.md, Templates)
                where = {f.key.name: literal_value(f.value) for f in param.constraints.fields()
                         if f.key.name in KEYS}
                if where:
                    checks[pname] = M.ParamCheck(template=name, where=where,
                                                 src=self.src(param.constraints))
        home, home_name = self.templates.home(name)
        outer = self.context
        self.context = self.context_of(home)  # the template's names mean what they do there
        try:
            statements = home.statements(home_name)
            scan = self.context.template_scans.get(home_name)
            if scan is None:
                scan = self.context.template_scans[home_name] = self.scan(statements)
            tasks = {t.name.name: f"{prefix}{t.name.name}" for t in scan.tasks}
            inner = _Scope(tasks, scan.instance_ids(prefix), frozenset(eff.params),
                           consts, prefix)
            node = M.BlockNode(id=bid, parent=parent, role="use", src=self.src(s),
                               bindings=bindings, checks=checks, label=label or name)
            self.add(node)
            prev: str | None = None
            for item in statements:
                for child in self.stmt(item, inner, bid):
                    node.children.append(child)
                    if prev is not None:
                        self.order(child, prev)
                    prev = child
        finally:
            self.context = outer
        return bid

    def context_of(self, templates: Templates) -> FileContext:
        """The lowering context of the file whose templates are ``templates``."""
        ctx = self.contexts.get(templates.path)
        if ctx is None:
            owner = templates.owner
            if owner is None:  # a table made without a scope: lower in the current file's
                return self.context
            ctx = self.contexts[templates.path] = FileContext(owner, None)
        return ctx

    # ------------------------------------------------------------------ tasks
    def task(self, s: A.TaskStmt, scope: _Scope, parent: str) -> str:
        nid = scope.tasks.get(s.name.name, scope.prefix + s.name.name)
        if s.body is None:
            raise _Abort(f"task '{s.name.name}' has no body: an abstract task runs nothing", s)
        f = {x.key.name: x.value for x in s.body.fields()}
        agent_name, sig = self.agent(f.get("agent"), s)
        node = M.TaskNode(id=nid, parent=parent, src=self.src(s), name=nid, agent=agent_name)
        self.add(node)
        if "input" in f:
            node.input = self.expr_or_block(f["input"], scope, nid)
        if "when" in f:
            node.when = self.expr(f["when"], scope, reader=nid)
        agent_fields = {x.key.name: x.value for x in sig.body.fields()} if sig else {}
        if "timeout" in f:
            node.timeout = self.duration(f["timeout"], scope)
        elif "timeout" in agent_fields:
            node.timeout = self.duration(agent_fields["timeout"], _Scope({}))
        if "retry" in f:
            node.retry = self.retry(f["retry"], scope)
        elif "retry" in agent_fields:
            node.retry = self.retry(agent_fields["retry"], _Scope({}))
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

    def agent(self, v: A.Expr | A.Block | None, task: A.TaskStmt) -> tuple[str, A.AgentDecl | None]:
        if isinstance(v, A.Name):
            name = v.name
        elif isinstance(v, A.StringLit) and all(isinstance(p, str) for p in v.parts):
            name = "".join(p for p in v.parts if isinstance(p, str))
        elif v is None:
            raise _Abort(f"task '{task.name.name}' has no agent", task.name)
        else:
            raise _Abort("an agent is a name or a plain string", v)
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

    def on_error(self, v: A.Expr | A.Block, scope: _Scope, owner: str | None) -> M.ErrorHandler:
        if isinstance(v, A.Name):
            if v.name not in ("fail", "skip", "continue"):
                raise _Abort(f"unknown on_error action '{v.name}'", v)
            return M.ErrorHandler(action=v.name)  # type: ignore[arg-type]
        if not isinstance(v, (A.Block, A.ObjectLit)):
            raise _Abort("on_error is fail, skip, continue or a handler { … }", v)
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
                raise _Abort("then is fail, skip or continue", t)
            h.then = t.name  # type: ignore[assignment]
        if isinstance(v, A.Block) and v.statements():
            h.body = self.block(v.items, scope, owner, "handler", v)
        return h

    def named_fallback(self, fb: A.Name, scope: _Scope, owner: str | None) -> str:
        """``fallback: task``: a handler block running a copy of that task's definition
        (id ``owner.fallback.task``); the task itself still runs where it is written, and
        reading its name still reads that one (docs/ir.md, Lowering)."""
        stmt = self.task_stmts.get(fb.name) if not scope.prefix else None
        if stmt is None or owner is None:
            raise _Abort("a fallback naming a task is supported for tasks of the workflow "
                         "only: write the task in a fallback { … } block", fb)
        bid = self.new_id("block", scope.prefix)
        node = M.BlockNode(id=bid, parent=owner, role="handler", src=self.src(fb))
        self.add(node)
        prefix = f"{owner}.fallback."
        # the copy's own handler tasks are copies too (ids under the prefix); names of the
        # workflow's other tasks still read those tasks
        copied = {t.name.name for t, _ in iter_tasks([stmt]) if t is not stmt}
        tasks = {k: (prefix + k if k in copied else v) for k, v in scope.tasks.items()
                 if k != fb.name}
        inner = _Scope(tasks, scope.instances, scope.locals, scope.consts, prefix)
        copy = self.task(stmt, inner, bid)
        self.nodes[copy].src = self.src(stmt)
        node.children.append(copy)
        return bid

    def handler_block(self, v: A.Expr | A.Block, scope: _Scope, owner: str | None) -> str:
        if isinstance(v, A.Block):
            return self.block(v.items, scope, owner, "handler", v)
        if isinstance(v, A.ObjectLit):  # `{ task x {…} }` parsed as an object: no statements
            return self.block([], scope, owner, "handler", v)
        raise _Abort("expected a block of statements", v)

    def retry(self, v: A.Expr | A.Block, scope: _Scope) -> M.RetryPolicy:
        """The policy ``retry: …`` writes (twdsl.semantics.policies reads it)."""
        p = self.policy(P.read_retry, v, self.const_in(scope))
        return M.RetryPolicy(attempts=p.attempts, delay=p.delay, backoff=p.backoff,
                             max_delay=p.max_delay, jitter=p.jitter,
                             on=[ErrorKind(k) for k in p.on])

    def cache(self, v: A.Expr | A.Block, scope: _Scope, nid: str) -> M.CachePolicy | None:
        if isinstance(v, A.BoolLit):
            return M.CachePolicy() if v.value else None
        if isinstance(v, (A.Block, A.ObjectLit)):
            fields = v.fields() if isinstance(v, A.Block) else v.fields
            f = {x.key.name: x.value for x in fields}
            return M.CachePolicy(
                ttl=self.duration(f["ttl"], scope) if "ttl" in f else None,
                key=self.expr(f["key"], scope, reader=nid) if "key" in f else None)
        return M.CachePolicy(ttl=self.duration(v, scope))

    def kinds(self, v: A.Expr | A.Block) -> list[ErrorKind]:
        return [ErrorKind(k) for k in self.policy(P.kinds, v)]

    # ------------------------------------------------------------------ constants
    def policy(self, read: Any, v: A.Node, *args: Any) -> Any:
        """``read(v, *args)`` of twdsl.semantics.policies, its error a diagnostic at ``v``."""
        try:
            return read(v, *args)
        except P.PolicyError as e:
            raise _Abort(e.message, e.node) from None

    def const_in(self, scope: _Scope) -> P.Const:
        """The values of settings in ``scope``: literals, and template parameters bound to
        literals."""
        def const(v: A.Node) -> object:
            if isinstance(v, A.Name) and v.name in scope.consts:
                return P.literal(scope.consts[v.name])
            return P.literal(v)
        return const

    def duration(self, v: A.Expr | A.Block, scope: _Scope) -> float:
        return float(self.policy(P.duration, v, self.const_in(scope)))

    def number(self, v: A.Expr | A.Block, scope: _Scope) -> float:
        return float(self.policy(P.number, v, self.const_in(scope)))

    def count(self, v: A.Expr | A.Block, scope: _Scope, zero: bool = False) -> int:
        return int(self.policy(P.count, v, self.const_in(scope), zero))

    def boolean(self, v: A.Expr | A.Block, scope: _Scope) -> bool:
        return bool(self.policy(P.boolean, v, self.const_in(scope)))

    def string(self, f: A.Field | None) -> str | None:
        if f is None:
            return None
        c = self.policy(P.literal, f.value)
        return c if isinstance(c, str) else None

    # ------------------------------------------------------------------ types
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

    # ------------------------------------------------------------------ expressions
    def expr_or_block(self, v: A.Expr | A.Block, scope: _Scope, reader: str) -> X.Expr:
        if isinstance(v, A.Block):
            return X.Object(entries=[(f.key.name, self.expr(f.value, scope, reader))
                                     for f in v.fields() if not isinstance(f.value, A.Block)])
        return self.expr(v, scope, reader)

    def expr(self, e: A.Expr | A.Block, scope: _Scope, reader: str | None = None) -> X.Expr:
        if isinstance(e, A.Block):
            return self.expr_or_block(e, scope, reader or "")
        outer, self.reads = self.reads, []
        out = self._expr(e, scope)
        if reader is not None:
            # the tasks ``out`` reads, in the order first read (recorded while it was built);
            # never a set's order, which changes with the hash seed
            for target in dict.fromkeys(self.reads):
                self.edges.append((target, reader, e))
        outer.extend(self.reads)
        self.reads = outer
        return out

    def _expr(self, e: A.Expr, scope: _Scope) -> X.Expr:  # noqa: C901 - one case per node
        if isinstance(e, A.Name):
            if e.name not in scope.locals and e.name in scope.tasks:
                self.reads.append(scope.tasks[e.name])
                return X.TaskField(node=scope.tasks[e.name], field="result")
            return X.Var(name=e.name)
        if isinstance(e, A.Member):
            target = self.task_of_expr(e.obj, scope)
            if target is not None:
                if e.name.name != "previous":  # (the iteration before: done already)
                    self.reads.append(target)
                return X.TaskField(node=target, field=e.name.name)
            return X.Get(obj=self._expr(e.obj, scope), name=e.name.name)
        if isinstance(e, A.StringLit):
            if all(isinstance(p, str) for p in e.parts):
                return X.Lit(v="".join(p for p in e.parts if isinstance(p, str)))
            return X.Str(parts=[p if isinstance(p, str) else self._expr(p, scope)
                                for p in e.parts])
        if isinstance(e, A.NumberLit):
            return X.Lit(v=e.value)
        if isinstance(e, A.DurationLit):
            return X.Dur(seconds=e.millis / 1000)
        if isinstance(e, A.BoolLit):
            return X.Lit(v=e.value)
        if isinstance(e, A.NullLit):
            return X.Lit(v=None)
        if isinstance(e, A.ArrayLit):
            return X.Array(items=[self._expr(i, scope) for i in e.items])
        if isinstance(e, A.ObjectLit):
            return X.Object(entries=[(f.key.name, self._expr(f.value, scope))
                                     for f in e.fields if not isinstance(f.value, A.Block)])
        if isinstance(e, A.Index):
            return X.Index(obj=self._expr(e.obj, scope), index=self._expr(e.index, scope))
        if isinstance(e, A.Call):
            args = [self._expr(a, scope) for a in e.args]
            if isinstance(e.func, A.Name):
                return X.Call(fn=e.func.name, args=args)
            if isinstance(e.func, A.Member):
                return X.Method(obj=self._expr(e.func.obj, scope), name=e.func.name.name,
                                args=args)
            raise _Abort("only builtin functions and methods can be called", e.func)
        if isinstance(e, A.Unary):
            return X.Unary(op=e.op, e=self._expr(e.operand, scope))  # type: ignore[arg-type]
        if isinstance(e, A.Binary):
            return X.Binary(op=e.op, l=self._expr(e.left, scope),  # type: ignore[arg-type]
                            r=self._expr(e.right, scope))
        if isinstance(e, A.Lambda):
            names = [p.name for p in e.params]
            return X.Lambda(params=names, body=self._expr(e.body, scope.with_locals(names)))
        raise _Abort(f"the compiler cannot lower this expression ({type(e).__name__})", e)

    def task_of_expr(self, e: A.Node, scope: _Scope) -> str | None:
        """The task node ``e`` names: ``task`` or ``alias.task``."""
        if isinstance(e, A.Name) and e.name not in scope.locals:
            return scope.tasks.get(e.name)
        if isinstance(e, A.Member) and isinstance(e.obj, A.Name) and \
                e.obj.name not in scope.locals and e.obj.name in scope.instances:
            return scope.instances[e.obj.name].get(e.name.name)
        if isinstance(e, A.Ref):
            return self.task_of_ref(e, scope)
        return None

    def task_of_ref(self, r: A.Ref, scope: _Scope) -> str | None:
        names = [p.name for p in r.parts]
        if len(names) == 1:
            return scope.tasks.get(names[0])
        if len(names) == 2 and names[0] in scope.instances:
            return scope.instances[names[0]].get(names[1])
        return None

    # ------------------------------------------------------------------ ordering
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
                raise _Abort(
                    f"blocks {names} each wait for a task in the other, so neither can "
                    "start; move the tasks that depend on each other into one block",
                    _SpanNode(_span_of(first.src, self.main.source)))

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


@dataclass(eq=False, slots=True)
class _SpanNode(A.Node):
    """A stand-in node carrying only a span, for errors about IR nodes."""


def _span_of(src: M.SourceRef | None, source: SourceFile | None) -> Span:
    if source is None or src is None or src.file != source.path:
        if src is None:
            return Span(source.path if source else "", 0, 0, 1, 1, 1, 1)
        return Span(src.file, 0, 0, src.line, src.column, src.end_line, src.end_column)
    start = source.offset(src.line, src.column)
    end = source.offset(src.end_line, src.end_column)
    return source.span(start, max(start, end))




def _walk_stmts(items: Iterable[A.Node]) -> Iterator[A.Node]:
    """The statements among ``items`` and every node below them that may hold one, depth
    first in source order.  In a module that checked (the only kind lowered), statements
    are only in statement bodies and in the block-valued fields (``on_error``, ``fallback``…:
    TW122 rejects them anywhere else), so nothing else is entered: not a task's input, which
    holds most of a file's nodes (walking every node of every workflow, several times, was
    most of lowering's time)."""
    stack: list[A.Node] = [i for i in reversed(list(items)) if isinstance(i, A.Stmt)]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(c for c in reversed(list(node.children())) if _may_hold_stmts(c))


#: The fields whose value may be a block of statements (on_error, on_success, fallback…).
_BLOCK_FIELDS = frozenset(f.name for c in CONTAINERS.values() for f in c.fields if f.block)


def _may_hold_stmts(node: A.Node) -> bool:
    if isinstance(node, (A.Stmt, A.Block, A.CaseClause)):
        return True
    if isinstance(node, A.Field):
        return node.key.name in _BLOCK_FIELDS
    return isinstance(node, A.ObjectLit)  # a handler's value: `on_error: { fallback … }`
