"""Template instances: a `use` expanded into a block of the template's effective
statements, lowered in the template's own file."""

from __future__ import annotations

from twdsl.ir import expr as X
from twdsl.ir import model as M
from twdsl.lang.constraints import KEYS
from twdsl.lowering.base import (
    Abort,
    FileContext,
    LowererBase,
    Scope,
)
from twdsl.semantics.templates import Templates, literal_value
from twdsl.syntax import ast as A


class TemplateExpansion(LowererBase):
    def use(self, s: A.UseStmt, scope: Scope, parent: str) -> str:
        name = s.template.dotted
        decl = self.templates.decls.get(name)
        eff = self.templates.effective(name)
        if decl is None or eff is None:
            raise Abort(f"template '{name}' cannot be expanded", s.template)
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
            bindings[pname] = self.expr(value, scope if pname in args else Scope({}),
                                        reader=bid)
            if pname in args and isinstance(value, A.Name) and value.name in scope.consts:
                value = scope.consts[value.name]  # a parameter passed on to a nested use
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
            inner = Scope(tasks, scan.instance_ids(prefix), frozenset(eff.params),
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
