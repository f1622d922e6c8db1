""""Did you mean": the one place that guesses what a misspelt name was meant to be."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from twdsl.diagnostics import Fix, TextEdit
from twdsl.source import Span

CUTOFF = 0.6


def closest(name: str, candidates: Iterable[str], exclude: Iterable[str] = ()) -> str | None:
    """The candidate most like ``name``, if any is close enough.

    Candidates whose length differs by more than half of ``name``'s are skipped before the
    (costly) similarity ratio is computed, so a file with a thousand names stays fast.

    >>> closest("agnet", ["agent", "input", "depends"])
    'agent'
    >>> closest("build", ["build", "built"], exclude=["build"])
    'built'
    """
    skip = set(exclude) | {name}
    slack = max(2, len(name) // 2)
    pool = sorted({c for c in candidates if c not in skip and abs(len(c) - len(name)) <= slack})
    found = difflib.get_close_matches(name, pool, n=1, cutoff=CUTOFF)
    return found[0] if found else None


def closest_all(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` candidates close to ``name``, the closest first (for lists of
    suggestions, such as ``twdsl check --explain`` of a misspelt code)."""
    return difflib.get_close_matches(name, sorted(set(candidates)), n=limit, cutoff=CUTOFF)


def hint(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or ``""``: the hint of a one-line message (configuration,
    command-line words), from :func:`closest`."""
    best = closest(name, candidates)
    return f" (did you mean '{best}'?)" if best is not None else ""


def did_you_mean(name: str, candidates: Iterable[str], span: Span, exclude: Iterable[str] = (),
                 verb: str = "change to") -> tuple[str, Fix | None]:
    """The hint to append to a message (``"; did you mean 'x'?"`` or ``""``) and the fix that
    replaces ``span`` by the suggestion."""
    best = closest(name, candidates, exclude)
    if best is None:
        return "", None
    return f"; did you mean '{best}'?", Fix(f"{verb} '{best}'", (TextEdit(span, best),))
