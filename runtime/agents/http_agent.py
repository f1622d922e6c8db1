"""HTTP agents: ``url = "http://host:port"`` is a service speaking the agent protocol of
docs/agents.md ("The HTTP agent protocol"):

- ``POST {url}/execute`` with ``{task_id, workflow_id, run_id, task, agent, attempt, input,
  context, timeout}``; ``200`` answers the result at once, ``202`` with ``{"execution_id"}``
  starts a long execution;
- ``GET {url}/executions/{id}`` (or the ``status_url`` the 202 gave) is polled until
  ``{"status": "completed", "result": ...}`` or ``{"status": "failed", "error": {...}}``;
  a ``status_url`` on another origin (scheme, host, port) is polled only when that origin is
  listed in ``status_origins``, and never with the configured headers;
- ``POST {url}/executions/{id}/cancel`` is sent (best effort) when the attempt is cancelled
  or times out;
- ``GET {url}/health`` answers ``200`` when the service is up.

Errors are classified so that retries do the right thing: connection failures, 408, 429 and
5xx are ``transient``; other 4xx and failed executions are ``agent`` errors; an ``error.kind``
the service gives explicitly wins.  One ``httpx.AsyncClient`` per agent (per event loop)
pools the connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import ssl
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urljoin

import httpx

from twdsl.runtime.agents.base import AgentCall
from twdsl.runtime.errors import ErrorKind, TaskError

#: Kinds a service may choose in ``error.kind`` (cancelled is the scheduler's only).
SERVICE_KINDS = {k.value: k for k in ErrorKind if k is not ErrorKind.CANCELLED}
#: Consecutive failed polls (transient ones) tolerated before the attempt fails.
POLL_FAILURES = 3
CANCEL_TIMEOUT = 2.0
POLL_TIMEOUT = 30.0
HEALTH_TIMEOUT = 5.0
_BODY_SHOWN = 2000
_RUNNING = {"pending", "queued", "running", "accepted", "started"}


class HttpAgent:
    """A remote service as an agent (see the module docstring)."""

    def __init__(self, name: str, url: str, where: str, *, timeout: float | None = None,
                 headers: dict[str, str] | None = None, poll_interval: float = 0.2,
                 connect_timeout: float = 5.0, status_origins: Iterable[str] = ()) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.origin = origin_of(self.url)
        #: Other origins a status_url may point to (polled without the configured headers).
        self.status_origins = frozenset(origin_of(o) for o in status_origins)
        self.where = where
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.poll_interval = poll_interval
        self.connect_timeout = connect_timeout
        self._client: httpx.AsyncClient | None = None
        self._bare: httpx.AsyncClient | None = None  # for other origins: no headers
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HttpAgent({self.name!r}, {self.url!r})"

    # -- the client ------------------------------------------------------------------------

    def client(self) -> httpx.AsyncClient:
        """This agent's client on the running loop (a client's pool belongs to one loop:
        a registry used by two ``asyncio.run`` calls gets a new one on the second)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop or self._client.is_closed:
            self._client = self._new_client(self.headers)
            self._bare = None
            self._loop = loop
        return self._client

    def bare_client(self) -> httpx.AsyncClient:
        """The client for the other origins of ``status_origins``: without the configured
        headers (credentials go to the agent's own origin only)."""
        self.client()
        if self._bare is None or self._bare.is_closed:
            self._bare = self._new_client({})
        return self._bare

    def _new_client(self, headers: dict[str, str]) -> httpx.AsyncClient:
        # follow_redirects stays off (httpx's default): a redirect never carries the
        # headers to another origin.
        return httpx.AsyncClient(
            headers={"User-Agent": "twdsl", **headers},
            timeout=httpx.Timeout(None, connect=self.connect_timeout),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            verify=_ssl_context(), follow_redirects=False)

    async def aclose(self) -> None:
        """Close the connection pools (call it on the loop that used the agent)."""
        clients = (self._client, self._bare)
        self._client = self._bare = None
        if self._loop is asyncio.get_running_loop():
            for client in clients:
                if client is not None:
                    await client.aclose()

    # -- calls -----------------------------------------------------------------------------

    async def __call__(self, call: AgentCall) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._execute(call)
        except TimeoutError:
            raise TaskError(ErrorKind.TIMEOUT,
                            f"HTTP agent '{self.name}' ran past its timeout of "
                            f"{self.timeout:g}s ({self.url})") from None

    async def _execute(self, call: AgentCall) -> Any:
        limits = [t for t in (call.timeout, self.timeout) if t is not None]
        body = {"task_id": call.node_id, "workflow_id": call.workflow, "run_id": call.run_id,
                "task": call.task, "agent": call.agent, "attempt": call.attempt,
                "input": call.input, "context": call.context,
                "timeout": min(limits) if limits else None}
        client = self.client()
        try:
            resp = await client.post(f"{self.url}/execute", json=body)
        except httpx.TransportError as e:
            raise self._transport_error(e, f"{self.url}/execute") from None
        if resp.status_code == 200:
            return self._finished(resp)
        if resp.status_code != 202:
            raise self._http_error(resp)
        data = _json(resp)
        exec_id = data.get("execution_id") if isinstance(data, dict) else None
        if not isinstance(exec_id, str | int) or isinstance(exec_id, bool) or exec_id == "":
            raise TaskError(ErrorKind.AGENT,
                            f"HTTP agent '{self.name}' answered 202 without an execution_id "
                            f"({self.url}/execute); the protocol needs "
                            '{"execution_id": "..."}', {"body": _shown(resp)})
        status_url = f"{self.url}/executions/{quote(str(exec_id), safe='')}"
        cancel_url = f"{self.url}/executions/{quote(str(exec_id), safe='')}/cancel"
        poller = client
        if isinstance(data.get("status_url"), str):
            status_url = urljoin(self.url + "/", data["status_url"])
            origin = origin_of(status_url)
            if origin != self.origin:
                if origin not in self.status_origins:
                    await self._cancel(client, cancel_url)
                    raise TaskError(
                        ErrorKind.AGENT,
                        f"HTTP agent '{self.name}' answered a status_url on another origin "
                        f"({status_url}); it polls only its own origin {self.origin} unless "
                        f"status_origins lists the other one ({self.where}); the "
                        "execution was cancelled", {"status_url": status_url})
                poller = self.bare_client()
        try:
            return await self._poll(poller, status_url, _retry_after(resp))
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel(client, cancel_url))
            raise

    async def _poll(self, client: httpx.AsyncClient, url: str, delay: float | None) -> Any:
        failures = 0
        while True:
            await asyncio.sleep(self.poll_interval if delay is None else delay)
            try:
                resp = await client.get(url, timeout=httpx.Timeout(
                    POLL_TIMEOUT, connect=self.connect_timeout))
            except httpx.TransportError as e:
                failures += 1
                if failures > POLL_FAILURES:
                    raise self._transport_error(e, url) from None
                delay = None
                continue
            delay = _retry_after(resp)
            if resp.status_code in (408, 429) or resp.status_code >= 500:
                failures += 1
                if failures > POLL_FAILURES:
                    raise self._http_error(resp)
                continue
            if resp.status_code != 200:
                raise self._http_error(resp)
            failures = 0
            data = _json(resp)
            status = data.get("status") if isinstance(data, dict) else None
            if status == "completed":
                assert isinstance(data, dict)
                return data.get("result")
            if status == "failed":
                assert isinstance(data, dict)
                raise self._failed(data.get("error"), resp)
            if status == "cancelled":
                raise TaskError(ErrorKind.AGENT,
                                f"HTTP agent '{self.name}' cancelled the execution itself "
                                f"({url})", {"body": data})
            if status not in _RUNNING:
                raise TaskError(ErrorKind.AGENT,
                                f"HTTP agent '{self.name}' answered status {status!r} ({url}); "
                                "the protocol knows pending, running, completed, failed and "
                                "cancelled", {"body": _shown(resp)})

    async def _cancel(self, client: httpx.AsyncClient, url: str) -> None:
        """Ask the service to stop (best effort: a service that is down is not waited for)."""
        with contextlib.suppress(httpx.HTTPError, OSError):
            await client.post(url, json={}, timeout=CANCEL_TIMEOUT)

    async def health(self) -> dict[str, Any]:
        """``GET {url}/health``: ``{"ok": bool, "status": code or None, "body": the answer,
        "error": why not ok or None}`` (never raises: it is for diagnostics)."""
        try:
            resp = await self.client().get(f"{self.url}/health", timeout=HEALTH_TIMEOUT)
        except httpx.HTTPError as e:
            return {"ok": False, "status": None, "body": None,
                    "error": f"{type(e).__name__}: {e}"}
        ok = resp.status_code == 200
        return {"ok": ok, "status": resp.status_code, "body": _shown(resp),
                "error": None if ok else f"answered {resp.status_code} {resp.reason_phrase}"}

    # -- answers ---------------------------------------------------------------------------

    def _finished(self, resp: httpx.Response) -> Any:
        """A 200 of /execute: ``{"result": ...}``; a body without ``result`` is the result
        itself (so a plain JSON endpoint can be an agent); ``{"status": "failed"}`` fails."""
        try:
            data = resp.json()
        except ValueError:
            raise TaskError(ErrorKind.AGENT,
                            f"HTTP agent '{self.name}' answered 200 with a body that is not "
                            f"JSON ({resp.request.url})", {"body": _shown(resp)}) from None
        if isinstance(data, dict):
            if data.get("status") == "failed":
                raise self._failed(data.get("error"), resp)
            if "result" in data:
                return data["result"]
        return data

    def _failed(self, error: Any, resp: httpx.Response) -> TaskError:
        message, kind, details = _error_parts(error)
        return TaskError(kind or ErrorKind.AGENT,
                         f"HTTP agent '{self.name}' failed: {message or 'no message given'}",
                         {"error": error, "url": str(resp.request.url)})

    def _http_error(self, resp: httpx.Response) -> TaskError:
        code = resp.status_code
        default = (ErrorKind.TRANSIENT if code in (408, 429) or code >= 500
                   else ErrorKind.AGENT)
        data = _json(resp)
        message, kind, _ = _error_parts(data.get("error") if isinstance(data, dict) else None)
        if not message and isinstance(data, dict) and isinstance(data.get("message"), str):
            message = data["message"]
        if not message:
            message = resp.text.strip()[:200]
        text = f"HTTP agent '{self.name}' answered {code} {resp.reason_phrase}".rstrip()
        return TaskError(kind or default, text + (f": {message}" if message else ""),
                         {"status": code, "url": str(resp.request.url), "body": _shown(resp)})

    def _transport_error(self, e: httpx.TransportError, url: str) -> TaskError:
        kind = ErrorKind.TRANSIENT
        why = str(e) or type(e).__name__
        if isinstance(e, httpx.ConnectError):
            what = "cannot connect to"
        elif isinstance(e, httpx.TimeoutException):
            what = "timed out talking to"
        else:
            what = "lost the connection to"
        return TaskError(kind, f"HTTP agent '{self.name}' {what} {url}: {why}",
                         {"url": url, "error": type(e).__name__})


def origin_of(url: str) -> str:
    """The origin of ``url`` as ``scheme://host:port`` (the port written out even when it is
    the scheme's default): two URLs may share credentials only when their origins are equal.

    >>> origin_of("HTTP://Example.COM/a"), origin_of("https://h:8443/x?y")
    ('http://example.com:80', 'https://h:8443')
    """
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return f"invalid:{url}"
    port = u.port or {"http": 80, "https": 443}.get(u.scheme, 0)
    return f"{u.scheme}://{u.host}:{port}"


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, made once per process: making it costs ~30 ms (it loads
    the CA bundle), which every new client would pay again."""
    return httpx.create_ssl_context()


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _shown(resp: httpx.Response) -> Any:
    """The body for an error's details: JSON as it is, text cut to a readable size."""
    data = _json(resp)
    return data if data is not None else resp.text[:_BODY_SHOWN]


def _error_parts(error: Any) -> tuple[str, ErrorKind | None, Any]:
    """``{"message", "kind"?, "details"?}`` (or a bare string) → message, kind, details."""
    if isinstance(error, str):
        return error, None, None
    if not isinstance(error, dict):
        return "", None, None
    message = error.get("message")
    kind = SERVICE_KINDS.get(error.get("kind")) if isinstance(error.get("kind"), str) else None
    return (message if isinstance(message, str) else ""), kind, error.get("details")


def _retry_after(resp: httpx.Response) -> float | None:
    """Retry-After as seconds (a number or an HTTP date), None when absent or unreadable."""
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
