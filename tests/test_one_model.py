"""What ``twdsl check`` accepts, ``twdsl run`` runs as docs/language.md says: one semantic model
and one definition of each rule.  Each case was a disagreement between the two (a program
checked clean and was refused, or ran otherwise than the reference says); each runs here as a
user runs it, the CLI as a subprocess on real files."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from cli_helpers import run

import twdsl
from twdsl import ide
from twdsl.lang import retry as R

ROOT = Path(__file__).resolve().parent.parent


def write(folder: Path, **files: str) -> None:
    for name, text in files.items():
        (folder / name.replace("__", ".")).write_text(textwrap.dedent(text).lstrip())


def outputs(folder: Path, *args: str) -> dict[str, object]:
    r = run("run", *args, "--no-state", "--log-format", "json", cwd=folder)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def _platform() -> str:
    """The Platform example of docs/language.md (Templates), as written there."""
    text = (ROOT / "docs" / "language.md").read_text()
    block = next(b for b in re.findall(r"```twdsl\n(.*?)```", text, re.S)
                 if "workflow Platform" in b)
    return block


PLATFORM_AGENTS = """
def build(input, ctx):
    return {"image": "img-" + input["name"]}

def deploy(input, ctx):
    return {"address": "https://" + input["image"] + ".example"}

def logs(input, ctx):
    return {"shipped": True}
"""


def test_the_reference_platform_example_checks_and_runs(tmp_path: Path) -> None:
    """An abstract task a child template defines, read by a task of the parent: once a false
    TW402 at run time, because the child's definition was put after the parent's tasks."""
    write(tmp_path, platform__twdsl=_platform(), agents__py=PLATFORM_AGENTS,
          twdsl__toml='[agents]\nBuilder = { python = "agents:build" }\n'
                      'Deployer = { python = "agents:deploy" }\n'
                      'LogShipper = { python = "agents:logs" }\n')
    r = run("check", "platform.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stderr.strip()) == (0, "checked 1 file: no problems")
    plan = run("run", "platform.twdsl", "--dry-run", cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    tasks = re.findall(r"task (\S+) → agent (\w+)", plan.stdout)
    assert tasks == [("api.build", "Builder"), ("api.deploy", "Deployer"),
                     ("api.logs", "LogShipper"), ("web.build", "Builder"),
                     ("web.deploy", "Deployer"), ("web.logs", "LogShipper")]
    r = run("run", "platform.twdsl", "--no-state", "--log-format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    done = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
    completed = [e["task"] for e in done if e["type"] == "task.completed"]
    assert completed == ["api.build", "api.deploy", "api.logs", "web.build", "web.deploy",
                         "web.logs"]


LIB = """
export agent Builder {
  input { name: string }
  output { image: string }
}

template Base(name: string) {
  task build {
    agent: Builder
    input: { name: name }
  }
}

export template Child(name: string, replicas: number = 1 where { min: 1 }) extends Base {
  task ship {
    agent: "echo"
    input: { image: build.result.image, replicas: replicas }
  }
}
"""


def test_an_imported_template_keeps_what_it_inherits_in_its_own_file(tmp_path: Path) -> None:
    """``Child`` extends ``Base``, which the importing file does not even see: the inherited
    task runs, its source is the library's, and its agent is the library's signature."""
    write(tmp_path, lib__twdsl=LIB, agents__py=PLATFORM_AGENTS,
          twdsl__toml='[agents]\nBuilder = { python = "agents:build" }\n',
          main__twdsl='''
          import { Child } from "./lib.twdsl"

          workflow W {
            version: "1.0.0"
            output { image: string? = api.ship.result.image }
            use Child(name: "api") as api
          }
          ''')
    assert run("check", ".", cwd=tmp_path).returncode == 0
    plan = run("run", "main.twdsl", "--dry-run", cwd=tmp_path).stdout
    assert "task api.build → agent Builder  (lib.twdsl:7:3)" in plan
    assert "task api.ship → agent echo  after api.build  (lib.twdsl:14:3)" in plan
    program = json.loads(run("compile", "main.twdsl", cwd=tmp_path).stdout)
    assert program["agents"]["Builder"]["output"]["fields"]["image"]["kind"] == "string"
    assert outputs(tmp_path, "main.twdsl") == {"image": "img-api"}


def test_an_imported_templates_parameter_types_and_constraints_are_checked(
        tmp_path: Path) -> None:
    write(tmp_path, lib__twdsl=LIB, main__twdsl='''
          import { Child } from "./lib.twdsl"

          workflow W {
            version: "1.0.0"
            use Child(name: 5, replicas: 0) as api
          }
          ''')
    r = run("check", "main.twdsl", "--format", "json", cwd=tmp_path)
    found = [(d["code"], d["message"]) for d in json.loads(r.stdout)]
    assert found == [
        ("TW301", "argument 'name' of template 'Child' expects string, and this is number"),
        ("TW232", "argument 'replicas' = 0 is below the minimum 1")]


def test_switch_compares_with_the_languages_equality(tmp_path: Path) -> None:
    write(tmp_path, w__twdsl='''
          workflow W {
            version: "1.0.0"
            input { xs: array<any> = [true] }
            output { same: boolean = xs == [1]  picked: string? = pick.result.message }
            switch (xs) {
              case [1]:
                task one { agent: "echo" input: { message: "one" } }
              case [true]:
                task pick { agent: "echo" input: { message: "true" } }
            }
          }
          ''')
    assert run("check", "w.twdsl", cwd=tmp_path).returncode == 0
    assert outputs(tmp_path, "w.twdsl") == {"same": False, "picked": "true"}
    assert outputs(tmp_path, "w.twdsl", "-O0") == {"same": False, "picked": "true"}


def test_a_huge_retry_count_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    src = ('workflow W {\n  version: "1.0.0"\n  timeout: 1h\n'
           '  task a { agent: "echo" timeout: 1s retry: 2000 }\n}\n')
    write(tmp_path, w__twdsl=src)
    r = run("check", "w.twdsl", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (d,) = json.loads(r.stdout)
    assert d["code"] == "TW506"
    assert d["message"] == ("task 'a' may need 33.8067h (every attempt timing out, with the "
                            "waits between retries) but workflow 'W' allows 1h")
    snap = ide.snapshot(src, "w.twdsl")
    (hint,) = ide.inlay_hints(snap)
    assert hint.label == " ≤ 33h 48m worst case"
    assert R.wait(2000) == 60.0 and R.wait(1024, backoff=10.0) == 60.0


CHECKER = """
agent Checker {
  output { ok: boolean }
}
"""


def test_an_agents_result_is_checked_against_its_signature(tmp_path: Path) -> None:
    write(tmp_path, agents__py='def check(input, ctx):\n    return {"ok": "yes"}\n',
          twdsl__toml='[agents]\nChecker = { python = "agents:check" }\n',
          w__twdsl=CHECKER + textwrap.dedent('''
          workflow W {
            version: "1.0.0"
            output { ok: boolean? = c.result.ok }
            task c { agent: Checker }
          }
          '''))
    assert run("check", "w.twdsl", cwd=tmp_path).returncode == 0
    r = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert r.returncode == 1
    assert re.fullmatch(
        r"twdsl: run \S+ failed: task 'c' \(w\.twdsl:8:3\): validation: agent 'Checker' "
        r"returned a result that does not fit its signature \(output \{ ok: boolean \}\): "
        r"field 'ok' should be boolean, and is a string", r.stderr.splitlines()[-1])


def test_a_result_that_does_not_fit_is_a_validation_error_on_error_handles(
        tmp_path: Path) -> None:
    write(tmp_path, agents__py='def check(input, ctx):\n    return {"ok": "yes"}\n',
          twdsl__toml='[agents]\nChecker = { python = "agents:check" }\n',
          w__twdsl=CHECKER + textwrap.dedent('''
          workflow W {
            version: "1.0.0"
            output { kind: string? = c.error.kind  ok: boolean? = c.result.ok }
            task c { agent: Checker  on_error: { when: [validation] then: continue } }
          }
          '''))
    assert outputs(tmp_path, "w.twdsl") == {"kind": "validation", "ok": None}


def test_a_workflow_output_is_checked_against_its_type(tmp_path: Path) -> None:
    write(tmp_path, w__twdsl='''
          workflow W {
            version: "1.0.0"
            output { count: number = e.result }
            task e { agent: "echo" input: { message: "five" } }
          }
          ''')
    assert run("check", "w.twdsl", cwd=tmp_path).returncode == 0
    r = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].endswith(
        "w.twdsl:3:12: validation: output 'count' should be number, and is an object")


def test_a_computed_template_argument_is_checked_against_its_constraints(
        tmp_path: Path) -> None:
    write(tmp_path, w__twdsl='''
          template Scale(replicas: number where { min: 0, max: 10 }) {
            task s { agent: "echo" input: { n: replicas } }
          }

          workflow W {
            version: "1.0.0"
            input { n: number = 3 }
            use Scale(replicas: n - 5) as scale
          }
          ''')
    assert run("check", "w.twdsl", cwd=tmp_path).returncode == 0
    r = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].endswith(
        "validation: argument 'replicas' of template 'Scale' = -2 is below the minimum 0")
    assert outputs(tmp_path, "w.twdsl", "-i", "n=7") == {}


def test_built_in_agents_are_available_beside_configured_ones(tmp_path: Path) -> None:
    write(tmp_path, agents__py='def hello(input, ctx):\n    return {"text": "hi"}\n',
          twdsl__toml='[agents]\nhello = { python = "agents:hello" }\n',
          w__twdsl='''
          workflow W {
            version: "1.0.0"
            output { said: any = e.result.message }
            task h { agent: "hello" }
            task e { agent: "echo" input: { message: h.result } }
          }
          ''')
    r = run("check", "w.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "")
    assert outputs(tmp_path, "w.twdsl") == {"said": {"text": "hi"}}


def test_a_configuration_that_replaces_a_built_in_says_so(tmp_path: Path) -> None:
    write(tmp_path, agents__py='def shout(input, ctx):\n    return input["message"].upper()\n',
          twdsl__toml='[agents]\necho = { python = "agents:shout" }\n',
          w__twdsl='''
          workflow W {
            version: "1.0.0"
            output { said: any = e.result }
            task e { agent: "echo" input: { message: "hi" } }
          }
          ''')
    r = run("check", "w.twdsl", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0
    assert [(d["code"], d["severity"]) for d in json.loads(r.stdout)] == [("TW217", "info")]
    assert outputs(tmp_path, "w.twdsl") == {"said": "HI"}


def test_check_refuses_a_command_template_that_run_refuses(tmp_path: Path) -> None:
    write(tmp_path, twdsl__toml='[agents]\nsay = { command = ["echo", "{message} {oops"] }\n',
          w__twdsl='workflow W {\n  version: "1.0.0"\n  task s { agent: "say" }\n}\n')
    check = run("check", "w.twdsl", cwd=tmp_path)
    go = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert (check.returncode, go.returncode) == (2, 2)
    why = ("command[1] '{message} {oops' has a '{' that is not closed (write '{{' for a literal "
           "brace)")
    assert why in check.stderr and why in go.stderr


def test_the_model_is_made_once_and_read_by_every_stage() -> None:
    """The analysis hands on its semantic model: the types the checker inferred are the ones
    the editor shows, and no stage builds a checker of its own."""
    a = twdsl.analyze('agent A { output { n: number } }\n'
                      'workflow W { version: "1.0.0" task t { agent: A input: { x: 1 + 2 } } }',
                      "w.twdsl")
    assert a.model is not None
    w = a.module.items[1]
    plus = w.body.items[1].body.items[1].value.fields[0].value
    assert str(a.model.type_of(plus)) == "number"
    assert str(a.model.task_result(w.body.items[1])) == "{ n: number }"
    stages = [p for p in (ROOT / "twdsl").rglob("*.py")
              if re.search(r"(?<![\w.])Checker\(", p.read_text()) and p.name != "typecheck.py"]
    assert [p.relative_to(ROOT).as_posix() for p in stages] == ["twdsl/semantics/check.py"]


@pytest.mark.parametrize("expression", [
    "range(40).reduce((acc, x) => acc + acc, \"ab\")",
    "range(1000000).map(x => range(1000000).length)",
])
def test_runaway_expressions_end_as_validation_errors(tmp_path: Path, expression: str) -> None:
    write(tmp_path, w__twdsl=f'''
          workflow W {{
            version: "1.0.0"
            timeout: 30s
            input {{ n: number = 1 }}
            output {{ v: any = {expression.replace("range(40)", "range(40 * n)")} }}
          }}
          ''')
    compiled = run("compile", "w.twdsl", "-o", "w.json", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    r = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert r.returncode == 1
    last = r.stderr.splitlines()[-1]
    assert "validation: output 'v': " in last
    assert ("would make a string of" in last or "does too much work" in last), last


@pytest.mark.parametrize("src, expected", [
    # found by tests/test_pipeline_property.py: checked clean, failed at run time
    ('agent A { output { status: number } }\nworkflow W { version: "1.0.0"\n'
     '  task t1 { agent: A on_error: skip }\n'
     '  task t2 { agent: "B" when: !(t1.result.status ?? 0 < 2) } }',
     [("TW301", "'??' gives a default of type boolean to a value of type number?: give a "
                "default of type number")]),
    ('workflow W { version: "1.0.0"\n  while (false) { max_iterations: 3 task t1 { agent: "A" } }\n'
     '  task t3 { agent: "B" when: 1 >= t1.attempts } }',
     [("TW301", "'>=' cannot combine number and array<number>")]),
])
def test_types_the_checker_once_got_wrong(src: str, expected: list[tuple[str, str]]) -> None:
    assert [(d.code, d.message) for d in twdsl.analyze(src, "w.twdsl").diagnostics] == expected


def test_a_while_loop_carries_state_with_previous(tmp_path: Path) -> None:
    write(tmp_path, w__twdsl='''
          workflow Pages {
            version: "1.0.0"
            output { pages: any = page.result }
            while ((page.result.next ?? 1) < 4) {
              max_iterations: 10
              task page { agent: "echo" input: { next: (page.previous.next ?? 0) + 1 } }
            }
          }
          ''')
    assert run("check", "w.twdsl", cwd=tmp_path).returncode == 0
    expected = {"pages": [{"next": 1}, {"next": 2}, {"next": 3}, {"next": 4}]}
    assert outputs(tmp_path, "w.twdsl") == expected
    assert outputs(tmp_path, "w.twdsl", "-O0") == expected


def test_previous_in_a_sequential_foreach_is_the_iteration_before(tmp_path: Path) -> None:
    write(tmp_path, w__twdsl='''
          workflow Sum {
            version: "1.0.0"
            output { running: any = add.result }
            foreach x in [1, 2, 3] {
              task add { agent: "echo" input: { total: (add.previous.total ?? 0) + x } }
            }
          }
          ''')
    assert outputs(tmp_path, "w.twdsl") == {
        "running": [{"total": 1}, {"total": 3}, {"total": 6}]}


@pytest.mark.parametrize("body, message", [
    ('foreach x in [1, 2] { parallel: true task a { agent: "echo" input: { p: a.previous } } }',
     "'a.previous' in a parallel foreach: iterations run at the same time, so there is no "
     "previous one"),
    ('foreach x in [1, 2] { task a { agent: "echo" } }\n'
     '  task b { agent: "echo" input: { p: a.previous } }',
     "'a.previous' is read inside the loop that declares 'a' (it is the result of the "
     "iteration before the current one)"),
])
def test_previous_outside_its_loop_or_in_a_parallel_one_is_an_error(body: str,
                                                                      message: str) -> None:
    src = f'workflow W {{ version: "1.0.0"\n  {body}\n}}'
    assert [(d.code, d.message) for d in twdsl.analyze(src, "w.twdsl").diagnostics] == [
        ("TW302", message)]


@pytest.mark.parametrize("files, expected", [
    ({"w.twdsl": 'workflow W { version: "1.0.0" override task a { agent: "A" } }'},
     [("TW235", "'override task a': modifiers apply to the tasks of templates only; a "
                "workflow's task is neither inherited nor overridden")]),
    ({"w.twdsl": 'template T() { abstract task a task b { agent: "B" } }'},
     [("TW236", "template 'T' is not abstract, so its task 'a' cannot be: give the task a "
                "body, or declare 'abstract template T'")]),
    ({"w.twdsl": 'template A() { task x { agent: "A" } }\ntemplate B() { task x { agent: "B" } }'
                 '\ntemplate C() extends A, B { task y { agent: "C" } }'},
     [("TW235", "template 'C' inherits task 'x' from both 'A' and 'B': write 'override task x' "
                "in it to say what it is")]),
    ({"w.twdsl": 'abstract template A() { abstract task x }\ntemplate B() { task x { agent: "B" '
                 '} }\ntemplate C() extends A, B { task y { agent: "C" } }'}, []),
    ({"w.twdsl": 'workflow W { version: "1.0.0" task a { agent: "A" retry: { attempts: 2 on: '
                 '[validation, timeout] } } }'},
     [("TW213", "'validation' errors are never retried (the same input fails the same way); "
                "retry on timeout, agent, transient")]),
    ({"w.twdsl": 'template T() { task build { agent: "A" } }\nworkflow W { version: "1.0.0" use T() '
                 'as api\n task z { agent: "Z" depends: [api.buld, app.build] } }'},
     [("TW212", "'api.buld' in depends: template 'T' has no task 'buld'; did you mean 'build'?"),
      ("TW212", "'app' in depends is not a template instance of workflow 'W' (write `use "
                "Template(…) as app`); did you mean 'api'?")]),
    ({"w.twdsl": 'import { A } from "./lib.twdsl"\nagent A { output { y: number } }\n'
                 'workflow W { version: "1.0.0" task t { agent: A } }',
      "lib.twdsl": 'export agent A { output { x: number } }'},
     [("TW203", "'A' is declared in this file and imported too; rename one (or import it 'as' "
                "another name)")]),
    ({"w.twdsl": 'agent A { description: x timeout: "5" pure: 1 input { n: number = "a" } }'},
     [("TW210", "undefined name 'x'"),
      ("TW301", "field 'timeout' expects duration, and this is string"),
      ("TW301", "field 'pure' expects boolean, and this is number"),
      ("TW301", "input 'n' expects number, and this is string")]),
    ({"w.twdsl": 'workflow W { version: "1.0.0" task a { agent: "A" input: { x: "a".trim(1) } } }'},
     [("TW301", "'trim' takes no arguments, and this call gives 1")]),
])
def test_rules_the_reference_once_left_unchecked(files: dict[str, str],
                                                 expected: list[tuple[str, str]]) -> None:
    from twdsl.project import analyze_project

    out = analyze_project({"w.twdsl": files["w.twdsl"]}, files.get)["w.twdsl"]
    assert [(d.code, d.message) for d in out.diagnostics] == expected


def test_editor_features_survive_a_name_in_an_agent_setting() -> None:
    """Issue 16 (8): `agent A { description: x }` made symbols, hover, definition, references,
    rename, highlight and semantic tokens raise (the index had no names for an agent)."""
    src = 'agent A { description: x }\nworkflow W { version: "1.0.0" task t { agent: A } }'
    snaps = ide.analyze_documents({"w.twdsl": src})
    ws = ide.Workspace(list(snaps.values()))
    at = src.index("x }")
    assert [s.name for s in ide.document_symbols(ws, "w.twdsl")] == ["A", "W"]
    assert ide.hover(ws, "w.twdsl", at) is None
    assert ide.definition(ws, "w.twdsl", at) == []
    refs = ide.references(ws, "w.twdsl", src.index("agent: A") + 7)
    assert [(r.line, r.column) for r in refs] == [(1, 7), (2, 47)]
    assert len(ide.semantic_tokens(ws, "w.twdsl")) > 0


@pytest.mark.parametrize("shape", ["sequence", "if"])
def test_nesting_costs_time_linear_in_its_depth_and_compiles(shape: str) -> None:
    """Issue 16 (5): nested blocks were quadratic in the checker, the parser and the optimizer
    (4,000 nested ifs took 40 s to compile).  Here 3,000 levels check and compile, with the
    right program (the timing itself is bench/'s business)."""
    body = 'task t { agent: "echo" }'
    for _ in range(3000):
        body = f"{shape} {{ {body} }}" if shape == "sequence" else f"if (true) {{ {body} }}"
    from twdsl.compiler import compile_source

    c = compile_source(f'workflow W {{\n  version: "1.0.0"\n  {body}\n}}\n', "w.twdsl")
    assert c.program is not None
    tasks = [n for n in c.program.nodes.values() if n.kind == "task"]
    assert [t.name for t in tasks] == ["t"]


def test_a_named_fallback_copies_the_tasks_of_its_handlers_under_its_own_names() -> None:
    """Issue 16 (6): a fallback naming a task whose handler holds statements made two nodes
    with one id (an internal error after `check` said clean)."""
    from twdsl.compiler import compile_source

    src = ('workflow W {\n  version: "1.0.0"\n  task a { agent: "fail" on_error: { fallback: b } }'
           '\n  task b { agent: "echo" on_error: { task c { agent: "echo" } } }\n}\n')
    assert twdsl.analyze(src, "w.twdsl").diagnostics == []
    program = compile_source(src, "w.twdsl").program
    assert program is not None
    assert sorted(n.id for n in program.nodes.values() if n.kind == "task") == [
        "a", "a.fallback.b", "a.fallback.c", "b", "c"]
    itself = src.replace("fallback: b", "fallback: a")
    assert [(d.code, d.message) for d in twdsl.analyze(itself, "w.twdsl").diagnostics] == [
        ("TW212", "task 'a' names itself as its fallback: to run it again, give it a retry")]


BLOCK_CYCLE = """\
workflow W {
  version: "1.0.0"
  parallel {
    sequence {
      task a { agent: "echo" }
      task b { agent: "echo" depends: [d] }
    }
    sequence {
      task c { agent: "echo" }
      task d { agent: "echo" depends: [a] }
    }
  }
}
"""


def test_check_reports_the_block_cycle_run_refuses(tmp_path: Path) -> None:
    """Two sequences each waiting for a task of the other: `check` said clean, `run` refused
    with TW402.  Now the checker applies the rule lowering applies (twdsl.lang.cycles)."""
    write(tmp_path, w__twdsl=BLOCK_CYCLE)
    check = run("check", "w.twdsl", cwd=tmp_path)
    go = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert (check.returncode, go.returncode) == (1, 2)  # errors in the file: nothing run
    why = ("w.twdsl:4:5: error[TW402] blocks 'sequence at line 4' and 'sequence at line 8' "
           "each wait for a task in the other, so neither can start; move the tasks that "
           "depend on each other into one block")
    assert why in check.stdout + check.stderr and why in go.stderr


@pytest.mark.parametrize("body", [
    # the same tasks in one block, and two blocks ordered one way only: no cycle
    'parallel { task a { agent: "echo" } task d { agent: "echo" depends: [a] }\n'
    '  task b { agent: "echo" depends: [d] } }',
    'parallel { sequence { task a { agent: "echo" } }\n'
    '  sequence { task d { agent: "echo" depends: [a] } } }',
    # both ends inside one task's handlers, or a branch reading a task before its if
    'task a { agent: "echo" on_error: { fallback { task f { agent: "echo" } } } }\n'
    '  if (a.result == null) { task g { agent: "echo" depends: [a] } }',
])
def test_no_block_cycle_where_lowering_finds_none(tmp_path: Path, body: str) -> None:
    write(tmp_path, w__twdsl=f'workflow W {{\n  version: "1.0.0"\n  {body}\n}}\n')
    check = run("check", "w.twdsl", cwd=tmp_path)
    assert "TW402" not in check.stdout + check.stderr
    assert run("compile", "w.twdsl", "-o", "-", cwd=tmp_path).returncode == 0


SETTINGS = """\
template T(retries: number, wait: duration) {
  task a { agent: "echo" retry: retries timeout: wait input: { timeout: retries } }
}
workflow W {
  version: "1.0.0"
  input { n: number }
  use T(retries: n, wait: 5s) as x
  use T(retries: 3, wait: 5s) as y
  task t { agent: "echo" retry: { attempts: n } }
  foreach i in [1, 2] { parallel: true max_concurrency: n task c { agent: "echo" } }
}
"""


def test_a_setting_run_must_know_before_it_starts_is_a_literal_for_check_too(
        tmp_path: Path) -> None:
    """`retry: n` (an input) checked clean and `run` refused it (TW403): settings lowering
    writes into the program are literals, or template parameters every use gives one."""
    write(tmp_path, w__twdsl=SETTINGS)
    check = run("check", "w.twdsl", cwd=tmp_path)
    go = run("run", "w.twdsl", "--no-state", "-i", "n=2", cwd=tmp_path)
    assert (check.returncode, go.returncode) == (1, 2)
    found = re.findall(r"w\.twdsl:(\d+):(\d+): error\[(TW\d+)\]", check.stdout + check.stderr)
    assert found == [("7", "18", "TW403"), ("9", "45", "TW403"), ("10", "57", "TW403")]
    assert "argument 'retries' of template 'T' is a setting there" in check.stdout
    fixed = SETTINGS.replace("retries: n,", "retries: 2,").replace("attempts: n", "attempts: 2") \
        .replace("max_concurrency: n", "max_concurrency: 2").replace("input { n: number }\n", "")
    write(tmp_path, w__twdsl=fixed)
    assert run("check", "w.twdsl", cwd=tmp_path).returncode == 0
    assert run("run", "w.twdsl", "--no-state", cwd=tmp_path).returncode == 0


#: Each was checked clean and refused by lowering (TW403), so by `twdsl run` (a sweep of the
#: settings and handler shapes lowering reads, after the block cycle above).
LOWERING_REFUSED = {
    "an agent given as an expression": 'task a { agent: "ec" + "ho" }',
    "on_error given a number": 'task a { agent: "echo" on_error: 3 }',
    "then given a string": 'task a { agent: "echo" on_error: { then: "skip" } }',
    "compensate given a number": 'task a { agent: "echo" on_error: { compensate: 3 } }',
    "on_success given a number": 'task a { agent: "echo" on_success: 3 }',
    "a negative retry": 'task a { agent: "echo" retry: -1 }',
    "a fractional retry": 'task a { agent: "echo" retry: 1.5 }',
    "a fractional retry field": 'task a { agent: "echo" retry: { attempts: 2.5 } }',
    "no concurrency at all": 'parallel { max_concurrency: 0 task a { agent: "echo" } }',
    "no iteration at all": 'while (false) { max_iterations: 0 task a { agent: "echo" } }',
    "a cache given a number": 'task a { agent: "echo" cache: 5 }',
    "a cache's ttl given a string": 'task a { agent: "echo" cache: { ttl: "5m" } }',
    "a priority given an input": 'task a { agent: "echo" priority: n }',
}


@pytest.mark.parametrize("body", LOWERING_REFUSED.values(), ids=LOWERING_REFUSED.keys())
def test_what_lowering_refuses_check_reports_with_the_same_words(body: str) -> None:
    """`check` reports it (TW403) with lowering's own message: both read the rule from
    twdsl.semantics.policies.  Lowering is run here on the model despite the check's error,
    to see that it says the same."""
    from twdsl.analysis import analyze
    from twdsl.lowering import lower_workflows

    src = f'workflow W {{\n  version: "1.0.0"\n  input {{ n: number }}\n  {body}\n}}\n'
    a = analyze(src, "w.twdsl")
    errors = [(d.code, d.message, d.span.start) for d in a.diagnostics
              if d.severity.value == "error"]
    assert a.model is not None
    ((program, lowered),) = lower_workflows(a.model.scope, a.source, [a.module.items[0]])
    assert program is None
    assert errors == [(d.code, d.message, d.span.start) for d in lowered]
    assert errors[0][0] == "TW403"


NESTED = """\
template Inner(r: number) { task a { agent: "echo" retry: r } }
template Outer(r: number) { use Inner(r: r) as i }
workflow W {
  version: "1.0.0"
  input { n: number }
  use Outer(r: ARG) as o
  task b { agent: "echo" input: { n: n } }
}
"""


def test_a_parameter_passed_on_to_a_nested_template_as_a_setting(tmp_path: Path) -> None:
    """`Outer` passes its `r` to `Inner`'s retry: a literal reaches it (it was refused by
    lowering, which did not pass literals on), and an input is refused by `check` (it was
    checked clean)."""
    write(tmp_path, w__twdsl=NESTED.replace("ARG", "n"))
    check = run("check", "w.twdsl", cwd=tmp_path)
    assert check.returncode == 1
    assert ("w.twdsl:6:16: error[TW403] argument 'r' of template 'Outer' is a setting there "
            "(a retry, timeout or limit): this setting must be a literal value") in check.stdout
    write(tmp_path, w__twdsl=NESTED.replace("ARG", "3"))
    assert run("check", "w.twdsl", cwd=tmp_path).returncode == 0
    from twdsl.compiler import compile_source

    c = compile_source(NESTED.replace("ARG", "3"), "w.twdsl")
    assert c.program is not None
    task = c.program.nodes["o.i.a"]
    assert task.retry is not None and task.retry.attempts == 3  # type: ignore[union-attr]
    assert run("run", "w.twdsl", "--no-state", "-i", "n=1", cwd=tmp_path).returncode == 0


def test_a_default_given_to_a_setting_is_a_literal_too(tmp_path: Path) -> None:
    """`use T()` sets the retry from the parameter's default: lowering refused `1 + 1` there
    after `check` said clean.  Said once, however many settings read the parameter."""
    write(tmp_path, w__twdsl='template T(r: number = 1 + 1) {\n'
                            '  task a { agent: "echo" retry: r }\n'
                            '  task b { agent: "echo" retry: r }\n}\n'
                            'workflow W {\n  version: "1.0.0"\n  use T() as x\n}\n')
    check = run("check", "w.twdsl", cwd=tmp_path)
    go = run("run", "w.twdsl", "--no-state", cwd=tmp_path)
    assert (check.returncode, go.returncode) == (1, 2)
    why = ("w.twdsl:1:24: error[TW403] this setting must be a literal value (or a template "
           "parameter given one)")
    assert check.stdout.count("error[TW403]") == 1 and why in check.stdout and why in go.stderr


@pytest.mark.parametrize("body", [
    'while (false) { timeout: n max_iterations: 2 task a { agent: "echo" } }',
    'foreach i in [1] { priority: p task a { agent: "echo" } }',
    'if (n > 1s) { timeout: n task a { agent: "echo" } }',
])
def test_a_setting_in_the_wrong_place_is_said_once(body: str) -> None:
    """An unknown field (TW120) is not also a setting that is not a literal (TW403)."""
    from twdsl.analysis import analyze

    src = (f'workflow W {{\n  version: "1.0.0"\n  input {{ n: duration, p: number }}\n'
           f'  {body}\n}}\n')
    errors = [d.code for d in analyze(src, "w.twdsl").diagnostics
              if d.severity.value == "error"]
    assert errors == ["TW120"]
