"""Programs ``twdsl check`` called clean but ``twdsl run`` refused, or ran otherwise than
docs/language.md says.  Each case was found by writing the program a user would and running
both commands as subprocesses; each is now either an error of ``twdsl check`` (and ``run``
refuses it with the same message before calling an agent) or runs as the reference says."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from cli_helpers import run


def _write(folder: Path, text: str) -> Path:
    path = folder / "main.twdsl"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def _errors(folder: Path, text: str) -> list[str]:
    """``twdsl check``'s error lines; ``twdsl run`` must refuse the file with the same ones."""
    _write(folder, text)
    check = run("check", "main.twdsl", cwd=folder)
    found = [line for line in check.stdout.splitlines() if "error[" in line]
    assert check.returncode == 1, check.stdout + check.stderr
    r = run("run", "main.twdsl", "--no-state", "--log-format", "text", cwd=folder)
    assert r.returncode == 2, r.stderr
    assert [line for line in r.stderr.splitlines() if "error[" in line] == found
    assert r.stderr.rstrip().endswith("; nothing was run")
    return found


def _outputs(folder: Path, text: str) -> dict[str, object]:
    """The outputs of a clean program, the same with -O0 and -O1."""
    _write(folder, text)
    check = run("check", "main.twdsl", cwd=folder)
    assert (check.returncode, check.stderr.strip()) == (0, "checked 1 file: no problems"), \
        check.stdout
    outs = []
    for level in ("0", "1"):
        r = run("run", "main.twdsl", "--no-state", "--log-format", "text", "-O", level,
                cwd=folder)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout))
    assert outs[0] == outs[1]
    return outs[0]  # type: ignore[no-any-return]


def _task(value: str) -> str:
    return f"""
    workflow W {{
      version: "1.0.0"
      output {{ o: any = e.result }}
      task first {{ agent: "echo" input: "abc" }}
      task e {{ agent: "echo" input: {{ v: {value} }} }}
    }}
    """


# ---------------------------------------------------------------- lambdas and calls

@pytest.mark.parametrize(("value", "message"), [
    ("() => 42", "main.twdsl:5:38: error[TW301] a lambda is not a value: pass it to a method "
                 "(filter, map, find, any, all, count, reduce)"),
    ("null ?? (x => 1)", "main.twdsl:5:46: error[TW301] a lambda is not a value: pass it to a "
                         "method (filter, map, find, any, all, count, reduce)"),
    ('"${() => 1}"', "main.twdsl:5:41: error[TW301] a lambda is not a value: pass it to a "
                     "method (filter, map, find, any, all, count, reduce)"),
    ("[1, 2].map(x => y => x)", "main.twdsl:5:54: error[TW301] a lambda is not a value: pass "
                                "it to a method (filter, map, find, any, all, count, reduce)"),
])
def test_a_lambda_is_only_an_argument_of_a_method(tmp_path: Path, value: str,
                                                   message: str) -> None:
    """Was clean, and the run failed the task: `a lambda has no JSON form` or `a lambda
    cannot be shown as text`."""
    assert _errors(tmp_path, _task(value)) == [message]


@pytest.mark.parametrize("value", ["(x => x + 1)(2)", '"abc"[0](1)', "[first.result][0]()"])
def test_only_builtin_functions_and_methods_are_called(tmp_path: Path, value: str) -> None:
    """Was clean, and ``twdsl run`` refused it with TW403 from the compiler."""
    found = _errors(tmp_path, _task(value))
    assert [line.split(" error")[1] for line in found] == [
        "[TW301] only builtin functions and methods can be called"]


def test_a_lambda_passed_to_a_method_of_any_still_runs(tmp_path: Path) -> None:
    assert _outputs(tmp_path, """
    workflow W {
      version: "1.0.0"
      output { o: any = e.result.map(x => x * 2).filter(x => x > 2) }
      task e { agent: "echo" input: [1, 2, 3] }
    }
    """) == {"o": [4, 6]}


# ---------------------------------------------------------------- task names and instances

@pytest.mark.parametrize(("value", "message"), [
    ("first", "main.twdsl:5:38: error[TW301] task 'first' is not a value: read one of its "
              "fields (first.result, first.status, …)"),
    ('"${first}"', "main.twdsl:5:41: error[TW301] task 'first' is not a value: read one of its "
                   "fields (first.result, first.status, …)"),
    ("first[0]", "main.twdsl:5:38: error[TW301] task 'first' is not a value: read one of its "
                 "fields (first.result, first.status, …)"),
    ("first.upper()", "main.twdsl:5:38: error[TW301] task 'first' is not a value: read one of "
                      "its fields (first.result, first.status, …)"),
    ("first.result()", "main.twdsl:5:38: error[TW301] task 'first' is not a value: read one "
                       "of its fields (first.result, first.status, …)"),
    ('first + "x"', "main.twdsl:5:38: error[TW301] task 'first' is not a value: read one of "
                    "its fields (first.result, first.status, …)"),
])
def test_a_bare_task_name_is_not_a_value(tmp_path: Path, value: str, message: str) -> None:
    """The checker took a bare task name for no value at all (``first + "x"`` was an error)
    while the compiler read it as ``first.result``: ``first.upper()`` checked clean and
    upper-cased the result, ``first.result()`` called a method 'result' on it."""
    assert _errors(tmp_path, _task(value)) == [message]


INSTANCE = """
template Inner(msg: string) {
  task say { agent: "echo" input: msg }
}
template Outer(label: string) {
  use Inner(msg: "${label}-in") as inner
  task after { agent: "echo" input: { label: label, inner: inner.say.result } }
}
workflow W {
  version: "1.0.0"
  output { o: any = READ }
  use Outer(label: "x") as one
}
"""


def test_the_tasks_of_an_instance_are_read_as_alias_task_field(tmp_path: Path) -> None:
    assert _outputs(tmp_path, INSTANCE.replace("READ", "[one.after.result, one.after.status]")) \
        == {"o": [{"label": "x", "inner": "x-in"}, "completed"]}


@pytest.mark.parametrize(("read", "message"), [
    ("one.nosuch.result", "main.twdsl:10:21: error[TW212] 'one.nosuch' in an expression: "
                          "template 'Outer' has no task 'nosuch'"),
    ("one.aftr.result", "main.twdsl:10:21: error[TW212] 'one.aftr' in an expression: template "
                        "'Outer' has no task 'aftr'; did you mean 'after'?"),
    ("one.inner.say.result", "main.twdsl:10:21: error[TW212] 'one.inner' in an expression: "
                             "template 'Outer' has no task 'inner'"),
    ("one.after.reslt", "main.twdsl:10:31: error[TW302] task 'one.after' has no field 'reslt' "
                        "(a task has result, status, error, attempts, duration, started_at, "
                        "finished_at); did you mean 'result'?"),
    ("one", "main.twdsl:10:21: error[TW301] template instance 'one' is not a value: read a "
            "field of one of its tasks (one.task.result, …)"),
    ("one.after", "main.twdsl:10:21: error[TW301] task 'one.after' is not a value: read one "
                  "of its fields (one.after.result, one.after.status, …)"),
])
def test_a_read_of_an_instance_names_one_of_its_tasks(tmp_path: Path, read: str,
                                                      message: str) -> None:
    """Each was clean, and the run failed when it computed the output: ``the name 'one' has
    no value here``."""
    assert _errors(tmp_path, INSTANCE.replace("READ", read)) == [message]


# ---------------------------------------------------------------- results of loops (Q5)

LOOPS = """
agent E {
  input { v: number }
  output { v: number }
}
workflow W {
  version: "1.0.0"
  output { o: TYPE = READ }
  BODY
}
"""
BINDING = 'E = { python = "agents:e" }'


def _loops(folder: Path, type_: str, read: str, body: str) -> str:
    (folder / "agents.py").write_text("def e(input, ctx):\n    return input\n")
    (folder / "twdsl.toml").write_text(f"[agents]\n{BINDING}\n")
    return LOOPS.replace("TYPE", type_).replace("READ", read).replace("BODY", body)


SKIPPED_BY = {
    "continue": 'foreach x in [1, 2, 3] {\n    if (x == 2) { continue }\n'
                '    task s { agent: E input: { v: x } }\n  }',
    "break": 'foreach x in [1, 2, 3] {\n    if (x == 2) { break }\n'
             '    task s { agent: E input: { v: x } }\n  }',
    "a nested break": 'while (true && (s.result.v ?? 0) < 5) {\n    max_iterations: 5\n'
                      '    sequence { if ((s.previous.v ?? 0) == 1) { break } }\n'
                      '    task s { agent: E input: { v: (s.previous.v ?? 0) + 1 } }\n  }',
}


@pytest.mark.parametrize("how", SKIPPED_BY)
def test_a_task_after_a_break_or_continue_has_optional_elements(tmp_path: Path,
                                                                how: str) -> None:
    """An iteration that ends at a `continue` or `break` before the task has no result for
    it: the element is null.  The checker typed the elements as always there, so an output
    `array<number>` checked clean and the run failed (`item [1] should be number, and is
    null`)."""
    body = SKIPPED_BY[how]
    found = _errors(tmp_path, _loops(tmp_path, "array<number>", "s.result.map(r => r.v)", body))
    assert [line.split(": ", 1)[1] for line in found] == [
        "error[TW301] output 'o' expects array<number>, and this is array<number?>"]
    want = {"continue": [1, None, 3], "break": [1, None], "a nested break": [1, None]}[how]
    assert _outputs(tmp_path, _loops(tmp_path, "array<number?>", "s.result.map(r => r.v)",
                                     body)) == {"o": want}


def test_a_branch_between_two_loops_makes_the_inner_arrays_optional(tmp_path: Path) -> None:
    """An iteration of the outer loop that skips the inner loop gives null, not an array of
    nulls: the checker said `array<array<E?>>` (so `array<array<E?>>` checked clean and the run
    failed: `item [1] should be array<{ v: number }?>, and is null`)."""
    body = ('foreach a in [[1], [2]] {\n    if (a[0] == 1) {\n'
            '      foreach b in a { task t { agent: E input: { v: b } } }\n    }\n  }')
    found = _errors(tmp_path, _loops(tmp_path, "array<array<{ v: number }?>>", "t.result", body))
    assert [line.split(": ", 1)[1] for line in found] == [
        "error[TW301] output 'o' expects array<array<{ v: number }?>>, and this is "
        "array<array<{ v: number }>?>"]
    assert _outputs(tmp_path, _loops(tmp_path, "array<array<{ v: number }>?>", "t.result",
                                     body)) == {"o": [[{"v": 1}], None]}


# ---------------------------------------------------------------- the run's inputs

INPUTS = """
type R = { a: number, b: string?, c: any }
workflow W {
  version: "1.0.0"
  input { r: R = { a: 1, c: 0 } }
  output { o: any = r }
}
"""


@pytest.mark.parametrize("how", ["--input", "--inputs-file"])
def test_a_record_input_may_leave_out_its_optional_fields(tmp_path: Path, how: str) -> None:
    """The default `{ a: 1, c: 0 }` checks (a record's optional field may be missing), and the
    same value given by the caller was refused: `input 'r.b': expected { a: number, b:
    string?, c: any }, got {"a": 2, "c": 0}`: the run's inputs were checked by a copy of the
    rule of types at run time (twdsl/lang/conform.py) that took every field for required."""
    assert _outputs(tmp_path, INPUTS) == {"o": {"a": 1, "c": 0}}
    (tmp_path / "inputs.json").write_text('{"r": {"a": 2, "c": null, "more": true}}')
    args = ["--input", 'r={"a": 2, "c": null, "more": true}'] if how == "--input" else \
        ["--inputs-file", "inputs.json"]
    r = run("run", "main.twdsl", "--no-state", "--log-format", "text", *args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"o": {"a": 2, "c": None, "more": True}}
    (tmp_path / "inputs.json").write_text('{"r": {"b": "x", "c": 1}}')
    r = run("run", "main.twdsl", "--no-state", "--log-format", "text", "--inputs-file",
            "inputs.json", cwd=tmp_path)
    assert r.returncode == 2
    assert "input 'r.a': expected { a: number, b: string?, c: any }, got {\"b\": \"x\", " \
           "\"c\": 1}" in r.stderr


@pytest.mark.parametrize(("value", "message"), [
    ("[1, 2].map(() => 42)", "'map' gives its lambda 1 argument, and this one takes none"),
    ("[1, 2].map((x, k) => k)", "'map' gives its lambda 1 argument, and this one takes 2"),
    ("[1, 2].reduce(acc => acc, 0)", "'reduce' gives its lambda 2 arguments, and this one "
                                     "takes 1"),
    ("[1, 2].filter((a, b, c) => true)", "'filter' gives its lambda 1 argument, and this one "
                                         "takes 3"),
])
def test_a_lambda_takes_the_arguments_its_method_gives(tmp_path: Path, value: str,
                                                       message: str) -> None:
    """Was clean, and the run failed the task: `the lambda () => … takes no arguments, and
    was given 1`."""
    found = _errors(tmp_path, _task(value))
    assert [line.split("error[TW301] ")[1] for line in found] == [message]


# ---------------------------------------------------------------- imports under a namespace

LIBRARY = """
export template Job(label: string = "job" where { min_length: 2 }) {
  task tell { agent: "echo" input: { label: label } }
}
"""


def test_a_template_used_through_a_namespace_runs(tmp_path: Path) -> None:
    """`use lib.Job(…)` after `import "./lib.twdsl" as lib` (docs/language.md, use) checked
    clean and the run refused it: `TW403 template 'lib.Job' cannot be expanded`."""
    (tmp_path / "lib.twdsl").write_text(LIBRARY.lstrip())
    assert _outputs(tmp_path, """
    import "./lib.twdsl" as lib

    workflow W {
      version: "1.0.0"
      output { o: any = j.tell.result }
      use lib.Job(label: "zz") as j
    }
    """) == {"o": {"label": "zz"}}


@pytest.mark.parametrize(("use", "message"), [
    ('lib.Jbo(label: "zz")', "main.twdsl:5:7: error[TW210] undefined template 'lib.Jbo'; did "
                             "you mean 'lib.Job'?"),
    ('lib.Job(label: "z")', "main.twdsl:5:22: error[TW232] argument 'label' = 'z' is shorter "
                            "than 2"),
    ('lib.Job(lable: "zz")', "main.twdsl:5:15: error[TW230] template 'lib.Job' has no parameter "
                             "'lable'; did you mean 'label'?"),
])
def test_a_template_used_through_a_namespace_is_checked(tmp_path: Path, use: str,
                                                        message: str) -> None:
    """Each was clean (names behind a namespace were not resolved), and the run refused the
    file or failed."""
    (tmp_path / "lib.twdsl").write_text(LIBRARY.lstrip())
    assert _errors(tmp_path, f"""
    import "./lib.twdsl" as lib

    workflow W {{
      version: "1.0.0"
      use {use} as j
    }}
    """) == [message]


# ---------------------------------------------------------------- agent signatures

def test_an_agent_input_left_out_gets_its_default(tmp_path: Path) -> None:
    """A task may leave out an input whose signature gives a default (docs/language.md, Agent
    signatures); the agent was then called without it, so the default meant nothing."""
    (tmp_path / "agents.py").write_text("def e(input, ctx):\n    return input\n")
    (tmp_path / "twdsl.toml").write_text('[agents]\nS = { python = "agents:e" }\n')
    assert _outputs(tmp_path, """
    agent S {
      input { text: string, words: number = 25 * 2, lang: string? }
      output { text: string, words: number }
    }
    workflow W {
      version: "1.0.0"
      input { n: number = 7 }
      output { o: any = [a.result, b.result, c.result] }
      task a { agent: S input: { text: "hi" } }
      task b { agent: S input: { text: "hi", words: n } }
      task c { agent: "S" input: { text: "x", lang: "en" } }
    }
    """) == {"o": [{"text": "hi", "words": 50}, {"text": "hi", "words": 7},
                   {"text": "x", "lang": "en", "words": 50}]}


# ---------------------------------------------------------------- defaults

@pytest.mark.parametrize(("inputs", "message"), [
    ("a: number = 1, b: number = a + 1",
     "main.twdsl:2:38: error[TW210] the default of input 'b' cannot read the input 'a': the "
     "defaults of a workflow's inputs are computed before the run starts, and read no name"),
    ('c: string = env.HOME ?? "x"',
     "main.twdsl:2:23: error[TW210] the default of input 'c' cannot read the builtin 'env': the "
     "defaults of a workflow's inputs are computed before the run starts, and read no name"),
    ("t: datetime = current_time",
     "main.twdsl:2:25: error[TW210] the default of input 't' cannot read the builtin "
     "'current_time': the defaults of a workflow's inputs are computed before the run starts, "
     "and read no name"),
])
def test_a_workflow_input_default_reads_no_name(tmp_path: Path, inputs: str,
                                                message: str) -> None:
    """Each was clean, and the run refused its inputs: `input 'b': its default cannot be
    computed: the name 'a' has no value here`."""
    assert _errors(tmp_path, f"""
    workflow W {{
      input {{ {inputs} }}
      output {{ o: any = [{", ".join(p.split(":")[0].strip() for p in inputs.split(","))}] }}
    }}
    """) == [message]


def test_a_parameter_default_reads_builtins_but_no_parameter(tmp_path: Path) -> None:
    """`b: number = a + 1` was clean, and the run failed: `the name 'a' has no value here`;
    builtins do have values where the template is used."""
    template = """
    template T(a: number = 1, b: number = DEFAULT) {
      task t { agent: "echo" input: [a, b] }
    }
    workflow W {
      version: "1.0.0"
      output { o: any = x.t.result }
      use T() as x
    }
    """
    assert _errors(tmp_path, template.replace("DEFAULT", "a + 1")) == [
        "main.twdsl:1:39: error[TW210] the default of parameter 'b' cannot read the template "
        "parameter 'a': the defaults of a template's parameters are computed where it is "
        "used, before its parameters have values, and read builtins only"]
    assert _outputs(tmp_path, template.replace("DEFAULT", "len(workflow_id) * 0 + 2")) == \
        {"o": [1, 2]}


# ---------------------------------------------------------------- the workflow's handlers

@pytest.mark.parametrize(("reader", "message"), [
    ("output { r: any = done.result }",
     "main.twdsl:4:21: error[TW210] task 'done' runs in the workflow's on_success or on_error, "
     "after its body and outputs: only that handler can read it"),
    ('task c { agent: "echo" input: done.status }',
     "main.twdsl:4:33: error[TW210] task 'done' runs in the workflow's on_success or on_error, "
     "after its body and outputs: only that handler can read it"),
])
def test_the_tasks_of_the_workflows_handlers_are_read_in_them_only(tmp_path: Path, reader: str,
                                                                   message: str) -> None:
    """Both were clean, and the run failed: `the name 'done' has no value here`."""
    assert _errors(tmp_path, f"""
    workflow W {{
      version: "1.0.0"
      task b {{ agent: "echo" input: 1 }}
      {reader}
      on_success: {{
        task done {{ agent: "echo" input: b.result }}
        task after {{ agent: "log" input: {{ message: "${{done.result}}" }} }}
      }}
    }}
    """) == [message]


# ---------------------------------------------------------------- priority

def test_a_blocks_limit_starts_the_highest_priority_first(tmp_path: Path) -> None:
    """`priority`: when work queues up, higher runs first (docs/language.md, Tasks).  The
    run's limit did so; a block's `max_concurrency` started its children in written order."""
    _write(tmp_path, """
    workflow W {
      version: "1.0.0"
      parallel {
        max_concurrency: 1
        task a { agent: "echo" input: 1 priority: 1 }
        task b { agent: "echo" input: 1 priority: 3 }
        task c { agent: "echo" input: 1 priority: 5 }
        task d { agent: "echo" input: 1 }
        task e { agent: "echo" input: 1 priority: 3 }
      }
    }
    """)
    for level in ("0", "1"):
        r = run("run", "main.twdsl", "--no-state", "--log-format", "json", "-O", level,
                cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        events = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
        assert [e["task"] for e in events if e["type"] == "task.started"] == \
            ["c", "b", "e", "a", "d"]


def test_a_parameter_that_may_be_left_out_has_a_value_or_an_optional_type(tmp_path: Path) -> None:
    """`required: false` on a `string` with no default: left out, it is null inside the
    template, which typed it `string`: clean, and the run failed (`'+' cannot combine null and
    number`)."""
    template = """
    template T(name: TYPE where { required: false }) {
      task t { agent: "echo" input: (name ?? "abc").length + 1 }
    }
    workflow W {
      version: "1.0.0"
      output { o: any = x.t.result }
      use T() as x
    }
    """
    assert _errors(tmp_path, template.replace("TYPE", "string")) == [
        "main.twdsl:1:12: error[TW301] parameter 'name' may be left out (required: false) and "
        "has no default: it is then null, which string does not hold; give it a default or "
        "the type string?"]
    assert _outputs(tmp_path, template.replace("TYPE", "string?")) == {"o": 4}


@pytest.mark.parametrize(("uses", "message"), [
    ("use T(n: 1) as x\n  use T(n: 2) as x",
     "main.twdsl:9:16: error[TW202] template instance 'x' is declared twice in workflow 'W'"),
    ("use T(n: 1) as b",
     "main.twdsl:8:18: error[TW202] template instance 'b' has the name of the task 'b' in "
     "workflow 'W'; rename one of them"),
    ("use T(n: 1) as inp",
     "main.twdsl:8:18: error[TW202] template instance 'inp' has the name of the input 'inp' "
     "in workflow 'W'; rename one of them"),
])
def test_an_instance_alias_names_one_thing(tmp_path: Path, uses: str, message: str) -> None:
    """Two instances named `x` were clean, and `twdsl run` stopped with an internal compiler
    error (`'x.t' is a child of both 'block#2' and 'block#3'`)."""
    assert _errors(tmp_path, f"""
    template T(n: number = 1) {{
      task t {{ agent: "echo" input: n }}
    }}
    workflow W {{
      version: "1.0.0"
      input {{ inp: number = 1 }}
      task b {{ agent: "echo" input: inp }}
      {uses}
    }}
    """) == [message]


@pytest.mark.parametrize(("templates", "message"), [
    ("template A() {\n  use B() as b\n}\ntemplate B() {\n  use A() as a\n}",
     "main.twdsl:2:7: error[TW233] template 'A' uses itself (A -> B -> A): an instance would "
     "hold another one without end"),
    ("template A() {\n  if (true) { use A() as again }\n}",
     "main.twdsl:2:19: error[TW233] template 'A' uses itself (A -> A): an instance would hold "
     "another one without end"),
    ("template P() {\n  use A() as child\n}\ntemplate A() extends P {\n  task t { agent: \"echo\" }\n}",
     "main.twdsl:2:7: error[TW233] template 'A' uses itself (A -> A): an instance would hold "
     "another one without end"),
])
def test_a_template_does_not_use_itself(tmp_path: Path, templates: str, message: str) -> None:
    """Clean, and `twdsl run` stopped with an internal error (RecursionError)."""
    text = templates + '\nworkflow W {\n  version: "1.0.0"\n  use A() as x\n}\n'
    (tmp_path / "main.twdsl").write_text(text)
    check = run("check", "main.twdsl", cwd=tmp_path)
    assert [line for line in check.stdout.splitlines() if "error[" in line] == [message]
    r = run("run", "main.twdsl", "--no-state", cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr


@pytest.mark.parametrize("entry", ['"e0"', "1", "[e0][0]"])
def test_depends_holds_task_names_only(tmp_path: Path, entry: str) -> None:
    """`depends: ["e0"]` was clean and added no dependency at all: the task could start
    before e0."""
    found = _errors(tmp_path, f"""
    workflow W {{
      version: "1.0.0"
      task e0 {{ agent: "echo" input: 0 }}
      task z {{ agent: "echo" input: 1 depends: [{entry}] }}
    }}
    """)
    assert [line.split(": ", 1)[1] for line in found] == [
        "error[TW212] depends lists tasks by name (a task, or alias.task of a template "
        "instance); this is not one"]


@pytest.mark.parametrize("fallback", ['"alt"', "alt.result"])
def test_a_fallback_is_a_task_name_or_a_block(tmp_path: Path, fallback: str) -> None:
    """`fallback: "alt"` was clean, and when the task failed the run failed as if there were
    no fallback."""
    found = _errors(tmp_path, f"""
    workflow W {{
      version: "1.0.0"
      task alt {{ agent: "echo" input: 1 }}
      task f {{ agent: "fail" on_error: {{ fallback: {fallback} }} }}
    }}
    """)
    assert [line.split(": ", 1)[1] for line in found] == [
        "error[TW212] a fallback is a task's name or a block of statements "
        "(fallback { task … }); this is neither"]


def test_a_url_and_a_file_have_the_member_length(tmp_path: Path) -> None:
    """They have the string methods, `length()` included, and are strings at run time; the
    member `.length` was TW302 (`url has no field 'length'`) though the run reads it."""
    assert _outputs(tmp_path, """
    workflow W {
      version: "1.0.0"
      input { u: url = "https://a.b/c", f: file = "x/y.txt" }
      output { o: array<number> = [u.length, f.length, u.length()] }
    }
    """) == {"o": [13, 7, 13]}
