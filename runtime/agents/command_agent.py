"""Command agents: ``command = ["tool", "--msg", "{message}"]`` runs a program per attempt.

Never a shell: the argv list is given to the OS as it is, and a placeholder always becomes
(part of) one argument, whatever the value holds (spaces, quotes, ``;``), so inputs cannot
inject commands.  The input JSON is also written to stdin.  The program runs in a session
(process group) of its own so that a timeout or a cancellation stops all of it, children
included: SIGTERM to the group, SIGKILL to the group after ``kill_grace`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twdsl.runtime.agents.base import AgentCall, dumps
from twdsl.runtime.errors import ErrorKind, TaskError

#: How much of stderr an error keeps (its end: where programs say what went wrong).
STDERR_TAIL = 2048
#: sysexits.h EX_TEMPFAIL: "try again later" — the one exit code that means transient.
EX_TEMPFAIL = 75
OUTPUT_MODES = ("auto", "json", "text")

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*|[0-9]+")

#: One argument: literal text and placeholder paths (tuples of keys) in order.
Template = list[str | tuple[str, ...]]


def parse_argument(arg: str) -> Template:
    """Split ``--msg={message}`` into literal and placeholder parts; ``{{``/``}}`` are
    literal braces.  Raises ValueError saying what is wrong with ``arg`` (the caller names
    it in a configuration message)."""
    parts: Template = []
    text: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(arg):
        text.append(arg[pos:m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("{{", "}}"):
            text.append(token[0])
            continue
        if token == "{":
            raise ValueError("has a '{' that is not closed (write '{{' for a literal brace)")
        if token == "}":
            raise ValueError("has a '}' that was not opened (write '}}' for a literal brace)")
        path = tuple(m.group(1).strip().split("."))
        if not all(_SEGMENT.fullmatch(p) for p in path):
            raise ValueError(f"has {token!r}, which is not a placeholder; write {{name}} or "
                             "{name.field} for a value of the input, {input} for all of it, "
                             "'{{' and '}}' for literal braces")
        if text:
            parts.append("".join(text))
            text = []
        parts.append(path)
    text.append(arg[pos:])
    if "".join(text) or not parts:
        parts.append("".join(text))
    return parts


def render_argument(template: Template, data: dict[str, Any]) -> str:
    """The argument for one input: strings as they are, other values as compact JSON.
    ``{input}`` is the whole input; ``{input.x}`` and ``{x}`` are its field x."""
    out = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
            continue
        value: Any = data
        path = part[1:] if part[0] == "input" else part
        for i, key in enumerate(path):
            if isinstance(value, dict) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                shown = ".".join(part)
                at = ".".join(path[:i]) or "the input"
                have = (", ".join(sorted(value)) or "no fields") if isinstance(value, dict) \
                    else f"a {type(value).__name__}"
                raise KeyError(f"{{{shown}}} names {key!r}, which {at} does not have "
                               f"(it has {have})")
        out.append(value if isinstance(value, str) else dumps(value))
    return "".join(out)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    argv: tuple[str, ...]
    templates: tuple[Template, ...]
    base_dir: Path  #: the config file's folder: relative paths are its
    cwd: Path
    env: tuple[tuple[str, str], ...] = ()
    timeout: float | None = None
    output: str = "auto"
    kill_grace: float = 2.0


class CommandAgent:
    """A program as an agent (see the module docstring and docs/agents.md)."""

    def __init__(self, name: str, spec: CommandSpec, where: str) -> None:
        self.name = name
        self.spec = spec
        self.where = where  #: "[agents.X] in twdsl.toml", for messages

    def __repr__(self) -> str:
        return f"CommandAgent({self.name!r}, {list(self.spec.argv)!r})"

    async def __call__(self, call: AgentCall) -> Any:
        spec = self.spec
        try:
            argv = [render_argument(t, call.input) for t in spec.templates]
        except KeyError as e:
            raise TaskError(ErrorKind.VALIDATION,
                            f"command agent '{self.name}': {e.args[0]}",
                            {"argv": list(spec.argv)}) from None
        env = {**os.environ, **dict(spec.env),
               "TWDSL_RUN_ID": call.run_id, "TWDSL_WORKFLOW": call.workflow,
               "TWDSL_TASK": call.task, "TWDSL_NODE_ID": call.node_id,
               "TWDSL_AGENT": call.agent, "TWDSL_ATTEMPT": str(call.attempt)}
        program = self._program(argv[0], env)
        proc, transport = await self._spawn(program, argv, env)
        try:
            return await self._run(proc, argv, call.input)
        finally:
            # Close our ends of the pipes now, on this loop: a detached child that still holds
            # them would otherwise leave the transport to be closed by the garbage collector
            # after the loop is gone ("Exception ignored ... Event loop is closed").
            transport.close()

    async def _run(self, proc: asyncio.subprocess.Process, argv: list[str], input: Any) -> Any:
        spec = self.spec
        loop = asyncio.get_running_loop()
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        stdout = loop.create_task(proc.stdout.read())
        stderr = loop.create_task(_tail(proc.stderr, STDERR_TAIL * 4))
        feed = loop.create_task(_feed(proc.stdin, (dumps(input) + "\n").encode()))
        waiter = loop.create_task(proc.wait())
        pending = [stdout, stderr, feed, waiter]
        try:
            async with asyncio.timeout(spec.timeout):
                await asyncio.wait(pending)
        except TimeoutError:
            await asyncio.shield(self._stop(proc, pending))
            raise TaskError(ErrorKind.TIMEOUT,
                            f"command agent '{self.name}' ran past its timeout of "
                            f"{spec.timeout:g}s and was stopped",
                            {"argv": argv, "stderr": _text(stderr)}) from None
        except asyncio.CancelledError:
            # Stop the work even if we are cancelled again while stopping it.
            await asyncio.shield(self._stop(proc, pending))
            raise
        code = waiter.result()
        if code != 0:
            raise self._exit_error(code, argv, _text(stderr))
        return self._result(stdout.result())

    def _program(self, arg0: str, env: dict[str, str]) -> str:
        """The executable's path: relative paths are the config folder's, bare names are
        looked up on PATH (the agent's env PATH, if it sets one)."""
        if os.sep in arg0 or (os.altsep and os.altsep in arg0):
            path = Path(arg0)
            if not path.is_absolute():
                path = self.spec.base_dir / path
            if not path.is_file():
                raise TaskError(ErrorKind.AGENT,
                                f"command agent '{self.name}': program {str(path)!r} does not "
                                f"exist ({self.where}); fix the path in 'command'")
            if not os.access(path, os.X_OK):
                raise TaskError(ErrorKind.AGENT,
                                f"command agent '{self.name}': program {str(path)!r} is not "
                                f"executable ({self.where}); chmod +x it, or run it through "
                                "its interpreter: command = [\"python\", \"tool.py\", ...]")
            return str(path)
        found = shutil.which(arg0, path=env.get("PATH"))
        if found is None:
            raise TaskError(ErrorKind.AGENT,
                            f"command agent '{self.name}': program {arg0!r} was not found on "
                            f"PATH ({self.where}); install it, or give its path in 'command'")
        return found

    async def _spawn(self, program: str, argv: list[str], env: dict[str, str]
                     ) -> tuple[asyncio.subprocess.Process, asyncio.SubprocessTransport]:
        """The process, and its transport (what ``create_subprocess_exec`` does, keeping the
        transport so that the pipes can be closed when the attempt ends)."""
        cwd = self.spec.cwd
        if not cwd.is_dir():
            raise TaskError(ErrorKind.AGENT,
                            f"command agent '{self.name}': working directory {str(cwd)!r} does "
                            f"not exist ({self.where}, 'cwd')")
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: asyncio.subprocess.SubprocessStreamProtocol(limit=2 ** 16, loop=loop),
                program, *argv[1:], stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                cwd=cwd, env=env, start_new_session=True)
            return asyncio.subprocess.Process(transport, protocol, loop), transport
        except OSError as e:
            raise TaskError(ErrorKind.AGENT,
                            f"command agent '{self.name}': cannot start {program!r}: "
                            f"{e.strerror or e}", {"argv": argv}) from None

    async def _stop(self, proc: asyncio.subprocess.Process,
                    pending: list[asyncio.Task[Any]]) -> None:
        """SIGTERM to the process group; SIGKILL to it once the grace is over or as soon as
        everything that held the output pipes is gone.  (Waiting for the pipes, not for
        ``killpg(pgid, 0)``, because a dead grandchild nobody reaps stays a zombie in the
        group.)"""
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.spec.kill_grace):
                await asyncio.wait(pending)
        _signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()
        for task in pending:
            task.cancel()  # a process that left the group may still hold a pipe
        await asyncio.gather(*pending, return_exceptions=True)

    def _exit_error(self, code: int, argv: list[str], stderr: str) -> TaskError:
        last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()),
                    "")
        if code < 0:
            try:
                how = f"was killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        kind = ErrorKind.TRANSIENT if code == EX_TEMPFAIL else ErrorKind.AGENT
        message = f"command agent '{self.name}' {how}" + (f": {last}" if last else "")
        return TaskError(kind, message, {"exit_code": code, "stderr": stderr, "argv": argv})

    def _result(self, raw: bytes) -> Any:
        mode = self.spec.output
        if mode == "json":
            if not raw.strip():
                return None
            try:
                return json.loads(raw)
            except ValueError as e:
                shown = raw[:200].decode("utf-8", "replace")
                raise TaskError(ErrorKind.VALIDATION,
                                f"command agent '{self.name}' printed something that is not "
                                f"JSON ({e}); its output is 'json' ({self.where})",
                                {"stdout": shown}) from None
        text = raw.decode("utf-8", "replace")
        text = text[:-1] if text.endswith("\n") else text
        text = text[:-1] if text.endswith("\r") else text
        if mode == "text":
            return text
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _feed(pipe: asyncio.StreamWriter, data: bytes) -> None:
    """Write the input to stdin and close it; a program that does not read stdin is fine."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        pipe.write(data)
        await pipe.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        pipe.close()


async def _tail(stream: asyncio.StreamReader, keep: int) -> bytes:
    """Read a stream to its end, keeping only its last ``keep`` bytes."""
    buf = bytearray()
    while chunk := await stream.read(65536):
        buf += chunk
        if len(buf) > 2 * keep:
            del buf[:-keep]
    return bytes(buf[-keep:])


def _text(task: asyncio.Task[bytes]) -> str:
    """The stderr tail as text (the last STDERR_TAIL bytes, cut at a character)."""
    if not task.done() or task.cancelled() or task.exception() is not None:
        return ""
    data = task.result()[-STDERR_TAIL:]
    return data.decode("utf-8", "replace").lstrip("\ufffd")
