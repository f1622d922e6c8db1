"""``twdsl schedules [list|pause|resume|fires]``: the schedules `twdsl server` fires (the
workflows deployed with a ``schedule``), in the state store's database (docs/server.md).

A change is seen by a running server within a second.  Exit codes: 0 done, 1 no such
schedule, 2 usage.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

import click

from twdsl.cli.common import EXIT_FINDINGS, EXIT_OK, MAX_LIMIT
from twdsl.cli.token import STATE_HELP, open_server_db


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _rows(db: Any) -> list[dict[str, Any]]:
    from twdsl.lint.schedule import ScheduleError, parse_schedule

    now = time.time()
    out = []
    for s in db.schedules():
        try:
            nxt = None if s.paused else parse_schedule(s.expr).after(now)
        except ScheduleError:
            nxt = None
        fires = db.fires(s.workflow, limit=1)
        out.append({"workflow": s.workflow, "schedule": s.expr, "paused": s.paused,
                    "missed": s.missed, "next_fire": nxt,
                    "last_fire": fires[0].occurrence if fires else None,
                    "last_run": fires[0].run_id if fires else None})
    return out


@click.group("schedules", invoke_without_command=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--state", "state", default=None, help=STATE_HELP)
@click.pass_context
def schedules_group(ctx: click.Context, fmt: str, state: str | None) -> None:
    """Schedules of deployed workflows: list (the default), pause, resume, fires."""
    if ctx.invoked_subcommand is None:
        _list(fmt, state)


def _list(fmt: str, state: str | None) -> None:
    rows = _rows(open_server_db(state))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        sys.exit(EXIT_OK)
    if not rows:
        click.echo("no schedules (deploy a workflow with a `schedule` to `twdsl server`)")
        sys.exit(EXIT_OK)
    table = [("WORKFLOW", "SCHEDULE", "STATE", "MISSED", "NEXT", "LAST")]
    table += [(r["workflow"], r["schedule"], "paused" if r["paused"] else "active", r["missed"],
               _when(r["next_fire"]), _when(r["last_fire"])) for r in rows]
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    for t in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())
    sys.exit(EXIT_OK)


@schedules_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--state", "state", default=None, help=STATE_HELP)
def schedules_list(fmt: str, state: str | None) -> None:
    """List schedules: expression, state, missed-fire policy, next and last fire."""
    _list(fmt, state)


def _set(workflow: str, state: str | None, **change: Any) -> None:
    db = open_server_db(state)
    if not db.update_schedule(workflow, **change):
        _no_schedule(workflow)


def _no_schedule(workflow: str) -> NoReturn:
    click.echo(f"twdsl: workflow '{workflow}' has no schedule (`twdsl schedules` lists "
               "them)", err=True)
    sys.exit(EXIT_FINDINGS)


@schedules_group.command("pause")
@click.argument("workflow")
@click.option("--state", "state", default=None, help=STATE_HELP)
def schedules_pause(workflow: str, state: str | None) -> None:
    """Stop firing a workflow's schedule (occurrences while paused never fire)."""
    _set(workflow, state, paused=True)
    click.echo(f"twdsl: schedule of {workflow} paused")
    sys.exit(EXIT_OK)


@schedules_group.command("resume")
@click.argument("workflow")
@click.option("--missed", type=click.Choice(["once", "skip"]), default=None,
              help="Also set the missed-fire policy.")
@click.option("--state", "state", default=None, help=STATE_HELP)
def schedules_resume(workflow: str, missed: str | None, state: str | None) -> None:
    """Fire a paused schedule again, from its next occurrence."""
    _set(workflow, state, paused=False, missed=missed)
    click.echo(f"twdsl: schedule of {workflow} active")
    sys.exit(EXIT_OK)


@schedules_group.command("fires")
@click.argument("workflow")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--state", "state", default=None, help=STATE_HELP)
def schedules_fires(workflow: str, limit: int, fmt: str, state: str | None) -> None:
    """A schedule's fires, newest first: the scheduled time, the delay, the run."""
    db = open_server_db(state)
    fires = db.fires(workflow, limit)
    if not fires and workflow not in {s.workflow for s in db.schedules()}:
        _no_schedule(workflow)
    if fmt == "json":
        click.echo(json.dumps([{"scheduled_at": f.occurrence, "fired_at": f.fired_at,
                                "run_id": f.run_id, "server": f.server, "note": f.note}
                               for f in fires], indent=2))
        sys.exit(EXIT_OK)
    if not fires:
        click.echo("no fires")
        sys.exit(EXIT_OK)
    for f in fires:
        at = datetime.fromtimestamp(f.occurrence, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"{at}  +{f.fired_at - f.occurrence:.3f}s  {f.run_id or '-'}"
                   + (f"  ({f.note})" if f.note else ""))
    sys.exit(EXIT_OK)
