"""Nothing the compiler front end can be given makes it raise or hang: every prefix of every
example and corpus file, token-level mutations of them (deletions, duplications, swaps), random
text and random bytes, and deeply nested input.  Every result is a Module and well-formed
diagnostics (spans inside the text, positions that agree with the offsets, one-line messages in
human words), and a file with an unclosed bracket is never reported clean.

A parse that does not finish within DEADLINE seconds counts as a hang (a normal parse of these
files takes a few milliseconds); the deadline is a SIGALRM timer, so hangs are caught on POSIX
when the tests run in the main thread (elsewhere the guard is off).  Hangs are collected apart
from exceptions so that one known hang does not hide other failures.
"""

from __future__ import annotations

import random
import re
import signal
import string
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twdsl.analysis import Analysis, analyze
from twdsl.diagnostics import Diagnostic, Severity
from twdsl.source import SourceFile, Span
from twdsl.syntax import ast as A
from twdsl.syntax import grammar
from twdsl.syntax.lexer import tokenize
from twdsl.syntax.parser import parse

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted([*ROOT.glob("examples/[!.]*.twdsl"), *ROOT.glob("tests/fixtures/syntax/*.twdsl")])
SEED = ROOT / "examples" / "create_full_stack_app.seed.twdsl"
DEADLINE = 2.0
PATH = "r.twdsl"


def _id(p: Path) -> str:
    return str(p.relative_to(ROOT))


# --------------------------------------------------------------------------- running safely
class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise Hang

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    """What analysing one text gave: diagnostics and problems, not the tree (thousands of
    these are kept), unless ``keep`` asked for the analysis."""

    text: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    hang: bool = False
    analysis: Analysis | None = None


def run(text: str, keep: bool = False) -> Outcome:
    try:
        with deadline(DEADLINE):
            a = analyze(text, PATH)
    except Hang:
        return Outcome(text, hang=True)
    except BaseException:  # noqa: BLE001  (RecursionError, MemoryError … are all failures here)
        return Outcome(text, problems=[f"raised:\n{traceback.format_exc(limit=-8)}"])
    return Outcome(text, list(a.diagnostics), problems(text, a), analysis=a if keep else None)


parse("workflow W {}")  # build the parse table before any deadline is armed


# --------------------------------------------------------------------------- well-formedness
_ALLOWED_UPPER = {"TWDSL"}
_UPPER = re.compile(r"\b[A-Z]{2,}(?:_[A-Z]+)*\b")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\bU\+[0-9A-F]{4,6}\b")  # user text, code points


def _span_problems(span: Span, src: SourceFile, what: str) -> list[str]:
    text = src.text
    out = []
    if span.file != PATH:
        out.append(f"{what}: file {span.file!r}")
    if not 0 <= span.start <= span.end <= len(text):
        out.append(f"{what}: offsets {span.start}..{span.end} outside 0..{len(text)}")
        return out
    if span.line < 1 or span.column < 1 or span.line > span.end_line:
        out.append(f"{what}: lines {span.line}:{span.column}-{span.end_line}:{span.end_column}")
    if src.position(span.start) != (span.line, span.column):
        out.append(f"{what}: start {span.line}:{span.column} is not offset {span.start} "
                   f"({src.position(span.start)})")
    if src.position(span.end) != (span.end_line, span.end_column):
        out.append(f"{what}: end {span.end_line}:{span.end_column} is not offset {span.end} "
                   f"({src.position(span.end)})")
    return out


def message_problems(d: Diagnostic) -> list[str]:
    """A message is one non-empty line of human words: no terminal names such as RBRACE."""
    out = []
    if not d.message or "\n" in d.message or d.message != d.message.strip():
        out.append(f"{d.code}: message {d.message!r} is not one trimmed line")
    upper = set(_UPPER.findall(_QUOTED.sub("", d.message))) - _ALLOWED_UPPER
    if upper:
        out.append(f"{d.code}: message {d.message!r} names {sorted(upper)}")
    return out


def problems(text: str, a: Analysis) -> list[str]:
    """Everything wrong with the analysis of ``text``."""
    src = SourceFile(PATH, text)
    out: list[str] = []
    if not isinstance(a.module, A.Module):
        return [f"module is {type(a.module).__name__}"]
    for node in a.module.walk():
        out += _span_problems(node.span, src, f"{type(node).__name__} node")
    for d in a.diagnostics:
        if not re.fullmatch(r"TW\d{3}", d.code) or not isinstance(d.severity, Severity):
            out.append(f"code {d.code!r} severity {d.severity!r}")
        out += _span_problems(d.span, src, d.code)
        out += [p for r in d.related for p in _span_problems(r.span, src, f"{d.code} related")]
        if d.fix is not None:
            out += [p for e in d.fix.edits for p in _span_problems(e.span, src, f"{d.code} fix")]
        out += message_problems(d)
    if [d.sort_key for d in a.diagnostics] != sorted(d.sort_key for d in a.diagnostics):
        out.append("diagnostics are not in position order")
    if _unbalanced(text) and a.ok:
        out.append("an unclosed bracket, yet no error")
    return out


_PAIRS = {"LBRACE": "RBRACE", "LPAR": "RPAR", "LSQB": "RSQB"}


def _unbalanced(text: str) -> bool:
    """More openers than closers of some kind (as lexed: brackets in strings do not count)."""
    tokens, _, _ = tokenize(text, PATH)
    kinds = [t.type for t in tokens]
    return any(kinds.count(o) > kinds.count(c) for o, c in _PAIRS.items())


def _report(bad: list[tuple[str, list[str]]], limit: int = 5) -> str:
    return "\n\n".join(f"input {text!r}:\n  " + "\n  ".join(p)
                       for text, p in bad[:limit]) + f"\n({len(bad)} inputs in all)"


def _check(outcomes: list[Outcome]) -> None:
    bad = [(o.text[-300:], o.problems) for o in outcomes if o.problems]
    assert not bad, _report(bad)


def _hangs(outcomes: list[Outcome]) -> list[str]:
    return [o.text for o in outcomes if o.hang]


# --------------------------------------------------------------------------- (a) prefixes
@cache
def prefix_outcomes(path: Path) -> list[Outcome]:
    text = path.read_text(encoding="utf-8")
    step = 1 if len(text) < 3000 else 7
    return [run(text[:i]) for i in range(0, len(text) + 1, step)]


def test_the_corpus_is_there() -> None:
    assert SEED in FILES
    assert len([p for p in FILES if "fixtures" in p.parts]) >= 7


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_every_prefix_gives_a_module_and_well_formed_diagnostics(path: Path) -> None:
    _check(prefix_outcomes(path))
    assert parse(path.read_text(encoding="utf-8"), PATH).diagnostics == []


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_no_prefix_hangs(path: Path) -> None:
    assert _hangs(prefix_outcomes(path)) == []


def test_no_hang_after_an_io_declaration() -> None:
    """Once a hang (recovery popped into the closed `input {}` and looped at the end of the
    input).  The smallest input found; also ``agent A { input { a: string } * }``."""
    outcome = run("workflow W { input {} 1 }")
    assert not outcome.hang
    assert outcome.problems == []


# --------------------------------------------------------------------------- (b) mutations
def edit(text: str, j: int, op: str) -> str:
    """Delete token ``j`` ("d"), duplicate it ("u"), or swap it with the next one ("s")."""
    tokens, _, _ = tokenize(text, PATH)
    a, b = tokens[j], tokens[j + 1]
    if op == "d":
        return text[:a.start] + text[a.end:]
    if op == "u":
        return text[:a.end] + " " + text[a.start:a.end] + text[a.end:]
    return (text[:a.start] + text[b.start:b.end] + text[a.end:b.start] + text[a.start:a.end]
            + text[b.end:])


def mutate(text: str, rng: random.Random) -> str:
    """One to three token-level edits at random places."""
    for _ in range(rng.randint(1, 3)):
        n = len(tokenize(text, PATH)[0])
        if n < 2:
            break
        text = edit(text, rng.randrange(n - 1), rng.choice("dus"))
    return text


MUTANTS_PER_FILE = 80


@cache
def mutation_outcomes(path: Path) -> list[Outcome]:
    rng = random.Random(f"twdsl-robustness-{path.name}")
    text = path.read_text(encoding="utf-8")
    return [run(mutate(text, rng)) for _ in range(MUTANTS_PER_FILE)]


def test_edits() -> None:
    text = 'task "x y" {a}'
    assert [edit(text, 1, op) for op in "dus"] == [
        "task  {a}", 'task "x y" "x y" {a}', 'task { "x y"a}']
    rng1, rng2 = random.Random(7), random.Random(7)
    assert [mutate(text, rng1) for _ in range(5)] == [mutate(text, rng2) for _ in range(5)]


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_mutations_give_a_module_and_well_formed_diagnostics(path: Path) -> None:
    _check(mutation_outcomes(path))


def test_no_mutation_hangs() -> None:
    hangs = [t for p in FILES for t in _hangs(mutation_outcomes(p))]
    assert hangs == [], f"{len(hangs)} hangs; the first ends {hangs[0][-200:]!r}"


# --------------------------------------------------------------------------- (c) garbage
_HYPO = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                 suppress_health_check=[HealthCheck.too_slow])
_SNIPPETS = sorted({*grammar.load().punctuation, *grammar.load().keywords,
                    "x", "Foo", "1", "2.5", "5m", "1h30m", "5min", '"s"', "'t'", '"${x}"',
                    '"${}"', '"""ab"""', '"\\q"', '"', "'", "/*", "*/", "//", "@", "#", "\n",
                    "=>", "agent:", "input {", "task t {", "}", "if (", "else", "case 1:"})


def _assert_ok(text: str) -> None:
    outcome = run(text)
    assert not outcome.hang, f"hang on {text!r}"
    assert outcome.problems == []


@_HYPO
@given(st.text(alphabet=string.printable, max_size=400))
def test_random_printable_text(text: str) -> None:
    _assert_ok(text)


@_HYPO
@given(st.binary(max_size=400))
def test_random_bytes_as_latin1(data: bytes) -> None:
    _assert_ok(data.decode("latin-1"))


@_HYPO
@given(st.lists(st.sampled_from(_SNIPPETS), max_size=80),
       st.lists(st.sampled_from([" ", "", "\n", "  "]), min_size=80, max_size=80))
def test_random_token_soup(words: list[str], spaces: list[str]) -> None:
    _assert_ok("".join(w + s for w, s in zip(words, spaces, strict=False)))


@_HYPO
@given(st.text(max_size=200))
def test_random_unicode_text(text: str) -> None:
    _assert_ok(text)


def test_random_text_with_a_fixed_seed() -> None:
    """The same idea without hypothesis: 200 strings of random printable characters and 200 of
    random bytes (as latin-1), from a fixed seed."""
    rng = random.Random(20261123)
    outcomes = []
    for _ in range(200):
        outcomes.append(run("".join(rng.choice(string.printable)
                                    for _ in range(rng.randint(0, 300)))))
        outcomes.append(run(bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
                            .decode("latin-1")))
    _check(outcomes)
    assert _hangs(outcomes) == []


# --------------------------------------------------------------------------- (d) messages
def test_message_check_catches_terminal_names() -> None:
    span = Span(PATH, 0, 1, 1, 1, 1, 2)
    bad = Diagnostic("TW110", Severity.ERROR, "unexpected RBRACE; expected LSQB or NAME", span)
    assert message_problems(bad) == [
        "TW110: message 'unexpected RBRACE; expected LSQB or NAME' names "
        "['LSQB', 'NAME', 'RBRACE']"]
    quoted = Diagnostic("TW110", Severity.ERROR, "unexpected name 'FOO_BAR'; expected ':'", span)
    assert message_problems(quoted) == []
    assert message_problems(Diagnostic("TW100", Severity.ERROR, "not part of TWDSL", span)) == []


def test_every_message_seen_is_in_human_words() -> None:
    """Over the error fixtures, the prefixes and the mutants: no terminal names, one line."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(ROOT.glob("tests/fixtures/errors/*"))]
    outcomes = [run(t) for t in texts]
    for p in FILES:
        outcomes += prefix_outcomes(p) + mutation_outcomes(p)
    messages = {d.message: d for o in outcomes for d in o.diagnostics}
    assert len(messages) > 300  # the inputs do reach many different messages
    bad = [m for d in messages.values() for m in message_problems(d)]
    assert bad == []


def test_message_quoting_a_multi_line_string_is_one_line() -> None:
    """A Python-style docstring at the top of a file."""
    outcome = run('"""Deploys the app.\nOwner: ops"""\nworkflow W { version: "1" }\n')
    assert [d.code for d in outcome.diagnostics] == ["TW110"]
    assert outcome.problems == []


_UNEXPECTED = re.compile(r"^unexpected (?:keyword |name )?'(.*?)'(?: in |;|:)")


def phantom_tokens(outcome: Outcome) -> list[str]:
    """Messages 'unexpected X' where X is not the text at the diagnostic's span (a token that
    recovery made up, such as a closer the bracket pass inserted)."""
    out = []
    for d in outcome.diagnostics:
        m = _UNEXPECTED.match(d.message)
        if m and outcome.text[d.span.start:d.span.end] != m.group(1):
            out.append(f"{d.span.line}:{d.span.column} {d.message}")
    return out


def test_no_message_names_a_token_that_is_not_in_the_file() -> None:
    outcomes = []
    for p in FILES:
        outcomes += prefix_outcomes(p) + mutation_outcomes(p)
    bad = [(o.text[-200:], ph) for o in outcomes if (ph := phantom_tokens(o))]
    assert bad == []


# --------------------------------------------------------------------------- (e) deep nesting
def _depth(node: A.Node, kind: type) -> int:
    """The longest chain of nested ``kind`` nodes under ``node`` (iteratively)."""
    best = 0
    stack = [(node, 0)]
    while stack:
        n, d = stack.pop()
        d = d + 1 if isinstance(n, kind) else d
        best = max(best, d)
        stack.extend((c, d) for c in n.children())
    return best


def _wf(body: str) -> str:
    return f'workflow W {{\n  version: "1.0.0"\n{body}\n}}\n'


@pytest.mark.parametrize("name, text, kind, depth", [
    ("200 parentheses", _wf("  timeout: " + "(" * 200 + "1" + ")" * 200), A.NumberLit, 1),
    ("1000 nested arrays", _wf("  tags: " + "[" * 1000 + "]" * 1000), A.ArrayLit, 1000),
    ("500 nested objects", _wf("  description: " + "{ a: " * 500 + "1" + " }" * 500),
     A.ObjectLit, 500),
    ("1000 unary minus", _wf("  timeout: " + "-" * 1000 + "1"), A.Unary, 1000),
    ("2000 additions", _wf("  timeout: 1" + " + 1" * 2000), A.Binary, 2000),
    ("1000 members", _wf("  timeout: a" + ".b" * 1000), A.Member, 1000),
    ("500 calls", _wf("  timeout: f" + "()" * 500), A.Call, 500),
    ("300 lambdas", _wf("  timeout: " + "".join(f"x{i} => " for i in range(300)) + "1"),
     A.Lambda, 300),
    ("100 nested ifs", _wf("  if (true) {\n" * 100 + '  task t { agent: "A" }\n' + "}\n" * 100),
     A.IfStmt, 100),
    ("100 nested parallel blocks", _wf("  parallel {\n" * 100 + "}\n" * 100), A.ParallelStmt,
     100),
    ("100 nested foreach loops",
     _wf("".join(f"  foreach v{i} in [] {{\n" for i in range(100)) + "}\n" * 100),
     A.ForeachStmt, 100),
    ("200 nested record types", "type T = " + "{ a: " * 200 + "string" + " }" * 200,
     A.RecordType, 200),
    ("an interpolation in an interpolation", _wf("  description: \"${'a${x}b'}\""),
     A.StringLit, 2),
])
def test_deep_valid_nesting(name: str, text: str, kind: type, depth: int) -> None:
    outcome = run(text, keep=True)
    assert not outcome.hang
    assert outcome.problems == []
    a = outcome.analysis
    assert a is not None
    assert a.parse.diagnostics == []  # valid syntax: no syntax diagnostic
    # nor a structure one, but the limit of expression nesting (docs/language.md, Limits)
    expression = issubclass(kind, A.Expr) and kind is not A.StringLit
    too_deep = ["TW125"] if expression and depth > 64 else []
    assert [d.code for d in a.diagnostics if d.code < "TW200"] == too_deep
    assert _depth(a.module, kind) == depth


@pytest.mark.parametrize("name, text", [
    ("500 open parentheses", _wf("  timeout: " + "(" * 500)),
    ("500 open braces", _wf("  x: " + "{" * 500)),
    ("500 open brackets", _wf("  x: " + "[" * 500)),
    ("2000 closers", _wf("  x: 1" + ")]}" * 2000)),
    ("2000 nested blocks, none closed", "workflow W {\n" + "  parallel {\n" * 2000),
    ("2000 nested ifs missing ')'", _wf("  if (a {\n" * 2000 + "}\n" * 2000)),
    ("10000 unary operators and no operand", _wf("  x: " + "!" * 10000)),
    ("10000 dots", _wf("  x: a" + "." * 10000)),
])
def test_deep_broken_nesting(name: str, text: str) -> None:
    outcome = run(text)
    assert not outcome.hang
    assert outcome.problems == []
    assert any(d.severity is Severity.ERROR for d in outcome.diagnostics)


# --------------------------------------------------------------------------- long lines
def test_a_file_on_one_line_parses_as_over_many_lines() -> None:
    """The same 2000 tasks on one line and one per line give the same program (their
    parse times are compared by bench/timing_guards.py, not here: a timing in a test fails on
    a busy machine)."""
    from twdsl.syntax.ast import dump

    tasks = [f'task t{i} {{ agent: "A" }}' for i in range(2000)]
    one = parse('workflow W { version: "1" ' + " ".join(tasks) + " }", PATH)
    many = parse('workflow W {\n version: "1"\n' + "\n".join(tasks) + "\n}", PATH)
    assert one.diagnostics == many.diagnostics == []
    assert dump(one.module, spans=False) == dump(many.module, spans=False)
