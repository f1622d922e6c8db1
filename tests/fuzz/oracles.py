"""The fuzzer's oracles: what must hold for any text given to twdsl's public APIs.

- ``twdsl.analyze`` (check), ``twdsl.format_source`` (fmt) and ``twdsl.compiler.compile_source``
  (compile, every workflow of the file, at -O0 and -O1) raise nothing: a user's mistake is a
  diagnostic, a FormatError (syntax errors, or nesting beyond the formatter's limits) or a
  WorkflowChoiceError, never an exception;
- formatting is idempotent, keeps every comment (the same comment texts, as a multiset) and
  keeps the program: the same AST ignoring spans, and the same IR ignoring source positions.

``check(text)`` returns the findings, each with a stable ``signature`` (which oracle, which
exception, where in twdsl it was raised) so that the runner can tell a new bug from one
already kept as a fixture.
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import twdsl
from twdsl.compiler import WorkflowChoiceError, compile_source
from twdsl.formatter import FormatError
from twdsl.recursion import deep_recursion
from twdsl.syntax.ast import WorkflowDecl, dump

PACKAGE = Path(twdsl.__file__).resolve().parent
#: Where a crash is fixed: the formatter, CLI and run inputs by the hardening work; the
#: compiler core (syntax, semantics, lint, lowering, passes, ir, ide) by its owner.
CORE = ("syntax", "semantics", "lint", "lowering", "passes", "ir", "ide")


#: The oracle running now (the runner names a case that ran too long by it).
STAGE = ["check"]


@dataclass(frozen=True)
class Finding:
    oracle: str  #: check, fmt, compile, fmt-idempotent, fmt-comments, fmt-ast, fmt-ir, lsp
    kind: str  #: the exception's type, or the property that failed
    where: str  #: the innermost frame inside twdsl ("twdsl/formatter.py:array"), or ""
    detail: str  #: the message / the difference, for people

    @property
    def signature(self) -> str:
        return f"{self.oracle}|{self.kind}|{self.where}"

    @property
    def in_core(self) -> bool:
        """Whether the compiler core raised it (its owner fixes it; the fuzzer keeps it as an
        xfail fixture)."""
        parts = self.where.split("/")
        return len(parts) > 2 and parts[0] == "twdsl" and parts[1].removesuffix(".py") in CORE


def where(exc: BaseException) -> str:
    """The innermost frame of ``exc``'s traceback inside the twdsl package."""
    found = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        path = Path(frame.filename).resolve()
        try:
            rel = path.relative_to(PACKAGE.parent)
        except ValueError:
            continue
        if rel.parts and rel.parts[0] in ("twdsl", "lsp", "runtime"):
            found = f"{rel.as_posix()}:{frame.name}"
    # lsp/ and runtime/ install as twdsl.lsp and twdsl.runtime but live beside twdsl/
    return found


def _crash(oracle: str, exc: BaseException) -> Finding:
    return Finding(oracle, type(exc).__name__, where(exc), f"{type(exc).__name__}: {exc}"[:500])


def _strip_positions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_positions(v) for k, v in value.items()
                if k not in ("src", "source_sha256")}
    if isinstance(value, list):
        return [_strip_positions(v) for v in value]
    return value


def _programs(text: str, path: str, names: list[str], findings: list[Finding]
              ) -> dict[tuple[str, int], Any] | None:
    """Each workflow compiled at -O0 and -O1 (positions stripped), or None on a crash."""
    out: dict[tuple[str, int], Any] = {}
    for name in names or [None]:  # type: ignore[list-item]
        for level in (0, 1):
            try:
                c = compile_source(text, path, name, level)
            except WorkflowChoiceError:
                continue
            except Exception as exc:  # noqa: BLE001 - the oracle: nothing may escape
                findings.append(_crash("compile", exc))
                return None
            if c.program is not None:
                try:  # the JSON `twdsl compile` writes
                    ir = json.loads(c.program.to_json())
                except Exception as exc:  # noqa: BLE001
                    findings.append(_crash("compile", exc))
                    return None
                out[(name or "", level)] = _strip_positions(ir)
    return out


def check(text: str, path: str = "fuzz.twdsl", compile_: bool = True) -> list[Finding]:
    """Every oracle on ``text``; an empty list when all hold."""
    with deep_recursion():  # the oracles' own walks (dump, stripping) recurse too
        return _check(text, path, compile_)


def _check(text: str, path: str, compile_: bool) -> list[Finding]:
    findings: list[Finding] = []
    STAGE[0] = "check"
    try:
        analysis = twdsl.analyze(text, path)
    except Exception as exc:  # noqa: BLE001
        return [_crash("check", exc)]
    names = [d.name.name for d in analysis.module.items if isinstance(d, WorkflowDecl)]
    STAGE[0] = "compile"
    before = _programs(text, path, names, findings) if compile_ and analysis.ok else None
    STAGE[0] = "fmt"
    try:
        once = twdsl.format_source(text, path)
    except FormatError:
        return findings
    except Exception as exc:  # noqa: BLE001
        return [*findings, _crash("fmt", exc)]
    try:
        twice = twdsl.format_source(once, path)
    except Exception as exc:  # noqa: BLE001 - the formatter's own output must format
        return [*findings, Finding("fmt-idempotent", "refused", where(exc),
                                   f"the formatted text does not format again: {exc}")]
    if twice != once:
        return [*findings, Finding("fmt-idempotent", "changed", "",
                                   _first_difference(once, twice))]
    a, b = twdsl.parse(text, path), twdsl.parse(once, path)
    lost = Counter(c.text for c in a.comments) - Counter(c.text for c in b.comments)
    added = Counter(c.text for c in b.comments) - Counter(c.text for c in a.comments)
    if lost or added:
        findings.append(Finding("fmt-comments", "lost" if lost else "added", "",
                                f"lost {sorted(lost)}, added {sorted(added)}"))
    if dump(a.module, spans=False) != dump(b.module, spans=False):
        findings.append(Finding("fmt-ast", "changed", "", "the AST differs after formatting"))
    elif before is not None:
        STAGE[0] = "compile"
        after = _programs(once, path, names, findings)
        if after is not None and after != before:
            findings.append(Finding("fmt-ir", "changed", "",
                                    f"the IR differs after formatting: {sorted(before)}"))
    return findings


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False)):
        if x != y:
            return f"line {i + 1}: {x!r} became {y!r}"
    return f"{len(a.splitlines())} lines became {len(b.splitlines())}"
