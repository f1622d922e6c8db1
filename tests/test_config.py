"""Configuration (twdsl.toml / [tool.twdsl]) and inline suppression."""

from __future__ import annotations

from pathlib import Path

import pytest

from twdsl import analyze
from twdsl.config import Config, ConfigError, find_config, load_config, parse_config
from twdsl.diagnostics import Severity

SRC = """workflow W {
  input { unused: number }
  task a { agent: "A" }
}
"""


def _codes(src: str, config: Config | None = None) -> list[tuple[int, str, str]]:
    a = analyze(src, "w.twdsl", config) if config else analyze(src, "w.twdsl")
    return [(d.span.line, d.code, d.severity.value) for d in a.diagnostics]


def test_defaults() -> None:
    assert _codes(SRC) == [(1, "TW501", "warning"), (2, "TW504", "warning")]


def test_severity_and_ignore_by_code_or_name() -> None:
    config = parse_config({"check": {"severity": {"missing-version": "error"},
                                     "ignore": ["TW504"]}}, "twdsl.toml")
    assert _codes(SRC, config) == [(1, "TW501", "error")]
    off = parse_config({"check": {"severity": {"TW501": "off", "unused-input": "hint"}}}, "t")
    assert _codes(SRC, off) == [(2, "TW504", "hint")]


@pytest.mark.parametrize("data, message", [
    ({"check": {"severity": {"TW999": "error"}}},
     "t.toml: check.severity: unknown code 'TW999' (see `twdsl check --explain CODE`)"),
    ({"check": {"severity": {"TW501": "loud"}}},
     "t.toml: check.severity.TW501 = 'loud': the level must be one of 'error', 'warning', "
     "'info', 'hint', 'off'"),
    ({"check": {"severity": {"TW301": "warning"}}},
     "t.toml: check.severity.TW301: TW301 (type-mismatch) is a types error and cannot be "
     "downgraded; only lint rules and warnings can (an inline '// twdsl-ignore: CODE' silences "
     "one place)"),
    ({"check": {"ignore": ["TW110"]}},
     "t.toml: check.ignore: TW110 is a syntax error; it cannot be ignored"),
    ({"check": {"strict": True}},
     "t.toml: unknown key 'check.strict' (known: check.severity, check.ignore)"),
    ({"lint": {}}, "t.toml: unknown table 'lint' (known: check, agents, run)"),
])
def test_bad_configuration_is_a_clear_error(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "t.toml")
    assert str(info.value) == message


def test_inline_suppression_on_the_line_and_the_line_below() -> None:
    src = """workflow W { // twdsl-ignore: missing-version
  // twdsl-ignore: TW504, TW502
  input { unused: number }
  task a { timeout: 5m }
}
"""
    assert _codes(src) == [(4, "TW502", "error")]  # the comment above covers line 3 only


def test_syntax_errors_cannot_be_suppressed() -> None:
    assert _codes('workflow W { version: "1.0.0" @ } // twdsl-ignore: TW100\n') == [
        (1, "TW100", "error")]


def test_find_and_load(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.twdsl.check]\nignore = ["TW504"]\n')
    sub = tmp_path / "flows" / "deep"
    sub.mkdir(parents=True)
    assert find_config(sub / "w.twdsl") == tmp_path / "pyproject.toml"
    assert load_config(tmp_path / "pyproject.toml").ignore == frozenset({"TW504"})
    (tmp_path / "flows" / "twdsl.toml").write_text('[check.severity]\nTW501 = "off"\n')
    found = find_config(sub / "w.twdsl")
    assert found == tmp_path / "flows" / "twdsl.toml"
    assert load_config(found).severity == {"TW501": None}


def test_pyproject_without_a_tool_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config(tmp_path / "w.twdsl") is None


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "twdsl.toml").write_text("[check\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "twdsl.toml")
    assert str(info.value).startswith(f"{tmp_path / 'twdsl.toml'}: not valid TOML: ")


def test_severity_levels_are_the_json_levels() -> None:
    assert parse_config({"check": {"severity": {"TW505": "info"}}}, "t").level(
        "TW505", Severity.WARNING) is Severity.INFO


def test_a_suppression_comment_followed_by_code_covers_only_its_line() -> None:
    src = """workflow W {
  /* twdsl-ignore: TW504 */ input { a: number }
  input { b: number }
  task t { agent: "A" }
}
"""
    assert _codes(src) == [(1, "TW501", "warning"), (3, "TW504", "warning")]


def test_agents_bound_in_configuration_are_the_catalog_for_string_agents() -> None:
    src = """agent Sig { input { x: any } output { y: any } }
workflow W {
  version: "1.0.0"
  task a { agent: "Notify" }
  task b { agent: "Notfy" }
  task c { agent: "Sig" }
}
"""
    assert _codes(src) == []  # no [agents] table: strings are not guessed at
    config = parse_config({"agents": {"Notify": {"command": ["notify"]}}}, "twdsl.toml")
    diags = analyze(src, "w.twdsl", config).diagnostics
    assert [(d.span.line, d.code, d.message) for d in diags] == [
        (5, "TW211", "unknown agent 'Notfy': the configuration binds no agent of that name (add "
                     "[agents.Notfy] to it); did you mean 'Notify'?")]
    assert [(str(e.span), e.new_text) for e in diags[0].fix.edits] == [('w.twdsl:5:19', '"Notify"')]
