"""The ``twdsl`` command line: thin front doors over the analysis API, the compiler and the
runtime, one module per command (docs/cli.md).

The group is lazy: ``twdsl --help`` and ``twdsl --version`` import no command, and a command
imports only what it uses, so that a check in CI or pre-commit does not pay for the compiler,
the runtime or the language server.  Each command's one-line help is kept here for that
reason; ``tests/test_cli.py`` checks it against the command's own docstring.
"""

from __future__ import annotations

import errno
import importlib
import sys

import click

from twdsl import __version__

# name -> (module:attribute, the short help shown by ``twdsl --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("twdsl.cli.check:check_command",
              "Parse and check TWDSL files and folders (folders: every *.twdsl inside)."),
    "fmt": ("twdsl.cli.fmt:fmt_command",
            "Format TWDSL files in place ('-' reads standard input and writes standard output)."),
    "compile": ("twdsl.cli.compile:compile_command",
                "Compile FILE to the IR, as JSON (docs/ir.md)."),
    "diff": ("twdsl.cli.diff:diff_command",
             "Compare two versions of a workflow: changes for callers and runs, breaking or "
             "compatible."),
    "graph": ("twdsl.cli.compile:graph_command",
              "Draw FILE's workflow: tasks, branches, loops, parallel blocks, error paths."),
    "run": ("twdsl.cli.run:run_command",
            "Run a workflow: FILE is a .twdsl source or a compiled .json program."),
    "runs": ("twdsl.cli.runs:runs_group",
             "The history of runs in the state store, and control of running ones."),
    "stats": ("twdsl.cli.runs:stats_command",
              "Runs, success rate, durations (mean, p50, p95) per workflow and task, frequent..."),
    "cache": ("twdsl.cli.runs:cache_group", "The task result cache (a task's `cache` setting)."),
    "server": ("twdsl.cli.server:server_command",
               "Serve the HTTP API and the web UI, fire schedules and send notifications."),
    "token": ("twdsl.cli.token:token_group",
              "API tokens of `twdsl server`: create (shown once), list, revoke."),
    "schedules": ("twdsl.cli.schedules:schedules_group",
                  "Schedules of deployed workflows: list (the default), pause, resume, fires."),
    "debug": ("twdsl.cli.debug:debug_command",
              "Debug workflows: a Debug Adapter Protocol server on stdio (docs/debugging.md)."),
    "test": ("twdsl.cli.test:test_command",
             "Run workflow tests: *.test.toml files, with mock agents on a virtual clock."),
    "submit": ("twdsl.cli.submit:submit_command",
               "Queue a run of a workflow for the workers; print its id."),
    "worker": ("twdsl.cli.worker:worker_command",
               "Take queued runs from the state store and run them (any number of workers)."),
    "queue": ("twdsl.cli.queue:queue_command",
              "Waiting, running and paused runs per queue, the oldest wait, and throughput."),
    "lsp": ("twdsl.cli.lsp:lsp_command",
            "Run the language server (stdio by default): see docs/editors.md."),
}


#: Why output could not be written that is no bug: the disk or the quota is full
OUT_OF_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def load_command(name: str) -> click.Command:
    """The command ``name``, its module imported now."""
    module, attr = COMMANDS[name][0].split(":")
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    return command


class _LazyGroup(click.Group):
    """Commands whose modules are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            self.add_command(load_command(name), name)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> object:
        """The command; output that cannot be written for want of space (a disk filled up
        under ``> out.json``) is said in one line, exit 2, never as a traceback."""
        try:
            try:
                return super().invoke(ctx)
            finally:
                if sys.stdout is not None and not sys.stdout.closed:  # (the LSP closes it)
                    sys.stdout.flush()  # here, not at exit, where the error would be lost
        except OSError as e:
            if e.errno not in OUT_OF_SPACE:
                raise
            click.echo(f"twdsl: error: cannot write the output: {e.strerror}", err=True)
            sys.exit(2)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help`` from the table: no command module imported."""
        rows = [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="twdsl", message="%(prog)s %(version)s")
def main() -> None:
    """twdsl: check, format, compile and run TWDSL workflows, and steer their runs."""
