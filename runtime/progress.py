"""What `twdsl run` shows on stderr while a run goes: a live table on a terminal (rich),
plain log lines otherwise, or one JSON object per event (``--log-format json``)."""

from __future__ import annotations

import json
import time
from typing import IO, Any

from twdsl.runtime.events import Event

_QUIET = {"task.queued"}


_FINAL = ("completed", "failed", "timeout", "skipped", "cancelled")


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def error_text(err: Any, status: str | None = None) -> str:
    """An error as people read it, ``kind: message``; the kind is left out when it only
    repeats the status written before it (``timeout: timeout: …``).

    >>> error_text({"kind": "timeout", "message": "ran past 5s"}, "timeout")
    'ran past 5s'
    >>> error_text({"kind": "agent", "message": "exit 1"}, "failed")
    'agent: exit 1'
    """
    if not isinstance(err, dict):
        return "" if err is None else str(err)
    kind, message = err.get("kind"), err.get("message") or ""
    if not kind or kind == status:
        return str(message)
    return f"{kind}: {message}"


class TextLog:
    """One readable line per event that matters: greppable, stable, no colours.  ``note``
    (which configuration bound the agents) is written under the run's first line."""

    def __init__(self, stream: IO[str], note: str | None = None) -> None:
        self.stream = stream
        self.note = note

    def emit(self, e: Event) -> None:
        line = self.format(e)
        if line:
            if e.type == "workflow.started" and self.note:
                line += f"\n{_clock(e.ts)} {self.note}"
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
                return (f"{t} {who} failed ({error_text(err)}); retrying "
                        f"in {d.get('delay', 0):.3f}s")
            case "task.failed" | "task.timeout":
                err = d.get("error") or {}
                tail = " (handled, the run goes on)" if d.get("handled") else ""
                return f"{t} {who} {e.status}: {error_text(err, e.status)}{tail}"
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
    """A live table of tasks: state, attempts, elapsed (rich, on a terminal), under a title
    that counts the task instances done out of those started so far (``3/5 done``)."""

    def __init__(self, stream: IO[str], note: str | None = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.note = note  #: shown under the table (which configuration bound the agents)
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
            if e.status in _FINAL:
                row["end"] = e.ts
                err = e.data.get("error") if e.data else None
                if err:
                    row["note"] = error_text(err, e.status)
        if e.type.startswith("workflow.") and e.type != "workflow.started":
            self.title += f" · {e.type.split('.', 1)[1]}"
            self.live.refresh()
            self.live.stop()

    def counter(self) -> str:
        """``done/total``: task instances that ended, of those the run has reached."""
        done = sum(1 for r in self.rows.values() if r["state"] in _FINAL)
        return f"{done}/{len(self.rows)} done"

    def render(self) -> Any:
        from rich.table import Table

        title = f"{self.title} · {self.counter()}" if self.title else self.counter()
        table = Table(title=title, caption=self.note, expand=False)
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
