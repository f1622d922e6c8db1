"""docs/testing.md stays true: its files are written to a folder in the order the page gives
them, and each ```console block is run there (a real ``twdsl`` process) and must print exactly
what the page shows, the wall time aside."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import run

DOC = (Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text()
BLOCK = re.compile(r"<!-- file: (?P<file>\S+) -->\n```\w+\n(?P<body>.*?)```"
                   r"|```console\n\$ (?P<command>[^\n]*)\n(?P<output>.*?)```", re.S)
STEPS = list(BLOCK.finditer(DOC))
CONSOLES = [i for i, m in enumerate(STEPS) if m.group("command")]


def _wall(text: str) -> str:
    return re.sub(r" in \d+\.\d\ds\n\Z", " in <t>s\n", text)


def test_the_page_has_files_and_commands() -> None:
    files = [m.group("file") for m in STEPS if m.group("file")]
    assert files == ["digest.twdsl", "digest.test.toml", "wrong.test.toml"]
    assert len(CONSOLES) == 2


@pytest.mark.parametrize("index", CONSOLES, ids=[STEPS[i].group("command") for i in CONSOLES])
def test_console_example(tmp_path: Path, index: int) -> None:
    for m in STEPS[:index]:
        if m.group("file"):
            (tmp_path / m.group("file")).write_text(m.group("body"))
    command = STEPS[index].group("command").split()
    assert command[0] == "twdsl"
    r = run(*command[1:], cwd=tmp_path)
    expected = STEPS[index].group("output")
    assert _wall(r.stdout) == _wall(expected)
    assert r.returncode == (1 if "FAIL" in expected else 0)
    assert r.stderr == ""


def test_the_usage_error_shown_is_the_real_one(tmp_path: Path) -> None:
    shown = re.search(r"```\n(broken\.test\.toml:.*?)```", DOC, re.S)
    assert shown is not None
    for m in STEPS:
        if m.group("file") == "digest.twdsl":
            (tmp_path / "digest.twdsl").write_text(m.group("body"))
    # line 18, column 11: an inline table left open at the end of its line
    (tmp_path / "broken.test.toml").write_text(
        'file = "digest.twdsl"\n' + "\n" * 15 + '[[test]]\nexpect = {\n')
    r = run("test", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", shown.group(1))


def _keys(heading: str, table: int = 0) -> set[str]:
    """The keys named in the first column of the ``table``-th table under ``heading``."""
    start = DOC.index(f"\n## {heading}\n")
    end = DOC.find("\n## ", start + 1)
    section = DOC[start:end if end >= 0 else None]
    tables = re.findall(r"((?:^\|.*\|\n)+)", section, re.M)
    rows = tables[table].splitlines()[2:]
    return {k.split(" =")[0] for row in rows for k in re.findall(r"`([^`]+)`", row.split("|")[1])}


def test_the_tables_list_every_key_of_the_format() -> None:
    from twdsl.testing import spec

    def plain(keys: tuple[str, ...]) -> set[str]:
        return {k for k in keys if not k.endswith("_json")}

    assert _keys("The test file", 0) == plain(spec.FILE_KEYS)
    assert _keys("The test file", 1) == plain(spec.TEST_KEYS)
    assert _keys("Mock agents", 0) | _keys("Mock agents", 1) == plain(spec.MOCK_KEYS)
    assert _keys("Faults", 0) == plain(spec.FAULT_KEYS)
    assert _keys("Expectations", 0) == plain(spec.EXPECT_KEYS) - {"tasks"} | {"tasks.NAME"}
    assert _keys("Expectations", 1) == plain(spec.TASK_KEYS)
