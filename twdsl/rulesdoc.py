"""Write docs/rules.md from the code registry: ``python -m twdsl.rulesdoc --markdown``.

A module of its own (not ``python -m twdsl.codes``) because the package imports twdsl.codes
itself, and running an already-imported module with ``-m`` makes Python warn.
"""

from __future__ import annotations

import sys

from twdsl.codes import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
