"""Event delivery out of the process: a JSONL file and a webhook (docs/events.md).

Both are event sinks (``emit(event)``) for the engine's ``Fanout``; both must never slow a run
down or fail it: the file sink does one buffered write and a flush per event, the webhook sink
only puts the event on a bounded queue that a background thread drains.  Every delivered
object is ``Event.to_json()`` plus ``correlation_id`` (the run id unless the caller gives one,
so a receiver can join the events of a run with its own request or trace).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from pathlib import Path
from typing import IO, Any

from twdsl.runtime.events import Event

log = logging.getLogger("twdsl.runtime.sinks")


def event_json(event: Event, correlation_id: str | None = None) -> dict[str, Any]:
    """The delivered object: the event's JSON and its correlation id."""
    out = event.to_json()
    out["correlation_id"] = correlation_id if correlation_id is not None else event.run_id
    return out


def dumps(obj: Any) -> str:
    """One line of JSON: sorted keys (stable for diffs and tests), no spaces, UTF-8 text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


class TypeFilter:
    """Glob patterns of event types (``workflow.*``, ``task.failed``); None lets all pass."""

    def __init__(self, patterns: Iterable[str] | None) -> None:
        self.patterns = tuple(patterns) if patterns is not None else None

    def __call__(self, type: str) -> bool:
        if self.patterns is None:
            return True
        return any(fnmatchcase(type, p) for p in self.patterns)


class JsonlSink:
    """Appends one JSON object per event to a file, flushed per line so ``tail -f`` sees each
    event as it happens.  The folder and the file are created; an existing file is appended
    to (several runs may share one log).  Flushed, not fsynced: the state store is the durable
    record, this file is a feed."""

    def __init__(self, path: str | Path, correlation_id: str | None = None,
                 types: Iterable[str] | None = None) -> None:
        self.path = Path(path)
        self.correlation_id = correlation_id
        self.accept = TypeFilter(types)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        if not self.accept(event.type):
            return
        line = dumps(event_json(event, self.correlation_id)) + "\n"
        with self._lock:
            if self._file is None:
                raise RuntimeError(f"events file {self.path} is closed")
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


#: Status codes worth another try: the receiver is overloaded or briefly broken.
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class WebhookSink:
    """POSTs events as JSON to a URL from a background thread; the run never waits for it.

    Body: ``{"events": [event, …]}``, one or more events in the order they happened, each
    ``Event.to_json()`` plus ``correlation_id``.  A batch is whatever is queued when the
    sender is free (at most ``batch_size``): a slow run sends one event per POST with no
    added delay, a fast one does not fall behind.  A request that fails with a connection
    error, a timeout or a status in RETRY_STATUS is tried again after ``backoff`` × 2^n
    seconds (n = 0, 1, …), at most ``retries`` more times; any other status that is not 2xx
    (after following redirects) is final.
    Events that cannot be delivered (queue full, retries used up, rejected, or still queued
    at the ``close()`` deadline) are dropped and counted in ``dropped``; the first drop and
    the total at close are logged as warnings (``warn``, the ``twdsl.runtime.sinks`` logger
    by default).
    """

    def __init__(self, url: str, headers: dict[str, str] | None = None,
                 types: Iterable[str] | None = None, timeout: float = 5.0, retries: int = 3,
                 correlation_id: str | None = None, max_queue: int = 10_000,
                 batch_size: int = 100, backoff: float = 0.5,
                 warn: Callable[[str], None] | None = None) -> None:
        import httpx

        self.url = url
        self.correlation_id = correlation_id
        self.accept = TypeFilter(types)
        self.retries = max(0, retries)
        self.batch_size = max(1, batch_size)
        self.backoff = backoff
        self.warn = warn or log.warning
        self.dropped = 0
        self.delivered = 0  # events the receiver accepted (2xx)
        self.last_error: str | None = None
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._warned = False
        self._closed = False
        self._deadline: float | None = None  # set by close(): give up after it
        self._inflight = 0  # events of the batch being sent
        self._abandoned = False  # close() returned while a request was still in flight
        self._wake = threading.Event()  # cuts a backoff wait short at close
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=True,
            headers={"content-type": "application/json", "user-agent": "twdsl",
                     **(headers or {})})
        self._thread = threading.Thread(target=self._run, name="twdsl-webhook", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the run's side
    def emit(self, event: Event) -> None:
        """Queue the event; never blocks (a full queue drops it)."""
        if self._closed or not self.accept(event.type):
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._drop(1, f"the queue is full ({self._queue.maxsize} events waiting)")

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued, waiting at most ``timeout`` seconds; drop (and count) the
        rest.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic() + timeout
        try:
            self._queue.put_nowait(None)  # wakes the sender once the queue is drained
        except queue.Full:
            pass  # the sender sees _closed after its current batch
        self._wake.set()
        self._thread.join(timeout + 0.5)
        with self._lock:
            if self._thread.is_alive():  # stuck in a request past the deadline: give it up
                self._abandoned = True
                left = self._inflight
            else:
                left = 0
        while True:  # events the sender never got to
            try:
                if self._queue.get_nowait() is not None:
                    left += 1
            except queue.Empty:
                break
        if left:
            self._drop(left, "not sent by the close deadline")
        if self.dropped:
            self.warn(f"webhook {self.url}: {self.dropped} event"
                      f"{'s' if self.dropped != 1 else ''} dropped"
                      + (f" (last error: {self.last_error})" if self.last_error else ""))

    # ------------------------------------------------------------------ the sender thread
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            self._client.close()

    def _loop(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closed:
                    return
                continue
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.batch_size:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._send(batch)
            if stop or self._past_deadline():
                return

    def _pause(self, delay: float) -> None:
        """Wait before a retry; close() shortens the wait to its deadline."""
        end = time.monotonic() + delay
        while True:
            limit = end if self._deadline is None else min(end, self._deadline)
            now = time.monotonic()
            if now >= limit:
                return
            if self._wake.wait(limit - now):
                self._wake.clear()  # close() moved the deadline: recompute the limit

    def _past_deadline(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _send(self, batch: list[Event]) -> None:
        import httpx

        with self._lock:
            self._inflight = len(batch)
        body = dumps({"events": [event_json(e, self.correlation_id) for e in batch]})
        error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._pause(self.backoff * 2 ** (attempt - 1))
                if self._past_deadline():
                    break
            try:
                response = self._client.post(self.url, content=body.encode())
            except httpx.HTTPError as e:
                error = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                continue
            if 200 <= response.status_code < 300:
                with self._lock:
                    self._inflight = 0
                    if not self._abandoned:
                        self.delivered += len(batch)
                return
            error = f"HTTP {response.status_code}"
            if response.status_code not in RETRY_STATUS:
                break
        with self._lock:
            self._inflight = 0
            if self._abandoned:
                return  # close() already counted this batch as dropped
        self._drop(len(batch), error)

    def _drop(self, n: int, reason: str) -> None:
        with self._lock:
            self.dropped += n
            self.last_error = reason
            first = not self._warned
            self._warned = True
        if first:
            self.warn(f"webhook {self.url}: dropping events: {reason}")
