"""Completion: what may be written at the cursor, from the grammar, the field schema and the
types of the last analysis.

The cursor's context comes from the current text (only the declaration around the cursor is
lexed and run through the parse table, :mod:`twdsl.ide.context`); names and types come from
the last snapshot, so completion never waits for a full check.
"""

from __future__ import annotations

from dataclasses import dataclass

from twdsl.ide.context import Context, Frame, context_at, keywords_expected
from twdsl.ide.snapshot import Snapshot
from twdsl.lang import types as T
from twdsl.lang.builtins import (
    ERROR_TYPE,
    FUNCTIONS,
    MAPPED,
    TASK_FIELDS,
    VALUES,
    methods_for,
)
from twdsl.lang.kinds import ERROR_ACTIONS, ERROR_KINDS, THEN_ACTIONS
from twdsl.semantics.names import iter_tasks
from twdsl.syntax import ast as A
from twdsl.syntax.fields import CONTAINERS, Container, FieldSpec


@dataclass(frozen=True, slots=True)
class Item:
    """A completion: ``kind`` is one of keyword, field, snippet, agent, task, input, variable,
    function, method, property, template, type, value, parameter."""

    label: str
    kind: str
    detail: str = ""
    documentation: str = ""
    insert_text: str | None = None
    snippet: bool = False
    sort: str = "5"


RETRY_KEYS = (
    FieldSpec("attempts", "Retries after the first attempt, as in `retry: N`."),
    FieldSpec("delay", "Wait before the first retry, a duration (default `1s`)."),
    FieldSpec("backoff", "Factor by which the wait grows after each retry (default `2`)."),
    FieldSpec("max_delay", "Upper bound of the wait (default `60s`)."),
    FieldSpec("jitter", "`true`: wait a random time up to the computed wait (default); "
              "`false`: wait exactly that."),
    FieldSpec("on", "The error kinds to retry (default `[timeout, transient, agent]`)."),
)
CACHE_KEYS = (FieldSpec("ttl", "How long a cached result may be reused, a duration."),
              FieldSpec("key", "What identifies equal inputs (default: the whole input)."))

KEYWORD_DOCS = {
    "task": "A unit of work done by an agent.",
    "parallel": "Children run at the same time.",
    "sequence": "Children run one after another.",
    "if": "Run a block when a condition holds.",
    "else": "The block to run when the `if` condition does not hold.",
    "switch": "Run the case whose value equals the subject.",
    "foreach": "Run the block once per element of an array.",
    "while": "Run the block while a condition holds.",
    "use": "Instantiate a template: `use Name(arg: value)`.",
    "break": "Leave the innermost loop.",
    "continue": "Go on with the next iteration of the innermost loop.",
    "input": "Declare inputs: `input { name: Type [= default] }`.",
    "output": "Declare outputs: `output { name: Type = expression }`.",
    "workflow": "A workflow: a versioned, typed graph of tasks.",
    "agent": "An agent's signature: `agent Name { input {…} output {…} }`.",
    "template": "A reusable, parameterised piece of workflow.",
    "type": "A named type: `type Name = { … }`.",
    "import": "Bring declarations of another file: `import { A } from \"./lib.twdsl\"`.",
    "export": "Make the declaration that follows importable.",
}

_I = "  "
SNIPPETS: dict[str, tuple[str, str]] = {  # label -> (body, where: module/statement)
    "workflow": (f'workflow ${{1:Name}} {{\n{_I}version: "${{2:1.0.0}}"\n{_I}$0\n}}', "module"),
    "agent": (f"agent ${{1:Name}} {{\n{_I}input {{\n{_I}{_I}${{2:x}}: ${{3:string}}\n{_I}}}\n"
              f"{_I}output {{\n{_I}{_I}${{4:y}}: ${{5:string}}\n{_I}}}\n}}", "module"),
    "template": (f"template ${{1:Name}}(${{2:param}}: ${{3:string}}) {{\n{_I}$0\n}}", "module"),
    "task": (f"task ${{1:name}} {{\n{_I}agent: ${{2:Agent}}\n{_I}input: {{\n{_I}{_I}$0\n{_I}}}\n}}",
             "statement"),
    "parallel": (f"parallel {{\n{_I}$0\n}}", "statement"),
    "sequence": (f"sequence {{\n{_I}$0\n}}", "statement"),
    "if": (f"if (${{1:condition}}) {{\n{_I}$0\n}}", "statement"),
    "if/else": (f"if (${{1:condition}}) {{\n{_I}$2\n}} else {{\n{_I}$0\n}}", "statement"),
    "foreach": (f"foreach ${{1:item}} in ${{2:items}} {{\n{_I}$0\n}}", "statement"),
    "while": (f"while (${{1:condition}}) {{\n{_I}$0\n}}", "statement"),
    "switch": (f"switch (${{1:subject}}) {{\n{_I}case ${{2:value}}:\n{_I}{_I}$0\n"
               f"{_I}default:\n}}", "statement"),
    "retry policy": (f"retry: {{\n{_I}attempts: ${{1:3}}\n{_I}delay: ${{2:1s}}\n"
                     f"{_I}backoff: ${{3:2}}\n}}", "task"),
    "on_error handler": (f"on_error: {{\n{_I}when: [${{1:timeout}}]\n{_I}retry: ${{2:2}}\n"
                         f"{_I}then: ${{3:fail}}\n}}", "task"),
}

_STATEMENT_KWS = {"task", "parallel", "sequence", "if", "switch", "foreach", "while", "use",
                  "break", "continue", "abstract", "final", "override", "else"}
_OWNER_CONTAINER = {"workflow": "workflow", "task": "task", "agent": "agent",
                    "template": "template", "parallel": "parallel", "sequence": "sequence",
                    "foreach": "foreach", "while": "while", "branch": "branch",
                    "else": "branch", "on_error": "on_error", "on_success": "statements",
                    "fallback": "statements", "compensate": "statements",
                    "constraints": "constraints"}
_PRIMS = ("string", "number", "boolean", "any", "object", "datetime", "duration", "file",
          "url", "null")


def complete(text: str, offset: int, snap: Snapshot | None, path: str = "<string>"
             ) -> tuple[list[Item], int]:
    """Completions at ``offset`` of ``text``, and the offset where the word they replace
    starts.  ``snap`` is the last analysis of the file (possibly of an older text)."""
    ctx = context_at(text, offset, path)
    return _Completer(ctx, snap).run(), ctx.prefix_start


class _Completer:
    def __init__(self, ctx: Context, snap: Snapshot | None) -> None:
        self.ctx = ctx
        self.snap = snap
        self.decl = self._decl()

    def _decl(self) -> A.Decl | None:
        if self.snap is None or not self.ctx.frames:
            return None
        top = self.ctx.frames[0]
        for d in self.snap.module.items:
            if isinstance(d, A.Decl) and d.name.name == top.name:
                return d
        return None

    def run(self) -> list[Item]:
        ctx = self.ctx
        if ctx.in_comment:
            return []
        key = ctx.field_key()
        if ctx.in_string:
            return self.agents() if key == "agent" else []
        toks = ctx.tokens
        if toks and toks[-1].type == "DOT":
            return self.members()
        frame = ctx.frame
        if frame is None:
            return self.module_level()
        if frame.owner in ("input", "output", "params") and toks and toks[-1].type == "COLON" \
                and self._is_decl_block(frame) or toks and toks[-1].type in ("LT",) or \
                len(toks) >= 2 and toks[-1].type == "EQ" and toks[-2].type == "NAME" and \
                len(toks) >= 3 and toks[-3].value == "type":
            return self.types()
        if frame.owner == "use" and key is None:
            return self.template_params(frame)
        if key is not None:
            return self.value(key, frame)
        if frame.token.type != "LBRACE":
            return self.expression()
        return self.block(frame)

    def _is_decl_block(self, frame: Frame) -> bool:
        if frame.owner == "params":
            return True
        toks = self.ctx.tokens
        i = frame.index
        # `input {` as a declaration block (not `input: {`, a task's input object)
        return i >= 1 and toks[i - 1].value in ("input", "output") and (
            i < 2 or toks[i - 2].type != "COLON")

    # ------------------------------------------------------------------ contexts
    def module_level(self) -> list[Item]:
        items = [Item(w, "keyword", documentation=KEYWORD_DOCS.get(w, ""), sort="2")
                 for w in keywords_expected(self.ctx.expected)]
        items += [Item(label, "snippet", f"{label} declaration", insert_text=body,
                       snippet=True, sort="3") for label, (body, where) in SNIPPETS.items()
                  if where == "module"]
        return items

    def block(self, frame: Frame) -> list[Item]:
        owner = frame.owner
        present = self._present_keys(frame)
        if owner == "retry":
            return self._fields(RETRY_KEYS, present)
        if owner == "cache":
            return self._fields(CACHE_KEYS, present)
        if owner == "input" and not self._is_decl_block(frame):
            return self.agent_inputs(present)
        if owner in ("input", "output") or owner not in _OWNER_CONTAINER:
            return []
        container = CONTAINERS[_OWNER_CONTAINER[owner]]
        items = self._fields(container.fields, present)
        allowed = self._allowed_keywords(container)
        items += [Item(w, "keyword", documentation=KEYWORD_DOCS.get(w, ""), sort="2")
                  for w in keywords_expected(self.ctx.expected) if w in allowed]
        if container.statements:
            items += [Item(label, "snippet", f"{label} block", insert_text=body, snippet=True,
                           sort="3") for label, (body, where) in SNIPPETS.items()
                      if where == "statement"]
        if owner == "task":
            items += [Item(label, "snippet", label, insert_text=body, snippet=True, sort="3")
                      for label, (body, where) in SNIPPETS.items()
                      if where == "task" and label.split()[0] not in present]
        return items

    def _allowed_keywords(self, container: Container) -> set[str]:
        out = set()
        if container.statements:
            out |= _STATEMENT_KWS
        if container.io_decls:
            out |= {"input", "output"}
        return out

    def _fields(self, specs: tuple[FieldSpec, ...], present: set[str]) -> list[Item]:
        return [Item(f.name, "field", documentation=f.doc,
                     insert_text=f"{f.name}: ", sort="1")
                for f in specs if f.name not in present]

    def _present_keys(self, frame: Frame) -> set[str]:
        """Keys already written directly in the block (the whole block: after the cursor too
        would need the text after it; before it is what the tokens give)."""
        toks = self.ctx.tokens
        out = set()
        depth = 0
        for i in range(frame.index + 1, len(toks)):
            t = toks[i]
            if t.type in ("LBRACE", "LSQB", "LPAR"):
                depth += 1
            elif t.type in ("RBRACE", "RSQB", "RPAR"):
                depth -= 1
            elif depth == 0 and t.type in ("NAME", "STRING") and i + 1 < len(toks) and \
                    toks[i + 1].type == "COLON":
                out.add(t.value.strip("\"'"))
        if self.snap is not None and frame.owner == "task" and frame.name:
            task = self._task(frame.name)
            if task is not None and task.body is not None:
                out |= {f.key.name for f in task.body.fields()}
        return out

    def value(self, key: str, frame: Frame) -> list[Item]:
        block = self.ctx.block()
        owner = block.owner if block else ""
        if key == "agent" and owner == "task":
            return self.agents()
        if key in ("depends", "fallback") and owner in ("task", "on_error"):
            return self.tasks(exclude=self._current_task())
        if key in ("on_error",) and owner == "task" or key == "then" and owner == "on_error":
            actions = ERROR_ACTIONS if key == "on_error" else THEN_ACTIONS
            return [Item(a, "value", f"{key} action", sort="1") for a in actions]
        if key == "when" and owner == "on_error" or key == "on" and owner == "retry":
            return [Item(k, "value", "error kind", sort="1") for k in ERROR_KINDS]
        return self.expression()

    def expression(self) -> list[Item]:
        items: list[Item] = []
        for f in self.ctx.frames:
            if f.owner == "foreach" and f.name:
                for var in f.name.split(","):
                    items.append(Item(var, "variable", "loop variable", sort="0"))
        decl = self.decl
        if isinstance(decl, (A.WorkflowDecl, A.TemplateDecl)):
            if isinstance(decl, A.TemplateDecl):
                for p in decl.params:
                    items.append(Item(p.name.name, "parameter", _type_text(self.snap, p.type),
                                      "template parameter", sort="0"))
            for item in decl.body.items:
                if isinstance(item, A.InputDecl):
                    for d in item.decls:
                        items.append(Item(d.name.name, "input", _type_text(self.snap, d.type),
                                          "workflow input", sort="0"))
            items += self.tasks(exclude=None)
        for name, value in VALUES.items():
            items.append(Item(name, "value", str(value.type), value.doc, sort="4"))
        for name, fn in FUNCTIONS.items():
            items.append(Item(name, "function", " or ".join(fn.forms), fn.summary,
                              insert_text=f"{name}($1)", snippet=True, sort="4"))
        items += [Item(w, "keyword", sort="6") for w in ("true", "false", "null")]
        return items

    def tasks(self, exclude: str | None) -> list[Item]:
        decl = self.decl
        if not isinstance(decl, (A.WorkflowDecl, A.TemplateDecl)):
            return []
        out = []
        seen = set()
        for task, _ in iter_tasks(decl.body.items):
            name = task.name.name
            if name in seen or name == exclude:
                continue
            seen.add(name)
            out.append(Item(name, "task", self._task_detail(task), sort="1"))
        return out

    def _task_detail(self, task: A.TaskStmt) -> str:
        agent = task.body.get("agent") if task.body else None
        v = agent.value if agent else None
        name = v.name if isinstance(v, A.Name) else v.value if isinstance(v, A.StringLit) else None
        return f"task ({name})" if name else "task"

    def _current_task(self) -> str | None:
        for f in reversed(self.ctx.frames):
            if f.owner == "task":
                return f.name
        return None

    def _task(self, name: str) -> A.TaskStmt | None:
        decl = self.decl
        if not isinstance(decl, (A.WorkflowDecl, A.TemplateDecl)):
            return None
        for task, _ in iter_tasks(decl.body.items):
            if task.name.name == name:
                return task
        return None

    def agents(self) -> list[Item]:
        if self.snap is None:
            return []
        out: dict[str, Item] = {}
        for name, sig in self.snap.declarations.agents.items():
            out[name] = Item(name, "agent", f"agent {name}: {sig.inputs} -> {sig.output}",
                             _agent_doc(self.snap, name), sort="1")
        for name in sorted(self.snap.config.agents or ()):
            out.setdefault(name, Item(name, "agent", "agent bound in configuration",
                                      sort="2"))
        return list(out.values())

    def agent_inputs(self, present: set[str]) -> list[Item]:
        task = self._task(self._current_task() or "")
        if task is None or self.snap is None:
            return []
        sig = self.snap.declarations.task_signature(task)
        if sig is None:
            return []
        return [Item(n, "field", f"{n}: {t}" + ("" if n in sig.required else " (optional)"),
                     insert_text=f"{n}: ", sort="1")
                for n, t in sig.inputs.fields if n not in present]

    def template_params(self, frame: Frame) -> list[Item]:
        given = set()
        toks = self.ctx.tokens
        for i in range(frame.index + 1, len(toks) - 1):
            if toks[i].type == "NAME" and toks[i + 1].type == "COLON":
                given.add(toks[i].value)
        decl = self._template(frame.name or "")
        if decl is None:
            return []
        return [Item(p.name.name, "parameter", _type_text(self.snap, p.type) +
                     ("" if p.default is None else " (has a default)"),
                     insert_text=f"{p.name.name}: ", sort="1")
                for p in decl.params if p.name.name not in given]

    def _template(self, name: str) -> A.TemplateDecl | None:
        if self.snap is None:
            return None
        for d in self.snap.module.items:
            if isinstance(d, A.TemplateDecl) and d.name.name == name:
                return d
        found = self.snap.imports.decls.get(name)
        if found is not None and isinstance(found[1], A.TemplateDecl):
            return found[1]
        return None

    def types(self) -> list[Item]:
        items = [Item(p, "type", sort="1") for p in _PRIMS]
        items.append(Item("array", "type", "array<T>", insert_text="array<$1>", snippet=True,
                          sort="1"))
        if self.snap is not None:
            for d in self.snap.module.items:
                if isinstance(d, A.TypeDecl):
                    items.append(Item(d.name.name, "type", str(self.snap.declarations.named(
                        d.name.name)), sort="0"))
            for name, (_, decl) in self.snap.imports.decls.items():
                if isinstance(decl, A.TypeDecl):
                    items.append(Item(name, "type", "imported type", sort="0"))
        return items

    # ------------------------------------------------------------------ members
    def members(self) -> list[Item]:
        toks = self.ctx.tokens
        chain: list[str] = []
        i = len(toks) - 2
        while i >= 0 and toks[i].type == "NAME":
            chain.insert(0, toks[i].value)
            if i >= 1 and toks[i - 1].type == "DOT":
                i -= 2
            else:
                break
        if not chain:
            return []
        base = chain[0]
        if len(chain) == 1 and self._task(base) is not None and not self._shadowed(base):
            task = self._task(base)
            assert task is not None
            out = []
            for name, (detail, doc) in TASK_FIELDS.items():
                if name == "result" and self.snap is not None:
                    detail = str(self.snap.declarations.task_result(task))
                out.append(Item(name, "property", detail, doc, sort="1"))
            return out
        t = self.type_of(chain)
        return _members_of(t)

    def _shadowed(self, name: str) -> bool:
        return any(f.owner == "foreach" and f.name and name in f.name.split(",")
                   for f in self.ctx.frames)

    def type_of(self, chain: list[str]) -> T.Type:
        """The type of ``a.b.c`` at the cursor (any when it cannot be known)."""
        if self.snap is None:
            return T.ANY
        checker = self.snap.declarations
        base, rest = chain[0], chain[1:]
        t: T.Type = T.ANY
        loop = next((f for f in reversed(self.ctx.frames) if f.owner == "foreach" and f.name
                     and base in f.name.split(",")), None)
        task = self._task(base)
        decl = self.decl
        if loop is not None:
            names = loop.name.split(",") if loop.name else []
            if len(names) > 1 and base == names[1]:
                t = T.NUMBER
            elif loop.iterable and loop.iterable != chain:
                it = T.strip(self.type_of(loop.iterable))
                t = it.elem if isinstance(it, T.Arr) else T.ANY
        elif task is not None and rest:
            t = {"result": checker.task_result(task), "status": T.STRING,
                 "error": ERROR_TYPE, "attempts": T.NUMBER,
                 "duration": T.DURATION}.get(rest[0], T.ANY)
            rest = rest[1:]
        elif isinstance(decl, (A.WorkflowDecl, A.TemplateDecl)) and \
                (found := _input_type(decl, base)) is not None:
            t = checker.resolve(found)
        elif base in VALUES:
            t = VALUES[base].type
        for name in rest:
            s = T.strip(t)
            if isinstance(s, T.Rec):
                t = s.get(name) or T.ANY
            elif name == "length":
                t = T.NUMBER
            else:
                return T.ANY
        return t


def _input_type(decl: A.WorkflowDecl | A.TemplateDecl, name: str) -> A.Node | None:
    if isinstance(decl, A.TemplateDecl):
        for p in decl.params:
            if p.name.name == name:
                return p.type
    for item in decl.body.items:
        if isinstance(item, A.InputDecl):
            for d in item.decls:
                if d.name.name == name:
                    return d.type
    return None


def _members_of(t: T.Type) -> list[Item]:
    s = T.strip(t)
    out = []
    if isinstance(s, T.Rec):
        out += [Item(k, "property", str(v), sort="1") for k, v in s.fields]
    for name, m in (methods_for(s) or {}).items():
        params, ret = m.signature(s)
        ret_text = "array<U>" if ret == MAPPED else str(ret)
        label = f"{name}({', '.join(map(str, params))}) -> {ret_text}"
        out.append(Item(name, "method", label, insert_text=f"{name}(${{1}})" if params else
                        f"{name}()", snippet=bool(params), sort="2"))
    return out


def _type_text(snap: Snapshot | None, t: A.Node) -> str:
    return snap.text_of(t) if snap is not None else ""


def _agent_doc(snap: Snapshot, name: str) -> str:
    for d in snap.module.items:
        if isinstance(d, A.AgentDecl) and d.name.name == name:
            f = d.body.get("description")
            if f is not None and isinstance(f.value, A.StringLit) and f.value.value:
                return f.value.value
    return ""
