"""``twdsl submit``: queue a run for the workers (docs/scale-out.md).

Exit codes (docs/cli.md): 0 queued (its id on stdout), 2 a usage, compile or input error, or a
store that cannot be used.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from twdsl.cli.common import EXIT_OK, program_options
from twdsl.cli.run import Stop, config_for, load_program, read_inputs
from twdsl.cli.state import STATE_HELP, StateStop, open_state, report_problems

_QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")


def queue_name(ctx: click.Context | None, param: click.Parameter | None, value: str) -> str:
    """A queue's name: letters, digits, ``_ . : -``, at most 100 characters."""
    if not _QUEUE_NAME.fullmatch(value):
        raise click.BadParameter(f"{value!r}: a queue's name is letters, digits and _ . : - "
                                 "(at most 100, starting with a letter or digit)")
    return value


@click.command("submit")
@click.argument("file", metavar="FILE")
@program_options("Use this twdsl.toml or pyproject.toml (for the compile).")
@click.option("--state", "state", default=None, metavar="PATH|URL", help=STATE_HELP)
@click.option("--queue", "-q", default="default", show_default=True, callback=queue_name,
              help="The queue it waits in (workers serve the queues they are told).")
@click.option("--priority", "-p", type=click.IntRange(-1000, 1000), default=0,
              show_default=True, help="Higher starts sooner; waiting raises it by one a "
              "minute (docs/scale-out.md).")
def submit_command(file: str, pairs: tuple[str, ...], inputs_file: str | None,
                   workflow: str | None, optimize: int, config_path: str | None,
                   state: str | None, queue: str, priority: int) -> None:
    """Queue a run of a workflow for the workers; print its id."""
    from twdsl.lang.values import to_json
    from twdsl.runtime.store import StoreError, new_run_id

    try:
        config = config_for(Path(file), config_path)
        program = load_program(file, workflow, optimize, config)
        inputs = read_inputs(program, pairs, inputs_file)
        store = open_state(state, config, create=True)
        try:
            run = store.create_run(
                new_run_id(store.clock()), program.workflow, version=program.version,
                source_path=program.source, ir=program.to_json(), inputs=to_json(inputs),
                status="pending", queue=queue, priority=priority)
        except StoreError as e:
            raise Stop(2, f"twdsl: {e}") from None
        finally:
            store.close()
    except (Stop, StateStop) as stop:
        report_problems()
        if stop.message:
            click.echo(stop.message, err=True)
        sys.exit(stop.code)
    click.echo(run.id)
    click.echo(f"twdsl: run {run.id} of {program.workflow} waits in queue {queue} "
               f"(priority {priority}) in {store.where}", err=True)
    sys.exit(EXIT_OK)
