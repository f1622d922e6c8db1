"""A file's declarations resolved in their own file: agent signatures and named types.

Made once per file and per analysis (:class:`twdsl.project.Project` keeps one per file): the
file's own analysis reads it, and a file that imports an agent or a type is lent the resolved
signature or type from here, never resolving it again in a scope where the names the declaration
uses may not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from twdsl.diagnostics import Diagnostic, Fix, Severity
from twdsl.lang import types as T
from twdsl.suggest import did_you_mean
from twdsl.syntax import ast as A


@dataclass(slots=True)
class Signature:
    """An agent's declared input and output."""

    inputs: T.Rec
    required: frozenset[str]
    output: T.Type


#: What a file lends the files that import it: an agent's signature or a type, by local name.
Lent = dict[str, "Signature | T.Type"]


class Declarations:
    """The agents and named types of one module (its own and the ones it imports)."""

    def __init__(self, module: A.Module, lent: Lent | None = None,
                 unresolved: bool = False) -> None:
        """``lent``: imported agent signatures and types, resolved in their own files;
        ``unresolved``: the imports were not followed (a file checked on its own) or not all
        found, so an unknown type name may be one of theirs and is not guessed at."""
        self.module = module
        self.diags: list[Diagnostic] = []
        imported = {(n.alias or n.name).name for d in module.items
                    if isinstance(d, A.ImportDecl) for n in d.names or ()}
        open_import = any(isinstance(d, A.ImportDecl) and d.names is None
                          for d in module.items)
        self._maybe_imported_all = unresolved and open_import
        self._maybe_imported = imported if unresolved else set()
        self.type_decls = {d.name.name: d for d in module.items if isinstance(d, A.TypeDecl)}
        self.agent_decls = {d.name.name: d for d in module.items if isinstance(d, A.AgentDecl)}
        self._resolving: set[str] = set()
        self._named: dict[str, T.Type] = {}
        self._reported: set[tuple[int, str]] = set()  # (type node, message) reported
        self.agents: dict[str, Signature] = {}
        self.imported_types: dict[str, T.Type] = {}
        for name, v in (lent or {}).items():
            if isinstance(v, Signature):
                self.agents[name] = v
            else:
                self.imported_types[name] = v
        for name, d in self.agent_decls.items():
            self.agents[name] = self.signature(d)
        for name in self.type_decls:  # every declared type, used or not
            self.named(name)

    def maybe_imported(self, name: str) -> bool:
        return self._maybe_imported_all or name in self._maybe_imported

    def error(self, code: str, message: str, node: A.Node, fix: Fix | None = None) -> None:
        self.diags.append(Diagnostic(code, Severity.ERROR, message, node.span, (), fix))

    def resolve(self, t: A.Node) -> T.Type:
        """The type a type expression of this module denotes (unknown names reported once)."""
        if isinstance(t, A.OptionalType):
            return T.optional(self.resolve(t.inner))
        if isinstance(t, A.RecordType):
            return T.Rec(tuple((f.name.name, self.resolve(f.type)) for f in t.fields))
        assert isinstance(t, A.NamedType)
        name = t.name.name
        if name == "array":
            if len(t.args) != 1:
                self._report(t, "array takes one element type: array<T>")
                return T.Arr(T.ANY)
            return T.Arr(self.resolve(t.args[0]))
        if t.args:
            self._report(t, f"type '{name}' takes no type arguments")
        if name in T.PRIMITIVES:
            return T.PRIMITIVES[name]
        if name in self.type_decls:
            return self.named(name)
        if name in self.imported_types:
            return self.imported_types[name]
        if self.maybe_imported(name):
            return T.ANY
        known = [*T.PRIMITIVES, "array", *self.type_decls, *self.imported_types]
        hint, fix = did_you_mean(name, known, t.name.span)
        self._report(t.name, f"unknown type '{name}'{hint}", fix, key=t)
        return T.ANY

    def _report(self, node: A.Node, message: str, fix: Fix | None = None,
                key: A.Node | None = None) -> None:
        """Once per type node: a declared type is resolved more than once."""
        k = id(key if key is not None else node), message
        if k not in self._reported:
            self._reported.add(k)
            self.error("TW310", message, node, fix)

    def named(self, name: str) -> T.Type:
        """The type a ``type`` declaration of this module names."""
        if name in self._named:
            return self._named[name]
        if name in self._resolving:
            decl = self.type_decls[name]
            self._report(decl.name, f"type '{name}' is defined in terms of itself")
            return T.ANY
        self._resolving.add(name)
        t = self.resolve(self.type_decls[name].type)
        self._resolving.discard(name)
        self._named[name] = t
        return t

    def signature(self, agent: A.AgentDecl) -> Signature:
        inputs: list[tuple[str, T.Type]] = []
        required = set()
        outputs: list[tuple[str, T.Type]] = []
        for item in agent.body.items:
            if isinstance(item, (A.InputDecl, A.OutputDecl)):
                for d in item.decls:
                    t = self.resolve(d.type)
                    if isinstance(item, A.InputDecl):
                        inputs.append((d.name.name, t))
                        if d.value is None and not isinstance(t, T.Opt):
                            required.add(d.name.name)
                    else:
                        outputs.append((d.name.name, t))
        out: T.Type = T.Rec(tuple(outputs)) if outputs else T.ANY
        return Signature(T.Rec(tuple(inputs)), frozenset(required), out)

    def agent_name(self, task: A.TaskStmt) -> str | None:
        """The agent a task names (``agent: Name`` or ``agent: "name"``), if it names one."""
        if task.body is None:
            return None
        f = task.body.get("agent")
        if f is None:
            return None
        v = f.value
        if isinstance(v, A.Name):
            return v.name
        if isinstance(v, A.StringLit) and all(isinstance(p, str) for p in v.parts):
            return v.value
        return None

    def task_signature(self, task: A.TaskStmt) -> Signature | None:
        """The signature of the agent a task names, when it has one."""
        name = self.agent_name(task)
        return self.agents.get(name) if name is not None else None

    def task_result(self, task: A.TaskStmt) -> T.Type:
        sig = self.task_signature(task)
        return sig.output if sig is not None else T.ANY
