"""Benchmark: ``twdsl test`` on a workflow whose tests wait out retries and timeouts.

The workflow: a parallel ``foreach`` of 20 ``fetch`` tasks (timeout 2m, 5 retries with
exponential backoff from 30s, jitter) and a chain of 5 ``step`` tasks (3 retries from 1m).  The
test injects faults: the first four attempts of every ``fetch`` hang until their 2m timeout,
the first three attempts of every ``step`` fail as ``transient``.  On a real clock the run would
take about 40 minutes (the report gives the exact virtual time); on the virtual clock it takes
what its callbacks take.

Measured, side by side in the same process and repetition (the machines are shared: medians
and ratios, not single times):

- ``cli``: the whole command, ``twdsl test DIR`` as a subprocess (start-up, compile, run,
  report), beside ``twdsl compile FILE`` of the same workflow: the floor of any command that
  compiles it (start-up and compile, nothing run); wall time and CPU time (user + system:
  what the command costs when the cores are shared with other work);
- ``run``: one test's run in process (:func:`twdsl.testing.runner.run_test`): the faulty test
  beside the same workflow with no fault (every attempt answers at once: the same tasks, a
  fifth of the attempts and no waiting), its lower bound.

    python bench/workflow_tests.py              # ~30 s
    python bench/workflow_tests.py --quick      # smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKFLOW = """\
agent Fetch {
  input { n: number }
  output { ok: boolean }
}

agent Step {
  input { i: number }
  output { ok: boolean }
}

workflow Resilient {
  version: "1.0.0"
  input { items: array<number> }
  output { fetched: number = fetch.result.length() }

  foreach n in items {
    parallel: true
    task fetch {
      agent: Fetch
      input: { n: n }
      timeout: 2m
      retry: { attempts: 5, delay: 30s, backoff: 2, max_delay: 10m, jitter: true }
    }
  }

  foreach i in [1, 2, 3, 4, 5] {
    task step {
      agent: Step
      input: { i: i }
      retry: { attempts: 3, delay: 1m, backoff: 2 }
    }
  }
}
"""

TESTS = """\
file = "resilient.twdsl"
inputs = { items = [ITEMS] }

[agents.Fetch]
result = { ok = true }

[agents.Step]
result = { ok = true }

[[test]]
name = "waits out hanging fetches and failing steps"

[[test.faults]]
task = "fetch"
attempts = [1, 2, 3, 4]
timeout = true

[[test.faults]]
task = "step"
attempts = [1, 2, 3]
error = "transient"

[test.expect]
status = "completed"
outputs = { fetched = 20 }

[test.expect.tasks.fetch]
attempts = 5
errors = ["timeout", "timeout", "timeout", "timeout"]

[test.expect.tasks.step]
attempts = 4

[[test]]
name = "no fault"

[test.expect]
status = "completed"
outputs = { fetched = 20 }
""".replace("ITEMS", ", ".join(str(i) for i in range(20)))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def _cli(folder: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str], float]:
    """Wall seconds, the process, and its CPU seconds (user + system: what the command costs
    when the machine's cores are shared with other work)."""
    start, cpu = time.perf_counter(), _cpu()
    r = subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=folder,
                       capture_output=True, text=True)
    return time.perf_counter() - start, r, _cpu() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="repetitions (median)")
    ap.add_argument("--runs", type=int, default=51,
                    help="repetitions of the in-process runs (median; they take milliseconds)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 repetitions")
    args = ap.parse_args()
    repeat = 2 if args.quick else args.repeat
    runs_repeat = 2 if args.quick else args.runs

    from twdsl.cli.test import load_workflow as load  # compiles as `twdsl run` does
    from twdsl.testing.runner import prepare, run_test
    from twdsl.testing.spec import read_test_file

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "resilient.twdsl").write_text(WORKFLOW)
        (folder / "resilient.test.toml").write_text(TESTS)
        _, r, _ = _cli(folder, "test")
        if r.returncode != 0:
            sys.exit(f"the benchmark's tests do not pass:\n{r.stdout}{r.stderr}")
        print(r.stdout, end="")

        cli, floor, cli_cpu, floor_cpu = [], [], [], []
        for _ in range(repeat):
            wall, _, cpu = _cli(folder, "test")
            cli.append(wall)
            cli_cpu.append(cpu)
            wall, _, cpu = _cli(folder, "compile", "resilient.twdsl", "-o", "out.json")
            floor.append(wall)
            floor_cpu.append(cpu)

        tf = read_test_file(str(folder / "resilient.test.toml"))
        prepared, problems = prepare([tf], tf.tests, load)
        assert not problems, problems
        faulty, clean = prepared
        run_test(faulty), run_test(clean)  # warm up
        runs: dict[str, list[float]] = {"faults": [], "no fault": []}
        virtual = 0.0
        for _ in range(runs_repeat):
            o = run_test(faulty)
            assert o.status == "passed", o.failures
            runs["faults"].append(o.wall_time)
            virtual = o.virtual_time
            runs["no fault"].append(run_test(clean).wall_time)

    med = {k: statistics.median(v) for k, v in
           {"cli": cli, "floor": floor, "cli_cpu": cli_cpu, "floor_cpu": floor_cpu,
            **runs}.items()}
    rows.append({"what": "cli", "twdsl_test_s": round(med["cli"], 4),
                 "compile_floor_s": round(med["floor"], 4),
                 "ratio": round(med["cli"] / med["floor"], 2),
                 "twdsl_test_cpu_s": round(med["cli_cpu"], 4),
                 "compile_floor_cpu_s": round(med["floor_cpu"], 4)})
    rows.append({"what": "run", "virtual_s": round(virtual, 3),
                 "faults_s": round(med["faults"], 5), "no_fault_s": round(med["no fault"], 5),
                 "ratio": round(med["faults"] / med["no fault"], 2),
                 "virtual_per_wall": round(virtual / med["faults"])})
    commit = _commit()
    env = {"python": sys.version.split()[0], "commit": commit, "repeat": repeat,
           "runs": runs_repeat}
    out = HERE / "results" / f"workflow_tests-{commit}.jsonl"
    if not args.quick:
        out.parent.mkdir(exist_ok=True)
        with out.open("w") as f:
            for row in rows:
                f.write(json.dumps({**row, **env}) + "\n")
    print(f"\nmedians of {repeat} commands and {runs_repeat} runs; virtual time of the faulty "
          f"run: {virtual:.1f} s ({virtual / 60:.1f} min)")
    print(f"twdsl test (whole command)    {med['cli']:.3f} s   twdsl compile (floor) "
          f"{med['floor']:.3f} s   ratio {med['cli'] / med['floor']:.2f}")
    print(f"  CPU (user + system)         {med['cli_cpu']:.3f} s   twdsl compile (floor) "
          f"{med['floor_cpu']:.3f} s")
    print(f"run with faults (in process)  {med['faults'] * 1000:.1f} ms   no fault "
          f"{med['no fault'] * 1000:.1f} ms   ratio {med['faults'] / med['no fault']:.2f}   "
          f"virtual/wall {virtual / med['faults']:,.0f}x")


if __name__ == "__main__":
    main()
