"""``twdsl debug`` driven as a subprocess by a Debug Adapter Protocol client over stdio
(tests/dap_client.py), on real workflow files with real agents (the builtin ``echo``,
``sleep`` and ``fail``, and a Python agent bound in twdsl.toml).  docs/debugging.md says what
each request does; these tests hold it to that, value by value.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dap_client import DapClient, DapError

FLOW = """\
workflow Debugged {
  version: "1.0.0"
  input {
    name: string
    items: array<number> = [1, 2, 3]
  }
  output {
    greeting: string = finish.result.greeting ?? ""
  }

  task greet {
    agent: "shout"
    input: { message: "hello ${name}" }
  }

  parallel {
    foreach item, i in items {
      task double {
        agent: "echo"
        input: { v: item * 2, i: i }
      }
    }
    task side {
      agent: "echo"
      input: { n: len(items) }
    }
  }

  task finish {
    agent: "echo"
    input: { greeting: greet.result.message, doubled: double.result }
  }
}
"""
AGENTS = '''\
def shout(input, ctx):
    print(f"shouting {input['message']}")
    return {"message": input["message"].upper()}
'''
CONFIG = '[agents.shout]\npython = "agents:shout"\n'
LINES = FLOW.split("\n")


def line_of(text: str, source: str = FLOW) -> int:
    return source[:source.index(text)].count("\n") + 1


GREET, DOUBLE, SIDE, FINISH = (line_of(f"task {t} {{") for t in
                               ("greet", "double", "side", "finish"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "flow.twdsl").write_text(FLOW)
    (tmp_path / "agents.py").write_text(AGENTS)
    (tmp_path / "twdsl.toml").write_text(CONFIG)
    return tmp_path


@pytest.fixture
def dap(folder: Path) -> Iterator[DapClient]:
    with DapClient(folder) as client:
        yield client


def start(dap: DapClient, folder: Path, breakpoints: list[dict[str, Any]] | None = None,
          program: str = "flow.twdsl", inputs: dict[str, Any] | None = None,
          **launch: Any) -> dict[str, Any]:
    """initialize, launch, setBreakpoints, configurationDone: the answer to
    setBreakpoints."""
    caps = dap.request("initialize", {"adapterID": "twdsl", "linesStartAt1": True,
                                      "columnsStartAt1": True, "pathFormat": "path"})
    assert caps["supportsConditionalBreakpoints"] is True
    seq = dap.send("launch", {"program": program,
                              "inputs": {"name": "Ann"} if inputs is None else inputs, **launch})
    dap.launched(seq)
    answer = dap.request("setBreakpoints", {
        "source": {"name": "flow.twdsl", "path": str(folder / "flow.twdsl")},
        "breakpoints": breakpoints or []})
    dap.request("configurationDone")
    r = dap.response(seq)
    assert r["success"], r
    return answer


def stack(dap: DapClient) -> list[tuple[str, int]]:
    frames = dap.request("stackTrace", {"threadId": 1})["stackFrames"]
    return [(f["name"], f["line"]) for f in frames]


def scopes(dap: DapClient) -> dict[str, int]:
    top = dap.request("stackTrace", {"threadId": 1})["stackFrames"][0]["id"]
    return {s["name"]: s["variablesReference"]
            for s in dap.request("scopes", {"frameId": top})["scopes"]}


def variables(dap: DapClient, ref: int) -> dict[str, str]:
    return {v["name"]: v["value"] for v in
            dap.request("variables", {"variablesReference": ref})["variables"]}


def evaluate(dap: DapClient, expression: str, context: str = "repl") -> str:
    top = dap.request("stackTrace", {"threadId": 1})["stackFrames"][0]["id"]
    return str(dap.request("evaluate", {"expression": expression, "frameId": top,
                                        "context": context})["result"])


def evaluate_error(dap: DapClient, expression: str) -> str:
    top = dap.request("stackTrace", {"threadId": 1})["stackFrames"][0]["id"]
    return dap.failure("evaluate", {"expression": expression, "frameId": top,
                                    "context": "repl"})


def finish(dap: DapClient, code: int = 0) -> None:
    assert dap.event("exited") == {"exitCode": code}
    dap.event("terminated")
    dap.request("disconnect")
    assert dap.close() == 0


def test_a_breakpoint_stops_before_its_task(dap: DapClient, folder: Path) -> None:
    answer = start(dap, folder, [{"line": DOUBLE + 2}])
    # A breakpoint on any line of a task binds to the task: its first line.
    assert answer["breakpoints"] == [{"id": 1, "verified": True, "line": DOUBLE, "source": {
        "name": "flow.twdsl", "path": str(folder / "flow.twdsl")}}]
    assert dap.event("stopped") == {"reason": "breakpoint", "threadId": 1,
                                    "allThreadsStopped": True,
                                    "description": "before double[0] starts",
                                    "hitBreakpointIds": [1]}
    [thread] = dap.request("threads")["threads"]
    assert thread["id"] == 1 and re.fullmatch(r"run \d{8}-\d{6}-[0-9a-f]{6} of Debugged",
                                              thread["name"])
    frames = dap.request("stackTrace", {"threadId": 1})
    assert frames["totalFrames"] == 4
    path = str(folder / "flow.twdsl")
    source = {"name": "flow.twdsl", "path": path}
    assert [{k: v for k, v in f.items() if k != "id"} for f in frames["stackFrames"]] == [
        {"name": "double[0]", "line": DOUBLE, "column": 7, "source": source},
        {"name": "foreach item[0]", "line": DOUBLE - 1, "column": 5, "source": source},
        {"name": "parallel", "line": DOUBLE - 2, "column": 3, "source": source},
        {"name": "workflow Debugged", "line": 1, "column": 1, "source": source},
    ]
    # startFrame and levels page the stack
    assert [f["name"] for f in dap.request("stackTrace", {
        "threadId": 1, "startFrame": 1, "levels": 2})["stackFrames"]] == [
        "foreach item[0]", "parallel"]

    refs = scopes(dap)
    assert list(refs) == ["Task", "Locals", "Inputs", "Tasks", "Context"]
    task = dap.request("variables", {"variablesReference": refs["Task"]})["variables"]
    assert [(v["name"], v["value"], v["type"]) for v in task] == [
        ("task", '"double[0]"', "string"), ("agent", '"echo"', "string"),
        ("status", '"pending"', "string"), ("input", '{"v":2,"i":0}', "object")]
    assert variables(dap, task[3]["variablesReference"]) == {"v": "2", "i": "0"}
    locals_ = dap.request("variables", {"variablesReference": refs["Locals"]})["variables"]
    assert locals_ == [
        {"name": "item", "value": "1", "type": "number", "variablesReference": 0,
         "evaluateName": "item"},
        {"name": "i", "value": "0", "type": "number", "variablesReference": 0,
         "evaluateName": "i"}]
    inputs = dap.request("variables", {"variablesReference": refs["Inputs"]})["variables"]
    assert [(v["name"], v["value"], v["evaluateName"]) for v in inputs] == [
        ("name", '"Ann"', "name"), ("items", "[1,2,3]", "items")]
    assert inputs[1]["indexedVariables"] == 3
    assert dap.request("variables", {"variablesReference": inputs[1]["variablesReference"]})[
        "variables"] == [
        {"name": f"[{i}]", "value": str(i + 1), "type": "number", "variablesReference": 0,
         "evaluateName": f"items[{i}]"} for i in range(3)]
    tasks = dap.request("variables", {"variablesReference": refs["Tasks"]})["variables"]
    assert [(v["name"], v["value"]) for v in tasks] == [
        ("greet", 'completed: {"message":"HELLO ANN"}')]
    assert variables(dap, tasks[0]["variablesReference"]) == {
        "status": '"completed"', "result": '{"message":"HELLO ANN"}', "attempts": "1"}
    context = variables(dap, refs["Context"])
    assert list(context) == ["workflow", "version", "run_id", "inputs"]
    assert (context["workflow"], context["version"], context["inputs"]) == (
        '"Debugged"', '"1.0.0"', '{"name":"Ann","items":[1,2,3]}')
    assert context["run_id"] == json.dumps(thread["name"].split()[1])

    dap.request("continue", {"threadId": 1})
    assert dap.event("stopped")["description"] == "before double[1] starts"
    assert stack(dap)[:2] == [("double[1]", DOUBLE), ("foreach item[1]", DOUBLE - 1)]
    assert variables(dap, scopes(dap)["Locals"]) == {"item": "2", "i": "1"}
    # the Tasks scope lists a loop's task by its instances
    tasks = dap.request("variables", {"variablesReference": scopes(dap)["Tasks"]})["variables"]
    assert [(v["name"], v["value"]) for v in tasks] == [
        ("greet", 'completed: {"message":"HELLO ANN"}'), ("double", "1 instance")]
    assert variables(dap, tasks[1]["variablesReference"]) == {"[0]": 'completed: {"v":2,"i":0}'}
    dap.request("continue", {"threadId": 1})
    assert dap.event("stopped")["description"] == "before double[2] starts"
    dap.request("continue", {"threadId": 1})
    finish(dap)
    out = dap.output()
    assert 'run ' in out and ' completed; outputs:\n{\n  "greeting": "HELLO ANN"\n}\n' in out
    # the run's events, as `twdsl run` prints them, and the agent's print, as stdout
    assert re.search(r"^\d\d:\d\d:\d\d greet completed in \d+\.\d{3}s$", dap.output("stdout"),
                     re.M)
    assert "shouting hello Ann" in dap.output("stdout").splitlines()


def test_breakpoints_are_verified_and_conditions_compiled(dap: DapClient,
                                                          folder: Path) -> None:
    answer = start(dap, folder, [
        {"line": 2},
        {"line": DOUBLE, "condition": "item == 2"},
        {"line": SIDE, "condition": "item > 1"},
        {"line": FINISH, "condition": "len(double.result)"},
        {"line": GREET, "condition": "name =="},
        {"line": GREET + 1, "condition": "name.startsWith(\"A\") && name.nosuch == 3"},
        {"line": GREET + 1, "condition": "[1, (2 + 3] == []"},
    ])
    got = [(b["verified"], b["line"], b.get("message")) for b in answer["breakpoints"]]
    assert got == [
        (False, 2, "no task on line 2: the run stops before tasks start, so a breakpoint "
                   "goes on a line of a task"),
        (True, DOUBLE, None),
        (False, SIDE, "condition: undefined name 'item'; did you mean 'items'?"),
        (False, FINISH, "condition: it must be boolean, and this is number"),
        (False, GREET, "condition: unexpected ')' at the end of the expression; expected an "
                       "expression"),
        (False, GREET, "condition: string has no field 'nosuch'"),
        (False, GREET, "condition: expected ')' to close '(' opened at column 5 of the "
                       "expression"),
    ]
    # the condition is evaluated for each instance: only item == 2 stops
    assert dap.event("stopped") == {"reason": "breakpoint", "threadId": 1,
                                    "allThreadsStopped": True,
                                    "description": "before double[1] starts",
                                    "hitBreakpointIds": [2]}
    # breakpoints set again while stopped replace the file's: a valid condition now
    again = dap.request("setBreakpoints", {
        "source": {"path": str(folder / "flow.twdsl")},
        "breakpoints": [{"line": FINISH + 2, "condition": "len(double.result) == 3"}]})
    assert [(b["verified"], b["line"]) for b in again["breakpoints"]] == [(True, FINISH)]
    dap.request("continue", {"threadId": 1})
    stopped = dap.event("stopped")
    assert stopped["description"] == "before finish starts"
    assert stopped["hitBreakpointIds"] == [again["breakpoints"][0]["id"]]
    assert stack(dap) == [("finish", FINISH), ("workflow Debugged", 1)]
    dap.request("continue", {"threadId": 1})
    finish(dap)


def test_next_steps_from_boundary_to_boundary(dap: DapClient, folder: Path) -> None:
    start(dap, folder, [{"line": GREET}])
    assert dap.event("stopped")["description"] == "before greet starts"
    dap.request("next", {"threadId": 1})
    stopped = dap.event("stopped")
    assert (stopped["reason"], stopped["description"]) == ("step", "greet completed")
    assert stack(dap) == [("greet (completed)", GREET), ("workflow Debugged", 1)]
    task = variables(dap, scopes(dap)["Task"])
    assert task == {"task": '"greet"', "agent": '"shout"', "status": '"completed"',
                    "input": '{"message":"hello Ann"}', "attempts": "1",
                    "result": '{"message":"HELLO ANN"}'}
    dap.request("stepIn", {"threadId": 1})
    assert dap.event("stopped")["description"] == "before double[0] starts"
    dap.request("next", {"threadId": 1})
    assert dap.event("stopped")["description"] == "double[0] completed"
    # stepOut: on to the first boundary of a task outside the loop's body
    dap.request("stepOut", {"threadId": 1})
    stopped = dap.event("stopped")
    assert (stopped["reason"], stopped["description"]) == ("step", "before side starts")
    assert stack(dap) == [("side", SIDE), ("parallel", DOUBLE - 2), ("workflow Debugged", 1)]
    tasks = dap.request("variables", {"variablesReference": scopes(dap)["Tasks"]})["variables"]
    assert variables(dap, tasks[1]["variablesReference"]) == {
        f"[{i}]": f'completed: {{"v":{2 * i + 2},"i":{i}}}' for i in range(3)}
    dap.request("continue", {"threadId": 1})
    finish(dap)


def test_evaluate_in_the_scope_of_the_stopped_task(dap: DapClient, folder: Path) -> None:
    start(dap, folder, [{"line": DOUBLE, "condition": "i == 1"}])
    dap.event("stopped")
    assert evaluate(dap, "item * 10 + i") == "21"
    assert evaluate(dap, "greet.result.message") == '"HELLO ANN"'
    assert evaluate(dap, "greet", "hover") == '{"message":"HELLO ANN"}'
    assert evaluate(dap, "greet.status", "watch") == '"completed"'
    assert evaluate(dap, "double.status") == '"pending"'  # this iteration's, not started
    assert evaluate(dap, "context.workflow + \" \" + string(len(items))") == '"Debugged 3"'
    assert evaluate(dap, "items.map(x => x * item)") == "[2,4,6]"
    assert evaluate(dap, "30s + 1m") == "1m30s"
    assert evaluate(dap, "name // a comment") == '"Ann"'
    top = dap.request("stackTrace", {"threadId": 1})["stackFrames"][0]["id"]
    r = dap.request("evaluate", {"expression": "{ a: items, b: null }", "frameId": top,
                                 "context": "repl"})
    assert (r["result"], r["type"], r["namedVariables"]) == (
        '{"a":[1,2,3],"b":null}', "object", 2)
    members = dap.request("variables", {"variablesReference": r["variablesReference"]})
    assert [(v["name"], v["value"], v.get("evaluateName")) for v in members["variables"]] == [
        ("a", "[1,2,3]", "({ a: items, b: null }).a"),
        ("b", "null", "({ a: items, b: null }).b")]
    # mistakes are the checker's words
    assert evaluate_error(dap, "nope") == "undefined name 'nope'"
    assert evaluate_error(dap, "item + \"x\" - 1") == "'+' cannot combine number and string"
    assert evaluate_error(dap, "items[5]") == "index 5 is out of range for an array of 3 items"
    assert evaluate_error(dap, "finish.result") == (
        "this expression reads 'finish', which runs after 'double': here its value is not "
        "known yet (the Variables view shows every task that ran)")
    assert evaluate_error(dap, "1) } task x { agent: \"echo\" input: (2") == (
        "write one expression (it closed the brackets around it)")
    assert evaluate_error(dap, "   ") == "the expression is empty"
    dap.request("continue", {"threadId": 1})
    assert dap.event("exited") == {"exitCode": 0}
    assert dap.failure("evaluate", {"expression": "1", "context": "repl"}) == (
        "the run is not stopped at a task: expressions are evaluated where it stops")
    dap.event("terminated")
    dap.request("disconnect")
    assert dap.close() == 0


def until_output(dap: DapClient, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in dap.output():
        dap.drain(0.05)
        assert time.monotonic() < deadline, f"{text!r} never came: {dap.output()}"


SLOW = """\
workflow Slow {
  version: "1.0.0"
  input {
    name: string = "x"
  }
  task first { agent: "echo" input: { n: 1 } }
  task slow { agent: "sleep" input: { seconds: 3, result: "slept" } }
  task last { agent: "echo" input: { got: slow.result } }
}
"""


def test_pause_stops_at_the_next_task_boundary(dap: DapClient, folder: Path) -> None:
    (folder / "flow.twdsl").write_text(SLOW)
    start(dap, folder, [{"line": 6}])
    assert dap.event("stopped")["description"] == "before first starts"
    dap.request("next", {"threadId": 1})
    assert dap.event("stopped")["description"] == "first completed"
    dap.request("next", {"threadId": 1})
    assert dap.event("stopped")["description"] == "before slow starts"
    dap.request("continue", {"threadId": 1})
    until_output(dap, "slow started")  # slow is sleeping: the next boundary is its end
    dap.request("pause", {"threadId": 1})
    stopped = dap.event("stopped")
    assert (stopped["reason"], stopped["description"]) == ("pause", "slow completed")
    assert evaluate(dap, "slow.result") == '"slept"'
    dap.request("continue", {"threadId": 1})
    finish(dap)


def test_terminate_cancels_the_run(dap: DapClient, folder: Path) -> None:
    (folder / "flow.twdsl").write_text(SLOW)
    start(dap, folder, [{"line": 7}])
    assert dap.event("stopped")["description"] == "before slow starts"
    dap.request("terminate")
    assert dap.event("exited") == {"exitCode": 1}
    dap.event("terminated")
    assert re.search(r"^run \S+ cancelled: cancelled: the run was cancelled$",
                     dap.output("stderr"), re.M)
    assert "slow started" not in dap.output()
    dap.request("disconnect")
    assert dap.close() == 0


@pytest.mark.parametrize("how", ["disconnect", "SIGTERM"])
def test_disconnect_while_an_agent_runs_stops_it(dap: DapClient, folder: Path,
                                                 how: str) -> None:
    (folder / "flow.twdsl").write_text(SLOW.replace("seconds: 3", "seconds: 60"))
    start(dap, folder)
    until_output(dap, "slow started")
    if how == "disconnect":
        dap.request("disconnect", {"terminateDebuggee": True})
    else:
        dap.proc.send_signal(signal.SIGTERM)
    assert dap.close() == 0  # not after the agent's 60 s: "slow cancelled" below says why
    assert dap.event("exited") == {"exitCode": 1}
    assert re.search(r"^\d\d:\d\d:\d\d slow cancelled$", dap.output(), re.M)


def test_stop_on_entry_and_no_debug(folder: Path) -> None:
    with DapClient(folder) as dap:
        start(dap, folder, stopOnEntry=True)
        assert dap.event("stopped") == {"reason": "entry", "threadId": 1,
                                        "allThreadsStopped": True,
                                        "description": "before greet starts"}
        dap.request("continue", {"threadId": 1})
        finish(dap)
    with DapClient(folder) as dap:  # Run Without Debugging: breakpoints do not stop it
        start(dap, folder, [{"line": DOUBLE}], noDebug=True)
        finish(dap)
        assert "stopped" not in dap.summary()


FAILING = """\
workflow Failing {
  version: "1.0.0"
  task risky {
    agent: "fail"
    input: { message: "it broke", kind: "agent" }
    on_error: {
      fallback: {
        task rescue { agent: "echo" input: { why: error.message } }
      }
    }
  }
  task after { agent: "echo" input: { r: rescue.result ?? null } }
}
"""


def test_failed_tasks_filter_and_handler_stack(dap: DapClient, folder: Path) -> None:
    (folder / "flow.twdsl").write_text(FAILING)
    dap.request("initialize", {"adapterID": "twdsl"})
    seq = dap.send("launch", {"program": "flow.twdsl"})
    dap.launched(seq)
    assert dap.request("setExceptionBreakpoints", {"filters": ["failed"]}) == {
        "breakpoints": [{"verified": True}]}
    dap.request("setBreakpoints", {"source": {"path": str(folder / "flow.twdsl")},
                                   "breakpoints": [{"line": 8}]})
    dap.request("configurationDone")
    assert dap.response(seq)["success"]
    # the fallback runs inside the handler of the failed task
    assert dap.event("stopped")["description"] == "before rescue starts"
    assert stack(dap) == [("rescue", 8), ("on_error fallback", 7), ("risky", 3),
                          ("workflow Failing", 1)]
    assert variables(dap, scopes(dap)["Locals"]) == {
        "error": '{"kind":"agent","message":"it broke","task":"risky",'
                 '"source":"flow.twdsl:3:3"}',
        "task_id": '"risky"', "retry_count": "0"}
    assert evaluate(dap, "error.message") == '"it broke"'
    dap.request("continue", {"threadId": 1})
    stopped = dap.event("stopped")
    assert (stopped["reason"], stopped["description"]) == ("exception", "risky failed")
    task = variables(dap, scopes(dap)["Task"])
    assert task["error"] == '{"kind":"agent","message":"it broke","task":"risky"}'
    assert task["status"] == '"failed"'
    dap.request("continue", {"threadId": 1})
    finish(dap)


TEMPLATE = """\
template Build(target: string) {
  task compile {
    agent: "echo"
    input: { t: target }
  }
}

workflow Templated {
  version: "1.0.0"
  use Build(target: "web") as web
  use Build(target: "api")
}
"""


def test_a_breakpoint_in_a_template_stops_in_every_instance(dap: DapClient,
                                                             folder: Path) -> None:
    (folder / "flow.twdsl").write_text(TEMPLATE)
    answer = start(dap, folder, [{"line": 4, "condition": "target != \"\""}], inputs={})
    assert [(b["verified"], b["line"]) for b in answer["breakpoints"]] == [(True, 2)]
    assert dap.event("stopped")["description"] == "before web.compile starts"
    assert stack(dap) == [("web.compile", 2), ("use web", 10), ("workflow Templated", 8)]
    assert variables(dap, scopes(dap)["Locals"]) == {"target": '"web"'}
    assert evaluate(dap, "target + \"!\"") == '"web!"'
    dap.request("continue", {"threadId": 1})
    assert dap.event("stopped")["description"] == "before block#3.compile starts"
    assert stack(dap) == [("block#3.compile", 2), ("use Build", 11),
                          ("workflow Templated", 8)]
    assert evaluate(dap, "target") == '"api"'
    dap.request("continue", {"threadId": 1})
    finish(dap)


def test_a_compiled_program_is_debugged_from_its_source(dap: DapClient, folder: Path) -> None:
    subprocess.run([sys.executable, "-m", "twdsl.cli", "compile", "flow.twdsl", "-O0", "-o",
                    "flow.json"], cwd=folder, check=True)
    start(dap, folder, [{"line": FINISH}], program="flow.json")
    assert dap.event("stopped")["description"] == "before finish starts"
    assert evaluate(dap, "double.result.map(r => r.v)") == "[2,4,6]"
    dap.request("continue", {"threadId": 1})
    finish(dap)


LAUNCH_ERRORS = [
    ({}, "launch configuration: 'program' is required: the .twdsl file or compiled .json "
         "program to run"),
    ({"program": "flow.twdsl", "optimize": 2}, "launch configuration: 'optimize' must be 0 "
                                               "or 1"),
    ({"program": "flow.twdsl", "inputs": ["x"]}, "launch configuration: 'inputs' must be an "
                                                 "object"),
    ({"program": "missing.twdsl"}, "twdsl: cannot read missing.twdsl: No such file or "
                                   "directory"),
    ({"program": "flow.twdsl"}, "twdsl: input 'name' (string) is required: pass --input "
                                "name=…\n"
                                "twdsl: the inputs of Debugged do not fit its declaration; "
                                "nothing was run"),
    ({"program": "flow.twdsl", "inputs": {"name": "A"}, "input": ["items=[1,\"x\"]"]},
     "twdsl: input 'items[1]': expected array<number>, got [1, \"x\"]\n"
     "twdsl: the inputs of Debugged do not fit its declaration; nothing was run"),
    ({"program": "broken.twdsl"}, "broken.twdsl:2:38: error[TW210] undefined name 'nope'\n"
                                  "  2 |   task t { agent: \"echo\" input: { v: nope } }\n"
                                  "    |                                      ^^^^\n"
                                  "twdsl: broken.twdsl: 1 error; nothing was run"),

]


def test_a_launch_that_cannot_run_says_why(dap: DapClient, folder: Path) -> None:
    (folder / "broken.twdsl").write_text(
        'workflow B {\n  task t { agent: "echo" input: { v: nope } }\n}\n')
    dap.request("initialize", {"adapterID": "twdsl"})
    assert dap.failure("restart") == "twdsl debug does not support the request 'restart'"
    assert dap.failure("attach", {}) == (
        "twdsl debug starts runs itself: use a 'launch' configuration")
    with pytest.raises(DapError, match="the run is not stopped"):
        dap.request("stackTrace", {"threadId": 1})
    # a launch that fails runs nothing: the client may correct it and launch again
    for launch, message in LAUNCH_ERRORS:
        before = dap.output("stderr")
        assert dap.failure("launch", launch) == message
        assert dap.output("stderr") == before + message + "\n"
    seq = dap.send("launch", {"program": "flow.twdsl", "input": ["name=Bo"]})
    dap.launched(seq)
    dap.request("configurationDone")
    assert dap.response(seq)["success"]
    assert dap.failure("launch", {"program": "flow.twdsl"}) == (
        "this session has launched its run already")
    finish(dap)
    assert '"greeting": "HELLO BO"' in dap.output()


def test_a_stream_that_is_not_the_protocol_is_refused(folder: Path) -> None:
    with DapClient(folder) as dap:
        dap.write(b"hello\r\n\r\n")
        assert dap.close() == 2
        assert "".join(dap.stderr) == ("twdsl debug: the client's stream is not the Debug "
                                       "Adapter Protocol: not a message header: 'hello'\n")


def test_the_launch_fields_are_the_same_everywhere() -> None:
    """The fields twdsl debug reads, the extension's launch.json schema and docs/debugging.md
    name the same fields."""
    from twdsl.cli.debug import FIELDS

    root = Path(__file__).resolve().parent.parent
    package = json.loads((root / "editors" / "vscode" / "package.json").read_text())
    [debugger] = package["contributes"]["debuggers"]
    assert debugger["type"] == "twdsl"
    schema = debugger["configurationAttributes"]["launch"]["properties"]
    assert set(schema) == set(FIELDS) - {"noDebug"}  # VS Code sets noDebug itself
    doc = (root / "docs" / "debugging.md").read_text()
    table = doc[doc.index("## Launch configuration"):doc.index("## Breakpoints")]
    assert re.findall(r"^\| `(\w+)`", table, re.M) == [
        "program", "inputs", "input", "inputsFile", "workflow", "config", "cwd", "optimize",
        "stopOnEntry", "maxConcurrency", "noDebug"]
    assert set(re.findall(r"^\| `(\w+)`", table, re.M)) == set(FIELDS)


def test_on_a_terminal_it_says_what_it_is(folder: Path) -> None:
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "twdsl.cli", "debug"], stdin=terminal,
                              capture_output=True, text=True, timeout=60, cwd=folder)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 2
    assert proc.stderr == ("twdsl debug speaks the Debug Adapter Protocol on stdin and stdout: "
                           "start it from an editor or a DAP client (docs/debugging.md)\n")
    assert proc.stdout == ""


def test_a_client_counting_lines_from_zero(dap: DapClient, folder: Path) -> None:
    dap.request("initialize", {"adapterID": "twdsl", "linesStartAt1": False,
                               "columnsStartAt1": False})
    seq = dap.send("launch", {"program": "flow.twdsl", "inputs": {"name": "Ann"}})
    dap.launched(seq)
    answer = dap.request("setBreakpoints", {
        "source": {"path": str(folder / "flow.twdsl")},
        "breakpoints": [{"line": DOUBLE + 1}, {"column": 3}]})
    # the task's first line, counted from 0; a breakpoint without a line is answered too
    assert [(b["verified"], b.get("line")) for b in answer["breakpoints"]] == [
        (True, DOUBLE - 1), (False, None)]
    dap.request("configurationDone")
    assert dap.response(seq)["success"]
    assert dap.event("stopped")["description"] == "before double[0] starts"
    top = dap.request("stackTrace", {"threadId": 1})["stackFrames"][0]
    assert (top["line"], top["column"]) == (DOUBLE - 1, 6)
    dap.request("setBreakpoints", {"source": {"path": str(folder / "flow.twdsl")},
                                   "breakpoints": []})
    dap.request("continue", {"threadId": 1})
    finish(dap)
