"""Every diagnostic code the package can report is registered in twdsl.codes, and every
registered example does what it says: ``bad`` triggers exactly its code, ``good`` is clean."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from twdsl.codes import CODES, EXAMPLE_FILES
from twdsl.config import DEFAULT, parse_config
from twdsl.project import analyze_project

ROOT = Path(__file__).resolve().parent.parent


def test_every_reported_code_is_registered() -> None:
    used = set()
    for path in (ROOT / "twdsl").rglob("*.py"):
        if path.name != "codes.py":  # the registry itself names every code
            used |= set(re.findall(r'"(TW\d{3})"', path.read_text()))
    assert used - set(CODES) == set()
    assert set(CODES) - used == set(), "registered codes that nothing reports"


@pytest.mark.parametrize("code", sorted(CODES))
def test_examples(code: str) -> None:
    """Each example is checked as a project, with the files it imports (EXAMPLE_FILES)."""
    c = CODES[code]
    if c.stage == "compile":  # reported by lowering (twdsl compile), not by check
        from twdsl.compiler import compile_source

        assert [d.code for d in compile_source(c.bad, "bad.twdsl").diagnostics] == [code]
        good = compile_source(c.good, "good.twdsl")
        assert good.ok and good.diagnostics == []
        return
    config = parse_config(tomllib.loads(c.config), "twdsl.toml") if c.config else DEFAULT
    if c.stage == "versions":  # reported by `check --against` the old version c.against
        from twdsl.versions.against import check_text_against

        assert [d.code for d in check_text_against(c.bad, c.against, config=config)] == [code]
        assert check_text_against(c.good, c.against, config=config) == []
        return
    bad = analyze_project({"bad.twdsl": c.bad}, EXAMPLE_FILES.get,
                          lambda _: config)["bad.twdsl"]
    assert [d.code for d in bad.diagnostics] == [code]
    good = analyze_project({"good.twdsl": c.good}, EXAMPLE_FILES.get,
                           lambda _: config)["good.twdsl"]
    assert good.diagnostics == []
