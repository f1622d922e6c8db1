"""The optimizer passes: one shared runner over tests/fixtures/passes/<pass>/*.twdsl.

Each fixture is compiled at -O0, then only its folder's pass runs, and the result (the
pass's changes, then the textual dump of the program, twdsl.ir.render.dump) must equal the
``.expected`` file beside it.  ``TWDSL_REGEN=1 pytest tests/test_passes.py`` rewrites the
expected files (review the diff).  The IR's invariants are checked after every pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from twdsl.compiler import compile_source
from twdsl.ir import model as M
from twdsl.ir.render import dump
from twdsl.ir.validate import validate
from twdsl.passes import registry, run_passes

FIXTURES = Path(__file__).parent / "fixtures" / "passes"
CASES = sorted(FIXTURES.glob("*/*.twdsl"))


def _render(program: M.Program, changes: list[M.Change]) -> str:
    lines = ["# changes"]
    for c in changes:
        where = f"{c.src.line}:{c.src.column}" if c.src else "-"
        lines.append(f"{c.pass_name} {c.node or '-'} {where}: {c.message}")
    return "\n".join(lines) + "\n# program\n" + dump(program)


def _lowered(path: Path) -> M.Program:
    c = compile_source(path.read_text(), path.name, optimize=0)
    assert c.program is not None, [d.message for d in c.diagnostics]
    return c.program


def test_every_pass_has_fixtures() -> None:
    folders = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert folders == {p.name.replace("-", "_") for p in registry.PASSES}


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_pass_fixture(path: Path) -> None:
    name = path.parent.name.replace("_", "-")
    (p,) = [x for x in registry.PASSES if x.name == name]
    program, changes = p.run(_lowered(path))
    validate(program, after=f"the '{name}' pass")
    got = _render(program, changes)
    expected = path.with_suffix(".expected")
    if os.environ.get("TWDSL_REGEN"):
        expected.write_text(got)
    assert got == expected.read_text()
    M.Program.from_json(program.to_json())  # the result still round-trips


def test_levels() -> None:
    path = FIXTURES / "merge_blocks" / "nested.twdsl"
    p0 = run_passes(_lowered(path), 0)
    assert (p0.optimization, p0.changes) == (0, [])
    p1 = run_passes(_lowered(path), 1)
    assert p1.optimization == 1
    assert [c.pass_name for c in p1.changes] == ["merge-blocks"] * 3


def test_passes_are_pure_functions_of_their_input() -> None:
    """run_passes gives each pass a copy: the caller's program is not changed."""
    program = _lowered(FIXTURES / "merge_blocks" / "nested.twdsl")
    before = program.to_json()
    run_passes(program, 1)
    assert program.to_json() == before
