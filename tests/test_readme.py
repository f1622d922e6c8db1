"""The README's first screen and .ci/run agree: CI runs exactly the commands a new user runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, re.S)][:2]


def test_readme_has_setup_and_test_commands_first() -> None:
    setup, tests = _readme_commands()
    assert "pip install -e '.[dev]'" in setup
    assert tests == "pytest"


def test_ci_runs_the_readme_commands() -> None:
    setup, tests = _readme_commands()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci_lines = [ln.strip() for ln in ci.splitlines()]
    main_job = setup.split("&&")[-1].strip()
    assert main_job in ci_lines
    assert tests in ci_lines
    assert "pip install --quiet -e '.[dev]'" in ci_lines
