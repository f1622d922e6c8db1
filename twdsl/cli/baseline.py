"""Lint baselines: adopt ``twdsl check`` in a large project without fixing everything first.

``twdsl check --write-baseline FILE`` records every finding of today; ``twdsl check --baseline
FILE`` then reports only what is not in it, so that CI fails on new findings while the old ones
are fixed over time.  A finding is recognised by its file (relative to the baseline's folder),
its code, its message and the text of its line (trimmed), not by its line number: findings stay
recognised when lines above them are added or removed.  Identical findings are counted.  Entries
that no longer match anything are reported, so the baseline can be written again to drop them.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from twdsl.cli.common import write_output
from twdsl.diagnostics import Diagnostic
from twdsl.source import NotUTF8, SourceFile, utf8_text

FORMAT = 1
Key = tuple[str, str, str, str]  # file, code, message, line text


class BaselineError(Exception):
    """A baseline file that cannot be read or written: a message naming it."""


@dataclass(frozen=True, slots=True)
class Filtered:
    """What a baseline lets through, and how much it held back."""

    diagnostics: list[Diagnostic]
    suppressed: int
    stale: int  # entries of the baseline that matched nothing


def _key(d: Diagnostic, sources: dict[str, SourceFile], base: Path) -> Key:
    source = sources.get(d.span.file)
    line = ""
    if source is not None:
        lines = source.text.split("\n")
        if 0 < d.span.line <= len(lines):
            line = lines[d.span.line - 1].strip()
    try:
        rel = os.path.relpath(Path(d.span.file).resolve(), base.resolve())
    except ValueError:  # another drive (Windows)
        rel = d.span.file
    return (Path(rel).as_posix(), d.code, d.message, line)


def write(path: Path, diagnostics: list[Diagnostic], sources: dict[str, SourceFile]) -> int:
    """Record ``diagnostics`` in the baseline ``path``; the number of findings recorded."""
    counts = Counter(_key(d, sources, path.parent) for d in diagnostics)
    findings = [{"file": f, "code": c, "message": m, "line": t, "count": n}
                for (f, c, m, t), n in sorted(counts.items())]
    data = json.dumps({"format": FORMAT, "tool": "twdsl", "findings": findings}, indent=2,
                      ensure_ascii=False) + "\n"
    try:
        write_output(str(path), data.encode("utf-8"))
    except OSError as e:
        raise BaselineError(f"cannot write the baseline {path}: {e.strerror or e}") from None
    return sum(counts.values())


def read(path: Path) -> Counter[Key]:
    """The findings a baseline file records, counted."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BaselineError(f"no baseline at {path}: write one with "
                            f"`twdsl check --write-baseline {path} …`") from None
    except OSError as e:
        raise BaselineError(f"cannot read the baseline {path}: {e.strerror or e}") from None
    again = "write it again with --write-baseline"
    try:
        data = json.loads(utf8_text(raw))
    except NotUTF8 as e:
        raise BaselineError(f"{path}: the baseline is {e}; {again}") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"{path}:{e.lineno}:{e.colno}: the baseline is not valid JSON "
                            f"({e.msg}); {again}") from None
    except RecursionError:
        raise BaselineError(f"{path}: the baseline is nested too deeply to be one; "
                            f"{again}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            not isinstance(data.get("findings"), list):
        raise BaselineError(f"{path}: not a twdsl baseline of format {FORMAT}; write it again "
                            "with --write-baseline")
    out: Counter[Key] = Counter()
    for i, f in enumerate(data["findings"]):
        try:
            key = (str(f["file"]), str(f["code"]), str(f["message"]), str(f["line"]))
            n = int(f.get("count", 1))
        except (KeyError, TypeError, ValueError, OverflowError):
            raise BaselineError(f"{path}: finding {i + 1} lacks file, code, message or line; "
                                "write the baseline again with --write-baseline") from None
        out[key] += max(n, 0)
    return out


def apply(path: Path, diagnostics: list[Diagnostic],
          sources: dict[str, SourceFile]) -> Filtered:
    """The diagnostics the baseline at ``path`` does not record."""
    left = read(path)
    kept: list[Diagnostic] = []
    suppressed = 0
    for d in diagnostics:
        key = _key(d, sources, path.parent)
        if left[key] > 0:
            left[key] -= 1
            suppressed += 1
        else:
            kept.append(d)
    return Filtered(kept, suppressed, sum(left.values()))
