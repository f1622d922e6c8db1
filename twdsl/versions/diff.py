"""What changed between two versions of a workflow, for its callers and for its runs in flight.

:func:`diff_programs` compares two compiled programs (:class:`~twdsl.ir.model.Program`) of one
workflow, and :func:`diff_workflows` the workflows of two files, paired by name.  Both are pure:
programs in, changes out, no file or clock read; positions come from the programs' own source
references and, for what the IR does not place (the workflow, its ``timeout``, agent
signatures), from :class:`Locations` the caller may give.  ``twdsl diff``, ``twdsl check
--against`` and the state store (to decide whether a run may resume with a changed workflow)
all call them; docs/versions.md is the table of what is reported and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from twdsl.ir import model as M
from twdsl.ir import tree
from twdsl.ir.render import expr_text
from twdsl.lang import semver
from twdsl.lang.semver import Bump, Version
from twdsl.lang.values import format_duration


class Impact(str, Enum):
    """How a change affects callers and runs in flight."""

    BREAKING = "breaking"  # a caller of the old version, or a run started with it, may fail
    COMPATIBLE = "compatible"  # reported, and safe for both

    def __str__(self) -> str:
        return self.value


Side = Literal["old", "new"]


@dataclass(frozen=True, slots=True)
class Change:
    """One change.  ``kind`` is a stable name (docs/versions.md), ``subject`` the input,
    output, task or agent it is about (None: the workflow itself), ``at`` where it is written
    in the ``side`` program (None: unknown), ``before``/``after`` the old and new value as
    people read them (None: absent)."""

    kind: str
    impact: Impact
    workflow: str
    subject: str | None
    message: str
    side: Side
    at: M.SourceRef | None
    before: str | None = None
    after: str | None = None

    @property
    def breaking(self) -> bool:
        return self.impact is Impact.BREAKING


@dataclass(frozen=True, slots=True)
class Locations:
    """Where a program's parts that the IR does not place were written: the workflow's name,
    its ``timeout`` field, and the agent signatures it calls (by the name tasks call them)."""

    workflow: M.SourceRef | None = None
    timeout: M.SourceRef | None = None
    agents: Mapping[str, M.SourceRef] = field(default_factory=dict)


@dataclass(slots=True)
class WorkflowDiff:
    """The changes to one workflow between two versions (``old``/``new`` None: the workflow
    is not in that version)."""

    workflow: str
    old: M.Program | None
    new: M.Program | None
    changes: list[Change]

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def bump(self) -> Bump:
        """The bump the changes need: major for a breaking one, minor for a compatible one
        (:func:`twdsl.lang.semver.next_version` moves both down a place under 0.y.z)."""
        if self.breaking:
            return Bump.MAJOR
        return Bump.MINOR if self.changes else Bump.NONE

    @property
    def old_version(self) -> Version | None:
        return _version(self.old)

    @property
    def new_version(self) -> Version | None:
        return _version(self.new)

    @property
    def version_ok(self) -> bool | None:
        """Whether the new version grew enough for the changes (None: a version is missing
        or not semantic, or the workflow is only in one of the two)."""
        old, new = self.old_version, self.new_version
        if old is None or new is None:
            return None
        return semver.enough(old, new, self.bump)

    @property
    def suggested_version(self) -> Version | None:
        """The smallest version enough for the changes (None when the old version is not
        known)."""
        old = self.old_version
        return semver.next_version(old, self.bump) if old is not None else None


def _version(p: M.Program | None) -> Version | None:
    return semver.parse(p.version) if p is not None and p.version is not None else None


# ------------------------------------------------------------------------ the comparison

def diff_workflows(old: Mapping[str, M.Program], new: Mapping[str, M.Program],
                   old_at: Mapping[str, Locations] | None = None,
                   new_at: Mapping[str, Locations] | None = None) -> list[WorkflowDiff]:
    """The workflows of two versions of a file (name → program), paired by name: those in
    both compared with :func:`diff_programs`, one only in ``old`` reported removed
    (breaking: its callers and runs have nothing to call), one only in ``new`` added.  In the
    order of ``old``, then the added ones in the order of ``new``."""
    old_at, new_at = old_at or {}, new_at or {}
    out: list[WorkflowDiff] = []
    for name, before in old.items():
        where = old_at.get(name, Locations())
        if name in new:
            out.append(WorkflowDiff(name, before, new[name], diff_programs(
                before, new[name], where, new_at.get(name))))
        else:
            out.append(WorkflowDiff(name, before, None, [Change(
                "workflow-removed", Impact.BREAKING, name, None,
                f"workflow '{name}' removed: its callers and its runs in flight have nothing "
                "left to run", "old", where.workflow or _first_src(before))]))
    for name, after in new.items():
        if name not in old:
            where = new_at.get(name, Locations())
            out.append(WorkflowDiff(name, None, after, [Change(
                "workflow-added", Impact.COMPATIBLE, name, None, f"workflow '{name}' added",
                "new", where.workflow or _first_src(after))]))
    return out


def diff_programs(old: M.Program, new: M.Program, old_at: Locations | None = None,
                  new_at: Locations | None = None) -> list[Change]:
    """Every change between two programs of one workflow that matters to its callers or to its
    runs in flight, each classified (docs/versions.md has the table):

    * the contract with callers: inputs (added without a default, removed, narrowed or
      widened, default added, removed or changed) and outputs (removed, added, type changed);
    * what a run started with ``old`` relies on when it goes on with ``new``: results are
      recorded by task name and loop iteration, so a task removed, renamed or moved into or out
      of a loop is breaking, and so is a change of agent or of an agent's declared output that
      a recorded result may not fit;
    * how work runs: retry and timeout policies and ordering (what a task waits for), which
      are compatible but reported.

    The contract, for every caller (``twdsl diff``, ``check --against``, resuming a run):
    ``old`` and ``new`` are programs of the same workflow, compiled at the same optimization
    level (``twdsl diff`` uses -O0, the program as written); tasks are matched by name; the
    result is empty when nothing above differs, holds a breaking change when a caller of
    ``old`` or a run of ``old`` resumed on ``new`` may fail where it would not have, and is
    deterministic (the same programs give the same list, in the same order: workflow, inputs,
    outputs, agents, then tasks: those removed, then ``new``'s in the order they are written).
    The programs are not changed.
    """
    c = _Comparison(old, new, old_at or Locations(), new_at or Locations())
    c.workflow()
    c.inputs()
    c.outputs()
    c.agents()
    c.tasks()
    return c.out


def covers(a: M.TypeRef | None, b: M.TypeRef | None) -> bool:
    """Whether every value of type ``a`` is a value of type ``b`` (None: ``any``).

    The value sets are those of the runtime's checks (:mod:`twdsl.lang.conform`) read as the
    declared contract: ``any`` holds everything, ``T?`` a T or null, ``string`` also every
    ``url`` and ``file``, ``duration`` every ``number`` (of seconds), ``object`` every record; a
    record holds the values that have each of its required fields (more fields allowed).

    >>> T = M.TypeRef
    >>> covers(T(kind="url"), T(kind="string")), covers(T(kind="string"), T(kind="url"))
    (True, False)
    >>> covers(T(kind="number"), T(kind="optional", of=T(kind="number")))
    True
    """
    ak, bk = (a.kind if a else "any"), (b.kind if b else "any")
    if bk == "any":
        return True
    if ak == "any":
        return False
    assert a is not None and b is not None
    if bk == "optional":
        if ak == "null":
            return True
        return covers(a.of if ak == "optional" else a, b.of)
    if ak in ("optional", "null"):
        return ak == bk
    if bk == "array":
        return ak == "array" and covers(a.of, b.of)
    if bk == "record":
        if ak != "record":
            return False
        have = a.fields or {}
        for name, want in (b.fields or {}).items():
            if name not in have:
                if want.kind not in ("optional", "any", "null"):
                    return False
            elif not covers(have[name], want):
                return False
        return True
    if ak == bk:
        return True
    return (bk == "string" and ak in ("url", "file")) or (bk == "duration" and ak == "number") \
        or (bk == "object" and ak == "record")


# ------------------------------------------------------------------------ the details

class _Comparison:
    def __init__(self, old: M.Program, new: M.Program, old_at: Locations,
                 new_at: Locations) -> None:
        self.old, self.new = old, new
        self.old_at, self.new_at = old_at, new_at
        self.out: list[Change] = []

    def add(self, kind: str, impact: Impact, subject: str | None, message: str, side: Side,
            at: M.SourceRef | None, before: str | None = None, after: str | None = None) -> None:
        self.out.append(Change(kind, impact, self.new.workflow, subject, message, side, at,
                               before, after))

    # -- the workflow
    def workflow(self) -> None:
        before, after = self.old.timeout, self.new.timeout
        if before != after:
            at = self.new_at.timeout or self.new_at.workflow or _first_src(self.new)
            self.add("workflow-timeout-changed", Impact.COMPATIBLE, None,
                     f"timeout of the workflow {_duration(before)} → {_duration(after)}",
                     "new", at, _duration(before), _duration(after))

    # -- the contract with callers
    def inputs(self) -> None:
        old = {i.name: i for i in self.old.inputs}
        new = {i.name: i for i in self.new.inputs}
        for name, i in old.items():
            if name not in new:
                self.add("input-removed", Impact.BREAKING, name,
                         f"input '{name}' removed: a caller that gives it is refused", "old",
                         i.src, str(i.type), None)
                continue
            n = new[name]
            self.input_type(i, n)
            self.input_default(i, n)
        for name, n in new.items():
            if name in old:
                continue
            if n.required:
                self.add("input-added", Impact.BREAKING, name,
                         f"input '{name}' added without a default: every caller must now give "
                         "it", "new", n.src, None, str(n.type))
            else:
                how = "with a default" if n.default is not None else "optional"
                self.add("input-added", Impact.COMPATIBLE, name,
                         f"input '{name}' added ({how})", "new", n.src, None, str(n.type))

    def input_type(self, i: M.InputDecl, n: M.InputDecl) -> None:
        wider, narrower = covers(i.type, n.type), covers(n.type, i.type)
        if wider and narrower:
            return
        name, before, after = i.name, str(i.type), str(n.type)
        if wider:
            self.add("input-type-widened", Impact.COMPATIBLE, name,
                     f"input '{name}' widened from {before} to {after}", "new", n.src,
                     before, after)
        elif narrower:
            self.add("input-type-narrowed", Impact.BREAKING, name,
                     f"input '{name}' narrowed from {before} to {after}: a value a caller gives "
                     "today may be refused", "new", n.src, before, after)
        else:
            self.add("input-type-changed", Impact.BREAKING, name,
                     f"input '{name}' changed type from {before} to {after}", "new", n.src,
                     before, after)

    def input_default(self, i: M.InputDecl, n: M.InputDecl) -> None:
        name = i.name
        before = expr_text(i.default) if i.default is not None else None
        after = expr_text(n.default) if n.default is not None else None
        if before == after:
            return
        if before is None:
            self.add("input-default-added", Impact.COMPATIBLE, name,
                     f"input '{name}' now has a default ({after})", "new", n.src, None, after)
        elif after is None:
            if n.required:
                self.add("input-default-removed", Impact.BREAKING, name,
                         f"input '{name}' lost its default ({before}): a caller that leaves it "
                         "out is refused", "new", n.src, before, None)
            else:
                self.add("input-default-removed", Impact.COMPATIBLE, name,
                         f"input '{name}' lost its default ({before}): left out, it is null",
                         "new", n.src, before, None)
        else:
            self.add("input-default-changed", Impact.COMPATIBLE, name,
                     f"default of input '{name}' {before} → {after}", "new", n.src, before,
                     after)

    def outputs(self) -> None:
        old = {o.name: o for o in self.old.outputs}
        new = {o.name: o for o in self.new.outputs}
        for name, o in old.items():
            if name not in new:
                self.add("output-removed", Impact.BREAKING, name,
                         f"output '{name}' removed: a caller that reads it finds nothing",
                         "old", o.src, str(o.type), None)
                continue
            n = new[name]
            before, after = str(o.type), str(n.type)
            narrower, wider = covers(n.type, o.type), covers(o.type, n.type)
            if narrower and wider:
                continue
            if narrower:
                self.add("output-type-narrowed", Impact.COMPATIBLE, name,
                         f"output '{name}' narrowed from {before} to {after}", "new", n.src,
                         before, after)
            else:
                self.add("output-type-changed", Impact.BREAKING, name,
                         f"output '{name}' changed type from {before} to {after}: a caller "
                         f"expecting {before} may get another value", "new", n.src, before,
                         after)
        for name, n in new.items():
            if name not in old:
                self.add("output-added", Impact.COMPATIBLE, name, f"output '{name}' added",
                         "new", n.src, None, str(n.type))

    # -- agents' signatures
    def agents(self) -> None:
        for name, a in self.old.agents.items():
            b = self.new.agents.get(name)
            if b is None:
                continue  # no task calls it any more: reported with the tasks
            at = self.new_at.agents.get(name) or self.first_caller(name)
            if _text(a.output) != _text(b.output):
                ok = covers(a.output, b.output)
                self.add("agent-output-changed", Impact.COMPATIBLE if ok else Impact.BREAKING,
                         name, f"output of agent '{name}' changed from {_text(a.output)} to "
                         f"{_text(b.output)}" + ("" if ok else ": a result recorded by a run in "
                                                 "flight may not fit it"),
                         "new", at, _text(a.output), _text(b.output))
            if _text(a.input) != _text(b.input):
                self.add("agent-input-changed", Impact.COMPATIBLE, name,
                         f"input of agent '{name}' changed from {_text(a.input)} to "
                         f"{_text(b.input)}", "new", at, _text(a.input), _text(b.input))

    def first_caller(self, agent: str) -> M.SourceRef | None:
        return next((n.src for n in _tasks(self.new).values() if n.agent == agent), None)

    # -- tasks: what runs in flight rely on, and how work runs
    def tasks(self) -> None:
        old, new = _tasks(self.old), _tasks(self.new)
        removed = [t for t in old if t not in new]
        added = [t for t in new if t not in old]
        renamed = _renames(old, new, removed, added)
        for name in removed:
            if name not in renamed:
                self.add("task-removed", Impact.BREAKING, name,
                         f"task '{name}' removed: a run in flight may have run it or be waiting "
                         "for it", "old", old[name].src, name, None)
        waits_old, waits_new = _waits(self.old, renamed), _waits(self.new, {})
        self.moved: dict[tuple[int, int], tuple[frozenset[str], frozenset[str]]] = {}
        loops_old, loops_new = _loops(self.old), _loops(self.new)
        renamed_from = {to: name for name, to in renamed.items()}
        for name, n in new.items():
            if name in renamed_from:
                self.add("task-renamed", Impact.BREAKING, renamed_from[name],
                         f"task '{renamed_from[name]}' renamed to '{name}': a run in flight "
                         "finds no result under the new name and runs it again", "new", n.src,
                         renamed_from[name], name)
                continue
            if name not in old:
                self.add("task-added", Impact.COMPATIBLE, name, f"task '{name}' added", "new",
                         n.src, None, name)
                continue
            o = old[name]
            self.task_agent(o, n)
            if loops_old.get(name, ()) != loops_new.get(name, ()):
                before = _place(loops_old.get(name, ()))
                after = _place(loops_new.get(name, ()))
                self.add("task-moved", Impact.BREAKING, name,
                         f"task '{name}' moved from {before} to {after}: a run in flight "
                         "records its results per loop iteration, and cannot reuse them",
                         "new", n.src, before, after)
            what = _retry_change(o.retry, n.retry) if o.retry != n.retry else ""
            if what:
                before, after = _retry(o.retry), _retry(n.retry)
                self.add("task-retry-changed", Impact.COMPATIBLE, name,
                         f"retry of task '{name}': {what}", "new", n.src, before, after)
            if o.timeout != n.timeout:
                before, after = _duration(o.timeout), _duration(n.timeout)
                self.add("task-timeout-changed", Impact.COMPATIBLE, name,
                         f"timeout of task '{name}' {before} → {after}", "new", n.src, before,
                         after)
            self.task_waits(name, n, waits_old.get(name, _NO_WAITS),
                            waits_new.get(name, _NO_WAITS))

    def task_agent(self, o: M.TaskNode, n: M.TaskNode) -> None:
        if o.agent == n.agent:
            return
        ok = o.result_type is not None and n.result_type is not None \
            and covers(o.result_type, n.result_type)
        why = "" if ok else ": a result recorded by a run in flight may not fit what reads it"
        self.add("task-agent-changed", Impact.COMPATIBLE if ok else Impact.BREAKING, n.name,
                 f"task '{n.name}' now calls agent '{n.agent}' (was '{o.agent}'){why}", "new",
                 n.src, o.agent, n.agent)

    def task_waits(self, name: str, n: M.TaskNode, before: _Waits, after: _Waits) -> None:
        (inh_o, own_o), (inh_n, own_n) = before, after
        # what the blocks around the task wait for is shared by their tasks: compared once
        key = (id(inh_o), id(inh_n))
        if key not in self.moved:
            self.moved[key] = (inh_n - inh_o, inh_o - inh_n)
        gained, lost = self.moved[key]
        more = sorted((gained | {t for t in own_n if t not in inh_o}) - own_o - {name})
        fewer = sorted((lost | {t for t in own_o if t not in inh_n}) - own_n - {name})
        if more:
            self.add("task-waits-more", Impact.COMPATIBLE, name,
                     f"task '{name}' now waits for {_names(more)}", "new", n.src,
                     None, ", ".join(more))
        if fewer:
            self.add("task-waits-less", Impact.COMPATIBLE, name,
                     f"task '{name}' no longer waits for {_names(fewer)}", "new", n.src,
                     ", ".join(fewer), None)


def _first_src(p: M.Program) -> M.SourceRef | None:
    root = p.nodes.get(p.root)
    return root.src if root is not None else None


def _tasks(p: M.Program) -> dict[str, M.TaskNode]:
    """The program's tasks by name, in the order they are written (body, then handlers)."""
    out: dict[str, M.TaskNode] = {}
    for nid in tree.order(p):
        n = p.nodes[nid]
        if isinstance(n, M.TaskNode):
            out.setdefault(n.name, n)
    return out


def _renames(old: Mapping[str, M.TaskNode], new: Mapping[str, M.TaskNode],
             removed: list[str], added: list[str]) -> dict[str, str]:
    """Removed tasks that an added task replaces with the same agent and the same input:
    a rename (old name → new name), when the match is one to one."""
    def same(a: M.TaskNode, b: M.TaskNode) -> bool:
        return a.agent == b.agent and a.input == b.input

    out = {}
    for r in removed:
        matches = [a for a in added if same(old[r], new[a])]
        if len(matches) == 1 and [x for x in removed if same(old[x], new[matches[0]])] == [r]:
            out[r] = matches[0]
    return out


#: what a task waits for: (what the blocks around it wait for, what its own edges name)
_Waits = tuple[frozenset[str], frozenset[str]]
_NO_WAITS: _Waits = (frozenset(), frozenset())


def _waits(p: M.Program, renamed: Mapping[str, str]) -> dict[str, _Waits]:
    """For each task, the tasks that must end before it starts: those inside the siblings
    that it (its own ``after`` edges), or a block around it (theirs), waits for; task names
    read through ``renamed``.  The blocks' part is one set shared by the tasks inside them."""
    names: dict[str, frozenset[str]] = {}  # node id -> the task names in its subtree
    order = tree.order(p)
    for nid in reversed(order):  # children before their parents
        x = p.nodes[nid]
        own = {renamed.get(x.name, x.name)} if isinstance(x, M.TaskNode) else set()
        names[nid] = frozenset(own.union(*(names.get(c, ()) for c in tree.owned(x))))

    def edges(node: M.Node) -> frozenset[str]:
        return frozenset().union(*(names.get(s, ()) for s in node.after))

    around: dict[str, frozenset[str]] = {}  # node id -> what it and the blocks around wait for
    out: dict[str, _Waits] = {}
    for nid in order:  # parents before their children
        x = p.nodes[nid]
        above = around.get(x.parent, frozenset()) if x.parent is not None else frozenset()
        if isinstance(x, M.TaskNode):
            out.setdefault(renamed.get(x.name, x.name), (above, edges(x)))
        else:
            mine = edges(x)
            around[nid] = above | mine if mine - above else above
    return out


def _loops(p: M.Program) -> dict[str, tuple[str, ...]]:
    """For each task, the loops around it, outermost first (``foreach x``, ``while``)."""
    out: dict[str, tuple[str, ...]] = {}
    for n in p.nodes.values():
        if not isinstance(n, M.TaskNode):
            continue
        loops: list[str] = []
        node: M.Node | None = p.nodes.get(n.parent) if n.parent is not None else None
        while node is not None:
            if isinstance(node, M.ForeachNode):
                loops.append(f"foreach {node.var}")
            elif isinstance(node, M.WhileNode):
                loops.append("while")
            node = p.nodes.get(node.parent) if node.parent is not None else None
        out.setdefault(n.name, tuple(reversed(loops)))
    return out


def _place(loops: tuple[str, ...]) -> str:
    return " > ".join(f"'{x}'" for x in loops) if loops else "outside any loop"


_RETRY_FIELDS = ("attempts", "delay", "backoff", "max_delay", "jitter", "on")


def _retry_value(p: M.RetryPolicy, f: str) -> str:
    v = getattr(p, f)
    if f in ("delay", "max_delay"):
        return format_duration(v)
    if f == "on":
        return "[" + ", ".join(str(k) for k in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _retry(p: M.RetryPolicy | None) -> str:
    if p is None:
        return "none"
    return "{ " + ", ".join(f"{f}: {_retry_value(p, f)}" for f in _RETRY_FIELDS) + " }"


def _retry_change(a: M.RetryPolicy | None, b: M.RetryPolicy | None) -> str:
    """The settings that differ, as ``attempts 3 → 5, delay 1s → 2s`` (no retry: 0
    attempts)."""
    a = a or M.RetryPolicy(attempts=0)
    b = b or M.RetryPolicy(attempts=0)
    return ", ".join(f"{f} {_retry_value(a, f)} → {_retry_value(b, f)}" for f in _RETRY_FIELDS
                     if _retry_value(a, f) != _retry_value(b, f))


def _duration(seconds: float | None) -> str:
    return "none" if seconds is None else format_duration(seconds)


def _text(t: M.TypeRef | None) -> str:
    return "any" if t is None else str(t)


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"'{n}'" for n in names)
