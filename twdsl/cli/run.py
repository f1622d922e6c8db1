"""``twdsl run``: compile (or load an IR ``.json``), validate the inputs, and execute.

Exit codes (docs/cli.md): 0 the run completed, 1 it failed (or timed out, or was
cancelled), 2 a usage, compile, configuration or input error, 3 a bug in twdsl.  Outputs go
to stdout as JSON; progress and errors go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from twdsl.cli.common import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    SUFFIX,
    UsageError,
    decode_input,
    internal_error,
    load_import,
    missing_hint,
    program_options,
    refuse_reading_as_output,
)
from twdsl.compiler import WorkflowChoiceError, compile_source
from twdsl.config import DEFAULT, Config, ConfigError, find_config, load_config
from twdsl.diagnostics import Severity, render_text
from twdsl.ir.model import IR_VERSION, Program
from twdsl.ir.validate import IRInvariantError, validate
from twdsl.runtime.executors import EXECUTORS
from twdsl.source import SourceFile


class Stop(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or "")
        self.code = code
        self.message = message


def config_for(file: Path, forced: str | None) -> Config:
    try:
        if forced is not None:
            return load_config(Path(forced))
        found = find_config(file)
        return load_config(found) if found is not None else DEFAULT
    except ConfigError as e:
        raise Stop(EXIT_USAGE, f"twdsl: {e}") from None


def load_program(file: str, workflow: str | None, optimize: int, config: Config) -> Program:
    """The program to run: an IR file as it is, or a source file compiled."""
    path = Path(file)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise Stop(EXIT_USAGE, f"twdsl: cannot read {file}: {e.strerror}"
                    f"{missing_hint(file)}") from None
    try:  # as every command reads a file: a BOM dropped, CRLF read as LF
        text = decode_input(file, raw).text
    except UsageError as e:
        raise Stop(EXIT_USAGE, f"twdsl: {e}") from None
    if path.suffix == ".json":
        version = _version_of(text)
        if version is not None and version != IR_VERSION:
            raise Stop(EXIT_USAGE, f"twdsl: {file} is a program of IR version {version}; this "
                        f"twdsl runs version {IR_VERSION}: compile it again with "
                        "`twdsl compile`")
        try:
            program = Program.from_json(text)
        except ValidationError as e:
            version = _version_of(text)
            hint = (f" (it is IR version {version}; this twdsl runs version {IR_VERSION})"
                    if version not in (None, IR_VERSION) else "")
            first = e.errors()[0]
            at = f" at {'.'.join(map(str, first['loc']))}" if first["loc"] else ""
            raise Stop(EXIT_USAGE, f"twdsl: {file} is not a compiled TWDSL program{hint}: "
                        f"{first['msg']}{at}") from None
        try:
            validate(program, after=f"loading {file}")
        except IRInvariantError as e:
            raise Stop(EXIT_USAGE, f"twdsl: {file}: {e}") from None
        return program
    if path.suffix != SUFFIX:
        raise Stop(EXIT_USAGE, f"twdsl: {file}: expected a {SUFFIX} source or a compiled "
                    ".json program")

    try:
        comp = compile_source(text, file, workflow, optimize, config, load_import)
    except WorkflowChoiceError as e:
        raise Stop(EXIT_USAGE, f"twdsl: {e}") from None
    errors = [d for d in comp.diagnostics if d.severity is Severity.ERROR]
    if comp.program is None:
        source = SourceFile(file, text)
        for d in errors:
            click.echo(render_text(d, source if d.span.file == file else None), err=True)
        raise Stop(EXIT_USAGE, f"twdsl: {file}: {len(errors)} error"
                    f"{'s' if len(errors) != 1 else ''}; nothing was run")
    return comp.program


def _version_of(text: str) -> int | None:
    try:
        v = json.loads(text).get("ir_version")
        return v if isinstance(v, int) else None
    except (ValueError, AttributeError, RecursionError):  # not a program: said by its loader
        return None


def read_inputs(program: Program, pairs: tuple[str, ...], inputs_file: str | None,
                given_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The inputs of a run, validated: ``inputs_file``, then ``given_values`` (JSON values,
    e.g. a debug launch's ``inputs``), then ``pairs`` (``--input``); a problem is a Stop."""
    from twdsl.runtime.inputs import InputError, load_json, parse_cli, validate_inputs

    given: dict[str, Any] = {}
    if inputs_file is not None:
        try:
            data = load_json(Path(inputs_file).read_text(encoding="utf-8-sig"), inputs_file,
                             top_level_inputs=True)
        except OSError as e:
            raise Stop(EXIT_USAGE, f"twdsl: cannot read {inputs_file}: {e.strerror}") from None
        except UnicodeDecodeError as e:
            raise Stop(EXIT_USAGE, f"twdsl: {inputs_file} is not UTF-8 text: {e.reason} at "
                        f"byte {e.start}") from None
        except InputError as e:
            for p in e.problems:
                click.echo(f"twdsl: {p}", err=True)
            raise Stop(EXIT_USAGE, f"twdsl: the inputs of {program.workflow} do not fit its "
                        "declaration; nothing was run") from None
        except json.JSONDecodeError as e:
            raise Stop(EXIT_USAGE, f"twdsl: {inputs_file}:{e.lineno}:{e.colno}: not valid "
                        f"JSON: {e.msg}") from None
        if not isinstance(data, dict):
            raise Stop(EXIT_USAGE, f"twdsl: {inputs_file}: expected a JSON object of inputs")
        given.update(data)
    given.update(given_values or {})
    try:
        given.update(parse_cli(program, list(pairs)))
        return validate_inputs(program, given)
    except InputError as e:
        for p in e.problems:
            click.echo(f"twdsl: {p}", err=True)
        raise Stop(EXIT_USAGE, f"twdsl: the inputs of {program.workflow} do not fit its "
                    "declaration; nothing was run") from None


_inputs = read_inputs


@dataclass
class Outlets:
    """Where events go besides the progress view and the store: a JSONL file, webhooks,
    Prometheus metrics (docs/events.md)."""

    events_file: str | None = None
    webhooks: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    metrics_port: int | None = None

    def headers_checked(self) -> dict[str, str]:
        """The webhook headers; a malformed flag is a usage error (checked before anything
        is recorded)."""
        headers: dict[str, str] = {}
        for h in self.headers:
            name, sep, value = h.partition(":")
            if not sep or not name.strip():
                raise Stop(EXIT_USAGE, f"twdsl: --webhook-header {h!r}: write 'Name: value'")
            headers[name.strip()] = value.strip()
        for url in self.webhooks:
            if not url.startswith(("http://", "https://")):
                raise Stop(EXIT_USAGE, f"twdsl: --webhook {url!r}: expected an http:// or "
                            "https:// URL")
        from fnmatch import fnmatchcase

        from twdsl.runtime.events import TYPES

        for pattern in self.types:
            if not any(fnmatchcase(t, pattern) for t in TYPES):
                raise Stop(EXIT_USAGE, f"twdsl: --events {pattern!r} matches no event type; "
                            f"the types are {', '.join(TYPES)} (docs/events.md)")
        return headers

    def open(self, sinks: list[Any], run_id: str | None) -> list[Any]:
        """Add the sinks; return what closes them.  A bad value is a usage error."""
        closers: list[Any] = []
        types = list(self.types) or None
        headers = self.headers_checked()
        if self.events_file is not None:
            from twdsl.runtime.sinks import JsonlSink

            try:
                j = JsonlSink(self.events_file, correlation_id=run_id, types=types)
            except OSError as e:
                where = f"{e.filename}: " if e.filename else ""
                raise Stop(EXIT_USAGE, f"twdsl: --events-file {self.events_file}: cannot "
                            f"write it ({where}{e.strerror})") from None
            sinks.append(j)
            closers.append(j.close)
        for url in self.webhooks:
            from twdsl.runtime.sinks import WebhookSink

            w = WebhookSink(url, headers=headers or None, types=types, correlation_id=run_id,
                            warn=lambda m: click.echo(f"twdsl: {m}", err=True))
            sinks.append(w)
            closers.append(w.close)
        if self.metrics_port is not None:
            from twdsl.runtime.metrics import MetricsSink, serve_metrics

            m = MetricsSink()
            try:
                stop = serve_metrics(self.metrics_port, m.registry)
            except OSError as e:
                raise Stop(EXIT_USAGE, f"twdsl: --metrics-port {self.metrics_port}: "
                            f"{e.strerror}") from None
            sinks.append(m)
            closers.append(stop)
        return closers


def inputs_from_record(program: Program, recorded: Any) -> dict[str, Any]:
    """The inputs a run was started with, validated again (they are stored as JSON)."""
    from twdsl.runtime.inputs import InputError, validate_inputs

    try:
        return validate_inputs(program, dict(recorded or {}))
    except InputError as e:
        raise Stop(EXIT_USAGE, "twdsl: the recorded inputs no longer fit: "
                    + "; ".join(e.problems)) from None


@click.command("run")
@click.argument("file", metavar="FILE")
@program_options("Use this twdsl.toml or pyproject.toml.")
@click.option("--state", "state_path", default=None, metavar="PATH|URL",
              help="The state store: a SQLite file or a postgresql:// URL (default: "
                   "$TWDSL_STATE, else the configuration's, else the nearest .twdsl/state.db;"
                   " docs/state.md).")
@click.option("--no-state", is_flag=True, help="Record nothing (no state store).")
@click.option("--no-cache", is_flag=True, help="Do not reuse cached task results (nor store "
              "new ones).")
@click.option("--dry-run", is_flag=True, help="Print the plan with rendered inputs; call no "
              "agent.")
@click.option("--log-format", type=click.Choice(["auto", "text", "json"]), default="auto",
              show_default=True, help="Progress on stderr: auto is a live view on a terminal, "
              "text lines otherwise.")
@click.option("--events-file", type=click.Path(dir_okay=False), default=None,
              help="Append every event as a JSON line to this file.")
@click.option("--webhook", "webhooks", multiple=True, metavar="URL",
              help="POST events to this URL (repeatable; docs/events.md).")
@click.option("--webhook-header", "webhook_headers", multiple=True, metavar="'NAME: VALUE'",
              help="A header sent to every webhook (repeatable).")
@click.option("--events", "event_types", multiple=True, metavar="PATTERN",
              help="Only these event types to the file and webhooks (globs: 'task.*').")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics on 127.0.0.1:PORT while the run goes.")
@click.option("--max-concurrency", type=click.IntRange(1), default=None,
              help="Task attempts running at once (unless the workflow sets max_concurrency).")
@click.option("--executor", "executor_name", type=click.Choice(EXECUTORS), default="local",
              show_default=True, help="Where agent calls run: here, or Python agents as Ray "
              "tasks on a Ray cluster (docs/scale-out.md).")
@click.option("--ray-address", default=None, metavar="HOST:PORT",
              help="The Ray cluster's head, or 'auto' (default: Ray's rule: RAY_ADDRESS, else a "
                   "cluster started on this machine, else a new local Ray).")
@click.option("--version", "version_wanted", default=None, metavar="X.Y.Z",
              help="Run the program an earlier run of this workflow with this version used "
                   "(kept in the state store): a rollback (docs/versions.md).")
@click.option("--seed", type=int, default=None, hidden=True, help="Seed of retry jitter.")
def run_command(file: str, pairs: tuple[str, ...], inputs_file: str | None,
                workflow: str | None, optimize: int, config_path: str | None,
                state_path: str | None, no_state: bool, no_cache: bool, dry_run: bool,
                log_format: str, events_file: str | None, webhooks: tuple[str, ...],
                webhook_headers: tuple[str, ...], event_types: tuple[str, ...],
                metrics_port: int | None, max_concurrency: int | None,
                executor_name: str, ray_address: str | None, version_wanted: str | None,
                seed: int | None) -> None:
    """Run a workflow: FILE is a .twdsl source or a compiled .json program."""
    try:
        outlets = Outlets(events_file, webhooks, webhook_headers, event_types, metrics_port)
        outlets.headers_checked()
        code = _run(file, pairs, inputs_file, workflow, optimize, config_path, state_path,
                    no_state, no_cache, dry_run, log_format, max_concurrency, seed, outlets,
                    executor_name, ray_address, version_wanted)
    except Stop as stop:
        _report_problems()
        if stop.message:
            click.echo(stop.message, err=True)
        sys.exit(stop.code)
    except IRInvariantError as e:
        click.echo(str(e), err=True)
        sys.exit(EXIT_INTERNAL)
    except _store_error() as e:  # the store failed under the run (disk full, damaged)
        _report_problems()
        click.echo(f"twdsl: {e}", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # a bug in twdsl: a message and exit 3, as docs/cli.md promises
        from twdsl.cli import OUT_OF_SPACE

        if isinstance(exc, OSError) and exc.errno in OUT_OF_SPACE:
            raise  # the outputs cannot be written (said by the command group); the run is kept
        internal_error(file, exc)
    _report_problems()
    sys.exit(code)


def _store_error() -> type[Exception]:
    from twdsl.runtime.store import StoreError

    return StoreError


def _report_problems() -> None:
    from twdsl.cli.state import report_problems

    report_problems()


def _run(file: str, pairs: tuple[str, ...], inputs_file: str | None, workflow: str | None,
         optimize: int, config_path: str | None, state_path: str | None, no_state: bool,
         no_cache: bool, dry_run: bool, log_format: str, max_concurrency: int | None,
         seed: int | None, outlets: Outlets | None = None, executor_name: str = "local",
         ray_address: str | None = None, version_wanted: str | None = None) -> int:
    if no_state and state_path is not None:
        raise Stop(EXIT_USAGE, "twdsl: --state names a store to record to and --no-state "
                    "records nothing: give one or the other")
    config = config_for(Path(file), config_path)
    if outlets is not None and outlets.events_file is not None:
        read: list[str | Path] = [file, *([config.path] if config.path else []),
                                  *([inputs_file] if inputs_file else [])]
        refuse_reading_as_output(outlets.events_file, read, "--events-file")
    program = load_program(file, workflow, optimize, config)
    if version_wanted is not None:
        if no_state:
            raise Stop(EXIT_USAGE, "twdsl: --version runs a program kept in the state store: "
                        "it cannot be used with --no-state")
        program = recorded_version(program, version_wanted, state_path, config)
    inputs = _inputs(program, pairs, inputs_file)
    from twdsl.runtime.plan import plan

    if dry_run:
        for line in plan(program, inputs):
            click.echo(line)
        return EXIT_OK
    registry = agent_registry(program, config)
    executor = make_executor_or_stop(executor_name, ray_address)
    store = None
    recorder = None
    if not no_state:
        from twdsl.cli.state import StateStop, open_state
        from twdsl.runtime.recording import Recorder
        from twdsl.runtime.store import StoreError

        try:
            store = open_state(state_path, config, create=True,
                               hint=" (pass --state PATH for another file, or --no-state)",
                               announce=log_format != "json")
        except StateStop as e:
            raise Stop(e.code, e.message) from None
        _interrupted_hint(store, program, inputs)
        try:
            recorder = Recorder.new_run(store, program, inputs)
        except StoreError as e:
            raise Stop(EXIT_USAGE, f"twdsl: {e} (pass --state PATH for another file, or "
                        "--no-state)") from None
    try:
        return execute(program, inputs, registry, recorder, log_format,
                       max_concurrency or config.run.get("max_concurrency") or 16, seed,
                       cache=not no_cache, outlets=outlets, executor=executor)
    finally:
        executor.close()


def recorded_version(program: Program, wanted: str, state_path: str | None,
                     config: Config) -> Program:
    """The program of ``program``'s workflow that an earlier run with version ``wanted`` used
    (kept in the state store), or a Stop naming the versions there are."""
    from twdsl.cli.state import StateStop, open_state

    try:
        store = open_state(state_path, config)
    except StateStop as e:
        raise Stop(e.code, e.message) from None
    known = store.programs(program.workflow)
    for version, ir, _ in known:
        if version == wanted:
            click.echo(f"twdsl: running {program.workflow} {wanted} as an earlier run recorded "
                       "it", err=True)
            return Program.from_json(ir)
    have = sorted({v for v, _, _ in known if v}, reverse=True)
    listed = ", ".join(have) if have else "none"
    raise Stop(EXIT_USAGE, f"twdsl: no run of {program.workflow} with version {wanted} is in "
                f"the state store (versions recorded: {listed})")


def make_executor_or_stop(name: str, address: str | None) -> Any:
    """The executor (runtime/executors); one that cannot be used is a usage error (exit 2)
    before anything is recorded."""
    from twdsl.runtime.executors import ExecutorError, make_executor

    try:
        return make_executor(name, address)
    except ExecutorError as e:
        raise Stop(EXIT_USAGE, f"twdsl: {e}") from None


def agent_registry(program: Program, config: Config) -> Any:
    """The agents of ``program``, every binding loaded now: a missing or broken one is a
    usage error (exit 2) before anything runs."""
    from twdsl.runtime.agents import AgentRegistry
    from twdsl.runtime.errors import ConfigurationError

    try:
        registry = AgentRegistry(config.agent_specs, config.folder,
                                 origin=str(config.path) if config.path else None)
        missing = registry.missing(sorted(program.agents))
        for name in sorted(set(program.agents) - set(missing)):
            registry.get(name)
    except ConfigurationError as e:
        raise Stop(EXIT_USAGE, f"twdsl: {e}") from None
    if missing:
        where = f" in {config.path}" if config.path else " (no twdsl.toml was found)"
        def named(m: str) -> str:
            hint = registry.suggestion(m)
            return f"'{m}'" + (f" (did you mean '{hint}'?)" if hint else "")

        raise Stop(EXIT_USAGE, "twdsl: no agent is bound for " +
                    ", ".join(named(m) for m in missing) + where +
                    "; bind each under [agents.NAME] in twdsl.toml (see docs/agents.md)")
    return registry


def agents_note(program: Program, registry: Any) -> str | None:
    """Which configuration file bound the workflow's agents, for the run's header: a
    configuration is code (docs/agents.md, "Trust"), and a twdsl.toml in a folder above can
    bind any agent, a built-in one too, to any program."""
    from twdsl.runtime.agents.builtin import BUILTINS

    bound = [a for a in sorted(program.agents) if a in registry.bindings]
    if not bound:
        return None
    names = ", ".join(a + (" (instead of the built-in)" if a in BUILTINS else "")
                      for a in bound)
    return f"agents bound by {registry.origin}: {names}"


def _interrupted_hint(store: Any, program: Program, inputs: dict[str, Any]) -> None:
    """Tell the user when a run of the same workflow and inputs was interrupted."""
    from twdsl.lang.values import to_json
    from twdsl.runtime.store import StoreError
    from twdsl.runtime.store.base import process_alive

    want = to_json(inputs)
    try:
        recent = store.list_runs(workflow=program.workflow, limit=20)
    except StoreError as e:  # a damaged store: say so, and try to run anyway
        click.echo(f"twdsl: warning: {e}", err=True)
        return
    for r in recent:
        interrupted = r.status == "paused" or (
            r.status == "running" and process_alive(r.pid, r.host) is False)
        if interrupted and r.inputs == want:
            click.echo(f"twdsl: run {r.id} of {program.workflow} with the same inputs was "
                       f"{'paused' if r.status == 'paused' else 'interrupted'}; "
                       f"`twdsl runs resume {r.id}` continues it", err=True)
            return


def execute(program: Program, inputs: dict[str, Any], registry: Any, recorder: Any,
            log_format: str, max_concurrency: int, seed: int | None = None,
            reuse: dict[str, Any] | None = None, cache: bool = True,
            outlets: Outlets | None = None, resumed: bool = False, executor: Any = None) -> int:
    """Run with the progress view and the recorder; print outputs or the error; the exit
    code.  ``executor`` runs the agent calls (None: the local one); its maker closes it."""
    from twdsl.runtime.engine import Engine, RunOptions
    from twdsl.runtime.events import Fanout
    from twdsl.runtime.progress import JsonLog, LiveView, TextLog, error_text

    sinks: list[Any] = []
    view = None
    note = agents_note(program, registry)
    if log_format == "json":
        sinks.append(JsonLog(sys.stderr))
    elif log_format == "auto" and sys.stderr.isatty():
        view = LiveView(sys.stderr, note)
        sinks.append(view)
    else:
        sinks.append(TextLog(sys.stderr, note))
    if recorder is not None:
        sinks.append(recorder)  # the durable record first
    try:
        closers = (outlets or Outlets()).open(sinks, recorder.run_id if recorder else None)
    except Stop as stop:  # the run was recorded: it ends as failed, saying why
        if recorder is not None:
            recorder.store.update_run(recorder.run_id, status="failed",
                                      error={"kind": "validation", "message": stop.message})
            recorder.close()
        raise
    options = RunOptions(max_concurrency=max_concurrency, seed=seed,
                         run_id=recorder.run_id if recorder else None, reuse=reuse or {},
                         cache=recorder.store if recorder is not None and cache else None,
                         resumed=resumed)
    if executor is not None:
        options.executor = executor
    engine = Engine(program, registry, Fanout(sinks), options)
    try:
        # One rule for every kind of agent (docs/agents.md): agents run in the folder of the
        # configuration that binds them (without one, the current folder).
        with contextlib.chdir(registry.base_dir):
            result = asyncio.run(_main(engine, inputs, recorder, registry))
    finally:
        if view is not None:
            view.close()
        for close in closers:
            close()
        if recorder is not None:
            recorder.close()
    if result.outputs is not None and result.status.value == "completed":
        click.echo(json.dumps(result.outputs, indent=2, sort_keys=False))
        return EXIT_OK
    if result.status.value == "paused":
        click.echo(f"twdsl: run {result.run_id} paused; `twdsl runs resume {result.run_id}` "
                   "continues it", err=True)
        return EXIT_FINDINGS
    err = result.error or {}
    where = f" ({err['source']})" if err.get("source") else ""
    task = f"task '{err['task']}'{where}: " if err.get("task") else (
        f"{err['source']}: " if err.get("source") else "")
    status = result.status.value
    click.echo(f"twdsl: run {result.run_id} {status}: {task}"
               f"{error_text(err, None if task else status)}", err=True)
    return EXIT_FINDINGS


async def _main(engine: Any, inputs: dict[str, Any], recorder: Any = None,
                registry: Any = None) -> Any:
    """Run, cancelling cleanly on Ctrl-C or SIGTERM: in-flight work is stopped and the run
    is recorded as cancelled.  With a state store, ``twdsl runs cancel|pause`` from another
    process are obeyed (polled every 100 ms)."""
    task = asyncio.ensure_future(engine.run(inputs))
    watcher = None
    if recorder is not None:
        from twdsl.runtime.controls import watch_controls

        watcher = asyncio.ensure_future(
            watch_controls(recorder.store, recorder.run_id, engine, task))
        task.add_done_callback(lambda _: watcher.cancel())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, task.cancel)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on POSIX
            pass
    try:
        return await task
    except asyncio.CancelledError:
        if engine.final is None:
            raise
        return engine.final
    finally:
        if registry is not None:
            await registry.aclose()  # HTTP agents' connection pools
