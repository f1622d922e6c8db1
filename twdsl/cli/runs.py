"""``twdsl runs …``, ``twdsl stats`` and ``twdsl cache clear``: the history in the state store,
and steering runs from another terminal.

Exit codes (docs/cli.md): 0 done, 1 no such run or a run in a state that does not allow the
command, 2 usage (a store that cannot be opened included).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from twdsl.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, MAX_LIMIT, SUFFIX
from twdsl.cli.run import Stop, agent_registry, config_for, execute, inputs_from_record
from twdsl.cli.state import STATE_HELP, StateStop, open_state, report_problems
from twdsl.config import Config

_STATE_HELP = STATE_HELP


def _open(flag: str | None) -> Any:
    return open_state(flag)


def _run_id(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """RUN_ID as given; an empty one (every id starts with it) is a usage error."""
    if not value.strip():
        raise click.BadParameter("the run id is empty; `twdsl runs list` shows the runs")
    return value


def _run_or_stop(store: Any, run_id: str) -> Any:
    from twdsl.runtime.store import StoreError

    try:
        run = store.get_run(run_id)
    except StoreError as e:
        raise Stop(EXIT_FINDINGS, f"twdsl: {e}") from None
    if run is None:
        raise Stop(EXIT_FINDINGS, f"twdsl: no run {run_id!r} in {store.where} "
                    "(`twdsl runs list` shows the runs)")
    return run


def _guard(fn: Any) -> Any:
    """Turn Stop into its message and exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from twdsl.runtime.states import TransitionError
        from twdsl.runtime.store import StoreError

        try:
            code = fn(*args, **kwargs)
        except (Stop, StateStop) as stop:
            report_problems()
            if stop.message:
                click.echo(stop.message, err=True)
            sys.exit(stop.code)
        except StoreError as e:  # the store failed under the command (damaged, gone)
            report_problems()
            click.echo(f"twdsl: {e}", err=True)
            sys.exit(EXIT_USAGE)
        except TransitionError as e:  # another process changed the run meanwhile
            click.echo(f"twdsl: {e}", err=True)
            sys.exit(EXIT_FINDINGS)
        report_problems()
        sys.exit(code or EXIT_OK)
    return wrapper


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _secs(d: float | None) -> str:
    if d is None:
        return "-"
    return f"{d:.3f}s" if d < 60 else f"{d / 60:.1f}m"


def _status(run: Any) -> str:
    """A run recorded as running whose process is gone (crash, kill -9), or whose worker's
    lease ran out, was interrupted."""
    if run.status == "running" and _interrupted(run):
        return "interrupted"
    return str(run.status)


def _interrupted(run: Any) -> bool:
    from twdsl.runtime.store import interrupted

    return interrupted(run, time.time())


def _since(ctx: click.Context, param: click.Parameter, text: str | None) -> float | None:
    """``--since``: ``2026-11-20``, an ISO date-time, or an age: ``90m``, ``12h``, ``7d``;
    as a timestamp, checked before the store is looked for."""
    if text is None:
        return None
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * units[text[-1]]
    try:
        d = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: write a date (2026-11-20), a date-time or an age "
                                 "(90m, 12h, 7d)") from None
    if d.tzinfo is None:  # local time; by arithmetic: the OS's clock ends before year 1
        d = d.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return (d - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()


@click.group("runs")
def runs_group() -> None:
    """The history of runs in the state store, and control of running ones."""


@runs_group.command("list")
@click.option("--workflow", "-w", default=None)
@click.option("--status", type=click.Choice(["pending", "running", "paused", "completed",
                                             "failed", "cancelled", "timeout"]), default=None)
@click.option("--since", default=None, callback=_since,
              help="Only runs created since a date or an age (7d).")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def runs_list(workflow: str | None, status: str | None, since: float | None, limit: int,
              fmt: str, state: str | None) -> int:
    """List runs, newest first."""
    store = _open(state)
    runs = store.list_runs(workflow=workflow, status=status, since=since, limit=limit)
    if fmt == "json":
        click.echo(json.dumps([_run_json(r) for r in runs], indent=2))
        return EXIT_OK
    if not runs:
        click.echo("no runs")
        return EXIT_OK
    rows = [("RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION")]
    for r in runs:
        rows.append((r.id, r.workflow, _status(r), _when(r.started_at or r.created_at),
                     _secs(r.duration)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _run_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "workflow": r.workflow, "version": r.version, "status": _status(r),
            "created_at": r.created_at, "started_at": r.started_at,
            "finished_at": r.finished_at, "duration": r.duration, "inputs": r.inputs,
            "outputs": r.outputs, "error": r.error, "parent_id": r.parent_id,
            "resumes": r.resumes, "source": r.source_path, "queue": r.queue,
            "priority": r.priority, "worker": r.worker}


@runs_group.command("show")
@click.argument("run_id", callback=_run_id)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def runs_show(run_id: str, fmt: str, state: str | None) -> int:
    """A run's timeline: each task with its attempts, durations, errors, inputs, results."""
    store = _open(state)
    run = _run_or_stop(store, run_id)
    tasks = _or_warn(store.task_states, run.id, [])
    attempts: dict[str, list[Any]] = {}
    for a in _or_warn(store.attempts, run.id, []):
        attempts.setdefault(a.key, []).append(a)
    inputs = {e.key: (e.data or {}).get("input") for e in _or_warn(store.events, run.id, [])
              if e.type == "task.started" and (e.data or {}).get("attempt") == 1}
    if fmt == "json":
        out = _run_json(run)
        out["tasks"] = [t.to_json(inputs.get(t.key), attempts.get(t.key, ())) for t in tasks]
        click.echo(json.dumps(out, indent=2))
        return EXIT_OK
    click.echo(f"run {run.id}  {run.workflow}{' ' + run.version if run.version else ''}  "
               f"{_status(run)}")
    click.echo(f"  source   {run.source_path or '-'}")
    click.echo(f"  started  {_when(run.started_at)}   finished {_when(run.finished_at)}   "
               f"duration {_secs(run.duration)}")
    if run.parent_id:
        click.echo(f"  retry of {run.parent_id}")
    if run.resumes:
        click.echo(f"  resumed  {run.resumes} time{'s' if run.resumes > 1 else ''}")
    click.echo(f"  inputs   {json.dumps(run.inputs, sort_keys=True)}")
    if run.outputs is not None:
        click.echo(f"  outputs  {json.dumps(run.outputs, sort_keys=True)}")
    if run.error:
        click.echo(f"  error    {_error(run.error)}")
    click.echo("")
    t0 = run.started_at or run.created_at
    for t in tasks:
        at = f"+{(t.started_at - t0):.3f}s" if t.started_at else "      -"
        dur = _secs(t.finished_at - t.started_at) if t.finished_at and t.started_at else "-"
        line = f" (line {t.line})" if t.line else ""
        click.echo(f"  {at:>10}  {t.key:<28} {t.status:<10} {dur:>8}  "
                   f"attempts {t.attempts}{line}")
        for a in attempts.get(t.key, []):
            if a.status != "completed":
                click.echo(f"{'':14}attempt {a.attempt}: {a.status}"
                           + (f": {_error(a.error, a.status)}" if a.error else ""))
                trace = _traceback(a.error)
                for line in trace:
                    click.echo(f"{'':16}{line}")
        if t.key in inputs and inputs[t.key] is not None:
            click.echo(f"{'':14}input  {_short(inputs[t.key])}")
        if t.result is not None:
            click.echo(f"{'':14}result {_short(t.result)}")
        if t.error and t.status != "completed":
            click.echo(f"{'':14}error  {_error(t.error)}")
    return EXIT_OK


def _or_warn(read: Any, run_id: str, default: Any) -> Any:
    """A part of a run that cannot be read (a damaged store) is said, and the rest shown."""
    from twdsl.runtime.store import StoreError

    try:
        return read(run_id)
    except StoreError as e:
        click.echo(f"twdsl: warning: {e}", err=True)
        return default


def _traceback(err: Any) -> list[str]:
    """The lines of the traceback an agent's failure kept (a Python agent's), if any."""
    details = err.get("details") if isinstance(err, dict) else None
    trace = details.get("traceback") if isinstance(details, dict) else None
    return str(trace).rstrip().splitlines() if trace else []


def _error(err: Any, status: str | None = None) -> str:
    from twdsl.runtime.progress import error_text  # the kind said once: not "timeout: timeout:"

    if isinstance(err, dict):
        where = f" ({err['source']})" if err.get("source") else ""
        return f"{error_text(err, status)}{where}"
    return str(err)


def _short(v: Any) -> str:
    text = json.dumps(v, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "..."


def _program(store: Any, run: Any) -> Any:
    from twdsl.ir.model import Program

    text = store.program(run.id)
    if text is None:
        raise Stop(EXIT_FINDINGS, f"twdsl: run {run.id} has no stored program to run again")
    return Program.from_json(text)


def _config_for(run: Any, config_path: str | None) -> Config:
    source = Path(run.source_path) if run.source_path else Path.cwd() / "x.twdsl"
    return config_for(source, config_path)


@runs_group.command("resume")
@click.argument("run_id", callback=_run_id)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--log-format", type=click.Choice(["auto", "text", "json"]), default="auto")
@click.option("--state", "state", default=None, help=_STATE_HELP)
@click.option("--recorded-version", is_flag=True,
              help="Resume with the program the run was started with, even when its workflow "
                   "file has changed since.")
@_guard
def runs_resume(run_id: str, config_path: str | None, log_format: str,
                state: str | None, recorded_version: bool = False) -> int:
    """Continue an interrupted, paused or cancelled run in place: completed tasks are not
    run again, their results are reused; tasks that were in flight run again.

    When the workflow file has changed since the run started, the run goes on with the new
    program if the change is compatible with what already ran (docs/versions.md), and is
    refused with the breaking changes otherwise (--recorded-version resumes the old one)."""
    from twdsl.runtime.recording import Recorder

    store = _open(state)
    run = _run_or_stop(store, run_id)
    if run.status in ("completed", "failed"):
        raise Stop(EXIT_FINDINGS, f"twdsl: run {run.id} {run.status}; only an interrupted, "
                    "paused, cancelled or timed-out run can be resumed"
                    + (" (`twdsl runs retry` starts it again)" if run.status == "failed"
                       else ""))
    if run.status == "running" and not _interrupted(run):
        who = (f"worker {run.worker}" if run.worker else f"process {run.pid}")
        raise Stop(EXIT_FINDINGS, f"twdsl: run {run.id} is still running ({who} on "
                    f"{run.host}); `twdsl runs pause {run.id}` first")
    if run.queue is not None:
        return _requeue(store, run)
    program = _program(store, run)
    config = _config_for(run, config_path)
    if not recorded_version:
        program = _current_program(store, run, program, config)
    inputs = inputs_from_record(program, run.inputs)
    registry = agent_registry(program, config)
    reuse = store.completed_results(run.id)
    store.mark_resumed(run.id)
    click.echo(f"twdsl: resuming run {run.id}: {len(reuse)} completed task"
               f"{'s' if len(reuse) != 1 else ''} reused", err=True)
    recorder = Recorder(store, run.id, program, resumed=True)
    return int(execute(program, inputs, registry, recorder, log_format,
                       config.run.get("max_concurrency") or 16, reuse=reuse, resumed=True))


def _current_program(store: Any, run: Any, recorded: Any, config: Config) -> Any:
    """The program a resumed run goes on with: the recorded one when its workflow file is
    gone or unchanged; the file's, compiled as the recorded one was, when the change is
    compatible with what already ran (recorded as the run's program); a Stop listing the
    breaking changes otherwise."""
    from twdsl.cli.run import load_program
    from twdsl.versions.diff import diff_programs

    source = run.source_path
    if not source or not Path(source).is_file() or Path(source).suffix != SUFFIX:
        return recorded
    current = load_program(source, recorded.workflow, recorded.optimization, config)
    if current.to_json() == recorded.to_json():
        return recorded
    changes = diff_programs(recorded, current)
    breaking = [c for c in changes if c.breaking]
    if breaking:
        lines = "\n".join(f"  {c.message}" for c in breaking)
        raise Stop(EXIT_FINDINGS, f"twdsl: {source} has changed since run {run.id} started, "
                    f"and these changes break what it already ran:\n{lines}\n"
                    f"twdsl: `twdsl runs resume {run.id} --recorded-version` goes on with the "
                    "version it started with")
    store.set_program(run.id, current.to_json(), current.version)
    n = len(changes)
    click.echo(f"twdsl: {source} has changed since run {run.id} started; the change is "
               f"compatible ({n} change{'s' if n != 1 else ''}): resuming with it", err=True)
    return current


def _requeue(store: Any, run: Any) -> int:
    """A submitted run goes back to its queue: a worker continues it."""
    if run.status == "pending":
        raise Stop(EXIT_FINDINGS, f"twdsl: run {run.id} is already waiting in queue "
                    f"{run.queue}")
    got = store.transition(run.id, "pending",
                           when=frozenset({"paused", "cancelled", "timeout", "running"}))
    if got is None:
        now = store.get_run(run.id)
        raise Stop(EXIT_FINDINGS, f"twdsl: run {run.id} is {_status(now)} now; not resumed")
    done = len(store.completed_results(run.id))
    click.echo(f"twdsl: run {run.id} is back in queue {got.queue}: a worker continues it, "
               f"reusing {done} completed task{'s' if done != 1 else ''}", err=True)
    return EXIT_OK


@runs_group.command("retry")
@click.argument("run_id", callback=_run_id)
@click.option("--failed-only", is_flag=True, help="Reuse every successful result; rerun only "
              "what failed and what depends on it.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--log-format", type=click.Choice(["auto", "text", "json"]), default="auto")
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def runs_retry(run_id: str, failed_only: bool, config_path: str | None, log_format: str,
               state: str | None) -> int:
    """Run a finished run again as a new run linked to it."""
    from twdsl.runtime.recording import Recorder

    store = _open(state)
    run = _run_or_stop(store, run_id)
    if run.status in ("running", "pending"):
        raise Stop(EXIT_FINDINGS, f"twdsl: run {run.id} is {run.status}; retry a finished run")
    program = _program(store, run)
    config = _config_for(run, config_path)
    inputs = inputs_from_record(program, run.inputs)
    registry = agent_registry(program, config)
    reuse = store.completed_results(run.id) if failed_only else {}
    recorder = Recorder.new_run(store, program, inputs, parent_id=run.id)
    click.echo(f"twdsl: run {recorder.run_id} retries {run.id}"
               + (f", reusing {len(reuse)} completed results" if failed_only else ""), err=True)
    return int(execute(program, inputs, registry, recorder, log_format,
                       config.run.get("max_concurrency") or 16, reuse=reuse))


def _control(run_id: str, command: str, state: str | None) -> int:
    store = _open(state)
    run = _run_or_stop(store, run_id)
    now = time.time()
    if run.status in ("pending", "paused") and (command == "cancel" or run.status == "pending"):
        # not running anywhere: the store changes it at once
        target = "cancelled" if command == "cancel" else "paused"
        fields: dict[str, Any] = {}
        if target == "cancelled":
            fields = {"finished_at": now,
                      "error": {"kind": "cancelled", "message": "the run was cancelled"}}
        got = store.transition(run.id, target, when=frozenset({run.status}), **fields)
        if got is not None:
            where = f" in queue {run.queue}" if run.queue else ""
            click.echo(f"twdsl: run {run.id} {target} (it was {run.status}{where})")
            return EXIT_OK
        run = _run_or_stop(store, run.id)  # a worker took it meanwhile: ask that worker
    if run.status != "running" or _interrupted(run):
        raise Stop(EXIT_FINDINGS, f"twdsl: run {run.id} is {_status(run)}, not running")
    store.request_control(run.id, command)
    click.echo(f"twdsl: asked run {run.id} to {command}")
    return EXIT_OK


@runs_group.command("cancel")
@click.argument("run_id", callback=_run_id)
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def runs_cancel(run_id: str, state: str | None) -> int:
    """Cancel a running run (from any terminal): in-flight work is stopped."""
    return _control(run_id, "cancel", state)


@runs_group.command("pause")
@click.argument("run_id", callback=_run_id)
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def runs_pause(run_id: str, state: str | None) -> int:
    """Pause a running run: in-flight tasks finish, nothing new starts; `runs resume`
    continues it later."""
    return _control(run_id, "pause", state)


@runs_group.command("watch")
@click.argument("run_id", callback=_run_id)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def runs_watch(run_id: str, fmt: str, state: str | None) -> int:
    """Follow a run's events as they are recorded, until it ends."""
    from twdsl.runtime.events import Event
    from twdsl.runtime.progress import TextLog

    store = _open(state)
    run = _run_or_stop(store, run_id)
    seq = 0
    while True:
        for e in store.events(run.id, after_seq=seq):
            seq = e.seq
            data = dict(e.data or {})
            ev = Event(e.type, run.id, key=e.key, task=data.pop("task", None),
                       attempt=data.pop("attempt", None),
                       status=e.type.split(".", 1)[1], data=data, ts=e.ts)
            if fmt == "json":
                click.echo(json.dumps(ev.to_json(), sort_keys=True, default=str))
            else:
                line = TextLog.format(ev)
                if line:
                    click.echo(line)
        run = store.get_run(run.id)
        if run.status not in ("pending", "running") or _status(run) == "interrupted":
            return EXIT_OK
        time.sleep(0.2)


@click.command("stats")
@click.argument("workflow", required=False)
@click.option("--since", default=None, callback=_since,
              help="Only runs created since a date or an age (7d).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def stats_command(workflow: str | None, since: float | None, fmt: str, state: str | None) -> int:
    """Runs, success rate, durations (mean, p50, p95) per workflow and task, frequent
    failures, and runs per day."""
    store = _open(state)
    data = store.stats(workflow=workflow, since=since)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return EXIT_OK
    if not data.get("workflows"):
        click.echo("no runs")
    for wf in data.get("workflows", []):
        click.echo(_stats_line(wf["workflow"], wf))
        for f in wf.get("failures", []):
            click.echo(f"    {f['count']}x {f['reason']}")
        for ts in wf.get("tasks", []):
            click.echo("  " + _stats_line(ts["task"], ts))
            for f in ts.get("failures", []):
                click.echo(f"      {f['count']}x {f['reason']}")
        days = wf.get("per_day") or []
        if days:
            click.echo("  per day: " + ", ".join(f"{d['day']} {d['runs']}" for d in days))
    return EXIT_OK


def _stats_line(name: str, s: dict[str, Any]) -> str:
    rate = s.get("success_rate")
    d = s.get("duration") or {}
    return (f"{name}: {s.get('runs', 0)} runs, "
            f"{'-' if rate is None else f'{rate * 100:.1f}%'} succeeded, mean "
            f"{_secs(d.get('mean'))}, p50 {_secs(d.get('p50'))}, p95 {_secs(d.get('p95'))}")


@click.group("cache")
def cache_group() -> None:
    """The task result cache (a task's `cache` setting)."""


@cache_group.command("clear")
@click.option("--workflow", "-w", default=None, help="Only this workflow's entries.")
@click.option("--state", "state", default=None, help=_STATE_HELP)
@_guard
def cache_clear(workflow: str | None, state: str | None) -> int:
    """Forget cached results."""
    store = _open(state)
    n = store.cache_clear(workflow)
    click.echo(f"removed {n} cached result{'s' if n != 1 else ''}")
    return EXIT_OK

