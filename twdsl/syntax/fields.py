"""The fields each kind of block accepts: the language's field schema, with documentation.

One table for the structure checks, the formatter's documentation, and (later) the
language server's completion and hover.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    doc: str
    block: bool = False  # the value may be a block of statements


@dataclass(frozen=True, slots=True)
class Container:
    """What a kind of block may hold."""

    kind: str
    fields: tuple[FieldSpec, ...]
    statements: bool = False
    io_decls: bool = False

    def spec(self, name: str) -> FieldSpec | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]


_RETRY = FieldSpec("retry", "Attempts after a failure: a count (`retry: 3`) or a policy "
                   "`{ attempts, delay, backoff, max_delay, jitter, on }`.")
_ON_ERROR = FieldSpec("on_error", "What happens when the work fails: `skip`, `continue`, `fail`, "
                      "or a handler `{ when, retry, fallback, compensate, then }`.", block=True)
_ON_SUCCESS = FieldSpec("on_success", "Statements to run after the work succeeds.", block=True)
_TIMEOUT = FieldSpec("timeout", "Time limit, a duration such as `30s`, `5m` or `1h`.")
_DESCRIPTION = FieldSpec("description", "What this is for, in words.")
_MAX_CONC = FieldSpec("max_concurrency", "How many children may run at the same time.")
_FAIL_FAST = FieldSpec("fail_fast", "Cancel the other children as soon as one fails "
                       "(default true); false collects every outcome.")

CONTAINERS: dict[str, Container] = {
    "workflow": Container("workflow", (
        FieldSpec("version", "The workflow's version, a semver string such as \"1.0.0\"."),
        _DESCRIPTION,
        FieldSpec("tags", "Labels for finding and grouping runs: an array of strings."),
        FieldSpec("schedule", "When to run on its own: a cron expression string."),
        _TIMEOUT, _MAX_CONC, _RETRY, _ON_ERROR, _ON_SUCCESS,
    ), statements=True, io_decls=True),
    "task": Container("task", (
        FieldSpec("agent", "The agent that does the work: a name bound in configuration or "
                  "declared with `agent`."),
        _DESCRIPTION,
        FieldSpec("input", "The input object passed to the agent."),
        FieldSpec("depends", "Tasks that must finish first: an array of task names."),
        _TIMEOUT, _RETRY, _ON_ERROR, _ON_SUCCESS,
        FieldSpec("cache", "Reuse an earlier result for the same inputs: `true`, a time to "
                  "live such as `1h`, or `{ ttl, key }`."),
        FieldSpec("priority", "Scheduling priority when work queues up: a number, higher first."),
        FieldSpec("when", "Run only if this condition holds; otherwise the task is skipped."),
    )),
    "parallel": Container("parallel", (_MAX_CONC, _FAIL_FAST, _TIMEOUT), statements=True),
    "sequence": Container("sequence", (_TIMEOUT,), statements=True),
    "branch": Container("branch", (), statements=True),
    "foreach": Container("foreach", (
        FieldSpec("parallel", "Run iterations at the same time (`true`) instead of one by one."),
        _MAX_CONC, _FAIL_FAST,
    ), statements=True),
    "while": Container("while", (
        FieldSpec("max_iterations", "Upper bound on iterations (default 1000)."),
    ), statements=True),
    "agent": Container("agent", (
        _DESCRIPTION, _TIMEOUT, _RETRY,
        FieldSpec("pure", "`true` when calling the agent has no effect beyond its result, so "
                  "the optimizer may reorder or parallelise its calls, and results may be cached."),
    ), io_decls=True),
    "template": Container("template", (_DESCRIPTION, FieldSpec("version", "Template version.")),
                          statements=True),
    "on_error": Container("on_error", (
        FieldSpec("when", "Error kinds this handler applies to, e.g. `[timeout, transient]`."),
        _RETRY,
        FieldSpec("fallback", "A task to run instead, by name, or a block of statements.",
                  block=True),
        FieldSpec("compensate", "Statements that undo completed work, run in reverse order.",
                  block=True),
        FieldSpec("then", "After handling: `fail`, `skip` or `continue`; by default `continue` "
                  "when a fallback ran and succeeded, `fail` otherwise."),
    ), statements=True),
    "statements": Container("statements", (), statements=True),
    "constraints": Container("constraints", (
        FieldSpec("min", "Smallest allowed number."),
        FieldSpec("max", "Largest allowed number."),
        FieldSpec("min_length", "Shortest allowed string or array."),
        FieldSpec("max_length", "Longest allowed string or array."),
        FieldSpec("pattern", "A regular expression the string must match."),
        FieldSpec("choices", "The allowed values, as an array."),
        FieldSpec("required", "Whether an argument must be given (default: no default value)."),
    )),
}
