"""Did-you-mean suggestions never propose a name that would make things worse (found by
applying the fixes for real with `twdsl check --fix`)."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from twdsl import analyze
from twdsl.suggest import CUTOFF, closest


def _fixes(src: str) -> list[tuple[str, str | None]]:
    return [(d.code, d.fix.edits[0].new_text if d.fix else None)
            for d in analyze(src, "f").diagnostics]


def test_a_field_is_not_renamed_into_one_already_set() -> None:
    src = 'workflow W { version: "1.0.0" task t { agent: "Echo"  agnet: "X" } }'
    assert _fixes(src) == [("TW120", None)]


def test_an_agent_input_is_not_renamed_into_one_already_given() -> None:
    src = """agent B { input { path: string } output { y: any } }
workflow W { version: "1.0.0" task t { agent: B input: { path: "a", pth: "b" } } }"""
    assert _fixes(src) == [("TW305", None)]


def test_duplicate_keys_in_an_object_are_an_error() -> None:
    src = 'workflow W { version: "1.0.0" task t { agent: "A" input: { a: 1, a: 2 } } }'
    assert [(str(d.span), d.code, d.message) for d in analyze(src, "f").diagnostics] == [
        ("f:1:66", "TW121", "key 'a' is set twice in this object")]


def test_a_task_is_not_suggested_for_its_own_depends() -> None:
    src = 'workflow W { version: "1.0.0" task build { agent: "A"  depends: [buil] } }'
    assert _fixes(src) == [("TW212", None)]


def test_literals_are_candidates_for_undefined_names() -> None:
    src = 'workflow W { version: "1.0.0" task failer { agent: "A" } task t { agent: "B" input: { skip: fals } } }'
    assert _fixes(src) == [("TW210", "false")]


def test_an_unknown_type_is_reported_once() -> None:
    src = 'workflow W { version: "1.0.0" input { n: nmuber = 5 } task t { agent: "A" input: { n: n } } }'
    assert _fixes(src) == [("TW310", "number")]


def test_many_misspelt_references_are_each_reported() -> None:
    """A thousand tasks each depending on a misspelt name: one diagnostic each.  Its time is
    measured against the same workflow spelt right by bench/timing_guards.py (a timing here
    failed on busy machines)."""
    body = "\n".join(f'  task t{i:04d} {{ agent: "A" depends: [x{i:04d}] }}' for i in range(1000))
    diags = analyze(f'workflow W {{\n  version: "1.0.0"\n{body}\n}}\n', "f").diagnostics
    assert len(diags) == 1000


_NAMES = st.text(alphabet="abcde_01", min_size=1, max_size=12)


@settings(max_examples=500, deadline=None)
@given(name=_NAMES, candidates=st.lists(_NAMES, max_size=30),
       exclude=st.lists(_NAMES, max_size=3))
def test_closest_is_difflibs_closest_match(name: str, candidates: list[str],
                                           exclude: list[str]) -> None:
    """The ranked search (rapidfuzz's bound, then difflib's ratio) answers exactly what
    ``difflib.get_close_matches(n=1)`` over the same pool answers, ties included."""
    skip = set(exclude) | {name}
    slack = max(2, len(name) // 2)
    pool = sorted({c for c in candidates if c not in skip and abs(len(c) - len(name)) <= slack})
    expected = difflib.get_close_matches(name, pool, n=1, cutoff=CUTOFF)
    assert closest(name, candidates, exclude) == (expected[0] if expected else None)


def test_closest_breaks_a_tie_as_difflib_does() -> None:
    # "x0001" is 0.8 like both; difflib's heap keeps the greater string
    assert closest("x0001", ["t0001", "s0001", "t0002"]) == "t0001"
    assert closest("b0a_b", ["0_ecb", "dda_"]) == "0_ecb"  # exactly the cutoff, 0.6
