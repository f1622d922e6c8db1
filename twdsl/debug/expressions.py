"""TWDSL expressions typed in the debugger (breakpoint conditions, the debug console, watches,
hovers), compiled by the compiler itself, in the scope of a task.

An expression means what it would mean written in the program beside the task the run is
stopped at: the same names (inputs, loop variables, template parameters, tasks, ``context``,
builtins), the same types, the same checks.  So that it does, it *is* written there: the
source is compiled again with one more task right after the task's closing brace,

    task __twdsl_debug { agent: "echo" when: (
    EXPRESSION
    ) }

(``when`` for a condition, which must be boolean; ``input`` for any other expression, which
may be of any type), and the compiled program's IR expression of that task is the answer.
The name resolution, the type checker and lowering are the compiler's own: nothing here knows
the language's rules.  A mistake in the expression comes back as the checker's message.

The same place gives the one limit of this: an expression cannot read a task that runs after
the stopped task (the extra task would wait for it), which the checker reports as a cycle;
the message says so in words.  The results of every task that ran are in the Variables view.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from twdsl.compiler import WorkflowChoiceError, compile_source
from twdsl.config import Config
from twdsl.diagnostics import Diagnostic, Severity
from twdsl.ir import expr as X
from twdsl.ir import model as M

#: The extra task's name: no user task is named so (names starting with two underscores are
#: not used by the examples, the docs or the tests; a clash is reported, not misread).
PROBE = "__twdsl_debug"
_CYCLE = re.compile(r"dependency cycle: (.*?);")
_POSITION = re.compile(r"\b(\d+):(\d+)\b")


class ExpressionError(Exception):
    """An expression that cannot be used: the message says why, for the user."""


def norm_path(path: str, base: str) -> str:
    """``path`` (relative to ``base``) as one spelling: absolute, links resolved."""
    return os.path.normcase(os.path.realpath(os.path.join(base, path)))


@dataclass
class ExpressionCompiler:
    """Compiles expressions in the scope of the tasks of ``program``.

    ``text`` is the entry file's source as it was compiled (None: not available, e.g. a
    compiled ``.json`` whose source is gone or changed; then no expression can be compiled and
    ``unavailable`` says why).  Imported files are read from disk when first needed.
    """

    program: M.Program
    text: str | None
    config: Config
    cwd: str
    unavailable: str | None = None
    cache: dict[tuple[str, str, str], X.Expr | ExpressionError] = field(default_factory=dict)
    files: dict[str, str | None] = field(default_factory=dict)
    _ids: set[str] | None = None
    spliced: str = ""  # the text of the last compile (for the positions of its messages)
    head: int = 0  # where the extra task starts in it

    @classmethod
    def for_program(cls, program: M.Program, text: str | None, config: Config, cwd: str,
                    where: str | None = None) -> ExpressionCompiler:
        """The compiler for ``program``; ``text`` is checked against the program's recorded
        source hash (``where``: the file it was read from, for the message)."""
        unavailable = None
        if text is None:
            unavailable = (f"the source of this program ({program.source}) cannot be read, so "
                           "expressions cannot be compiled")
        elif hashlib.sha256(text.encode()).hexdigest() != program.source_sha256:
            unavailable = (f"{where or program.source} changed since this program was compiled, "
                           "so expressions cannot be compiled")
            text = None
        return cls(program, text, config, cwd, unavailable)

    # ------------------------------------------------------------------ compiling
    def condition(self, source: str, task: M.TaskNode) -> X.Expr:
        """A breakpoint condition: a boolean expression in the scope of ``task``."""
        return self.compile(source, task, "when")

    def value(self, source: str, task: M.TaskNode) -> X.Expr:
        """An expression of any type in the scope of ``task``."""
        return self.compile(source, task, "input")

    def compile(self, source: str, task: M.TaskNode, slot: str) -> X.Expr:
        key = (source, task.id, slot)
        hit = self.cache.get(key)
        if hit is None:
            try:
                hit = self._compile(source, task, slot)
            except ExpressionError as e:
                hit = e
            if len(self.cache) > 1000:
                self.cache.clear()
            self.cache[key] = hit
        if isinstance(hit, ExpressionError):
            raise hit
        return hit

    def _compile(self, source: str, task: M.TaskNode, slot: str) -> X.Expr:
        if not source.strip():
            raise ExpressionError("the expression is empty")
        if self.text is None:
            raise ExpressionError(self.unavailable or "expressions cannot be compiled")
        if task.src is None:
            raise ExpressionError(f"task '{task.name}' has no source position")
        target = norm_path(task.src.file, self.cwd)
        original = self.read(task.src.file) if target != self.main else self.text
        if original is None:
            raise ExpressionError(f"{task.src.file} cannot be read")
        at = _offset(original, task.src.end_line, task.src.end_column)
        if at is None or original[at - 1:at] != "}":
            raise ExpressionError(f"{task.src.file} changed since this program was compiled")
        head = f'\ntask {PROBE} {{ agent: "echo" {slot}: (\n'
        spliced = original[:at] + head + source + "\n) }\n" + original[at:]
        start, end = at + len(head), at + len(head) + len(source)

        def load(path: str) -> str | None:
            if norm_path(path, self.cwd) == target:
                return spliced
            return self.read(path)

        self.spliced, self.head = spliced, at
        main_text = spliced if target == self.main else self.text
        try:
            comp = compile_source(main_text, self.program.source, self.program.workflow, 0,
                                  self.config, load)
        except WorkflowChoiceError as e:
            raise ExpressionError(str(e)) from None
        errors = [d for d in comp.diagnostics if d.severity is Severity.ERROR]
        if errors or comp.program is None:
            raise ExpressionError(self.explain(errors, target, at, start, end, task))
        added = set(comp.program.nodes) - self.node_ids()
        if any(not a.endswith(PROBE) for a in added) or not self.node_ids() <= set(
                comp.program.nodes):
            raise ExpressionError("write one expression (it closed the brackets around it)")
        # every instance of the task (a template's, used several times) got its extra task
        found: X.Expr | None = None
        for other in self.program.nodes.values():
            if not isinstance(other, M.TaskNode) or other.src != task.src:
                continue
            local = other.id.rsplit(".", 1)[-1]
            probe = comp.program.nodes.get(other.id[:len(other.id) - len(local)] + PROBE)
            if not isinstance(probe, M.TaskNode) or (
                    probe.when if slot == "input" else probe.input) is not None:
                raise ExpressionError("write one expression (it closed the brackets around it)")
            expr = probe.when if slot == "when" else probe.input
            if expr is None:
                raise ExpressionError("the expression is empty")
            self.cache[(source, other.id, slot)] = expr
            if other.id == task.id:
                found = expr
        if found is None:
            raise ExpressionError(f"the expression cannot be placed beside task '{task.name}'")
        return found

    def explain(self, errors: list[Diagnostic], target: str, at: int, start: int, end: int,
                task: M.TaskNode) -> str:
        """The checker's errors about the expression, in words about the expression."""
        tail = end + len("\n) }")
        inside = [d for d in errors if norm_path(d.span.file, self.cwd) == target and
                  at <= d.span.start and d.span.end <= tail]
        for d in errors:
            if d.code in ("TW401", "TW402"):
                m = _CYCLE.search(d.message)
                names = [n for n in (m[1].split(" -> ") if m else []) if not n.endswith(PROBE)
                         and n != task.name]
                later = ", ".join(f"'{n}'" for n in _dedupe(names)) or "a task"
                return (f"this expression reads {later}, which runs after '{task.name}': "
                        "here its value is not known yet (the Variables view shows every task "
                        "that ran)")
        if inside:
            return "; ".join(_dedupe(self.words(d, start, end) for d in inside))
        return "; ".join(_dedupe(d.message.replace(PROBE, "(the expression)") for d in errors))

    def words(self, d: Diagnostic, start: int, end: int) -> str:
        """A message of the checker about the expression, said of the expression (not of the
        task that holds it, nor of the lines around it)."""
        where = "at the end of the expression" if d.span.start >= end else "in the expression"

        def position(m: re.Match[str]) -> str:
            at = _offset(self.spliced, int(m[1]), int(m[2]))
            if at is not None and self.head <= at < start:
                return "the start of the expression"
            if at is None or not start <= at < end:
                return m[0]
            column = at - (self.spliced.rfind("\n", start, at) + 1 or start) + 1
            if "\n" not in self.spliced[start:end]:
                return f"column {column} of the expression"
            line = self.spliced.count("\n", start, at) + 1
            return f"line {line}, column {column} of the expression"

        return _POSITION.sub(position, d.message.replace(f"in task '{PROBE}'", where)
                             .replace("field 'when' expects boolean",
                                      "it must be boolean"))

    # ------------------------------------------------------------------ files
    @property
    def main(self) -> str:
        return norm_path(self.program.source, self.cwd)

    def read(self, path: str) -> str | None:
        key = norm_path(path, self.cwd)
        if key not in self.files:
            try:
                self.files[key] = Path(key).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                self.files[key] = None
        return self.files[key]

    def node_ids(self) -> set[str]:
        """The node ids of the program compiled without optimization (what the extra task is
        compared with)."""
        if self._ids is None:
            assert self.text is not None
            comp = compile_source(self.text, self.program.source, self.program.workflow, 0,
                                  self.config, self.read)
            self._ids = set(comp.program.nodes) if comp.program is not None else set()
        return self._ids


def _offset(text: str, line: int, column: int) -> int | None:
    """The offset of 1-based ``line`` and ``column`` (code points) in ``text``."""
    at = 0
    for _ in range(line - 1):
        at = text.find("\n", at) + 1
        if at == 0:
            return None
    end = text.find("\n", at)
    if column - 1 > (len(text) if end < 0 else end) - at:
        return None
    return at + column - 1


def _dedupe(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for i in items:
        if i not in out:
            out.append(i)
    return out
