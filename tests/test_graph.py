"""``twdsl graph``: exact snapshots of the Mermaid and dot renderings (read by hand when
they change: ``pytest tests/test_graph.py --snapshot-update``), stability, and Graphviz."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run

from twdsl.compiler import compile_source
from twdsl.ir import render

ROOT = Path(__file__).resolve().parent.parent
CASES = [ROOT / "tests" / "fixtures" / "lowering" / "everything.twdsl",
         ROOT / "examples" / "create_full_stack_app.twdsl"]


def _program(path: Path, level: int = 0) -> Any:
    c = compile_source(path.read_text(), path.name, optimize=level)
    assert c.program is not None
    return c.program


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_graph_snapshot(path: Path, fmt: str, snapshot: Any) -> None:
    text = getattr(render, fmt)(_program(path))
    assert text == snapshot
    assert text == getattr(render, fmt)(_program(path))  # stable


def test_cli_graph_matches_the_api(tmp_path: Path) -> None:
    shutil.copy(CASES[0], tmp_path / "e.twdsl")
    r = run("graph", "e.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == render.mermaid(_program(tmp_path / "e.twdsl"))
    r = run("graph", "e.twdsl", "--format", "dot", "-O", "1", "-o", "g.dot", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "")
    assert (tmp_path / "g.dot").read_text() == render.dot(_program(tmp_path / "e.twdsl", 1))


def test_dump_of_the_example(snapshot: Any) -> None:
    assert render.dump(_program(CASES[1], 1)) == snapshot


def test_svg_without_graphviz_is_a_usage_error(tmp_path: Path) -> None:
    shutil.copy(CASES[0], tmp_path / "e.twdsl")
    env_path = os.environ.get("PATH", "")
    try:
        os.environ["PATH"] = str(tmp_path)  # no 'dot' here
        r = run("graph", "e.twdsl", "--format", "svg", cwd=tmp_path)
    finally:
        os.environ["PATH"] = env_path
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == (
        "twdsl: error: --format svg needs Graphviz's 'dot' program, which is not on PATH: "
        "install graphviz (e.g. apt install graphviz, brew install graphviz), or use "
        "--format dot and render it elsewhere\n")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_with_graphviz(tmp_path: Path) -> None:
    shutil.copy(CASES[0], tmp_path / "e.twdsl")
    r = run("graph", "e.twdsl", "--format", "svg", "-o", "g.svg", cwd=tmp_path)
    assert r.returncode == 0
    assert "<svg" in (tmp_path / "g.svg").read_text()


def test_graph_of_broken_file_exit_1(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text('workflow W {\n  version: "1.0.0"\n  task a {\n}\n')
    r = run("graph", "w.twdsl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.endswith("w.twdsl: 1 error; nothing compiled\n")
