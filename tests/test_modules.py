"""Modules: a folder of files checked as one program through its imports."""

from __future__ import annotations

from twdsl.project import analyze_project

OPS = """export agent Deploy { input { target: string } output { url: url } }
export type Target = { host: string, port: number }
agent Private { input { x: any } output { y: any } }
"""


def _diags(files: dict[str, str], load: dict[str, str] | None = None) -> dict[str, list[tuple]]:
    out = analyze_project(files, (load or {}).get)
    return {p: [(str(d.span), d.code, d.message) for d in a.diagnostics] for p, a in out.items()}


def test_imported_agent_and_type_are_typed_in_their_own_file() -> None:
    main = """import { Deploy, Target } from "../lib/ops.twdsl"
workflow W {
  version: "1.0.0"
  input { t: Target }
  task d { agent: Deploy input: { target: t.host, port: t.port } }
  output { u: url = d.result.url, p: number = t.prot }
}
"""
    assert _diags({"flows/main.twdsl": main, "lib/ops.twdsl": OPS}) == {
        "flows/main.twdsl": [
            ("flows/main.twdsl:5:51", "TW305", "agent 'Deploy' takes no input 'port'"),
            ("flows/main.twdsl:6:49", "TW302",
             "{ host: string, port: number } has no field 'prot'; did you mean 'port'?"),
        ],
        "lib/ops.twdsl": [],
    }


def test_missing_file_unexported_and_misspelt_names() -> None:
    main = """import { Deploy, Private, Deplyo } from "./ops.twdsl"
import { X } from "./nowhere.twdsl"
workflow W { version: "1.0.0" task a { agent: Deploy input: { target: "t" } } }
"""
    assert _diags({"main.twdsl": main}, {"ops.twdsl": OPS}) == {"main.twdsl": [
        ("main.twdsl:1:18", "TW221", "'Private' is declared in './ops.twdsl' but not exported: "
                                     "write 'export' before its declaration"),
        ("main.twdsl:1:27", "TW221", "'./ops.twdsl' exports no 'Deplyo'; did you mean 'Deploy'?"),
        ("main.twdsl:2:19", "TW220", "cannot import './nowhere.twdsl': there is no file "
                                     "nowhere.twdsl"),
    ]}


def test_unknown_agents_are_reported_once_every_import_resolves() -> None:
    main = """import "./ops.twdsl"
workflow W { version: "1.0.0" task a { agent: Deplo input: { target: "t" } } }
"""
    assert _diags({"main.twdsl": main}, {"ops.twdsl": OPS})["main.twdsl"] == [
        ("main.twdsl:1:1", "TW223", "nothing exported by './ops.twdsl' is used"),
        ("main.twdsl:2:47", "TW211", "unknown agent 'Deplo' (no 'agent' signature of that name; "
                                     "write the name as a string if it is bound in "
                                     "configuration); did you mean 'Deploy'?"),
    ]


def test_unused_imports_with_a_fix() -> None:
    main = """import { Deploy, Target } from "./ops.twdsl"
import "./ops.twdsl" as ops
workflow W { version: "1.0.0" task a { agent: Deploy input: { target: "t" } } }
"""
    out = analyze_project({"main.twdsl": main}, {"ops.twdsl": OPS}.get)["main.twdsl"]
    assert [(str(d.span), d.code, d.message) for d in out.diagnostics] == [
        ("main.twdsl:1:18", "TW223", "'Target' is imported but never used"),
        ("main.twdsl:2:1", "TW223", "'ops' is imported but never used"),
    ]
    fix = out.diagnostics[1].fix
    assert fix is not None and [(str(e.span), e.new_text) for e in fix.edits] == [
        ("main.twdsl:2:1", "")]


def test_import_cycle_reported_once() -> None:
    a = 'import { B } from "./b.twdsl"\nexport type A = { b: B }\n'
    b = 'import { A } from "./a.twdsl"\nexport type B = { a: A? }\n'
    assert _diags({"a.twdsl": a, "b.twdsl": b}) == {
        "a.twdsl": [("a.twdsl:1:1", "TW222", "import cycle: a.twdsl -> b.twdsl -> a.twdsl; move "
                                             "what both need into a third file")],
        "b.twdsl": [],
    }


def test_an_import_of_a_broken_file_does_not_echo_its_errors() -> None:
    main = ('import { Deploy } from "./ops.twdsl"\n'
            'workflow W { version: "1.0.0" task a { agent: Deploy } }\n')
    out = _diags({"main.twdsl": main, "ops.twdsl": "export agent Deploy { input {"})
    assert out["main.twdsl"] == []
    assert [c for _, c, _ in out["ops.twdsl"]] == ["TW111", "TW111"]
