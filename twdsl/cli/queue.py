"""``twdsl queue``: the queues of the state store, as a table, JSON or Prometheus metrics
(docs/scale-out.md).

Exit codes (docs/cli.md): 0, 2 a usage error or a store that cannot be used.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from twdsl.cli.common import EXIT_OK
from twdsl.cli.state import STATE_HELP, StateStop, open_state, report_problems


def _window(ctx: click.Context, param: click.Parameter, value: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit() and int(value[:-1]) > 0:
        return float(int(value[:-1]) * units[value[-1]])
    raise click.BadParameter(f"{value!r}: write a duration such as 90s, 5m, 1h or 1d")


@click.command("queue")
@click.option("--state", "state", default=None, metavar="PATH|URL", help=STATE_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "prometheus"]),
              default="text", show_default=True)
@click.option("--window", default="5m", show_default=True, callback=_window,
              help="Throughput over this last stretch of time (90s, 5m, 1h, 1d).")
def queue_command(state: str | None, fmt: str, window: float) -> None:
    """Waiting, running and paused runs per queue, the oldest wait, and throughput."""
    try:
        store = open_state(state)
    except StateStop as stop:
        click.echo(stop.message, err=True)
        sys.exit(stop.code)
    from twdsl.runtime.store import StoreError

    try:
        stats = store.queue_stats(window=window)
    except StoreError as e:
        click.echo(f"twdsl: {e}", err=True)
        sys.exit(2)
    finally:
        report_problems()
        store.close()
    if fmt == "json":
        click.echo(json.dumps([_json(q) for q in stats], indent=2))
    elif fmt == "prometheus":
        click.echo(prometheus(stats), nl=False)
    elif not stats:
        click.echo("no queued runs")
    else:
        rows = [("QUEUE", "WAITING", "RUNNING", "PAUSED", "OLDEST WAIT", "FINISHED",
                 "PER MINUTE", "FAILED", "MEAN")]
        for q in stats:
            rows.append((q.queue, str(q.waiting), str(q.running), str(q.paused),
                         _secs(q.oldest_wait), str(q.finished), f"{q.per_minute:.1f}",
                         str(q.failed), _secs(q.mean_duration)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        click.echo(f"(finished, per minute, failed and mean: the last {_secs(window)})")
    sys.exit(EXIT_OK)


def _secs(d: float | None) -> str:
    if d is None:
        return "-"
    if d < 60:
        return f"{d:.1f}s"
    if d < 3600:
        return f"{d / 60:.1f}m"
    return f"{d / 3600:.1f}h"


def _json(q: Any) -> dict[str, Any]:
    return {"queue": q.queue, "waiting": q.waiting, "running": q.running, "paused": q.paused,
            "oldest_wait": q.oldest_wait, "window": q.window, "finished": q.finished,
            "completed": q.completed, "failed": q.failed, "per_minute": q.per_minute,
            "mean_duration": q.mean_duration}


def prometheus(stats: list[Any]) -> str:
    """The Prometheus text format of the queues' figures (a registry of its own)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    r = CollectorRegistry()
    gauges = {
        "waiting": Gauge("twdsl_queue_waiting", "Runs waiting in the queue.", ["queue"],
                         registry=r),
        "running": Gauge("twdsl_queue_running", "Runs of the queue running on a worker.",
                         ["queue"], registry=r),
        "paused": Gauge("twdsl_queue_paused", "Runs of the queue paused.", ["queue"],
                        registry=r),
        "oldest_wait": Gauge("twdsl_queue_oldest_wait_seconds",
                             "How long the longest-waiting run has waited.", ["queue"],
                             registry=r),
        "finished": Gauge("twdsl_queue_finished", "Runs of the queue that finished in the "
                          "window.", ["queue"], registry=r),
        "failed": Gauge("twdsl_queue_failed", "Of those, the ones that failed or timed out.",
                        ["queue"], registry=r),
        "per_minute": Gauge("twdsl_queue_throughput_per_minute",
                            "Runs finished per minute over the window.", ["queue"],
                            registry=r),
        "mean_duration": Gauge("twdsl_queue_mean_duration_seconds",
                               "Mean duration of the runs finished in the window.",
                               ["queue"], registry=r),
    }
    window = Gauge("twdsl_queue_window_seconds", "The window of the throughput figures.",
                   registry=r)
    for q in stats:
        window.set(q.window)
        for name, gauge in gauges.items():
            value = getattr(q, name)
            gauge.labels(q.queue).set(0.0 if value is None else value)
    return generate_latest(r).decode()
