"""The fuzz tests import the shared test helpers of tests/ (lsp_helpers, cli_helpers)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
