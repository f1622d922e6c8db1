"""Names every workflow can use without declaring them, and the words some fields take."""

from __future__ import annotations

#: Builtin values (seed 002's list), with what they are.
BUILTIN_VALUES: dict[str, str] = {
    "env": "The environment variables of the run, as an object of strings.",
    "context": "The run's context: workflow name, version, inputs, and caller metadata.",
    "result": "Inside on_success: the result of the task that succeeded.",
    "error": "Inside on_error: the failure, with kind, message and task.",
    "retry_count": "How many times the current task has been retried so far.",
    "current_time": "The time the expression is evaluated (a datetime).",
    "workflow_id": "The id of the current run.",
    "task_id": "The id of the current task attempt.",
}

#: Builtin functions called by name (methods such as ``xs.filter(f => …)`` are typed by the
#: type checker, not listed here).
BUILTIN_FUNCTIONS: dict[str, str] = {
    "len": "len(x): the length of a string, array or object.",
    "range": "range(n) or range(a, b): the numbers a, a+1, …, b-1.",
    "min": "min(a, b, …) or min(array): the smallest number.",
    "max": "max(a, b, …) or max(array): the largest number.",
    "sum": "sum(array): the sum of an array of numbers.",
    "round": "round(x): the nearest whole number.",
    "string": "string(x): x as text.",
    "number": "number(s): the number a string spells.",
    "keys": "keys(obj): an object's keys, as an array of strings.",
    "values": "values(obj): an object's values, as an array.",
    "merge": "merge(a, b, …): the objects' fields combined, later ones winning.",
}

#: What `on_error: …` and `then: …` may name.
ERROR_ACTIONS = ("skip", "continue", "fail")
THEN_ACTIONS = ("skip", "continue", "fail")

#: Error kinds (docs/language.md, question 4), for `when: […]` and `retry: { on: […] }`.
ERROR_KINDS = ("timeout", "agent", "transient", "validation", "cancelled")
