"""Which diagnostics are reported, and how severe: configuration and inline suppression.

An inline comment ``// twdsl-ignore: TW504, unused-input`` silences those codes on its own line
and, when the comment stands alone on its line, on the next line.  Syntax errors are never
silenced: nothing after them could be trusted.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

from twdsl.codes import CODES
from twdsl.config import Config
from twdsl.diagnostics import Diagnostic
from twdsl.syntax.lexer import Comment

_IGNORE = re.compile(r"twdsl-ignore:\s*([\w\-]+(?:\s*,\s*[\w\-]+)*)")
_BY_NAME = {c.name: c.code for c in CODES.values()}


def suppressions(comments: Iterable[Comment], text: str) -> dict[int, set[str]]:
    """Line number → codes silenced on it, from ``twdsl-ignore`` comments.

    >>> from twdsl.syntax.parser import parse
    >>> r = parse('workflow W {\\n  // twdsl-ignore: unused-input\\n  input { n: number }\\n}')
    >>> suppressions(r.comments, r.source.text)
    {2: {'TW504'}, 3: {'TW504'}}
    """
    out: dict[int, set[str]] = {}
    for c in comments:
        m = _IGNORE.search(c.text)
        if m is None:
            continue
        codes = {_BY_NAME.get(w.strip(), w.strip().upper()) for w in m.group(1).split(",")}
        line_start = text.rfind("\n", 0, c.span.start) + 1
        line_end = text.find("\n", c.span.end)
        after = text[c.span.end:] if line_end < 0 else text[c.span.end:line_end]
        alone = text[line_start:c.span.start].strip() == "" and after.strip() == ""
        lines = [c.span.line, c.span.end_line + 1] if alone else [c.span.end_line]
        for line in lines:
            out.setdefault(line, set()).update(codes)
    return out


def apply_policy(diags: Iterable[Diagnostic], config: Config, comments: Iterable[Comment],
                 text: str) -> list[Diagnostic]:
    """Drop ignored and silenced diagnostics; give the rest their configured severity."""
    silenced = suppressions(comments, text)
    out = []
    for d in diags:
        code = CODES.get(d.code)
        if code is not None and code.stage == "syntax":
            out.append(d)
            continue
        if d.code in silenced.get(d.span.line, ()):
            continue
        level = config.level(d.code, d.severity)
        if level is None:
            continue
        out.append(d if level is d.severity else dataclasses.replace(d, severity=level))
    return out
