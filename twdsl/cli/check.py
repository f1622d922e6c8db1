"""``twdsl check``: parse and check files and folders as one project, print the diagnostics
(text, JSON, SARIF or GitHub annotations), optionally fixing what can be fixed first."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from twdsl.analysis import Analysis, analyze
from twdsl.cli import baseline as baselines
from twdsl.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    SUFFIX,
    Configs,
    InputFile,
    UsageError,
    collect,
    colour,
    fail,
    internal_error,
    load_import,
    read_input,
    refuse_reading_as_output,
    write_text,
)
from twdsl.config import Config, ConfigError
from twdsl.diagnostics import Diagnostic, Severity, render_text, sort_diagnostics
from twdsl.fix import apply_fixes
from twdsl.project import analyze_project
from twdsl.report import find_code, render_explain, suggest_codes, to_github, to_sarif


@click.command("check")
@click.argument("paths", nargs=-1, metavar="PATHS...")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif", "github"]),
              default="text", show_default=True,
              help="How to print diagnostics: text for people, json for scripts, sarif for "
                   "code scanning, github for annotations in GitHub Actions.")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too.")
@click.option("--explain", metavar="CODE",
              help="Print the documentation of a diagnostic code (e.g. TW111 or "
                   "unclosed-bracket) and exit; takes no PATHS.")
@click.option("--fix", "fix", is_flag=True,
              help="Apply the mechanical fixes diagnostics carry (misspelt names and fields, "
                   "'=' for ':'), rewrite and format the fixed files in place, then report "
                   "what remains.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Use this twdsl.toml (or pyproject.toml with [tool.twdsl]) instead of the "
                   "nearest one above each file.")
@click.option("--baseline", "baseline", type=click.Path(dir_okay=False), default=None,
              help="Report only findings this baseline file does not record (see "
                   "--write-baseline).")
@click.option("--write-baseline", "write_baseline", type=click.Path(dir_okay=False),
              default=None, help="Record every finding in this baseline file and exit 0.")
@click.option("--against", "against", metavar="OLD", default=None,
              help="Also report a version that did not grow enough for what changed since OLD "
                   "(TW512, docs/versions.md): a file, REV:path, or a git revision REV (each "
                   "file as REV holds it).")
@click.pass_context
def check_command(ctx: click.Context, paths: tuple[str, ...], fmt: str, strict: bool,
                  explain: str | None, fix: bool, config_path: str | None,
                  baseline: str | None, write_baseline: str | None,
                  against: str | None) -> None:
    """Parse and check TWDSL files and folders (folders: every *.twdsl inside).

    With --fix, fixable diagnostics are fixed in the files first (each changed file is
    named on stderr) and the diagnostics that remain are reported.  With --baseline, findings
    the baseline records are not reported (docs/cli.md, Baselines).

    Exit status: 0 no errors (with --fix: none left), 1 errors found (or warnings with
    --strict), 2 unreadable path, unwritable file or usage error, 3 internal error.
    """
    if explain is not None:
        if paths:
            raise click.UsageError("--explain takes no PATHS", ctx=ctx)
        _explain(explain)
    if not paths:
        param = next(p for p in ctx.command.params if p.name == "paths")
        raise click.MissingParameter(ctx=ctx, param=param)
    try:
        files = [read_input(p) for p in collect(paths)]
    except UsageError as e:
        fail(str(e))
    if not files:
        fail(f"no {SUFFIX} files found in {', '.join(paths)}")
    if write_baseline is not None:
        refuse_reading_as_output(write_baseline, [f.path for f in files], "--write-baseline")
    configs = Configs(config_path)
    try:
        for f in files:
            configs.for_file(f.path)  # a broken configuration stops the check before anything
    except ConfigError as e:
        fail(str(e))
    if fix:
        files = [_fix_file(f, configs.for_file(f.path)) for f in files]
    try:
        analyses = analyze_project({f.path: f.text for f in files}, load_import, configs.for_file)
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(", ".join(f.path for f in files), exc)
    extra = _against(against, files, analyses, configs) if against is not None else {}
    results = [(f, analyses[f.path].source,
                sort_diagnostics(analyses[f.path].diagnostics + extra.get(f.path, [])))
               for f in files]
    all_diags = [d for _, _, ds in results for d in ds]
    sources = {source.path: source for _, source, _ in results}
    if write_baseline is not None:
        try:
            n = baselines.write(Path(write_baseline), all_diags, sources)
        except baselines.BaselineError as e:
            fail(str(e))
        click.echo(f"wrote {write_baseline}: {n} finding{'s' if n != 1 else ''} recorded",
                   err=True)
        sys.exit(EXIT_OK)
    note = ""
    if baseline is not None:
        try:
            kept = baselines.apply(Path(baseline), all_diags, sources)
        except baselines.BaselineError as e:
            fail(str(e))
        keep = set(map(id, kept.diagnostics))
        results = [(f, src, [d for d in ds if id(d) in keep]) for f, src, ds in results]
        all_diags = kept.diagnostics
        note = f"; {kept.suppressed} in the baseline"
        if kept.stale:
            note += (f" ({kept.stale} baseline entr{'ies' if kept.stale != 1 else 'y'} no "
                     "longer found: write it again with --write-baseline)")
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in all_diags], indent=2, ensure_ascii=False))
    elif fmt == "sarif":
        log = to_sarif(all_diags, Path.cwd(), sources, information_uri=_homepage())
        click.echo(json.dumps(log, indent=2, ensure_ascii=False))
    elif fmt == "github":
        if all_diags:
            click.echo(to_github(all_diags))
    else:
        for _, source, ds in results:
            for d in ds:
                click.echo(colour(render_text(d, source), d.severity))
        _summary(all_diags, len(files), note)
    errors = sum(d.severity is Severity.ERROR for d in all_diags)
    warnings = sum(d.severity is Severity.WARNING for d in all_diags)
    sys.exit(EXIT_FINDINGS if errors or (strict and warnings) else EXIT_OK)




def _against(spec: str, files: list[InputFile], analyses: dict[str, Analysis],
             configs: Configs) -> dict[str, list[Diagnostic]]:
    """TW512 for each file against its old version (docs/versions.md)."""
    from twdsl.cli.diff import show_compile_error
    from twdsl.versions.against import against_files
    from twdsl.versions.sources import CompileError, SourceError, against

    try:
        return against_files(against(spec), {f.path: f.text for f in files}, analyses,
                             configs.for_file, load_import)
    except CompileError as e:
        show_compile_error(e)
    except (SourceError, ConfigError) as e:
        fail(str(e))
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(spec, exc)


def _fix_file(f: InputFile, config: Config) -> InputFile:
    """Fix one file in place (when anything changes); return its new text."""
    try:
        result = apply_fixes(f.text, f.path, analyzer=lambda t, p: analyze(t, p, config))
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(f.path, exc)
    for r in result.rejected:
        click.echo(f"twdsl: warning: {f.path}:{r.line}:{r.column}: fix not applied: "
                   f"{r.title} ({r.code}): {r.reason}", err=True)
    if result.changed:
        try:
            write_text(f.path, result.text, f.crlf)
        except OSError as e:
            fail(f"cannot write '{f.path}': {e.strerror}")
        n = len(result.applied)
        click.echo(f"fixed {f.path} ({n} fix{'es' if n != 1 else ''})", err=True)
    return InputFile(f.path, result.text, f.crlf)


def _explain(query: str) -> None:
    code = find_code(query)
    if code is not None:
        click.echo(render_explain(code))
        sys.exit(EXIT_OK)
    names = [f"{c.code} ({c.name})" for c in suggest_codes(query)]
    if names:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        hint = f"; did you mean {listed}?"
    else:
        hint = "; the codes are listed in docs/rules.md"
    fail(f"unknown diagnostic code '{query}'{hint}")


def _homepage() -> str | None:
    """The project's home page from the installed package's metadata, if it names one."""
    from importlib.metadata import PackageNotFoundError, metadata  # 14 ms: SARIF only

    try:
        meta = metadata("twdsl")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "repository", "source"):
            return url.strip()
    return next(iter(meta.get_all("Home-page") or []), None)


def _summary(diags: list[Diagnostic], nfiles: int, note: str = "") -> None:
    counts: dict[str, int] = {}
    for d in diags:
        counts[d.severity.value] = counts.get(d.severity.value, 0) + 1
    files = f"{nfiles} file{'s' if nfiles != 1 else ''}"
    if not counts:
        click.echo(f"checked {files}: no problems{note}", err=True)
        return
    parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in sorted(counts.items())]
    click.echo(f"checked {files}: {', '.join(parts)}{note}", err=True)


