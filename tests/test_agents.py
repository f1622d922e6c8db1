"""The agent registry (docs/agents.md): strict checking of the [agents] table with exact
messages, Python agents loaded from a real module beside the config, entry points of a real
(on-disk) distribution, the built-in agents, and the circuit breaker on a fake clock.
Command and HTTP agents: test_agents_command.py, test_agents_http.py."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from twdsl.runtime.agents import (
    AgentCall,
    AgentRegistry,
    BreakerSettings,
    BreakerState,
    CircuitBreaker,
)
from twdsl.runtime.errors import ConfigurationError, ErrorKind, TaskError


def call(input: Any = None, *, agent: str = "A", attempt: int = 1) -> AgentCall:
    return AgentCall(agent=agent, task="t", node_id="n1", run_id="r1", workflow="wf",
                     attempt=attempt, input={} if input is None else input,
                     context={"run_id": "r1"}, timeout=None)


def config_error(specs: Any, base_dir: Path = Path("/nowhere")) -> str:
    with pytest.raises(ConfigurationError) as e:
        AgentRegistry(specs, base_dir, origin="twdsl.toml")
    return str(e.value)


# -- checking the [agents] table ----------------------------------------------------------

W = "[agents.X] in twdsl.toml: "
ONE_OF = ('give exactly one: python = "module:function", command = ["program", "arg"] or '
          'url = "http://host:port"')


@pytest.mark.parametrize("spec, message", [
    ("agents:echo", W + 'must be a table such as python = "module:function", command = '
     '["program", "arg"] or url = "http://host:port", not the string "agents:echo"'),
    ({}, W + "says neither python, command nor url; " + ONE_OF),
    ({"comand": ["a"]}, W + "says neither python, command nor url ('comand' looks like "
     "'command'); " + ONE_OF),
    ({"python": "a:b", "url": "http://x"}, W + "has both 'python' and 'url'; give exactly "
     "one of python, command, url (one binding per agent)"),
    ({"command": ["a"], "timout": 3}, W + "unknown key 'timout' (did you mean 'timeout'?); a "
     "command agent knows: command, cwd, env, output, kill_grace, timeout, circuit_breaker, "
     "description"),
    ({"url": "http://x", "retries": 3}, W + "unknown key 'retries'; a url agent knows: url, "
     "headers, poll_interval, connect_timeout, status_origins, timeout, circuit_breaker, description"),
    ({"command": "notify-tool --msg '{message}'"}, W + "command must be a list of arguments, "
     'never a shell string; write command = ["notify-tool", "--msg", "{message}"]'),
    ({"command": []}, W + 'command must be a non-empty list of strings such as ["program", '
     '"--flag", "{name}"], not an empty array'),
    ({"command": ["a", 42]}, W + 'command[1] is the number 42; every argument must be a '
     'string, e.g. "42"'),
    ({"command": ["a", "{message"]}, W + "command[1] '{message' has a '{' that is not closed "
     "(write '{{' for a literal brace)"),
    ({"command": ["a", "x}"]}, W + "command[1] 'x}' has a '}' that was not opened (write '}}' "
     "for a literal brace)"),
    ({"command": ["a", "-d", '{"k": 1}']}, W + "command[2] '{\"k\": 1}' has '{\"k\": 1}', "
     "which is not a placeholder; write {name} or {name.field} for a value of the input, "
     "{input} for all of it, '{{' and '}}' for literal braces"),
    ({"command": ["{prog}"]}, W + "command[0] is the program and cannot be a placeholder; "
     "name the program"),
    ({"command": ["a"], "env": {"N": 1}}, W + 'env.N is the number 1; write it as a string: '
     '"1"'),
    ({"command": ["a"], "output": "yaml"}, W + "output must be one of 'auto', 'json', "
     "'text', not \"yaml\""),
    ({"url": "127.0.0.1:9000"}, W + 'url must be an http:// or https:// address such as '
     '"http://127.0.0.1:9000", not "127.0.0.1:9000"'),
    ({"url": "http://x", "timeout": "30s"}, W + "timeout must be a number of seconds > 0 "
     '(e.g. timeout = 30), not the string "30s"'),
    ({"python": "agents.echo"}, W + 'python = "agents.echo" must be "module:function"; write '
     'python = "agents:echo"'),
    ({"python": "echo"}, W + 'python = "echo" must be "module:function"; for example '
     '"agents:echo" for a function echo in agents.py beside the config'),
    ({"python": 3}, W + 'python must be a string "module:function", not the number 3'),
    ({"python": "a:b", "circuit_breaker": {"failures": -1}}, W + "circuit_breaker.failures "
     "must be a whole number >= 0 (0 turns the breaker off), not the number -1"),
])
def test_bindings_are_checked_strictly(spec: Any, message: str) -> None:
    assert config_error({"X": spec}) == message


def test_names_that_are_not_bare_keys_are_quoted() -> None:
    assert config_error({"my agent": {"python": "a"}}).startswith(
        '[agents."my agent"] in twdsl.toml: python = "a" must be')


def test_the_table_itself_must_be_a_table() -> None:
    assert config_error(["x"]) == ("[agents] in twdsl.toml: must be a table of "
                                   "[agents.NAME] tables, not an array")


def test_without_origin_the_messages_name_the_table_only() -> None:
    with pytest.raises(ConfigurationError) as e:
        AgentRegistry({"X": {}}, Path("."))
    assert str(e.value).startswith("[agents.X]: says neither")


def test_environment_variables_in_env_must_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWDSL_TEST_UNSET", raising=False)
    reg = AgentRegistry({"X": {"command": ["a"], "env": {"T": "${TWDSL_TEST_UNSET}"}}},
                        Path("."), origin="twdsl.toml")
    with pytest.raises(ConfigurationError) as e:
        reg.get("X")
    assert str(e.value) == (W + "env.T uses ${TWDSL_TEST_UNSET}, but the environment "
                            "variable TWDSL_TEST_UNSET is not set; set it before running")


def test_unknown_names_get_a_did_you_mean() -> None:
    reg = AgentRegistry({"Backend": {"python": "agents:x"}}, Path("."))
    with pytest.raises(ConfigurationError) as e:
        reg.get("backend")
    assert str(e.value) == (
        "no agent named 'backend' (did you mean 'Backend'?); bind it under [agents.backend] "
        "in twdsl.toml, or install a package with a 'twdsl.agents' entry point of that name "
        "(see docs/agents.md)")
    with pytest.raises(ConfigurationError) as e:
        reg.get("Ecko")
    assert str(e.value).startswith("no agent named 'Ecko' (did you mean 'echo'?); ")
    assert reg.suggestion("Nothing-Like-It") is None


# -- Python agents from a module beside the config ----------------------------------------

AGENTS_PY = '''
import asyncio, threading
from twdsl.runtime.errors import ErrorKind, TaskError

def upper(input, ctx):
    return {"text": input["text"].upper(), "attempt": ctx.attempt, "task": ctx.task,
            "thread": threading.current_thread().name}

async def double(input, ctx):
    await asyncio.sleep(0)
    return input["x"] * 2

def broken(input, ctx):
    return {"a": 1} / 2

def busy(input, ctx):
    raise TaskError(ErrorKind.TRANSIENT, "busy, come back", {"retry_in": 5})

def refused(input, ctx):
    raise ConnectionRefusedError(111, "Connection refused")

def odd(input, ctx):
    return {1, 2}

stopped = []

async def forever(input, ctx):
    try:
        await asyncio.sleep(60)
    finally:
        stopped.append(ctx.task)

gate = threading.Event()
finished = []

def blocking(input, ctx):
    gate.wait(5)
    finished.append(ctx.task)
    return "late"

NOT_CALLABLE = 3
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "agents.py").write_text(textwrap.dedent(AGENTS_PY))
    return tmp_path


def py_registry(project: Path, **bindings: str) -> AgentRegistry:
    return AgentRegistry({name: {"python": target} for name, target in bindings.items()},
                         project, origin="twdsl.toml")


async def test_a_sync_function_runs_in_a_thread_with_the_call(project: Path) -> None:
    reg = py_registry(project, Upper="agents:upper", Double="agents:double")
    assert reg.missing(["Upper", "Double", "echo", "Nope"]) == ["Nope"]
    result = await reg.get("Upper")(call({"text": "ada"}, agent="Upper", attempt=3))
    assert result == {"text": "ADA", "attempt": 3, "task": "t", "thread": result["thread"]}
    assert result["thread"].startswith("twdsl-agent-")
    assert await reg.get("Double")(call({"x": 21})) == 42
    assert str(project) not in sys.path


@pytest.mark.parametrize("target, kind, message", [
    ("agents:broken", ErrorKind.AGENT,
     "TypeError: unsupported operand type(s) for /: 'dict' and 'int'"),
    ("agents:busy", ErrorKind.TRANSIENT, "busy, come back"),
    ("agents:refused", ErrorKind.TRANSIENT, "ConnectionRefusedError: [Errno 111] Connection "
     "refused"),
    ("agents:odd", ErrorKind.VALIDATION, "agent 'A' returned a value that is not JSON: an "
     "unsupported value (set) has no JSON form"),
])
async def test_failures_of_python_agents_are_classified(project: Path, target: str,
                                                        kind: ErrorKind, message: str) -> None:
    with pytest.raises(TaskError) as e:
        await py_registry(project, A=target).get("A")(call())
    assert (e.value.kind, e.value.message) == (kind, message)


async def test_an_exception_keeps_its_traceback_in_the_details(project: Path) -> None:
    with pytest.raises(TaskError) as e:
        await py_registry(project, A="agents:broken").get("A")(call())
    assert e.value.details["type"] == "builtins.TypeError"
    assert 'agents.py", line 14, in broken' in e.value.details["traceback"]


async def test_cancelling_an_async_agent_cancels_it(project: Path) -> None:
    reg = py_registry(project, A="agents:forever")
    task = asyncio.create_task(reg.get("A")(call()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sys.modules["agents"].stopped == ["t"]


async def test_a_cancelled_sync_agent_is_abandoned_and_ends_on_its_own(project: Path) -> None:
    reg = py_registry(project, A="agents:blocking")
    task = asyncio.create_task(reg.get("A")(call()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    module = sys.modules["agents"]
    assert module.finished == []  # still blocked in its thread: Python cannot stop it
    module.gate.set()
    for _ in range(200):
        if module.finished:
            break
        await asyncio.sleep(0.01)
    assert module.finished == ["t"]


async def test_a_python_bindings_timeout(project: Path) -> None:
    reg = AgentRegistry({"A": {"python": "agents:forever", "timeout": 0.05}}, project)
    with pytest.raises(TaskError) as e:
        await reg.get("A")(call())
    assert (e.value.kind, e.value.message) == (
        ErrorKind.TIMEOUT, "agent 'A' (agents:forever) ran past its timeout of 0.05s")


async def test_each_config_folder_gets_its_own_agents_module(tmp_path: Path) -> None:
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "agents.py").write_text(
            f"def who(input, ctx):\n    return {name!r}\n")
    first = py_registry(tmp_path / "one", A="agents:who").get("A")
    second = py_registry(tmp_path / "two", A="agents:who").get("A")
    assert (await first(call()), await second(call())) == ("one", "two")


@pytest.mark.parametrize("target, message", [
    ("agentz:upper", "python = 'agentz:upper': no module named 'agentz' in {dir} or on "
     "sys.path (did you mean 'agents'?)"),
    ("agents:uper", "python = 'agents:uper': 'agents' ({dir}/agents.py) has no 'uper' (did "
     "you mean 'upper'?)"),
    ("agents:NOT_CALLABLE", "python = 'agents:NOT_CALLABLE' is a int, not a function; name a "
     "function f(input, ctx)"),
    ("crash:f", "python = 'crash:f': importing 'crash' raised ZeroDivisionError: division by "
     "zero"),
])
def test_a_binding_that_cannot_load_is_reported_by_missing(project: Path, target: str,
                                                           message: str) -> None:
    (project / "crash.py").write_text("1 / 0\n")
    reg = py_registry(project, A=target)
    with pytest.raises(ConfigurationError) as e:
        reg.missing(["A"])
    assert str(e.value) == "[agents.A] in twdsl.toml: " + message.format(dir=project)


# -- entry points -------------------------------------------------------------------------

async def test_entry_points_of_an_installed_distribution(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "demo_twdsl_agents-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-twdsl-agents\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[twdsl.agents]\nGreeter = demo_twdsl_mod:greet\necho = demo_twdsl_mod:loud_echo\n"
        "Broken = demo_twdsl_mod:missing\n")
    (tmp_path / "demo_twdsl_mod.py").write_text(
        "async def greet(input, ctx):\n    return f\"hello {input['name']}\"\n"
        "def loud_echo(input, ctx):\n    return {'loud': input}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = AgentRegistry({}, tmp_path)
    assert reg.missing(["Greeter", "Nope"]) == ["Nope"]
    assert await reg.get("Greeter")(call({"name": "ada"})) == "hello ada"
    # An entry point wins over a built-in; the config wins over both.
    assert await reg.get("echo")(call({"x": 1})) == {"loud": {"x": 1}}
    configured = AgentRegistry({"Greeter": {"python": "demo_twdsl_mod:loud_echo"}}, tmp_path)
    assert await configured.get("Greeter")(call({"x": 1})) == {"loud": {"x": 1}}
    with pytest.raises(ConfigurationError) as e:
        reg.get("Broken")
    assert str(e.value) == (
        "entry point 'Broken' (demo_twdsl_mod:missing of demo-twdsl-agents 1.0, group "
        "twdsl.agents): loading it raised AttributeError: module 'demo_twdsl_mod' has no "
        "attribute 'missing'; fix or reinstall that package")


# -- built-in agents ----------------------------------------------------------------------

async def test_builtin_agents(capsys: pytest.CaptureFixture[str]) -> None:
    reg = AgentRegistry({}, Path("."))
    assert await reg.get("echo")(call({"a": [1]})) == {"a": [1]}
    assert await reg.get("sleep")(call({"seconds": 0.01, "result": "done"})) == "done"
    assert await reg.get("sleep")(call({"seconds": 0})) is None
    assert await reg.get("log")(call({"message": "hello"})) is None
    assert await reg.get("log")(call({"n": 1})) is None
    assert capsys.readouterr().err == '[t] hello\n[t] {"n":1}\n'
    flaky = reg.get("flaky")
    outcomes = []
    for attempt in (1, 2, 3):
        try:
            outcomes.append(await flaky(call({"failures": 2, "result": 7}, attempt=attempt)))
        except TaskError as e:
            outcomes.append((e.kind.value, e.message))
    assert outcomes == [("transient", "t: attempt 1 of the first 2 fails (agent 'flaky')"),
                        ("transient", "t: attempt 2 of the first 2 fails (agent 'flaky')"), 7]
    assert reg.breaker("flaky") is None


@pytest.mark.parametrize("name, input, kind, message", [
    ("fail", {}, ErrorKind.AGENT, "t failed (agent 'fail')"),
    ("fail", {"message": "boom", "kind": "timeout"}, ErrorKind.TIMEOUT, "boom"),
    ("fail", {"kind": "cancelled"}, ErrorKind.VALIDATION, "agent 'fail': input.kind must be "
     'one of timeout, agent, transient, validation, not "cancelled"'),
    ("sleep", {}, ErrorKind.VALIDATION, "agent 'sleep' needs input.seconds (a number of "
     "seconds >= 0)"),
    ("sleep", {"seconds": "1s"}, ErrorKind.VALIDATION, "agent 'sleep': input.seconds must be "
     'a number of seconds >= 0, not "1s"'),
    ("flaky", {"failures": True}, ErrorKind.VALIDATION, "agent 'flaky': input.failures must "
     "be a whole number >= 0, not true"),
])
async def test_builtin_agents_fail_as_asked_and_check_their_input(
        name: str, input: dict[str, Any], kind: ErrorKind, message: str) -> None:
    with pytest.raises(TaskError) as e:
        await AgentRegistry({}, Path(".")).get(name)(call(input, agent=name))
    assert (e.value.kind, e.value.message) == (kind, message)


async def test_a_configured_name_shadows_a_builtin(project: Path) -> None:
    reg = py_registry(project, echo="agents:double")
    assert await reg.get("echo")(call({"x": 2})) == 4


# -- the circuit breaker ------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_transitions() -> None:
    clock = Clock()
    b = CircuitBreaker("Search", BreakerSettings(failures=3, reset_after=10), clock)
    err = TaskError(ErrorKind.TRANSIENT, "refused")
    for _ in range(2):
        b.before()
        b.failure(err)
    assert (b.state, b.consecutive) == (BreakerState.CLOSED, 2)
    b.before()
    b.failure(TaskError(ErrorKind.VALIDATION, "bad input"))  # an answer: does not count
    b.before()
    b.failure(err)
    assert b.state is BreakerState.OPEN
    clock.now += 4
    with pytest.raises(TaskError) as e:
        b.before()
    assert (e.value.kind, e.value.message) == (
        ErrorKind.TRANSIENT, "circuit open for agent 'Search' (3 consecutive failures, last: "
        "transient: refused); retrying after 6.0s")
    assert e.value.details == {"breaker": "open", "failures": 3, "retry_after": 6.0,
                               "last_error": {"kind": "transient", "message": "refused",
                                              "details": None}}
    clock.now += 6
    b.before()  # the trial call
    assert b.state is BreakerState.HALF_OPEN
    with pytest.raises(TaskError) as e:
        b.before()  # one trial at a time
    assert e.value.message.endswith("; a trial call is under way")
    b.failure(TaskError(ErrorKind.TIMEOUT, "slow"))
    assert (b.state, b.opened_at) == (BreakerState.OPEN, 1010.0)
    clock.now += 10
    b.before()
    b.release()  # the trial was cancelled: no verdict, another may try
    b.before()
    b.success()
    assert (b.state, b.consecutive) == (BreakerState.CLOSED, 0)
    b.before()


async def test_breaker_around_a_python_agent(project: Path) -> None:
    clock = Clock()
    reg = AgentRegistry({"A": {"python": "agents:busy"},
                         "B": {"python": "agents:busy", "circuit_breaker": {"failures": 0}},
                         "C": {"python": "agents:busy",
                               "circuit_breaker": {"failures": 1, "reset_after": 5}}},
                        project, BreakerSettings(failures=2, reset_after=30), clock=clock)
    kinds = []
    for name in ("A", "A", "A", "B", "B", "B", "C", "C"):
        with pytest.raises(TaskError) as e:
            await reg.get(name)(call(agent=name))
        kinds.append(e.value.message.split(" (")[0])
    assert kinds == ["busy, come back", "busy, come back", "circuit open for agent 'A'",
                     "busy, come back", "busy, come back", "busy, come back",
                     "busy, come back", "circuit open for agent 'C'"]
    breaker = reg.breaker("A")
    assert breaker is not None and breaker.state is BreakerState.OPEN
    assert reg.breaker("B") is None
    clock.now += 30
    with pytest.raises(TaskError):
        await reg.get("A")(call())  # the trial fails: open again
    assert (breaker.state, breaker.opened_at) == (BreakerState.OPEN, 1030.0)


async def test_a_cancelled_trial_does_not_keep_the_circuit_half_open(project: Path) -> None:
    clock = Clock()
    reg = AgentRegistry({"A": {"python": "agents:forever",
                               "circuit_breaker": {"failures": 1, "reset_after": 1}}},
                        project, clock=clock)
    reg.get("A")
    breaker = reg.breaker("A")
    assert breaker is not None
    breaker.failure(TaskError(ErrorKind.AGENT, "x"))
    clock.now += 1
    task = asyncio.create_task(reg.get("A")(call()))
    await asyncio.sleep(0.01)
    assert breaker.state is BreakerState.HALF_OPEN
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    task = asyncio.create_task(reg.get("A")(call()))  # another trial is allowed
    await asyncio.sleep(0.01)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_schedulers_timeout_counts_as_a_failure_but_a_cancellation_does_not(
        project: Path) -> None:
    reg = AgentRegistry({"A": {"python": "agents:forever",
                               "circuit_breaker": {"failures": 1, "reset_after": 60}}}, project)
    agent = reg.get("A")
    breaker = reg.breaker("A")
    assert breaker is not None
    timed = AgentCall(agent="A", task="t", node_id="n1", run_id="r1", workflow="wf",
                      attempt=1, input={}, context={}, timeout=0.05)
    task = asyncio.create_task(agent(timed))  # cancelled long before its timeout: fail_fast
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (breaker.state, breaker.consecutive) == (BreakerState.CLOSED, 0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(timed.timeout):  # what the scheduler does
            await agent(timed)
    assert (breaker.state, breaker.consecutive) == (BreakerState.OPEN, 1)
    assert breaker.last_error is not None
    assert breaker.last_error.message == "agent 'A' ran past its timeout of 0.05s"
