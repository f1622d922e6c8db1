"""TW502 missing-agent: a task that says nothing about who does the work."""

from __future__ import annotations

from collections.abc import Iterator

from twdsl.codes import CODES
from twdsl.diagnostics import Diagnostic
from twdsl.lint import LintContext
from twdsl.suggest import closest

CODE = CODES["TW502"]


def check(ctx: LintContext) -> Iterator[Diagnostic]:
    for model in ctx.models:
        for info in model.tasks.values():
            task = info.node
            if "abstract" in task.modifiers or task.body is None:
                continue  # an abstract task's agent comes from the template that extends it
            if task.body.get("agent") is None and not any(
                    closest(f.key.name, ["agent"]) for f in task.body.fields()):
                # (a misspelt `agnet:` is reported once, as an unknown field)
                yield Diagnostic(CODE.code, CODE.severity,
                                 f"task '{info.name}' has no agent: add agent: Name (a "
                                 "signature) or agent: \"name\" (bound in configuration)",
                                 task.name.span)
