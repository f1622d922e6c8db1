""""Did you mean": the one place that guesses what a misspelt name was meant to be."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from twdsl.diagnostics import Fix, TextEdit
from twdsl.source import Span

CUTOFF = 0.6
#: the bound and the ratio are computed differently: a float's rounding apart at most
_ULP = 1e-9
#: rapidfuzz's own cutoff drops a score of exactly 0.6 at 0.6 - 1e-9: it filters loosely
_LOOSE = 0.05


def closest(name: str, candidates: Iterable[str], exclude: Iterable[str] = ()) -> str | None:
    """The candidate most like ``name``, if any is close enough: the one of highest
    ``difflib`` ratio at least :data:`CUTOFF`, the greater string on a tie, exactly as
    ``difflib.get_close_matches(name, pool, n=1)``.

    Candidates whose length differs by more than half of ``name``'s are skipped.  The rest
    are ranked by an upper bound of the ratio computed in C (rapidfuzz's Indel similarity,
    ``2 * LCS / (len(a) + len(b))``: difflib's matching blocks are a common subsequence, so
    never longer than the longest), then by name, and difflib's ratio is computed only while
    that bound can still beat the best found.  Ratios are compared rounded to 9 places: the
    two are computed differently, and two ratios of short names that differ at all differ by
    far more.  A file of 1,000 misspelt names among 1,000 candidates took
    2.3 s with ``get_close_matches`` (bench/timing_guards.py).

    >>> closest("agnet", ["agent", "input", "depends"])
    'agent'
    >>> closest("build", ["build", "built"], exclude=["build"])
    'built'
    """
    from rapidfuzz import process
    from rapidfuzz.distance import Indel

    skip = set(exclude)
    skip.add(name)
    slack = max(2, len(name) // 2)
    ranked = [(round(bound, 9), c) for c, bound, _ in process.extract(
        name, candidates if isinstance(candidates, (list, tuple)) else list(candidates),
        scorer=Indel.normalized_similarity, score_cutoff=CUTOFF - _LOOSE, limit=None)
        if c not in skip and abs(len(c) - len(name)) <= slack]
    ranked.sort(reverse=True)
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(name)
    best: tuple[float, str] | None = None
    for bound, candidate in ranked:
        if best is not None and (bound, candidate) <= best:
            # ranked by (bound, name) from the top: no candidate left can beat the best's
            # ratio, nor tie with it and win the tie (the greater name does)
            break
        if best is not None and candidate == best[1]:
            continue
        matcher.set_seq1(candidate)
        ratio = round(matcher.ratio(), 9)
        if ratio >= CUTOFF and (best is None or (ratio, candidate) > best):
            best = (ratio, candidate)
    return best[1] if best is not None else None


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
