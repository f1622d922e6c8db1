"""Every example in examples/ runs, with the agents configured beside it (examples/twdsl.toml),
through the real command line, and gives the outputs written here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("[!.]*.twdsl"))

EXPECTED = {
    "create_full_stack_app.twdsl": {
        "project_url": "https://app-e542a374.example.test",
        "documentation_url": "https://app-e542a374.example.test/docs",
        "deployment_status": "deployed",
    },
    # The seed as written declares its outputs without values (warning TW503): they are null.
    "create_full_stack_app.seed.twdsl": {
        "project_url": None, "documentation_url": None, "deployment_status": None,
    },
}


def inputs_for(example: Path) -> Path | None:
    stem = example.name.removesuffix(".twdsl").removesuffix(".seed")
    path = example.with_name(stem + ".inputs.json")
    return path if path.exists() else None


def test_every_example_has_expected_outputs() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_example_runs(example: Path, tmp_path: Path) -> None:
    work = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", work, ignore=shutil.ignore_patterns(".twdsl"))
    args = [sys.executable, "-m", "twdsl.cli", "run", example.name, "--log-format", "json"]
    inputs = inputs_for(example)
    if inputs is not None:
        args += ["--inputs-file", inputs.name]
    r = subprocess.run(args, cwd=work, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == EXPECTED[example.name]
    events = [json.loads(line) for line in r.stderr.splitlines()]
    assert events[-1]["type"] == "workflow.completed"
    assert (work / ".twdsl" / "state.db").exists()
