"""Executors without a Ray cluster: the factory, the ``ray`` table of a binding (checked when
twdsl.toml is read, whatever the executor), the CLI's usage errors, and that nothing imports
Ray unless the Ray executor is chosen.  (tests/test_executor_ray.py runs it on a cluster.)"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run

from twdsl.runtime.agents import AgentRegistry
from twdsl.runtime.agents.python_agent import PythonAgent
from twdsl.runtime.engine import RunOptions
from twdsl.runtime.errors import ConfigurationError
from twdsl.runtime.executors import (
    EXECUTORS,
    ExecutorError,
    LocalExecutor,
    make_executor,
)

FLOW = 'workflow W {\n  version: "1.0.0"\n  task t { agent: "Echo" input: { n: 1 } }\n}\n'


def test_make_executor_local_and_its_mistakes() -> None:
    ex = make_executor("local", None)
    assert isinstance(ex, LocalExecutor) and ex.name == "local"
    agent = AgentRegistry({}, Path(".")).get("echo")
    assert ex.agent(agent) is agent  # the local executor costs nothing per call
    assert RunOptions().executor.name == "local"  # the engine's default
    assert EXECUTORS == ("local", "ray")
    with pytest.raises(ExecutorError) as e:
        make_executor("local", "10.0.0.5:6379")
    assert str(e.value) == ("--ray-address 10.0.0.5:6379 needs --executor ray (the local "
                            "executor runs every agent in this process)")
    with pytest.raises(ExecutorError) as e:
        make_executor("dask", None)
    assert str(e.value) == "unknown executor 'dask'; choose one of local, ray"
    assert isinstance(e.value, ConfigurationError)  # a user's mistake: exit 2


def _registry(spec: dict[str, Any], tmp_path: Path) -> AgentRegistry:
    (tmp_path / "agents.py").write_text("def f(input, ctx):\n    return input\n")
    return AgentRegistry({"A": spec}, tmp_path, origin="twdsl.toml")


def test_the_ray_table_is_normalized_and_kept_on_the_python_agent(tmp_path: Path) -> None:
    registry = _registry({"python": "agents:f", "ray": {
        "num_cpus": 2, "num_gpus": 0.5, "memory": "1.5 GiB", "resources": {"ssd": 1},
        "max_retries": 0, "kill_grace": 1}}, tmp_path)
    agent = registry.get("A").inner  # type: ignore[attr-defined]
    assert isinstance(agent, PythonAgent)
    assert agent.ray == {"num_cpus": 2.0, "num_gpus": 0.5, "memory": 1610612736,
                         "resources": {"ssd": 1.0}, "max_retries": 0, "kill_grace": 1.0}
    assert agent.base_dir == tmp_path
    sizes = {"512 MiB": 536870912, "2GB": 2_000_000_000, "100": 100, "1 KiB": 1024}
    for text, size in sizes.items():
        got = _registry({"python": "agents:f", "ray": {"memory": text}}, tmp_path)
        assert got.bindings["A"].spec["ray"] == {"memory": size}
    assert _registry({"python": "agents:f", "ray": {"memory": 4096}},
                     tmp_path).bindings["A"].spec["ray"] == {"memory": 4096}


@pytest.mark.parametrize(("spec", "message"), [
    ({"python": "agents:f", "ray": {"num_cpu": 1}},
     "[agents.A] in twdsl.toml: unknown key 'ray.num_cpu' (did you mean 'num_cpus'?); ray knows: "
     "num_cpus, num_gpus, memory, resources, max_retries, kill_grace"),
    ({"python": "agents:f", "ray": 2},
     '[agents.A] in twdsl.toml: ray must be a table such as ray = { num_cpus = 1, memory = '
     '"2 GiB" }, not the number 2'),
    ({"python": "agents:f", "ray": {"num_gpus": -1}},
     "[agents.A] in twdsl.toml: ray.num_gpus must be a number >= 0 (e.g. num_gpus = 1), not "
     "the number -1"),
    ({"python": "agents:f", "ray": {"memory": "2 GiBs"}},
     '[agents.A] in twdsl.toml: ray.memory must be a number of bytes > 0 or a size such as '
     '"512 MiB" or "2 GB" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), not the string '
     '"2 GiBs"'),
    ({"python": "agents:f", "ray": {"resources": {"GPU": 1}}},
     "[agents.A] in twdsl.toml: ray.resources.GPU: write ray.num_gpus = 1 instead"),
    ({"python": "agents:f", "ray": {"resources": {"ssd": 0}}},
     "[agents.A] in twdsl.toml: ray.resources.ssd must be a number > 0, not the number 0"),
    ({"python": "agents:f", "ray": {"max_retries": 1.5}},
     "[agents.A] in twdsl.toml: ray.max_retries must be a whole number >= 0 (0: a Ray task "
     "lost with its node is not run again), not the number 1.5"),
    ({"command": ["true"], "ray": {"num_cpus": 1}},
     "[agents.A] in twdsl.toml: ray applies to python agents only; a command agent always runs "
     "where twdsl runs, whatever the executor (see docs/agents.md); remove it"),
    ({"url": "http://127.0.0.1:9", "ray": {}},
     "[agents.A] in twdsl.toml: ray applies to python agents only; a url agent always runs "
     "where twdsl runs, whatever the executor (see docs/agents.md); remove it"),
])
def test_a_wrong_ray_table_is_one_line(spec: dict[str, Any], message: str,
                                       tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as e:
        _registry(spec, tmp_path)
    assert str(e.value) == message


def _project(tmp_path: Path, ray_table: str = "") -> Path:
    (tmp_path / "agents.py").write_text("def echo(input, ctx):\n    return input\n")
    (tmp_path / "twdsl.toml").write_text(f'[agents.Echo]\npython = "agents:echo"\n{ray_table}')
    (tmp_path / "w.twdsl").write_text(FLOW)
    return tmp_path


def test_cli_usage_errors(tmp_path: Path) -> None:
    d = _project(tmp_path, "ray = { num_cpu = 1 }\n")
    r = run("run", "w.twdsl", "--no-state", cwd=d)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"twdsl: [agents.Echo] in {d / 'twdsl.toml'}: unknown key 'ray.num_cpu' "
                        "(did you mean 'num_cpus'?); ray knows: num_cpus, num_gpus, memory, "
                        "resources, max_retries, kill_grace\n")
    d = _project(tmp_path)
    r = run("run", "w.twdsl", "--no-state", "--ray-address", "127.0.0.1:6379", cwd=d)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("twdsl: --ray-address 127.0.0.1:6379 needs --executor ray (the local "
                        "executor runs every agent in this process)\n")
    r = run("run", "w.twdsl", "--executor", "dask", cwd=d)
    assert r.returncode == 2
    assert "Invalid value for '--executor': 'dask' is not one of 'local', 'ray'." in r.stderr
    assert not (d / ".twdsl").exists()  # nothing was recorded


def _has_ray() -> bool:
    return importlib.util.find_spec("ray") is not None


def test_an_address_out_of_reach_is_a_usage_error_at_once(tmp_path: Path) -> None:
    if not _has_ray():
        r = run("run", "w.twdsl", "--executor", "ray", cwd=_project(tmp_path))
        assert (r.returncode, r.stderr) == (2, "twdsl: --executor ray needs Ray, which is not "
                                            "installed here: pip install 'twdsl[ray]'\n")
        return
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    d = _project(tmp_path)
    r = run("run", "w.twdsl", "--executor", "ray", "--ray-address", f"127.0.0.1:{port}", cwd=d)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"twdsl: cannot reach the Ray cluster at 127.0.0.1:{port}: Connection "
                        "refused; start one with `ray start --head` or give the address it "
                        "printed\n")
    r = run("run", "w.twdsl", "--executor", "ray", "--ray-address", "ray://head:10001", cwd=d)
    assert r.returncode == 2
    assert r.stderr.startswith("twdsl: --ray-address ray://head:10001: Ray Client addresses are "
                               "not supported")
    r = run("run", "w.twdsl", "--executor", "ray", "--ray-address", "head-no-port", cwd=d)
    assert r.stderr == ('twdsl: --ray-address "head-no-port": expected host:port of the '
                        "cluster's head (e.g. 10.0.0.5:6379), or auto\n")
    assert not (d / ".twdsl").exists()


@pytest.mark.parametrize("args", [
    ["check", "w.twdsl"],
    ["run", "w.twdsl", "--no-state"],
    ["run", "w.twdsl", "--no-state", "--executor", "ray", "--dry-run"],
])
def test_ray_is_imported_only_when_the_ray_executor_runs(args: list[str],
                                                         tmp_path: Path) -> None:
    d = _project(tmp_path)
    code = ("import sys\nfrom twdsl.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "print('ray' in sys.modules, code, file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code, *args], cwd=d, capture_output=True,
                       text=True)
    assert r.stderr.splitlines()[-1] == "False 0", r.stderr
