"""Type checking: infer every expression's type and report what cannot fit.

What a task reference means (docs/language.md, Q3 and Q5): ``t.result`` is the agent's
declared output (``any`` without a signature).  It is optional (``T?``) when ``t`` may not
have run by the time the reader runs: ``t`` sits in a branch, handler or ``when`` the reader
is not inside, or its ``on_error`` lets the run go on without it.  Read from outside the loop
that declares it, it is an array (one element per iteration).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from twdsl.diagnostics import Diagnostic, Fix, Severity
from twdsl.lang import types as T
from twdsl.lang.builtins import (
    ARG_KINDS,
    ERROR_TYPE,
    FUNCTIONS,
    LAMBDA_NOT_A_VALUE,
    MAPPED,
    NOT_CALLABLE,
    TASK_FIELDS,
    VALUES,
    function_arity,
    methods_for,
)
from twdsl.lang.values import count_of
from twdsl.semantics import policies as P
from twdsl.semantics.declarations import Declarations
from twdsl.semantics.names import Model
from twdsl.semantics.templates import Templates
from twdsl.suggest import did_you_mean
from twdsl.syntax import ast as A
from twdsl.syntax.fields import CONTAINERS

Frame = tuple[int, int]  # (id of a branching statement, which branch)
Loop = tuple[int, int]  # (id of a loop statement, length of the branch path at its entry)


@dataclass(slots=True)
class TaskFacts:
    path: tuple[Frame, ...]  # the branches the task sits in
    loops: tuple[Loop, ...]  # the loops the task sits in, outermost first
    may_skip: bool  # `when`, or on_error that lets the run go on without it
    result: T.Type


@dataclass(slots=True)
class _Ctx:
    path: tuple[Frame, ...] = ()
    loops: tuple[Loop, ...] = ()
    locals: dict[str, T.Type] = field(default_factory=dict)
    result: T.Type | None = None  # the `result` builtin inside on_success
    header: int | None = None  # id of the while loop whose condition is being read


_FIELD_TYPES: dict[str, T.Type] = {
    "timeout": T.DURATION, "max_concurrency": T.NUMBER, "priority": T.NUMBER,
    "when": T.BOOLEAN, "version": T.STRING, "description": T.STRING, "schedule": T.STRING,
    "tags": T.Arr(T.STRING), "max_iterations": T.NUMBER, "parallel": T.BOOLEAN,
    "fail_fast": T.BOOLEAN,
}
def _setting_params(items: Iterable[A.Node], uses: list[A.UseStmt] | None = None,
                    ) -> dict[str, list[P.Reader]]:
    """The bare names given as settings anywhere in ``items`` (statements and their
    blocks, handlers included; never inside expressions), each with the readers of the
    settings it is given to; the ``use`` statements met are added to ``uses``."""
    out: dict[str, list[P.Reader]] = {}
    stack: list[A.Node] = list(items)
    while stack:
        node = stack.pop()
        if isinstance(node, A.Field):
            for v, read in P.setting_leaves(node.key.name, node.value):
                if isinstance(v, A.Name):
                    out.setdefault(v.name, []).append(read)
            if isinstance(node.value, A.Block):
                stack.extend(node.value.items)
            elif isinstance(node.value, A.ObjectLit) and node.key.name == "on_error":
                stack.extend(node.value.fields)
        elif isinstance(node, A.UseStmt):
            if uses is not None:
                uses.append(node)
        elif isinstance(node, A.Stmt):
            for child in node.children():
                if isinstance(child, A.Block):
                    stack.extend(child.items)
                elif isinstance(child, A.CaseClause):
                    stack.extend(child.body)
                elif isinstance(child, A.IfStmt):
                    stack.append(child)
    return out


_ARITH = {"-", "*", "/", "%"}
_COMPARE = {"<", ">", "<=", ">="}


class Checker:
    """Type-checks the workflows and templates of one module, recording the type of every
    expression (``types``, by node id) and where every task sits (``facts``)."""

    def __init__(self, declarations: Declarations, templates: Templates | None = None,
                 text: str = "") -> None:
        """``declarations``: the module's agents and types (twdsl.semantics.declarations);
        ``templates``: the templates ``use`` may name (arguments are checked against them)."""
        self.declarations = declarations
        self.module = declarations.module
        self.text = text  # the file's text, to name expressions in messages
        self.templates = templates
        self.diags: list[Diagnostic] = []
        self._said: set[tuple[int, object]] = set()  # TW403s reported (node, reader)
        #: template -> its parameters given as settings, with the readers of those settings
        self._setting_params: dict[str, dict[str, list[P.Reader]]] = {}
        self.agents = declarations.agents
        self.resolve = declarations.resolve
        self.named = declarations.named
        self.task_signature = declarations.task_signature
        self.task_result = declarations.task_result
        self.types: dict[int, T.Type] = {}
        self.facts_of: dict[int, dict[str, TaskFacts]] = {}  # id(body decl) -> its tasks
        self.loop_stmts: dict[int, A.Stmt] = {}  # id(loop statement) -> the statement
        self.inputs: dict[str, T.Type] = {}
        self.facts: dict[str, TaskFacts] = {}
        self.instances: dict[str, str] = {}  # alias -> template, of the body being checked

    def error(self, code: str, message: str, node: A.Node, fix: Fix | None = None) -> None:
        self.diags.append(Diagnostic(code, Severity.ERROR, message, node.span, (), fix))

    def shown(self, node: A.Node) -> str:
        """The expression as written, quoted (shortened), to name it in a message."""
        text = self.text[node.span.start:node.span.end] if self.text else ""
        text = " ".join(text.split())
        if not text:
            return "this"
        return f"`{text if len(text) <= 40 else text[:37] + '...'}`"

    # ------------------------------------------------------------------ bodies
    def run(self, models: Iterable[Model], items: list[A.Node] | None = None
            ) -> list[Diagnostic]:
        """Check every body (and agent signature, of ``items`` when given); the file's type
        errors: its declarations' (unknown types…), then its bodies'."""
        for decl in self.module.items if items is None else items:
            if isinstance(decl, A.AgentDecl):
                self.agent_settings(decl)
        for model in models:
            self.body(model)
        return [*self.declarations.diags, *self.diags]

    def agent_settings(self, decl: A.AgentDecl) -> None:
        """The values an agent signature holds: its settings (description, timeout, retry,
        pure) and its inputs' defaults, of the types they must have."""
        self.inputs = {}
        self.facts = {}
        self.instances = {}
        ctx = _Ctx()
        for item in decl.body.items:
            if isinstance(item, A.InputDecl):
                for d in item.decls:
                    if d.value is not None:
                        self.expect(d.value, self.resolve(d.type), ctx, f"input '{d.name.name}'")
            elif isinstance(item, A.Field) and not isinstance(item.value, A.Block):
                key = item.key.name
                before = len(self.diags)
                if key == "pure":
                    self.expect(item.value, T.BOOLEAN, ctx, "field 'pure'")
                elif key == "retry" and not isinstance(item.value, A.ObjectLit):
                    self.expect(item.value, T.NUMBER, ctx, "field 'retry'")
                elif key in _FIELD_TYPES:
                    self.expect(item.value, _FIELD_TYPES[key], ctx, f"field '{key}'")
                else:
                    self.infer(item.value, ctx)
                if len(self.diags) == before and key in CONTAINERS["agent"].names:
                    self.literal_setting(item, ())  # a wrong type or place is said once

    def literal_setting(self, f: A.Field, params: Iterable[str]) -> None:
        """TW403 for a setting lowering cannot write into the program: not a literal, or not
        one of its kind (the readers of twdsl.semantics.policies, which lowering uses).  A
        template's ``params`` may be given: each ``use`` is checked for them."""
        for v, read in P.setting_leaves(f.key.name, f.value):
            if isinstance(v, A.Name) and v.name in params:
                param = self.model.inputs.get(v.name)
                if not isinstance(param, A.Param) or param.default is None:
                    continue
                v = param.default  # what a use that does not give the argument sets
            try:
                read(v, P.literal)
            except P.PolicyError as e:
                if (id(e.node), read) not in self._said:  # a default read by two settings
                    self._said.add((id(e.node), read))
                    self.error("TW403", e.message, e.node)

    def body(self, model: Model) -> None:
        self.model = model
        self.inputs = {}
        decl = model.decl
        if isinstance(decl, A.TemplateDecl):
            for p in decl.params:
                self.inputs[p.name.name] = self.resolve(p.type)
            for name, node in model.inputs.items():  # inherited parameters
                if name not in self.inputs and isinstance(node, A.Param):
                    self.inputs[name] = self.resolve(node.type)
        for item in decl.body.items:
            if isinstance(item, A.InputDecl):
                for d in item.decls:
                    self.inputs.setdefault(d.name.name, self.resolve(d.type))
        self.facts = {}
        self.facts_of[id(decl)] = self.facts
        self.instances = model.instances
        self.collect(decl.body.items, _Ctx())
        ctx = _Ctx()
        if isinstance(decl, A.TemplateDecl):
            for p in decl.params:
                if p.default is not None:
                    self.expect(p.default, self.inputs[p.name.name], ctx,
                                f"parameter '{p.name.name}'")
        for item in decl.body.items:
            if isinstance(item, (A.InputDecl, A.OutputDecl)):
                for d in item.decls:
                    if d.value is not None:
                        what = "input" if isinstance(item, A.InputDecl) else "output"
                        self.expect(d.value, self.resolve(d.type), ctx, f"{what} '{d.name.name}'")
        self.items(decl.body.items, ctx, None,
                   "workflow" if isinstance(decl, A.WorkflowDecl) else "template")

    def collect(self, items: Iterable[A.Node], ctx: _Ctx) -> None:
        """Record where every task sits before any expression is typed."""
        before: A.Node | None = None
        for item in items:
            ctx, before = _after(ctx, before), item
            if isinstance(item, A.TaskStmt):
                name = item.name.name
                if name in self.facts or self.model.tasks.get(name) is None:
                    continue
                result = self.task_result(item)
                self.facts[name] = TaskFacts(ctx.path, ctx.loops, _may_skip(item), result)
                if item.body is not None:
                    for k, f in enumerate(item.body.fields()):
                        if f.key.name in ("on_success", "on_error") and \
                                isinstance(f.value, (A.Block, A.ObjectLit)):
                            self.collect(_statements(f.value),
                                         _Ctx(ctx.path + ((id(item), k),), ctx.loops))
                            for sub in _fields(f.value):
                                if sub.key.name in ("fallback", "compensate") and \
                                        isinstance(sub.value, A.Block):
                                    self.collect(sub.value.items,
                                                 _Ctx(ctx.path + ((id(sub), 0),), ctx.loops))
            elif isinstance(item, (A.ParallelStmt, A.SequenceStmt)):
                self.collect(item.body.items, ctx)
            elif isinstance(item, A.IfStmt):
                self.collect(item.then.items, _Ctx(ctx.path + ((id(item), 0),), ctx.loops))
                if isinstance(item.else_, A.IfStmt):
                    self.collect([item.else_], _Ctx(ctx.path + ((id(item), 1),), ctx.loops))
                elif item.else_ is not None:
                    self.collect(item.else_.items, _Ctx(ctx.path + ((id(item), 1),), ctx.loops))
            elif isinstance(item, A.SwitchStmt):
                for k, case in enumerate(item.cases):
                    self.collect(case.body, _Ctx(ctx.path + ((id(item), k),), ctx.loops))
            elif isinstance(item, (A.ForeachStmt, A.WhileStmt)):
                self.loop_stmts[id(item)] = item
                self.collect(item.body.items,
                             _Ctx(ctx.path, ctx.loops + ((id(item), len(ctx.path)),)))

    # ------------------------------------------------------------------ statements
    def items(self, items: Iterable[A.Node], ctx: _Ctx, task: A.TaskStmt | None,
              where: str = "statements") -> None:
        """``where``: the kind of block holding ``items`` (twdsl.syntax.fields.CONTAINERS)."""
        before: A.Node | None = None
        for item in items:
            ctx, before = _after(ctx, before), item
            if isinstance(item, A.Field):
                self.field(item, ctx, task, where)
            elif isinstance(item, A.Stmt):
                self.stmt(item, ctx)

    def stmt(self, s: A.Stmt, ctx: _Ctx) -> None:
        if isinstance(s, A.TaskStmt):
            if s.body is not None:
                self.items(s.body.items, ctx, s, "task")
        elif isinstance(s, (A.ParallelStmt, A.SequenceStmt)):
            self.items(s.body.items, ctx, None,
                       "parallel" if isinstance(s, A.ParallelStmt) else "sequence")
        elif isinstance(s, A.IfStmt):
            self.condition(s.cond, ctx, "if")
            self.items(s.then.items, _sub(ctx, (id(s), 0)), None, "branch")
            if isinstance(s.else_, A.IfStmt):
                self.stmt(s.else_, _sub(ctx, (id(s), 1)))
            elif s.else_ is not None:
                self.items(s.else_.items, _sub(ctx, (id(s), 1)), None, "branch")
        elif isinstance(s, A.SwitchStmt):
            subject = self.infer(s.subject, ctx)
            for k, case in enumerate(s.cases):
                for v in case.values:
                    self.expect(v, T.join(subject, T.NULL) if subject != T.ANY else T.ANY, ctx,
                                "case value")
                self.items(case.body, _sub(ctx, (id(s), k)), None)
        elif isinstance(s, A.ForeachStmt):
            it = self.infer(s.iterable, ctx)
            elem: T.Type = T.ANY
            if isinstance(it, T.Arr):
                elem = it.elem
            elif it != T.ANY:
                self.error("TW304", f"foreach needs an array, and {self.shown(s.iterable)} is "
                           f"{it}", s.iterable)
            inner = _Ctx(ctx.path, ctx.loops + ((id(s), len(ctx.path)),), dict(ctx.locals),
                         ctx.result)
            inner.locals[s.var.name] = elem
            if s.index is not None:
                inner.locals[s.index.name] = T.NUMBER
            self.items(s.body.items, inner, None, "foreach")
        elif isinstance(s, A.WhileStmt):
            inner = _Ctx(ctx.path, ctx.loops + ((id(s), len(ctx.path)),), ctx.locals, ctx.result)
            head = _Ctx(inner.path, inner.loops, inner.locals, inner.result, header=id(s))
            self.condition(s.cond, head, "while")
            self.items(s.body.items, inner, None, "while")
        elif isinstance(s, A.UseStmt):
            bound = self.templates.check_use(s) if self.templates is not None else {}
            for a in s.args:
                want = bound.get(a.name.name)
                if want is not None:  # resolved in the file that declares the parameter
                    self.expect(a.value, want, ctx,
                                f"argument '{a.name.name}' of template '{s.template.dotted}'")
                else:
                    self.infer(a.value, ctx)
            self.setting_args(s)

    def template_settings(self, name: str) -> dict[str, list[P.Reader]]:
        """Template ``name``'s parameters that end up as settings, with their readers: given
        as a setting in its statements, or passed on to a nested ``use`` that does so."""
        found = self._setting_params.get(name)
        if found is not None:
            return found
        found = self._setting_params[name] = {}  # a cycle of templates ends here
        if self.templates is None or self.templates.effective(name) is None:
            return found
        uses: list[A.UseStmt] = []
        found.update(_setting_params(self.templates.statements(name), uses))
        for inner in uses:
            nested = self.template_settings(inner.template.dotted)
            for a in inner.args:
                if isinstance(a.value, A.Name) and a.name.name in nested:
                    found.setdefault(a.value.name, []).extend(nested[a.name.name])
        return found

    def setting_args(self, use: A.UseStmt) -> None:
        """TW403 for an argument that the template gives as a setting (``retry: retries``)
        and that is not a literal of that setting's kind: lowering must know the setting."""
        if self.templates is None or not use.args:
            return
        name = use.template.dotted
        settings = self.template_settings(name)
        params = self.inputs if self.model.kind == "template" else ()
        for a in use.args:
            for read in settings.get(a.name.name, ()):
                if isinstance(a.value, A.Name) and a.value.name in params:
                    break
                try:
                    read(a.value, P.literal)
                except P.PolicyError as e:
                    self.error("TW403", f"argument '{a.name.name}' of template '{name}' is a "
                               f"setting there (a retry, timeout or limit): {e.message}",
                               a.value)
                    break

    def condition(self, e: A.Expr, ctx: _Ctx, what: str) -> None:
        t = self.infer(e, ctx)
        if t not in (T.BOOLEAN, T.ANY):
            hint = "; read it with ?? (e.g. `x ?? false`)" if t == T.Opt(T.BOOLEAN) else ""
            self.error("TW303", f"the condition of {what} must be boolean, and "
                       f"{self.shown(e)} is {t}{hint}", e)

    def field(self, f: A.Field, ctx: _Ctx, task: A.TaskStmt | None,
              where: str = "statements") -> None:
        key = f.key.name
        v = f.value
        before = len(self.diags)
        if key == "on_error" and isinstance(v, (A.Block, A.ObjectLit)):
            self.handler(v, ctx)
        elif isinstance(v, A.Block):
            inner = ctx
            if key == "on_success" and task is not None:
                inner = _Ctx(ctx.path + ((id(task), -1),), ctx.loops, ctx.locals,
                             self.task_result(task))
            self.items(v.items, inner, None)
        elif key == "retry" and isinstance(v, A.ObjectLit):
            for sub in v.fields:
                if sub.key.name != "on" and not isinstance(sub.value, A.Block):
                    self.infer(sub.value, ctx)
        elif key == "retry":
            self.expect(v, T.NUMBER, ctx, "field 'retry'")
        elif key in ("depends", "on_error") or (task is not None and key == "agent"):
            pass  # task names, actions and agents: checked by name resolution
        elif task is not None and key == "input":
            self.task_input(task, v, ctx)
        elif key in _FIELD_TYPES:
            self.expect(v, _FIELD_TYPES[key], ctx, f"field '{key}'")
        else:
            self.infer(v, ctx)
        if key in P.SETTINGS and len(self.diags) == before \
                and key in CONTAINERS[where].names:  # a wrong type or a wrong place: said once
            self.literal_setting(f, self.inputs if self.model.kind == "template" else ())

    def handler(self, v: A.Block | A.ObjectLit, ctx: _Ctx) -> None:
        """An on_error handler: `when` and `then` are words, `fallback` a task or a block."""
        for item in v.items if isinstance(v, A.Block) else v.fields:
            if isinstance(item, A.Stmt):
                self.stmt(item, ctx)
            elif isinstance(item, A.Field):
                if (item.key.name == "fallback" and isinstance(item.value, A.Name)
                        and self.model.kind == "template" and item.value.name in self.model.tasks):
                    self.error("TW403", P.NAMED_FALLBACK_IN_TEMPLATE, item.value)
                elif isinstance(item.value, A.Block):
                    self.items(item.value.items, ctx, None)
                elif item.key.name == "retry":
                    self.field(item, ctx, None, "on_error")

    def task_input(self, task: A.TaskStmt, v: A.Expr, ctx: _Ctx) -> None:
        sig = self.task_signature(task)
        if sig is None or not isinstance(v, A.ObjectLit):
            t = self.infer(v, ctx)
            if sig is not None and not T.assignable(t, sig.inputs):
                self.error("TW305", f"the input of task '{task.name.name}' is {t}; its agent "
                           f"takes {sig.inputs}", v)
            return
        agent = task.body.get("agent").value  # type: ignore[union-attr]
        agent_name = agent.name if isinstance(agent, A.Name) else agent.value  # type: ignore[union-attr]
        given = set()
        for f in v.fields:
            name = f.key.name
            given.add(name)
            want = sig.inputs.get(name)
            if isinstance(f.value, A.Block):
                continue
            if want is None:
                present = [g.key.name for g in v.fields]  # never suggest a name already given
                hint, fix = did_you_mean(name, sig.inputs.names, f.key.span, exclude=present,
                                         verb="rename to")
                self.error("TW305", f"agent '{agent_name}' takes no input '{name}'{hint}",
                           f.key, fix)
                self.infer(f.value, ctx)
            else:
                self.expect(f.value, want, ctx, f"input '{name}' of agent '{agent_name}'")
        missing = [n for n in sig.inputs.names if n in sig.required and n not in given]
        if missing:
            names = ", ".join(f"'{n}'" for n in missing)
            self.error("TW305", f"task '{task.name.name}' does not give agent '{agent_name}' "
                       f"its required input{'s' if len(missing) > 1 else ''} {names}", v)

    # ------------------------------------------------------------------ expressions
    def expect(self, e: A.Expr, want: T.Type, ctx: _Ctx, what: str) -> T.Type:
        got = self.infer(e, ctx)
        if not T.assignable(got, want):
            hint = ""
            if isinstance(got, T.Opt) and T.assignable(got.inner, want):
                hint = "; it may be null: give a default with ??"
            self.error("TW301", f"{what} expects {want}, and this is {got}{hint}", e)
        return got

    def infer(self, e: A.Node, ctx: _Ctx) -> T.Type:
        """The type of ``e`` here, recorded in ``types``.  A task or a template instance is
        no value: only the fields of a task are (``member`` reads them without ``infer``)."""
        t = self._infer(e, ctx)
        if isinstance(t, _TaskRefType):
            self.error("TW301", f"{t} is not a value: {t.hint}", e)
            t = T.ANY
        self.types[id(e)] = t
        return t

    def _infer(self, e: A.Node, ctx: _Ctx) -> T.Type:
        if isinstance(e, A.StringLit):
            for p in e.parts:
                if isinstance(p, A.Expr):
                    self.infer(p, ctx)
            return T.STRING
        if isinstance(e, A.NumberLit):
            return T.NUMBER
        if isinstance(e, A.DurationLit):
            return T.DURATION
        if isinstance(e, A.BoolLit):
            return T.BOOLEAN
        if isinstance(e, A.NullLit):
            return T.NULL
        if isinstance(e, A.ArrayLit):
            elem: T.Type | None = None
            for x in e.items:
                t = self.infer(x, ctx)
                elem = t if elem is None else T.join(elem, t)
            return T.Arr(elem or T.ANY)
        if isinstance(e, A.ObjectLit):
            return T.Rec(tuple((f.key.name, self.infer(f.value, ctx) if not
                                isinstance(f.value, A.Block) else T.ANY) for f in e.fields))
        if isinstance(e, A.Name):
            return self.name(e, ctx)
        if isinstance(e, A.Member):
            return self.member(e, ctx)
        if isinstance(e, A.Index):
            whole = self.infer(e.obj, ctx)
            obj = _deref(whole)
            idx = self.infer(e.index, ctx)
            if isinstance(obj, T.Arr):
                if idx not in (T.NUMBER, T.ANY):
                    self.error("TW301", f"an array index must be a number, and this is {idx}",
                               e.index)
                return _carry(whole, obj.elem)
            return _carry(whole, T.STRING if obj == T.STRING else T.ANY)
        if isinstance(e, A.Call):
            return self.call(e, ctx)
        if isinstance(e, A.Unary):
            t = self.infer(e.operand, ctx)
            if e.op == "!":
                if t not in (T.BOOLEAN, T.ANY):
                    self.error("TW301", f"'!' needs a boolean, and this is {t}", e.operand)
                return T.BOOLEAN
            if t not in (T.NUMBER, T.DURATION, T.ANY):
                self.error("TW301", f"'-' needs a number or a duration, and this is {t}", e.operand)
            return t
        if isinstance(e, A.Binary):
            return self.binary(e, ctx)
        if isinstance(e, A.Lambda):  # only a method's argument is a lambda (``argument``)
            self.error("TW301", LAMBDA_NOT_A_VALUE, e)
            self.lambda_type(e, (), ctx)
            return T.ANY
        return T.ANY  # ErrorExpr, Block (reported elsewhere)

    def lambda_type(self, e: A.Lambda, params: tuple[T.Type, ...], ctx: _Ctx) -> T.Fn:
        """A lambda whose parameters have the types ``params`` (``any`` past them)."""
        inner = _Ctx(ctx.path, ctx.loops, dict(ctx.locals), ctx.result)
        for j, p in enumerate(e.params):
            inner.locals[p.name] = params[j] if j < len(params) else T.ANY
        ret = self.infer(e.body, inner)
        t = T.Fn(tuple(params[j] if j < len(params) else T.ANY for j in range(len(e.params))),
                 ret)
        self.types[id(e)] = t
        return t

    def argument(self, a: A.Expr, ctx: _Ctx) -> T.Type:
        """An argument of a method whose parameters are not known (on ``any``): a lambda
        there is a lambda, not a value."""
        return self.lambda_type(a, (), ctx) if isinstance(a, A.Lambda) else self.infer(a, ctx)

    def name(self, e: A.Name, ctx: _Ctx) -> T.Type:
        n = e.name
        if n in ctx.locals:
            return ctx.locals[n]
        if n in self.inputs:
            return self.inputs[n]
        if n in self.facts:
            return _TaskRefType(n)  # resolved by member access: t.result, t.status
        if n in self.instances:
            return _TaskRefType(n, instance=True)  # one.task.result
        if n == "result" and ctx.result is not None:
            return ctx.result
        value = VALUES.get(n)
        return value.type if value is not None else T.ANY

    def task_member(self, task: str, field: str, node: A.Member, ctx: _Ctx) -> T.Type:
        """The type of ``task.field`` read here (docs/language.md, Q3 and Q5): every field
        is one value per iteration when read from outside a loop the task is in; ``result``
        is optional where the task may not have run, ``status`` and ``attempts`` always have a
        value (``pending`` and 0 for a task that did not run)."""
        facts = self.facts[task]
        always = field in ("status", "attempts")
        t: T.Type
        if field == "result":
            t = facts.result
        elif field == "status":
            t = T.STRING
        elif field == "attempts":
            t = T.NUMBER
        elif field == "error":
            t = T.optional(ERROR_TYPE)
        elif field == "duration":
            t = T.optional(T.DURATION)
        elif field in ("started_at", "finished_at"):
            t = T.optional(T.DATETIME)
        elif field == "previous":
            return self.previous(task, node, ctx)
        else:
            hint, fix = did_you_mean(field, TASK_FIELDS, node.name.span)
            self.error("TW302", f"task '{task}' has no field '{field}' (a task has "
                       f"{', '.join(TASK_FIELDS)}){hint}", node.name, fix)
            return T.ANY
        if not always and (facts.may_skip or
                           ctx.header in {loop_id for loop_id, _ in facts.loops}):
            t = T.optional(t)  # (in a while condition: null before the first iteration)
        inside = {loop_id for loop_id, _ in ctx.loops}
        outer = [loop for loop in facts.loops if loop[0] not in inside]
        if not outer:
            return t if always or _prefix(facts.path, ctx.path) else T.optional(t)
        # Read from outside a loop: one element per iteration.  A branch (or a `break` or
        # `continue` before the task) inside the innermost loop makes the elements optional
        # (not for status and attempts, which a task that did not run has too); one between
        # two loops makes the inner loop's arrays optional (null for an iteration of the
        # outer loop that did not run the inner one); one around the loop makes the whole
        # array optional.
        entry = outer[0][1]
        if not always and facts.path[outer[-1][1]:]:
            t = T.optional(t)
        for k in reversed(range(len(outer))):
            t = T.Arr(t)
            if k > 0 and facts.path[outer[k - 1][1]:outer[k][1]]:
                t = T.optional(t)
        return t if _prefix(facts.path[:entry], ctx.path) else T.optional(t)

    def previous(self, task: str, node: A.Member, ctx: _Ctx) -> T.Type:
        """``task.previous``: inside the (sequential) loop that declares the task, its result
        in the iteration before the current one (null in the first)."""
        facts = self.facts[task]
        inside = {loop_id for loop_id, _ in ctx.loops}
        if not facts.loops or facts.loops[-1][0] not in inside:
            self.error("TW302", f"'{task}.previous' is read inside the loop that declares "
                       f"'{task}' (it is the result of the iteration before the current one)",
                       node.name)
            return T.ANY
        loop = self.loop_stmts.get(facts.loops[-1][0])
        if isinstance(loop, A.ForeachStmt):
            par = loop.body.get("parallel")
            if par is not None and not (isinstance(par.value, A.BoolLit) and not par.value.value):
                self.error("TW302", f"'{task}.previous' in a parallel foreach: iterations run "
                           "at the same time, so there is no previous one", node.name)
                return T.ANY
        return T.optional(facts.result)

    def member(self, e: A.Member, ctx: _Ctx) -> T.Type:
        if isinstance(e.obj, A.Name) and e.obj.name not in ctx.locals \
                and e.obj.name not in self.inputs and e.obj.name in self.facts:
            return self.task_member(e.obj.name, e.name.name, e, ctx)
        alias = self.instance_of(e.obj, ctx)
        if alias is not None:  # ``alias.task.field`` (names.py checks the task)
            field = e.name.name
            assert isinstance(e.obj, A.Member)
            task = f"{alias}.{e.obj.name.name}"
            eff = self.templates.effective(self.instances[alias]) \
                if self.templates is not None else None
            known = eff is not None and e.obj.name.name in eff.tasks
            if known and (field not in TASK_FIELDS or field == "previous"):
                fields = [f for f in TASK_FIELDS if f != "previous"]
                hint, fix = did_you_mean(field, fields, e.name.span)
                self.error("TW302", f"task '{task}' has no field '{field}' (a task has "
                           f"{', '.join(fields)}){hint}", e.name, fix)
            return T.ANY  # (the instance's own checker typed it, in the template)
        if isinstance(e.obj, A.Name) and self.instance_of(e, ctx) is not None:
            return _TaskRefType(f"{e.obj.name}.{e.name.name}")  # one.task: a task
        whole = self.infer(e.obj, ctx)
        return _carry(whole, self.field_of(_deref(whole), e))

    def instance_of(self, e: A.Node, ctx: _Ctx) -> str | None:
        """The alias of ``e`` when it is ``alias.task``, a task of a template instance."""
        if isinstance(e, A.Member) and isinstance(e.obj, A.Name):
            n = e.obj.name
            if n in self.instances and n not in ctx.locals and n not in self.inputs \
                    and n not in self.facts:
                return n
        return None

    def field_of(self, obj: T.Type, e: A.Member) -> T.Type:
        name = e.name.name
        if isinstance(obj, T.Rec):
            t = obj.get(name)
            if t is None:
                hint, fix = did_you_mean(name, obj.names, e.name.span)
                self.error("TW302", f"{obj} has no field '{name}'{hint}", e.name, fix)
                return T.ANY
            return t
        if name == "length" and (isinstance(obj, T.Arr) or obj in (T.STRING, T.URL, T.FILE)):
            return T.NUMBER  # (the receivers of the string methods, length() included)
        if isinstance(obj, T.Arr) or obj in (T.STRING, T.NUMBER, T.BOOLEAN, T.DURATION,
                                             T.DATETIME, T.URL, T.FILE):
            self.error("TW302", f"{obj} has no field '{name}'", e.name)
        return T.ANY

    def call(self, e: A.Call, ctx: _Ctx) -> T.Type:
        if isinstance(e.func, A.Name) and e.func.name in FUNCTIONS:
            return self.function(e.func.name, e, [self.infer(a, ctx) for a in e.args])
        if not isinstance(e.func, A.Member):
            if not isinstance(e.func, A.Name):  # (an unknown name: TW210, names.py)
                self.error("TW301", NOT_CALLABLE, e.func)
            self.argument(e.func, ctx)
            for a in e.args:
                self.infer(a, ctx)
            return T.ANY
        whole = self.infer(e.func.obj, ctx)
        return _carry(whole, self.method_call(_deref(whole), e, ctx))

    def method_call(self, recv: T.Type, e: A.Call, ctx: _Ctx) -> T.Type:
        assert isinstance(e.func, A.Member)
        method = e.func.name.name
        table = methods_for(recv)
        if table is None:
            for a in e.args:
                self.argument(a, ctx)
            return T.ANY
        spec = table.get(method)
        if spec is None:
            hint, fix = did_you_mean(method, table, e.func.name.span)
            self.error("TW302", f"{recv} has no method '{method}'{hint}", e.func.name, fix)
            for a in e.args:
                self.argument(a, ctx)
            return T.ANY
        params, ret = spec.signature(recv)
        if len(e.args) != spec.arity:
            self.error("TW301", f"'{method}' takes {count_of(spec.arity, 'argument')}, and "
                       f"this call gives {len(e.args)}", e)
        lambda_ret: T.Type = T.ANY
        for k, a in enumerate(e.args):
            want = params[k] if k < len(params) else T.ANY
            if isinstance(a, A.Lambda):
                arg_types = want.params if isinstance(want, T.Fn) else ()
                if isinstance(want, T.Fn) and len(a.params) != len(want.params):
                    # the runtime calls it with exactly these (twdsl/ir/env.py, Closure)
                    self.error("TW301", f"'{method}' gives its lambda "
                               f"{count_of(len(want.params), 'argument')}, and this one takes "
                               f"{len(a.params) or 'none'}", a)
                lambda_ret = self.lambda_type(a, arg_types, ctx).ret
                if isinstance(want, T.Fn) and want.ret == T.BOOLEAN and \
                        lambda_ret not in (T.BOOLEAN, T.ANY):
                    self.error("TW301", f"'{method}' needs a lambda that returns boolean, and "
                               f"this one returns {lambda_ret}", a.body)
            elif want != T.ANY:
                self.expect(a, want, ctx, f"the argument of '{method}'")
            else:
                self.infer(a, ctx)
        if ret == MAPPED:
            return T.Arr(lambda_ret)
        return ret

    def function(self, name: str, e: A.Call, args: list[T.Type]) -> T.Type:
        """A builtin function call: the number of arguments and their kinds."""
        fn = FUNCTIONS[name]
        required, variadic = function_arity(fn, len(args))
        optional, result = fn.optional, fn.result
        most = None if variadic else len(required) + len(optional)
        if len(args) < len(required) or (most is not None and len(args) > most):
            want = (f"{len(required)}" if most == len(required) else
                    f"{len(required)} or {most}" if most == len(required) + 1 else
                    f"{len(required)} to {most}" if most is not None else
                    f"at least {len(required)}")
            self.error("TW301", f"{name}() takes {want} argument{'s' if want != '1' else ''}, "
                       f"and this call gives {len(args)}", e)
            return result
        kinds = [*required, *optional][:len(args)]
        kinds += [variadic or "any"] * (len(args) - len(kinds))
        for arg, t, kind in zip(e.args, args, kinds, strict=True):
            test, words = ARG_KINDS[kind]
            if not test(t):
                self.error("TW301", f"{name}() takes {words}, and this is {t}", arg)
        return result

    def binary(self, e: A.Binary, ctx: _Ctx) -> T.Type:
        op = e.op
        left = self.infer(e.left, ctx)
        right = self.infer(e.right, ctx)
        if op == "??":
            if isinstance(left, T.Opt):
                inner = T.strip(left)
                both = T.join(inner, right)
                if both == T.ANY and T.ANY not in (inner, right):
                    # a value that is either of two unrelated types: the checker has no type
                    # for it, and what reads it would fail at run time for one of them
                    self.error("TW301", f"'??' gives a default of type {right} to a value of "
                               f"type {left}: give a default of type {inner}", e.right)
                return both
            return T.join(left, right) if left == T.NULL else left
        if op in ("==", "!="):
            return T.BOOLEAN
        if T.ANY in (left, right):
            return T.BOOLEAN if op in _COMPARE or op in ("&&", "||") else T.ANY
        if op in ("&&", "||"):
            for side, t in ((e.left, left), (e.right, right)):
                if t != T.BOOLEAN:
                    self.error("TW301", f"'{op}' needs booleans, and this is {t}", side)
            return T.BOOLEAN
        result = _arith(op, left, right)
        if result is None:
            self.error("TW301", f"'{op}' cannot combine {left} and {right}", e)
            return T.ANY
        return result


class _TaskRefType(T.Type):
    """A bare task name (or ``alias.task``), or a template instance's alias: only the fields of
    a task (``t.result``…) are values."""

    __slots__ = ("instance", "task")

    def __init__(self, task: str, instance: bool = False) -> None:
        self.task = task
        self.instance = instance

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _TaskRefType) and (other.task, other.instance) == \
            (self.task, self.instance)

    def __hash__(self) -> int:
        return hash(("task", self.task, self.instance))

    def __str__(self) -> str:
        return f"{'template instance' if self.instance else 'task'} '{self.task}'"

    @property
    def hint(self) -> str:
        """What to write instead."""
        if self.instance:
            return f"read a field of one of its tasks ({self.task}.task.result, …)"
        return f"read one of its fields ({self.task}.result, {self.task}.status, …)"


def _deref(t: T.Type) -> T.Type:
    """What fields and methods apply to: a null-or-T is read as T (and the result carried)."""
    if isinstance(t, _TaskRefType):
        return T.ANY
    return T.strip(t)


def _carry(whole: T.Type, part: T.Type) -> T.Type:
    """Reading into an optional gives an optional (``x.result.url`` is null when ``x.result``
    is): nullness is checked where the value is used, not where it is read."""
    return T.optional(part) if isinstance(whole, T.Opt) else part


def _arith(op: str, a: T.Type, b: T.Type) -> T.Type | None:
    n, d, t, s = T.NUMBER, T.DURATION, T.DATETIME, T.STRING
    table: dict[tuple[str, T.Type, T.Type], T.Type] = {
        ("+", n, n): n, ("+", s, s): s, ("+", d, d): d, ("+", t, d): t, ("+", d, t): t,
        ("-", n, n): n, ("-", d, d): d, ("-", t, d): t, ("-", t, t): d,
        ("*", n, n): n, ("*", d, n): d, ("*", n, d): d, ("/", n, n): n, ("/", d, n): d,
        ("/", d, d): n, ("%", n, n): n,
    }
    for x in (n, d, t, s):
        for y in (n, d, t, s):
            if op in _COMPARE and x == y and x in (n, d, t, s):
                table[(op, x, y)] = T.BOOLEAN
    if op == "+" and isinstance(a, T.Arr) and isinstance(b, T.Arr):
        return T.Arr(T.join(a.elem, b.elem))
    return table.get((op, a, b))


def _sub(ctx: _Ctx, frame: Frame) -> _Ctx:
    return _Ctx(ctx.path + (frame,), ctx.loops, ctx.locals, ctx.result)


#: The branch a loop's statements after a ``break`` or ``continue`` sit in: an iteration that
#: stops there does not run them (docs/language.md, Q5: their results are optional elements).
_CUT = -2


def _after(ctx: _Ctx, before: A.Node | None) -> _Ctx:
    """The context of a statement of a block, given the statement ``before`` it."""
    return _sub(ctx, (id(before), _CUT)) if ctx.loops and before is not None \
        and _cuts(before) else ctx


def _cuts(node: A.Node) -> bool:
    """Whether ``node`` holds a ``break`` or ``continue`` of the loop around it (not of a loop
    inside it)."""
    if isinstance(node, (A.BreakStmt, A.ContinueStmt)):
        return True
    if isinstance(node, (A.ForeachStmt, A.WhileStmt)):
        return False
    return any(_cuts(c) for c in node.children())


def _prefix(a: tuple[Frame, ...], b: tuple[Frame, ...]) -> bool:
    return b[: len(a)] == a


def _may_skip(task: A.TaskStmt) -> bool:
    """A task whose result may be null even though its statement was reached."""
    if task.body is None:
        return False
    if task.body.get("when") is not None:
        return True
    f = task.body.get("on_error")
    if f is None:
        return False
    v = f.value
    if isinstance(v, A.Name):
        return v.name in ("skip", "continue")
    for sub in _fields(v) if isinstance(v, (A.Block, A.ObjectLit)) else []:
        if sub.key.name == "then" and isinstance(sub.value, A.Name) and \
                sub.value.name in ("skip", "continue"):
            return True
        if sub.key.name == "fallback":
            return True  # the task failed and its fallback ran instead
    return False


def _fields(v: A.Block | A.ObjectLit) -> list[A.Field]:
    return v.fields() if isinstance(v, A.Block) else v.fields


def _statements(v: A.Block | A.ObjectLit) -> list[A.Stmt]:
    return v.statements() if isinstance(v, A.Block) else []
