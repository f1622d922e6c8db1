"""Expressions: names resolved (a task's field by node id, anything else a variable),
and the tasks an expression reads recorded as data edges."""

from __future__ import annotations

from twdsl.ir import expr as X
from twdsl.lang.builtins import NOT_CALLABLE
from twdsl.lowering.base import (
    Abort,
    LowererBase,
    Scope,
)
from twdsl.syntax import ast as A


class Expressions(LowererBase):
    def expr_or_block(self, v: A.Expr | A.Block, scope: Scope, reader: str) -> X.Expr:
        if isinstance(v, A.Block):
            return X.Object(entries=[(f.key.name, self.expr(f.value, scope, reader))
                                     for f in v.fields() if not isinstance(f.value, A.Block)])
        return self.expr(v, scope, reader)

    def expr(self, e: A.Expr | A.Block, scope: Scope, reader: str | None = None) -> X.Expr:
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

    def _expr(self, e: A.Expr, scope: Scope) -> X.Expr:  # noqa: C901 - one case per node
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
            raise Abort(NOT_CALLABLE, e.func)
        if isinstance(e, A.Unary):
            return X.Unary(op=e.op, e=self._expr(e.operand, scope))  # type: ignore[arg-type]
        if isinstance(e, A.Binary):
            return X.Binary(op=e.op, l=self._expr(e.left, scope),  # type: ignore[arg-type]
                            r=self._expr(e.right, scope))
        if isinstance(e, A.Lambda):
            names = [p.name for p in e.params]
            return X.Lambda(params=names, body=self._expr(e.body, scope.with_locals(names)))
        raise Abort(f"the compiler cannot lower this expression ({type(e).__name__})", e)

    def task_of_expr(self, e: A.Node, scope: Scope) -> str | None:
        """The task node ``e`` names: ``task`` or ``alias.task``."""
        if isinstance(e, A.Name) and e.name not in scope.locals:
            return scope.tasks.get(e.name)
        if isinstance(e, A.Member) and isinstance(e.obj, A.Name) and \
                e.obj.name not in scope.locals and e.obj.name in scope.instances:
            return scope.instances[e.obj.name].get(e.name.name)
        if isinstance(e, A.Ref):
            return self.task_of_ref(e, scope)
        return None

    def task_of_ref(self, r: A.Ref, scope: Scope) -> str | None:
        names = [p.name for p in r.parts]
        if len(names) == 1:
            return scope.tasks.get(names[0])
        if len(names) == 2 and names[0] in scope.instances:
            return scope.instances[names[0]].get(names[1])
        return None
