"""``twdsl test``: workflow tests run as a user runs them, a real subprocess on real files, with
exact reports and exit codes (docs/testing.md).

What is checked: passing and failing tests with their exact reports (each failed expectation
naming its line), mocks (fixed, by input, generated), faults and retries, timeouts and backoff
on the virtual clock (the virtual time reported, never the wall time), a run that hangs, the
JUnit XML (validated against the JUnit schema CI servers read), ``-k``, discovery, and test
files with mistakes (exit 2, naming the file and line, nothing run).
"""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import xmlschema
from cli_helpers import run
from hypothesis import given, settings
from hypothesis import strategies as st

from twdsl.ir.model import TypeRef
from twdsl.lang.conform import problem
from twdsl.testing.clock import VirtualLoop
from twdsl.testing.lines import LineMap
from twdsl.testing.mocks import generate

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "fixtures" / "junit" / "junit-10.xsd"

SHIP = """\
agent Build {
  input { target: string }
  output {
    artifact: string
    size: number
  }
}

agent Check {
  input { artifacts: array<string> }
  output {
    ok: boolean
    problems: array<string>
  }
}

agent Publish {
  input {
    artifacts: array<string>
    channel: string
  }
  output { url: string }
}

workflow Ship {
  version: "1.0.0"
  input {
    targets: array<string>
    channel: string = "stable"
  }
  output {
    url: string = publish.result.url ?? "none"
    sizes: array<number> = build.result.map(r => r.size)
  }

  foreach target in targets {
    parallel: true
    task build {
      agent: Build
      input: { target: target }
      timeout: 1m
      retry: { attempts: 3, delay: 30s, backoff: 2, jitter: false }
    }
  }

  task check {
    agent: Check
    input: { artifacts: build.result.map(r => r.artifact) }
  }

  if (check.result.ok) {
    task publish {
      agent: Publish
      input: { artifacts: build.result.map(r => r.artifact), channel: channel }
    }
  } else {
    task report { agent: "log" input: { message: "not published" } }
  }
}
"""

MOCKS = """\
file = "ship.twdsl"
inputs = { targets = ["linux", "mac"] }

[agents.Build]
cases = [
  { when = { target = "linux" }, result = { artifact = "ship-linux.tgz", size = 10 } },
  { when = { target = "mac" }, result = { artifact = "ship-mac.dmg", size = 12 } },
]

[agents.Check]
result = { ok = true, problems = [] }

[agents.Publish]
result = { url = "https://dl.example.test/ship" }
"""

PASSING = """
[[test]]
name = "publishes what it built"

[test.expect]
status = "completed"
outputs = { url = "https://dl.example.test/ship", sizes = [10, 12] }
ran = ["publish"]
not_ran = ["report"]
order = ["build < check < publish"]

[test.expect.tasks.publish]
input = { artifacts = ["ship-linux.tgz", "ship-mac.dmg"], channel = "stable" }

[test.expect.tasks."build[1]"]
input_match = { target = "mac" }
"""

FAILING = """
[[test]]
name = "expects what did not happen"

[test.expect]
status = "failed"
outputs_match = { sizes = [10, 13] }
not_ran = ["publish"]
order = ["build[1] < build[0]"]

[test.expect.tasks.build]
attempts = 2
"""

RETRIES = """
[[test]]
name = "retries a flaky build and a slow one"

[[test.faults]]
task = "build[0]"
attempts = [1, 2]
error = "transient"

[[test.faults]]
task = "build[1]"
attempts = 1
timeout = true

[test.expect]
status = "completed"
time = "1m30s"

[test.expect.tasks."build[0]"]
attempts = 3
errors = ["transient", "transient"]

[test.expect.tasks."build[1]"]
attempts = 2
errors = ["timeout"]
"""


def _wall(text: str) -> str:
    """The report with its wall time (the one figure that varies) replaced."""
    return re.sub(r" in \d+\.\d\ds\n\Z", " in <t>s\n", text)


@pytest.fixture()
def ship(tmp_path: Path) -> Path:
    (tmp_path / "ship.twdsl").write_text(SHIP)
    return tmp_path


def test_passing_and_failing_tests_report_exactly_what_differed(ship: Path) -> None:
    (ship / "ship.test.toml").write_text(MOCKS + PASSING + FAILING)
    r = run("test", cwd=ship)
    assert (r.returncode, r.stderr) == (1, "")
    assert _wall(r.stdout) == """\
ship.test.toml (Ship)
  PASS  publishes what it built  [0s virtual]
  FAIL  expects what did not happen  [0s virtual]
        ship.test.toml:36: status: expected "failed", got "completed"
        ship.test.toml:37: outputs.sizes[1]: expected 13, got 12
        ship.test.toml:38: not_ran: 'publish' ran (publish: 1 attempt)
        ship.test.toml:39: order: 'build[1] < build[0]': 'build[0]' started at 0s, before \
'build[1]' ended at 0s
        ship.test.toml:42: tasks.build[0].attempts: expected 2, got 1
        ship.test.toml:42: tasks.build[1].attempts: expected 2, got 1
1 passed, 1 failed in <t>s
"""


def test_faults_retries_and_timeouts_run_on_virtual_time(ship: Path) -> None:
    """build[0] fails twice (waits 30s, 1m); build[1] hangs into its 1m timeout, waits 30s:
    both are done at 1m30s of virtual time, which the report shows."""
    (ship / "ship.test.toml").write_text(MOCKS + RETRIES + RETRIES.replace(
        'name = "retries a flaky build and a slow one"', 'name = "wrong time"').replace(
        'time = "1m30s"', 'time = "2m30s"').replace('errors = ["timeout"]', 'errors = ["agent"]'))
    r = run("test", cwd=ship)
    assert (r.returncode, r.stderr) == (1, "")
    assert _wall(r.stdout) == """\
ship.test.toml (Ship)
  PASS  retries a flaky build and a slow one  [1m30s virtual]
  FAIL  wrong time  [1m30s virtual]
        ship.test.toml:56: time: expected 2m30s of virtual time, the run took 1m30s
        ship.test.toml:64: tasks.build[1].errors: expected ["agent"], got ["timeout"]
1 passed, 1 failed in <t>s
"""


BLOCKS = """\
workflow Slow {
  version: "1.0.0"
  timeout: 2h
  output { done: boolean = true }

  parallel {
    timeout: 10m
    task nap { agent: "sleep" input: { seconds: 3600 } }
    task quick { agent: "echo" input: { ok: true } }
  }
}
"""


def test_block_and_workflow_timeouts_and_the_sleep_agent_are_virtual(tmp_path: Path) -> None:
    """A parallel block's 10m timeout cancels an hour's sleep (the built-in agent, on the
    virtual clock); without the block's timeout the workflow's 2h one passes first."""
    (tmp_path / "slow.twdsl").write_text(BLOCKS)
    (tmp_path / "long.twdsl").write_text(
        BLOCKS.replace("timeout: 10m", "").replace("seconds: 3600", "seconds: 9000"))
    (tmp_path / "slow.test.toml").write_text("""\
file = "slow.twdsl"

[[test]]
name = "the block times out"

[test.expect]
status = "failed"
error = { kind = "timeout", message = "parallel block ran past its timeout of 10m" }
time = "10m"

[test.expect.tasks.nap]
status = "cancelled"

[test.expect.tasks.quick]
status = "completed"
result = { ok = true }
""")
    (tmp_path / "long.test.toml").write_text("""\
file = "long.twdsl"

[[test]]
name = "the workflow times out"

[test.expect]
status = "timeout"
error = { kind = "timeout", message = "the workflow ran past its timeout of 2h" }
time = "2h"
""")
    r = run("test", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    assert _wall(r.stdout) == """\
long.test.toml (Slow)
  PASS  the workflow times out  [2h virtual]
slow.test.toml (Slow)
  PASS  the block times out  [10m virtual]
2 passed, 0 failed in <t>s
"""


def test_a_run_that_can_never_end_is_reported_as_hung(ship: Path) -> None:
    """A hang fault on a task without a timeout: nothing is left to happen, the run stops."""
    (ship / "ship.test.toml").write_text(MOCKS + """
[[test]]
name = "hangs"

[[test.faults]]
task = "check"
timeout = true

[test.expect]
status = "completed"
""")
    r = run("test", cwd=ship)
    assert (r.returncode, r.stderr) == (1, "")
    assert _wall(r.stdout) == """\
ship.test.toml (Ship)
  FAIL  hangs  [0s virtual]
        ship.test.toml:16: the run hung at 0s of virtual time: nothing was left to happen, and \
'check' (attempt 1) still waited; a fault with timeout = true makes an attempt hang until the \
task's timeout, and this task has none
1 passed, 1 failed in <t>s
""".replace("1 passed, 1 failed", "0 passed, 1 failed")


def test_mocks_by_input_generated_and_failing(ship: Path) -> None:
    """A case list with no match is the test's mistake (named at the mock's line); a generated
    result is the same on every run for a seed; a mock error is its kind."""
    (ship / "ship.test.toml").write_text(MOCKS + """
[[test]]
name = "no case for windows"
inputs = { targets = ["linux", "windows"] }

[test.expect]
status = "failed"

[[test]]
name = "generated results"
seed = 7

[test.agents.Build]
generate = true

[test.agents.Check]
result = { ok = false, problems = ["too big"] }

[test.expect]
status = "completed"
outputs = { url = "none", sizes = [43, 90] }
ran = ["report"]

[test.expect.tasks.check]
input = { artifacts = ["artifact-5dd3", "artifact-1b06"] }

[[test]]
name = "a failing check"

[test.agents.Check]
error = { kind = "transient", message = "checker down" }

[test.expect]
status = "failed"
error = { kind = "transient", task = "check", message = "checker down" }
""")
    r = run("test", cwd=ship)
    assert (r.returncode, r.stderr) == (1, "[report] not published\n")  # a built-in agent
    assert _wall(r.stdout) == """\
ship.test.toml (Ship)
  FAIL  no case for windows  [0s virtual]
        ship.test.toml:4: mock agents.Build: no case matches the input of task 'build' \
(attempt 1): {"target": "windows"}
  PASS  generated results  [0s virtual]
  PASS  a failing check  [0s virtual]
2 passed, 1 failed in <t>s
"""


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_generated_results_are_seeded(seed: int) -> None:
    t = TypeRef(kind="record", fields={"artifact": TypeRef(kind="string"),
                                       "size": TypeRef(kind="number")})
    now = datetime(2026, 1, 1, tzinfo=UTC)
    one = generate(t, random.Random(f"{seed}|Build|build[0]"), "Build", now)
    assert one == generate(t, random.Random(f"{seed}|Build|build[0]"), "Build", now)
    assert problem(one, t) is None


def _types(depth: int = 3) -> st.SearchStrategy[TypeRef]:
    leaves = st.sampled_from(["string", "url", "file", "number", "boolean", "null", "any",
                              "object", "datetime", "duration"]).map(lambda k: TypeRef(kind=k))
    if depth == 0:
        return leaves
    inner = _types(depth - 1)
    return st.one_of(
        leaves,
        st.builds(lambda t: TypeRef(kind="array", of=t), inner),
        st.builds(lambda t: TypeRef(kind="optional", of=t), inner),
        st.builds(lambda f: TypeRef(kind="record", fields=f),
                  st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), inner,
                                  max_size=4)))


@settings(max_examples=300, deadline=None)
@given(_types(), st.integers(0, 2**32))
def test_every_generated_value_fits_its_type(t: TypeRef, seed: int) -> None:
    value = generate(t, random.Random(seed), "Agent", datetime(2026, 1, 1, tzinfo=UTC))
    assert problem(value, t) is None, (t, value)


def test_junit_report_validates_against_the_junit_schema(ship: Path) -> None:
    (ship / "ship.test.toml").write_text(MOCKS + PASSING + FAILING + """
[[test]]
name = "not yet"
skip = "the publisher is being rewritten"

[test.expect]
status = "completed"
""")
    (ship / "out").mkdir()
    r = run("test", "--junit", "out/report.xml", cwd=ship)
    assert (r.returncode, r.stderr) == (1, "")
    data = (ship / "out" / "report.xml").read_bytes()
    xmlschema.XMLSchema(str(SCHEMA)).validate(data.decode())
    text = re.sub(r'time="\d+\.\d{3}"', 'time="T"', data.decode())
    assert text == """\
<?xml version='1.0' encoding='utf-8'?>
<testsuites name="twdsl test" tests="3" failures="1" errors="0" time="T">
  <testsuite name="ship.test.toml" tests="3" failures="1" errors="0" skipped="1" time="T" \
file="ship.test.toml">
    <properties>
      <property name="workflow" value="Ship" />
    </properties>
    <testcase name="publishes what it built" classname="ship" time="T">
      <system-out>virtual time: 0s
run status: completed
</system-out>
    </testcase>
    <testcase name="expects what did not happen" classname="ship" time="T">
      <failure type="AssertionError" message="6 expectations failed: status: expected \
&quot;failed&quot;, got &quot;completed&quot;">ship.test.toml:36: status: expected "failed", got \
"completed"
ship.test.toml:37: outputs.sizes[1]: expected 13, got 12
ship.test.toml:38: not_ran: 'publish' ran (publish: 1 attempt)
ship.test.toml:39: order: 'build[1] &lt; build[0]': 'build[0]' started at 0s, before 'build[1]' \
ended at 0s
ship.test.toml:42: tasks.build[0].attempts: expected 2, got 1
ship.test.toml:42: tasks.build[1].attempts: expected 2, got 1</failure>
      <system-out>virtual time: 0s
run status: completed
</system-out>
    </testcase>
    <testcase name="not yet" classname="ship" time="T">
      <skipped message="the publisher is being rewritten" />
    </testcase>
  </testsuite>
</testsuites>
"""
    # --format junit writes the same report on stdout
    r = run("test", "--format", "junit", cwd=ship)
    assert r.returncode == 1
    assert re.sub(r'time="\d+\.\d{3}"', 'time="T"', r.stdout) == text
    assert ET.fromstring(r.stdout.encode()).tag == "testsuites"


def test_k_selects_tests_by_name(ship: Path) -> None:
    (ship / "ship.test.toml").write_text(MOCKS + PASSING + FAILING + RETRIES)
    r = run("test", "-k", "PUBLISHES", "-k", "flaky", cwd=ship)
    assert (r.returncode, r.stderr) == (0, "")
    assert _wall(r.stdout) == """\
ship.test.toml (Ship)
  PASS  publishes what it built  [0s virtual]
  PASS  retries a flaky build and a slow one  [1m30s virtual]
2 passed, 0 failed in <t>s
"""
    r = run("test", "-k", "nothing like it", cwd=ship)
    assert (r.returncode, r.stdout, r.stderr) == (
        2, "", "twdsl: error: no test matches -k nothing like it\n")


def test_discovery_under_folders_files_and_the_current_folder(ship: Path) -> None:
    (ship / "a" / "b").mkdir(parents=True)
    (ship / ".hidden").mkdir()
    (ship / "a" / "b" / "deep.test.toml").write_text(
        MOCKS.replace('"ship.twdsl"', '"../../ship.twdsl"') + PASSING)
    (ship / ".hidden" / "ignored.test.toml").write_text("not even TOML")
    (ship / "top.test.toml").write_text(MOCKS + RETRIES)
    (ship / "notes.toml").write_text("not a test file")
    r = run("test", cwd=ship)
    assert r.returncode == 0
    assert [line for line in r.stdout.splitlines() if not line.startswith(" ")] == [
        "a/b/deep.test.toml (Ship)", "top.test.toml (Ship)", r.stdout.splitlines()[-1]]
    r = run("test", "a", cwd=ship)
    assert r.stdout.splitlines()[0] == "a/b/deep.test.toml (Ship)"
    assert r.stdout.splitlines()[-1].startswith("1 passed, 0 failed in ")
    r = run("test", "top.test.toml", "a/b/deep.test.toml", cwd=ship)
    assert [line for line in r.stdout.splitlines() if line.endswith("(Ship)")] == [
        "top.test.toml (Ship)", "a/b/deep.test.toml (Ship)"]
    r = run("test", "missing", cwd=ship)
    assert (r.returncode, r.stdout, r.stderr) == (
        2, "", "twdsl: error: 'missing' does not exist\n")
    r = run("test", "b/..", ".hidden", cwd=ship / "a")
    assert r.returncode == 2 and "'.hidden' does not exist" in r.stderr
    empty = ship / "empty"
    empty.mkdir()
    r = run("test", cwd=empty)
    assert (r.returncode, r.stderr) == (
        2, "twdsl: error: no test files (*.test.toml) under the current folder\n")


def test_a_test_file_that_does_not_parse_names_its_line(ship: Path) -> None:
    (ship / "broken.test.toml").write_text(MOCKS + '\n[[test]]\nname = "x"\nexpect = {\n')
    r = run("test", cwd=ship)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == ("broken.test.toml:18: not valid TOML: Invalid initial character for a "
                        "key part (column 11)\n"
                        "twdsl: 1 problem in the tests; nothing was run\n")


def test_mistakes_in_a_test_file_are_all_reported_with_their_lines(ship: Path) -> None:
    (ship / "bad.test.toml").write_text(MOCKS.replace("[agents.Check]", "[agents.Chek]") + """
[[test]]
name = "one"
inputs = { targets = "linux", colour = "red" }

[[test.faults]]
task = "biuld"
error = "flaky"

[test.expect]
staus = "completed"
order = ["build then check"]

[test.expect.tasks.publish]
attempts = -1

[[test]]
name = "one"
""")
    r = run("test", cwd=ship)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == """\
bad.test.toml:22: faults[0].error.kind = "flaky" is not one of timeout, agent, transient, \
validation
bad.test.toml:25: unknown key 'staus' in test "one": expect (did you mean 'status'?); it knows: \
status, outputs, outputs_json, outputs_match, outputs_match_json, error, ran, not_ran, order, \
time, tasks
bad.test.toml:26: expect.order[0] must read "a < b" (a ended before b started), or a longer \
chain, not "build then check"
bad.test.toml:29: expect.tasks.publish.attempts must be a whole number >= 0, not -1
bad.test.toml:31: test "one" expects nothing: add [test.expect] with what the run should do \
(status = "completed" at least)
bad.test.toml:32: a test named "one" is already at line 17: give each test its own name
twdsl: 6 problems in the tests; nothing was run
"""
    # the file's form is right: now what the workflow does not have
    (ship / "bad.test.toml").write_text(MOCKS.replace("[agents.Check]", "[agents.Chek]") + """
[[test]]
name = "one"
inputs = { targets = "linux", colour = "red" }

[test.agents.Publish]
result = { link = "https://x.example.test" }

[[test.faults]]
task = "biuld"
error = "agent"

[test.expect]
status = "completed"
""")
    r = run("test", cwd=ship)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == """\
bad.test.toml:10: test "one": agents.Chek: Ship calls no agent 'Chek' (did you mean 'Check'?); \
it calls: Build, Check, Publish, log
bad.test.toml:16: test "one": agent 'Check' (task check) has no mock: add [test.agents.Check] \
(or [agents.Check] for every test of the file) with result, cases, generate = true or error
bad.test.toml:18: test "one": the workflow has no input 'colour' (its inputs: targets, channel)
bad.test.toml:18: test "one": input 'targets': expected array<string>, got "linux"
bad.test.toml:20: test "one": agents.Publish.result: the result does not fit the signature of \
'Publish' (output { url: string }): field 'url' is missing
bad.test.toml:23: test "one": a fault names task 'biuld', which Ship does not have (did you \
mean 'build'?); its tasks: build, check, publish, report
twdsl: 6 problems in the tests; nothing was run
"""


def test_a_workflow_that_does_not_compile_stops_everything(tmp_path: Path) -> None:
    (tmp_path / "w.twdsl").write_text('workflow W {\n  version: "1.0.0"\n  task a { agent: }\n}\n')
    (tmp_path / "w.test.toml").write_text(
        'file = "w.twdsl"\n[[test]]\nname = "a"\n[test.expect]\nstatus = "completed"\n')
    (tmp_path / "gone.test.toml").write_text(
        'file = "gone.twdsl"\n[[test]]\nname = "a"\n[test.expect]\nstatus = "completed"\n')
    r = run("test", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    lines = r.stderr.splitlines()
    # the compiler's diagnostics as `twdsl run` shows them, then the problems
    assert lines[0] == "w.twdsl:3:19: error[TW110] unexpected '}' in task 'a'; expected an " \
                       "expression"
    assert lines[-3:] == ["gone.test.toml:1: cannot read gone.twdsl: No such file or directory",
                          "w.test.toml:1: w.twdsl: 1 error; nothing was run",
                          "twdsl: 2 problems in the tests; nothing was run"]


def test_the_example_tests_pass() -> None:
    r = run("test", "examples/", cwd=ROOT)
    assert (r.returncode, r.stderr) == (0, "")
    assert _wall(r.stdout) == """\
examples/create_full_stack_app.test.toml (CreateFullStackApp)
  PASS  deploys when the integration tests pass  [0s virtual]
  PASS  notifies instead of deploying when the tests fail  [0s virtual]
  PASS  retries the frontend generator through two transient failures  [2s360.331ms virtual]
  PASS  falls back to skipTests when the integration tests cannot run  [2s360.331ms virtual]
  PASS  a backend generator that hangs fails the run after its 10 minute timeout  [10m virtual]
5 passed, 0 failed in <t>s
"""


# -- the parts, in process -----------------------------------------------------------------

def test_the_virtual_loop_jumps_to_timers_and_orders_them() -> None:
    import asyncio

    loop = VirtualLoop()
    seen: list[tuple[str, float]] = []

    async def sleeper(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        seen.append((name, loop.time()))

    async def main() -> None:
        async with asyncio.timeout(3600):
            await asyncio.gather(sleeper("b", 7200 - 1), sleeper("a", 90))
        return None

    with pytest.raises(TimeoutError):
        loop.run_until_complete(main())
    assert seen == [("a", 90.0)]
    assert loop.time() == 3600.0
    loop.close()


def test_line_map_follows_arrays_of_tables_and_dotted_keys() -> None:
    m = LineMap('a = 1\n[[test]]\nname = "x"\n[[test.faults]]\ntask = "t"\n[[test]]\n'
                'expect.status = "failed"\n[test.agents."B c"]\nresult = """\nx = 1\n"""\n'
                'after = 2\n')
    assert m.line(("a",)) == 1
    assert m.line(("test", 0, "name")) == 3
    assert m.line(("test", 0, "faults", 0, "task")) == 5
    assert m.line(("test", 1, "expect", "status")) == 7
    assert m.line(("test", 1, "agents", "B c", "result")) == 9
    assert m.line(("test", 1, "agents", "B c", "x")) == 8  # inside the string: not a key
    assert m.line(("test", 1, "agents", "B c", "after")) == 12
    assert m.line(("test", 1, "nothing")) == 6


TWO = """\
agent Slow {
  output { v: string? }
}

agent Gen {
  output {
    n: number
    tags: array<string>
  }
}

workflow First {
  version: "1.0.0"
  task a { agent: "echo" }
}

workflow Second {
  version: "1.0.0"
  output {
    at: datetime = current_time
    region: any = env.REGION
    v: any = slow.result.v
    gen: any = gen.result
  }
  task slow { agent: Slow timeout: 1m }
  task gen { agent: Gen }
}
"""

TWO_TESTS = """\
file = "two.twdsl"
workflow = "Second"
now = 2026-03-01T09:00:00Z
env = { REGION = "eu" }

[agents.Slow]
result_json = '{"v": null}'
delay = "30s"

[agents."*"]
generate = true
seed = 3

[[test]]
name = "virtual now, env, nulls and generated results"

[test.expect]
status = "completed"
outputs_json = '''{"at": "2026-03-01T09:00:30Z", "region": "eu", "v": null,
                 "gen": {"n": 17, "tags": ["tags-0505", "tags-dbf6"]}}'''
time = "30s"

[[test]]
name = "a mock slower than the timeout"

[test.agents.Slow]
result = { v = "late" }
delay = "2m"

[test.expect]
status = "failed"
error = { kind = "timeout", task = "slow" }
time = "1m"
"""


def test_workflow_choice_now_env_nulls_delays_and_generated_defaults(tmp_path: Path) -> None:
    """``workflow`` picks one of the file's workflows; ``now`` and a mock's ``delay`` are on the
    virtual clock (``current_time`` when the outputs are computed, 30s in); ``env`` is the
    test's; ``result_json`` gives a null; ``[agents."*"]`` mocks every other agent."""
    (tmp_path / "two.twdsl").write_text(TWO)
    (tmp_path / "two.test.toml").write_text(TWO_TESTS)
    r = run("test", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    assert _wall(r.stdout) == """\
two.test.toml (Second)
  PASS  virtual now, env, nulls and generated results  [30s virtual]
  PASS  a mock slower than the timeout  [1m virtual]
2 passed, 0 failed in <t>s
"""


def test_the_virtual_loop_says_when_nothing_can_happen_any_more() -> None:
    """Nothing ready and no timer: ``on_idle`` is called once (the runner cancels the run);
    if that does not make anything happen either, the loop raises Hung."""
    import asyncio

    from twdsl.testing.clock import Hung

    loop = VirtualLoop()
    idle: list[float] = []

    async def stubborn() -> None:
        await asyncio.sleep(5)
        try:
            await loop.create_future()
        except asyncio.CancelledError:
            await loop.create_future()  # ignores the cancellation: waits for good

    task = loop.create_task(stubborn())
    loop.on_idle = lambda: (idle.append(loop.time()), task.cancel())
    with pytest.raises(Hung):
        loop.run_until_complete(task)
    assert idle == [5.0]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)
    loop.close()
