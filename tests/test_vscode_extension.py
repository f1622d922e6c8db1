"""The VS Code extension (editors/vscode) stays consistent with itself and with the language.

These tests need no Node.js: they read the extension's JSON files.  What they guard against is
drift: a keyword added to grammar/twdsl.lark but not to the TextMate grammar, a builtin added
to the checker but not highlighted, a snippet that inserts broken TWDSL, a path in package.json
that points nowhere.  The grammar's token scopes themselves are tested by vscode-tmgrammar-test
(editors/vscode/tests/*.test.twdsl, run by `npm test` in editors/vscode/ci.sh).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsp_helpers import make_client
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

import twdsl
from twdsl.codes import lookup
from twdsl.lang.builtins import FUNCTIONS as BUILTIN_FUNCTIONS
from twdsl.lang.builtins import VALUES as BUILTIN_VALUES
from twdsl.syntax import grammar

EXT = Path(__file__).resolve().parent.parent / "editors" / "vscode"


def _json(name: str) -> Any:
    return json.loads((EXT / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    result: dict[str, Any] = _json("package.json")
    return result


@pytest.fixture(scope="module")
def tm_grammar() -> dict[str, Any]:
    result: dict[str, Any] = _json("syntaxes/twdsl.tmLanguage.json")
    return result


@pytest.fixture(scope="module")
def snippets() -> dict[str, Any]:
    result: dict[str, Any] = _json("snippets/twdsl.json")
    return result


# ------------------------------------------------------------------ package.json


def test_manifest_declares_the_language_grammar_and_snippets(manifest: dict[str, Any],
                                                             tm_grammar: dict[str, Any]) -> None:
    assert manifest["name"] == "twdsl"
    assert manifest["main"] == "./out/extension.js"
    assert manifest["license"] == "MIT"
    contributes = manifest["contributes"]
    [language] = contributes["languages"]
    assert language["id"] == "twdsl"
    assert language["extensions"] == [".twdsl"]
    assert (EXT / language["configuration"]).is_file()
    [tm] = contributes["grammars"]
    assert tm["language"] == "twdsl"
    assert (EXT / tm["path"]).is_file()
    assert tm["scopeName"] == tm_grammar["scopeName"] == "source.twdsl"
    # The snippets are not contributed: VS Code would offer them everywhere, over the server's
    # completion, which knows where the cursor is. The extension offers them itself while no
    # server runs (src/snippets.ts reads the file the .vsix ships).
    assert "snippets" not in contributes
    assert (EXT / "snippets" / "twdsl.json").is_file()
    extension_ts = (EXT / "src" / "extension.ts").read_text(encoding="utf-8")
    assert 'readSnippets(context.asAbsolutePath("snippets/twdsl.json"))' in extension_ts
    assert "if (client?.isRunning()) {\n        return undefined;" in extension_ts
    assert "onLanguage:twdsl" in manifest["activationEvents"]


def test_manifest_declares_the_restart_command_and_the_settings(manifest: dict[str, Any]) -> None:
    contributes = manifest["contributes"]
    assert contributes["commands"] == [{
        "command": "twdsl.restartServer",
        "title": "Restart Language Server",
        "category": "TWDSL",
    }]
    props = contributes["configuration"]["properties"]
    assert sorted(props) == ["twdsl.server.command", "twdsl.server.pythonPath",
                             "twdsl.trace.server"]
    assert props["twdsl.server.command"]["type"] == "array"
    assert props["twdsl.server.command"]["default"] == ["twdsl", "lsp"]
    assert props["twdsl.server.pythonPath"]["type"] == "string"
    assert props["twdsl.server.pythonPath"]["default"] == ""
    assert props["twdsl.trace.server"]["enum"] == ["off", "messages", "verbose"]
    assert props["twdsl.trace.server"]["default"] == "off"


def test_client_uses_the_manifest_default_and_the_documented_module() -> None:
    """The client's fallback command equals the setting's default, and the module it runs with
    `twdsl.server.pythonPath` is one that `python -m` can run."""
    server_ts = (EXT / "src" / "server.ts").read_text(encoding="utf-8")
    assert 'DEFAULT_COMMAND: readonly string[] = ["twdsl", "lsp"];' in server_ts
    assert 'args: ["-m", "twdsl.cli", "lsp"]' in server_ts
    assert (Path(twdsl.__file__).parent / "cli" / "__main__.py").is_file()
    extension_ts = (EXT / "src" / "extension.ts").read_text(encoding="utf-8")
    assert 'registerCommand("twdsl.restartServer"' in extension_ts
    assert 'from "vscode-languageclient/node"' in extension_ts


def _extension_server_command() -> list[str]:
    """The command the extension spawns with `twdsl.server.pythonPath` set to this Python:
    the arguments src/server.ts gives, then `--stdio`, which vscode-languageclient appends for
    TransportKind.stdio (the transport src/extension.ts asks for)."""
    server_ts = (EXT / "src" / "server.ts").read_text(encoding="utf-8")
    extension_ts = (EXT / "src" / "extension.ts").read_text(encoding="utf-8")
    assert "transport: TransportKind.stdio," in extension_ts
    [args] = re.findall(r'args: (\[[^\]]*\]),\n\s*setting: "twdsl.server.pythonPath"', server_ts)
    return [sys.executable, *json.loads(args), "--stdio"]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=_extension_server_command(),
                                              client_factory=make_client))
async def as_vscode_starts_it(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


async def test_the_server_starts_the_way_the_extension_starts_it(
        as_vscode_starts_it: LanguageClient) -> None:
    assert _extension_server_command()[1:] == ["-m", "twdsl.cli", "lsp", "--stdio"]
    for _ in range(500):
        if as_vscode_starts_it.log_messages:
            break
        await asyncio.sleep(0.01)
    assert [m.message for m in as_vscode_starts_it.log_messages] == [
        f"twdsl {twdsl.__version__} language server ready (push diagnostics)"]


def test_build_scripts_and_ignored_files(manifest: dict[str, Any]) -> None:
    scripts = manifest["scripts"]
    assert scripts["package"].startswith("vsce package --no-dependencies")
    assert "esbuild src/extension.ts --bundle --outfile=out/extension.js" in scripts["bundle"]
    assert "vscode-tmgrammar-test" in scripts["test:grammar"]
    assert manifest["dependencies"]["vscode-languageclient"].startswith("^9.")
    assert {"@vscode/vsce", "esbuild", "typescript", "vscode-tmgrammar-test",
            "puppeteer-core"} <= set(manifest["devDependencies"])  # e2e/run.mjs drives Chromium
    assert (EXT / "package-lock.json").is_file()
    gitignore = (EXT / ".gitignore").read_text(encoding="utf-8").split()
    assert gitignore == ["node_modules/", "out/", "*.vsix"]
    vscodeignore = (EXT / ".vscodeignore").read_text(encoding="utf-8").split("\n")
    assert {"src/**", "tests/**", "node_modules/**", "e2e/**"} <= set(vscodeignore)
    for name in ("README.md", "CHANGELOG.md", "LICENSE", "ci.sh"):
        assert (EXT / name).is_file(), name
    assert (EXT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


# ------------------------------------------------------------------ TextMate grammar

_ALTERNATION = re.compile(r"\\b\(\?:([a-z_|]+)\)\\b")


def _words(pattern: dict[str, Any]) -> set[str]:
    """The words of the `\\b(?:a|b|c)\\b` alternations of a repository entry's patterns."""
    words: set[str] = set()
    for rule in pattern.get("patterns", [pattern]):
        for alternation in _ALTERNATION.findall(rule.get("match", "")):
            words.update(alternation.split("|"))
    return words


def test_every_keyword_of_the_language_is_highlighted_as_a_keyword(
        tm_grammar: dict[str, Any]) -> None:
    """The keywords come from grammar/twdsl.lark as twdsl loads it (the lexer's table), so a
    keyword added to the language fails this test until the TextMate grammar has it too."""
    language = set(grammar.load().keywords)
    repo = tm_grammar["repository"]
    highlighted = _words(repo["keywords"]) | _words(repo["constants"])
    assert sorted(language - highlighted) == []  # keywords the editor would not highlight
    assert sorted(highlighted - language) == []  # words highlighted as keywords that are not
    for rule in repo["keywords"]["patterns"] + repo["constants"]["patterns"]:
        assert rule["name"].split(".")[0] in ("keyword", "storage", "constant"), rule


def test_keyword_list_matches_the_reference() -> None:
    """docs/language.md "Keywords" lists the same words as the grammar (what the extension's
    README points users to)."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text(
        encoding="utf-8")
    section = text.split("### Keywords", 1)[1].split("Keywords are **contextual**", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", section)) == set(grammar.load().keywords)


def test_builtin_functions_and_names_are_the_checker_s(tm_grammar: dict[str, Any]) -> None:
    repo = tm_grammar["repository"]
    assert _words(repo["builtin-functions"]) == set(BUILTIN_FUNCTIONS)
    assert _words(repo["builtin-names"]) == set(BUILTIN_VALUES)


def test_every_repository_entry_is_used_and_every_include_exists(
        tm_grammar: dict[str, Any]) -> None:
    repo = tm_grammar["repository"]
    text = json.dumps(tm_grammar)
    included = set(re.findall(r'"include": "#([a-z-]+)"', text))
    assert sorted(included - set(repo)) == []  # includes of entries that do not exist
    assert sorted(set(repo) - included) == []  # entries nothing includes


def test_every_regex_of_the_grammar_compiles(tm_grammar: dict[str, Any]) -> None:
    """Python's `re` is close enough to Oniguruma for these patterns to catch a typo early
    (the grammar tests run the real engine)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("match", "begin", "end") and isinstance(value, str):
                    found.append(value)
                    re.compile(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tm_grammar)
    assert len(found) > 40


def test_the_grammar_tests_cover_every_token_class() -> None:
    """Each scope the grammar gives a token is asserted by at least one grammar test."""
    grammar_text = (EXT / "syntaxes" / "twdsl.tmLanguage.json").read_text(encoding="utf-8")
    scopes = set(re.findall(r'"name": "([a-z.-]+\.twdsl)"', grammar_text))
    tests = "\n".join(p.read_text(encoding="utf-8")
                      for p in sorted((EXT / "tests").glob("*.test.twdsl")))
    asserted = set(re.findall(r"[a-z.-]+\.twdsl", tests))
    not_needed = {"storage.type.twdsl"}  # the bare fallback; declarations take the others
    assert sorted(scopes - asserted - not_needed) == []


# ------------------------------------------------------------------ language configuration


def test_language_configuration() -> None:
    conf = _json("language-configuration.json")
    assert conf["comments"] == {"lineComment": "//", "blockComment": ["/*", "*/"]}
    assert conf["brackets"] == [["{", "}"], ["[", "]"], ["(", ")"]]
    opens = {pair["open"] for pair in conf["autoClosingPairs"]}
    assert {"{", "[", "(", '"', "'"} <= opens
    assert ['"', '"'] in conf["surroundingPairs"] and ["'", "'"] in conf["surroundingPairs"]
    increase = re.compile(conf["indentationRules"]["increaseIndentPattern"])
    decrease = re.compile(conf["indentationRules"]["decreaseIndentPattern"])
    assert increase.search("workflow W {") and increase.search("  input: {")
    assert increase.search("    case \"prod\", \"production\":")
    assert not increase.search('  task a { agent: "A" }')
    assert decrease.search("  }") and not decrease.search("  task a {")
    brace_rules = [r for r in conf["onEnterRules"] if r["beforeText"].startswith("\\{")]
    assert [r["action"]["indent"] for r in brace_rules] == ["indentOutdent", "indent"]
    assert re.compile(conf["wordPattern"]).fullmatch("1h30m")
    assert re.compile(conf["folding"]["markers"]["start"]).match("  // region setup")


# ------------------------------------------------------------------ snippets

_MODULE_WORDS = ("workflow", "agent", "template", "abstract", "final", "type", "import",
                 "export")


def _expand(body: str) -> str:
    """The text a snippet inserts when every placeholder keeps its default: `${1:x}` -> x,
    `${1|a,b|}` -> a, `$1`/`${1}` -> nothing; escapes `\\$`, `\\}` -> the character."""
    choice = re.compile(r"\$\{\d+\|([^,|}]*)[^}]*\|\}")
    default = re.compile(r"\$\{\d+:((?:[^${}\\]|\\.)*)\}")  # innermost first
    previous = None
    while previous != body:
        previous = body
        body = choice.sub(lambda m: m.group(1), body)
        body = default.sub(lambda m: m.group(1), body)
    body = re.sub(r"\$\{\d+\}|\$\d+", "", body)
    assert "$" not in body.replace("\\$", ""), f"unexpanded snippet syntax in {body!r}"
    return re.sub(r"\\([$}\\])", r"\1", body)


def _in_context(text: str) -> str:
    """Wrap an expanded snippet where it belongs: a declaration at module level, a task field
    (`retry: …`, `on_error { … }`) in a task, anything else in a workflow body."""
    first = text.lstrip().split(None, 1)[0]
    if first in _MODULE_WORDS:
        return text + "\n"
    if re.match(r"[A-Za-z_]\w*\s*:", text) or first in ("on_error", "on_success"):
        return f'workflow W {{\n  version: "1.0.0"\n  task t {{\n    agent: "A"\n{text}\n  }}\n}}\n'
    return f'workflow W {{\n  version: "1.0.0"\n{text}\n}}\n'


def test_expand_keeps_defaults_and_choices() -> None:
    assert _expand("a ${1:x} ${2|p,q|} $3 ${4} ${5:${6:in}ner} $0") == "a x p   inner "
    assert _expand(r"use ${1:T}(a: ${2:\"v\"}) \${x\}") == r'use T(a: \"v\") ${x}'


def test_the_required_snippets_exist(snippets: dict[str, Any]) -> None:
    prefixes = [s["prefix"] for s in snippets.values()]
    assert len(prefixes) == len(set(prefixes))
    assert {"workflow", "task", "agent", "parallel", "sequence", "if", "ifelse", "foreach",
            "while", "switch", "retry", "on_error", "template", "use"} <= set(prefixes)
    for name, snippet in snippets.items():
        assert snippet["description"], name
        assert isinstance(snippet["body"], list) and snippet["body"], name


@pytest.mark.parametrize("name", sorted(_json("snippets/twdsl.json")))
def test_every_snippet_is_valid_twdsl(name: str, snippets: dict[str, Any]) -> None:
    """A snippet, with its placeholders at their defaults, parses without a syntax error and
    has no structure error (unknown field, statement where none may stand) where it belongs."""
    text = _in_context(_expand("\n".join(snippets[name]["body"])).replace("\t", "  "))
    parsed = twdsl.parse(text, f"{name}.twdsl")
    assert [(d.code, d.message) for d in parsed.diagnostics] == [], text
    analysis = twdsl.analyze(text, f"{name}.twdsl")
    structural = [(d.code, d.message) for d in analysis.diagnostics
                  if (code := lookup(d.code)) is not None and code.stage in ("syntax", "structure")]
    assert structural == [], text
