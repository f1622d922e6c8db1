"""Lint rules: one rule per module, listed in order in ``RULES``, each a pure function of the
analysed program.  Rules report with their registered code (stage "lint" in twdsl.codes), whose
default severity the configuration may change."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twdsl.diagnostics import Diagnostic
from twdsl.semantics.model import SemanticModel
from twdsl.semantics.names import Model
from twdsl.syntax import ast as A

if TYPE_CHECKING:
    from twdsl.semantics.graph import TaskGraph


@dataclass(frozen=True, slots=True)
class LintContext:
    """What a rule may look at: the file's semantic model (its names, graphs, types and
    resolved policies) and its text."""

    model: SemanticModel
    text: str
    #: the declarations to lint (a part of the module, when the others' results are reused)
    part: A.Module | None = None

    @property
    def module(self) -> A.Module:
        return self.part if self.part is not None else self.model.module

    @property
    def models(self) -> list[Model]:
        """Each workflow and template's names and scopes."""
        return self.model.bodies

    @property
    def graphs(self) -> list[TaskGraph]:
        return self.model.graphs


Rule = Callable[[LintContext], Iterator[Diagnostic]]


def _rules() -> tuple[Rule, ...]:
    from twdsl.lint import (
        cache_inputs,
        constant_condition,
        missing_agent,
        missing_version,
        retry_budget,
        schedule,
        unbound_output,
        unreachable_task,
        unused_input,
        unused_result,
        version_format,
    )

    return (missing_version.check, missing_agent.check, unbound_output.check,
            unused_input.check, constant_condition.check, retry_budget.check,
            unreachable_task.check, unused_result.check, cache_inputs.check, schedule.check,
            version_format.check)


def run_rules(ctx: LintContext) -> list[Diagnostic]:
    """Every rule's findings, in rule order."""
    out: list[Diagnostic] = []
    for rule in _rules():
        out.extend(rule(ctx))
    return out
