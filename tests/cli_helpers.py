"""What the CLI tests share: running ``twdsl`` as a user does, and sample files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BROKEN = """workflow W {
  version: "1.0.0"
  task build {
    agent: "Builder"
  task deploy {
    agent = "Deployer"
  }
}
"""
UGLY = 'workflow W{version:"1.0.0"\ntask a{agent:"A"}}\n'
PRETTY = 'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "A"\n  }\n}\n'


def run(*args: str, cwd: Path, stdin: str | None = None,
        module: str = "twdsl.cli") -> subprocess.CompletedProcess[str]:
    """``python -m twdsl.cli ARGS`` in ``cwd``: a real process, colours off."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, env=env)
