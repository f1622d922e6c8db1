"""``twdsl test``: run workflow tests (``*.test.toml``) with mock agents on a virtual clock.

Each test's workflow is compiled as ``twdsl run`` compiles it (the same configuration lookup
and compile, :func:`twdsl.cli.run.load_program`), its inputs validated the same way, then run
on the real engine with mock agents and no state store (docs/testing.md).

Exit codes (docs/cli.md): 0 every test passed, 1 a test failed, 2 a usage error (a test file
that cannot be read or does not fit the format, a workflow that does not compile, a name the
workflow does not have: nothing is run), 3 a bug in twdsl.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from twdsl.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    fail,
    internal_error,
    refuse_reading_as_output,
    write_output,
)

if TYPE_CHECKING:
    from twdsl.testing.runner import Loaded


def load_workflow(file: Path, workflow: str | None) -> Loaded:
    """The test file's workflow, compiled as `twdsl run` compiles it (same configuration,
    same optimization level)."""
    from twdsl.cli.run import Stop, config_for, load_program
    from twdsl.testing.runner import Loaded, LoadError

    try:
        config = config_for(file, None)
        program = load_program(str(file), workflow, 1, config)
    except Stop as stop:
        message = (stop.message or "").removeprefix("twdsl: ")
        raise LoadError(message) from None
    return Loaded(program, config.run.get("max_concurrency") or 16)


@click.command("test")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-k", "keywords", multiple=True, metavar="TEXT",
              help="Run only the tests whose name contains TEXT (any case; repeatable: any "
                   "of them).")
@click.option("--format", "fmt", type=click.Choice(["text", "junit"]), default="text",
              show_default=True, help="The report on stdout: readable text, or JUnit XML.")
@click.option("--junit", "junit_path", type=click.Path(dir_okay=False), default=None,
              metavar="PATH", help="Also write the report as JUnit XML to PATH (for CI).")
def test_command(paths: tuple[str, ...], keywords: tuple[str, ...], fmt: str,
                 junit_path: str | None) -> None:
    """Run workflow tests: *.test.toml files, with mock agents on a virtual clock."""
    from twdsl.testing.spec import SUFFIX, SpecError, TestFile, discover, read_test_file

    start = time.perf_counter()
    try:
        found = discover(list(paths) or ["."])
    except ValueError as e:
        fail(str(e))
    if not found:
        fail(f"no test files (*{SUFFIX}) under {', '.join(paths) or 'the current folder'}")
    files: list[TestFile] = []
    problems = []
    for path in found:
        try:
            files.append(read_test_file(path))
        except SpecError as e:
            problems += e.problems
        except Exception as exc:  # a bug: say so, exit 3
            internal_error(path, exc)
    if junit_path is not None:
        refuse_reading_as_output(junit_path, [*found, *(f.target for f in files)], "--junit")
    tests = [t for f in files for t in f.tests
             if not keywords or any(k.lower() in t.name.lower() for k in keywords)]
    if not problems and not tests:
        fail(f"no test matches -k {' -k '.join(keywords)}")
    from twdsl.testing import report
    from twdsl.testing.runner import prepare, run_test

    try:
        prepared, more = prepare(files, tests, load_workflow)
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(", ".join(found), exc)
    problems += more
    if problems:
        order = {path: i for i, path in enumerate(found)}
        problems.sort(key=lambda p: (order.get(p.file, len(order)), p.line))
        for p in problems:
            click.echo(str(p), err=True)
        n = len(problems)
        click.echo(f"twdsl: {n} problem{'s' if n != 1 else ''} in the tests; nothing was run",
                   err=True)
        sys.exit(EXIT_USAGE)
    try:
        outcomes = [run_test(p) for p in prepared]
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(", ".join(found), exc)
    wall = time.perf_counter() - start
    if fmt == "junit":
        sys.stdout.buffer.write(report.junit(outcomes, wall))
        sys.stdout.flush()
    else:
        click.echo(report.text(outcomes, wall), nl=False)
    if junit_path is not None:
        try:
            write_output(junit_path, report.junit(outcomes, wall))
        except OSError as e:
            fail(f"--junit {junit_path}: cannot write it ({e.strerror})")
    sys.exit(EXIT_FINDINGS if any(o.status == "failed" for o in outcomes) else EXIT_OK)
