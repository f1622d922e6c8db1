"""Every finding of the fuzzer is kept here as a fixture (tests/fuzz/crashes/): the oracles
of oracles.py hold for it.  A bug not fixed yet is an xfail(strict=True) entry of
crashes/known.json (its owner removes the mark with the fix); a ``hang`` entry (too slow,
no crash) is timed by the campaign, not by the tests, which do not time anything."""

from __future__ import annotations

import json
from pathlib import Path

import oracles
import pytest

HERE = Path(__file__).resolve().parent
KNOWN = json.loads((HERE / "crashes" / "known.json").read_text())


def _params() -> list[object]:
    out = []
    for name, entry in sorted(KNOWN.items()):
        assert entry["test"] in ("pass", "xfail", "hang"), name
        assert (HERE / "crashes" / f"{name}.twdsl").is_file(), name
        if entry["test"] == "hang":
            continue
        marks = [pytest.mark.xfail(strict=True, reason=f"{entry['owner']}: {entry['what']}")
                 ] if entry["test"] == "xfail" else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _params())
def test_the_oracles_hold(name: str) -> None:
    text = (HERE / "crashes" / f"{name}.twdsl").read_text(encoding="utf-8")
    findings = oracles.check(text, f"{name}.twdsl")
    assert [f"{f.signature}: {f.detail}" for f in findings] == []


def test_every_fixture_is_listed() -> None:
    files = {p.stem for p in (HERE / "crashes").glob("*.twdsl")}
    assert files == set(KNOWN)
