"""The passes, in the order they run (docs/ir.md, Passes).

Folding first, so that the passes after it see literal conditions; dead branches and
unreachable work next, so that merging sees the blocks left in place; common sub-expressions
after folding (constant ones are folded, not shared) and before parallelization, which reads
the expressions' task reads (sharing keeps them); parallelization last, on the flattest tree.
"""

from __future__ import annotations

from twdsl.passes import (
    Pass,
    cse,
    dead_branches,
    fold_constants,
    merge_blocks,
    parallelize,
    unreachable,
)

PASSES: list[Pass] = [
    Pass(fold_constants.NAME, 1, fold_constants.run, "fold constant expressions"),
    Pass(dead_branches.NAME, 1, dead_branches.run,
         "replace an if/switch whose choice is constant by the branch it takes"),
    Pass(unreachable.NAME, 1, unreachable.run,
         "remove work that cannot run (after break/continue, while false, foreach over [], "
         "when: false)"),
    Pass(merge_blocks.NAME, 1, merge_blocks.run,
         "merge nested sequences, one-child blocks and empty blocks"),
    Pass(cse.NAME, 1, cse.run,
         "compute a sub-expression written twice or more in one expression once (a lazy let)"),
    Pass(parallelize.NAME, 1, parallelize.run,
         "let independent pure tasks of a sequence run at the same time (Q2)"),
]
