"""``twdsl check --against OLD``: a version that did not grow enough for what changed since
OLD (TW512), reported on the ``version`` field with the smallest version that is enough as
its fix.  The changes are :func:`twdsl.versions.diff.diff_workflows`'s, the rule of how much
a change needs is :mod:`twdsl.lang.semver`'s."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from twdsl.analysis import Analysis
from twdsl.codes import CODES
from twdsl.config import DEFAULT, Config
from twdsl.diagnostics import Diagnostic, Fix, TextEdit, sort_diagnostics
from twdsl.lang import semver
from twdsl.policy import apply_policy
from twdsl.syntax import ast as A
from twdsl.versions.diff import WorkflowDiff, diff_workflows
from twdsl.versions.sources import CompileError, Loader, Snapshot, Source, compile_version

CODE = CODES["TW512"]


def bump_diagnostics(analysis: Analysis, diffs: list[WorkflowDiff],
                     config: Config = DEFAULT) -> list[Diagnostic]:
    """TW512 for each workflow of ``analysis`` (the new version's) whose version is too small
    for its changes in ``diffs``, after the configuration and inline suppressions."""
    decls = {d.name.name: d for d in analysis.module.items if isinstance(d, A.WorkflowDecl)}
    out = []
    for d in diffs:
        decl = decls.get(d.workflow)
        field = decl.body.get("version") if decl is not None else None
        if d.version_ok is not False or field is None or d.old_version is None:
            continue
        deciding = [c for c in d.changes if c.breaking == d.breaking]
        n = len(deciding)
        what = f"{n} {'breaking' if d.breaking else 'compatible'} change{'s' if n != 1 else ''}"
        first = deciding[0].message.split(": ")[0] + (", …" if n > 1 else "")
        suggested = d.suggested_version
        out.append(Diagnostic(
            CODE.code, CODE.severity,
            f"version \"{d.new_version}\" of workflow '{d.workflow}' is too small: {what} "
            f"since \"{d.old_version}\" ({first}) need{'s' if n == 1 else ''} "
            f"{semver.need(d.old_version, d.bump)}; twdsl diff lists {'it' if n == 1 else 'them'}",
            field.value.span,
            fix=Fix(f"write \"{suggested}\"", (TextEdit(field.value.span, f'"{suggested}"'),))))
    return apply_policy(out, config, analysis.parse.comments, analysis.source.text)


def check_against(new: Snapshot, old: Snapshot, config: Config = DEFAULT) -> list[Diagnostic]:
    """TW512 for the new version ``new`` (a source, analysed) against ``old``."""
    assert new.analysis is not None
    diffs = diff_workflows(old.programs, new.programs, old.locations, new.locations)
    return bump_diagnostics(new.analysis, diffs, config)


def check_text_against(text: str, old_text: str, path: str = "new.twdsl",
                       config: Config = DEFAULT) -> list[Diagnostic]:
    """Every diagnostic of ``text`` as ``twdsl check --against`` reports it, ``old_text``
    being the old version (a file on its own: imports are not followed).  The examples of
    TW512 in twdsl/codes.py are checked with it."""
    from twdsl.project import Project

    def nothing(_: str) -> None:
        return None

    analysis = Project({path: text}, nothing).analysis(path, config)
    if not analysis.ok:
        return analysis.diagnostics
    new = compile_version(Source(path, path, text, nothing), config)
    old = compile_version(Source("old.twdsl", "old.twdsl", old_text, nothing), config)
    return sort_diagnostics(analysis.diagnostics + check_against(new, old, config))


def against_files(old_of: Callable[[str], Source | None], files: Mapping[str, str],
                  analyses: Mapping[str, Analysis], config_for: Callable[[str], Config],
                  load: Loader) -> dict[str, list[Diagnostic]]:
    """TW512 for each checked file (path → text, and its analysis) against its old version
    (``old_of``, :func:`twdsl.versions.sources.against`).  A file with errors, or that the
    old version does not have, is not compared.  CompileError or SourceError when an old
    version cannot be read or has errors."""
    compiled: dict[str, Snapshot] = {}
    out: dict[str, list[Diagnostic]] = {}
    for path, text in files.items():
        analysis = analyses[path]
        if not analysis.ok:
            continue
        old = old_of(path)
        if old is None:
            continue
        config = config_for(path)
        if old.label not in compiled:
            compiled[old.label] = compile_version(old, config)
        try:
            new = compile_version(Source(path, path, text, load, disk=Path(path)), config)
        except CompileError:  # it checks, and does not compile: `twdsl compile` says why
            continue
        out[path] = check_against(new, compiled[old.label], config)
    return out
