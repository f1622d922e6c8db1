"""``twdsl diff``'s three outputs: text (one line per change, like a linter), JSON (the stable
shape documented in docs/cli.md) and Markdown (a pull-request comment)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from twdsl.ir.model import SourceRef
from twdsl.lang import semver
from twdsl.versions.diff import Change, WorkflowDiff

#: the version of the JSON shape: bumped only when a field changes meaning or goes away
JSON_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Labels:
    """How the two versions are named: ``old``/``new`` as given (``HEAD~1:flows/a.twdsl``),
    and what is shown before a position's file on each side (``HEAD~1:`` for a revision)."""

    old: str
    new: str
    old_prefix: str = ""
    new_prefix: str = ""

    def where(self, c: Change) -> str:
        """``path:line:column`` of a change (the version's name when it has no position)."""
        if c.at is None:
            return self.old if c.side == "old" else self.new
        prefix = self.old_prefix if c.side == "old" else self.new_prefix
        return f"{prefix}{c.at.file}:{c.at.line}:{c.at.column}"

    def file(self, c: Change) -> str:
        if c.at is None:
            return self.old if c.side == "old" else self.new
        return (self.old_prefix if c.side == "old" else self.new_prefix) + c.at.file


def changes(diffs: list[WorkflowDiff]) -> list[Change]:
    return [c for d in diffs for c in d.changes]


def counts(diffs: list[WorkflowDiff]) -> tuple[int, int]:
    """(breaking, compatible) changes."""
    cs = changes(diffs)
    breaking = sum(c.breaking for c in cs)
    return breaking, len(cs) - breaking


def summary(diffs: list[WorkflowDiff]) -> str:
    """``2 breaking changes, 1 compatible change`` (or that nothing changed)."""
    breaking, compatible = counts(diffs)
    if not breaking and not compatible:
        return "no changes that matter to callers or to runs in flight"
    return f"{_n(breaking, 'breaking change')}, {_n(compatible, 'compatible change')}"


def version_notes(diffs: list[WorkflowDiff]) -> list[str]:
    """One sentence per workflow whose version did not grow enough for its changes."""
    out = []
    for d in diffs:
        if d.version_ok is False and d.old_version is not None:
            what = "a breaking change" if d.breaking else "a compatible change"
            out.append(f"workflow '{d.workflow}': version {d.old_version} → {d.new_version} is "
                       f"too small: {what} needs {semver.need(d.old_version, d.bump)}")
    return out


# ------------------------------------------------------------------------ text

def to_text(diffs: list[WorkflowDiff], labels: Labels) -> list[str]:
    """One line per change: ``path:line:col: breaking[input-added] message``."""
    return [f"{labels.where(c)}: {c.impact}[{c.kind}] {c.message}" for c in changes(diffs)]


# ------------------------------------------------------------------------ JSON

def to_json(diffs: list[WorkflowDiff], labels: Labels) -> dict[str, Any]:
    """The stable JSON shape (docs/cli.md, ``twdsl diff``)."""
    breaking, compatible = counts(diffs)
    return {
        "format": JSON_FORMAT,
        "old": labels.old,
        "new": labels.new,
        "breaking": breaking,
        "compatible": compatible,
        "workflows": [_workflow_json(d) for d in diffs],
        "changes": [_change_json(c, labels) for c in changes(diffs)],
    }


def _workflow_json(d: WorkflowDiff) -> dict[str, Any]:
    status = "added" if d.old is None else "removed" if d.new is None \
        else "changed" if d.changes else "unchanged"
    return {
        "name": d.workflow,
        "status": status,
        "old_version": d.old.version if d.old is not None else None,
        "new_version": d.new.version if d.new is not None else None,
        "breaking": sum(c.breaking for c in d.changes),
        "compatible": sum(not c.breaking for c in d.changes),
        "bump_needed": str(d.bump),
        "version_ok": d.version_ok,
        "suggested_version": str(d.suggested_version)
        if d.suggested_version is not None and d.old is not None and d.new is not None else None,
    }


def _change_json(c: Change, labels: Labels) -> dict[str, Any]:
    return {
        "workflow": c.workflow,
        "kind": c.kind,
        "class": str(c.impact),
        "subject": c.subject,
        "message": c.message,
        "old": c.before,
        "new": c.after,
        "location": _location(c.at, c.side, labels.file(c)),
    }


def _location(at: SourceRef | None, side: str, file: str) -> dict[str, Any]:
    if at is None:
        return {"side": side, "path": file, "line": None, "column": None, "end_line": None,
                "end_column": None}
    return {"side": side, "path": file, "line": at.line, "column": at.column,
            "end_line": at.end_line, "end_column": at.end_column}


def json_text(diffs: list[WorkflowDiff], labels: Labels) -> str:
    return json.dumps(to_json(diffs, labels), indent=2, ensure_ascii=False)


# ------------------------------------------------------------------------ Markdown

def to_markdown(diffs: list[WorkflowDiff], labels: Labels) -> str:
    """A pull-request comment: a summary line, a note per version too small, a table."""
    breaking, _ = counts(diffs)
    head = "**twdsl diff** " + f"{_code(labels.old)} → {_code(labels.new)}: {summary(diffs)}"
    out = [f"{':x:' if breaking else ':white_check_mark:'} {head}"]
    notes = version_notes(diffs)
    if notes:
        out += [""] + [f"- {_cell(n)}" for n in notes]
    cs = changes(diffs)
    if cs:
        several = len({c.workflow for c in cs}) > 1
        out += ["", "| class | change | " + ("workflow | " if several else "") + "where | what |",
                "| --- | --- | " + ("--- | " if several else "") + "--- | --- |"]
        for c in cs:
            cls = f"**{c.impact}**" if c.breaking else str(c.impact)
            wf = f"{_cell(c.workflow)} | " if several else ""
            out.append(f"| {cls} | `{c.kind}` | {wf}{_code(labels.where(c))} | "
                       f"{_cell(c.message)} |")
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    """Inline code, with a fence longer than any run of backticks inside, pipes escaped."""
    longest = count = 0
    for ch in text:
        count = count + 1 if ch == "`" else 0
        longest = max(longest, count)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|')}{pad}{fence}"


def _n(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"
