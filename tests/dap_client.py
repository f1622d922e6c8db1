"""A small Debug Adapter Protocol client for the tests: starts ``twdsl debug`` as a subprocess
and speaks the protocol to it over its stdin and stdout, with its own framing (not the
adapter's), so that the adapter's wire format is tested too.

    with DapClient(cwd) as dap:
        dap.request("initialize", {"adapterID": "twdsl"})
        launch = dap.send("launch", {"program": "flow.twdsl"})
        dap.event("initialized")
        ...
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import IO, Any

TIMEOUT = 30.0


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    assert length is not None, "a message without Content-Length"
    body = stream.read(length)
    assert len(body) == length, "the stream ended inside a message"
    message: dict[str, Any] = json.loads(body)
    return message


class DapError(AssertionError):
    pass


class DapClient:
    def __init__(self, cwd: Path, args: tuple[str, ...] = ()) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twdsl.cli", "debug", *args], cwd=cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.seq = 0
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.responses: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []  # every event, in order
        self.unseen: dict[str, deque[dict[str, Any]]] = {}  # not returned by event() yet
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            try:
                message = read_frame(self.proc.stdout)
            except (AssertionError, ValueError) as e:
                self.stderr.append(f"client: {e}")
                message = None
            self.inbox.put(message)
            if message is None:
                return

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line.decode("utf-8", "replace"))

    # ------------------------------------------------------------------ sending
    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, command: str, arguments: dict[str, Any] | None = None) -> int:
        self.seq += 1
        message: dict[str, Any] = {"seq": self.seq, "type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        body = json.dumps(message).encode()
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    # ------------------------------------------------------------------ receiving
    def _pump(self, deadline: float) -> None:
        """Take one message from the adapter, or fail at ``deadline``."""
        left = deadline - time.monotonic()
        try:
            message = self.inbox.get(timeout=max(left, 0.001))
        except queue.Empty:
            raise DapError(f"timed out; events so far: {self.summary()}\nstderr:\n"
                           f"{''.join(self.stderr)[-3000:]}") from None
        if message is None:
            self.inbox.put(None)  # stays closed
            raise DapError(f"the adapter closed its stream (exit {self.proc.poll()}); events: "
                           f"{self.summary()}\nstderr:\n{''.join(self.stderr)[-3000:]}")
        if message["type"] == "response":
            self.responses[message["request_seq"]] = message
        elif message["type"] == "event":
            self.events.append(message)
            self.unseen.setdefault(message["event"], deque()).append(message)

    def summary(self) -> list[str]:
        return [e["event"] + (f":{e['body'].get('reason')}" if e.get("body") and
                              "reason" in e["body"] else "") for e in self.events]

    def response(self, seq: int, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while seq not in self.responses:
            self._pump(deadline)
        return self.responses.pop(seq)

    def request(self, command: str, arguments: dict[str, Any] | None = None,
                timeout: float = TIMEOUT) -> dict[str, Any]:
        """The body of a successful response (a failed one raises DapError)."""
        r = self.response(self.send(command, arguments), timeout)
        if not r["success"]:
            raise DapError(f"{command} failed: {r.get('message')}")
        body: dict[str, Any] = r.get("body") or {}
        return body

    def failure(self, command: str, arguments: dict[str, Any] | None = None) -> str:
        """The message of a response that must be a failure."""
        r = self.response(self.send(command, arguments))
        if r["success"]:
            raise DapError(f"{command} succeeded: {r.get('body')}")
        return str(r.get("message"))

    def launched(self, seq: int, timeout: float = TIMEOUT) -> None:
        """Wait for the ``initialized`` event that follows a launch, failing with the launch's
        error when it fails instead."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.responses.get(seq)
            if r is not None and not r["success"]:
                raise DapError(f"launch failed: {r.get('message')}")
            if self.unseen.get("initialized"):
                self.event("initialized")
                return
            self._pump(deadline)

    def event(self, name: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The body of the next ``name`` event not returned yet (waiting for it)."""
        deadline = time.monotonic() + timeout
        while not self.unseen.get(name):
            self._pump(deadline)
        body: dict[str, Any] = self.unseen[name].popleft().get("body") or {}
        return body

    def output(self, category: str | None = None) -> str:
        """The text of every output event so far (of ``category``)."""
        return "".join(e["body"]["output"] for e in self.events if e["event"] == "output" and
                       (category is None or e["body"].get("category") == category))

    def drain(self, seconds: float) -> None:
        """Collect what arrives for ``seconds`` (to show that nothing more happens)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._pump(deadline)
            except DapError as e:
                if "timed out" in str(e):
                    return
                raise

    # ------------------------------------------------------------------ the end
    def close(self, timeout: float = 15) -> int:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise DapError(f"the adapter did not exit; stderr:\n{''.join(self.stderr)}"
                           ) from None

    def __enter__(self) -> DapClient:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
