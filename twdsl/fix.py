"""Quick fixes: apply the mechanical fixes that diagnostics carry, then format.

Pure, like the analysis API: text in, fixed text and the remaining diagnostics out.  The
CLI (``twdsl check --fix``) and, later, the language server's "fix all" call it.

A round analyses the text, takes the fixes of the earliest stage that has any (TW1xx syntax
and structure, then TW2xx names, TW3xx types, TW4xx graph, TW5xx lint: a later stage's
finding is often an echo of an earlier one's, as a missing ``version`` (TW501) is of a
misspelt ``vresion:`` (TW120), and both fixes together would set ``version`` twice), keeps
those that do not overlap (the first by position wins; the other waits for the next round,
when its diagnostic may be gone or re-reported at its new place), applies their edits from
the end of the text backwards and analyses again.  Rounds repeat until no fix applies or
``max_rounds`` is reached.  When at least one fix was applied and the result has no syntax
errors it is formatted; a file nothing was done to is returned exactly as it came.

A fix is refused, and reported in :attr:`FixResult.rejected`, when its edits fall outside the
text or overlap each other, when it changes nothing, when applying it leaves more syntax
errors than before, when it is the fix of a syntax error and does not remove one (a fix
that trades a syntax error for another only moves the problem), or, in a file that parsed,
when it brings an error of a kind the file did not have: a "did you mean" that renames a
field to one already set, makes a task depend on itself or picks a name of the wrong type
is a wrong guess, and the diagnostic is better left for a person.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from twdsl.analysis import Analysis, analyze
from twdsl.diagnostics import Diagnostic, Fix, Severity
from twdsl.formatter import FormatError, format_parsed
from twdsl.source import SourceFile, Span
from twdsl.syntax.parser import parse


@dataclass(frozen=True, slots=True)
class AppliedFix:
    """A fix that was applied; ``line``/``column`` (1-based) are where its diagnostic was in
    the text as it was given, before any fix."""

    code: str
    title: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class RejectedFix:
    """A fix that was not applied, and why; positions as in :class:`AppliedFix`."""

    code: str
    title: str
    line: int
    column: int
    reason: str


@dataclass(slots=True)
class FixResult:
    """The outcome of :func:`apply_fixes`.

    ``text`` is the fixed (and, when it parses, formatted) text; ``analysis`` is the analysis
    of that text, so ``diagnostics`` are what remains to be fixed by hand.
    """

    original: str
    text: str
    applied: tuple[AppliedFix, ...]
    rejected: tuple[RejectedFix, ...]
    analysis: Analysis

    @property
    def changed(self) -> bool:
        return self.text != self.original

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.analysis.diagnostics

    @property
    def source(self) -> SourceFile:
        return self.analysis.source


# An edit in the coordinates of one round's text: replace [start, end) by new_text.
_Edit = tuple[int, int, str]


@dataclass(slots=True)
class _Candidate:
    diag: Diagnostic
    fix: Fix
    edits: list[_Edit]  # sorted by start
    syntax: bool  # the fix of a syntax error (a parser diagnostic)
    key: tuple[str, str, int, int]  # code, title, original start and end: a rejection's identity

    @property
    def start(self) -> int:
        return self.edits[0][0]

    @property
    def end(self) -> int:
        return max(e for _, e, _ in self.edits)


def apply_fixes(text: str, path: str = "<string>", *, max_rounds: int = 10,
                analyzer: Callable[[str, str], Analysis] = analyze) -> FixResult:
    """Apply every mechanical fix the diagnostics of ``text`` carry; format the result.

    ``analyzer`` is called as ``analyzer(text, path)`` for every round; pass one that binds
    a configuration (severities, ignored codes) to fix and report what a configured check
    reports.

    >>> src = 'workflow W {\\n  version = "1.0.0"\\n  task build { agent: "Builder" }\\n' \\
    ...       '  task ship {\\n    agnet: "Shipper"\\n    depends: [biuld]\\n  }\\n}\\n'
    >>> r = apply_fixes(src, "w.twdsl")
    >>> print(r.text, end="")
    workflow W {
      version: "1.0.0"
      task build {
        agent: "Builder"
      }
      task ship {
        agent: "Shipper"
        depends: [build]
      }
    }
    >>> [(f.code, f.title, f.line, f.column) for f in r.applied]
    [('TW110', "replace '=' with ':'", 2, 11), ('TW120', "rename to 'agent'", 5, 5), \
('TW212', "change to 'build'", 6, 15)]
    >>> r.diagnostics
    []
    """
    original_source = SourceFile(path, text)
    current = text
    analysis = analyzer(current, path)
    history: list[list[_Edit]] = []  # each round's edits, in that round's coordinates
    applied: list[AppliedFix] = []
    rejected: list[RejectedFix] = []
    refused: set[tuple[str, str, int, int]] = set()

    def to_original(offset: int) -> int:
        for edits in reversed(history):
            offset = _map_back(offset, edits)
        return offset

    def reject(c: _Candidate | tuple[Diagnostic, Fix], reason: str) -> None:
        diag, fix = (c.diag, c.fix) if isinstance(c, _Candidate) else c
        start = to_original(diag.span.start)
        key = c.key if isinstance(c, _Candidate) else (diag.code, fix.title, start, start)
        if key in refused:
            return
        refused.add(key)
        line, col = original_source.position(start)
        rejected.append(RejectedFix(diag.code, fix.title, line, col, reason))

    for _ in range(max_rounds):
        syntax_diags = set(analysis.parse.diagnostics)
        base = _syntax_errors(analysis.parse.diagnostics)
        candidates: list[_Candidate] = []
        for d in analysis.diagnostics:
            if d.fix is None:
                continue
            edits, problem = _edits(d.fix, current, path)
            if problem is not None:
                reject((d, d.fix), problem)
                continue
            assert edits
            key = (d.code, d.fix.title, to_original(edits[0][0]),
                   to_original(max(e for _, e, _ in edits)))
            if key not in refused:
                candidates.append(_Candidate(d, d.fix, edits, d in syntax_diags, key))
        if candidates:  # one stage a round: a later stage's finding may be an earlier one's echo
            first = min(_stage(c.diag.code) for c in candidates)
            candidates = [c for c in candidates if _stage(c.diag.code) == first]
        chosen = _non_overlapping(candidates)
        if not chosen:
            break
        refused_before = len(refused)
        fixed_text, fixed = _try(current, path, chosen, analyzer)
        accepted = chosen
        if not _syntax_ok(fixed, chosen, base):
            accepted = _verify_syntax(current, path, chosen, base, reject)
            if accepted:
                fixed_text, fixed = _try(current, path, accepted, analyzer)
                if not _syntax_ok(fixed, accepted, base):  # safe alone, not together
                    accepted = accepted[:1]
                    fixed_text, fixed = _try(current, path, accepted, analyzer)
        if accepted and analysis.parse.ok and _new_errors(analysis, fixed):
            # Which of them brings an error of a kind the file did not have?
            kept: list[_Candidate] = []
            for c in accepted:
                alone = _try(current, path, [c], analyzer)[1] if len(accepted) > 1 else fixed
                new = _new_errors(analysis, alone)
                if new:
                    reject(c, f"it would bring a new error: {new[0].code} {new[0].message}")
                else:
                    kept.append(c)
            accepted = kept
            if accepted:
                fixed_text, fixed = _try(current, path, accepted, analyzer)
                if len(accepted) > 1 and _new_errors(analysis, fixed):  # safe alone only
                    accepted = accepted[:1]
                    fixed_text, fixed = _try(current, path, accepted, analyzer)
        if not accepted:
            if len(refused) > refused_before:
                continue  # the fixes left may apply without the refused ones
            break
        edits = sorted(e for c in accepted for e in c.edits)
        for c in accepted:
            line, col = original_source.position(to_original(c.diag.span.start))
            applied.append(AppliedFix(c.diag.code, c.fix.title, line, col))
        current, analysis = fixed_text, fixed
        history.append(edits)
    if applied and analysis.parse.ok:
        try:
            formatted = format_parsed(analysis.parse)
        except FormatError:  # pragma: no cover - parse.ok means there is nothing to refuse
            formatted = current
        if formatted != current:
            current = formatted
            analysis = analyzer(current, path)
    applied.sort(key=lambda f: (f.line, f.column, f.code))
    rejected.sort(key=lambda f: (f.line, f.column, f.code))
    return FixResult(text, current, tuple(applied), tuple(rejected), analysis)


def _stage(code: str) -> int:
    """The stage group of a code (TW1xx syntax and structure, TW2xx names, TW3xx types, TW4xx
    graph, TW5xx lint); a code outside the scheme comes last."""
    return int(code[2]) if re.fullmatch(r"TW\d{3}", code) else 10


def _new_errors(before: Analysis, after: Analysis) -> list[Diagnostic]:
    """The errors of ``after`` beyond those ``before`` had, counted by code."""
    have = Counter(d.code for d in before.diagnostics if d.severity is Severity.ERROR)
    out = []
    for d in after.diagnostics:
        if d.severity is Severity.ERROR:
            if have[d.code]:
                have[d.code] -= 1
            else:
                out.append(d)
    return out


def _syntax_errors(diags: Sequence[Diagnostic]) -> int:
    return sum(d.severity is Severity.ERROR for d in diags)


def _edits(fix: Fix, text: str, path: str) -> tuple[list[_Edit], str | None]:
    """A fix's edits as sorted offsets, or the reason they cannot be applied."""
    if not fix.edits:
        return [], "it has no edits"
    edits: list[_Edit] = []
    for e in fix.edits:
        s = e.span
        if not isinstance(s, Span) or not isinstance(e.new_text, str):
            return [], "its edits are malformed (a bug in twdsl's rule; please report it)"
        if s.file != path:
            return [], f"it edits another file ({s.file})"
        if not 0 <= s.start <= s.end <= len(text):
            return [], "its edits fall outside the file"
        edits.append((s.start, s.end, e.new_text))
    edits.sort()
    for (s1, e1, _), (s2, e2, _) in zip(edits, edits[1:], strict=False):
        if _overlap(s1, e1, s2, e2):
            return [], "its edits overlap each other"
    if all(text[s:e] == new for s, e, new in edits):
        return [], "it changes nothing"
    return edits, None


def _overlap(s1: int, e1: int, s2: int, e2: int) -> bool:
    """Two edits conflict when their ranges intersect, when they start at the same place
    (two insertions at one point have no defined order), or when one is an insertion strictly
    inside the other."""
    return s1 == s2 or (s1 < e2 and s2 < e1)


def _non_overlapping(candidates: list[_Candidate]) -> list[_Candidate]:
    """The candidates that do not overlap one taken before them, in order of position."""
    taken: list[_Candidate] = []
    for c in sorted(candidates, key=lambda c: (c.start, c.end)):
        if not any(_overlap(a, b, x, y) for t in taken for a, b, _ in t.edits
                   for x, y, _ in c.edits):
            taken.append(c)
    return taken


def _apply(text: str, edits: list[_Edit]) -> str:
    """Apply non-overlapping edits, from the end of the text backwards."""
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _map_back(offset: int, edits: list[_Edit]) -> int:
    """The offset in the text before ``edits`` of ``offset`` in the text after them; an offset
    inside replaced text maps to the start of what it replaced."""
    delta = 0
    for start, end, new in edits:
        new_start = start + delta
        if offset < new_start:
            break
        if offset < new_start + len(new):
            return start
        delta += len(new) - (end - start)
    return max(0, offset - delta)


def _try(text: str, path: str, fixes: list[_Candidate],
         analyzer: Callable[[str, str], Analysis]) -> tuple[str, Analysis]:
    fixed = _apply(text, [e for c in fixes for e in c.edits])
    return fixed, analyzer(fixed, path)


def _syntax_ok(fixed: Analysis, fixes: list[_Candidate], base: int) -> bool:
    """No more syntax errors than ``base``, and one fewer for each fix of a syntax error."""
    return _syntax_errors(fixed.parse.diagnostics) <= base - sum(c.syntax for c in fixes)


def _verify_syntax(text: str, path: str, chosen: list[_Candidate], base: int,
                   reject: Callable[[_Candidate, str], None]) -> list[_Candidate]:
    """The chosen fixes that are safe each on its own as far as syntax goes; the others are
    refused (see the module's docstring)."""
    safe: list[_Candidate] = []
    for c in chosen:
        after = _syntax_errors(parse(_apply(text, c.edits), path).diagnostics)
        if after <= base - c.syntax:
            safe.append(c)
        elif after > base:
            reject(c, "it would add syntax errors")
        else:
            reject(c, "it does not remove the syntax error")
    return safe
