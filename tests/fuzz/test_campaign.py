"""The bounded fuzzing campaign CI runs on every change (tests/fuzz/README.md): seeded,
about 100 seconds of cases plus 150 edits in a real language server.  It fails on a finding
that tests/fuzz/crashes/ does not keep yet, naming the file it wrote the input to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("TWDSL_FUZZ_SECONDS", "100"))


def test_a_bounded_campaign_finds_nothing_new(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "--seconds", str(SECONDS), "--lsp-edits", "150",
         "--max-depth", "1000", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=SECONDS * 3 + 120)
    assert done.stdout, done.stderr
    summary = json.loads(done.stdout)
    assert summary["cases"] > 50, summary  # the campaign really ran
    new = [f"{f['signature']} (case {f.get('case')}, input in {f.get('saved')}): "
           f"{f['detail'][:300]}" for f in summary["new"]]
    assert new == [], "\n".join(new) + "\nreproduce: python tests/fuzz/run.py --seed " \
        f"{summary['seed']} --case N; keep it: tests/fuzz/README.md"
    assert done.returncode == 0, done.stderr
