"""The durability crash campaign (issue 16, "Keep them found"): `twdsl run` killed with
SIGKILL at a random moment, then killed again at a random moment of its resume, and of its
second resume, before a last resume finishes it.  Every trial must end with

* 0 items lost: every task instance completed in the store, with its result;
* 0 recorded-complete tasks redone: a task the store had as completed when a resume started
  is not called again by it;
* 0 wrong outputs: the run's outputs and every stored result equal an uninterrupted run's.

CI runs a few trials on each back end; ``TWDSL_CRASH_TRIALS=100 pytest
tests/test_crash_campaign.py`` (or ``python bench/crash_campaign.py``) runs a long campaign.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from store_helpers import make_backend, pg_url, postgres, server  # noqa: F401
from twdsl.runtime.store import open_store

TRIALS = int(os.environ.get("TWDSL_CRASH_TRIALS", "0") or 0)
N = 30

AGENTS = '''
import json, os, time

def work(input, call):
    time.sleep(input["sleep"])
    with open(os.environ["AGENT_LOG"], "a") as f:
        f.write(json.dumps({"key": call.context["key"], "pid": os.getpid()}) + "\\n")
    return {"n": input["n"] * 3, "key": call.context["key"]}
'''

FLOW = '''
workflow Campaign {
  version: "1.0.0"
  input {
    n: number
    sleep: number
  }
  output {
    total: number = sum(work.result.map(r => r.n))
    keys: string = work.result.map(r => r.key).join(",")
  }
  foreach i in range(n) {
    parallel: true
    max_concurrency: 4
    task work {
      agent: "Work"
      input: { n: i, sleep: sleep }
      retry: { attempts: 1, delay: 10ms }
    }
  }
}
'''

EXPECTED = {"total": sum(3 * i for i in range(N)),
            "keys": ",".join(f"work[{i}]" for i in range(N))}


@dataclass
class Trial:
    """What one trial saw."""

    kills: int
    lost: int = 0
    redone: int = 0
    wrong: int = 0
    tracebacks: int = 0
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (self.lost or self.redone or self.wrong or self.tracebacks)


def _calls(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [json.loads(line)["key"] for line in log.read_text().splitlines() if line.strip()]


def run_trial(folder: Path, target: str, seed: int) -> Trial:
    """One trial in ``folder`` on the store ``target`` (a path or a URL)."""
    rng = random.Random(seed)
    (folder / "agents.py").write_text(AGENTS)
    (folder / "twdsl.toml").write_text('[agents.Work]\npython = "agents:work"\n')
    (folder / "campaign.twdsl").write_text(FLOW)
    log = folder / "calls.log"
    env = dict(os.environ, AGENT_LOG=str(log), TWDSL_STATE=target)
    kills = rng.choice([1, 2, 3])  # in the run; and in its resume; and in the second resume
    sleep = rng.choice([0.01, 0.03, 0.06])
    t = Trial(kills)
    run_id = None
    phase = 0
    while True:
        before = len(_calls(log))
        recorded: set[str] = set()
        if run_id is None:
            args = ["run", "campaign.twdsl", "-i", f"n={N}", "-i", f"sleep={sleep}"]
        else:
            with open_store(target) as s:
                recorded = set(s.completed_results(run_id))
                status = s.get_run(run_id).status  # type: ignore[union-attr]
            if status == "completed":  # killed after its end was recorded: nothing to do
                break
            args = ["runs", "resume", run_id]
        proc = subprocess.Popen([sys.executable, "-m", "twdsl.cli", *args, "--log-format",
                                 "json"], cwd=folder, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        if phase < kills:
            deadline = time.monotonic() + 60
            while len(_calls(log)) <= before and proc.poll() is None:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise AssertionError("no progress in 60 s")
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.25))  # a random moment of the work
            proc.kill()
        out, err = proc.communicate(timeout=120)
        if "Traceback" in err:
            t.tracebacks += 1
            t.problems.append(err)
        if run_id is None:
            with open_store(target) as s:
                runs = s.list_runs()
            run_id = runs[0].id if runs else None
            if run_id is None:
                raise AssertionError(f"no run was recorded: {err}")
        again = set(_calls(log)[before:]) & recorded
        t.redone += len(again)
        if again:
            t.problems.append(f"phase {phase}: redone {sorted(again)}")
        phase += 1
        if proc.returncode == 0:  # it finished (before the kill, if one was meant)
            if json.loads(out) != EXPECTED:
                t.wrong += 1
                t.problems.append(f"outputs {out}")
            break
        if proc.returncode not in (-9, 0):
            raise AssertionError(f"exit {proc.returncode}: {err}")
        if phase > kills + 2:
            raise AssertionError(f"the run did not finish: {err}")
    with open_store(target) as s:
        run = s.get_run(run_id)
        results = s.completed_results(run_id)
        states = s.task_states(run_id)
    assert run is not None
    if run.outputs != EXPECTED or run.status != "completed":
        t.wrong += 1
        t.problems.append(f"recorded {run.status} {run.outputs}")
    want = {f"work[{i}]": {"n": 3 * i, "key": f"work[{i}]"} for i in range(N)}
    t.lost += len(set(want) - set(results))
    t.wrong += sum(1 for k, v in results.items() if want.get(k) != v)
    t.wrong += sum(1 for s_ in states if s_.status != "completed")
    if not set(want) <= set(_calls(log)):
        t.lost += len(set(want) - set(_calls(log)))
    return t


def trials(kind: str) -> list[int]:
    default = {"sqlite": 3, "postgres": 2}[kind]
    return list(range(TRIALS or default))


@pytest.mark.parametrize("trial", trials("sqlite"))
def test_kill_9_during_runs_and_resumes_loses_nothing_on_sqlite(tmp_path: Path,
                                                                trial: int) -> None:
    t = run_trial(tmp_path, str(tmp_path / ".twdsl" / "state.db"), 1000 + trial)
    assert t.ok(), t.problems
    assert (t.lost, t.redone, t.wrong, t.tracebacks) == (0, 0, 0, 0)


@pytest.mark.parametrize("trial", trials("postgres"))
def test_kill_9_during_runs_and_resumes_loses_nothing_on_postgres(tmp_path: Path,
                                                                  trial: int) -> None:
    backend = make_backend("postgres", tmp_path)
    t = run_trial(tmp_path, backend.target, 2000 + trial)
    assert t.ok(), t.problems
    assert (t.lost, t.redone, t.wrong, t.tracebacks) == (0, 0, 0, 0)


def summary(results: list[Trial]) -> dict[str, Any]:
    return {"trials": len(results),
            "kills": sum(t.kills for t in results),
            "kills_during_resume": sum(max(0, t.kills - 1) for t in results),
            "kills_during_second_resume": sum(1 for t in results if t.kills == 3),
            "items_lost": sum(t.lost for t in results),
            "completed_tasks_redone": sum(t.redone for t in results),
            "wrong_outputs": sum(t.wrong for t in results),
            "tracebacks": sum(t.tracebacks for t in results)}
