"""Templates: inheritance rules and checked instantiation."""

from __future__ import annotations

from twdsl import analyze

BASE = """abstract template Service(
  name: string where { pattern: "^[a-z][a-z0-9-]*$", max_length: 10 },
  replicas: number = 1 where { min: 1, max: 10 },
  region: string = "eu" where { choices: ["eu", "us"] },
) {
  abstract task build
  final task deploy { agent: "D" input: { n: name, r: replicas, g: region, b: build.result } }
}
"""


def _diags(src: str) -> list[tuple[str, str, str]]:
    return [(str(d.span), d.code, d.message) for d in analyze(BASE + src, "t").diagnostics]


def test_child_sees_inherited_parameters_and_tasks() -> None:
    """`name` and `deploy` come from Service: in scope in Web's body, not undefined."""
    assert _diags("""template Web(port: number = 80) extends Service {
  override task build { agent: "B" input: { name: name, port: port } }
  task smoke { agent: "S" depends: [deploy] }
}
""") == []


def test_inheritance_rules() -> None:
    assert _diags("""template Forgetful() extends Service { task other { agent: "O" } }
template Sloppy() extends Service {
  task build { agent: "B" }
  override task deploy { agent: "D2" }
  override task nothing { agent: "N" }
}
final template Leaf() extends Service { override task build { agent: "B" } }
template Child() extends Leaf, Nope { task c { agent: "C" } }
""") == [
        ("t:9:10", "TW236", "template 'Forgetful' must define the abstract task 'build' of "
                            "template 'Service' (or be declared abstract itself)"),
        ("t:11:8", "TW235", "task 'build' replaces the task of template 'Service': write "
                            "'override task build'"),
        ("t:12:17", "TW235", "task 'deploy' is final in template 'Service' and cannot be "
                             "overridden"),
        ("t:13:17", "TW235", "'override task nothing' overrides nothing: no template 'Sloppy' "
                             "extends has a task 'nothing'"),
        ("t:16:26", "TW234", "template 'Leaf' is final and cannot be extended"),
        ("t:16:32", "TW210", "undefined template 'Nope'"),
    ]


def test_override_fix_inserts_the_modifier() -> None:
    a = analyze(BASE + 'template S() extends Service {\n  task build { agent: "B" }\n}\n', "t")
    (d,) = [d for d in a.diagnostics if d.code == "TW235"]
    assert d.fix is not None
    assert [(str(e.span), e.new_text) for e in d.fix.edits] == [("t:10:3", "override ")]


def test_use_arguments_are_checked() -> None:
    src = """template Web() extends Service { override task build { agent: "B" } }
workflow W {
  version: "1.0.0"
  use Service(name: "api")
  use Web(name: "API", replicas: 11, region: "asia", colour: "red")
  use Web(name: "a-much-too-long-name", replicas: "3")
  use Web(replicas: 2)
}
"""
    assert _diags(src) == [
        ("t:12:7", "TW237", "template 'Service' is abstract: use a template that extends it"),
        ("t:13:17", "TW232", "argument 'name' = 'API' does not match the pattern "
                             "'^[a-z][a-z0-9-]*$'"),
        ("t:13:34", "TW232", "argument 'replicas' = 11 is above the maximum 10"),
        ("t:13:46", "TW232", "argument 'region' = 'asia' is not one of 'eu', 'us'"),
        ("t:13:54", "TW230", "template 'Web' has no parameter 'colour'"),
        ("t:14:17", "TW232", "argument 'name' = 'a-much-too-long-name' is longer than 10"),
        ("t:14:51", "TW301", "argument 'replicas' of template 'Web' expects number, and this "
                             "is string"),
        ("t:15:7", "TW231", "use of template 'Web' lacks the required argument 'name'"),
    ]


def test_an_optional_parameter_without_default_is_not_required() -> None:
    src = """template T(notes: string?, n: number) { task a { agent: "A" input: { notes: notes, n: n } } }
workflow W { version: "1.0.0" use T(n: 1) use T() }
"""
    assert [(str(d.span), d.code, d.message) for d in analyze(src, "t").diagnostics] == [
        ("t:2:47", "TW231", "use of template 'T' lacks the required argument 'n'")]
