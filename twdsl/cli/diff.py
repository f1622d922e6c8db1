"""``twdsl diff OLD NEW``: the changes between two versions of a workflow that matter to its
callers and to its runs in flight, each breaking or compatible (docs/versions.md)."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from twdsl.cli.common import EXIT_FINDINGS, EXIT_OK, Configs, colour, fail, internal_error
from twdsl.config import DEFAULT, Config, ConfigError
from twdsl.diagnostics import render_text
from twdsl.versions import render
from twdsl.versions.diff import diff_workflows
from twdsl.versions.sources import (
    CompileError,
    Snapshot,
    Source,
    SourceError,
    compile_version,
    read_spec,
)


@click.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True,
              help="text: one line per change, like a linter; json: for scripts (docs/cli.md); "
                   "markdown: a pull-request comment.")
@click.option("--workflow", "workflow", metavar="NAME", default=None,
              help="Compare only this workflow (by default every workflow, paired by name).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Use this twdsl.toml (or pyproject.toml with [tool.twdsl]) instead of the "
                   "nearest one above each file.")
def diff_command(old: str, new: str, fmt: str, workflow: str | None,
                 config_path: str | None) -> None:
    """Compare two versions of a workflow: changes for callers and runs, breaking or compatible.

    OLD and NEW are .twdsl files, compiled .json programs, or REV:path for a file as a git
    revision holds it (`git show REV:path`: the path from the repository's top, or from the
    current folder when it starts with ./). Workflows are paired by name.

    Exit status: 0 no breaking change, 1 breaking changes, 2 usage error (a file or revision
    that cannot be read, a version with errors), 3 internal error.
    """
    try:
        sources = (read_spec(old), read_spec(new))
    except SourceError as e:
        fail(str(e))
    configs = Configs(config_path)
    try:
        olds, news = (compile_or_fail(s, _config(configs, s), workflow) for s in sources)
    except ConfigError as e:
        fail(str(e))
    if workflow is not None and workflow not in olds.programs and workflow not in news.programs:
        fail(f"no workflow named '{workflow}' in {old} or in {new}")
    try:
        diffs = diff_workflows(olds.programs, news.programs, olds.locations, news.locations)
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(f"{old} {new}", exc)
    labels = render.Labels(sources[0].label, sources[1].label, sources[0].prefix,
                           sources[1].prefix)
    if fmt == "json":
        click.echo(render.json_text(diffs, labels))
    elif fmt == "markdown":
        click.echo(render.to_markdown(diffs, labels), nl=False)
    else:
        for line in render.to_text(diffs, labels):
            click.echo(line)
        for note in render.version_notes(diffs):
            click.echo(f"note: {note}", err=True)
        click.echo(render.summary(diffs), err=True)
    breaking, _ = render.counts(diffs)
    sys.exit(EXIT_FINDINGS if breaking else EXIT_OK)


def _config(configs: Configs, source: Source) -> Config:
    return configs.for_file(str(source.disk)) if source.disk is not None else DEFAULT


def compile_or_fail(source: Source, config: Config, workflow: str | None = None) -> Snapshot:
    """``source`` compiled; its errors shown and exit 2 otherwise."""
    try:
        return compile_version(source, config, workflow)
    except CompileError as e:
        show_compile_error(e)
    except SourceError as e:
        fail(str(e))
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(source.label, exc)


def show_compile_error(e: CompileError) -> NoReturn:
    """The errors of a version that cannot be compared, on stderr, then exit 2."""
    if e.analysis is not None:
        src = e.analysis.source
        for d in e.diagnostics:
            text = render_text(d, src if d.span.file == src.path else None)
            click.echo(colour(e.prefix + text, d.severity), err=True)
    fail(str(e))
