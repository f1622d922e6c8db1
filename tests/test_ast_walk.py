"""``Node.walk`` (inlined for speed) visits exactly what ``children`` defines, in the same
order, on every file of the corpus, including files with syntax errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from twdsl.syntax import ast as A
from twdsl.syntax.parser import parse

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted(p for p in {*ROOT.glob("examples/*.twdsl"),
                           *ROOT.glob("tests/fixtures/**/*.twdsl")} if p.is_file())


def by_children(node: A.Node) -> list[A.Node]:
    out = [node]
    for child in node.children():
        out.extend(by_children(child))
    return out


def test_the_corpus_is_there() -> None:
    assert len(FILES) > 50


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_walk_is_children_depth_first(path: Path) -> None:
    module = parse(path.read_text(encoding="utf-8")).module
    walked = list(module.walk())
    assert [id(n) for n in walked] == [id(n) for n in by_children(module)]


def test_walk_reaches_chain_steps_and_handler_blocks() -> None:
    src = ('workflow W {\n  task a { agent: "x"\n    on_failure { task h { agent: "x" } }\n  }\n'
           '  task b { agent: "x" }\n  a -> [b]\n}\n')
    kinds = [type(n).__name__ for n in parse(src).module.walk()]
    assert kinds.count("TaskStmt") == 3 and kinds.count("ChainStmt") == 1
    assert kinds.count("Ref") == 2
