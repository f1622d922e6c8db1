"""``twdsl compile`` and ``twdsl graph``: the compiler's front doors (docs/cli.md).

Both read one file, compile one of its workflows (twdsl.compiler) and write what came out:
the IR as JSON, or the graph as Mermaid, Graphviz dot, SVG or PNG.  Errors in the file are
printed like ``twdsl check`` prints them (exit 1); a bad path, option or workflow name is a
usage error (exit 2); a broken IR invariant is a bug in twdsl (exit 3).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import click

from twdsl.cli.common import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_USAGE,
    Configs,
    UsageError,
    colour,
    fail,
    internal_error,
    load_import,
    read_input,
    refuse_reading_as_output,
    write_output,
)
from twdsl.compiler import Compilation, WorkflowChoiceError, compile_source
from twdsl.config import ConfigError
from twdsl.diagnostics import Severity, render_text
from twdsl.ir import render
from twdsl.ir.model import Program
from twdsl.ir.validate import IRInvariantError
from twdsl.source import SourceFile

_LEVEL = click.IntRange(0, 1)  # -O 7 is a usage error, not silently -O1


def _compile(path: str, workflow: str | None, level: int, config_path: str | None) -> Program:
    """The optimized program of ``path``, or exit with the errors / usage problem."""
    try:
        f = read_input(path)
        config = Configs(config_path).for_file(path)
    except (UsageError, ConfigError) as e:
        fail(str(e))
    try:
        c: Compilation = compile_source(f.text, f.path, workflow, level, config, load_import)
    except WorkflowChoiceError as e:
        fail(str(e))
    except IRInvariantError as e:
        click.echo(f"twdsl: {e}", err=True)
        sys.exit(EXIT_INTERNAL)
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(path, exc)
    if c.program is None:
        source = SourceFile(f.path, f.text)
        errors = [d for d in c.diagnostics if d.severity is Severity.ERROR]
        for d in errors:
            click.echo(colour(render_text(d, source if d.span.file == f.path else None),
                               d.severity), err=True)
        n = len(errors)
        click.echo(f"{f.path}: {n} error{'s' if n != 1 else ''}; nothing compiled", err=True)
        sys.exit(EXIT_FINDINGS)
    return c.program


def _write(path: str, data: bytes) -> None:
    """Write an output file safely (``write_output``), or exit 2 saying why not."""
    try:
        write_output(path, data)
    except OSError as e:
        fail(f"cannot write '{path}': {e.strerror or e}")


def explain_lines(program: Program) -> list[str]:
    """What ``--explain`` prints: each change as ``file:line:col: [pass] message``."""
    if program.optimization == 0:
        return ["-O0: no optimizer pass ran"]
    if not program.changes:
        return [f"-O{program.optimization}: no pass changed anything"]
    out = []
    for c in program.changes:
        where = str(c.src) if c.src is not None else program.source
        node = f" ({c.node})" if c.node else ""
        out.append(f"{where}: [{c.pass_name}]{node} {c.message}")
    return out


@click.command("compile")
@click.argument("file", metavar="FILE")
@click.option("-o", "--output", metavar="OUT", default=None,
              help="Write the IR to OUT (replaced in one step) instead of stdout.")
@click.option("-O", "--optimize", "level", type=_LEVEL, default=1, show_default=True,
              metavar="N", help="Optimization level: 0 runs no pass, 1 every safe pass.")
@click.option("--workflow", metavar="NAME", default=None,
              help="The workflow to compile, when the file has several.")
@click.option("--explain", is_flag=True,
              help="List what each optimizer pass changed, and why, on stderr.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Use this configuration file instead of the nearest twdsl.toml.")
def compile_command(file: str, output: str | None, level: int, workflow: str | None,
                    explain: bool, config_path: str | None) -> None:
    """Compile FILE to the IR, as JSON (docs/ir.md).

    Exit status: 0 compiled, 1 errors in the file, 2 usage error, 3 internal error.
    """
    if output is not None:
        refuse_reading_as_output(output, [file], "-o/--output")
    program = _compile(file, workflow, level, config_path)
    try:
        text = program.to_json()
    except Exception as exc:  # e.g. nested deeper than the JSON writer goes: exit 3
        internal_error(file, exc)
    if explain:
        for line in explain_lines(program):
            click.echo(line, err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(output, text.encode())


_FORMATS = ("mermaid", "dot", "svg", "png")


@click.command("graph")
@click.argument("file", metavar="FILE")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="mermaid",
              show_default=True, help="mermaid or dot text; svg or png through Graphviz.")
@click.option("-o", "--output", metavar="OUT", default=None,
              help="Write the picture to OUT instead of stdout.")
@click.option("-O", "--optimize", "level", type=_LEVEL, default=0, show_default=True,
              metavar="N", help="Draw the workflow after the optimizer at this level.")
@click.option("--workflow", metavar="NAME", default=None,
              help="The workflow to draw, when the file has several.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Use this configuration file instead of the nearest twdsl.toml.")
def graph_command(file: str, fmt: str, output: str | None, level: int, workflow: str | None,
                  config_path: str | None) -> None:
    """Draw FILE's workflow: tasks, branches, loops, parallel blocks, error paths.

    Exit status: 0 drawn, 1 errors in the file, 2 usage error (or Graphviz missing for
    svg/png), 3 internal error.
    """
    dot_program = shutil.which("dot") if fmt in ("svg", "png") else None
    if fmt in ("svg", "png") and dot_program is None:
        fail(f"--format {fmt} needs Graphviz's 'dot' program, which is not on PATH: install "
              "graphviz (e.g. apt install graphviz, brew install graphviz), or use "
              "--format dot and render it elsewhere", EXIT_USAGE)
    if output is not None:
        refuse_reading_as_output(output, [file], "-o/--output")
    program = _compile(file, workflow, level, config_path)
    try:
        text = render.mermaid(program) if fmt == "mermaid" else render.dot(program)
    except Exception as exc:  # a bug: say so, exit 3
        internal_error(file, exc)
    if fmt in ("mermaid", "dot"):
        data = text.encode()
    else:
        assert dot_program is not None
        done = subprocess.run([dot_program, f"-T{fmt}"], input=text.encode(),
                              capture_output=True, check=False)
        if done.returncode != 0:
            click.echo(f"twdsl: internal error: Graphviz could not render the graph "
                       f"(a bug in twdsl; please report it):\n"
                       f"{done.stderr.decode(errors='replace')}", err=True)
            sys.exit(EXIT_INTERNAL)
        data = done.stdout
    if output is not None:
        _write(output, data)
    elif fmt in ("mermaid", "dot"):
        click.echo(data.decode(), nl=False)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
