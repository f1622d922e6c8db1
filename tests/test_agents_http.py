"""HTTP agents against a real server on 127.0.0.1 (tests/agent_helpers/http_server.py):
the protocol of docs/agents.md — 200, 202 + polling, failed executions, error statuses and
their kinds, connection refused, cancellation sending the cancel request, health."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_helpers.http_server import AgentServer

from twdsl.runtime.agents import AgentCall, AgentRegistry
from twdsl.runtime.errors import ErrorKind, TaskError


@pytest.fixture
def server() -> Iterator[AgentServer]:
    with AgentServer() as s:
        yield s


def call(input: dict[str, Any], *, attempt: int = 1, timeout: float | None = 30) -> AgentCall:
    return AgentCall(agent="Search", task="find", node_id="n7", run_id="r1", workflow="wf",
                     attempt=attempt, input=input, context={"loops": [2]}, timeout=timeout)


def registry(url: str, **spec: Any) -> AgentRegistry:
    return AgentRegistry({"Search": {"url": url, "poll_interval": 0.01, **spec}}, Path("."),
                         origin="twdsl.toml")


async def run(reg: AgentRegistry, c: AgentCall) -> Any:
    try:
        return await reg.get("Search")(c)
    finally:
        await reg.aclose()


async def test_200_answers_the_result_and_the_request_has_the_protocols_body(
        server: AgentServer) -> None:
    server.execute = lambda body: (200, {"result": {"hits": [body["input"]["q"]]}}, {})
    assert await run(registry(server.url), call({"q": "ada"}, attempt=2)) == {"hits": ["ada"]}
    assert server.requests == [("POST", "/execute", {
        "task_id": "n7", "workflow_id": "wf", "run_id": "r1", "task": "find",
        "agent": "Search", "attempt": 2, "input": {"q": "ada"}, "context": {"loops": [2]},
        "timeout": 30})]


async def test_a_200_body_without_result_is_the_result(server: AgentServer) -> None:
    server.execute = lambda body: (200, {"hits": 3}, {})
    assert await run(registry(server.url, timeout=10), call({}, timeout=None)) == {"hits": 3}
    assert server.requests[0][2]["timeout"] == 10


async def test_202_then_polling_until_completed(server: AgentServer) -> None:
    server.execute = lambda body: (202, {"execution_id": "e/1"}, {"Retry-After": "0"})
    server.polls["e%2F1"] = [(200, {"status": "pending"}, {}),
                             (200, {"status": "running"}, {}),
                             (503, {"error": "busy"}, {}),
                             (200, {"status": "completed", "result": [1, 2]}, {})]
    assert await run(registry(server.url), call({})) == [1, 2]
    assert server.paths() == [("POST", "/execute")] + [("GET", "/executions/e%2F1")] * 4


async def test_202_with_a_status_url(server: AgentServer) -> None:
    server.execute = lambda body: (202, {"execution_id": 9, "status_url": "/executions/x9"}, {})
    server.polls["x9"] = [(200, {"status": "completed", "result": "ok"}, {})]
    assert await run(registry(server.url), call({})) == "ok"
    assert server.paths() == [("POST", "/execute"), ("GET", "/executions/x9")]


async def test_a_failed_execution_is_an_agent_error_unless_it_names_a_kind(
        server: AgentServer) -> None:
    server.execute = lambda body: (202, {"execution_id": body["input"]["id"]}, {})
    server.polls["a"] = [(200, {"status": "failed", "error": {"message": "no index",
                                                              "details": {"index": "x"}}}, {})]
    server.polls["b"] = [(200, {"status": "failed",
                                "error": {"message": "bad query", "kind": "validation"}}, {})]
    with pytest.raises(TaskError) as e:
        await run(registry(server.url), call({"id": "a"}))
    assert (e.value.kind, e.value.message) == (ErrorKind.AGENT,
                                               "HTTP agent 'Search' failed: no index")
    assert e.value.details == {"error": {"message": "no index", "details": {"index": "x"}},
                               "url": f"{server.url}/executions/a"}
    with pytest.raises(TaskError) as e:
        await run(registry(server.url), call({"id": "b"}))
    assert (e.value.kind, e.value.message) == (ErrorKind.VALIDATION,
                                               "HTTP agent 'Search' failed: bad query")


@pytest.mark.parametrize("status, body, kind, message", [
    (500, {"error": {"message": "database down"}}, ErrorKind.TRANSIENT,
     "HTTP agent 'Search' answered 500 Internal Server Error: database down"),
    (503, b"overloaded", ErrorKind.TRANSIENT,
     "HTTP agent 'Search' answered 503 Service Unavailable: overloaded"),
    (429, {"message": "slow down"}, ErrorKind.TRANSIENT,
     "HTTP agent 'Search' answered 429 Too Many Requests: slow down"),
    (408, {}, ErrorKind.TRANSIENT, "HTTP agent 'Search' answered 408 Request Timeout: {}"),
    (400, {"error": "q is required"}, ErrorKind.AGENT,
     "HTTP agent 'Search' answered 400 Bad Request: q is required"),
    (404, {"error": {"message": "no route"}}, ErrorKind.AGENT,
     "HTTP agent 'Search' answered 404 Not Found: no route"),
    (422, {"error": {"message": "bad", "kind": "validation"}}, ErrorKind.VALIDATION,
     "HTTP agent 'Search' answered 422 Unprocessable Entity: bad"),
])
async def test_error_statuses_are_classified(server: AgentServer, status: int, body: Any,
                                             kind: ErrorKind, message: str) -> None:
    server.execute = lambda _: (status, body, {})
    with pytest.raises(TaskError) as e:
        await run(registry(server.url), call({}))
    assert (e.value.kind, e.value.message) == (kind, message)
    assert e.value.details["status"] == status


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connection_refused_is_transient() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(TaskError) as e:
        await run(registry(url), call({}))
    assert e.value.kind is ErrorKind.TRANSIENT
    assert e.value.message.startswith(f"HTTP agent 'Search' cannot connect to {url}/execute: ")
    assert e.value.details == {"url": f"{url}/execute", "error": "ConnectError"}


async def test_cancelling_a_polled_execution_sends_the_cancel_request(
        server: AgentServer) -> None:
    server.execute = lambda body: (202, {"execution_id": "e1"}, {})
    server.polls["e1"] = [(200, {"status": "running"}, {})]
    reg = registry(server.url)
    task = asyncio.create_task(run(reg, call({})))
    while ("GET", "/executions/e1") not in server.paths():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.cancelled.is_set()
    assert server.requests[-1] == ("POST", "/executions/e1/cancel", {})


async def test_the_agents_timeout_cancels_the_execution(server: AgentServer) -> None:
    server.execute = lambda body: (202, {"execution_id": "e2"}, {})
    server.polls["e2"] = [(200, {"status": "running"}, {})]
    with pytest.raises(TaskError) as e:
        await run(registry(server.url, timeout=0.2), call({}))
    assert (e.value.kind, e.value.message) == (
        ErrorKind.TIMEOUT, f"HTTP agent 'Search' ran past its timeout of 0.2s ({server.url})")
    assert server.requests[-1] == ("POST", "/executions/e2/cancel", {})


async def test_a_202_without_execution_id_is_an_agent_error(server: AgentServer) -> None:
    server.execute = lambda body: (202, {"status": "accepted"}, {})
    with pytest.raises(TaskError) as e:
        await run(registry(server.url), call({}))
    assert (e.value.kind, e.value.message) == (
        ErrorKind.AGENT, f"HTTP agent 'Search' answered 202 without an execution_id "
        f'({server.url}/execute); the protocol needs {{"execution_id": "..."}}')


async def test_an_unknown_execution_while_polling_is_an_agent_error(
        server: AgentServer) -> None:
    server.execute = lambda body: (202, {"execution_id": "gone"}, {})
    with pytest.raises(TaskError) as e:
        await run(registry(server.url), call({}))
    assert (e.value.kind, e.value.message) == (
        ErrorKind.AGENT, "HTTP agent 'Search' answered 404 Not Found: no execution gone")


async def test_headers_come_from_the_config_with_environment_variables(
        server: AgentServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCH_TOKEN", "s3cret")
    reg = registry(server.url, headers={"Authorization": "Bearer ${SEARCH_TOKEN}"})
    agent = reg.get("Search")
    assert agent.inner.headers == {"Authorization": "Bearer s3cret"}
    server.execute = lambda body: (200, {"result": None}, {})
    assert await run(reg, call({})) is None


async def test_health(server: AgentServer) -> None:
    reg = registry(server.url)
    agent = reg.get("Search")
    assert await agent.health() == {"ok": True, "status": 200, "body": {"status": "ok"},
                                    "error": None}
    server.health = (503, {"status": "starting"}, {})
    assert await agent.health() == {"ok": False, "status": 503, "body": {"status": "starting"},
                                    "error": "answered 503 Service Unavailable"}
    await reg.aclose()
    down = registry(f"http://127.0.0.1:{_free_port()}").get("Search")
    health = await down.health()
    assert (health["ok"], health["status"]) == (False, None)
    assert health["error"].startswith("ConnectError: ")


async def test_five_transient_failures_open_the_circuit(server: AgentServer) -> None:
    server.execute = lambda body: (500, {"error": "down"}, {})
    reg = registry(server.url)
    for _ in range(5):
        with pytest.raises(TaskError):
            await reg.get("Search")(call({}))
    with pytest.raises(TaskError) as e:
        await reg.get("Search")(call({}))
    await reg.aclose()
    assert e.value.kind is ErrorKind.TRANSIENT
    assert e.value.message.startswith(
        "circuit open for agent 'Search' (5 consecutive failures, last: transient: HTTP agent "
        "'Search' answered 500 Internal Server Error: down); retrying after 6")
    assert len(server.requests) == 5


async def test_retry_after_sets_the_wait_before_the_next_poll(server: AgentServer) -> None:
    # poll_interval is a minute: the run ends at once only if Retry-After: 0 is honored.
    server.execute = lambda body: (202, {"execution_id": "r"}, {"Retry-After": "0"})
    server.polls["r"] = [(200, {"status": "running"}, {"Retry-After": "0"}),
                         (200, {"status": "completed", "result": 1}, {})]
    async with asyncio.timeout(10):  # a guard against hanging, not a measurement
        assert await run(registry(server.url, poll_interval=60), call({})) == 1


def test_retry_after_as_seconds_or_http_date() -> None:
    from twdsl.runtime.agents.http_agent import _retry_after

    def after(value: str) -> float | None:
        return _retry_after(httpx.Response(202, headers={"Retry-After": value}))

    assert after("2.5") == 2.5
    assert after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert after("soon") is None
    assert _retry_after(httpx.Response(202)) is None
