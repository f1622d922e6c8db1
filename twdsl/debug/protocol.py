"""The Debug Adapter Protocol's wire format: JSON messages framed by a ``Content-Length``
header, as the Language Server Protocol frames them.

    Content-Length: 119\\r\\n
    \\r\\n
    {"seq": 1, "type": "request", "command": "initialize", "arguments": {...}}

:func:`read_message` reads one message from a binary stream; :class:`Channel` writes
responses and events (from any thread: the adapter sends output events from the threads that
forward the run's stdout and stderr) and numbers them.
"""

from __future__ import annotations

import json
import threading
from typing import IO, Any

#: A header larger than this is not a DAP header: the stream is not speaking the protocol.
MAX_HEADER = 8192
#: A message larger than this is refused (a breakpoint list of a huge file stays far below).
MAX_CONTENT = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not a DAP message."""


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """The next message of ``stream``, or None at the end of the stream.

    >>> import io
    >>> read_message(io.BytesIO(b'Content-Length: 13\\r\\n\\r\\n{"seq": 1}   '))
    {'seq': 1}
    """
    length: int | None = None
    header = b""
    while True:
        line = stream.readline(MAX_HEADER)
        if not line:
            if header or length is not None:
                raise ProtocolError("the stream ended inside a message header")
            return None
        header += line
        if len(header) > MAX_HEADER:
            raise ProtocolError("a message header is too long")
        text = line.decode("ascii", errors="replace").strip()
        if not text:
            if length is None:
                if header.strip():
                    raise ProtocolError("a message header has no Content-Length")
                header = b""
                continue  # blank lines between messages
            break
        name, sep, value = text.partition(":")
        if not sep:
            raise ProtocolError(f"not a message header: {text[:80]!r}")
        if name.strip().lower() == "content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ProtocolError(f"a Content-Length that is not a number: {value.strip()[:40]!r}"
                                    ) from None
            if not 0 <= length <= MAX_CONTENT:
                raise ProtocolError(f"a message of {length} bytes is refused")
    body = b""
    while len(body) < length:
        chunk = stream.read(length - len(body))
        if not chunk:
            raise ProtocolError("the stream ended inside a message")
        body += chunk
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtocolError(f"a message that is not JSON: {e}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message that is not a JSON object")
    return message


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Channel:
    """The adapter's side of the stream: numbered responses and events, written whole."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.seq = 0
        self.lock = threading.Lock()
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        with self.lock:
            if self.closed:
                return
            self.seq += 1
            message["seq"] = self.seq
            try:
                self.out.write(encode(message))
                self.out.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.closed = True  # the client went away; the session ends on its own

    def respond(self, request: dict[str, Any], body: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"type": "response", "request_seq": request.get("seq", 0),
                                   "success": True, "command": request.get("command", "")}
        if body is not None:
            message["body"] = body
        self.send(message)

    def fail(self, request: dict[str, Any], text: str, show: bool = True) -> None:
        """An error response: ``text`` is what the client shows (``show``: as a message box
        too, the DAP ``showUser`` of its error)."""
        self.send({"type": "response", "request_seq": request.get("seq", 0), "success": False,
                   "command": request.get("command", ""), "message": text,
                   "body": {"error": {"id": 1, "format": text, "showUser": show}}})

    def event(self, name: str, body: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"type": "event", "event": name}
        if body is not None:
            message["body"] = body
        self.send(message)

    def output(self, text: str, category: str = "console") -> None:
        self.event("output", {"category": category, "output": text})
