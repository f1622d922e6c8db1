"""docs/language.md stays true: its examples check, its errors are errors, and it agrees with
grammar/twdsl.lark.

- every ```twdsl block is a complete module that analyses with no diagnostics;
- every ```twdsl-error block produces at least one diagnostic, and when its first line is a
  comment naming a code (``// TW104``) that code is among them;
- every message quoted in the diagnostics table is produced by an error example of its code;
- every syntax-stage code appears in the document;
- the keyword list, the terminal patterns and the rule names of the grammar summary match the
  grammar file;
- links to headings (from this page and from docs/cli.md) resolve.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import twdsl
from twdsl.syntax import grammar

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
TEXT = DOC.read_text(encoding="utf-8")

SYNTAX_CODES = ("TW100", "TW101", "TW102", "TW103", "TW104", "TW110", "TW111", "TW112", "TW113",
                "TW120", "TW121", "TW122", "TW123", "TW124", "TW130")

# Grammar rules the summary folds into repetition ({ }) and options ([ ]) of other rules.
FOLDED_RULES = {"start", "expression", "module_items", "module_item", "import_names",
                "template_mods", "template_extends", "params", "param_list", "type_args",
                "type_fields", "items", "var_decls", "task_mods", "cases", "case_values",
                "stmts", "args", "arg_list", "ref_list", "lambda_params", "call_args"}


def _blocks(lang: str) -> list[tuple[int, str]]:
    """(line number of the opening fence, text) of every ```lang block."""
    out = []
    lines = TEXT.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if lines[i].rstrip("\n") == "```" + lang:
            start = i + 1
            j = start
            while lines[j].rstrip("\n") != "```":
                j += 1
            out.append((start, "".join(lines[start:j])))
            i = j
        i += 1
    return out


EXAMPLES = _blocks("twdsl")
ERRORS = _blocks("twdsl-error")


def _expected_code(text: str) -> str | None:
    m = re.match(r"//\s*(TW\d{3})\b", text)
    return m.group(1) if m else None


def _messages(text: str, code: str | None = None) -> list[str]:
    return [d.message for d in twdsl.analyze(text, "doc.twdsl").diagnostics
            if code is None or d.code == code]


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) >= 20
    assert len(ERRORS) >= len(SYNTAX_CODES)


@pytest.mark.parametrize("text", [t for _, t in EXAMPLES],
                         ids=[f"line{n}" for n, _ in EXAMPLES])
def test_example_checks_clean(text: str) -> None:
    diags = twdsl.analyze(text, "doc.twdsl").diagnostics
    assert [(str(d.span), d.code, d.message) for d in diags] == []


@pytest.mark.parametrize("text", [t for _, t in ERRORS], ids=[f"line{n}" for n, _ in ERRORS])
def test_error_example_is_an_error(text: str) -> None:
    diags = twdsl.analyze(text, "doc.twdsl").diagnostics
    assert diags, "a twdsl-error example must produce a diagnostic"
    code = _expected_code(text)
    if code is not None:
        assert code in [d.code for d in diags], [(d.code, d.message) for d in diags]


def _quoted_messages() -> list[tuple[str, str]]:
    """(code, message) from the rows of the diagnostics table: | TWnnn | what | `message` |"""
    return re.findall(r"^\| (TW\d{3}) \| [^|]+ \| `(.+)` \|$", TEXT, re.M)


@pytest.mark.parametrize("code,message", _quoted_messages(),
                         ids=[f"{c}-{i}" for i, (c, _) in enumerate(_quoted_messages())])
def test_quoted_message_is_real(code: str, message: str) -> None:
    examples = [t for _, t in ERRORS if _expected_code(t) == code]
    assert examples, f"no twdsl-error example starts with '// {code}'"
    produced = [m for t in examples for m in _messages(t, code)]
    assert message in produced


def test_every_syntax_code_is_documented() -> None:
    quoted = {c for c, _ in _quoted_messages()}
    for code in SYNTAX_CODES:
        assert code in TEXT
        assert code in quoted, f"{code} has no row in the diagnostics table"


def test_every_keyword_is_listed() -> None:
    m = re.search(r"^These words are keywords:\n\n(.*?)\n\n", TEXT, re.M | re.S)
    assert m, "no keyword list"
    listed = re.findall(r"`([a-z]+)`", m.group(1))
    assert sorted(listed) == sorted(grammar.load().keywords)


def test_terminal_patterns_match_the_grammar() -> None:
    lark = grammar.grammar_text()
    summary = _ebnf()
    for name in ("NAME", "STRING", "DURATION", "NUMBER", "COMMENT"):
        m = re.search(rf"^{name}(?:\.\d+)?: (.+)$", lark, re.M)
        assert m, name
        for pattern in re.findall(r"/(?:[^/\\]|\\.)+/s?", m.group(1)):
            assert pattern in summary, f"{name}: {pattern} is not in the grammar summary"


def test_summary_rules_match_the_grammar() -> None:
    lark_rules = set(re.findall(r"^\??([a-z_]+):", grammar.grammar_text(), re.M))
    summary_rules = set(re.findall(r"^([a-z_]+)\s+=", _ebnf(), re.M))
    assert summary_rules <= lark_rules, summary_rules - lark_rules
    assert lark_rules - summary_rules <= FOLDED_RULES, lark_rules - summary_rules - FOLDED_RULES


def _ebnf() -> str:
    blocks = re.findall(r"^```ebnf\n(.*?)^```$", TEXT, re.M | re.S)
    assert blocks, "no ```ebnf grammar summary"
    return "\n".join(blocks)


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_internal_links_resolve() -> None:
    outside = re.sub(r"^```.*?^```$", "", TEXT, flags=re.M | re.S)
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", outside, re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", outside):
        assert target in anchors, f"no heading for #{target}"
    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(language\.md#([^)]+)\)", cli):
        assert target in anchors, f"docs/cli.md links to language.md#{target}"
