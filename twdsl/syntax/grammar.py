"""Grammar loading: the LALR table and terminal definitions built once from grammar/twdsl.lark."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import lark
from lark.grammar import Rule
from lark.parsers.lalr_analysis import Shift


@dataclass(frozen=True, slots=True)
class Grammar:
    """What the parser needs from the grammar, computed once per process."""

    states: dict[int, dict[str, tuple[object, object]]]
    start_states: dict[str, int]
    end_states: dict[str, int]
    shift: object
    keywords: dict[str, str]  # word -> terminal name, e.g. "task" -> "TASK"
    punctuation: dict[str, str]  # text -> terminal name, e.g. "{" -> "LBRACE"
    patterns: dict[str, str]  # terminal name -> regexp, for NAME/STRING/NUMBER/DURATION/COMMENT
    terminal_names: frozenset[str]


def grammar_text() -> str:
    """The text of ``twdsl.lark`` as shipped in the package."""
    return resources.files("twdsl.grammar").joinpath("twdsl.lark").read_text(encoding="utf-8")


@cache
def lark_parser(propagate_positions: bool = True) -> lark.Lark:
    """Lark's own LALR parser for the grammar (used for the table, and as the benchmark peer)."""
    return lark.Lark(grammar_text(), parser="lalr", propagate_positions=propagate_positions,
                     start=["start", "expression"])


@cache
def load() -> Grammar:
    """Build (once) the parse table and lexer specification."""
    parser = lark_parser(False)
    table = parser.parser.parser.parser.parse_table
    name_re = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
    keywords: dict[str, str] = {}
    punctuation: dict[str, str] = {}
    patterns: dict[str, str] = {}
    for term in parser.terminals:
        pat = term.pattern
        if isinstance(pat, lark.lexer.PatternStr):
            if name_re.match(pat.value):
                keywords[pat.value] = term.name
            else:
                punctuation[pat.value] = term.name
        else:
            patterns[term.name] = pat.to_regexp()
    return Grammar(
        states=table.states,
        start_states=dict(table.start_states),
        end_states=dict(table.end_states),
        shift=Shift,
        keywords=keywords,
        punctuation=punctuation,
        patterns=patterns,
        terminal_names=frozenset(t.name for t in parser.terminals),
    )


@cache
def rules() -> list[Rule]:
    """The grammar's rules as Lark compiled them (the parse table refers to these objects)."""
    return lark_parser(False).rules
