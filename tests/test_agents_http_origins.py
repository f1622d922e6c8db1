"""HTTP agents keep their credentials at home: a ``status_url`` on another origin is not
polled unless ``status_origins`` lists that origin, and the configured headers never go to
another origin (docs/agents.md, "Credentials stay with the agent's origin").  Two real
servers on 127.0.0.1: A is the agent, B another origin."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_helpers.http_server import AgentServer
from cli_helpers import run as cli

from twdsl.runtime.agents import AgentCall, AgentRegistry
from twdsl.runtime.agents.http_agent import origin_of
from twdsl.runtime.errors import ConfigurationError, ErrorKind, TaskError

SECRET = "Bearer s3cret"


@pytest.fixture
def a() -> Iterator[AgentServer]:
    with AgentServer() as s:
        yield s


@pytest.fixture
def b() -> Iterator[AgentServer]:
    with AgentServer() as s:
        yield s


def call() -> AgentCall:
    return AgentCall(agent="Search", task="find", node_id="n1", run_id="r1", workflow="wf",
                     attempt=1, input={}, context={}, timeout=30)


def registry(url: str, **spec: Any) -> AgentRegistry:
    return AgentRegistry({"Search": {"url": url, "poll_interval": 0.01,
                                     "headers": {"Authorization": SECRET}, **spec}},
                         Path("."), origin="twdsl.toml")


async def go(reg: AgentRegistry) -> Any:
    try:
        return await reg.get("Search")(call())
    finally:
        await reg.aclose()


def port(server: AgentServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


async def test_a_status_url_on_the_agents_own_origin_is_polled_with_the_headers(
        a: AgentServer) -> None:
    a.execute = lambda body: (202, {"execution_id": "e1",
                                    "status_url": f"{a.url}/executions/e1"}, {})
    a.polls["e1"] = [(200, {"status": "completed", "result": 7}, {})]
    assert await go(registry(a.url)) == 7
    assert a.paths() == [("POST", "/execute"), ("GET", "/executions/e1")]
    assert [h["authorization"] for h in a.headers] == [SECRET, SECRET]


@pytest.mark.parametrize("form", ["absolute", "scheme-relative", "another host name"])
async def test_a_status_url_on_another_origin_is_refused_and_the_execution_cancelled(
        a: AgentServer, b: AgentServer, form: str) -> None:
    status_url = {"absolute": f"{b.url}/executions/e1",
                  "scheme-relative": f"//127.0.0.1:{port(b)}/executions/e1",
                  # the same server under another name is another origin
                  "another host name": f"http://localhost:{port(a)}/executions/e1"}[form]
    a.execute = lambda body: (202, {"execution_id": "e1", "status_url": status_url}, {})
    b.polls["e1"] = a.polls["e1"] = [(200, {"status": "completed", "result": 7}, {})]
    with pytest.raises(TaskError) as e:
        await go(registry(a.url))
    shown = status_url if not status_url.startswith("//") else "http:" + status_url
    assert (e.value.kind, e.value.message) == (
        ErrorKind.AGENT,
        f"HTTP agent 'Search' answered a status_url on another origin ({shown}); it polls "
        f"only its own origin http://127.0.0.1:{port(a)} unless status_origins lists the "
        "other one ([agents.Search] in twdsl.toml); the execution was cancelled")
    assert b.requests == []
    assert a.paths() == [("POST", "/execute"), ("POST", "/executions/e1/cancel")]


async def test_a_listed_status_origin_is_polled_without_the_configured_headers(
        a: AgentServer, b: AgentServer) -> None:
    a.execute = lambda body: (202, {"execution_id": "e1",
                                    "status_url": f"{b.url}/executions/e1"}, {})
    b.polls["e1"] = [(200, {"status": "running"}, {}),
                     (200, {"status": "completed", "result": "done"}, {})]
    assert await go(registry(a.url, status_origins=[b.url])) == "done"
    assert a.paths() == [("POST", "/execute")]
    assert a.headers[0]["authorization"] == SECRET
    assert b.paths() == [("GET", "/executions/e1")] * 2
    assert [("authorization" in h, h["user-agent"]) for h in b.headers] == [
        (False, "twdsl"), (False, "twdsl")]


async def test_a_redirect_is_not_followed_to_another_origin(
        a: AgentServer, b: AgentServer) -> None:
    a.execute = lambda body: (202, {"execution_id": "e1"}, {})
    a.polls["e1"] = [(302, {}, {"Location": f"{b.url}/executions/e1"})]
    with pytest.raises(TaskError) as e:
        await go(registry(a.url))
    assert (e.value.kind, e.value.message) == (ErrorKind.AGENT,
                                               "HTTP agent 'Search' answered 302 Found: {}")
    assert b.requests == []


@pytest.mark.parametrize("value, why", [
    ("https://jobs.example.com", "not the string \"https://jobs.example.com\""),
    (["https://jobs.example.com/status"], "and it holds the string "
                                          "\"https://jobs.example.com/status\""),
    ([3], "and it holds the number 3"),
])
def test_status_origins_is_checked_when_the_configuration_is_read(value: Any,
                                                                  why: str) -> None:
    with pytest.raises(ConfigurationError) as e:
        registry("http://127.0.0.1:9", status_origins=value)
    assert str(e.value).startswith("[agents.Search] in twdsl.toml: status_origins must be a "
                                   "list of origins such as [\"https://jobs.example.com\"]")
    assert str(e.value).endswith(why)


def test_origins_compare_scheme_host_and_port() -> None:
    assert origin_of("http://127.0.0.1:80/x") == origin_of("HTTP://127.0.0.1/y")
    assert origin_of("https://h/") == "https://h:443"
    assert origin_of("http://h:8080") != origin_of("https://h:8080")
    assert origin_of("http://user:pw@h:1/") == "http://h:1"


def test_twdsl_run_refuses_the_other_origin_and_says_why(tmp_path: Path, a: AgentServer,
                                                         b: AgentServer) -> None:
    a.execute = lambda body: (202, {"execution_id": "e1",
                                    "status_url": f"{b.url}/executions/e1"}, {})
    (tmp_path / "twdsl.toml").write_text(textwrap.dedent(f"""\
        [agents.Search]
        url = "{a.url}"
        headers = {{ Authorization = "{SECRET}" }}
        poll_interval = 0.01
        """))
    (tmp_path / "w.twdsl").write_text(textwrap.dedent("""\
        workflow W {
          version: "1.0.0"
          task find {
            agent: "Search"
          }
        }
        """))
    done = cli("run", "w.twdsl", "--no-state", "--log-format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("twdsl: run ")
    assert last.endswith(f": task 'find' (w.twdsl:3:3): agent: HTTP agent 'Search' answered a "
                         f"status_url on another origin ({b.url}/executions/e1); it polls only "
                         f"its own origin {a.url} unless status_origins lists the other one "
                         f"([agents.Search] in {tmp_path / 'twdsl.toml'}); the execution was "
                         "cancelled")
    assert b.requests == []
