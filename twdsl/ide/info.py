"""Hover, signature help, inlay hints, folding, semantic tokens, code actions and formatting.

Everything here reads one snapshot (or, for signature help, the current text) and answers in
core types: spans, offsets, plain strings.  The language server converts.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic, TextEdit
from twdsl.formatter import FormatError, format_parsed
from twdsl.ide.completion import RETRY_KEYS
from twdsl.ide.context import context_at
from twdsl.ide.navigate import Workspace
from twdsl.ide.snapshot import Snapshot
from twdsl.ide.symbols import BUILTIN_NAMES, Symbol
from twdsl.lang.builtins import FUNCTIONS, VALUES, methods_named
from twdsl.semantics.names import iter_tasks
from twdsl.semantics.policies import task_policy
from twdsl.source import Span
from twdsl.syntax import ast as A
from twdsl.syntax.fields import CONTAINERS, FieldSpec


# ---------------------------------------------------------------------------------- hover
@dataclass(frozen=True, slots=True)
class Hover:
    markdown: str
    span: Span


def _path_to(module: A.Module, offset: int) -> list[A.Node]:
    """The nodes containing ``offset``, outermost first."""
    path: list[A.Node] = []
    nodes: list[A.Node] = list(module.items)
    while nodes:
        for n in nodes:
            if n.span.start <= offset < n.span.end or n.span.start <= offset == n.span.end \
                    and isinstance(n, (A.Ident, A.Name)):
                path.append(n)
                nodes = list(n.children())
                break
        else:
            break
    return path


def _code(text: str) -> str:
    return f"```twdsl\n{text}\n```"


def hover(ws: Workspace, path: str, offset: int) -> Hover | None:
    """What the name under the cursor is: its declaration, type, agent signature, docs."""
    snap = ws.snapshots.get(path)
    idx = ws.index(path)
    if snap is None or idx is None:
        return None
    occ = idx.at(offset)
    if occ is not None:
        sym = ws.symbol(occ.key)
        if sym is not None:
            return Hover(_describe(ws, sym, snap), occ.span)
    nodes = _path_to(snap.module, offset)
    if not nodes:
        return None
    node = nodes[-1]
    if isinstance(node, A.Name) and node.name in BUILTIN_NAMES:
        fn, val = FUNCTIONS.get(node.name), VALUES.get(node.name)
        doc = fn.summary if fn is not None else val.doc if val is not None else ""
        head = f"(builtin) {node.name}: {val.type}" if val is not None else \
            f"(builtin) {node.name}"
        return Hover(f"{_code(head)}\n\n{doc}", node.span)
    if isinstance(node, A.Ident) and len(nodes) >= 2 and isinstance(nodes[-2], A.Field) \
            and nodes[-2].key is node:
        spec = _field_spec(nodes[:-2], node.name)
        if spec is not None:
            return Hover(f"{_code(f'(field) {node.name}')}\n\n{spec.doc}", node.span)
    if isinstance(node, A.Ident) and len(nodes) >= 2 and isinstance(nodes[-2], A.Member):
        member = nodes[-2]
        if isinstance(member.obj, A.Name):
            task = _task_named(nodes, member.obj.name)
            if task is not None:
                t = snap.declarations.task_result(task) if node.name == "result" else None
                text = f"(task field) {member.obj.name}.{node.name}" + (f": {t}" if t else "")
                return Hover(_code(text), node.span)
    return None


def _task_named(nodes: list[A.Node], name: str) -> A.TaskStmt | None:
    for n in nodes:
        if isinstance(n, (A.WorkflowDecl, A.TemplateDecl)):
            for task, _ in iter_tasks(n.body.items):
                if task.name.name == name:
                    return task
    return None


_OWNERS = {A.WorkflowDecl: "workflow", A.TaskStmt: "task", A.AgentDecl: "agent",
           A.TemplateDecl: "template", A.ParallelStmt: "parallel", A.SequenceStmt: "sequence",
           A.ForeachStmt: "foreach", A.WhileStmt: "while"}


def _field_spec(parents: list[A.Node], key: str) -> FieldSpec | None:
    for n in reversed(parents):
        if isinstance(n, A.Field):
            if n.key.name == "on_error":
                return CONTAINERS["on_error"].spec(key)
            if n.key.name == "retry":
                return next((f for f in RETRY_KEYS if f.name == key), None)
            return None
        kind = _OWNERS.get(type(n))
        if kind is not None:
            return CONTAINERS[kind].spec(key)
    return None


def _describe(ws: Workspace, sym: Symbol, here: Snapshot) -> str:
    snap = ws.snapshots.get(sym.name_span.file) or here
    node = sym.node

    def src(n: A.Node) -> str:
        return snap.text_of(n) or here.text_of(n) or "…"

    where = "" if sym.name_span.file == here.path else f"\n\nfrom `{sym.name_span.file}`"
    if isinstance(node, A.AgentDecl):
        checker = snap.declarations
        sig = checker.agents.get(sym.name)
        lines = [f"agent {sym.name}"]
        if sig is not None:
            lines = [f"agent {sym.name}", f"  input {sig.inputs}", f"  output {sig.output}"]
        return _code("\n".join(lines)) + _doc_of(node.body) + where
    if isinstance(node, A.WorkflowDecl):
        v = node.body.get("version")
        version = f" ({src(v.value)})" if v is not None and isinstance(v.value, A.Node) else ""
        return _code(f"workflow {sym.name}{version}") + _doc_of(node.body) + where
    if isinstance(node, A.TemplateDecl):
        params = ", ".join(src(p) for p in node.params)
        return _code(f"template {sym.name}({params})") + _doc_of(node.body) + where
    if isinstance(node, A.TypeDecl):
        return _code(f"type {sym.name} = {snap.declarations.named(sym.name)}") + where
    if isinstance(node, A.TaskStmt):
        sig = snap.declarations.task_signature(node)
        agent = node.body.get("agent") if node.body else None
        lines = [f"task {sym.name}"]
        if agent is not None:
            lines.append(f"  agent: {src(agent.value)}")
        lines.append(f"  result: {sig.output if sig else 'any'}")
        return _code("\n".join(lines)) + (_doc_of(node.body) if node.body else "") + where
    if isinstance(node, (A.VarDecl, A.Param)):
        return _code(f"({sym.kind}) {src(node)}") + where
    return _code(f"({sym.kind}) {sym.name}") + where


def _doc_of(body: A.Block) -> str:
    f = body.get("description")
    if f is not None and isinstance(f.value, A.StringLit) and f.value.value:
        return "\n\n" + f.value.value
    return ""


# ---------------------------------------------------------------------------- signatures
@dataclass(frozen=True, slots=True)
class Signature:
    label: str
    params: tuple[str, ...]
    documentation: str = ""


@dataclass(frozen=True, slots=True)
class SignatureHelp:
    signatures: tuple[Signature, ...]
    active_signature: int
    active_parameter: int


_CALL = re.compile(r"(\w+)\(([^)]*)\)")

def signature_help(text: str, offset: int, snap: Snapshot | None, path: str = "<string>"
                   ) -> SignatureHelp | None:
    """The signature of the call or template instantiation whose parentheses hold the
    cursor, with the argument being written."""
    ctx = context_at(text, offset, path)
    frame = next((f for f in reversed(ctx.frames) if f.token.type == "LPAR"), None)
    if frame is None or ctx.frames[-1] is not frame and ctx.frames[-1].owner != "array":
        if frame is None or ctx.frames[-1].token.type == "LBRACE":
            return None
    assert frame is not None
    if frame.owner == "call" and frame.name in FUNCTIONS:
        fn = FUNCTIONS[frame.name]
        sigs = []
        for form in fn.forms:
            m = _CALL.fullmatch(form)
            params = tuple(p.strip() for p in m.group(2).split(",") if p.strip()) if m else ()
            sigs.append(Signature(form, params, fn.summary))
        active = next((k for k, s in enumerate(sigs) if len(s.params) > frame.commas
                       or "…" in s.params), len(sigs) - 1)
        return SignatureHelp(tuple(sigs), active, frame.commas)
    if frame.owner == "method" and methods_named(frame.name or ""):
        sigs = [Signature(m.label, m.params, m.doc) for m in methods_named(frame.name or "")]
        return SignatureHelp(tuple(sigs), 0, frame.commas)
    if frame.owner == "use" and snap is not None:
        decl = _template(snap, frame.name or "")
        if decl is None:
            return None
        params = tuple(snap.text_of(p) or p.name.name for p in decl.params)
        names = [p.name.name for p in decl.params]
        # Arguments are named: the active parameter is the one being written, if named.
        key = ctx.field_key()
        active = names.index(key) if key in names else min(frame.commas, max(0, len(names) - 1))
        label = f"use {decl.name.name}({', '.join(params)})"
        return SignatureHelp((Signature(label, params, _doc_of(decl.body).strip()),), 0, active)
    return None


def _template(snap: Snapshot, name: str) -> A.TemplateDecl | None:
    for d in snap.module.items:
        if isinstance(d, A.TemplateDecl) and d.name.name == name:
            return d
    found = snap.imports.decls.get(name)
    return found[1] if found is not None and isinstance(found[1], A.TemplateDecl) else None


# ---------------------------------------------------------------------------- inlay hints
@dataclass(frozen=True, slots=True)
class InlayHint:
    offset: int
    label: str
    kind: str  # "type" or "parameter"
    tooltip: str = ""


def inlay_hints(snap: Snapshot, start: int = 0, end: int | None = None) -> list[InlayHint]:
    """After a task's name, the type of its result (when its agent has a signature); after a
    retry policy, the worst-case time the task can take (every attempt timing out)."""
    out: list[InlayHint] = []
    stop = len(snap.source.text) if end is None else end
    for decl in snap.module.items:
        if not isinstance(decl, (A.WorkflowDecl, A.TemplateDecl)) or \
                decl.span.end < start or decl.span.start > stop:
            continue
        for task, _ in iter_tasks(decl.body.items):
            if not start <= task.name.span.end <= stop or task.body is None:
                continue
            sig = snap.declarations.task_signature(task)
            if sig is not None:
                out.append(InlayHint(task.name.span.end, f": {sig.output}", "type",
                                     "the type of this task's result"))
            worst = worst_case(snap, task, decl)
            retry = task.body.get("retry")
            if worst is not None and retry is not None:
                out.append(InlayHint(retry.span.end, f" ≤ {format_ms(worst * 1000)} worst case",
                                     "type", "every attempt timing out, with the waits "
                                     "between retries"))
    return sorted(out, key=lambda h: h.offset)


def worst_case(snap: Snapshot, task: A.TaskStmt,
               decl: A.WorkflowDecl | A.TemplateDecl) -> float | None:
    """Seconds a task may take at worst with the policy it runs with (its own, its agent's,
    its workflow's: twdsl.semantics.policies), or None without a timeout and a retry."""
    assert task.body is not None
    name = snap.declarations.agent_name(task)
    agent = snap.analysis.scope.agent_decls.get(name) if name is not None else None
    workflow = decl.body if isinstance(decl, A.WorkflowDecl) else None
    return task_policy(task.body, agent, workflow).worst_case()


def format_ms(ms: float) -> str:
    """``47s``, ``2m 5s``, ``1h 1m``, ``500ms``.

    >>> format_ms(47000), format_ms(125000), format_ms(3660000), format_ms(500)
    ('47s', '2m 5s', '1h 1m', '500ms')
    """
    if ms < 1000:
        return f"{ms:g}ms"
    s = round(ms / 1000)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{sec}s" if sec and not h else ""]
    return " ".join(p for p in parts if p) or "0s"


# ------------------------------------------------------------------------------- folding
@dataclass(frozen=True, slots=True)
class Fold:
    start_line: int  # 1-based
    end_line: int
    kind: str = "region"  # region, comment, imports


def folding_ranges(snap: Snapshot) -> list[Fold]:
    """Multi-line blocks (to the line before their closing bracket), comment runs and the
    imports."""
    out: list[Fold] = []
    seen: set[int] = set()
    for node in snap.module.walk():
        if isinstance(node, (A.Block, A.ObjectLit, A.ArrayLit, A.InputDecl, A.OutputDecl,
                             A.RecordType, A.SwitchStmt, A.CaseClause)):
            s = node.span
            last = s.end_line - 1 if not isinstance(node, A.CaseClause) else s.end_line
            if last > s.line and s.line not in seen:
                seen.add(s.line)
                out.append(Fold(s.line, last))
    run: list[Span] = []  # consecutive line comments
    for c in snap.parse.comments:
        if c.is_block:
            if c.span.end_line > c.span.line:
                out.append(Fold(c.span.line, c.span.end_line, "comment"))
            continue
        if run and c.span.line != run[-1].line + 1:
            if len(run) > 1:
                out.append(Fold(run[0].line, run[-1].line, "comment"))
            run = []
        run.append(c.span)
    if len(run) > 1:
        out.append(Fold(run[0].line, run[-1].line, "comment"))
    imports = [i for i in snap.module.items if isinstance(i, A.ImportDecl)]
    if len(imports) > 1 and imports[-1].span.end_line > imports[0].span.line:
        out.append(Fold(imports[0].span.line, imports[-1].span.end_line, "imports"))
    return sorted(out, key=lambda f: (f.start_line, f.end_line))


# ------------------------------------------------------------------------ semantic tokens
TOKEN_TYPES = ("namespace", "class", "interface", "type", "function", "parameter", "variable",
               "property", "enumMember")
TOKEN_MODIFIERS = ("declaration", "defaultLibrary", "readonly")
_SYMBOL_TYPES = {"workflow": "namespace", "template": "class", "agent": "interface",
                 "type": "type", "task": "function", "input": "parameter",
                 "parameter": "parameter", "output": "property", "variable": "variable"}


@dataclass(frozen=True, slots=True)
class SemanticToken:
    span: Span
    type: str
    modifiers: tuple[str, ...] = ()


def semantic_tokens(ws: Workspace, path: str) -> list[SemanticToken]:
    """Declared names by what they name (tasks, agents, inputs…), field keys, builtins."""
    snap = ws.snapshots.get(path)
    idx = ws.index(path)
    if snap is None or idx is None:
        return []
    out: list[SemanticToken] = []
    for occ in idx.occurrences:
        sym = ws.symbol(occ.key)
        if sym is None:
            continue
        mods = ("declaration",) if occ.is_decl else ()
        out.append(SemanticToken(occ.span, _SYMBOL_TYPES.get(sym.kind, "variable"), mods))
    named = {o.span.start for o in idx.occurrences}
    for node in snap.module.walk():
        if isinstance(node, A.Field) and not node.key.quoted:
            out.append(SemanticToken(node.key.span, "property"))
        elif isinstance(node, A.Name) and node.name in BUILTIN_NAMES and \
                node.span.start not in named:
            kind = "function" if node.name in FUNCTIONS else "variable"
            out.append(SemanticToken(node.span, kind, ("defaultLibrary",)))
        elif isinstance(node, A.Member):
            out.append(SemanticToken(node.name.span, "property"))
    out = [t for t in out if t.span.line == t.span.end_line]
    out.sort(key=lambda t: t.span.start)
    dedup: list[SemanticToken] = []
    for t in out:
        if dedup and dedup[-1].span.start == t.span.start:
            continue
        dedup.append(t)
    return dedup


# --------------------------------------------------------------------------- code actions
@dataclass(frozen=True, slots=True)
class CodeAction:
    title: str
    kind: str  # "quickfix"
    edits: tuple[TextEdit, ...]
    diagnostic: Diagnostic
    preferred: bool = False


def code_actions(snap: Snapshot, diagnostics: list[Diagnostic]) -> list[CodeAction]:
    """For each diagnostic: its fix, if it has one; and, unless it is a syntax error (never
    silenced), a ``// twdsl-ignore: CODE`` comment on the line above."""
    out: list[CodeAction] = []
    for d in diagnostics:
        if d.fix is not None:
            out.append(CodeAction(d.fix.title, "quickfix", d.fix.edits, d, True))
    for d in diagnostics:
        code = CODES.get(d.code)
        if code is None or code.stage == "syntax":
            continue
        out.append(CodeAction(f"Suppress {d.code} ({code.name}) on this line", "quickfix",
                              (suppress_edit(snap, d),), d))
    return out


def suppress_edit(snap: Snapshot, d: Diagnostic) -> TextEdit:
    """A comment line ``// twdsl-ignore: CODE`` above the diagnostic's line, at its
    indentation (or the code added to such a comment already there)."""
    src = snap.source
    line = d.span.line
    above = src.line_text(line - 1) if line > 1 else ""
    m = re.match(r"(\s*)//\s*twdsl-ignore:\s*([\w\-]+(?:\s*,\s*[\w\-]+)*)\s*$", above)
    if m is not None:
        end = src.offset(line - 1, len(above) + 1)
        span = src.span(end, end)
        return TextEdit(span, f", {d.code}")
    text = src.line_text(line)
    indent = text[:len(text) - len(text.lstrip())]
    start = src.offset(line, 1)
    return TextEdit(src.span(start, start), f"{indent}// twdsl-ignore: {d.code}\n")


# ----------------------------------------------------------------------------- formatting
def format_edits(snap: Snapshot, start_line: int | None = None, end_line: int | None = None
                 ) -> list[TextEdit]:
    """Edits that format the file (the CLI's formatter), or only the changed lines between
    ``start_line`` and ``end_line`` (1-based, inclusive).  A file with syntax errors gives
    no edits: formatting a misread file could lose text."""
    try:
        new = format_parsed(snap.parse)
    except FormatError:
        return []
    old = snap.source.text
    if new == old:
        return []
    src = snap.source
    if start_line is None:
        return [TextEdit(src.span(0, len(old)), new)]
    a = old.splitlines(keepends=True)
    b = new.splitlines(keepends=True)
    edits = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        first, last = i1 + 1, max(i1 + 1, i2)
        if last < start_line or end_line is not None and first > end_line:
            continue
        s = src.offset(i1 + 1, 1) if i1 < len(a) else len(old)
        e = src.offset(i2 + 1, 1) if i2 < len(a) else len(old)
        edits.append(TextEdit(src.span(s, e), "".join(b[j1:j2])))
    return edits
