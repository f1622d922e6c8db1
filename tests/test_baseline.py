"""``twdsl check --write-baseline`` / ``--baseline``: adopting the linter in a project with
findings, as a user does it (the CLI on real files)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run

OLD = ('workflow W {\n  version: "1.0.0"\n  input { unused: string }\n'
       '  task a { agent: "A" timout: 5s }\n}\n')


def test_a_baseline_records_today_and_reports_only_what_is_new(tmp_path: Path) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "w.twdsl").write_text(OLD)
    r = run("check", "flows", "--write-baseline", "twdsl-baseline.json", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (
        0, "", "wrote twdsl-baseline.json: 2 findings recorded\n")
    data = json.loads((tmp_path / "twdsl-baseline.json").read_text())
    assert data["format"] == 1
    assert [(f["file"], f["code"], f["line"], f["count"]) for f in data["findings"]] == [
        ("flows/w.twdsl", "TW120", 'task a { agent: "A" timout: 5s }', 1),
        ("flows/w.twdsl", "TW504", "input { unused: string }", 1)]
    r = run("check", "flows", "--baseline", "twdsl-baseline.json", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (
        0, "", "checked 1 file: no problems; 2 in the baseline\n")
    # lines added above the old findings: still recognised; a new finding is reported
    (tmp_path / "flows" / "w.twdsl").write_text(
        "// moved down\n" + OLD + 'workflow X { version: "1.0.0" task b { agent: "B" '
        'depnds: [] } }\n')
    r = run("check", "flows", "--baseline", "twdsl-baseline.json", "--format", "json",
            cwd=tmp_path)
    assert r.returncode == 1
    assert [(d["code"], d["line"]) for d in json.loads(r.stdout)] == [("TW120", 7)]


def test_fixed_findings_are_reported_as_stale_entries(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text(OLD)
    run("check", "w.twdsl", "--write-baseline", "b.json", cwd=tmp_path)
    (tmp_path / "w.twdsl").write_text(OLD.replace("timout", "timeout"))
    r = run("check", "w.twdsl", "--baseline", "b.json", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (
        0, "checked 1 file: no problems; 1 in the baseline (1 baseline entry no longer found: "
           "write it again with --write-baseline)\n")


def test_a_missing_or_broken_baseline_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text(OLD)
    r = run("check", "w.twdsl", "--baseline", "none.json", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (
        2, "twdsl: error: no baseline at none.json: write one with `twdsl check "
           "--write-baseline none.json …`\n")
    (tmp_path / "bad.json").write_text('{"format": 1, "findings": [}')
    r = run("check", "w.twdsl", "--baseline", "bad.json", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (
        2, "twdsl: error: bad.json:1:28: the baseline is not valid JSON (Expecting value); "
           "write it again with --write-baseline\n")
