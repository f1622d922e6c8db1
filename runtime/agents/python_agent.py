"""Python agents: ``python = "module:function"`` (or an entry point) names a callable
``f(input: dict, ctx: AgentCall) -> result``.

An async function is awaited on the event loop, so cancelling the task cancels it.  A plain
function runs in a thread: Python cannot stop a thread, so a cancelled sync agent keeps
running to its end in the background (its result is dropped).  The threads are daemon
threads of a pool of our own (up to 256), not asyncio's default executor: that executor has
only ``cpu_count + 4`` workers (a parallel ``foreach`` of sleepy sync agents would queue
behind 6 of them here) and ``asyncio.run`` waits for its threads at exit, so one hung agent
would keep ``twdsl run`` from ending after Ctrl-C.

An executor may run the function elsewhere (runtime/executors: a Ray task) by giving a copy of
the agent a ``runner``; the binding's timeout, the classification of errors and the JSON
check stay here, the same wherever the function runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import inspect
import queue
import sys
import threading
import traceback
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from twdsl.runtime.agents.base import AgentCall, ensure_json
from twdsl.runtime.errors import ConfigurationError, ErrorKind, TaskError
from twdsl.suggest import hint


class PythonAgent:
    """A Python callable as an agent."""

    def __init__(self, name: str, func: Callable[..., Any], target: str,
                 timeout: float | None = None, *, base_dir: Path | None = None,
                 ray: Mapping[str, Any] | None = None,
                 runner: Callable[[PythonAgent, AgentCall], Awaitable[Any]] | None = None
                 ) -> None:
        self.name = name
        self.timeout = timeout  #: the binding's own limit (seconds), besides the task's
        self.func = func
        self.target = target  #: "module:function", for messages
        self.base_dir = base_dir  #: the folder the module is imported from first
        self.ray = ray  #: the binding's checked ``ray`` table (the Ray executor's options)
        self.runner = runner  #: runs the function elsewhere; None: here (loop or thread)
        self.is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
            type(func).__call__)

    def with_runner(self, runner: Callable[[PythonAgent, AgentCall], Awaitable[Any]]
                    ) -> PythonAgent:
        """This agent with its function run by ``runner(agent, call)``, which returns the
        function's result or raises the attempt's TaskError."""
        return PythonAgent(self.name, self.func, self.target, self.timeout,
                           base_dir=self.base_dir, ray=self.ray, runner=runner)

    async def __call__(self, call: AgentCall) -> Any:
        if self.timeout is None:
            return await self._call(call)
        try:
            async with asyncio.timeout(self.timeout):
                return await self._call(call)
        except TimeoutError:
            raise TaskError(ErrorKind.TIMEOUT,
                            f"agent '{self.name}' ({self.target}) ran past its timeout of "
                            f"{self.timeout:g}s") from None

    async def _call(self, call: AgentCall) -> Any:
        try:
            if self.runner is not None:
                result = await self.runner(self, call)
            elif self.is_async:
                result = await self.func(call.input, call)
            else:
                result = await _in_thread(self.func, call.input, call)
                if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
                    result = await result
        except TaskError:
            raise
        except Exception as e:  # an agent's bug is the attempt's failure, with its traceback
            raise failure(e) from None
        return ensure_json(self.name, result)

    def __repr__(self) -> str:
        return f"PythonAgent({self.name!r}, {self.target!r})"


def failure(e: BaseException) -> TaskError:
    """The attempt's error when a Python agent raised ``e`` (not a TaskError): its kind by
    :func:`classify`, with the exception's type and traceback in the details.  ``SystemExit``
    and the like end the attempt only, as kind ``agent``."""
    if not isinstance(e, Exception):
        return TaskError(ErrorKind.AGENT, f"{type(e).__name__}: {e}")
    return TaskError(classify(e), f"{type(e).__name__}: {e}",
                     {"type": f"{type(e).__module__}.{type(e).__qualname__}",
                      "traceback": "".join(traceback.format_exception(e))})


def classify(e: BaseException) -> ErrorKind:
    """The kind of an exception a Python agent raised: network failures are ``transient``
    (retrying may help), timeouts ``timeout``, anything else ``agent`` (docs/language.md Q4)."""
    httpx: Any = sys.modules.get("httpx")  # only an agent that imported it raises its errors
    if httpx is not None:
        if isinstance(e, httpx.HTTPStatusError):
            code = e.response.status_code
            return ErrorKind.TRANSIENT if code in (408, 429) or code >= 500 else ErrorKind.AGENT
        if isinstance(e, httpx.TimeoutException):
            return ErrorKind.TIMEOUT
        if isinstance(e, httpx.TransportError):
            return ErrorKind.TRANSIENT
    if isinstance(e, TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(e, ConnectionError):
        return ErrorKind.TRANSIENT
    return ErrorKind.AGENT


def _in_thread(func: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run ``func(*args)`` on a daemon thread of the pool (with the caller's context
    variables); the future's cancellation abandons the call, which cannot be stopped."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[Any] = loop.create_future()
    ctx = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if fut.done():
            return  # cancelled meanwhile
        if ok:
            fut.set_result(value)
        else:
            fut.set_exception(value)

    def work() -> None:
        try:
            value, ok = ctx.run(func, *args), True
        except Exception as e:  # noqa: BLE001 - handed to the awaiting task
            value, ok = e, False
        except BaseException as e:  # noqa: BLE001 - sys.exit() in an agent ends the attempt only
            value, ok = failure(e), False
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:
            pass  # the loop is closed: nobody waits for this result any more

    _POOL.submit(work)
    return fut


class _DaemonPool:
    """Reused daemon threads, made on demand (at most ``limit``; then calls queue).

    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so an abandoned
    call that never returns would keep ``twdsl run`` from exiting after Ctrl-C.  Reusing
    threads rather than starting one per call saves ~0.1-0.5 ms a call."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.threads = 0
        self._idle = 0
        self._pending = 0
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._pending += 1
            if self._pending > self._idle and self.threads < self.limit:
                self.threads += 1
                threading.Thread(target=self._work, name=f"twdsl-agent-{self.threads}",
                                 daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
                self._pending -= 1
            job()


_POOL = _DaemonPool(256)


def load_target(target: str, base_dir: Path, where: str) -> Callable[..., Any]:
    """Import ``module:attr.path`` with ``base_dir`` first on sys.path; every failure is a
    ConfigurationError in one line, prefixed with ``where`` (e.g. "[agents.X] in twdsl.toml").

    A module found in ``base_dir`` (``agents.py`` beside twdsl.toml) wins over a module of
    the same name imported earlier from elsewhere: two projects' ``agents`` modules in one
    process (tests, a server running several workflows) each get their own.
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr or not all(
            p.isidentifier() for p in [*module_name.split("."), *attr.split(".")]):
        raise ConfigurationError(
            f"{where}: python = {target!r} must be 'module:function' (for example "
            "'agents:echo' for a function echo in agents.py beside the config file)")
    top = module_name.split(".")[0]
    local = [base_dir / f"{top}.py", base_dir / top / "__init__.py"]
    local_file = next((f for f in local if f.is_file()), None)
    with _IMPORT_LOCK:
        if local_file is not None:
            _forget_if_elsewhere(top, local_file)
        sys.path.insert(0, str(base_dir))
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name is not None and module_name.startswith(e.name) and (
                    e.name == module_name or module_name.startswith(e.name + ".")):
                hint = _did_you_mean(e.name.split(".")[-1], _module_names(base_dir))
                raise ConfigurationError(
                    f"{where}: python = {target!r}: no module named {e.name!r} in {base_dir} "
                    f"or on sys.path{hint}") from None
            raise ConfigurationError(
                f"{where}: python = {target!r}: importing {module_name!r} failed: {e}") from None
        except Exception as e:  # noqa: BLE001 - the user's module is broken: say how
            raise ConfigurationError(
                f"{where}: python = {target!r}: importing {module_name!r} raised "
                f"{type(e).__name__}: {e}") from None
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(base_dir))
    obj: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            owner = module_name if i == 0 else f"{module_name}:{'.'.join(attr.split('.')[:i])}"
            names = [n for n in dir(obj) if not n.startswith("_")]
            where_file = f" ({module.__file__})" if i == 0 and module.__file__ else ""
            raise ConfigurationError(
                f"{where}: python = {target!r}: {owner!r}{where_file} has no {part!r}"
                f"{_did_you_mean(part, names)}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigurationError(
            f"{where}: python = {target!r} is a {type(obj).__name__}, not a function; name a "
            "function f(input, ctx)")
    return obj  # type: ignore[no-any-return]


_IMPORT_LOCK = threading.Lock()


def _forget_if_elsewhere(top: str, local_file: Path) -> None:
    """Drop ``top`` (and its submodules) from sys.modules when the cached one is not
    ``local_file``, so that the import below finds the one beside the config."""
    cached = sys.modules.get(top)
    if cached is None:
        return
    cached_file = getattr(cached, "__file__", None)
    if cached_file is not None and Path(cached_file).resolve() == local_file.resolve():
        return
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _module_names(base_dir: Path) -> list[str]:
    try:
        return sorted({p.stem for p in base_dir.glob("*.py")} |
                      {p.parent.name for p in base_dir.glob("*/__init__.py")})
    except OSError:
        return []


def _did_you_mean(word: str, choices: list[str]) -> str:
    return hint(word, choices)
