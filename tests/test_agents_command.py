"""Command agents on real subprocesses (tests/agent_helpers/cmd_tool.py): argv placeholders,
stdin, the environment, results, exit codes and stderr, timeouts and cancellation that stop
the whole process group."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from twdsl.runtime.agents import AgentCall, AgentRegistry
from twdsl.runtime.errors import ErrorKind, TaskError

TOOL = str(Path(__file__).parent / "agent_helpers" / "cmd_tool.py")
PY = sys.executable


def call(input: dict[str, Any], *, agent: str = "Tool", attempt: int = 1) -> AgentCall:
    return AgentCall(agent=agent, task="t", node_id="n1", run_id="r1", workflow="wf",
                     attempt=attempt, input=input, context={}, timeout=None)


def agent(tmp_path: Path, spec: dict[str, Any], name: str = "Tool") -> Any:
    return AgentRegistry({name: spec}, tmp_path, origin="twdsl.toml").get(name)


async def test_placeholders_stdin_environment_and_json_result(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    tool = agent(tmp_path, {"command": [PY, TOOL, "report", "--msg={message}", "{n}",
                                        "{user.name}", "{tags}", "{input}", "{{literal}}",
                                        "{items.1}"],
                            "cwd": "work", "env": {"AGENT_MODE": "test"}})
    data = {"message": "hi; rm -rf / $(x)", "n": 3, "user": {"name": "ada"},
            "tags": ["a", "b"], "items": ["x", "y"]}
    result = await tool(call(data, attempt=2))
    assert result["argv"] == ["--msg=hi; rm -rf / $(x)", "3", "ada", '["a","b"]',
                              json.dumps(data, separators=(",", ":")), "{literal}", "y"]
    assert result["stdin"] == data
    assert result["env"] == {"AGENT_MODE": "test", "TWDSL_RUN_ID": "r1", "TWDSL_TASK": "t",
                             "TWDSL_ATTEMPT": "2", "TWDSL_WORKFLOW": "wf",
                             "TWDSL_NODE_ID": "n1", "TWDSL_AGENT": "Tool"}
    assert result["cwd"] == str(tmp_path / "work")


async def test_the_default_cwd_is_the_config_folder(tmp_path: Path) -> None:
    result = await agent(tmp_path, {"command": [PY, TOOL, "report"]})(call({}))
    assert result["cwd"] == str(tmp_path)


async def test_a_missing_field_of_the_input_is_a_validation_error(tmp_path: Path) -> None:
    tool = agent(tmp_path, {"command": [PY, TOOL, "report", "{user.email}"]})
    with pytest.raises(TaskError) as e:
        await tool(call({"user": {"name": "ada", "id": 1}}))
    assert e.value.kind is ErrorKind.VALIDATION
    assert e.value.message == ("command agent 'Tool': {user.email} names 'email', which user "
                               "does not have (it has id, name)")


@pytest.mark.parametrize("output, stdout, expected", [
    ("auto", "", None),
    ("auto", '{"a": [1, 2]}\n', {"a": [1, 2]}),
    ("auto", "sent to 3 people\n", "sent to 3 people"),
    ("auto", "42", 42),
    ("text", "42\n", "42"),
    ("json", "  ", None),
])
async def test_stdout_becomes_the_result(tmp_path: Path, output: str, stdout: str,
                                         expected: Any) -> None:
    tool = agent(tmp_path, {"command": [PY, TOOL, "say", "{stdout}"], "output": output})
    assert await tool(call({"stdout": stdout})) == expected


async def test_output_json_rejects_text(tmp_path: Path) -> None:
    tool = agent(tmp_path, {"command": [PY, TOOL, "say", "done!"], "output": "json"})
    with pytest.raises(TaskError) as e:
        await tool(call({}))
    assert e.value.kind is ErrorKind.VALIDATION
    assert e.value.message == ("command agent 'Tool' printed something that is not JSON "
                               "(Expecting value: line 1 column 1 (char 0)); its output is "
                               "'json' ([agents.Tool] in twdsl.toml)")
    assert e.value.details == {"stdout": "done!"}


async def test_non_zero_exit_is_an_agent_error_with_the_stderr_tail(tmp_path: Path) -> None:
    tool = agent(tmp_path, {"command": [PY, TOOL, "exit", "3", "working", "disk full", ""]})
    with pytest.raises(TaskError) as e:
        await tool(call({}))
    assert e.value.kind is ErrorKind.AGENT
    assert e.value.message == "command agent 'Tool' exited with code 3: disk full"
    assert e.value.details == {"exit_code": 3, "stderr": "working\ndisk full\n\n",
                               "argv": [PY, TOOL, "exit", "3", "working", "disk full", ""]}


async def test_exit_75_is_transient(tmp_path: Path) -> None:
    tool = agent(tmp_path, {"command": [PY, TOOL, "exit", "75", "try later"]})
    with pytest.raises(TaskError) as e:
        await tool(call({}))
    assert (e.value.kind, e.value.message) == (
        ErrorKind.TRANSIENT, "command agent 'Tool' exited with code 75: try later")


async def test_only_the_last_2kb_of_stderr_are_kept(tmp_path: Path) -> None:
    tool = agent(tmp_path, {"command": [PY, TOOL, "noise", "200"]})
    with pytest.raises(TaskError) as e:
        await tool(call({}))
    stderr = e.value.details["stderr"]
    assert len(stderr) == 2048
    assert stderr.endswith(f"line {200 * 1024 // 16 - 1:010d}\n")
    assert e.value.message == f"command agent 'Tool' exited with code 1: line {12799:010d}"


async def test_a_missing_program_is_an_agent_error(tmp_path: Path) -> None:
    tool = agent(tmp_path, {"command": ["twdsl-no-such-tool", "{x}"]})
    with pytest.raises(TaskError) as e:
        await tool(call({"x": 1}))
    assert (e.value.kind, e.value.message) == (
        ErrorKind.AGENT, "command agent 'Tool': program 'twdsl-no-such-tool' was not found on "
        "PATH ([agents.Tool] in twdsl.toml); install it, or give its path in 'command'")


async def test_a_relative_program_path_is_the_config_folders(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "hello"
    script.parent.mkdir()
    script.write_text(f"#!{PY}\nprint('[1, 2]')\n")
    with pytest.raises(TaskError) as e:
        await agent(tmp_path, {"command": ["bin/hello"]})(call({}))
    assert e.value.message == (f"command agent 'Tool': program '{script}' is not executable "
                               "([agents.Tool] in twdsl.toml); chmod +x it, or run it through "
                               'its interpreter: command = ["python", "tool.py", ...]')
    with pytest.raises(TaskError) as e:
        await agent(tmp_path, {"command": ["./bin/nope"]})(call({}))
    assert e.value.message == (f"command agent 'Tool': program '{tmp_path}/bin/nope' does not "
                               "exist ([agents.Tool] in twdsl.toml); fix the path in 'command'")
    script.chmod(0o755)
    assert await agent(tmp_path, {"command": ["bin/hello"]})(call({})) == [1, 2]


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie that nobody reaped yet (the container's init may
    not reap orphans); a zombie runs no code."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


async def _pids(pidfile: Path) -> tuple[int, int]:
    for _ in range(500):
        if pidfile.exists():
            leader, child = pidfile.read_text().split()
            return int(leader), int(child)
        await asyncio.sleep(0.01)
    raise AssertionError("the tool did not start")


async def test_cancelling_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    tool = agent(tmp_path, {"command": [PY, TOOL, "tree", str(pidfile)]})
    task = asyncio.create_task(tool(call({})))
    leader, child = await _pids(pidfile)
    assert not _gone(leader) and not _gone(child)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _gone(leader)
    for _ in range(100):  # the orphaned child is signalled at once; it may take a moment
        if _gone(child):
            break
        await asyncio.sleep(0.01)
    assert _gone(child)


async def test_the_scheduler_timeout_kills_a_group_that_ignores_sigterm(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    tool = agent(tmp_path, {"command": [PY, TOOL, "tree", str(pidfile), "ignore-term"],
                            "kill_grace": 0.2})

    async def run() -> Any:
        async with asyncio.timeout(5):
            return await tool(call({}))

    task = asyncio.create_task(run())
    leader, child = await _pids(pidfile)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _gone(leader)
    for _ in range(100):
        if _gone(child):
            break
        await asyncio.sleep(0.01)
    assert _gone(child)


async def test_the_agents_own_timeout_is_a_timeout_error(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    tool = agent(tmp_path, {"command": [PY, TOOL, "tree", str(pidfile)], "timeout": 0.5})
    with pytest.raises(TaskError) as e:
        await tool(call({}))
    assert (e.value.kind, e.value.message) == (
        ErrorKind.TIMEOUT, "command agent 'Tool' ran past its timeout of 0.5s and was stopped")
    leader, child = (int(p) for p in pidfile.read_text().split())
    assert _gone(leader)
    for _ in range(100):
        if _gone(child):
            break
        await asyncio.sleep(0.01)
    assert _gone(child)


async def test_a_program_that_does_not_read_stdin_still_gets_its_input(tmp_path: Path) -> None:
    big = {"blob": "x" * 1_000_000}
    tool = agent(tmp_path, {"command": [PY, TOOL, "say", "ok"]})
    assert await tool(call(big)) == "ok"
