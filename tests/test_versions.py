"""Semantic versions: the rule (twdsl/lang/semver.py), the check of ``version`` (TW511) and its
fix, ``twdsl check --against`` (TW512) on real files and git revisions, and docs/versions.md's
examples, run."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from cli_helpers import run

from twdsl.analysis import analyze
from twdsl.lang import semver
from twdsl.lang.semver import Bump, Version

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "versions.md").read_text(encoding="utf-8")

# ------------------------------------------------------------------------ the rule

# semver.org's own examples, and the corners of its grammar
VALID = ["0.0.0", "1.0.0", "10.20.30", "1.1.2-prerelease+meta", "1.0.0-alpha",
         "1.0.0-alpha.beta", "1.0.0-alpha.1", "1.0.0-alpha0.valid", "1.0.0-rc.1+build.1",
         "2.0.0-rc.1+build.123", "1.2.3-beta", "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
         "1.0.0-0A.is.legal", "1.2.3----RC-SNAPSHOT.12.9.1--.12+788", "99999999999999999.0.0"]
INVALID = ["1", "1.2", "1.2.3-0123", "1.2.3-0123.0123", "1.1.2+.123", "+invalid", "-invalid",
           "alpha", "1.2.3.DEV", "1.2-SNAPSHOT", "01.1.1", "1.01.1", "1.1.01", "1.2.3-",
           "1.2.3+", "1.2.3-beta..1", "v1.2.3", " 1.2.3", "1.2.3 ", "1.2.٣", "", "latest"]


@pytest.mark.parametrize("text", VALID)
def test_valid_versions_parse_and_print_back(text: str) -> None:
    assert str(Version.parse(text)) == text
    assert semver.problem(text) is None


@pytest.mark.parametrize("text", INVALID)
def test_invalid_versions_are_refused_with_a_reason(text: str) -> None:
    assert semver.parse(text) is None
    assert semver.problem(text)
    with pytest.raises(ValueError):
        Version.parse(text)


def test_precedence_is_semvers() -> None:
    chain = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
             "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0"]
    versions = [Version.parse(v) for v in chain]
    assert sorted(reversed(versions)) == versions
    assert all(a < b for a, b in zip(versions, versions[1:], strict=False))
    assert Version.parse("1.0.0+a") == Version.parse("1.0.0+b")  # build metadata ignored
    assert len({Version.parse("1.0.0+a"), Version.parse("1.0.0")}) == 1


@pytest.mark.parametrize("text, reason", [
    ("1.0", "it has 2 numbers, and a version has 3: MAJOR.MINOR.PATCH"),
    ("v1.2.3", "a version starts with its major number, without 'v'"),
    ("01.2.3", "a number has a leading zero"),
    (" 1.2.3", "it has spaces around it"),
    ("1.2.3-01", "its pre-release (after '-') must be dot-separated identifiers of letters, "
                 "digits and '-', numbers without leading zeros"),
    ("1.2.3+a..b", "its build metadata (after '+') must be dot-separated identifiers of "
                   "letters, digits and '-'"),
    ("banana", 'a version is MAJOR.MINOR.PATCH, such as "1.0.0"'),
])
def test_reasons(text: str, reason: str) -> None:
    assert semver.problem(text) == reason


def test_the_fix_table_of_the_docs_is_the_rule() -> None:
    rows = re.findall(r"^\| (`.*`) \| (`\"[^`]*\"`|none: write the version yourself) \|$", DOC,
                      re.M)
    assert len(rows) == 6
    for written, fixed in rows:
        want = None if fixed.startswith("none") else fixed.strip("`").strip('"')
        for w in re.findall(r'`"([^`]*)"`', written):
            assert semver.fix(w) == want, w


@pytest.mark.parametrize("old, bump, expected", [
    ("1.4.2", Bump.MAJOR, "2.0.0"), ("1.4.2", Bump.MINOR, "1.5.0"),
    ("1.4.2", Bump.PATCH, "1.4.3"), ("1.4.2", Bump.NONE, "1.4.2"),
    ("0.4.2", Bump.MAJOR, "0.5.0"), ("0.4.2", Bump.MINOR, "0.4.3"),
    ("2.0.0-rc.1", Bump.MAJOR, "2.0.0"), ("1.4.2+build", Bump.MINOR, "1.5.0"),
])
def test_next_version(old: str, bump: Bump, expected: str) -> None:
    assert str(semver.next_version(Version.parse(old), bump)) == expected


@pytest.mark.parametrize("old, new, bump, ok", [
    ("1.4.2", "2.0.0", Bump.MAJOR, True), ("1.4.2", "1.9.0", Bump.MAJOR, False),
    ("1.4.2", "2.0.0-rc.1", Bump.MAJOR, True), ("1.4.2", "1.5.0", Bump.MINOR, True),
    ("1.4.2", "1.4.3", Bump.MINOR, False), ("1.4.2", "1.4.2", Bump.NONE, True),
    ("1.4.2", "1.0.0", Bump.NONE, True), ("0.4.2", "0.5.0", Bump.MAJOR, True),
    ("0.4.2", "0.4.9", Bump.MAJOR, False), ("0.4.2", "0.4.3", Bump.MINOR, True),
    ("0.4.2", "1.0.0", Bump.MAJOR, True), ("2.0.0-rc.1", "2.0.0-rc.2", Bump.MAJOR, True),
    ("2.0.0-rc.1", "2.0.0", Bump.MAJOR, True), ("2.0.0-rc.2", "2.0.0-rc.1", Bump.MINOR, False),
])
def test_enough(old: str, new: str, bump: Bump, ok: bool) -> None:
    assert semver.enough(Version.parse(old), Version.parse(new), bump) is ok


# ------------------------------------------------------------------------ TW511


def _diags(text: str) -> list[tuple[str, str, str]]:
    return [(str(d.span), d.code, d.message) for d in analyze(text, "w.twdsl").diagnostics]


def test_a_version_that_is_not_semantic_is_an_error() -> None:
    assert _diags('workflow W {\n  version: "banana"\n  task a { agent: "A" }\n}\n') == [
        ("w.twdsl:2:12", "TW511", "version \"banana\" of workflow 'W' is not a semantic "
                                  "version: a version is MAJOR.MINOR.PATCH, such as \"1.0.0\"")]
    assert _diags('workflow W {\n  version: "v2.1.0"\n  task a { agent: "A" }\n}\n') == [
        ("w.twdsl:2:12", "TW511", "version \"v2.1.0\" of workflow 'W' is not a semantic "
                                  "version: a version starts with its major number, without "
                                  "'v'; write \"2.1.0\"")]
    assert _diags('template T() {\n  version: "1.0"\n  task a { agent: "A" }\n}\n') == [
        ("w.twdsl:2:12", "TW511", "version \"1.0\" of template 'T' is not a semantic version: "
                                  "it has 2 numbers, and a version has 3: MAJOR.MINOR.PATCH; "
                                  "write \"1.0.0\"")]
    assert _diags('workflow W {\n  input { v: string }\n  version: "1.${v}.0"\n'
                  '  task a { agent: "A" input: { v: v } }\n}\n') == [
        ("w.twdsl:3:12", "TW511", "the version of workflow 'W' must be a plain string such as "
                                  "\"1.0.0\", without ${…}")]
    # not a string at all: the type error says so, once
    assert [c for _, c, _ in _diags('workflow W {\n  version: 1\n  task a { agent: "A" }\n}\n')
            ] == ["TW301"]
    assert _diags('workflow W {\n  version: "1.0.0-rc.1+b7"\n  task a { agent: "A" }\n}\n') == []


def test_check_fix_writes_the_version_meant(tmp_path: Path) -> None:
    f = tmp_path / "w.twdsl"
    f.write_text('workflow W {\n  version: "1.0"\n  task a { agent: "A" }\n}\n'
                 'workflow V {\n  version: "banana"\n  task a { agent: "A" }\n}\n')
    r = run("check", "--fix", "w.twdsl", cwd=tmp_path)
    assert r.returncode == 1
    assert f.read_text() == ('workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "A"\n'
                             '  }\n}\n\nworkflow V {\n  version: "banana"\n  task a {\n'
                             '    agent: "A"\n  }\n}\n')
    assert r.stdout.startswith("w.twdsl:9:12: error[TW511] version \"banana\" of workflow 'V'")
    assert "fixed w.twdsl (1 fix)" in r.stderr


# ------------------------------------------------------------------------ --against (TW512)

def wf(version: str, body: str) -> str:
    return f'workflow W {{\n  version: "{version}"\n{body}}}\n'


BASE = '  input { a: string }\n  task t { agent: "A" input: { a: a } }\n'
BREAKING = '  input { a: string, b: number }\n  task t { agent: "A" input: { a: a, b: b } }\n'
COMPATIBLE = '  input { a: string }\n  task t { agent: "A" input: { a: a } timeout: 1m }\n'


@pytest.mark.parametrize("old, new, expected", [
    (wf("1.4.2", BASE), wf("1.5.0", BREAKING),
     "new.twdsl:2:12: error[TW512] version \"1.5.0\" of workflow 'W' is too small: 1 breaking "
     "change since \"1.4.2\" (input 'b' added without a default) needs a major bump, to 2.0.0; "
     "twdsl diff lists it"),
    (wf("1.4.2", BASE), wf("1.4.3", COMPATIBLE),
     "new.twdsl:2:12: error[TW512] version \"1.4.3\" of workflow 'W' is too small: 1 compatible "
     "change since \"1.4.2\" (timeout of task 't' none → 1m) needs a minor bump, to 1.5.0; "
     "twdsl diff lists it"),
    (wf("0.4.2", BASE), wf("0.4.9", BREAKING),
     "new.twdsl:2:12: error[TW512] version \"0.4.9\" of workflow 'W' is too small: 1 breaking "
     "change since \"0.4.2\" (input 'b' added without a default) needs a minor bump (under "
     "0.y.z), to 0.5.0; twdsl diff lists it"),
    (wf("2.0.0-rc.2", BASE), wf("2.0.0-rc.1", COMPATIBLE),
     "new.twdsl:2:12: error[TW512] version \"2.0.0-rc.1\" of workflow 'W' is too small: 1 "
     "compatible change since \"2.0.0-rc.2\" (timeout of task 't' none → 1m) needs a later "
     "version, such as 2.0.0; twdsl diff lists it"),
])
def test_a_bump_too_small_is_reported_on_the_version(tmp_path: Path, old: str, new: str,
                                                      expected: str) -> None:
    (tmp_path / "old.twdsl").write_text(old)
    (tmp_path / "new.twdsl").write_text(new)
    r = run("check", "new.twdsl", "--against", "old.twdsl", cwd=tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines()[0] == expected
    assert r.stderr == "checked 1 file: 1 error\n"


@pytest.mark.parametrize("old, new", [
    (wf("1.4.2", BASE), wf("2.0.0", BREAKING)), (wf("1.4.2", BASE), wf("2.0.0-rc.1", BREAKING)),
    (wf("1.4.2", BASE), wf("1.5.0", COMPATIBLE)), (wf("1.4.2", BASE), wf("1.4.2", BASE)),
    (wf("0.4.2", BASE), wf("0.4.3", COMPATIBLE)),
    (wf("1.4.2", BASE), wf("1.4.2", BASE.replace("input {", "// a comment\n  input {"))),
    (wf("1.4.2", BASE), wf("not.semver", BREAKING).replace("W", "Other")),  # another workflow
])
def test_a_bump_big_enough_or_nothing_to_compare_is_clean(old: str, new: str) -> None:
    from twdsl.versions.against import check_text_against

    assert [d.code for d in check_text_against(new, old)] == (
        ["TW511"] if "not.semver" in new else [])


def test_the_fix_and_an_inline_silence(tmp_path: Path) -> None:
    (tmp_path / "old.twdsl").write_text(wf("1.4.2", BASE))
    (tmp_path / "new.twdsl").write_text(wf("1.5.0", BREAKING))
    r = run("check", "new.twdsl", "--against", "old.twdsl", "--format", "json", cwd=tmp_path)
    [d] = json.loads(r.stdout)
    assert d["fix"] == {"title": 'write "2.0.0"', "edits": [
        {"line": 2, "column": 12, "end_line": 2, "end_column": 19, "new_text": '"2.0.0"'}]}
    (tmp_path / "new.twdsl").write_text(
        wf("1.5.0", BREAKING).replace('"1.5.0"', '"1.5.0" // twdsl-ignore: TW512'))
    r = run("check", "new.twdsl", "--against", "old.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "")


def test_an_old_version_that_cannot_be_compared_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "new.twdsl").write_text(wf("1.0.0", BASE))
    (tmp_path / "old.twdsl").write_text(wf("1.0.0", '  task t { agent: "A" input: { a: a } }\n'))
    r = run("check", "new.twdsl", "--against", "old.twdsl", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "old.twdsl:3:35: error[TW210] undefined name 'a'"
    assert r.stderr.splitlines()[-1] == ("twdsl: error: 'old.twdsl' has 1 error; fix it to "
                                         "compare it")
    r = run("check", "new.twdsl", "--against", "nosuch", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (
        2, "twdsl: error: 'nosuch' is neither a file nor a git revision of the repository of "
           "new.twdsl (which is in none)\n")


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def test_against_a_revision_compares_each_file_with_itself(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "a.twdsl").write_text(wf("1.0.0", BASE))
    (flows / "b.twdsl").write_text(wf("1.0.0", BASE).replace("workflow W", "workflow B"))
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    (flows / "a.twdsl").write_text(wf("1.1.0", BREAKING))  # too small
    (flows / "b.twdsl").write_text(wf("1.1.0", COMPATIBLE).replace("workflow W", "workflow B"))
    (flows / "c.twdsl").write_text(wf("0.1.0", BASE))  # new: nothing to compare with
    for spec in ("HEAD", "HEAD:", "main"):
        r = run("check", "flows", "--against", spec, cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert [ln for ln in r.stdout.splitlines() if "error[" in ln] == [
            "flows/a.twdsl:2:12: error[TW512] version \"1.1.0\" of workflow 'W' is too small: 1 "
            "breaking change since \"1.0.0\" (input 'b' added without a default) needs a major "
            "bump, to 2.0.0; twdsl diff lists it"]
    # from inside the folder, and against one file at a revision for every checked file
    r = run("check", "a.twdsl", "--against", "HEAD:./a.twdsl", cwd=flows)
    assert r.returncode == 1 and "error[TW512]" in r.stdout
    r = run("check", "a.twdsl", "--against", "HEAD~3", cwd=flows)
    assert (r.returncode, r.stderr) == (
        2, f"twdsl: error: unknown git revision 'HEAD~3' in the folder {tmp_path.resolve()}\n")
    # an old version with errors is shown with its revision
    (flows / "d.twdsl").write_text(wf("1.0.0", '  task t { agent: "A" input: { a: a } }\n'))
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "two")
    r = run("check", "flows/a.twdsl", "--against", "HEAD:flows/d.twdsl", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == ("HEAD:flows/d.twdsl:3:35: error[TW210] undefined name "
                                        "'a'")


# ------------------------------------------------------------------------ docs/versions.md

def _fenced(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", DOC, re.M | re.S)


def test_the_examples_of_the_docs_run_as_shown(tmp_path: Path) -> None:
    old, new = _fenced("twdsl")
    for text in (old, new):
        assert _diags(text) == []
    (tmp_path / "old.twdsl").write_text(old)
    (tmp_path / "new.twdsl").write_text(new)
    text_out, stderr_out = _fenced("text")[:2]
    r = run("diff", "old.twdsl", "new.twdsl", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (1, text_out, stderr_out)
    r = run("diff", "old.twdsl", "new.twdsl", "--format", "markdown", cwd=tmp_path)
    assert r.stdout == _fenced("markdown")[0]
    console = next(c for c in _fenced("console") if "--against old.twdsl" in c)
    r = run("check", "new.twdsl", "--against", "old.twdsl", cwd=tmp_path)
    assert console == "$ twdsl check new.twdsl --against old.twdsl\n" + r.stdout + r.stderr


def test_the_links_of_the_docs_resolve() -> None:
    def slug(heading: str) -> str:
        text = re.sub(r"[`*]", "", heading.strip().lower())
        return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")

    def anchors(text: str) -> set[str]:
        outside = re.sub(r"^```.*?^```$", "", text, flags=re.M | re.S)
        return {slug(h) for h in re.findall(r"^#+ (.+)$", outside, re.M)}

    docs = ROOT / "docs"
    pages = {p.name: p.read_text(encoding="utf-8") for p in docs.glob("*.md")}
    for page in ("versions.md", "cli.md"):
        for target, anchor in re.findall(r"\]\(([a-z.]*\.md|)#([^)]+)\)", pages[page]):
            assert anchor in anchors(pages[target or page]), f"{page}: {target}#{anchor}"
