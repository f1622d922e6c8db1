"""Names and scopes: what every name in a workflow or template refers to.

Scope rules (docs/language.md, question 6): inputs (or template parameters) and task names are
visible throughout their workflow, wherever the task is declared; loop variables only inside
their loop; lambda parameters only inside their lambda; builtins everywhere.  A loop variable or
lambda parameter may not shadow an input, a task or a builtin; a lambda parameter may shadow a
loop variable.  Some fields do not hold ordinary expressions: ``agent`` names an agent,
``depends`` and ``fallback`` name tasks, ``on_error``/``then`` name an action, and ``when`` and
``retry.on`` name error kinds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from twdsl.diagnostics import Diagnostic, Fix, Related, Severity, TextEdit
from twdsl.lang.agents import BUILTIN_AGENTS, entry_point_agents
from twdsl.lang.builtins import FUNCTIONS as BUILTIN_FUNCTIONS
from twdsl.lang.builtins import VALUES as BUILTIN_VALUES
from twdsl.lang.kinds import ERROR_ACTIONS, ERROR_KINDS, RETRIED_KINDS, THEN_ACTIONS, ErrorKind
from twdsl.semantics import policies as P
from twdsl.semantics.modules import Imports
from twdsl.semantics.templates import Templates
from twdsl.suggest import closest, did_you_mean
from twdsl.syntax import ast as A

Body = A.WorkflowDecl | A.TemplateDecl


@dataclass(slots=True)
class TaskInfo:
    """A task and where it sits."""

    name: str
    node: A.TaskStmt
    loops: tuple[A.Stmt, ...]  # enclosing foreach/while loops, outermost first


@dataclass(slots=True)
class TaskRef:
    """A reference to a task from an expression: ``target`` is read by ``user`` (a task name),
    or by the block statement ``block`` whose header holds the expression."""

    target: str
    node: A.Node
    user: str | None = None
    block: A.Stmt | None = None


@dataclass(slots=True)
class Model:
    """What name resolution learned about one workflow or template."""

    decl: Body
    tasks: dict[str, TaskInfo] = field(default_factory=dict)
    inputs: dict[str, A.Node] = field(default_factory=dict)  # VarDecl or Param
    refs: list[TaskRef] = field(default_factory=list)
    used_inputs: set[str] = field(default_factory=set)
    inherited_tasks: set[str] = field(default_factory=set)  # a template's parent's and mixins'
    order_refs: list[tuple[A.Ref, str]] = field(default_factory=list)  # (ref, user) in depends
    #: (alias, node, user, block): an expression of task ``user`` (or of the header of block
    #: statement ``block``) reads a template instance's task (``alias.task.result``)
    instance_reads: list[tuple[str, A.Node, str | None, A.Stmt | None]] = field(
        default_factory=list)
    #: alias -> template, of the body's ``use Template(…) as alias`` statements
    instances: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "workflow" if isinstance(self.decl, A.WorkflowDecl) else "template"

    @property
    def label(self) -> str:
        return f"{self.kind} '{self.decl.name.name}'"


def iter_tasks(items: Iterable[A.Node],
               loops: tuple[A.Stmt, ...] = ()) -> Iterator[tuple[A.TaskStmt, tuple[A.Stmt, ...]]]:
    """Every task declared in a body, in source order, with its enclosing loops; handler
    blocks (on_success, fallback, compensate, on_error statements) included."""
    for item in items:
        if isinstance(item, A.TaskStmt):
            yield item, loops
            if item.body is not None:
                yield from iter_tasks(handler_items(item.body), loops)
        elif isinstance(item, (A.ParallelStmt, A.SequenceStmt)):
            yield from iter_tasks(item.body.items, loops)
        elif isinstance(item, A.IfStmt):
            yield from iter_tasks(item.then.items, loops)
            if isinstance(item.else_, A.IfStmt):
                yield from iter_tasks([item.else_], loops)
            elif item.else_ is not None:
                yield from iter_tasks(item.else_.items, loops)
        elif isinstance(item, A.SwitchStmt):
            for case in item.cases:
                yield from iter_tasks(case.body, loops)
        elif isinstance(item, (A.ForeachStmt, A.WhileStmt)):
            yield from iter_tasks(item.body.items, loops + (item,))
        elif isinstance(item, A.Field):
            yield from iter_tasks(_handler_items_of_field(item), loops)


def handler_items(body: A.Block) -> list[A.Node]:
    out: list[A.Node] = []
    for f in body.fields():
        out.extend(_handler_items_of_field(f))
    return out


def _handler_items_of_field(f: A.Field) -> list[A.Node]:
    """Statements held by a handler field (on_success, on_error, fallback, compensate)."""
    if f.key.name not in ("on_success", "on_error", "fallback", "compensate"):
        return []
    v = f.value
    if isinstance(v, A.Block):
        return [*v.statements(), *[x for x in v.fields() if isinstance(x.value, A.Block)]]
    if isinstance(v, A.ObjectLit):
        return [x for x in v.fields if isinstance(x.value, A.Block)]
    return []


def module_checks(module: A.Module) -> list[Diagnostic]:
    """What holds across a module's declarations: their names are unique, imported names
    included (TW203)."""
    out: list[Diagnostic] = []
    seen: dict[str, A.Decl] = {}
    imported = {(n.alias or n.name).name: n for d in module.items
                if isinstance(d, A.ImportDecl) for n in d.names or ()}
    for item in module.items:
        if not isinstance(item, A.Decl):
            continue
        name = item.name.name
        if name in imported:
            out.append(Diagnostic("TW203", Severity.ERROR, f"'{name}' is declared in this file "
                                  "and imported too; rename one (or import it 'as' another "
                                  "name)", item.name.span,
                                  (Related(imported[name].span, "imported here"),)))
        first = seen.setdefault(name, item)
        if first is not item:
            out.append(Diagnostic("TW203", Severity.ERROR, f"'{name}' is declared twice in "
                                  "this file", item.name.span,
                                  (Related(first.name.span, "first declared here"),)))
    return out


class Resolver:
    """Resolves the names of one module's workflows and templates."""

    def __init__(self, module: A.Module, imports: Imports | None = None,
                 templates: Templates | None = None,
                 bound_agents: frozenset[str] | None = None) -> None:
        """``bound_agents``: the agents configuration binds (None: no [agents] table)."""
        self.module = module
        self.bound_agents = bound_agents
        self.template_table = templates
        self.diags: list[Diagnostic] = []
        local = [d for d in module.items if isinstance(d, A.Decl)]
        if imports is None:  # a file on its own: imports are not resolved, so not guessed at
            decls = [d for d in module.items if isinstance(d, A.ImportDecl)]
            lent = {(n.alias or n.name).name for d in decls for n in d.names or ()}
            self.open_imports = any(d.names is None and d.alias is None for d in decls)
            self.namespaces = {d.alias.name for d in decls if d.alias is not None}
            agents, template_names = set(lent), set(lent)
        else:
            self.open_imports = not imports.complete
            self.namespaces = set()  # resolved: their templates are in imports.decls
            agents = {n for n, (_, d) in imports.decls.items() if isinstance(d, A.AgentDecl)}
            template_names = {n for n, (_, d) in imports.decls.items()
                              if isinstance(d, A.TemplateDecl)}
        self.agents = agents | {d.name.name for d in local if isinstance(d, A.AgentDecl)}
        self.templates = template_names | {d.name.name for d in local
                                           if isinstance(d, A.TemplateDecl)}
        self.models: list[Model] = []

    # ------------------------------------------------------------------ reporting
    def error(self, code: str, message: str, node: A.Node, related: tuple[Related, ...] = (),
              fix: Fix | None = None, severity: Severity = Severity.ERROR) -> None:
        self.diags.append(Diagnostic(code, severity, message, node.span, related, fix))

    def unknown(self, code: str, what: str, name: str, node: A.Node,
                candidates: Iterable[str], where: str = "") -> None:
        hint, fix = did_you_mean(name, candidates, node.span)
        self.error(code, f"{what} '{name}'{where}{hint}", node, fix=fix)

    # ------------------------------------------------------------------ declarations
    def run(self, items: list[A.Node] | None = None) -> list[Model]:
        """Resolve the names of every body of the module (or of ``items`` only, with no
        check across declarations: the caller makes :func:`module_checks` on the whole)."""
        if items is None:
            self.diags.extend(module_checks(self.module))
        for item in self.module.items if items is None else items:
            if isinstance(item, (A.WorkflowDecl, A.TemplateDecl)):
                self.models.append(self.body(item))
            elif isinstance(item, A.AgentDecl):
                self.agent_settings(item)
        return self.models

    def agent_settings(self, decl: A.AgentDecl) -> None:
        """An agent signature's settings and input defaults see builtins only (no workflow's
        inputs or tasks): they are resolved before any run."""
        model = Model(decl)  # type: ignore[arg-type]  # a scope with no names of its own
        scope = _Scope(model, set())
        for item in decl.body.items:
            if isinstance(item, A.Field) and not isinstance(item.value, A.Block):
                self.expr(item.value, scope, None)
            elif isinstance(item, A.InputDecl):
                for d in item.decls:
                    if d.value is not None:
                        self.expr(d.value, scope, None)

    def body(self, decl: Body) -> Model:
        model = Model(decl)
        if isinstance(decl, A.TemplateDecl):
            for p in decl.params:
                self.declare(model.inputs, p.name, p, "parameter", model)
            if self.template_table is not None and decl.extends:
                base = self.template_table.inherited(decl.name.name)
                for name, param in base.params.items():
                    model.inputs.setdefault(name, param)
                model.inherited_tasks = set(base.tasks)
        for item in decl.body.items:
            if isinstance(item, A.InputDecl):
                for d in item.decls:
                    self.declare(model.inputs, d.name, d, "input", model)
        for task, loops in iter_tasks(decl.body.items):
            name = task.name.name
            if isinstance(decl, A.WorkflowDecl) and task.modifiers:
                words = " ".join(task.modifiers)
                self.error("TW235", f"'{words} task {name}': modifiers apply to the tasks of "
                           "templates only; a workflow's task is neither inherited nor "
                           "overridden", task.name)
            if name in model.tasks:
                first = model.tasks[name].node
                self.error("TW201", f"task '{name}' is declared twice in {model.label}",
                           task.name, (Related(first.name.span, "first declared here"),))
                continue
            if name in model.inputs:
                what = "input" if model.kind == "workflow" else "parameter"
                self.error("TW202", f"task '{name}' has the name of the {what} '{name}' in "
                           f"{model.label}; rename one of them", task.name)
            model.tasks[name] = TaskInfo(name, task, loops)
        aliases: dict[str, A.Ident] = {}
        for use in decl.body.walk():
            if isinstance(use, A.UseStmt) and use.alias is not None:
                alias = use.alias.name
                model.instances[alias] = use.template.dotted
                if alias in aliases:
                    self.error("TW202", f"template instance '{alias}' is declared twice in "
                               f"{model.label}", use.alias,
                               (Related(aliases[alias].span, "first declared here"),))
                    continue
                aliases[alias] = use.alias
                clash = "task" if alias in model.tasks else \
                    ("input" if model.kind == "workflow" else "parameter") \
                    if alias in model.inputs else None
                if clash is not None:
                    self.error("TW202", f"template instance '{alias}' has the name of the "
                               f"{clash} '{alias}' in {model.label}; rename one of them",
                               use.alias)
        outputs: dict[str, A.Node] = {}
        scope = _Scope(model, set(model.instances))
        # the tasks of the workflow's own on_success and on_error run after its body and its
        # outputs: only those handlers can read them
        handlers = [f for f in decl.body.items if isinstance(f, A.Field) and
                    f.key.name in ("on_success", "on_error") and model.kind == "workflow"]
        scope.late = {t.name.name for t, _ in iter_tasks(handlers)}
        late_ok = scope.child()
        late_ok.handler = True
        if isinstance(decl, A.TemplateDecl):
            for p in decl.params:
                if p.default is not None:
                    self.default(p.default, scope, f"parameter '{p.name.name}'")
                    self.expr(p.default, scope, None)
        for item in decl.body.items:
            if isinstance(item, (A.InputDecl, A.OutputDecl)):
                is_output = isinstance(item, A.OutputDecl)
                for d in item.decls:
                    if is_output:
                        self.declare(outputs, d.name, d, "output", model)
                    if d.value is not None:
                        if not is_output:
                            self.default(d.value, scope, f"input '{d.name.name}'")
                        self.expr(d.value, scope, None)
        for item in decl.body.items:
            self.items([item], late_ok if item in handlers else scope, model, None, loops=())
        return model

    def default(self, e: A.Node, scope: _Scope, owner: str) -> None:
        """The default of a workflow's input is computed before the run starts (no name has a
        value then: twdsl/runtime/inputs.py); the default of a template's parameter where the
        template is used, before its parameters have values (builtins have theirs)."""
        workflow = scope.model.kind == "workflow"
        local = {p.name for n in e.walk() if isinstance(n, A.Lambda) for p in n.params}
        for node in e.walk():
            if not isinstance(node, A.Name) or node.name in local:
                continue
            kind = scope.lookup(node.name)
            if kind is None or kind == "builtin" and not workflow:
                continue  # (an unknown name: reported by expr)
            why = ("the defaults of a workflow's inputs are computed before the run starts, "
                   "and read no name" if workflow else
                   "the defaults of a template's parameters are computed where it is used, "
                   "before its parameters have values, and read builtins only")
            self.error("TW210", f"the default of {owner} cannot read the {kind} "
                       f"'{node.name}': {why}", node)

    def declare(self, table: dict[str, A.Node], ident: A.Ident, node: A.Node, what: str,
                model: Model) -> None:
        if ident.name in table:
            first = table[ident.name]
            span = first.name.span if isinstance(first, (A.VarDecl, A.Param)) else first.span
            self.error("TW202", f"{what} '{ident.name}' is declared twice in {model.label}",
                       ident, (Related(span, "first declared here"),))
            return
        table[ident.name] = node

    # ------------------------------------------------------------------ statements
    def items(self, items: Iterable[A.Node], scope: _Scope, model: Model, task: str | None,
              loops: tuple[A.Stmt, ...]) -> None:
        for item in items:
            if isinstance(item, A.Field):
                self.field(item, scope, model, task, loops)
            elif isinstance(item, A.Stmt):
                self.stmt(item, scope, model, loops)

    def stmt(self, s: A.Stmt, scope: _Scope, model: Model, loops: tuple[A.Stmt, ...]) -> None:
        if isinstance(s, A.TaskStmt):
            if s.body is not None:
                self.items(s.body.items, scope, model, s.name.name, loops)
        elif isinstance(s, (A.ParallelStmt, A.SequenceStmt)):
            self.items(s.body.items, scope, model, None, loops)
        elif isinstance(s, A.IfStmt):
            self.expr(s.cond, scope, None, s)
            self.items(s.then.items, scope, model, None, loops)
            if isinstance(s.else_, A.IfStmt):
                self.stmt(s.else_, scope, model, loops)
            elif s.else_ is not None:
                self.items(s.else_.items, scope, model, None, loops)
        elif isinstance(s, A.SwitchStmt):
            self.expr(s.subject, scope, None, s)
            for case in s.cases:
                for v in case.values:
                    self.expr(v, scope, None, s)
                self.items(case.body, scope, model, None, loops)
        elif isinstance(s, A.ForeachStmt):
            self.expr(s.iterable, scope, None, s)
            inner = scope.child()
            for ident in (s.var, s.index):
                if ident is not None:
                    self.bind(inner, ident, "loop variable", model)
            self.items(s.body.items, inner, model, None, loops + (s,))
        elif isinstance(s, A.WhileStmt):
            self.expr(s.cond, scope, None, s)
            self.items(s.body.items, scope, model, None, loops + (s,))
        elif isinstance(s, (A.BreakStmt, A.ContinueStmt)):
            self.loop_exit(s, loops)
        elif isinstance(s, A.ChainStmt):
            for step in s.steps:
                for ref in step:
                    self.task_ref(ref, model, "ordering chain")
        elif isinstance(s, A.UseStmt):
            name = s.template.dotted
            if name not in self.templates and not self.open_imports \
                    and s.template.parts[0].name not in self.namespaces:
                self.unknown("TW210", "undefined template", name, s.template, self.templates)
            for arg in s.args:
                self.expr(arg.value, scope, None, s)

    def loop_exit(self, s: A.Stmt, loops: tuple[A.Stmt, ...]) -> None:
        word = "break" if isinstance(s, A.BreakStmt) else "continue"
        if not loops:
            self.error("TW215", f"'{word}' outside a loop: it may only appear inside a "
                       "foreach or while body", s)
            return
        loop = loops[-1]
        if isinstance(loop, A.ForeachStmt):
            par = loop.body.get("parallel")
            if par is not None and not (isinstance(par.value, A.BoolLit) and not par.value.value):
                self.error("TW215", f"'{word}' in a parallel foreach: iterations run at the "
                           "same time, so there is no next iteration to skip or stop", s)

    # ------------------------------------------------------------------ fields
    def field(self, f: A.Field, scope: _Scope, model: Model, task: str | None,
              loops: tuple[A.Stmt, ...]) -> None:
        key = f.key.name
        v = f.value
        if task is not None and key == "agent":
            if isinstance(v, A.Name) or (isinstance(v, A.StringLit)
                                         and all(isinstance(x, str) for x in v.parts)):
                self.agent(v)
            else:
                self.error("TW403", P.AGENT_SHAPE, v)
                self.expr(v, scope, task)
        elif task is not None and key == "depends":
            items = v.items if isinstance(v, A.ArrayLit) else [v]
            for item in items:
                ref = _as_ref(item)
                if ref is None:  # lowering finds no task in it: it would order nothing
                    self.error("TW212", "depends lists tasks by name (a task, or alias.task of "
                               "a template instance); this is not one", item)
                    self.expr(item, scope, task)
                elif self.task_ref(ref, model, "depends", task):
                    model.order_refs.append((ref, task))
        elif key == "on_error":
            if isinstance(v, A.Name):
                self.word(v, ERROR_ACTIONS, "on_error action")
            elif isinstance(v, (A.Block, A.ObjectLit)):
                self.handler(v, scope, model, task, loops)
            else:
                self.error("TW403", P.ON_ERROR_SHAPE, v)
                self.expr(v, scope, task)
        elif key in ("on_success", "compensate") and isinstance(v, A.Block):
            self.items(v.items, scope, model, None, loops)
        elif key in ("on_success", "compensate") and not isinstance(v, A.ObjectLit):
            self.error("TW403", P.BLOCK_SHAPE, v)
            self.expr(v, scope, task)
        elif key == "retry" and isinstance(v, A.ObjectLit):
            for sub in v.fields:
                if sub.key.name == "on":
                    self.kinds(sub.value, retried=True)
                elif not isinstance(sub.value, A.Block):
                    self.expr(sub.value, scope, task)
        elif isinstance(v, A.Block):
            self.items(v.items, scope, model, None, loops)
        else:
            self.expr(v, scope, task)

    def handler(self, v: A.Block | A.ObjectLit, scope: _Scope, model: Model, task: str | None,
                loops: tuple[A.Stmt, ...]) -> None:
        fields = v.fields() if isinstance(v, A.Block) else v.fields
        for sub in fields:
            key = sub.key.name
            if key == "when":
                self.kinds(sub.value)
            elif key == "then" and isinstance(sub.value, A.Name):
                self.word(sub.value, THEN_ACTIONS, "then action")
            elif key == "then":
                self.error("TW403", P.THEN_SHAPE, sub.value)
            elif key == "fallback" and isinstance(sub.value, A.Name):
                if sub.value.name not in model.tasks:
                    self.error("TW216", f"fallback '{sub.value.name}' is not a task of "
                               f"{model.label}: if the task fails, the run fails as if no "
                               "fallback were given", sub.value, severity=Severity.WARNING)
                elif sub.value.name == task:
                    self.error("TW212", f"task '{task}' names itself as its fallback: to run "
                               "it again, give it a retry", sub.value)
            elif key == "fallback" and not isinstance(sub.value, (A.Block, A.ObjectLit)):
                # lowering runs no fallback for it: the run would fail as if there were none
                self.error("TW212", "a fallback is a task's name or a block of statements "
                           "(fallback { task … }); this is neither", sub.value)
                self.field(sub, scope, model, task, loops)
            else:
                self.field(sub, scope, model, task, loops)
        if isinstance(v, A.Block):
            for st in v.statements():
                self.stmt(st, scope, model, loops)

    def agent(self, v: A.Expr | A.Block) -> None:
        """``agent: Name`` refers to an agent signature and is checked; ``agent: "name"`` names
        an implementation bound in configuration, checked when the configuration has an
        [agents] table (a signature of that name counts too); with no catalog, no guessing."""
        if isinstance(v, A.Name) and v.name not in self.agents and not self.open_imports:
            self.unknown("TW211", "unknown agent", v.name, v, self.agents,
                         " (no 'agent' signature of that name; write the name as a string "
                         "if it is bound in configuration)")
        elif isinstance(v, A.StringLit) and v.value in BUILTIN_AGENTS and \
                self.bound_agents is not None and v.value in self.bound_agents:
            self.error("TW217", f"the configuration binds '{v.value}', which replaces the "
                       f"built-in agent '{v.value}' for this task", v, severity=Severity.INFO)
        elif isinstance(v, A.StringLit) and v.value is not None and self.bound_agents is not None \
                and v.value not in self.bound_agents and v.value not in self.agents \
                and v.value not in BUILTIN_AGENTS and v.value not in entry_point_agents():
            best = closest(v.value, [*self.bound_agents, *self.agents, *BUILTIN_AGENTS])
            hint = f"; did you mean '{best}'?" if best else ""
            fix = Fix(f"change to '{best}'", (TextEdit(v.span, f'"{best}"'),)) if best else None
            self.error("TW211", f"unknown agent '{v.value}': the configuration binds no agent "
                       f"of that name (add [agents.{v.value}] to it){hint}", v, fix=fix)

    def word(self, v: A.Name, allowed: tuple[str, ...], what: str) -> None:
        if v.name not in allowed:
            hint, fix = did_you_mean(v.name, allowed, v.span)
            self.error("TW213", f"unknown {what} '{v.name}' (one of: {', '.join(allowed)}){hint}",
                       v, fix=fix)

    def kinds(self, v: A.Expr | A.Block, retried: bool = False) -> None:
        """Error kinds (``when``; ``retry: { on }`` when ``retried``: the kinds that are
        never retried are refused there)."""
        items = v.items if isinstance(v, A.ArrayLit) else [v]
        for item in items:
            if isinstance(item, A.Name):
                self.word(item, ERROR_KINDS, "error kind")
                if retried and item.name in ERROR_KINDS and not ErrorKind(item.name).retryable:
                    why = ("the same input fails the same way" if item.name == "validation"
                           else "the run or the block was stopped")
                    self.error("TW213", f"'{item.name}' errors are never retried ({why}); "
                               f"retry on {', '.join(k.value for k in RETRIED_KINDS)}", item)

    def task_ref(self, ref: A.Ref, model: Model, what: str, user: str | None = None) -> bool:
        """Check that ``ref`` names a task (or a template instance's task); a task's own name
        is never suggested for its own ``depends`` (that would be a cycle)."""
        head = ref.parts[0].name
        if len(ref.parts) > 1:
            return self.instance_task_ref(ref, model, what)
        if head in model.tasks or head in model.inherited_tasks:
            return True
        hint, fix = did_you_mean(head, model.tasks, ref.span, exclude=[user] if user else ())
        self.error("TW212", f"'{head}' in {what} is not a task of {model.label}{hint}", ref,
                   fix=fix)
        return False

    def instance_task_ref(self, ref: A.Ref, model: Model, what: str) -> bool:
        """``alias.task``: a task of the template instance ``use T(…) as alias``."""
        alias, name = ref.parts[0].name, ref.parts[1].name
        instances = model.instances
        if alias not in instances:
            hint, fix = did_you_mean(alias, instances, ref.parts[0].span)
            self.error("TW212", f"'{alias}' in {what} is not a template instance of "
                       f"{model.label} (write `use Template(…) as {alias}`){hint}",
                       ref.parts[0], fix=fix)
            return False
        eff = self.template_table.effective(instances[alias]) \
            if self.template_table is not None else None
        if eff is None:
            return True  # an unknown template: reported where it is used
        tasks = [t for t, (node, _) in eff.tasks.items() if node.body is not None]
        if len(ref.parts) > 2 or name not in tasks:
            hint, fix = did_you_mean(name, tasks, ref.parts[1].span)
            self.error("TW212", f"'{ref.dotted}' in {what}: template '{instances[alias]}' has "
                       f"no task '{'.'.join(p.name for p in ref.parts[1:])}'{hint}",
                       ref, fix=fix)
            return False
        return True

    def bind(self, scope: _Scope, ident: A.Ident, what: str, model: Model) -> None:
        clash = scope.global_kind(ident.name)
        if clash is not None:
            self.error("TW214", f"{what} '{ident.name}' shadows the {clash} of the same name; "
                       "choose another name", ident)
        scope.names[ident.name] = what

    # ------------------------------------------------------------------ expressions
    def expr(self, e: A.Node, scope: _Scope, task: str | None, block: A.Stmt | None = None) -> None:
        model = scope.model
        stack: list[tuple[A.Node, _Scope]] = [(e, scope)]
        while stack:
            node, sc = stack.pop()
            if isinstance(node, A.Name):
                kind = sc.lookup(node.name)
                if kind is None:
                    self.unknown("TW210", "undefined name", node.name, node,
                                 [*sc.visible(), "true", "false", "null"])
                elif kind == "task":
                    if node.name in sc.late and not sc.handler:
                        self.error("TW210", f"task '{node.name}' runs in the workflow's "
                                   "on_success or on_error, after its body and outputs: only "
                                   "that handler can read it", node)
                    model.refs.append(TaskRef(node.name, node, task, block))
                elif kind in ("input", "template parameter"):
                    model.used_inputs.add(node.name)
                elif kind == "template instance":
                    model.instance_reads.append((node.name, node, task, block))
            elif isinstance(node, A.Call) and isinstance(node.func, A.Name):
                if node.func.name not in BUILTIN_FUNCTIONS:
                    self.unknown("TW210", "unknown function", node.func.name, node.func,
                                 BUILTIN_FUNCTIONS)
                stack.extend((a, sc) for a in node.args)
            elif isinstance(node, A.Member):
                if node.name.name == "previous" and isinstance(node.obj, A.Name) and \
                        sc.lookup(node.obj.name) == "task":
                    continue  # the iteration before: no wait (the checker types it)
                if isinstance(node.obj, A.Name) and \
                        sc.lookup(node.obj.name) == "template instance":
                    # ``alias.task``: a task of the instance, as in depends and chains
                    self.instance_task_ref(A.Ref(node.span, [
                        A.Ident(node.obj.span, node.obj.name), node.name]), model,
                        "an expression")
                    model.instance_reads.append((node.obj.name, node, task, block))
                    continue
                stack.append((node.obj, sc))  # members are typed by the checker, not scoped
            elif isinstance(node, A.Lambda):
                inner = sc.child()
                for p in node.params:
                    self.bind(inner, p, "lambda parameter", model)
                stack.append((node.body, inner))
            elif isinstance(node, A.ObjectLit):
                stack.extend((f.value, sc) for f in node.fields if not isinstance(f.value, A.Block))
            elif isinstance(node, (A.Block, A.ErrorExpr)):
                continue  # reported by the structure checks / the parser
            else:
                stack.extend((c, sc) for c in node.children())


class _Scope:
    """Local names (loop variables, lambda parameters) over the body's global names."""

    def __init__(self, model: Model, instances: set[str], parent: _Scope | None = None) -> None:
        self.model = model
        self.instances = instances
        self.parent = parent
        self.names: dict[str, str] = {}
        #: tasks of the workflow's on_success and on_error, and whether this is inside them
        self.late: set[str] = parent.late if parent is not None else set()
        self.handler: bool = parent.handler if parent is not None else False

    def child(self) -> _Scope:
        return _Scope(self.model, self.instances, self)

    def lookup(self, name: str) -> str | None:
        s: _Scope | None = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return self.global_kind(name)

    def global_kind(self, name: str) -> str | None:
        m = self.model
        if name in m.inputs:
            return "input" if m.kind == "workflow" else "template parameter"
        if name in m.tasks or name in m.inherited_tasks:
            return "task"
        if name in self.instances:
            return "template instance"
        if name in BUILTIN_VALUES:
            return "builtin"
        return None

    def visible(self) -> list[str]:
        out: list[str] = []
        s: _Scope | None = self
        while s is not None:
            out.extend(s.names)
            s = s.parent
        return [*out, *self.model.inputs, *self.model.tasks, *self.instances, *BUILTIN_VALUES]


def _as_ref(e: A.Node) -> A.Ref | None:
    """``a`` or ``alias.a`` written as an expression, as a task reference."""
    parts: list[A.Ident] = []
    while isinstance(e, A.Member):
        parts.append(e.name)
        e = e.obj
    if not isinstance(e, A.Name):
        return None
    parts.append(A.Ident(e.span, e.name))
    parts.reverse()
    return A.Ref(e.span if len(parts) == 1 else e.span, parts)
