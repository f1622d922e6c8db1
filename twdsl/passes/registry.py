"""The passes, in the order they run (docs/ir.md, Passes)."""

from __future__ import annotations

from twdsl.passes import Pass

PASSES: list[Pass] = []
