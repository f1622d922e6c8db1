"""``twdsl debug``: a debug adapter (the Debug Adapter Protocol on stdin and stdout) for editors
and any DAP client (docs/debugging.md).

The client's ``launch`` request names the program and its inputs; they are prepared exactly
as ``twdsl run`` prepares them (the same configuration lookup, compile, input validation and
agent bindings, from twdsl/cli/run.py), and a mistake is the launch's error, with the same
words.  The run then happens in this process (twdsl/debug).

Exit codes: 0 after the client disconnected (or closed the stream), 2 when the client's
stream is not the protocol, 3 a bug in twdsl.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any

import click

from twdsl.cli.common import EXIT_OK, EXIT_USAGE, SUFFIX, load_import

#: Launch arguments and what each must be (docs/debugging.md, "Launch configuration").
FIELDS: dict[str, str] = {
    "program": "a path", "cwd": "a path", "workflow": "a workflow name", "config": "a path",
    "inputsFile": "a path", "inputs": "an object", "input": "a list of NAME=VALUE strings",
    "optimize": "0 or 1", "stopOnEntry": "true or false", "noDebug": "true or false",
    "maxConcurrency": "a whole number of at least 1",
}


def prepare(args: dict[str, Any]) -> Any:
    """The run a ``launch`` request asks for (a :class:`twdsl.debug.Launch`); a
    :class:`twdsl.debug.LaunchError` saying what is wrong otherwise."""
    from twdsl.cli.run import Stop, agent_registry, config_for, load_program, read_inputs
    from twdsl.debug import ExpressionCompiler, Launch, LaunchError
    from twdsl.ir.validate import IRInvariantError

    def wrong(name: str) -> LaunchError:
        return LaunchError(f"launch configuration: '{name}' must be {FIELDS[name]}")

    def text(name: str, required: bool = False) -> str | None:
        v = args.get(name)
        if v is None and required:
            raise LaunchError(f"launch configuration: '{name}' is required: the {SUFFIX} "
                              "file or compiled .json program to run")
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            raise wrong(name)
        return v

    def flag(name: str) -> bool:
        v = args.get(name, False)
        if not isinstance(v, bool):
            raise wrong(name)
        return v

    cwd = text("cwd")
    if cwd is not None:
        try:
            os.chdir(cwd)
        except OSError as e:
            raise LaunchError(f"launch configuration: cwd {cwd}: {e.strerror}") from None
    program_path = text("program", required=True)
    assert program_path is not None
    optimize = args.get("optimize", 0)
    if optimize not in (0, 1) or isinstance(optimize, bool):
        raise wrong("optimize")
    limit = args.get("maxConcurrency")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                              or limit < 1):
        raise wrong("maxConcurrency")
    given = args.get("inputs")
    if given is not None and not isinstance(given, dict):
        raise wrong("inputs")
    pairs = args.get("input", [])
    if not isinstance(pairs, list) or not all(isinstance(p, str) for p in pairs):
        raise wrong("input")
    workflow, config_path, inputs_file = text("workflow"), text("config"), text("inputsFile")
    stop_on_entry, no_debug = flag("stopOnEntry"), flag("noDebug")

    said = io.StringIO()  # what `twdsl run` would print on stderr: the compile's errors
    try:
        with contextlib.redirect_stderr(said):
            config = config_for(Path(program_path), config_path)
            program = load_program(program_path, workflow, optimize, config)
            inputs = read_inputs(program, tuple(pairs), inputs_file, given)
            registry = agent_registry(program, config)
    except Stop as stop:
        raise LaunchError((said.getvalue() + (stop.message or "")).strip()) from None
    except IRInvariantError as e:
        raise LaunchError(f"internal error (a bug in twdsl, please report it): {e}") from None
    source, where = _source_text(program_path, program.source)
    expressions = ExpressionCompiler.for_program(program, source, config, os.getcwd(), where)
    return Launch(program=program, inputs=inputs, agents=registry, expressions=expressions,
                  cwd=os.getcwd(),
                  max_concurrency=limit or config.run.get("max_concurrency") or 16,
                  stop_on_entry=stop_on_entry, no_debug=no_debug)


def _source_text(program_path: str, source: str) -> tuple[str | None, str]:
    """The entry file's text, for compiling expressions: the program's own file, or, for a
    compiled .json, the source it names (as it was compiled: relative to the folder the run
    happens in)."""
    path = Path(program_path) if Path(program_path).suffix == SUFFIX else Path(source)
    text = load_import(str(path))  # read as it was compiled: a BOM dropped, CRLF as LF
    return (text, str(path)) if text is not None else (None, source)


@click.command("debug")
def debug_command() -> None:
    """Debug workflows: a Debug Adapter Protocol server on stdio (docs/debugging.md)."""
    from twdsl.debug import serve_stdio

    if sys.stdin.isatty():
        click.echo("twdsl debug speaks the Debug Adapter Protocol on stdin and stdout: start "
                   "it from an editor or a DAP client (docs/debugging.md)", err=True)
        sys.exit(EXIT_USAGE)
    errors = serve_stdio(prepare)
    for e in errors:
        click.echo(f"twdsl debug: the client's stream is not the Debug Adapter Protocol: {e}",
                   err=True)
    sys.exit(EXIT_USAGE if errors else EXIT_OK)
