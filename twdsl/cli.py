"""The ``twdsl`` command line: a thin front door over the analysis API and the formatter.

Exit codes follow docs/cli.md (and shared/design/interfaces.md): a user's mistake in a
file is reported as diagnostics, never as a Python traceback; a traceback means a bug
in twdsl and exits 3 with a request to report it.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, metadata
from pathlib import Path

import click

from twdsl import __version__, parse
from twdsl.analysis import analyze
from twdsl.config import DEFAULT, Config, ConfigError, find_config, load_config
from twdsl.diagnostics import Diagnostic, Severity, render_text
from twdsl.fix import apply_fixes
from twdsl.formatter import format_parsed
from twdsl.project import analyze_project
from twdsl.report import find_code, render_explain, suggest_codes, to_github, to_sarif

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
SUFFIX = ".twdsl"


class UsageError(Exception):
    """A bad path or argument: reported in one line, exit 2."""


@dataclass(slots=True)
class InputFile:
    path: str  # as shown to the user
    text: str
    crlf: bool = False


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"twdsl: error: {message}", err=True)
    sys.exit(code)


def _collect(paths: tuple[str, ...]) -> list[str]:
    """Files named, and ``*.twdsl`` files under folders named, in a stable order."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob(f"*{SUFFIX}") if f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(path).parts))
            out.extend(found)
        elif path.is_file():
            out.append(p)
        elif not path.exists():
            raise UsageError(f"'{p}' does not exist")
        else:
            raise UsageError(f"'{p}' is not a file or folder")
    return out


def _read(path: str) -> InputFile:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read '{path}': {e.strerror}") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise UsageError(f"'{path}' is not UTF-8 text (invalid byte at line {line}); "
                         "save it as UTF-8") from e
    crlf = "\r\n" in text
    return InputFile(path, text.replace("\r\n", "\n") if crlf else text, crlf)


def _internal(path: str, exc: BaseException) -> None:
    click.echo(f"twdsl: internal error while processing {path}: {exc!r}\n"
               "This is a bug in twdsl, not in your file; please report it with the file "
               "and this trace:", err=True)
    click.echo("".join(traceback.format_exception(exc)), err=True)
    sys.exit(EXIT_INTERNAL)


class _LazyGroup(click.Group):
    """Commands whose modules are imported only when used: `twdsl check` should not pay
    for the compiler and the runtime."""

    lazy = {"run": "twdsl.cli_run:run_command",
            "runs": "twdsl.cli_runs:runs_group",
            "stats": "twdsl.cli_runs:stats_command",
            "cache": "twdsl.cli_runs:cache_group",
            "compile": "twdsl.cli_compile:compile_command",
            "graph": "twdsl.cli_compile:graph_command"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            import importlib

            module, attr = self.lazy[name].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="twdsl", message="%(prog)s %(version)s")
def main() -> None:
    """twdsl: check, format, compile and run TWDSL workflows, and steer their runs."""


# ------------------------------------------------------------------------ check
@main.command()
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
@click.pass_context
def check(ctx: click.Context, paths: tuple[str, ...], fmt: str, strict: bool,
          explain: str | None, fix: bool, config_path: str | None) -> None:
    """Parse and check TWDSL files and folders (folders: every *.twdsl inside).

    With --fix, fixable diagnostics are fixed in the files first (each changed file is
    named on stderr) and the diagnostics that remain are reported.

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
        files = [_read(p) for p in _collect(paths)]
    except UsageError as e:
        _fail(str(e))
    if not files:
        _fail(f"no {SUFFIX} files found in {', '.join(paths)}")
    configs = _Configs(config_path)
    try:
        for f in files:
            configs.for_file(f.path)  # a broken configuration stops the check before anything
    except ConfigError as e:
        _fail(str(e))
    if fix:
        files = [_fix_file(f, configs.for_file(f.path)) for f in files]
    try:
        analyses = analyze_project({f.path: f.text for f in files}, _load, configs.for_file)
    except Exception as exc:  # a bug: say so, exit 3
        _internal(", ".join(f.path for f in files), exc)
    results = [(f, analyses[f.path].source, analyses[f.path].diagnostics) for f in files]
    all_diags = [d for _, _, ds in results for d in ds]
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in all_diags], indent=2, ensure_ascii=False))
    elif fmt == "sarif":
        sources = {source.path: source for _, source, _ in results}
        log = to_sarif(all_diags, Path.cwd(), sources, information_uri=_homepage())
        click.echo(json.dumps(log, indent=2, ensure_ascii=False))
    elif fmt == "github":
        if all_diags:
            click.echo(to_github(all_diags))
    else:
        for _, source, ds in results:
            for d in ds:
                click.echo(_colour(render_text(d, source), d.severity))
        _summary(all_diags, len(files))
    errors = sum(d.severity is Severity.ERROR for d in all_diags)
    warnings = sum(d.severity is Severity.WARNING for d in all_diags)
    sys.exit(EXIT_FINDINGS if errors or (strict and warnings) else EXIT_OK)


class _Configs:
    """The configuration of each file: --config, or the nearest file above it (cached)."""

    def __init__(self, forced: str | None) -> None:
        self.forced = Path(forced) if forced else None
        self.loaded: dict[Path | None, Config] = {None: DEFAULT}

    def for_file(self, path: str) -> Config:
        where = self.forced or find_config(Path(path))
        if where not in self.loaded:
            if self.forced is not None and not self.forced.is_file():
                raise ConfigError(f"{self.forced}: no such configuration file")
            self.loaded[where] = load_config(where)  # type: ignore[arg-type]
        return self.loaded[where]


def _load(path: str) -> str | None:
    """A file an import names, read from disk (None: it cannot be read)."""
    try:
        return Path(path).read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return None


def _fix_file(f: InputFile, config: Config) -> InputFile:
    """Fix one file in place (when anything changes); return its new text."""
    try:
        result = apply_fixes(f.text, f.path, analyzer=lambda t, p: analyze(t, p, config))
    except Exception as exc:  # a bug: say so, exit 3
        _internal(f.path, exc)
    for r in result.rejected:
        click.echo(f"twdsl: warning: {f.path}:{r.line}:{r.column}: fix not applied: "
                   f"{r.title} ({r.code}): {r.reason}", err=True)
    if result.changed:
        try:
            _write_atomic(f.path, result.text, f.crlf)
        except OSError as e:
            _fail(f"cannot write '{f.path}': {e.strerror}")
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
    _fail(f"unknown diagnostic code '{query}'{hint}")


def _homepage() -> str | None:
    """The project's home page from the installed package's metadata, if it names one."""
    try:
        meta = metadata("twdsl")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "repository", "source"):
            return url.strip()
    return next(iter(meta.get_all("Home-page") or []), None)


def _colour(text: str, severity: Severity) -> str:
    if os.environ.get("NO_COLOR"):
        return text
    head, sep, rest = text.partition("\n")
    colour = {"error": "red", "warning": "yellow"}.get(severity.value, "cyan")
    return click.style(head, fg=colour, bold=True) + sep + rest


def _summary(diags: list[Diagnostic], nfiles: int) -> None:
    counts: dict[str, int] = {}
    for d in diags:
        counts[d.severity.value] = counts.get(d.severity.value, 0) + 1
    files = f"{nfiles} file{'s' if nfiles != 1 else ''}"
    if not counts:
        click.echo(f"checked {files}: no problems", err=True)
        return
    parts = [f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in sorted(counts.items())]
    click.echo(f"checked {files}: {', '.join(parts)}", err=True)


# ------------------------------------------------------------------------ fmt
@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; list the files that would change (exit 1 if any).")
@click.option("--diff", is_flag=True,
              help="Change nothing; print a unified diff of the changes (exit 1 if any).")
def fmt(paths: tuple[str, ...], check_only: bool, diff: bool) -> None:
    """Format TWDSL files in place ('-' reads standard input and writes standard output).

    Exit status: 0 formatted or nothing to change, 1 --check/--diff found changes,
    2 a file does not parse, or a usage error.
    """
    try:
        if paths == ("-",):
            files = [InputFile("<stdin>", sys.stdin.read())]
        elif "-" in paths:
            raise UsageError("'-' (standard input) cannot be combined with paths")
        else:
            files = [_read(p) for p in _collect(paths)]
    except UsageError as e:
        _fail(str(e))
    if not files:
        _fail(f"no {SUFFIX} files found in {', '.join(paths)}")
    stdin = paths == ("-",)
    changed = unparsable = 0
    for f in files:
        try:
            result = parse(f.text, f.path)
            errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
            formatted = None if errors else format_parsed(result)
        except Exception as exc:
            _internal(f.path, exc)
        if formatted is None:
            unparsable += 1
            for d in errors:
                click.echo(render_text(d, result.source), err=True)
            click.echo(f"twdsl: error: cannot format {f.path}: it has syntax errors "
                       "(fix them, then run twdsl fmt again)", err=True)
            if stdin and not (check_only or diff):
                click.echo(f.text, nl=False)  # lose nothing on a pipe
            continue
        if formatted == f.text:
            if stdin and not (check_only or diff):
                click.echo(formatted, nl=False)
            continue
        changed += 1
        if diff:
            click.echo("".join(_unified(f.text, formatted, f.path)), nl=False)
        elif check_only:
            click.echo(f"would reformat {f.path}")
        elif stdin:
            click.echo(formatted, nl=False)
        else:
            _write_atomic(f.path, formatted, f.crlf)
            click.echo(f"reformatted {f.path}", err=True)
    if unparsable:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_FINDINGS if changed and (check_only or diff) else EXIT_OK)


def _unified(old: str, new: str, path: str) -> Iterator[str]:
    return difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                fromfile=f"{path}", tofile=f"{path} (formatted)")


def _write_atomic(path: str, text: str, crlf: bool) -> None:
    """Replace the file in one step, so an interruption never leaves half a file."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\r\n" if crlf else "\n") as out:
            out.write(text)
        os.chmod(tmp, target.stat().st_mode & 0o7777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@main.command()
@click.option("--tcp", is_flag=True, help="Listen on TCP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --tcp.")
@click.option("--port", type=int, default=2087, show_default=True, help="Port for --tcp.")
def lsp(tcp: bool, host: str, port: int) -> None:
    """Run the language server (stdio by default): see docs/editors.md."""
    from twdsl.lsp.server import serve  # imported here: pygls costs start-up time elsewhere

    serve(tcp=tcp, host=host, port=port)


if __name__ == "__main__":  # pragma: no cover
    main()
