"""Grammar loading: the LALR table and terminal definitions built once from grammar/twdsl.lark."""

from __future__ import annotations

import hashlib
import os
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
    """Lark's own LALR parser for the grammar (used for the table, and as the benchmark peer).

    Building the LALR table takes a few hundred milliseconds; Lark keeps it in a cache file
    (:func:`cache_file`) that later processes load in a few milliseconds."""
    text = grammar_text()
    return lark.Lark(text, parser="lalr", propagate_positions=propagate_positions,
                     start=["start", "expression"],
                     cache=cache_file(text, propagate_positions) or False)


def cache_file(text: str, positions: bool) -> str | None:
    """Where the built table is kept: in the user's own cache folder (``$XDG_CACHE_HOME`` or
    ``~/.cache``, then ``twdsl/``), never in a shared temporary folder, since the cache is a
    pickle and loading one written by someone else would run their code.  None when there is
    no such folder that only this user can write (then the table is built every time)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "twdsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.stat(folder)
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None  # someone else could write there
    digest = hashlib.sha256(f"{text}|{positions}|{lark.__version__}".encode()).hexdigest()[:20]
    return os.path.join(folder, f"grammar-{digest}.lark")


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
