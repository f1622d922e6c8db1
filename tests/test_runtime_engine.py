"""The executor on real time and real concurrency: compiled workflows, Python agents that
record their calls with timestamps, short limits.  Each error path asserts the recorded
states and the calls made."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from twdsl.compiler import compile_source
from twdsl.ir import expr as X
from twdsl.runtime.agents import AgentCall
from twdsl.runtime.engine import Engine, RunOptions
from twdsl.runtime.errors import ErrorKind, TaskError
from twdsl.runtime.events import Collect
from twdsl.runtime.inputs import InputError, parse_cli, validate_inputs
from twdsl.runtime.states import RunStatus, TaskStatus


class Recorder:
    """Agents by name; every call is kept as (agent, task, attempt, input, start, end)."""

    def __init__(self, **behaviours: Any) -> None:
        self.behaviours = behaviours
        self.calls: list[dict[str, Any]] = []
        self.active = 0
        self.peak = 0

    def get(self, name: str) -> Any:
        behaviour = self.behaviours.get(name)

        async def agent(call: AgentCall) -> Any:
            rec = {"agent": name, "task": call.task, "key": call.context["key"],
                   "attempt": call.attempt, "input": call.input, "start": time.monotonic(),
                   "end": None, "cancelled": False}
            self.calls.append(rec)
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                if behaviour is None:
                    return call.input
                out = behaviour(call)
                if asyncio.iscoroutine(out):
                    out = await out
                return out
            except asyncio.CancelledError:
                rec["cancelled"] = True
                raise
            finally:
                self.active -= 1
                rec["end"] = time.monotonic()

        return agent

    def tasks(self) -> list[str]:
        return [c["key"] for c in self.calls]


def compile_ok(src: str) -> Any:
    c = compile_source(src, "w.twdsl")
    assert c.program is not None, [(d.code, d.message) for d in c.diagnostics]
    return c.program


def run(src: str, agents: Recorder, inputs: dict[str, Any] | None = None,
        **options: Any) -> tuple[Any, Collect]:
    program = compile_ok(src)
    events = Collect()
    engine = Engine(program, agents, events, RunOptions(seed=1, **options))
    values = validate_inputs(program, inputs or {})
    return asyncio.run(engine.run(values)), events


def sleeper(seconds: float, result: Any = None) -> Any:
    async def go(call: AgentCall) -> Any:
        await asyncio.sleep(seconds)
        return result if result is not None else call.input
    return go


def failing(kind: ErrorKind, message: str = "boom", times: int | None = None) -> Any:
    def go(call: AgentCall) -> Any:
        if times is None or call.attempt <= times:
            raise TaskError(kind, message)
        return {"ok": call.attempt}
    return go


def test_sequence_runs_in_written_order_and_outputs_read_results() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      input { name: string }
      output { greeting: string = b.result.text }
      task a { agent: "Upper" input: { text: name } }
      task b { agent: "Echo" input: { text: "hello ${a.result.text}" } }
    }'''
    agents = Recorder(Upper=lambda c: {"text": c.input["text"].upper()})
    result, events = run(src, agents, {"name": "ada"})
    assert result.status is RunStatus.COMPLETED
    assert result.outputs == {"greeting": "hello ADA"}
    assert agents.tasks() == ["a", "b"]
    assert agents.calls[0]["end"] <= agents.calls[1]["start"]
    assert [e.type for e in events.events] == [
        "workflow.started", "task.started", "task.completed", "task.started",
        "task.completed", "workflow.completed"]


def test_parallel_children_overlap_and_data_orders_the_join() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      parallel {
        task a { agent: "Slow" }
        task b { agent: "Slow" }
        task join { agent: "Echo" input: { x: a.result, y: b.result } }
      }
    }'''
    agents = Recorder(Slow=sleeper(0.2, {"v": 1}))
    result, _ = run(src, agents)
    assert result.status is RunStatus.COMPLETED
    a, b, join = (next(c for c in agents.calls if c["task"] == t) for t in ("a", "b", "join"))
    assert b["start"] < a["end"] and a["start"] < b["end"]  # they overlapped
    assert join["start"] >= max(a["end"], b["end"])
    assert join["input"] == {"x": {"v": 1}, "y": {"v": 1}}


def test_block_max_concurrency_bounds_the_overlap() -> None:
    tasks = "\n".join(f'task t{i} {{ agent: "Slow" }}' for i in range(6))
    src = f'workflow W {{ version: "1.0.0" parallel {{ max_concurrency: 2\n{tasks} }} }}'
    agents = Recorder(Slow=sleeper(0.05))
    result, _ = run(src, agents)
    assert result.status is RunStatus.COMPLETED
    assert agents.peak == 2
    assert len(agents.calls) == 6


def test_the_run_limit_bounds_a_parallel_foreach() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      input { items: array<number> }
      output { doubled: array<number> = t.result.map(r => r.v) }
      foreach x in items {
        parallel: true
        task t { agent: "Double" input: { x: x } }
      }
    }'''

    async def double(call: AgentCall) -> Any:
        await asyncio.sleep(0.01 * (5 - call.input["x"] % 5))  # finish out of order
        return {"v": call.input["x"] * 2}

    agents = Recorder(Double=double)
    result, _ = run(src, agents, {"items": list(range(10))}, max_concurrency=3)
    assert result.outputs == {"doubled": [x * 2 for x in range(10)]}  # iteration order
    assert agents.peak == 3


def test_timeout_stops_the_attempt_and_retry_waits_the_backoff() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      task slow {
        agent: "Slow"
        timeout: 100ms
        retry: { attempts: 2, delay: 100ms, backoff: 2, jitter: false }
      }
    }'''
    agents = Recorder(Slow=sleeper(5))
    result, events = run(src, agents)
    assert result.status is RunStatus.FAILED
    assert result.error["kind"] == "timeout"
    assert result.error["task"] == "slow"
    assert result.error["source"] == "w.twdsl:4:7"
    assert [c["attempt"] for c in agents.calls] == [1, 2, 3]
    assert all(c["cancelled"] for c in agents.calls)
    durations = [c["end"] - c["start"] for c in agents.calls]
    assert all(0.09 <= d < 1.0 for d in durations), durations
    gaps = [agents.calls[i + 1]["start"] - agents.calls[i]["end"] for i in range(2)]
    assert gaps[0] >= 0.099 and gaps[1] >= 0.199, gaps  # 100ms, then 200ms
    delays = [e.data["delay"] for e in events.events if e.type == "task.retried"]
    assert delays == [0.1, 0.2]
    rec = result.tasks["slow"]
    assert (rec.status, rec.attempts) == (TaskStatus.TIMEOUT, 3)


def test_retry_only_retries_the_listed_kinds() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      task a { agent: "Bad" retry: { attempts: 3, delay: 1ms, on: [transient] } }
    }'''
    agents = Recorder(Bad=failing(ErrorKind.AGENT))
    result, _ = run(src, agents)
    assert result.status is RunStatus.FAILED
    assert len(agents.calls) == 1
    assert result.error == {"kind": "agent", "message": "boom", "task": "a",
                            "source": "w.twdsl:4:7"}


def test_retry_succeeds_after_transient_failures() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      output { r: any = a.result }
      task a { agent: "Flaky" retry: { attempts: 3, delay: 1ms } }
    }'''
    agents = Recorder(Flaky=failing(ErrorKind.TRANSIENT, times=2))
    result, events = run(src, agents)
    assert result.status is RunStatus.COMPLETED
    assert result.outputs == {"r": {"ok": 3}}
    assert [e.type for e in events.events if e.key == "a"] == [
        "task.started", "task.retried", "task.started", "task.retried", "task.started",
        "task.completed"]


def test_on_error_skip_and_continue_let_the_run_go_on() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      output { x: any = a.result ?? "none", y: string = b.status, e: any = b.error.kind }
      task a { agent: "Bad" on_error: skip }
      task b { agent: "Bad" on_error: continue }
      task c { agent: "Echo" }
    }'''
    agents = Recorder(Bad=failing(ErrorKind.AGENT))
    result, _ = run(src, agents)
    assert result.status is RunStatus.COMPLETED
    assert result.outputs == {"x": "none", "y": "failed", "e": "agent"}
    assert agents.tasks() == ["a", "b", "c"]
    assert result.tasks["a"].status is TaskStatus.SKIPPED
    assert result.tasks["b"].status is TaskStatus.FAILED


def test_fallback_runs_and_compensation_runs_last_written_first() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      task deploy {
        agent: "Bad"
        on_error {
          fallback: {
            task smoke { agent: "Echo" input: { why: error.message } }
          }
          compensate: {
            task undoFirst { agent: "Echo" }
            task undoSecond { agent: "Echo" }
          }
          then: continue
        }
      }
      task after { agent: "Echo" }
    }'''
    agents = Recorder(Bad=failing(ErrorKind.AGENT, "deploy broke"))
    result, _ = run(src, agents)
    assert result.status is RunStatus.COMPLETED
    assert agents.tasks() == ["deploy", "smoke", "undoSecond", "undoFirst", "after"]
    assert agents.calls[1]["input"] == {"why": "deploy broke"}
    assert result.tasks["deploy"].status is TaskStatus.FAILED


def test_a_handler_whose_kinds_do_not_match_fails_the_run() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      task a {
        agent: "Bad"
        on_error { when: [timeout] then: continue }
      }
      task b { agent: "Echo" }
    }'''
    agents = Recorder(Bad=failing(ErrorKind.AGENT))
    result, _ = run(src, agents)
    assert result.status is RunStatus.FAILED
    assert agents.tasks() == ["a"]


def test_fail_fast_cancels_the_siblings() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      parallel {
        task slow { agent: "Slow" }
        task bad { agent: "Bad" }
      }
      task never { agent: "Echo" }
    }'''

    async def bad(call: AgentCall) -> Any:
        await asyncio.sleep(0.05)
        raise TaskError(ErrorKind.AGENT, "no")

    agents = Recorder(Slow=sleeper(5), Bad=bad)
    result, _ = run(src, agents)
    assert result.status is RunStatus.FAILED
    # the sibling was cancelled, not waited for (the run ends without its 5 s)
    assert [(c["key"], c.get("cancelled", False)) for c in agents.calls] == [
        ("slow", True), ("bad", False)]
    assert {c["task"]: c["cancelled"] for c in agents.calls} == {"slow": True, "bad": False}
    assert result.tasks["slow"].status is TaskStatus.CANCELLED
    assert "never" not in agents.tasks()


def test_without_fail_fast_every_child_finishes_then_the_block_fails() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      parallel {
        fail_fast: false
        task slow { agent: "Slow" }
        task bad { agent: "Bad" }
      }
    }'''
    agents = Recorder(Slow=sleeper(0.1, {"done": True}), Bad=failing(ErrorKind.AGENT))
    result, _ = run(src, agents)
    assert result.status is RunStatus.FAILED
    assert result.tasks["slow"].status is TaskStatus.COMPLETED
    assert result.tasks["slow"].result == {"done": True}


def test_branches_loops_and_switch() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      input { n: number, env_name: string }
      output {
        seen: array<any> = visit.result
        polls: number = len(poll.result)
        which: string = (prod.result.where ?? "") + (other.result.where ?? "")
      }
      foreach i in range(n) {
        if (i % 2 == 0) {
          task visit { agent: "Echo" input: { i: i } }
        }
      }
      while (!(poll.result.done ?? false)) {
        max_iterations: 10
        task poll { agent: "Poll" }
      }
      switch (env_name) {
        case "prod", "production":
          task prod { agent: "Echo" input: { where: "p" } }
        default:
          task other { agent: "Echo" input: { where: "o" } }
      }
    }'''
    agents = Recorder(Poll=lambda c: {"done": len([x for x in agents.calls
                                                   if x["agent"] == "Poll"]) >= 3})
    result, _ = run(src, agents, {"n": 4, "env_name": "production"})
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.outputs == {"seen": [{"i": 0}, None, {"i": 2}, None], "polls": 3,
                              "which": "p"}
    assert agents.tasks() == ["visit[0]", "visit[2]", "poll[0]", "poll[1]", "poll[2]", "prod"]


def test_break_and_continue_in_a_sequential_foreach() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      input { pages: array<string> }
      foreach page in pages {
        if (page == "") { continue }
        if (page == "STOP") { break }
        task fetch { agent: "Echo" input: { page: page } }
      }
    }'''
    agents = Recorder()
    result, _ = run(src, agents, {"pages": ["a", "", "b", "STOP", "c"]})
    assert result.status is RunStatus.COMPLETED
    assert [c["input"]["page"] for c in agents.calls] == ["a", "b"]


def test_while_past_max_iterations_is_an_error() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      while (true || poll.result == null) {
        max_iterations: 3
        task poll { agent: "Echo" }
      }
    }'''
    agents = Recorder()
    result, _ = run(src, agents)
    assert result.status is RunStatus.FAILED
    assert result.error["message"] == ("the while loop reached max_iterations (3) with its "
                                       "condition still true")
    assert len(agents.calls) == 3


def test_workflow_timeout_cancels_work_and_records_timeout() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      timeout: 150ms
      task slow { agent: "Slow" }
    }'''
    agents = Recorder(Slow=sleeper(5))
    result, _ = run(src, agents)
    assert result.status is RunStatus.TIMEOUT
    assert agents.calls[0]["cancelled"]
    assert result.tasks["slow"].status is TaskStatus.CANCELLED


def test_when_false_skips_and_result_is_null() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      input { go: boolean }
      output { r: string = a.status }
      task a { agent: "Echo" when: go }
    }'''
    agents = Recorder()
    result, _ = run(src, agents, {"go": False})
    assert result.outputs == {"r": "skipped"}
    assert agents.calls == []


def test_cancelling_the_run_cancels_in_flight_agents() -> None:
    program = compile_ok('workflow W { version: "1.0.0" task slow { agent: "Slow" } }')
    agents = Recorder(Slow=sleeper(5))
    events = Collect()
    engine = Engine(program, agents, events, RunOptions())

    async def main() -> None:
        task = asyncio.ensure_future(engine.run({}))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert engine.final is not None and engine.final.status is RunStatus.CANCELLED
    assert agents.calls[0]["cancelled"]
    assert [e.type for e in events.events][-2:] == ["task.cancelled", "workflow.cancelled"]


def test_priority_orders_queued_work() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      max_concurrency: 1
      parallel {
        task first { agent: "Slow" }
        task low { agent: "Echo" priority: 1 }
        task high { agent: "Echo" priority: 9 }
      }
    }'''
    agents = Recorder(Slow=sleeper(0.05))
    result, _ = run(src, agents)
    assert agents.tasks() == ["first", "high", "low"]


def test_inputs_are_parsed_by_type_and_validated_with_named_errors() -> None:
    program = compile_ok('''
    workflow W {
      version: "1.0.0"
      input {
        n: number
        flag: boolean = false
        names: array<string>
        wait: duration = 5s
        label: string?
      }
    }''')
    given = parse_cli(program, ["n=3", "names=[\"a\",\"b\"]", "wait=2m"])
    assert given == {"n": 3, "names": ["a", "b"], "wait": 120.0}
    values = validate_inputs(program, given)
    assert values["n"] == 3 and values["flag"] is False and values["label"] is None
    assert values["wait"].seconds == 120.0
    with pytest.raises(InputError) as e:
        validate_inputs(program, {"n": "three", "names": ["a", 2], "extra": 1})
    assert e.value.problems == [
        "the workflow has no input 'extra' (its inputs: n, flag, names, wait, label)",
        "input 'n': expected a number, got \"three\"",
        "input 'names[1]': expected array<string>, got [\"a\", 2]",
    ]
    with pytest.raises(InputError) as e:
        parse_cli(program, ["n=x", "nope=1", "flag=yes"])
    assert e.value.problems == [
        "input 'n': expected a number, got 'x'",
        "--input nope: the workflow has no input 'nope' (its inputs: n, flag, names, wait, "
        "label)",
        "input 'flag': expected true or false, got 'yes'",
    ]


def test_cache_hits_and_expiry_with_a_real_store_and_a_controlled_clock(tmp_path: Any) -> None:
    from twdsl.runtime.store import SQLiteStore

    program = compile_ok('''
    workflow W {
      version: "1.0.0"
      input { q: string }
      output { r: any = search.result }
      task search { agent: "Search" input: { q: q } cache: 1h }
    }''')
    agents = Recorder(Search=lambda c: {"hits": len(c.input["q"])})
    now = [1000.0]
    with SQLiteStore(tmp_path / "state.db") as store:
        def go(q: str) -> tuple[Any, list[str]]:
            events = Collect()
            engine = Engine(program, agents, events,
                            RunOptions(cache=store, clock=lambda: now[0]))
            result = asyncio.run(engine.run(validate_inputs(program, {"q": q})))
            return result.outputs, [e.type for e in events.events if e.key == "search"]

        assert go("abc") == ({"r": {"hits": 3}}, ["task.started", "task.completed"])
        now[0] += 3599
        assert go("abc") == ({"r": {"hits": 3}}, ["task.cached"])  # a hit: no call
        assert go("abcd") == ({"r": {"hits": 4}}, ["task.started", "task.completed"])
        now[0] += 2  # the first entry is now 3601 s old: expired
        assert go("abc") == ({"r": {"hits": 3}}, ["task.started", "task.completed"])
    assert [c["input"]["q"] for c in agents.calls] == ["abc", "abcd", "abc"]


def test_builtin_names_have_their_values() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      foreach i in [1, 2] {
        task t {
          agent: "Echo"
          input: { run: workflow_id, task: task_id, retry: retry_count, year: current_time }
        }
      }
    }'''
    agents = Recorder()
    result, _ = run(src, agents, run_id="run-1")
    assert result.status is RunStatus.COMPLETED
    inputs = [c["input"] for c in agents.calls]
    assert [(x["run"], x["task"], x["retry"]) for x in inputs] == [
        ("run-1", "t[0]", 0), ("run-1", "t[1]", 0)]
    assert inputs[0]["year"].endswith("Z") and inputs[0]["year"][:2] == "20"


def test_an_input_that_is_not_data_fails_the_task_as_validation() -> None:
    """A lambda as a value is TW301 at twdsl check; a program written by other means (a
    compiled .json edited by hand) may still hold one, and the engine refuses it."""
    program = compile_ok('''
    workflow W {
      version: "1.0.0"
      task t { agent: "Echo" input: { f: 42 } }
    }''')
    program.nodes["t"].input = X.Object(entries=[("f", X.Lambda(params=[], body=X.Lit(v=42)))])
    agents = Recorder()
    result = asyncio.run(Engine(program, agents, Collect(), RunOptions(seed=1)).run({}))
    assert result.status is RunStatus.FAILED
    assert result.error["kind"] == "validation"
    assert result.error["message"].startswith("input: ")
    assert agents.calls == []


def test_without_fail_fast_children_not_yet_started_still_run() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      parallel {
        fail_fast: false
        max_concurrency: 1
        task bad { agent: "Bad" }
        task after { agent: "Echo" input: { x: bad.result } }
        task one { agent: "Echo" }
        task two { agent: "Echo" }
      }
    }'''
    agents = Recorder(Bad=failing(ErrorKind.AGENT))
    result, _ = run(src, agents)
    assert result.status is RunStatus.FAILED
    assert agents.tasks() == ["bad", "one", "two"]  # `after` waits for a task that failed
    assert "after" not in result.tasks


def test_a_parallel_foreach_over_nothing_runs_nothing() -> None:
    src = '''
    workflow W {
      version: "1.0.0"
      input { items: array<number> }
      output { n: number = len(t.result) }
      foreach x in items {
        parallel: true
        task t { agent: "Echo" input: { x: x } }
      }
      task after { agent: "Echo" }
    }'''
    agents = Recorder()
    result, _ = run(src, agents, {"items": []})
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.outputs == {"n": 0}
    assert agents.tasks() == ["after"]
