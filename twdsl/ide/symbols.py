"""Names in a file: where each is declared and every place it is used.

One walk of the AST gives the definitions (workflows, templates, agents, types, tasks, inputs,
outputs, parameters, loop and lambda variables) and the occurrences that refer to them; the
features built on it (definition, references, rename, highlights, outline, workspace symbols,
semantic tokens) only look things up.  A symbol is identified by its file and the offset of its
name, so occurrences in other files (imports) can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twdsl.lang.builtins import FUNCTIONS, VALUES
from twdsl.semantics.modules import exports, target_path
from twdsl.semantics.names import iter_tasks
from twdsl.source import Span
from twdsl.syntax import ast as A

Key = tuple[str, int]  # (file, offset of the declared name)


@dataclass(slots=True)
class Symbol:
    """A declaration: ``name_span`` is the name, ``span`` the whole declaration."""

    name: str
    kind: str  # workflow, template, agent, type, task, input, output, parameter, variable
    name_span: Span
    span: Span
    node: A.Node
    container: str | None = None  # the workflow/template/agent it belongs to
    children: list[Symbol] = field(default_factory=list)

    @property
    def key(self) -> Key:
        return (self.name_span.file, self.name_span.start)


@dataclass(slots=True)
class Occurrence:
    """A name written at ``span`` meaning the symbol ``key`` (declaration included)."""

    span: Span
    key: Key
    is_decl: bool = False


@dataclass(slots=True)
class Index:
    symbols: dict[Key, Symbol] = field(default_factory=dict)
    outline: list[Symbol] = field(default_factory=list)  # top-level, with children
    occurrences: list[Occurrence] = field(default_factory=list)
    # names imported into this file: local name -> key in the declaring file
    imported: dict[str, Key] = field(default_factory=dict)

    def at(self, offset: int) -> Occurrence | None:
        """The occurrence whose name contains ``offset`` (its end included, so a cursor
        right after a name finds it)."""
        best = None
        for occ in self.occurrences:
            if occ.span.start <= offset <= occ.span.end:
                if best is None or occ.span.start > best.span.start:
                    best = occ
        return best

    def refs(self, key: Key) -> list[Occurrence]:
        return [o for o in self.occurrences if o.key == key]


_KIND_OF = {A.WorkflowDecl: "workflow", A.TemplateDecl: "template", A.AgentDecl: "agent",
            A.TypeDecl: "type"}


def build_index(module: A.Module, path: str,
                modules: dict[str, A.Module | None] | None = None) -> Index:
    """Index one module; ``modules`` (path → module) resolves imported names to their files.

    >>> from twdsl.syntax.parser import parse
    >>> m = parse('workflow W { version: "1" task a { agent: "X" } task b { agent: "X" '
    ...           'input: { v: a.result } } }', "w.twdsl").module
    >>> idx = build_index(m, "w.twdsl")
    >>> [(o.span.start, o.is_decl) for o in idx.refs(("w.twdsl", 31))]
    [(31, True), (80, False)]
    """
    return _Indexer(path, modules or {}).run(module)


class _Indexer:
    def __init__(self, path: str, modules: dict[str, A.Module | None]) -> None:
        self.path = path
        self.modules = modules
        self.idx = Index()
        self.top: dict[str, Key] = {}

    def define(self, ident: A.Ident, kind: str, node: A.Node, container: str | None,
               parent: Symbol | None = None) -> Symbol:
        sym = Symbol(ident.name, kind, ident.span, node.span, node, container)
        self.idx.symbols[sym.key] = sym
        self.idx.occurrences.append(Occurrence(ident.span, sym.key, True))
        if parent is not None:
            parent.children.append(sym)
        else:
            self.idx.outline.append(sym)
        return sym

    def use(self, span: Span, key: Key | None) -> None:
        if key is not None:
            self.idx.occurrences.append(Occurrence(span, key))

    def run(self, module: A.Module) -> Index:
        for item in module.items:
            if isinstance(item, A.ImportDecl):
                self.imports(item)
        for item in module.items:
            if isinstance(item, A.Decl):
                kind = _KIND_OF.get(type(item), "declaration")
                sym = self.define(item.name, kind, item, None)
                self.top.setdefault(item.name.name, sym.key)
        for item in module.items:
            if isinstance(item, (A.WorkflowDecl, A.TemplateDecl)):
                self.body(item, self.idx.symbols[(self.path, item.name.span.start)])
            elif isinstance(item, A.AgentDecl):
                self.agent(item, self.idx.symbols[(self.path, item.name.span.start)])
            elif isinstance(item, A.TypeDecl):
                self.type_expr(item.type)
        return self.idx

    def imports(self, imp: A.ImportDecl) -> None:
        target = target_path(self.path, imp.path.value or "")
        other = self.modules.get(target)
        decls = exports(other) if other is not None else {}
        for n in imp.names or ():
            decl = decls.get(n.name.name)
            key = (target, decl.name.span.start) if decl is not None else None
            self.use(n.name.span, key)
            if key is not None:
                local = n.alias or n.name
                if n.alias is not None:
                    self.use(n.alias.span, key)
                self.idx.imported[local.name] = key
        if imp.names is None and imp.alias is None:
            for name, decl in decls.items():
                self.idx.imported.setdefault(name, (target, decl.name.span.start))

    def global_key(self, name: str) -> Key | None:
        return self.top.get(name) or self.idx.imported.get(name)

    # ------------------------------------------------------------------ bodies
    def agent(self, decl: A.AgentDecl, sym: Symbol) -> None:
        self.names: dict[str, Key] = {}  # an agent's settings see builtins only
        for item in decl.body.items:
            if isinstance(item, (A.InputDecl, A.OutputDecl)):
                kind = "input" if isinstance(item, A.InputDecl) else "output"
                for d in item.decls:
                    self.define(d.name, kind, d, decl.name.name, sym)
                    self.type_expr(d.type)
            elif isinstance(item, A.Field) and isinstance(item.value, A.Expr):
                self.expr(item.value, {}, [])

    def body(self, decl: A.WorkflowDecl | A.TemplateDecl, sym: Symbol) -> None:
        scope: dict[str, Key] = {}
        owner = decl.name.name
        if isinstance(decl, A.TemplateDecl):
            for p in decl.params:
                scope[p.name.name] = self.define(p.name, "parameter", p, owner, sym).key
                self.type_expr(p.type)
            for ref in decl.extends:
                self.use(ref.parts[0].span, self.global_key(ref.parts[0].name))
        for item in decl.body.items:
            if isinstance(item, (A.InputDecl, A.OutputDecl)):
                kind = "input" if isinstance(item, A.InputDecl) else "output"
                for d in item.decls:
                    s = self.define(d.name, kind, d, owner, sym)
                    if kind == "input":
                        scope.setdefault(d.name.name, s.key)
        tasks: dict[str, Key] = {}
        for task, _loops in iter_tasks(decl.body.items):
            if task.name.name not in tasks:
                tasks[task.name.name] = self.define(task.name, "task", task, owner, sym).key
        self.names = {**tasks, **scope}
        for param in decl.params if isinstance(decl, A.TemplateDecl) else ():
            if param.default is not None:
                self.expr(param.default, {}, [])
            if param.constraints is not None:
                self.items(param.constraints.items, [])
        for item in decl.body.items:
            if isinstance(item, (A.InputDecl, A.OutputDecl)):
                for d in item.decls:
                    self.type_expr(d.type)
                    if d.value is not None:
                        self.expr(d.value, {}, [])
        self.items(decl.body.items, [])

    def items(self, items: list[A.Item] | list[A.Stmt], locals_: list[dict[str, Key]]) -> None:
        for item in items:
            if isinstance(item, A.Field):
                self.field(item, locals_)
            elif isinstance(item, A.Stmt):
                self.stmt(item, locals_)

    def field(self, f: A.Field, locals_: list[dict[str, Key]]) -> None:
        v = f.value
        if isinstance(v, A.Block):
            self.items(v.items, locals_)
        elif f.key.name == "agent" and isinstance(v, A.StringLit) and v.value is not None:
            key = self.global_key(v.value)
            if key is not None:  # the name inside the quotes
                s = v.span
                self.use(Span(s.file, s.start + 1, s.end - 1, s.line, s.column + 1,
                              s.end_line, s.end_column - 1), key)
        elif f.key.name == "agent" and isinstance(v, A.Name):
            self.use(v.span, self.lookup(v.name, locals_) or self.global_key(v.name))
        else:
            self.expr(v, {}, locals_)

    def stmt(self, s: A.Stmt, locals_: list[dict[str, Key]]) -> None:
        if isinstance(s, A.TaskStmt):
            key = self.names.get(s.name.name)
            if key is not None and key != (self.path, s.name.span.start):
                self.use(s.name.span, key)  # a second declaration (reported by the checker)
            if s.body is not None:
                self.items(s.body.items, locals_)
        elif isinstance(s, (A.ParallelStmt, A.SequenceStmt)):
            self.items(s.body.items, locals_)
        elif isinstance(s, A.IfStmt):
            self.expr(s.cond, {}, locals_)
            self.items(s.then.items, locals_)
            if isinstance(s.else_, A.IfStmt):
                self.stmt(s.else_, locals_)
            elif s.else_ is not None:
                self.items(s.else_.items, locals_)
        elif isinstance(s, A.SwitchStmt):
            self.expr(s.subject, {}, locals_)
            for case in s.cases:
                for v in case.values:
                    self.expr(v, {}, locals_)
                self.items(case.body, locals_)
        elif isinstance(s, A.ForeachStmt):
            self.expr(s.iterable, {}, locals_)
            scope: dict[str, Key] = {}
            for ident in (s.var, s.index):
                if ident is not None:
                    sym = Symbol(ident.name, "variable", ident.span, s.span, s)
                    self.idx.symbols[sym.key] = sym
                    self.idx.occurrences.append(Occurrence(ident.span, sym.key, True))
                    scope[ident.name] = sym.key
            self.items(s.body.items, [*locals_, scope])
        elif isinstance(s, A.WhileStmt):
            self.expr(s.cond, {}, locals_)
            self.items(s.body.items, locals_)
        elif isinstance(s, A.UseStmt):
            self.use(s.template.parts[0].span, self.global_key(s.template.parts[0].name))
            for a in s.args:
                self.expr(a.value, {}, locals_)
        elif isinstance(s, A.ChainStmt):
            for step in s.steps:
                for ref in step:
                    self.use(ref.parts[0].span, self.lookup(ref.parts[0].name, locals_))

    def lookup(self, name: str, locals_: list[dict[str, Key]]) -> Key | None:
        for scope in reversed(locals_):
            if name in scope:
                return scope[name]
        return self.names.get(name)

    def expr(self, e: A.Node, lam: dict[str, Key], locals_: list[dict[str, Key]]) -> None:
        stack: list[tuple[A.Node, list[dict[str, Key]]]] = [(e, locals_)]
        while stack:
            node, scopes = stack.pop()
            if isinstance(node, A.Name):
                self.use(node.span, self.lookup(node.name, scopes))
            elif isinstance(node, A.Lambda):
                scope: dict[str, Key] = {}
                for p in node.params:
                    sym = Symbol(p.name, "variable", p.span, node.span, node)
                    self.idx.symbols[sym.key] = sym
                    self.idx.occurrences.append(Occurrence(p.span, sym.key, True))
                    scope[p.name] = sym.key
                stack.append((node.body, [*scopes, scope]))
            elif isinstance(node, A.Member):
                stack.append((node.obj, scopes))  # the field name is not a declared name
            elif isinstance(node, A.Field):
                if isinstance(node.value, A.Block):
                    self.items(node.value.items, scopes)
                else:
                    stack.append((node.value, scopes))
            elif isinstance(node, A.Block):
                self.items(node.items, scopes)
            else:
                stack.extend((c, scopes) for c in node.children())

    def type_expr(self, t: A.Node) -> None:
        for node in t.walk():
            if isinstance(node, A.NamedType) and node.name.name not in _PRIMITIVE_TYPES:
                self.use(node.name.span, self.global_key(node.name.name))


_PRIMITIVE_TYPES = frozenset({"string", "number", "boolean", "null", "any", "object", "datetime",
                              "duration", "file", "url", "array"})
BUILTIN_NAMES = frozenset({*VALUES, *FUNCTIONS})
