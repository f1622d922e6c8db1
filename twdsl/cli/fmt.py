"""``twdsl fmt``: format files in place, check or diff the formatting, or filter stdin."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator

import click

from twdsl.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    SUFFIX,
    UsageError,
    collect,
    decode_input,
    fail,
    internal_error,
    read_input,
    write_text,
)
from twdsl.diagnostics import Severity, render_text
from twdsl.formatter import FormatError, format_parsed
from twdsl.syntax.parser import parse


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True)
@click.option("--check", "check_only", is_flag=True,
              help="Change nothing; list the files that would change (exit 1 if any).")
@click.option("--diff", is_flag=True,
              help="Change nothing; print a unified diff of the changes (exit 1 if any).")
def fmt_command(paths: tuple[str, ...], check_only: bool, diff: bool) -> None:
    """Format TWDSL files in place ('-' reads standard input and writes standard output).

    Exit status: 0 formatted or nothing to change, 1 --check/--diff found changes,
    2 a file does not parse (or nests beyond the formatter's limits), or a usage error.
    """
    stdin = paths == ("-",)
    raw = sys.stdin.buffer.read() if stdin else b""
    try:
        if stdin:  # read as a file is read: UTF-8, a BOM dropped, CRLF kept
            files = [decode_input("<stdin>", raw)]
        elif "-" in paths:
            raise UsageError("'-' (standard input) cannot be combined with paths")
        else:
            files = [read_input(p) for p in collect(paths)]
    except UsageError as e:
        if stdin and not (check_only or diff):
            _pass_through(raw)
        fail(str(e))
    if not files:
        fail(f"no {SUFFIX} files found in {', '.join(paths)}")
    changed = unparsable = 0
    for f in files:
        try:
            result = parse(f.text, f.path)
            errors = [d for d in result.diagnostics if d.severity is Severity.ERROR]
            formatted = None if errors else format_parsed(result)
        except FormatError as e:  # parsed, but nested beyond the formatter's limits
            click.echo(f"twdsl: error: {e}", err=True)
            if stdin and not (check_only or diff):
                _pass_through(raw)
            unparsable += 1
            continue
        except Exception as exc:
            internal_error(f.path, exc)
        if formatted is None:
            unparsable += 1
            for d in errors:
                click.echo(render_text(d, result.source), err=True)
            click.echo(f"twdsl: error: cannot format {f.path}: it has syntax errors "
                       "(fix them, then run twdsl fmt again)", err=True)
            if stdin and not (check_only or diff):
                _pass_through(raw)
            continue
        if formatted == f.text:
            if stdin and not (check_only or diff):
                _pass_through(_encoded(formatted, f.crlf))
            continue
        changed += 1
        if diff:
            click.echo("".join(_unified(f.text, formatted, f.path)), nl=False)
        elif check_only:
            click.echo(f"would reformat {f.path}")
        elif stdin:
            _pass_through(_encoded(formatted, f.crlf))
        else:
            try:
                write_text(f.path, formatted, f.crlf)
            except OSError as e:
                fail(f"cannot write '{f.path}': {e.strerror}")
            click.echo(f"reformatted {f.path}", err=True)
    if unparsable:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_FINDINGS if changed and (check_only or diff) else EXIT_OK)


def _encoded(text: str, crlf: bool) -> bytes:
    return (text.replace("\n", "\r\n") if crlf else text).encode("utf-8")


def _pass_through(data: bytes) -> None:
    """``data`` to standard output as bytes: a pipe gets exactly what it should."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _unified(old: str, new: str, path: str) -> Iterator[str]:
    return difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                fromfile=f"{path}", tofile=f"{path} (formatted)")
