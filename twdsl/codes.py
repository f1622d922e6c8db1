"""Diagnostic codes: the one registry of every code twdsl reports, with its documentation.

Codes are stable (CI configurations and suppression comments name them) and grouped by
stage: TW1xx syntax and structure; later stages add TW2xx names and modules, TW3xx types,
TW4xx the dependency graph and TW5xx lint rules.  SARIF rule metadata, ``twdsl check
--explain`` and docs/rules.md are all rendered from this table, and a test checks that
every code a module reports is registered here.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from twdsl.diagnostics import Severity


@dataclass(frozen=True, slots=True)
class Code:
    """One diagnostic code and its documentation."""

    code: str
    name: str  # kebab-case, e.g. "unclosed-bracket"
    stage: str  # "syntax" or "structure" (later: "names", "types", "graph", "lint")
    severity: Severity
    summary: str  # one line
    bad: str = ""  # a file that triggers it
    good: str = ""  # the same file, fixed
    config: str = ""  # the twdsl.toml the examples are checked with (none when empty)
    against: str = ""  # the old version the examples are checked against (--against)


_E = Severity.ERROR

CODES: dict[str, Code] = {c.code: c for c in (
    Code("TW100", "unexpected-character", "syntax", _E,
         "A character that cannot start any token, such as '@' or '#'.",
         'workflow W { version: "1.0.0" @ }', 'workflow W { version: "1.0.0" }'),
    Code("TW101", "unterminated-string", "syntax", _E,
         "A string with no closing quote before the end of its line.",
         'workflow W { version: "1.0.0 }', 'workflow W { version: "1.0.0" }'),
    Code("TW102", "unterminated-comment", "syntax", _E,
         "A /* comment with no closing */.",
         'workflow W { /* note\n version: "1.0.0" }',
         'workflow W { /* note */\n version: "1.0.0" }'),
    Code("TW103", "unknown-escape", "syntax", _E,
         "A backslash escape a string does not know, such as \\q.",
         'workflow W { version: "1.0.0" description: "a\\qb" }',
         'workflow W { version: "1.0.0" description: "a\\\\qb" }'),
    Code("TW104", "bad-duration", "syntax", _E,
         "A number followed by letters that are not a duration unit (ms, s, m, h, d).",
         'workflow W { version: "1.0.0" timeout: 5min }',
         'workflow W { version: "1.0.0" timeout: 5m }'),
    Code("TW105", "number-too-large", "syntax", _E,
         "A number too large to compute with: an integer of more than 4,300 digits, a "
         "number beyond about 1.8e308, or a duration as large.",
         'workflow W {\n  version: "1.0.0"\n  output { r: number = 1' + "0" * 309 + '.5 }\n}',
         'workflow W {\n  version: "1.0.0"\n  output { r: number = 1.5 }\n}'),
    Code("TW110", "unexpected-token", "syntax", _E,
         "A token where the grammar cannot take it; the message says what was expected.",
         'workflow W { version "1.0.0" }', 'workflow W { version: "1.0.0" }'),
    Code("TW111", "unclosed-bracket", "syntax", _E,
         "A '{', '(' or '[' that is never closed; reported where the closer most likely belongs.",
         'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "A"\n  task b { agent: "B" }\n}',
         'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "A"\n  }\n  task b { agent: "B" }\n}'),
    Code("TW112", "unmatched-closer", "syntax", _E,
         "A '}', ')' or ']' with nothing open to close.",
         'workflow W { version: "1.0.0" }}', 'workflow W { version: "1.0.0" }'),
    Code("TW113", "missing-value", "syntax", _E,
         "A field written 'key:' with no value before the end of the line.",
         'workflow W {\n  version:\n  description: "d"\n}',
         'workflow W {\n  version: "1.0.0"\n  description: "d"\n}'),
    Code("TW120", "unknown-field", "structure", _E,
         "A field this kind of block does not have; a close match is offered as a fix.",
         'workflow W { version: "1.0.0" task a { agent: "A" timout: 5m } }',
         'workflow W { version: "1.0.0" task a { agent: "A" timeout: 5m } }'),
    Code("TW121", "duplicate-field", "structure", _E,
         "The same field set twice in one block.",
         'workflow W { version: "1.0.0" task a { agent: "A" agent: "B" } }',
         'workflow W { version: "1.0.0" task a { agent: "A" } }'),
    Code("TW122", "statement-in-expression", "structure", _E,
         "A task or block inside an object or expression, where only values can be.",
         'workflow W { version: "1.0.0" task a { agent: "A" input: { task b { } } } }',
         'workflow W { version: "1.0.0" task a { agent: "A" input: { b: 1 } } }'),
    Code("TW123", "misplaced-statement", "structure", _E,
         "A statement or declaration in a block that cannot hold it, e.g. a task in a task.",
         'workflow W { version: "1.0.0" task a { agent: "A" task b { agent: "B" } } }',
         'workflow W { version: "1.0.0" task a { agent: "A" } task b { agent: "B" } }'),
    Code("TW124", "bad-lambda-parameter", "syntax", _E,
         "A lambda whose parameter is not a plain name.",
         'workflow W {\n  version: "1.0.0"\n  input { xs: array<number> }\n  task a { agent: "A" input: { x: xs.map((a.b) => 1) } }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { xs: array<number> }\n  task a { agent: "A" input: { x: xs.map((b) => 1) } }\n}'),
    Code("TW125", "expression-too-deep", "structure", _E,
         "An expression nested more than 64 levels deep (brackets, operators, calls, lambdas): "
         "split it into parts computed separately.",
         "workflow W { version: \"1.0.0\" task a { agent: \"A\" input: { x: " + "[" * 65 +
         "1" + "]" * 65 + " } } }",
         "workflow W { version: \"1.0.0\" task a { agent: \"A\" input: { x: " + "[" * 60 +
         "1" + "]" * 60 + " } } }"),
    Code("TW130", "bad-interpolation", "syntax", _E,
         "A '${' in a string that is empty or never closed.",
         'workflow W { version: "1.0.0" description: "v${}" }',
         'workflow W {\n  version: "1.0.0"\n  input { v: string }\n  task a { agent: "A" input: { x: "v${v}" } }\n}'),
    # ---------------------------------------------------------------- names (TW2xx)
    Code("TW201", "duplicate-task", "names", _E,
         "Two tasks with the same name in one workflow; task names are workflow-wide.",
         'workflow W {\n  version: "1.0.0"\n  task build { agent: "A" }\n  parallel { task build { agent: "B" } }\n}',
         'workflow W {\n  version: "1.0.0"\n  task build { agent: "A" }\n'
         '  parallel { task build_b { agent: "B" } }\n}'),
    Code("TW202", "duplicate-declaration", "names", _E,
         "An input, output or template parameter declared twice, or a task with an input's "
         "name; a template instance's alias used twice, or with a task's or an input's name.",
         'workflow W {\n  version: "1.0.0"\n  input { n: number, n: string }\n  task a { agent: "A" input: { n: n } }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { n: number, name: string }\n  task a { agent: "A" input: { n: n, name: name } }\n}'),
    Code("TW203", "duplicate-module-declaration", "names", _E,
         "Two declarations (workflow, template, agent, type) with one name in a file.",
         'type Id = string\ntype Id = number',
         'type Id = string\ntype Count = number'),
    Code("TW210", "undefined-name", "names", _E,
         "A name that is not an input, a task, a loop variable, a lambda parameter, a template "
         "parameter or a builtin (or a function that is not a builtin function).",
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" input: { run: workflow_idd } }\n}',
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" input: { run: workflow_id } }\n}'),
    Code("TW211", "unknown-agent", "names", _E,
         "A task's agent written as a name (agent: Builder) with no agent signature of that "
         "name; an agent written as a string is bound in configuration.",
         'agent Builder { input { x: any } output { y: any } }\n'
         'workflow W { version: "1.0.0" task a { agent: Bulder } }',
         'agent Builder { input { x: any } output { y: any } }\n'
         'workflow W { version: "1.0.0" task a { agent: Builder } }'),
    Code("TW212", "unknown-task", "names", _E,
         ("A depends entry, fallback or ordering chain naming no task of the workflow (or a "
          "depends entry that is no name), or an "
         "alias.task read in an expression naming no task of the instance's template."),
         'workflow W {\n  version: "1.0.0"\n  task build { agent: "A" }\n'
         '  task test { agent: "B" depends: [biuld] }\n}',
         'workflow W {\n  version: "1.0.0"\n  task build { agent: "A" }\n'
         '  task test { agent: "B" depends: [build] }\n}'),
    Code("TW213", "unknown-word", "names", _E,
         "An on_error or then action, or an error kind, that does not exist.",
         'workflow W { version: "1.0.0" task a { agent: "A" on_error: skpi } }',
         'workflow W { version: "1.0.0" task a { agent: "A" on_error: skip } }'),
    Code("TW214", "shadowed-name", "names", _E,
         "A loop variable or lambda parameter with the name of an input, a task or a builtin.",
         'workflow W {\n  version: "1.0.0"\n  input { items: array<string> }\n'
         '  foreach items in items { task a { agent: "A" } }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { items: array<string> }\n'
         '  foreach item in items { task a { agent: "A" } }\n}'),
    Code("TW215", "misplaced-loop-exit", "names", _E,
         "break or continue outside a loop, or in a parallel foreach.",
         'workflow W { version: "1.0.0" task a { agent: "A" } break }',
         'workflow W { version: "1.0.0" while (true) { task a { agent: "A" } break } }'),
    Code("TW216", "unknown-fallback", "names", Severity.WARNING,
         "A fallback naming no task: if the task fails, the run fails as if there were no "
         "fallback. (A warning, so that the seed's example checks as written.)",
         'workflow W { version: "1.0.0" task a { agent: "A" on_error: { fallback: skipTests } } }',
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" on_error: { fallback: { task skipTests '
         '{ agent: "N" } } } }\n}'),
    Code("TW217", "builtin-agent-replaced", "names", Severity.INFO,
         "A task names a built-in agent (echo, sleep, fail, flaky, log) that the configuration "
         "binds to something else: the binding replaces the built-in for this run. Built-ins "
         "are always available; rename the binding to keep both.",
         'workflow W { version: "1.0.0" task a { agent: "echo" } }',
         'workflow W { version: "1.0.0" task a { agent: "repeat" } }',
         config='[agents.echo]\npython = "agents:echo"\n[agents.repeat]\npython = "agents:echo"\n'),
    Code("TW220", "missing-import", "names", _E,
         "An import of a file that does not exist (paths are relative to the importing file; "
         "the examples' ./ops.twdsl exports an agent Deploy).",
         'import { Deploy } from "./no-such-file.twdsl"',
         'import { Deploy } from "./ops.twdsl"\nworkflow W { version: "1.0.0" task a { agent: Deploy input: { target: "t" } } }'),
    Code("TW221", "not-exported", "names", _E,
         "An imported name the file does not export (or does not declare at all).",
         'import { Deply } from "./ops.twdsl"',
         'import { Deploy } from "./ops.twdsl"\nworkflow W { version: "1.0.0" task a { agent: Deploy input: { target: "t" } } }'),
    Code("TW222", "import-cycle", "names", _E,
         "Files that import each other, directly or through others (here: a file that imports "
         "itself).",
         'import { A as Same } from "./bad.twdsl"\nexport type A = { n: number }\nexport type B = { a: Same }',
         'export type A = { n: number }\nexport type B = { a: A }'),
    Code("TW223", "unused-import", "names", Severity.WARNING,
         "An import nothing in the file uses; the fix removes it.",
         'import { Deploy } from "./ops.twdsl"\nworkflow W { version: "1.0.0" task a { agent: "A" } }',
         'workflow W { version: "1.0.0" task a { agent: "A" } }'),
    Code("TW230", "unknown-template-parameter", "names", _E,
         "An argument of use that the template has no parameter for.",
         'template T(n: number) { task a { agent: "A" input: { n: n } } }\nworkflow W { version: "1.0.0" use T(n: 1, m: 2) }',
         'template T(n: number) { task a { agent: "A" input: { n: n } } }\nworkflow W { version: "1.0.0" use T(n: 1) }'),
    Code("TW231", "missing-template-argument", "names", _E,
         "A use that does not give a required parameter (one without a default).",
         'template T(n: number) { task a { agent: "A" input: { n: n } } }\nworkflow W { version: "1.0.0" use T() }',
         'template T(n: number) { task a { agent: "A" input: { n: n } } }\nworkflow W { version: "1.0.0" use T(n: 1) }'),
    Code("TW232", "constraint-violated", "names", _E,
         "A literal argument outside its parameter's where constraints (min, max, min_length, "
         "max_length, pattern, choices).",
         'template T(n: number where { min: 1, max: 10 }) { task a { agent: "A" input: { n: n } } }\nworkflow W { version: "1.0.0" use T(n: 11) }',
         'template T(n: number where { min: 1, max: 10 }) { task a { agent: "A" input: { n: n } } }\nworkflow W { version: "1.0.0" use T(n: 10) }'),
    Code("TW233", "template-cycle", "names", _E,
         "Templates that extend each other, or that use each other (an instance of one would "
         "hold another one without end).",
         'template A() extends B { task a { agent: "A" } }\ntemplate B() extends A { task b { agent: "B" } }',
         'template A() { task a { agent: "A" } }\ntemplate B() extends A { task b { agent: "B" } }'),
    Code("TW234", "final-template-extended", "names", _E,
         "A template that extends a final template.",
         'final template A() { task a { agent: "A" } }\ntemplate B() extends A { task b { agent: "B" } }',
         'template A() { task a { agent: "A" } }\ntemplate B() extends A { task b { agent: "B" } }'),
    Code("TW235", "bad-override", "names", _E,
         "A task that replaces an inherited one without 'override', overrides a final task, or "
         "says 'override' with nothing to override.",
         'template A() { task a { agent: "A" } }\ntemplate B() extends A { task a { agent: "B" } }',
         'template A() { task a { agent: "A" } }\ntemplate B() extends A { override task a { agent: "B" } }'),
    Code("TW236", "abstract-task-undefined", "names", _E,
         "A non-abstract template that leaves an inherited abstract task undefined.",
         'abstract template A() { abstract task build }\ntemplate B() extends A { task other { agent: "B" } }',
         'abstract template A() { abstract task build }\ntemplate B() extends A { override task build { agent: "B" } }'),
    Code("TW237", "abstract-template-used", "names", _E,
         "A use of an abstract template, which can only be extended.",
         'abstract template A() { task a { agent: "A" } }\nworkflow W { version: "1.0.0" use A() }',
         'template A() { task a { agent: "A" } }\nworkflow W { version: "1.0.0" use A() }'),
    # ---------------------------------------------------------------- types (TW3xx)
    Code("TW301", "type-mismatch", "types", _E,
         "A value whose type does not fit where it is used: an operator's operands, a typed "
         "field, an output binding, an argument. An optional (T?) fits only after ??.",
         'workflow W { version: "1.0.0" task a { agent: "A" timeout: "5m" } }',
         'workflow W { version: "1.0.0" task a { agent: "A" timeout: 5m } }'),
    Code("TW302", "unknown-member", "types", _E,
         "A field or method the value's type does not have, e.g. a result field the agent's "
         "signature does not declare.",
         'agent A { input { x: number } output { url: string } }\n'
         'workflow W {\n  version: "1.0.0"\n  task a { agent: A input: { x: 1 } }\n'
         '  output { u: string = a.result.ulr }\n}',
         'agent A { input { x: number } output { url: string } }\n'
         'workflow W {\n  version: "1.0.0"\n  task a { agent: A input: { x: 1 } }\n'
         '  output { u: string = a.result.url }\n}'),
    Code("TW303", "condition-not-boolean", "types", _E,
         "An if or while condition that is not boolean (an optional boolean needs ??).",
         'workflow W {\n  version: "1.0.0"\n  input { n: number }\n  if (n) { task a { agent: "A" } }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { n: number }\n  if (n > 0) { task a { agent: "A" } }\n}'),
    Code("TW304", "foreach-not-array", "types", _E,
         "A foreach over something that is not an array.",
         'workflow W {\n  version: "1.0.0"\n  input { n: number }\n  foreach x in n { task a { agent: "A" } }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { n: number }\n'
         '  foreach x in range(n) { task a { agent: "A" } }\n}'),
    Code("TW305", "agent-input-mismatch", "types", _E,
         "A task input the agent's signature does not take, or lacks a required input.",
         'agent A { input { x: number } output { y: any } }\n'
         'workflow W { version: "1.0.0" task a { agent: A input: { x: 1, z: 2 } } }',
         'agent A { input { x: number } output { y: any } }\n'
         'workflow W { version: "1.0.0" task a { agent: A input: { x: 1 } } }'),
    Code("TW310", "unknown-type", "types", _E,
         "A type name that is neither a builtin type nor declared with 'type'.",
         'type Port = nubmer',
         'type Port = number'),
    # ---------------------------------------------------------------- lint rules (TW5xx)
    Code("TW501", "missing-version", "lint", Severity.WARNING,
         "A workflow without a version; runs, history and statistics are kept per version.",
         'workflow W {\n  task a { agent: "A" }\n}',
         'workflow W {\n  version: "0.1.0"\n  task a { agent: "A" }\n}'),
    Code("TW502", "missing-agent", "lint", _E,
         "A task with no agent: nothing would do its work.",
         'workflow W {\n  version: "1.0.0"\n  task a { timeout: 5m }\n}',
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" timeout: 5m }\n}'),
    Code("TW503", "unbound-output", "lint", Severity.WARNING,
         "A workflow output declared without a value: the run has nothing to return for it.",
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" }\n  output { r: any }\n}',
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" }\n'
         '  output { r: any = a.result }\n}'),
    Code("TW504", "unused-input", "lint", Severity.WARNING,
         "A workflow input nothing reads.",
         'workflow W {\n  version: "1.0.0"\n  input { n: number }\n  task a { agent: "A" }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { n: number }\n'
         '  task a { agent: "A" input: { n: n } }\n}'),
    Code("TW505", "constant-condition", "lint", Severity.WARNING,
         "An if whose condition is the literal true or false: one branch can never run.",
         'workflow W {\n  version: "1.0.0"\n  if (true) { task a { agent: "A" } }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { go: boolean }\n'
         '  if (go) { task a { agent: "A" } }\n}'),
    Code("TW506", "retry-budget", "lint", Severity.WARNING,
         "A task whose attempts (each up to its timeout, with the waits between retries) cannot "
         "all fit in the timeout of the workflow or block around it.",
         'workflow W {\n  version: "1.0.0"\n  timeout: 30s\n  task a { agent: "A" timeout: 10s retry: 3 }\n}',
         'workflow W {\n  version: "1.0.0"\n  timeout: 1m\n  task a { agent: "A" timeout: 10s retry: 3 }\n}'),
    Code("TW507", "unreachable-task", "lint", Severity.WARNING,
         "A task that can never run: after break/continue in the same block, or depending on "
         "a task in another branch of the same if/switch.",
         'workflow W {\n  version: "1.0.0"\n  input { go: boolean }\n  if (go) { task a { agent: "A" } } else { task b { agent: "B" depends: [a] } }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { go: boolean }\n  task a { agent: "A" }\n  if (go) { task b { agent: "B" depends: [a] } }\n}'),
    Code("TW508", "unused-result", "lint", Severity.WARNING,
         "A task whose agent is declared pure (no effect beyond its result) and whose result "
         "nothing reads: the call is wasted work.",
         'agent Sum { input { xs: array<number> } output { total: number } pure: true }\nworkflow W {\n  version: "1.0.0"\n  task s { agent: Sum input: { xs: [1, 2] } }\n}',
         'agent Sum { input { xs: array<number> } output { total: number } pure: true }\nworkflow W {\n  version: "1.0.0"\n  task s { agent: Sum input: { xs: [1, 2] } }\n  output { total: number = s.result.total }\n}'),
    Code("TW509", "nondeterministic-cache", "lint", Severity.WARNING,
         "A cached task whose cache key (its input, or cache.key) reads a value that is new in "
         "every run (current_time, workflow_id, task_id, context.run_id): the cache is never hit.",
         'workflow W {\n  version: "1.0.0"\n  input { q: string }\n  task a { agent: "A" input: { q: q, at: current_time } cache: 1h }\n}',
         'workflow W {\n  version: "1.0.0"\n  input { q: string }\n  task a { agent: "A" input: { q: q, at: current_time } cache: { ttl: 1h, key: q } }\n}'),
    Code("TW510", "bad-schedule", "lint", _E,
         "A workflow schedule that is not a cron expression twdsl server can fire: 5 fields (or 6, seconds first), an @daily-style name, an optional TZ=Area/City in front; the error points at the wrong field.",
         'workflow W {\n  version: "1.0.0"\n  schedule: "0 25 * * *"\n  task a { agent: "A" }\n}',
         'workflow W {\n  version: "1.0.0"\n  schedule: "TZ=Europe/Paris 0 3 * * *"\n  task a { agent: "A" }\n}'),
    Code("TW511", "bad-version", "lint", _E,
         "A version that is not a semantic version (semver 2.0.0: MAJOR.MINOR.PATCH, then an optional -pre-release and +build); the fix writes the one obviously meant (\"1.0\" becomes \"1.0.0\", \"v1.2.3\" becomes \"1.2.3\"). docs/versions.md.",
         'workflow W {\n  version: "1.0"\n  task a { agent: "A" }\n}',
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" }\n}'),
    Code("TW512", "version-bump-too-small", "versions", _E,
         "Reported by twdsl check --against OLD: the version did not grow enough for what changed since OLD (twdsl diff): a breaking change needs a major bump, a compatible one a minor bump (under 0.y.z, a minor and a patch bump); the fix writes the smallest version that is enough. docs/versions.md.",
         'workflow W {\n  version: "1.1.0"\n  input { region: string }\n  task a { agent: "A" input: { region: region } }\n}',
         'workflow W {\n  version: "2.0.0"\n  input { region: string }\n  task a { agent: "A" input: { region: region } }\n}',
         against='workflow W {\n  version: "1.0.0"\n  task a { agent: "A" input: { region: "eu" } }\n}'),
    # ---------------------------------------------------------------- graph (TW4xx)
    Code("TW401", "dependency-cycle", "graph", _E,
         "Tasks that wait for each other, through the written order, depends, chains or data "
         "references; none of them can start.",
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" input: { x: b.result } }\n  task b { agent: "B" }\n}',
         'workflow W {\n  version: "1.0.0"\n  task b { agent: "B" }\n'
         '  task a { agent: "A" input: { x: b.result } }\n}'),
    Code("TW402", "block-cycle", "graph", _E,
         "Two blocks that each wait for a task inside the other: the tasks themselves form no "
         "cycle, but a block starts only when everything it waits for has finished, so "
         "neither block can start. Move the tasks that depend on each other into one block. "
         "A template instance counts as one block.",
         'workflow W {\n  version: "1.0.0"\n  parallel {\n    sequence {\n'
         '      task a { agent: "A" }\n      task b { agent: "B" depends: [d] }\n    }\n'
         '    sequence {\n      task c { agent: "C" }\n      task d { agent: "D" depends: [a] }\n'
         '    }\n  }\n}',
         'workflow W {\n  version: "1.0.0"\n  parallel {\n    task a { agent: "A" }\n'
         '    task c { agent: "C" }\n    task d { agent: "D" depends: [a] }\n'
         '    task b { agent: "B" depends: [d] }\n  }\n}'),
    Code("TW403", "cannot-lower", "types", _E,
         "A construct the compiler cannot turn into the IR: a setting it writes into the "
         "program (timeout, retry and its fields, max_concurrency, priority, parallel, "
         "fail_fast, max_iterations, a cache's ttl) that is not a literal, or a template "
         "argument given to such a setting that is not one; a fallback naming a task inside a "
         "template. Reported by twdsl check; the message says what to write instead.",
         'workflow W {\n  version: "1.0.0"\n  input { t: duration }\n'
         '  task a { agent: "A" timeout: t }\n}',
         'workflow W {\n  version: "1.0.0"\n  task a { agent: "A" timeout: 30s }\n}'),
)}


#: Files the examples import, by path relative to the example (``bad.twdsl``/``good.twdsl``).
EXAMPLE_FILES = {"ops.twdsl": 'export agent Deploy { input { target: string } output { url: url } }\n'}


def lookup(code: str) -> Code | None:
    """The registered code, or None.

    >>> lookup("TW111").name
    'unclosed-bracket'
    """
    return CODES.get(code)


# ------------------------------------------------------------------------ docs/rules.md
RULES_MD_COMMAND = "python -m twdsl.rulesdoc --markdown > docs/rules.md"


def code_markdown(code: Code) -> str:
    """The Markdown documentation of one code (no heading): docs/rules.md and SARIF help.

    A ``bad`` example is fenced as ``twdsl-error`` and a ``good`` one as ``twdsl``, the
    convention of docs/language.md (a ``twdsl`` block checks clean).

    >>> print(code_markdown(CODES["TW104"]))
    `bad-duration` · stage: syntax · default severity: error
    <BLANKLINE>
    A number followed by letters that are not a duration unit (ms, s, m, h, d).
    <BLANKLINE>
    Bad (reports TW104):
    <BLANKLINE>
    ```twdsl-error
    workflow W { version: "1.0.0" timeout: 5min }
    ```
    <BLANKLINE>
    Good:
    <BLANKLINE>
    ```twdsl
    workflow W { version: "1.0.0" timeout: 5m }
    ```
    """
    out = [
        f"`{code.name}` · stage: {code.stage} · default severity: {code.severity.value}",
        "",
        code.summary,
    ]
    if code.config:
        out += ["", "With this twdsl.toml:", "", "```toml", code.config.rstrip("\n"), "```"]
    if code.against:
        out += ["", "Checked with `--against` this old version:", "", "```twdsl",
                code.against, "```"]
    for title, fence, example in ((f"Bad (reports {code.code}):", "twdsl-error", code.bad),
                                  ("Good:", "twdsl", code.good)):
        if example:
            out += ["", title, "", f"```{fence}", example, "```"]
    return "\n".join(out)


def render_markdown() -> str:
    """docs/rules.md: every registered code, in code order, with its examples.

    >>> render_markdown().splitlines()[0]
    '# Diagnostic codes'
    """
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    out = [
        "# Diagnostic codes",
        "",
        "<!-- Generated from twdsl/codes.py; do not edit by hand. Regenerate with",
        f"     {RULES_MD_COMMAND}",
        "     (tests/test_report.py fails when this file is out of date). -->",
        "",
        "Every diagnostic that `twdsl check` reports has a stable code, named by CI",
        "configurations and suppression comments. Codes are grouped by stage: TW1xx syntax and",
        "structure, TW2xx names and modules, TW3xx types, TW4xx the dependency graph, TW5xx lint",
        "rules. `twdsl check --explain CODE` prints an entry in the terminal (the rule name works",
        "too: `twdsl check --explain unclosed-bracket`), and the SARIF output carries the same",
        "text as rule help.",
        "",
        "| code | name | stage | default severity | summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in CODES.values():
        out.append(f"| [{c.code}](#{c.code.lower()}) | `{c.name}` | {c.stage} | "
                   f"{c.severity.value} | {cell(c.summary)} |")
    for c in CODES.values():
        out += ["", f"## {c.code}", "", code_markdown(c)]
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    if argv != ["--markdown"]:
        print(f"usage: {RULES_MD_COMMAND}", file=sys.stderr)
        return 2
    sys.stdout.write(render_markdown())
    return 0

