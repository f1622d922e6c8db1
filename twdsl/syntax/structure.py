"""Structure checks on the AST: which fields, declarations and statements each block may hold."""

from __future__ import annotations

from twdsl.diagnostics import Diagnostic, Fix, Related, Severity
from twdsl.suggest import did_you_mean
from twdsl.syntax import ast as A
from twdsl.syntax.fields import CONTAINERS, Container

_STMT_WORDS = {A.TaskStmt: "a task", A.ParallelStmt: "a parallel block",
               A.SequenceStmt: "a sequence block", A.IfStmt: "an if block",
               A.SwitchStmt: "a switch", A.ForeachStmt: "a foreach loop",
               A.WhileStmt: "a while loop", A.UseStmt: "a template use",
               A.ChainStmt: "an ordering chain", A.BreakStmt: "break",
               A.ContinueStmt: "continue"}


def check_structure(module: A.Module) -> list[Diagnostic]:
    """Unknown or repeated fields, and statements or declarations in blocks that cannot hold
    them.  Types and names are the semantic stage's business, not this one's.

    >>> from twdsl.syntax.parser import parse
    >>> m = parse('workflow W { version: "1" version: "2" }').module
    >>> [d.message for d in check_structure(m)]
    ["field 'version' is set twice in workflow 'W'"]
    """
    checker = _Checker()
    for item in module.items:
        if isinstance(item, A.WorkflowDecl):
            checker.block(item.body, CONTAINERS["workflow"], f"workflow '{item.name.name}'")
        elif isinstance(item, A.AgentDecl):
            checker.block(item.body, CONTAINERS["agent"], f"agent '{item.name.name}'")
        elif isinstance(item, A.TemplateDecl):
            for p in item.params:
                if p.default is not None:
                    checker.expr(p.default)
                if p.constraints is not None:
                    checker.block(p.constraints, CONTAINERS["constraints"],
                                  f"constraints of '{p.name.name}'")
            checker.block(item.body, CONTAINERS["template"], f"template '{item.name.name}'")
    return checker.diags


#: How deeply an expression may nest (docs/language.md, Limits): deeper ones cannot be written
#: as the IR's JSON (whose readers stop at a few hundred levels) and no person writes them.
MAX_EXPRESSION_DEPTH = 64


class _Checker:
    def __init__(self) -> None:
        self.diags: list[Diagnostic] = []

    def error(self, code: str, message: str, node: A.Node, related: tuple[Related, ...] = (),
              fix: Fix | None = None) -> None:
        self.diags.append(Diagnostic(code, Severity.ERROR, message, node.span, related, fix))

    def block(self, block: A.Block | A.ObjectLit, spec: Container, where: str) -> None:
        items = block.items if isinstance(block, A.Block) else block.fields
        seen: dict[str, A.Field] = {}
        present = {i.key.name for i in items if isinstance(i, A.Field)}
        for item in items:
            if isinstance(item, A.Field):
                self.field(item, spec, where, seen, present)
            elif isinstance(item, (A.InputDecl, A.OutputDecl)):
                kw = "input" if isinstance(item, A.InputDecl) else "output"
                if not spec.io_decls:
                    hint = (f"; to pass an input object write '{kw}: {{ … }}'"
                            if spec.kind == "task" else "")
                    self.error("TW123", f"'{kw} {{ … }}' declarations are not allowed in "
                               f"{where}{hint}", item)
                for d in item.decls:
                    if d.value is not None:
                        self.expr(d.value)
            elif isinstance(item, A.Stmt):
                if not spec.statements:
                    self.error("TW123", f"{_STMT_WORDS.get(type(item), 'a statement')} cannot "
                               f"appear in {where}; put it in the workflow body", item)
                self.stmt(item)

    def field(self, f: A.Field, spec: Container, where: str, seen: dict[str, A.Field],
              present: set[str]) -> None:
        """One field of a block; ``present``: every field name the block sets (a misspelt
        field is never "corrected" into one that is already there)."""
        name = f.key.name
        fs = spec.spec(name)
        if fs is None and spec.io_decls and name in ("input", "output"):
            self.error("TW120", f"'{name}:' is a task field; in {where} declare {name}s as "
                       f"'{name} {{ name: Type }}' (no colon)", f.key)
        elif fs is None:
            hint, fix = did_you_mean(name, spec.names, f.key.span, exclude=present,
                                     verb="rename to")
            if fix is not None:
                self.error("TW120", f"unknown field '{name}' in {where}{hint}", f.key, fix=fix)
            else:
                known = ", ".join(spec.names) if spec.names else "none"
                self.error("TW120", f"unknown field '{name}' in {where} (fields: {known})",
                           f.key)
        elif name in seen:
            self.error("TW121", f"field '{name}' is set twice in {where}", f.key,
                       (Related(seen[name].key.span, "first set here"),))
        seen.setdefault(name, f)
        value = f.value
        if fs is not None and fs.block:
            self.handler(name, value, where)
        elif isinstance(value, A.Block):
            self.not_an_object(value, name)
        else:
            self.expr(value)

    def handler(self, name: str, value: A.Expr | A.Block, where: str) -> None:
        """A block-valued field: on_error, on_success, fallback, compensate."""
        sub = CONTAINERS["on_error"] if name == "on_error" else CONTAINERS["statements"]
        if isinstance(value, (A.Block, A.ObjectLit)):
            self.block(value, sub, f"{name} of {where}")
        else:
            self.expr(value)

    def not_an_object(self, block: A.Block, key: str) -> None:
        first = next(i for i in block.items if not isinstance(i, A.Field))
        self.error("TW122", f"'{key}' takes a value, and statements cannot appear in an object",
                   first)

    def stmt(self, s: A.Stmt) -> None:
        if isinstance(s, A.TaskStmt):
            if s.body is not None:
                self.block(s.body, CONTAINERS["task"], f"task '{s.name.name}'")
        elif isinstance(s, A.ParallelStmt):
            self.block(s.body, CONTAINERS["parallel"], "parallel block")
        elif isinstance(s, A.SequenceStmt):
            self.block(s.body, CONTAINERS["sequence"], "sequence block")
        elif isinstance(s, A.IfStmt):
            self.expr(s.cond)
            self.block(s.then, CONTAINERS["branch"], "if block")
            if isinstance(s.else_, A.IfStmt):
                self.stmt(s.else_)
            elif s.else_ is not None:
                self.block(s.else_, CONTAINERS["branch"], "else block")
        elif isinstance(s, A.SwitchStmt):
            self.expr(s.subject)
            defaults = [c for c in s.cases if c.is_default]
            for extra in defaults[1:]:
                self.error("TW123", "a second 'default' in this switch: a switch has one "
                           "default (merge their statements)", extra,
                           (Related(defaults[0].span, "the first default"),))
            for case in s.cases:
                for v in case.values:
                    self.expr(v)
                for st in case.body:
                    self.stmt(st)
        elif isinstance(s, A.ForeachStmt):
            self.expr(s.iterable)
            self.block(s.body, CONTAINERS["foreach"], "foreach loop")
        elif isinstance(s, A.WhileStmt):
            self.expr(s.cond)
            self.block(s.body, CONTAINERS["while"], "while loop")
        elif isinstance(s, A.UseStmt):
            for a in s.args:
                self.expr(a.value)

    def expr(self, e: A.Node) -> None:
        """Objects nested in expressions may not hold statements; an expression nests at most
        :data:`MAX_EXPRESSION_DEPTH` levels."""
        stack: list[tuple[A.Node, int]] = [(e, 1)]
        deepest: tuple[int, A.Node] | None = None
        while stack:
            node, depth = stack.pop()
            if depth > MAX_EXPRESSION_DEPTH:
                if deepest is None:
                    deepest = (depth, node)
                continue
            if isinstance(node, A.Block):
                first = next((i for i in node.items if not isinstance(i, A.Field)), node)
                self.error("TW122", "statements cannot appear inside an expression", first)
                continue
            if isinstance(node, A.ObjectLit):
                keys: dict[str, A.Field] = {}
                for f in node.fields:
                    if f.key.name in keys:
                        self.error("TW121", f"key '{f.key.name}' is set twice in this object",
                                   f.key, (Related(keys[f.key.name].key.span, "first set here"),))
                    keys.setdefault(f.key.name, f)
                    if isinstance(f.value, A.Block):
                        self.not_an_object(f.value, f.key.name)
                    else:
                        stack.append((f.value, depth + 1))
                continue
            stack.extend((c, depth + 1) for c in node.children())
        if deepest is not None:
            self.error("TW125", f"this expression nests more than {MAX_EXPRESSION_DEPTH} levels "
                       "deep; split it (compute parts in separate task inputs or outputs)", e)
