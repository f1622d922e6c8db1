"""What `twdsl run` shows on stderr while a run goes: a live table on a terminal (rich),
plain log lines otherwise, or one JSON object per event (``--log-format json``)."""

from __future__ import annotations

import json
import time
from typing import IO, Any

from twdsl.runtime.events import Event

_QUIET = {"task.queued"}


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


class TextLog:
    """One readable line per event that matters: greppable, stable, no colours."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def emit(self, e: Event) -> None:
        line = self.format(e)
        if line:
            print(line, file=self.stream, flush=True)

    @staticmethod
    def format(e: Event) -> str | None:
        t = _clock(e.ts)
        who = e.key or ""
        d = e.data
        match e.type:
            case "workflow.started":
                return f"{t} run {e.run_id} of {d.get('workflow')} started"
            case "task.started":
                return f"{t} {who} started (attempt {e.attempt})"
            case "task.completed":
                return f"{t} {who} completed in {d.get('duration', 0):.3f}s"
            case "task.retried":
                err = d.get("error") or {}
                return (f"{t} {who} failed ({err.get('kind')}: {err.get('message')}); retrying "
                        f"in {d.get('delay', 0):.3f}s")
            case "task.failed" | "task.timeout":
                err = d.get("error") or {}
                tail = " (handled, the run goes on)" if d.get("handled") else ""
                return f"{t} {who} {e.status}: {err.get('kind')}: {err.get('message')}{tail}"
            case "task.skipped":
                why = d.get("reason") or (d.get("error") or {}).get("message", "")
                return f"{t} {who} skipped ({why})"
            case "task.cancelled":
                return f"{t} {who} cancelled"
            case "task.reused" | "task.cached":
                return f"{t} {who} {e.type.split('.')[1]}"
            case _ if e.type.startswith("workflow."):
                return f"{t} run {e.run_id} {e.type.split('.', 1)[1]}"
        return None


class JsonLog:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def emit(self, e: Event) -> None:
        print(json.dumps(e.to_json(), sort_keys=True, default=str), file=self.stream,
              flush=True)


class LiveView:
    """A live table of tasks: state, attempts, elapsed (rich, on a terminal)."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(file=stream)
        self.rows: dict[str, dict[str, Any]] = {}
        self.title = ""
        self.live = Live(console=self.console, refresh_per_second=8, transient=False,
                         get_renderable=self.render)
        self.live.start()

    def emit(self, e: Event) -> None:
        if e.type == "workflow.started":
            self.title = f"{e.data.get('workflow')} · run {e.run_id}"
        if e.key is not None:
            row = self.rows.setdefault(e.key, {"state": "", "attempt": 0, "start": e.ts,
                                               "end": None, "note": ""})
            row["state"] = e.status or row["state"]
            if e.attempt:
                row["attempt"] = e.attempt
            if e.status in ("completed", "failed", "timeout", "skipped", "cancelled"):
                row["end"] = e.ts
                err = e.data.get("error") if e.data else None
                if err:
                    row["note"] = f"{err.get('kind')}: {err.get('message')}"
        if e.type.startswith("workflow.") and e.type != "workflow.started":
            self.title += f" · {e.type.split('.', 1)[1]}"
            self.live.refresh()
            self.live.stop()

    def render(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, expand=False)
        for col in ("task", "state", "attempt", "elapsed", ""):
            table.add_column(col)
        now = time.time()
        rows = list(self.rows.items())
        if len(rows) > 30:  # a long loop: the latest ones
            rows = rows[-30:]
        colours = {"completed": "green", "failed": "red", "timeout": "red", "running": "cyan",
                   "retrying": "yellow", "skipped": "dim", "cancelled": "magenta"}
        for key, r in rows:
            state = r["state"]
            elapsed = (r["end"] or now) - r["start"]
            table.add_row(key, f"[{colours.get(state, 'white')}]{state}[/]", str(r["attempt"]),
                          f"{elapsed:.1f}s", r["note"][:60])
        return table

    def close(self) -> None:
        if self.live.is_started:
            self.live.stop()
