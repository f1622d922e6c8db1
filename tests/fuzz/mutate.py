"""Mutations of the corpus (tests/fixtures and examples): byte-level and token-level, and
comments inserted at token boundaries."""

from __future__ import annotations

import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_TOKEN = re.compile(r'/\*.*?\*/|//[^\n]*|"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"'
                    r"|'(?:[^'\\\n]|\\.)*'|\s+|[A-Za-z0-9_.]+|=>|->|==|!=|<=|>=|&&|\|\||\?\?|.",
                    re.S)
INTERESTING = ["{", "}", "[", "]", "(", ")", ",", ":", ";", "=", "=>", "->", "?", "??", ".",
               "-", "!", "+", '"', "'", '"""', "${", "/*", "*/", "//", "\\", "task", "workflow",
               "if", "else", "switch", "case", "default", "foreach", "in", "while", "use",
               "parallel", "sequence", "template", "extends", "import", "export", "agent",
               "input", "output", "type", "where", "null", "true", "1e5", "9" * 30, "\x00",
               "\t", "\r\n", "\u2028", "\ufeff", "é", "\U0001F600", " ", "\n"]


def corpus() -> list[tuple[str, str]]:
    """Every .twdsl file of tests/fixtures and examples/, as (path, text), sorted."""
    paths = sorted({*ROOT.glob("examples/*.twdsl"), *ROOT.glob("tests/fixtures/**/*.twdsl")})
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in paths]


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def byte_mutation(text: str, rng: random.Random) -> str:
    """Flip, insert, delete or repeat bytes (decoded back with replacement)."""
    data = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 8)):
        if not data:
            data += b"{"
        i = rng.randrange(len(data))
        r = rng.randrange(6)
        if r == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif r == 1:
            data.insert(i, rng.randrange(256))
        elif r == 2:
            del data[i:i + rng.randint(1, 16)]
        elif r == 3:
            j = rng.randrange(len(data))
            data[i:i] = data[j:j + rng.randint(1, 64)]
        elif r == 4:
            data[i:i] = rng.choice(INTERESTING).encode("utf-8")
        else:
            data[i] = rng.choice(b"{}[]():,\"'\\/*\n")
    return data.decode("utf-8", "replace")


def token_mutation(text: str, rng: random.Random, donors: list[str]) -> str:
    """Delete, duplicate, swap or replace tokens; splice tokens from another corpus file."""
    toks = tokens(text) or ["workflow"]
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(toks))
        r = rng.randrange(7)
        if r == 0:
            del toks[i:i + rng.randint(1, 4)]
        elif r == 1:
            toks[i:i] = toks[i:i + rng.randint(1, 20)]
        elif r == 2:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
        elif r == 3:
            toks[i] = rng.choice(INTERESTING)
        elif r == 4:
            donor = tokens(rng.choice(donors))
            if donor:
                k = rng.randrange(len(donor))
                toks[i:i] = donor[k:k + rng.randint(1, 40)]
        elif r == 5:  # repeat a bracketed region: deeper nesting
            toks[i:i] = toks[i:i + rng.randint(1, 10)] * rng.randint(2, 30)
        else:
            if toks:
                toks.insert(i, rng.choice([" /* c */ ", " // c\n"]))
    if not toks:
        return ""
    return "".join(toks)


def boundaries(text: str) -> list[int]:
    """Where a comment may go, for every token boundary of twdsl's lexer (the gap between
    two tokens, and the file's start and end): right after the token before the gap, and
    when the gap holds a line break, right before the token after it too."""
    from twdsl.syntax.lexer import tokenize

    toks, _, _ = tokenize(text, "x")
    out = {0, len(text)}
    for a, b in zip(toks, toks[1:], strict=False):
        out.add(a.end)
        if "\n" in text[a.end:b.start]:
            out.add(b.start)
    if toks:
        out.add(toks[-1].end)
    return sorted(out)


COMMENTS = [" /* keep */ ", " // keep\n"]


def with_comment(text: str, at: int, comment: str) -> str:
    return text[:at] + comment + text[at:]


WRAPPERS = [
    ("parallel {\n", "\n}"), ("sequence {\n", "\n}"), ("if (true) {\n", "\n}"),
    ("if (false) {\n}\nelse {\n", "\n}"), ("foreach it in [1, 2] {\n", "\n}"),
    ("parallel { max_concurrency: 1 fail_fast: false\n", "\n}"),
    ("foreach it, i in [\"a\"] { parallel: true\n", "\n}"),
    ("while (false) { max_iterations: 2\n", "\n}"),
    ("switch (1) { case 1:\n", "\n default: }"),
]
TASK_FIELDS = ["on_error: skip", "on_error: continue", "retry: 2", "timeout: 5s", "when: true",
               "priority: 3", "cache: true", 'description: "d"',
               "on_error: { retry: 1, then: continue }", "retry: { attempts: 2, delay: 10ms }",
               "on_success { }"]


def structural_mutation(text: str, rng: random.Random) -> str:
    """A valid file kept (mostly) valid: statements wrapped in parallel, sequence, if,
    foreach, while or switch blocks, and fields added to tasks; so that the checker passes
    and the compiler's back half (lowering, passes, IR) sees new shapes."""
    from twdsl import parse
    from twdsl.syntax import ast as A

    for _ in range(rng.randint(1, 4)):
        result = parse(text, "m.twdsl")
        stmts = [n for n in result.module.walk() if isinstance(n, A.Stmt)]
        tasks = [n for n in stmts if isinstance(n, A.TaskStmt) and n.body is not None]
        if not stmts:
            return text
        if tasks and rng.random() < 0.4:
            t = rng.choice(tasks)
            assert t.body is not None
            at = t.body.span.start + 1
            text = text[:at] + "\n" + rng.choice(TASK_FIELDS) + "\n" + text[at:]
            continue
        s = rng.choice(stmts)
        head, tail = rng.choice(WRAPPERS)
        text = (text[:s.span.start] + head + text[s.span.start:s.span.end] + tail
                + text[s.span.end:])
    return text
