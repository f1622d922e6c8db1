"""Diagnostic codes: the one registry of every code twdsl reports, with its documentation.

Codes are stable (CI configurations and suppression comments name them) and grouped by
stage: TW1xx syntax and structure; later stages add TW2xx names and modules, TW3xx types,
TW4xx the dependency graph and TW5xx lint rules.  SARIF rule metadata, ``twdsl check
--explain`` and docs/rules.md are all rendered from this table, and a test checks that
every code a module reports is registered here.
"""

from __future__ import annotations

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
         'workflow W { description: "a\\qb" }', 'workflow W { description: "a\\\\qb" }'),
    Code("TW104", "bad-duration", "syntax", _E,
         "A number followed by letters that are not a duration unit (ms, s, m, h, d).",
         'workflow W { timeout: 5min }', 'workflow W { timeout: 5m }'),
    Code("TW110", "unexpected-token", "syntax", _E,
         "A token where the grammar cannot take it; the message says what was expected.",
         'workflow W { version "1.0.0" }', 'workflow W { version: "1.0.0" }'),
    Code("TW111", "unclosed-bracket", "syntax", _E,
         "A '{', '(' or '[' that is never closed; reported where the closer most likely belongs.",
         'workflow W {\n  task a {\n    agent: "A"\n  task b { agent: "B" }\n}',
         'workflow W {\n  task a {\n    agent: "A"\n  }\n  task b { agent: "B" }\n}'),
    Code("TW112", "unmatched-closer", "syntax", _E,
         "A '}', ')' or ']' with nothing open to close.",
         'workflow W { version: "1.0.0" }}', 'workflow W { version: "1.0.0" }'),
    Code("TW113", "missing-value", "syntax", _E,
         "A field written 'key:' with no value before the end of the line.",
         'workflow W {\n  version:\n  description: "d"\n}',
         'workflow W {\n  version: "1.0.0"\n  description: "d"\n}'),
    Code("TW120", "unknown-field", "structure", _E,
         "A field this kind of block does not have; a close match is offered as a fix.",
         'workflow W { task a { agnet: "A" } }', 'workflow W { task a { agent: "A" } }'),
    Code("TW121", "duplicate-field", "structure", _E,
         "The same field set twice in one block.",
         'workflow W { task a { agent: "A" agent: "B" } }', 'workflow W { task a { agent: "A" } }'),
    Code("TW122", "statement-in-expression", "structure", _E,
         "A task or block inside an object or expression, where only values can be.",
         'workflow W { task a { input: { task b { } } } }',
         'workflow W { task a { input: { b: 1 } } }'),
    Code("TW123", "misplaced-statement", "structure", _E,
         "A statement or declaration in a block that cannot hold it, e.g. a task in a task.",
         'workflow W { task a { agent: "A" task b { agent: "B" } } }',
         'workflow W { task a { agent: "A" } task b { agent: "B" } }'),
    Code("TW124", "bad-lambda-parameter", "syntax", _E,
         "A lambda whose parameter is not a plain name.",
         'workflow W { task a { input: { x: xs.map((a.b) => 1) } } }',
         'workflow W { task a { input: { x: xs.map((b) => 1) } } }'),
    Code("TW130", "bad-interpolation", "syntax", _E,
         "A '${' in a string that is empty or never closed.",
         'workflow W { description: "v${}" }', 'workflow W { description: "v${version}" }'),
)}


def lookup(code: str) -> Code | None:
    """The registered code, or None.

    >>> lookup("TW111").name
    'unclosed-bracket'
    """
    return CODES.get(code)
