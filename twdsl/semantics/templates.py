"""Templates: inheritance (``extends`` a parent and mixins) and checked instantiation (``use``).

Rules (docs/language.md, Templates): a template's parameters and tasks are its parent's, then
each mixin's, then its own, a later one replacing an earlier one; a task that replaces an
inherited one must say ``override``, and a ``final`` task cannot be replaced; a non-abstract
template must define every inherited ``abstract task``; a ``final`` template cannot be extended,
an ``abstract`` one cannot be used; ``extends`` may not form a cycle.  ``use T(arg: value)``
must name every required parameter, no unknown one, and literal arguments must satisfy the
parameter's ``where`` constraints (types are checked with every other expression).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from twdsl.diagnostics import Diagnostic, Fix, Related, Severity, TextEdit
from twdsl.lang import types as T
from twdsl.lang.constraints import KEYS, violation
from twdsl.semantics.declarations import Declarations
from twdsl.source import Span
from twdsl.suggest import did_you_mean
from twdsl.syntax import ast as A


@dataclass(slots=True)
class Inherited:
    """A template's effective parameters and tasks, with where each came from; each
    parameter's type is resolved in the file that declares it."""

    params: dict[str, A.Param]
    tasks: dict[str, tuple[A.TaskStmt, A.TemplateDecl]]
    param_types: dict[str, T.Type] = field(default_factory=dict)


class Templates:
    """The templates visible in a module (its own and imported ones), by name.

    An imported template is *lent* by the :class:`Templates` of the file that declares it
    (``lent``: local name -> (that file's table, its name there)): its parents, mixins,
    parameters' types and statements are resolved there, in its own file's scope, never in
    the importer's, where the names it uses may not exist.
    """

    def __init__(self, templates: dict[str, A.TemplateDecl],
                 lent: dict[str, tuple[Templates, str]] | None = None,
                 declarations: Declarations | None = None, path: str = "") -> None:
        """``templates``: the module's own; ``declarations``: its declared types, for the
        parameters' types (None: every parameter is ``any``)."""
        self.path = path
        self.owner: Any = None  # the FileScope this table belongs to (set by FileScope.of)
        self.lent = dict(lent or {})
        self.own = dict(templates)
        self.decls: dict[str, A.TemplateDecl] = {
            **{n: home.decls[h] for n, (home, h) in self.lent.items() if h in home.decls},
            **self.own}
        self.declarations = declarations
        self.diags: list[Diagnostic] = []
        self._memo: dict[str, Inherited] = {}
        self._busy: set[str] = set()
        self._stmts: dict[str, list[A.Stmt]] = {}

    def error(self, code: str, message: str, node: A.Node,
              related: tuple[Related, ...] = (), fix: Fix | None = None) -> None:
        self.diags.append(Diagnostic(code, Severity.ERROR, message, node.span, related, fix))

    def home(self, name: str) -> tuple[Templates, str]:
        """The table of the file that declares the template ``name`` (this one, for its own
        templates) and the template's name there."""
        seen = 0
        table, n = self, name
        while n in table.lent and n not in table.own and seen < 64:
            table, n = table.lent[n]
            seen += 1
        return table, n

    # ------------------------------------------------------------------ inheritance
    def inherited(self, name: str) -> Inherited:
        """Parameters and tasks of ``name``'s parent and mixins (not its own)."""
        home, n = self.home(name)
        if home is not self:
            return home.inherited(n)
        decl = self.decls[name]
        out = Inherited({}, {})
        for ref in decl.extends:
            base = self.effective(ref.dotted)
            if base is not None:
                out.params.update(base.params)
                out.param_types.update(base.param_types)
                out.tasks.update(base.tasks)
        return out

    def effective(self, name: str) -> Inherited | None:
        """All parameters and tasks of ``name``, inherited and its own (None: unknown or in a
        cycle)."""
        home, n = self.home(name)
        if home is not self:
            return home.effective(n)
        if name in self._memo:
            return self._memo[name]
        decl = self.decls.get(name)
        if decl is None or name in self._busy:
            return None
        self._busy.add(name)
        base = self.inherited(name)
        self._busy.discard(name)
        params = dict(base.params)
        types = dict(base.param_types)
        for p in decl.params:
            params[p.name.name] = p
            types[p.name.name] = self.declarations.resolve(p.type) \
                if self.declarations is not None else T.ANY
        tasks = dict(base.tasks)
        for node in decl.body.walk():
            if isinstance(node, A.TaskStmt):
                tasks[node.name.name] = (node, decl)
        out = Inherited(params, tasks, types)
        self._memo[name] = out
        return out

    def statements(self, name: str) -> list[A.Stmt]:
        """A template's effective statements, what ``use`` expands to: its parents' and
        mixins' (in the order written), then its own; a task of its own (an ``override``, or
        the definition of an inherited ``abstract task``) stands in place of the inherited
        task of the same name.  Abstract tasks left undefined run nothing and are dropped.
        Statements of a template from another file are that file's nodes."""
        return [s for s in self._all_statements(name, frozenset())
                if not (isinstance(s, A.TaskStmt) and s.body is None)]

    def _all_statements(self, name: str, seen: frozenset[str]) -> list[A.Stmt]:
        home, n = self.home(name)
        if home is not self:
            return home._all_statements(n, frozenset())
        done = self._stmts.get(name)
        if done is not None:
            return done
        decl = self.decls.get(name)
        if decl is None or name in seen:
            return []  # unknown, or extends itself (reported by check_extends)
        out: list[A.Stmt] = []
        for ref in decl.extends:
            out.extend(self._all_statements(ref.dotted, seen | {name}))
        for s in decl.body.statements():
            if isinstance(s, A.TaskStmt):
                at = next((i for i, x in enumerate(out) if isinstance(x, A.TaskStmt)
                           and x.name.name == s.name.name), None)
                if at is not None:
                    out[at] = s
                    continue
            out.append(s)
        self._stmts[name] = out
        return out

    def check_declarations(self, local: list[A.TemplateDecl]) -> None:
        """The ``extends`` rules, and what a parameter left out holds, for the module's own
        templates."""
        for decl in local:
            self.check_extends(decl)
            self.check_uses(decl)
            for p in decl.params:
                if not _required(p) and p.default is None \
                        and not isinstance(p.type, A.OptionalType) and self.declarations:
                    t = self.declarations.resolve(p.type)
                    if T.assignable(T.NULL, t):
                        continue  # (any, null)
                    self.error("TW301", f"parameter '{p.name.name}' may be left out "
                               "(required: false) and has no default: it is then null, which "
                               f"{t} does not hold; give it a default or the type {t}?", p.name)

    def check_extends(self, decl: A.TemplateDecl) -> None:
        name = decl.name.name
        for ref in decl.extends:
            base = self.decls.get(ref.dotted)
            if base is None:
                if len(ref.parts) == 1:
                    hint, fix = did_you_mean(ref.dotted, self.decls, ref.span)
                    self.error("TW210", f"undefined template '{ref.dotted}'{hint}", ref, fix=fix)
                continue
            if "final" in base.modifiers:
                self.error("TW234", f"template '{ref.dotted}' is final and cannot be extended",
                           ref, (Related(base.name.span, "declared final here"),))
            if self._reaches(ref.dotted, name, set()):
                members = [t for t in self.decls if self._reaches(name, t, set())
                           and self._reaches(t, name, set())]
                first = min(members, key=lambda t: self.decls[t].span.start)
                if first == name:  # once per cycle, at the template written first
                    self.error("TW233", f"template '{name}' extends itself through "
                               f"'{ref.dotted}'", ref)
                return
        inherited = self.inherited(name)
        own = [n for n in decl.body.walk() if isinstance(n, A.TaskStmt)]
        for task in own:
            tname = task.name.name
            before = inherited.tasks.get(tname)
            if before is None:
                if "override" in task.modifiers:
                    self.error("TW235", f"'override task {tname}' overrides nothing: no "
                               f"template '{name}' extends has a task '{tname}'", task.name)
                continue
            old, origin = before
            if "final" in old.modifiers:
                self.error("TW235", f"task '{tname}' is final in template "
                           f"'{origin.name.name}' and cannot be overridden", task.name,
                           (Related(old.name.span, "declared final here"),))
            elif "override" not in task.modifiers:
                fix = Fix("mark it override", (TextEdit(_start(task.span), "override "),))
                self.error("TW235", f"task '{tname}' replaces the task of template "
                           f"'{origin.name.name}': write 'override task {tname}'", task.name,
                           (Related(old.name.span, "inherited from here"),), fix)
        parents = [self.effective(r.dotted) for r in decl.extends]
        seen: dict[str, str] = {}  # a concrete inherited task -> the template it comes from
        for ref, parent in zip(decl.extends, parents, strict=True):
            for tname, (node, origin) in (parent.tasks if parent else {}).items():
                if node.body is None or any(t.name.name == tname for t in own):
                    continue
                other = seen.setdefault(tname, origin.name.name)
                if other != origin.name.name:
                    self.error("TW235", f"template '{name}' inherits task '{tname}' from both "
                               f"'{other}' and '{origin.name.name}': write 'override task "
                               f"{tname}' in it to say what it is", ref)
        if "abstract" not in decl.modifiers:
            for t in own:
                if "abstract" in t.modifiers:
                    self.error("TW236", f"template '{name}' is not abstract, so its task "
                               f"'{t.name.name}' cannot be: give the task a body, or declare "
                               f"'abstract template {name}'", t.name)
            defined = {t.name.name for t in own if "abstract" not in t.modifiers}
            for tname, (old, origin) in sorted(inherited.tasks.items()):
                if "abstract" in old.modifiers and tname not in defined:
                    self.error("TW236", f"template '{name}' must define the abstract task "
                               f"'{tname}' of template '{origin.name.name}' (or be declared "
                               "abstract itself)", decl.name,
                               (Related(old.name.span, "declared abstract here"),))

    def check_uses(self, decl: A.TemplateDecl) -> None:
        """A template whose instances hold instances of itself (``use`` in its statements,
        inherited ones included, leading back to it): reported once per cycle, at the
        template written first, at the ``use`` that starts it."""
        name = decl.name.name
        for use in self._uses(name):
            path = self._use_path(use.template.dotted, name, [name], set())
            if path is None:
                continue
            members = {t for t in self.own if self._use_path(name, t, [], set()) is not None
                       and self._use_path(t, name, [], set()) is not None}
            if min(members, key=lambda t: self.decls[t].span.start) == name:
                self.error("TW233", f"template '{name}' uses itself ({' -> '.join(path)}): "
                           "an instance would hold another one without end", use.template)
            return

    def _uses(self, name: str) -> list[A.UseStmt]:
        """The ``use`` statements of a template's effective statements."""
        return [n for s in self.statements(name) for n in s.walk() if isinstance(n, A.UseStmt)]

    def _use_path(self, start: str, target: str, path: list[str],
                  seen: set[str]) -> list[str] | None:
        """The templates from ``start`` to ``target`` along ``use`` (None: no way)."""
        if start == target and path:
            return [*path, start]
        if start in seen or start not in self.own:
            return None  # (a template of another file cannot use one of this file)
        seen.add(start)
        for use in self._uses(start):
            found = self._use_path(use.template.dotted, target, [*path, start], seen)
            if found is not None:
                return found
        return None

    def _reaches(self, start: str, target: str, seen: set[str]) -> bool:
        if start == target:
            return True
        if start in seen or start not in self.own:
            return False  # (a template of another file cannot reach one of this file)
        seen.add(start)
        return any(self._reaches(r.dotted, target, seen) for r in self.decls[start].extends)

    # ------------------------------------------------------------------ use
    def check_use(self, use: A.UseStmt) -> dict[str, T.Type]:
        """Check one ``use``; returns the type of the parameter each argument binds (for the
        type checker), resolved in the file that declares the parameter."""
        name = use.template.dotted
        decl = self.decls.get(name)
        if decl is None:
            return {}
        if "abstract" in decl.modifiers:
            self.error("TW237", f"template '{name}' is abstract: use a template that extends "
                       "it", use.template)
        eff = self.effective(name)
        if eff is None:
            return {}
        given: dict[str, T.Type] = {}
        for arg in use.args:
            param = eff.params.get(arg.name.name)
            if param is None:
                hint, fix = did_you_mean(arg.name.name, eff.params, arg.name.span,
                                         exclude=[a.name.name for a in use.args],
                                         verb="rename to")
                self.error("TW230", f"template '{name}' has no parameter '{arg.name.name}'"
                           f"{hint}", arg.name, fix=fix)
                continue
            given[arg.name.name] = eff.param_types.get(arg.name.name, T.ANY)
            self.constraints(arg, param)
        missing = [p for p, param in eff.params.items()
                   if p not in given and _required(param)]
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            self.error("TW231", f"use of template '{name}' lacks the required argument"
                       f"{'s' if len(missing) > 1 else ''} {names}", use.template)
        return given

    def constraints(self, arg: A.Arg, param: A.Param) -> None:
        """Check a literal argument against its parameter's ``where`` constraints."""
        if param.constraints is None:
            return
        value = literal_value(arg.value)
        if value is None:
            return  # computed at run time: checked then
        pname = param.name.name
        for f in param.constraints.fields():
            if f.key.name not in KEYS:
                continue
            try:
                problem = violation(f.key.name, literal_value(f.value), value)
            except re.error as e:
                self.error("TW232", f"the pattern of parameter '{pname}' is not a valid "
                           f"regular expression: {e}", f.value)
                continue
            if problem:
                self.error("TW232", f"argument '{pname}' = {value!r} {problem}", arg.value,
                           (Related(f.span, "constraint declared here"),))


def _required(param: A.Param) -> bool:
    """Given by ``where { required: … }``; else required when there is no default and the type
    is not optional (an optional parameter left out is null)."""
    if param.constraints is not None:
        f = param.constraints.get("required")
        if f is not None and isinstance(f.value, A.BoolLit):
            return f.value.value
    return param.default is None and not isinstance(param.type, A.OptionalType)


def literal_value(e: A.Node) -> object:
    """The value of a literal expression (None when it is not one)."""
    if isinstance(e, A.StringLit):
        return e.value
    if isinstance(e, A.NumberLit):
        return e.value
    if isinstance(e, A.BoolLit):
        return e.value
    if isinstance(e, A.Unary) and e.op == "-" and isinstance(e.operand, A.NumberLit):
        return -e.operand.value
    if isinstance(e, A.ArrayLit):
        items = [literal_value(x) for x in e.items]
        return None if any(i is None for i in items) else items
    return None


def _start(s: Span) -> Span:
    """An empty span at the start of ``s``, to insert text there."""
    return Span(s.file, s.start, s.start, s.line, s.column, s.line, s.column)
