"""Optimizer passes: each a pure function Program → (Program, changes), in one ordered list.

``run_passes`` runs the passes of an optimization level in order and checks the IR's
invariants after each one (twdsl.ir.validate): a pass that breaks them is a compiler bug.
``-O0`` runs none.  What each pass may change is bounded by docs/language.md, Q2: never
what a user can observe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twdsl.ir.model import Change, Program
from twdsl.ir.tree import copy_program
from twdsl.ir.validate import Memo, validate


@dataclass(frozen=True, slots=True)
class Pass:
    name: str
    level: int  # the lowest -O level that runs it
    run: Callable[[Program], tuple[Program, list[Change]]]
    doc: str


def change(pass_name: str, node: object, message: str) -> Change:
    """A :class:`Change` of ``node`` (an IR node, or None for the program)."""
    return Change(pass_name=pass_name, node=getattr(node, "id", None),
                  src=getattr(node, "src", None), message=message)


def _registry() -> list[Pass]:
    from twdsl.passes import registry  # the ordered list lives in one module

    return registry.PASSES


def run_passes(program: Program, level: int = 1, memo: Memo | None = None) -> Program:
    """``program`` after every pass of ``level`` (0: none), with ``changes`` and
    ``optimization`` recorded.  ``memo``: the one ``validate(program, memo=…)`` filled
    after lowering, if any, so that the expressions no pass changes are not checked again."""
    changes: list[Change] = []
    program = copy_program(program)  # the caller's program stays as it was
    if memo is None:  # expressions are frozen: most are checked once, not after every pass
        memo = {}
    for p in _registry():
        if p.level > level:
            continue
        program, found = p.run(program)
        validate(program, after=f"the '{p.name}' pass", memo=memo)
        changes.extend(found)
    program.optimization = level
    program.changes = changes
    return program
