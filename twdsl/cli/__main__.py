"""``python -m twdsl.cli``: the same as the ``twdsl`` command."""

from twdsl.cli import main

main()
