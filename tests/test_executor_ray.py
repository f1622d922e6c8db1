"""The Ray executor on a real two-node local Ray cluster (``ray.cluster_utils.Cluster``, one
per module, on the loopback address): Python agents' calls run as Ray tasks (their process and
node say so), per-agent resources place them, twdsl's retries, timeouts and cancellation
work through Ray (a cancelled attempt's Ray task is interrupted, or its worker process
killed), other agents run in twdsl's own process, and a node killed mid-run loses nothing.

Without Ray installed these tests skip on a dev machine and fail in CI (``CI`` set)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from twdsl.compiler import compile_source
from twdsl.runtime.agents import AgentRegistry
from twdsl.runtime.engine import Engine, RunOptions, RunResult
from twdsl.runtime.events import Event, Fanout
from twdsl.runtime.executors import Executor, make_executor
from twdsl.runtime.inputs import validate_inputs
from twdsl.runtime.store import SQLiteStore

AGENTS = '''
import asyncio, json, os, sys, time
from pathlib import Path

import ray

from twdsl.runtime.errors import ErrorKind, TaskError


def _node():
    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"


def where(input, ctx):
    return {"x": input["x"], "pid": os.getpid(), "node": _node()}


async def where_async(input, ctx):
    await asyncio.sleep(0.01)
    return {"x": input["x"], "pid": os.getpid(), "node": _node(), "async": True}


def interval(input, ctx):
    start = time.time()
    time.sleep(input["seconds"])
    return {"node": _node(), "start": start, "end": time.time()}


def flaky(input, ctx):
    if ctx.attempt < input["ok_at"]:
        raise ConnectionError(f"down at attempt {ctx.attempt}")
    return {"attempt": ctx.attempt, "pid": os.getpid()}


def not_json(input, ctx):
    return {1, 2}


def exits(input, ctx):
    sys.exit(3)


def refuses(input, ctx):
    raise TaskError(ErrorKind.VALIDATION, "no such user", {"user": input["user"]})


def nap(input, ctx):
    mark = Path(input["dir"])
    (mark / "pid").write_text(str(os.getpid()))
    try:
        for _ in range(600):
            time.sleep(0.05)
    except KeyboardInterrupt:
        (mark / "interrupted").write_text("yes")
        raise
    (mark / "finished").write_text("yes")


def stubborn(input, ctx):
    mark = Path(input["dir"])
    (mark / "pid").write_text(str(os.getpid()))
    end = time.time() + 60
    while time.time() < end:
        try:
            time.sleep(0.05)
        except BaseException:
            (mark / "ignored").write_text("yes")
    (mark / "finished").write_text("yes")


def work(input, ctx):
    line = {"i": input["i"], "node": _node(), "pid": os.getpid()}
    with open(input["log"], "a") as f:
        f.write(json.dumps({**line, "at": "start"}) + "\\n")
    time.sleep(input["seconds"])
    with open(input["log"], "a") as f:
        f.write(json.dumps({**line, "at": "end"}) + "\\n")
    return {"value": input["i"] * input["i"]}
'''

CONFIG = '''
[agents.Where]
python = "agents:where"

[agents.WhereAsync]
python = "agents:where_async"

[agents.OnSpecial]
python = "agents:where"
ray = { resources = { special = 1 } }

[agents.OnHead]
python = "agents:where"
ray = { resources = { head = 1 }, num_cpus = 0.5 }

[agents.Big]
python = "agents:interval"
ray = { num_cpus = 2 }

[agents.Huge]
python = "agents:where"
ray = { memory = "1 TiB" }

[agents.Gpu]
python = "agents:where"
ray = { num_gpus = 1 }

[agents.Flaky]
python = "agents:flaky"

[agents.Down]
python = "agents:flaky"
circuit_breaker = { failures = 2, reset_after = 60 }

[agents.NotJson]
python = "agents:not_json"

[agents.Exits]
python = "agents:exits"

[agents.Refuses]
python = "agents:refuses"

[agents.Nap]
python = "agents:nap"

[agents.Stubborn]
python = "agents:stubborn"
ray = { kill_grace = 0.3 }

[agents.Work]
python = "agents:work"
ray = { max_retries = 3 }

[agents.ParentPid]
command = ["sh", "-c", "echo $PPID"]
'''


@dataclass
class RayCluster:
    cluster: Any
    address: str
    head: str  #: node ids
    worker: str
    env: dict[str, str]  #: what a `twdsl run` subprocess needs to reach the cluster


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("Ray is not installed, and CI must test the Ray executor: "
                        "pip install -e '.[dev]' installs it")
        pytest.skip("Ray is not installed (pip install -e '.[dev]' installs it)")
    return ray


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    """A head node (2 CPUs, resource ``head``) and a worker node (2 CPUs, resource
    ``special``) on 127.0.0.1, Ray's files in a temporary folder; this process is a driver."""
    tmp = tempfile.mkdtemp(prefix="twr")  # short: Ray's socket paths must fit in 107 bytes
    # Ray's own switches: loopback addresses only (Ray otherwise binds the machine's IP), and
    # its session files here, not in /tmp/ray.
    env = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_TMPDIR": tmp}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ray = _import_ray()
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    assert not ray_constants.ENABLE_RAY_CLUSTER, "Ray was imported before the test set it up"
    node_args = {"num_cpus": 2, "include_dashboard": False, "dashboard_agent_listen_port": None}
    cluster = Cluster(initialize_head=True,
                      head_node_args={**node_args, "resources": {"head": 1}})
    try:
        worker = cluster.add_node(num_cpus=2, resources={"special": 1})
        ray.init(address=cluster.address, logging_level=logging.WARNING)
        nodes = ray.nodes()
        assert {n["NodeManagerAddress"] for n in nodes} == {"127.0.0.1"}
        yield RayCluster(cluster, cluster.address, cluster.head_node.node_id, worker.node_id,
                         {**os.environ, **env, "NO_COLOR": "1"})
    finally:
        ray.shutdown()
        cluster.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rayproj")
    (d / "agents.py").write_text(AGENTS)
    (d / "twdsl.toml").write_text(CONFIG)
    return d


@pytest.fixture(scope="module")
def executor(ray_cluster: RayCluster) -> Iterator[Executor]:
    ex = make_executor("ray", ray_cluster.address)
    yield ex
    ex.close()


class Events:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, e: Event) -> None:
        self.events.append(e)


def _specs(project: Path) -> dict[str, Any]:
    import tomllib

    return tomllib.loads((project / "twdsl.toml").read_text())["agents"]  # type: ignore[no-any-return]


def flow(body: str, outputs: str = "", inputs: str = "") -> str:
    return (f'workflow T {{\n  version: "1.0.0"\n  input {{\n{inputs}\n  }}\n'
            f'  output {{\n{outputs}\n  }}\n{textwrap.indent(body, "  ")}\n}}\n')


async def run_flow(source: str, project: Path, executor: Executor,
                   inputs: dict[str, Any] | None = None,
                   events: Events | None = None) -> RunResult:
    comp = compile_source(source, "t.twdsl")
    assert comp.program is not None, comp.diagnostics
    registry = AgentRegistry(_specs(project), project)
    engine = Engine(comp.program, registry, Fanout([events or Events()]),
                    RunOptions(executor=executor, max_concurrency=8))
    try:
        return await engine.run(validate_inputs(comp.program, inputs or {}))
    finally:
        await registry.aclose()


# -- where calls run ---------------------------------------------------------------------------


async def test_python_agents_run_as_ray_tasks_and_others_here(
        ray_cluster: RayCluster, project: Path, executor: Executor) -> None:
    source = flow("""
foreach x in [1, 2, 3, 4] {
  parallel: true
  task sync { agent: "Where" input: { x: x } }
  task both { agent: "WhereAsync" input: { x: x * 10 } }
}
task parent { agent: "ParentPid" }
task same { agent: "echo" input: { n: 1 } }
""", outputs="""    sync: array<object> = sync.result
    both: array<object> = both.result
    parent: number = parent.result
    same: object = same.result""")
    result = await run_flow(source, project, executor)
    assert result.status.value == "completed", result.error
    out = result.outputs or {}
    assert [r["x"] for r in out["sync"]] == [1, 2, 3, 4]
    assert [r["x"] for r in out["both"]] == [10, 20, 30, 40]
    assert all(r["async"] for r in out["both"])
    calls = out["sync"] + out["both"]
    # on Ray workers: other processes, on the cluster's nodes
    assert os.getpid() not in {r["pid"] for r in calls}
    assert {r["node"] for r in calls} <= {ray_cluster.head, ray_cluster.worker}
    # a command agent and a built-in ran here: the command's parent is this process
    assert out["parent"] == os.getpid()
    assert out["same"] == {"n": 1}


async def test_per_agent_resources_choose_the_node(
        ray_cluster: RayCluster, project: Path, executor: Executor) -> None:
    source = flow("""
foreach x in [1, 2, 3, 4] {
  parallel: true
  task special { agent: "OnSpecial" input: { x: x } }
  task head { agent: "OnHead" input: { x: x } }
}
""", outputs="""    special: array<string> = special.result.map(r => r.node)
    head: array<string> = head.result.map(r => r.node)""")
    result = await run_flow(source, project, executor)
    assert result.status.value == "completed", result.error
    assert result.outputs == {"special": [ray_cluster.worker] * 4,
                              "head": [ray_cluster.head] * 4}


async def test_num_cpus_is_reserved_per_call(
        ray_cluster: RayCluster, project: Path, executor: Executor) -> None:
    # Big asks for 2 CPUs and each node has 2: never two Big calls at once on one node
    source = flow("""
foreach x in [1, 2, 3, 4] {
  parallel: true
  task big { agent: "Big" input: { seconds: 0.3 } }
}
""", outputs="    spans: array<object> = big.result")
    result = await run_flow(source, project, executor)
    assert result.status.value == "completed", result.error
    spans = (result.outputs or {})["spans"]
    assert len(spans) == 4
    for node in {s["node"] for s in spans}:
        mine = sorted((s["start"], s["end"]) for s in spans if s["node"] == node)
        assert all(a[1] <= b[0] for a, b in zip(mine, mine[1:], strict=False)), mine


@pytest.mark.parametrize("agent", ["Huge", "Gpu"])
async def test_a_call_no_node_can_hold_never_starts(
        project: Path, executor: Executor, agent: str) -> None:
    # 1 TiB of memory, or a GPU: no node has it, so Ray keeps the task waiting until twdsl's
    # timeout cancels it (had Ray ignored the ask, `where` would answer at once)
    source = flow(f'task t {{ agent: "{agent}" input: {{ x: 1 }} timeout: 1s }}')
    result = await run_flow(source, project, executor)
    assert result.status.value == "failed"
    assert result.tasks["t"].status.value == "timeout"
    assert (result.error or {})["kind"] == "timeout"


# -- twdsl's retries, error kinds, timeouts and cancellation ---------------------------------


async def test_retries_stay_twdsls_and_errors_are_classified_as_locally(
        project: Path, executor: Executor) -> None:
    source = flow("""
task flaky {
  agent: "Flaky"
  input: { ok_at: 3 }
  retry: { attempts: 3, delay: 10ms, on: [transient] }
}
task not_json { agent: "NotJson" retry: { attempts: 2, delay: 10ms } on_error: continue }
task exits { agent: "Exits" on_error: continue }
task refuses { agent: "Refuses" input: { user: "ada" } on_error: continue }
""", outputs="    flaky: object = flaky.result")
    events = Events()
    result = await run_flow(source, project, executor, events=events)
    assert result.status.value == "completed", result.error
    assert (result.outputs or {})["flaky"]["attempt"] == 3
    assert result.tasks["flaky"].attempts == 3
    retried = [e for e in events.events if e.type == "task.retried" and e.key == "flaky"]
    assert [e.data["error"]["kind"] for e in retried] == ["transient", "transient"]
    first = retried[0].data["error"]
    assert first["message"] == "ConnectionError: down at attempt 1"
    assert first["details"]["type"] == "builtins.ConnectionError"
    assert "agents.py" in first["details"]["traceback"]
    # a result that is not JSON: validation, never retried
    assert result.tasks["not_json"].attempts == 1
    assert result.tasks["not_json"].error is not None
    assert result.tasks["not_json"].error["kind"] == "validation"
    assert "agent 'NotJson' returned a value that is not JSON" in (
        result.tasks["not_json"].error["message"])
    assert result.tasks["exits"].error == {"kind": "agent", "message": "SystemExit: 3",
                                           "task": "exits"}
    assert result.tasks["refuses"].error == {"kind": "validation", "message": "no such user",
                                             "task": "refuses"}


async def test_a_node_that_cannot_import_the_agent_fails_the_call_as_agent(
        executor: Executor, tmp_path: Path) -> None:
    (tmp_path / "vanishing.py").write_text("def f(input, ctx):\n    return 1\n")
    registry = AgentRegistry({"V": {"python": "vanishing:f"}}, tmp_path)
    registry.get("V")  # imported here, then the module is gone: the Ray worker cannot import it
    (tmp_path / "vanishing.py").unlink()
    comp = compile_source(flow('task t { agent: "V" }'), "t.twdsl")
    assert comp.program is not None
    engine = Engine(comp.program, registry, Fanout([]), RunOptions(executor=executor))
    result = await engine.run({})
    assert result.tasks["t"].error == {
        "kind": "agent", "task": "t",
        "message": f"[agents.V] on the Ray node 127.0.0.1: python = 'vanishing:f': no module named "
                   f"'vanishing' in {tmp_path} or on sys.path: install the agent's module on "
                   "every node of the cluster, or give it the same path there"}


async def test_the_circuit_breaker_stays_twdsls(project: Path, executor: Executor) -> None:
    # two failures on Ray open the breaker: the third call fails here, never reaching Ray
    source = flow("""
foreach i in [1, 2, 3] {
  task down { agent: "Down" input: { ok_at: 99 } on_error: continue }
}
""")
    result = await run_flow(source, project, executor)
    errors = [result.tasks[f"down[{i}]"].error or {} for i in range(3)]
    assert [e["kind"] for e in errors] == ["transient"] * 3
    assert [e["message"] for e in errors[:2]] == ["ConnectionError: down at attempt 1"] * 2
    assert errors[2]["message"].startswith(
        "circuit open for agent 'Down' (2 consecutive failures, last: transient: "
        "ConnectionError: down at attempt 1); retrying after ")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def _wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds}s for {what}")
        await asyncio.sleep(0.05)


async def test_a_timeout_interrupts_the_ray_task(
        project: Path, executor: Executor, tmp_path: Path) -> None:
    source = flow(f'task nap {{ agent: "Nap" input: {{ dir: "{tmp_path}" }} timeout: 1s }}')
    result = await run_flow(source, project, executor)
    assert result.tasks["nap"].status.value == "timeout"
    assert not (tmp_path / "finished").exists()  # the run did not wait out the agent's 30 s
    assert int((tmp_path / "pid").read_text()) != os.getpid()
    # Ray's KeyboardInterrupt reached the function, which stopped at once
    await _wait_for((tmp_path / "interrupted").exists, 5, "the agent to be interrupted")
    assert not (tmp_path / "finished").exists()


async def test_cancelling_the_run_kills_a_ray_task_that_will_not_stop(
        project: Path, executor: Executor, tmp_path: Path) -> None:
    source = flow(f'task hold {{ agent: "Stubborn" input: {{ dir: "{tmp_path}" }} }}')
    comp = compile_source(source, "t.twdsl")
    assert comp.program is not None
    registry = AgentRegistry(_specs(project), project)
    engine = Engine(comp.program, registry, Fanout([]), RunOptions(executor=executor))
    main = asyncio.ensure_future(engine.run({}))
    pid_file = tmp_path / "pid"
    await _wait_for(pid_file.exists, 30, "the agent to start")
    pid = int(pid_file.read_text())
    assert _alive(pid)
    main.cancel()  # what Ctrl-C does in `twdsl run`
    with pytest.raises(asyncio.CancelledError):
        await main
    assert engine.final is not None and engine.final.status.value == "cancelled"
    assert engine.final.tasks["hold"].status.value == "cancelled"
    # asked first (the function saw the KeyboardInterrupt and went on), then killed after
    # kill_grace = 0.3s: its worker process is gone
    await _wait_for(lambda: not _alive(pid), 10, f"the Ray worker {pid} to be killed")
    assert (tmp_path / "ignored").exists()
    assert not (tmp_path / "finished").exists()


# -- the CLI, and a node lost mid-run ----------------------------------------------------------


def twdsl(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "twdsl.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_twdsl_run_with_executor_ray(ray_cluster: RayCluster, project: Path) -> None:
    (project / "cli.twdsl").write_text(flow("""
foreach x in xs {
  parallel: true
  task calc { agent: "Where" input: { x: x } }
}
task parent { agent: "ParentPid" }
""", inputs="    xs: array<number>", outputs="""    xs: array<number> = calc.result.map(r => r.x)
    pids: array<number> = calc.result.map(r => r.pid)
    nodes: array<string> = calc.result.map(r => r.node)
    parent: number = parent.result"""))
    proc = twdsl("run", "cli.twdsl", "--executor", "ray", "--ray-address", ray_cluster.address,
                 "--no-state", "--input", "xs=[1,2,3]", cwd=project, env=ray_cluster.env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    got = json.loads(out)
    assert got["xs"] == [1, 2, 3]
    assert proc.pid not in got["pids"]
    assert set(got["nodes"]) <= {ray_cluster.head, ray_cluster.worker}
    assert got["parent"] == proc.pid  # the command agent ran in twdsl's process


def test_ctrl_c_on_twdsl_run_stops_the_ray_task(ray_cluster: RayCluster, project: Path,
                                                tmp_path: Path) -> None:
    (project / "hold.twdsl").write_text(flow(
        f'task hold {{ agent: "Stubborn" input: {{ dir: "{tmp_path}" }} }}'))
    proc = twdsl("run", "hold.twdsl", "--executor", "ray", "--ray-address", ray_cluster.address,
                 "--no-state", cwd=project, env=ray_cluster.env)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "pid").exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the agent never started"
            time.sleep(0.05)
        pid = int((tmp_path / "pid").read_text())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, out) == (1, "")
    assert "cancelled: the run was cancelled" in err
    # the run ended at once; its Ray task was asked to stop, then its worker process killed
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, f"the Ray worker {pid} outlived the run"
        time.sleep(0.05)
    assert (tmp_path / "ignored").exists()
    assert not (tmp_path / "finished").exists()


KILL_FLOW = flow("""
foreach i in items {
  parallel: true
  task work { agent: "Work" input: { i: i, seconds: seconds, log: log } }
}
""", inputs="""    items: array<number>
    seconds: number
    log: string""", outputs="    squares: array<number> = work.result.map(r => r.value)")


def _log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def test_a_node_killed_mid_run_loses_nothing(ray_cluster: RayCluster, project: Path,
                                             tmp_path: Path) -> None:
    (project / "kill.twdsl").write_text(KILL_FLOW)
    items = "items=[1,2,3,4,5,6,7,8]"
    # the run that nothing interrupts (the local executor)
    plain = subprocess.run([sys.executable, "-m", "twdsl.cli", "run", "kill.twdsl", "--no-state",
                            "-i", items, "-i", "seconds=0.1", "-i", f"log={tmp_path / 'p.log'}"],
                           cwd=project, env=ray_cluster.env, capture_output=True, text=True,
                           timeout=120)
    assert plain.returncode == 0, plain.stderr
    doomed = ray_cluster.cluster.add_node(num_cpus=2)
    log = tmp_path / "ray.log"
    db = tmp_path / "state.db"
    proc = twdsl("run", "kill.twdsl", "--executor", "ray", "--ray-address", ray_cluster.address,
                 "--state", str(db), "--max-concurrency", "8", "-i", items, "-i", "seconds=2",
                 "-i", f"log={log}", cwd=project, env=ray_cluster.env)
    try:
        deadline = time.monotonic() + 60
        while not any(e["node"] == doomed.node_id for e in _log(log)):
            assert time.monotonic() < deadline and proc.poll() is None, "nothing ran on the node"
            time.sleep(0.05)
        ray_cluster.cluster.remove_node(doomed, allow_graceful=False)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out) == json.loads(plain.stdout) == {
        "squares": [1, 4, 9, 16, 25, 36, 49, 64]}
    # calls were lost with the node (started there, never ended) and run again elsewhere
    lines = _log(log)
    lost = {e["i"] for e in lines if e["node"] == doomed.node_id and e["at"] == "start"} - {
        e["i"] for e in lines if e["node"] == doomed.node_id and e["at"] == "end"}
    assert lost
    for i in lost:
        assert any(e["i"] == i and e["at"] == "end" and e["node"] != doomed.node_id
                   for e in lines)
    # the store: every task instance completed once, in its first attempt
    with SQLiteStore(db) as store:
        (run,) = store.list_runs()
        assert run.status == "completed"
        states = store.task_states(run.id)
        assert sorted(s.key for s in states) == sorted(f"{_work_node(store, run.id)}[{i}]"
                                                       for i in range(8))
        assert {(s.status, s.attempts) for s in states} == {("completed", 1)}
        completed = Counter(e.key for e in store.events(run.id) if e.type == "task.completed")
        assert set(completed.values()) == {1} and len(completed) == 8


def _work_node(store: SQLiteStore, run_id: str) -> str:
    keys = {s.key.split("[")[0] for s in store.task_states(run_id)}
    assert len(keys) == 1
    return keys.pop()
