"""The adapter on its process's standard streams.

The Debug Adapter Protocol owns stdin and stdout, but the run happens in this process: a
Python agent's ``print``, the ``log`` agent, a command agent's output would write into the
protocol's stream.  So the protocol takes copies of descriptors 0 and 1, and then

* descriptor 0 reads from the null device (nothing the run starts can read the client's
  messages);
* descriptor 1 is a pipe whose text goes to the client as ``output`` events of category
  ``stdout``; descriptor 2 a pipe whose text goes as ``stderr`` events and, as well, to the
  process's real stderr (where the client's log of the adapter, or a terminal, reads it).

Messages are read by a thread and handed to the session's event loop.
"""

from __future__ import annotations

import asyncio
import codecs
import io
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import IO, Any

from twdsl.debug.protocol import Channel, ProtocolError, read_message
from twdsl.debug.session import DebugSession, Prepare


@dataclass
class Streams:
    """The protocol's streams and the redirected descriptors of the process."""

    inp: IO[bytes]
    out: IO[bytes]
    saved: dict[int, int]  # descriptor → a copy of what it was
    readers: list[threading.Thread] = field(default_factory=list)
    channel: Channel | None = None

    @classmethod
    def take(cls) -> Streams:
        saved = {fd: os.dup(fd) for fd in (0, 1, 2)}
        inp = os.fdopen(os.dup(0), "rb")
        out = os.fdopen(os.dup(1), "wb")
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        return cls(inp, out, saved)

    def forward(self, channel: Channel) -> None:
        """Descriptors 1 and 2 into pipes read by threads that send their text to the
        client."""
        self.channel = channel
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, category in ((1, "stdout"), (2, "stderr")):
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            tee = self.saved[2] if fd == 2 else None
            t = threading.Thread(target=_pump, args=(r, channel, category, tee),
                                 name=f"twdsl-debug-{category}", daemon=True)
            t.start()
            self.readers.append(t)
        # line-buffered text on the new descriptors (a pipe would make them block-buffered)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True,
                                      encoding="utf-8", errors="replace")
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True,
                                      encoding="utf-8", errors="replace")

    def restore(self) -> None:
        """The descriptors as they were; what the pipes still hold is sent first."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        for fd, copy in self.saved.items():
            os.dup2(copy, fd)  # closes the pipes' write ends: the pumps read to their end
        for t in self.readers:
            t.join(timeout=2)
        for copy in self.saved.values():
            os.close(copy)


def _pump(fd: int, channel: Channel, category: str, tee: int | None) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with os.fdopen(fd, "rb", buffering=0) as pipe:
        while True:
            try:
                data = pipe.read(65536)
            except OSError:
                return
            if not data:
                return
            if tee is not None:
                try:
                    os.write(tee, data)
                except OSError:
                    pass
            text = decoder.decode(data)
            if text:
                channel.output(text, category)


def _read(inp: IO[bytes], loop: asyncio.AbstractEventLoop,
          queue: asyncio.Queue[dict[str, Any] | None], errors: list[str]) -> None:
    try:
        while True:
            message = read_message(inp)
            loop.call_soon_threadsafe(queue.put_nowait, message)
            if message is None:
                return
    except ProtocolError as e:
        errors.append(str(e))
        loop.call_soon_threadsafe(queue.put_nowait, None)
    except (OSError, ValueError, RuntimeError):  # the stream or the loop closed
        try:
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            pass


async def _serve(streams: Streams, prepare: Prepare, errors: list[str]) -> None:
    assert streams.channel is not None
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=_read, args=(streams.inp, loop, queue, errors),
                     name="twdsl-debug-reader", daemon=True).start()
    session = DebugSession(streams.channel, prepare)
    for sig in (signal.SIGINT, signal.SIGTERM):  # as a disconnect: the run is cancelled
        try:
            loop.add_signal_handler(sig, session.closing.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - not on POSIX
            pass
    await session.serve(queue)


def serve_stdio(prepare: Prepare) -> list[str]:
    """Serve one session on stdin and stdout; the protocol errors of the client's stream
    (empty when it spoke the protocol until it disconnected or closed it)."""
    streams = Streams.take()
    errors: list[str] = []
    try:
        streams.forward(Channel(streams.out))
        asyncio.run(_serve(streams, prepare, errors))
    finally:
        streams.restore()
    return errors
