"""``twdsl worker``: take submitted runs from the queues of a state store and run them
(docs/scale-out.md).  Start one on each machine that should do the work; all share the store.

Exit codes (docs/cli.md): 0 stopped (SIGTERM or Ctrl-C: the runs in progress are handed back
to their queues; a second signal quits at once, leaving them to be taken over when their
leases run out), 2 a usage error or a store that cannot be used.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from twdsl.cli.common import EXIT_OK, EXIT_USAGE, FiniteRange
from twdsl.cli.run import Stop, agent_registry
from twdsl.cli.state import STATE_HELP, StateStop, open_state, report_problems
from twdsl.cli.submit import queue_name
from twdsl.config import DEFAULT, Config, ConfigError, find_config, load_config
from twdsl.runtime.executors import EXECUTORS


def _queues(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(queue_name(ctx, param, v) for v in value) or ("default",)


@click.command("worker")
@click.option("--state", "state", default=None, metavar="PATH|URL", help=STATE_HELP)
@click.option("--queue", "-q", "queues", multiple=True, callback=_queues,
              help="A queue to serve (repeatable; default: default).")
@click.option("--concurrency", "-c", type=click.IntRange(1), default=1, show_default=True,
              help="Runs at once.")
@click.option("--lease", type=FiniteRange(0.1), default=30.0, show_default=True,
              metavar="SECONDS", help="How long a run stays this worker's without a renewal: "
              "another worker takes over a dead worker's runs after it.")
@click.option("--poll", type=FiniteRange(0.01), default=1.0, show_default=True,
              metavar="SECONDS", help="Time between looks at empty queues.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="The twdsl.toml binding the agents (default: the nearest from here).")
@click.option("--max-concurrency", type=click.IntRange(1), default=None,
              help="Task attempts at once in a run (unless its workflow sets "
                   "max_concurrency).")
@click.option("--executor", "executor_name", type=click.Choice(EXECUTORS), default="local",
              show_default=True, help="Where agent calls run (runtime/executors).")
@click.option("--ray-address", default=None, metavar="HOST:PORT",
              help="The Ray cluster's head, with --executor ray.")
@click.option("--name", default=None, help="The worker's name in the store (default: "
              "host:pid:random).")
@click.option("--max-runs", type=click.IntRange(1), default=None,
              help="Stop after taking this many runs.")
@click.option("--exit-when-idle", is_flag=True,
              help="Stop when the queues are empty and no run is in progress.")
def worker_command(state: str | None, queues: tuple[str, ...], concurrency: int, lease: float,
                   poll: float, config_path: str | None, max_concurrency: int | None,
                   executor_name: str, ray_address: str | None, name: str | None,
                   max_runs: int | None, exit_when_idle: bool) -> None:
    """Take queued runs from the state store and run them (any number of workers)."""
    from twdsl.runtime.executors import ExecutorError, make_executor
    from twdsl.runtime.worker import Worker, WorkerOptions, worker_id

    try:
        config = _config(config_path)
        try:
            executor = make_executor(executor_name, ray_address)
        except ExecutorError as e:
            raise Stop(EXIT_USAGE, f"twdsl: {e}") from None
        store = open_state(state, config, create=True)
    except (Stop, StateStop) as stop:
        report_problems()
        if stop.message:
            click.echo(stop.message, err=True)
        sys.exit(stop.code)
    me = name or worker_id()

    def log(line: str) -> None:
        click.echo(f"{time.strftime('%H:%M:%S')} worker {me}: {line}", err=True)

    options = WorkerOptions(queues=queues, concurrency=concurrency, lease=lease, poll=poll,
                            max_concurrency=max_concurrency
                            or config.run.get("max_concurrency") or 16,
                            max_runs=max_runs, exit_when_idle=exit_when_idle)
    agents = _Agents(config)
    worker = Worker(store, agents.get, options, me, executor, log)
    log(f"serving {', '.join(queues)} of {store.where} ({concurrency} at once, lease "
        f"{lease:g}s, executor {executor.name})")
    try:
        asyncio.run(_serve(worker, log, agents))
    finally:
        report_problems()
        executor.close()
        store.close()
    sys.exit(EXIT_OK)


async def _serve(worker: Any, log: Any, agents: Any) -> None:
    try:
        await _serve_until_stopped(worker, log)
    finally:
        await agents.aclose()


async def _serve_until_stopped(worker: Any, log: Any) -> None:
    loop = asyncio.get_running_loop()
    signals = [0]

    def on_signal() -> None:
        signals[0] += 1
        if signals[0] == 1:
            log("stopping: runs in progress are paused and handed back to their queues "
                "(again to quit at once)")
            worker.stop()
        else:
            log("quitting now: runs in progress are taken over when their leases run out")
            os._exit(130)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on POSIX
            pass
    await worker.serve()


def _config(path: str | None) -> Config:
    try:
        if path is not None:
            return load_config(Path(path))
        found = find_config(Path.cwd())
        return load_config(found) if found is not None else DEFAULT
    except ConfigError as e:
        raise Stop(EXIT_USAGE, f"twdsl: {e}") from None


class _Agents:
    """The agents of each program as this worker binds them, one registry per set of agent
    names, kept for the worker's life (loading bindings costs milliseconds; a run costs
    less); what it cannot bind fails the run with the reason."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.registries: dict[frozenset[str], Any] = {}

    def get(self, program: Any) -> Any:
        from twdsl.runtime.errors import ConfigurationError

        names = frozenset(program.agents)
        found = self.registries.get(names)
        if found is None:
            try:
                found = self.registries[names] = agent_registry(program, self.config)
            except Stop as stop:
                raise ConfigurationError(
                    (stop.message or "").removeprefix("twdsl: ")) from None
        return _Shared(found)

    async def aclose(self) -> None:
        for registry in self.registries.values():
            await registry.aclose()


class _Shared:
    """A registry lent to one run: the run's end does not close it."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def get(self, name: str) -> Any:
        return self.registry.get(name)
