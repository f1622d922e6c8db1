"""Event delivery: the JSONL file (exact lines, appended, flushed per event) and the webhook
against a real HTTP server on 127.0.0.1 (exact bodies, batches, retries on 5xx, no retry on
4xx, a server that is down, a full queue, a close deadline, and emit never waiting for the
network)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from twdsl.runtime.events import Event
from twdsl.runtime.sinks import JsonlSink, TypeFilter, WebhookSink


def events() -> list[Event]:
    return [
        Event("workflow.started", "r1", data={"workflow": "W", "inputs": {"n": 1}}, ts=100.0),
        Event("task.started", "r1", key="n1", task="a", node="n1", attempt=1, status="running",
              data={"input": {"q": "é"}}, ts=100.5),
        Event("task.completed", "r1", key="n1", task="a", node="n1", attempt=1,
              status="completed", data={"result": [1, 2], "duration": 0.25}, ts=100.75),
        Event("workflow.completed", "r1", status="completed", data={"outputs": {"x": 2}},
              ts=101.0),
    ]


LINES = [
    '{"correlation_id":"r1","data":{"inputs":{"n":1},"workflow":"W"},"run_id":"r1",'
    '"ts":100.0,"type":"workflow.started"}',
    '{"attempt":1,"correlation_id":"r1","data":{"input":{"q":"é"}},"key":"n1","node":"n1",'
    '"run_id":"r1","status":"running","task":"a","ts":100.5,"type":"task.started"}',
    '{"attempt":1,"correlation_id":"r1","data":{"duration":0.25,"result":[1,2]},"key":"n1",'
    '"node":"n1","run_id":"r1","status":"completed","task":"a","ts":100.75,'
    '"type":"task.completed"}',
    '{"correlation_id":"r1","data":{"outputs":{"x":2}},"run_id":"r1","status":"completed",'
    '"ts":101.0,"type":"workflow.completed"}',
]


# ---------------------------------------------------------------------- JSONL
def test_jsonl_writes_one_sorted_object_per_event_flushed_as_it_goes(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "deep" / "events.jsonl"  # the folders do not exist yet
    sink = JsonlSink(path)
    for i, e in enumerate(events()):
        sink.emit(e)
        # flushed per event: a reader (tail -f) sees each line before the sink is closed
        assert path.read_text(encoding="utf-8").splitlines() == LINES[:i + 1]
    sink.close()
    assert path.read_bytes().decode("utf-8") == "\n".join(LINES) + "\n"


def test_jsonl_appends_filters_by_type_and_takes_a_correlation_id(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("earlier\n", encoding="utf-8")
    sink = JsonlSink(path, correlation_id="req-42", types=["workflow.*"])
    for e in events():
        sink.emit(e)
    sink.close()
    sink.close()  # idempotent
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "earlier"
    assert [(json.loads(x)["type"], json.loads(x)["correlation_id"]) for x in lines[1:]] == [
        ("workflow.started", "req-42"), ("workflow.completed", "req-42")]


def test_jsonl_emit_after_close_is_an_error_the_fanout_isolates(tmp_path: Path) -> None:
    from twdsl.runtime.events import Fanout

    sink = JsonlSink(tmp_path / "e.jsonl")
    sink.close()
    fan = Fanout([sink])
    fan.emit(events()[0])
    assert fan.errors == [f"JsonlSink: events file {tmp_path / 'e.jsonl'} is closed"]


def test_type_filter_globs() -> None:
    f = TypeFilter(["workflow.*", "task.failed"])
    assert [t for t in ("workflow.started", "workflow.failed", "task.failed", "task.started",
                        "task.failed.x") if f(t)] == ["workflow.started", "workflow.failed",
                                                      "task.failed"]
    assert TypeFilter(None)("anything")
    assert not TypeFilter([])("task.started")


# ---------------------------------------------------------------------- webhook
class Receiver:
    """A real HTTP server on 127.0.0.1 that records POST bodies.  ``statuses`` answers the
    requests in turn (then 200); ``hold`` makes the first request wait until released."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.headers: list[dict[str, str]] = []
        self.statuses: list[int] = []
        self.received = threading.Event()  # set when a request arrives
        self.release = threading.Event()
        self.release.set()
        self.answered = 0  # requests answered so far
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.bodies.append(body)
                    outer.headers.append(dict(self.headers))
                    status = outer.statuses.pop(0) if outer.statuses else 200
                outer.received.set()
                outer.release.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                with outer.lock:
                    outer.answered += 1

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,),
                                       daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def batches(self) -> list[list[str]]:
        return [[e["type"] + ("" if "key" not in e else " " + e["key"]) for e in b["events"]]
                for b in self.bodies]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_webhook_bodies_are_exact(receiver: Receiver) -> None:
    warnings: list[str] = []
    sink = WebhookSink(receiver.url, headers={"Authorization": "Bearer t"}, batch_size=1,
                       warn=warnings.append)
    for e in events():
        sink.emit(e)
    sink.close()
    assert receiver.bodies == [{"events": [json.loads(line)]} for line in LINES]
    assert (receiver.headers[0]["Authorization"], receiver.headers[0]["content-type"]) == (
        "Bearer t", "application/json")
    assert (sink.delivered, sink.dropped, warnings) == (4, 0, [])


def test_emit_never_waits_for_the_server_and_what_queued_meanwhile_goes_in_one_batch(
        receiver: Receiver) -> None:
    receiver.release.clear()  # the server holds the first request until released
    sink = WebhookSink(receiver.url, types=["task.*"], correlation_id="c9")
    first = Event("task.started", "r2", key="k0", task="t", ts=1.0)
    sink.emit(first)
    assert receiver.received.wait(10)
    for i in range(1, 101):
        sink.emit(Event("task.started", "r2", key=f"k{i}", task="t", ts=1.0 + i))
        sink.emit(Event("workflow.started", "r2", ts=1.0))  # filtered out by types
    # all 100 emits returned while the server still held the first request
    assert (receiver.answered, len(receiver.bodies)) == (0, 1)
    receiver.release.set()
    sink.close()
    assert receiver.batches() == [["task.started k0"],
                                  [f"task.started k{i}" for i in range(1, 101)]]
    assert {e["correlation_id"] for b in receiver.bodies for e in b["events"]} == {"c9"}
    assert (sink.delivered, sink.dropped) == (101, 0)


def test_a_5xx_is_retried_with_the_same_body(receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    sink = WebhookSink(receiver.url, backoff=0.01)
    sink.emit(events()[0])
    sink.close()
    assert receiver.bodies == [{"events": [json.loads(LINES[0])]}] * 3
    assert (sink.delivered, sink.dropped) == (1, 0)


def test_retries_used_up_drop_the_batch_with_one_warning(receiver: Receiver) -> None:
    receiver.statuses = [500, 500, 500]
    warnings: list[str] = []
    sink = WebhookSink(receiver.url, retries=2, backoff=0.01, batch_size=1,
                       warn=warnings.append)
    sink.emit(events()[0])
    sink.emit(events()[1])  # the next batch still goes out: 200
    sink.close()
    assert len(receiver.bodies) == 4
    assert (sink.delivered, sink.dropped) == (1, 1)
    assert warnings == [f"webhook {receiver.url}: dropping events: HTTP 500",
                        f"webhook {receiver.url}: 1 event dropped (last error: HTTP 500)"]


def test_a_4xx_is_not_retried(receiver: Receiver) -> None:
    receiver.statuses = [400]
    warnings: list[str] = []
    sink = WebhookSink(receiver.url, backoff=0.01, warn=warnings.append)
    sink.emit(events()[0])
    sink.close()
    assert (len(receiver.bodies), sink.delivered, sink.dropped) == (1, 0, 1)
    assert warnings[0] == f"webhook {receiver.url}: dropping events: HTTP 400"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_that_is_down_drops_and_counts_without_failing_the_run() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    warnings: list[str] = []
    sink = WebhookSink(url, retries=2, backoff=0.01, warn=warnings.append)
    for e in events():
        sink.emit(e)  # returns: nothing raises into the run
    sink.close()
    assert (sink.delivered, sink.dropped) == (0, 4)
    assert warnings[0].startswith(f"webhook {url}: dropping events: ConnectError")
    assert warnings[1].startswith(f"webhook {url}: 4 events dropped (last error: ConnectError")
    assert len(warnings) == 2


def test_a_full_queue_drops_what_does_not_fit(receiver: Receiver) -> None:
    receiver.release.clear()
    warnings: list[str] = []
    sink = WebhookSink(receiver.url, max_queue=2, warn=warnings.append)
    sink.emit(Event("task.started", "r", key="k0", ts=1.0))
    assert receiver.received.wait(10)
    for i in range(1, 6):
        sink.emit(Event("task.started", "r", key=f"k{i}", ts=1.0))
    assert sink.dropped == 3  # counted at once, in emit
    receiver.release.set()
    sink.close()
    assert receiver.batches() == [["task.started k0"], ["task.started k1", "task.started k2"]]
    assert (sink.delivered, sink.dropped) == (3, 3)
    assert warnings == [
        f"webhook {receiver.url}: dropping events: the queue is full (2 events waiting)",
        f"webhook {receiver.url}: 3 events dropped (last error: the queue is full "
        "(2 events waiting))"]


def test_close_gives_up_at_its_deadline_and_counts_what_was_not_sent(
        receiver: Receiver) -> None:
    receiver.release.clear()  # the server answers only after close() returned
    warnings: list[str] = []
    sink = WebhookSink(receiver.url, timeout=30, warn=warnings.append)
    sink.emit(Event("task.started", "r", key="k0", ts=1.0))
    assert receiver.received.wait(10)
    sink.emit(Event("task.started", "r", key="k1", ts=1.0))
    sink.close(timeout=0.05)
    assert (sink.delivered, sink.dropped) == (0, 2)
    assert warnings[-1] == (f"webhook {receiver.url}: 2 events dropped (last error: not sent "
                            "by the close deadline)")
    receiver.release.set()
    sink._thread.join(10)  # the abandoned request ends: it must not count twice
    assert (sink.delivered, sink.dropped) == (0, 2)
    sink.emit(Event("task.started", "r", key="k2", ts=1.0))  # after close: ignored
    assert (len(receiver.bodies), sink.dropped) == (1, 2)


def test_a_real_run_delivers_every_event_in_order(receiver: Receiver) -> None:
    """The engine's own events through a Fanout: the receiver gets exactly what the run
    emitted, in order, whatever the batching."""
    import asyncio

    from twdsl.compiler import compile_source
    from twdsl.runtime.engine import Engine, RunOptions
    from twdsl.runtime.events import Collect, Fanout

    program = compile_source('''
    workflow Fan {
      version: "1.0.0"
      input { xs: array<number> }
      foreach x in xs { task each { agent: "Echo" input: { x: x } } }
      output { n: number = len(each.result) }
    }''', "w.twdsl").program
    assert program is not None

    class Agents:
        def get(self, name: str) -> Any:
            async def agent(call: Any) -> Any:
                return call.input
            return agent

    seen = Collect()
    sink = WebhookSink(receiver.url, correlation_id="trace-1")
    engine = Engine(program, Agents(), Fanout([sink, seen]), RunOptions(run_id="r7"))
    result = asyncio.run(engine.run({"xs": list(range(50))}))
    sink.close()
    assert result.outputs == {"n": 50}
    delivered = [e for b in receiver.bodies for e in b["events"]]
    assert delivered == [{**json.loads(json.dumps(e.to_json())), "correlation_id": "trace-1"}
                         for e in seen.events]
    assert len(delivered) == 2 + 2 * 50
    assert (sink.delivered, sink.dropped) == (len(delivered), 0)
