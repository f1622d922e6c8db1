"""The VS Code extension in a real VS Code: code-server (VS Code 1.96 in a browser) with the
freshly built .vsix installed, driven in Debian's headless Chromium by puppeteer-core
(editors/vscode/e2e/run.mjs), on a copy of examples/.

The driver works the editor as a person would (Quick Open, typing, the Command Palette,
Ctrl+Space, F12...) and records what the editor renders at each step; the tests here assert
it.  Screenshots of every step are kept in .ci-artifacts/vscode/ (with report.json).

What it needs is prepared by .ci/setup-vscode-e2e (Debian's Chromium, code-server pinned and
prepared once into ~/.cache/twdsl-e2e); the fixture runs it, and builds the .vsix when it is
older than the extension's sources.  When the editor cannot be prepared the tests fail under
CI (env CI set) and are skipped elsewhere, saying why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

import twdsl
import twdsl.ide as ide

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "editors" / "vscode"
SETUP = ROOT / ".ci" / "setup-vscode-e2e"
ARTIFACTS = ROOT / ".ci-artifacts" / "vscode"
EXAMPLE = "create_full_stack_app.twdsl"
SOURCE = (ROOT / "examples" / EXAMPLE).read_text(encoding="utf-8")
LINES = SOURCE.split("\n")
# The Default Dark Modern theme's colours, as the editor renders them.
COMMENT, KEYWORD, TYPE, PROPERTY, STRING, FUNCTION, PLAIN, BRACKET = (
    "#6A9955", "#569CD6", "#4EC9B0", "#9CDCFE", "#CE9178", "#DCDCAA", "#CCCCCC", "#FFD700")
USER_SETTINGS = {
    "workbench.colorTheme": "Default Dark Modern",
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "workbench.welcomePage.walkthroughs.openOnInstall": False,
    "editor.minimap.enabled": False,
    "telemetry.telemetryLevel": "off",
    "extensions.ignoreRecommendations": True,
    "remote.autoForwardPorts": False,
    "git.enabled": False,
    "files.autoSave": "off",
    "security.workspace.trust.enabled": False,
}


# F5 starts the debugger (docs/debugging.md) on the example with its inputs
LAUNCH = {"version": "0.2.0", "configurations": [{
    "type": "twdsl", "request": "launch", "name": "Debug the example",
    "program": f"${{workspaceFolder}}/{EXAMPLE}",
    "inputsFile": "${workspaceFolder}/create_full_stack_app.inputs.json"}]}


def find(marker: str, k: int = 0, after: str = "") -> tuple[int, int]:
    """1-based line and column of the k-th character after ``marker`` (first after
    ``after``), as run.mjs finds it."""
    i = SOURCE.index(marker, SOURCE.index(after) if after else 0) + k
    return SOURCE.count("\n", 0, i) + 1, i - SOURCE.rfind("\n", 0, i)


def missing(reason: str) -> NoReturn:
    """What the e2e test needs is not there: a failure in CI, a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"the VS Code end-to-end test cannot run: {reason}", pytrace=False)
    pytest.skip(f"the VS Code end-to-end test cannot run: {reason}")


def prepared_code_server() -> Path:
    """The prepared code-server's folder (.ci/setup-vscode-e2e, which keeps what is there)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing("Node.js 20 and npm are not installed")
    proc = subprocess.run([str(SETUP)], capture_output=True, text=True, timeout=1800,
                          check=False)
    if proc.returncode != 0:
        missing(f"{SETUP.relative_to(ROOT)} failed (exit {proc.returncode}):\n"
                f"{proc.stderr[-3000:]}")
    folder = Path(proc.stdout.strip().splitlines()[-1])
    if not (folder / "out" / "node" / "entry.js").is_file():
        missing(f"{SETUP.relative_to(ROOT)} named {folder}, which holds no code-server")
    return folder


def fresh_vsix() -> Path:
    """The extension's .vsix, built again when older than any of its sources."""
    version = json.loads((EXT / "package.json").read_text(encoding="utf-8"))["version"]
    vsix = EXT / f"twdsl-{version}.vsix"
    sources = [EXT / "package.json", EXT / "language-configuration.json",
               *(p for d in ("src", "syntaxes", "snippets") for p in (EXT / d).rglob("*"))]
    newest = max(p.stat().st_mtime for p in sources if p.is_file())
    if not (EXT / "node_modules" / "puppeteer-core").is_dir():
        npm("ci", "--no-audit", "--no-fund")
    if not vsix.is_file() or vsix.stat().st_mtime < newest:
        npm("run", "package")
    return vsix


def npm(*args: str) -> None:
    proc = subprocess.run(["npm", *args], cwd=EXT, capture_output=True, text=True,
                          timeout=900, check=False)
    if proc.returncode != 0:
        missing(f"`npm {' '.join(args)}` in editors/vscode failed:\n{proc.stderr[-3000:]}")


def output_log(user_data: Path) -> str:
    """The extension's output channel as VS Code saved it (the newest session's)."""
    logs = sorted(user_data.glob("logs/*/exthost*/twdsl.twdsl/TWDSL Language Server.log"),
                  key=lambda p: p.stat().st_mtime)
    return logs[-1].read_text(encoding="utf-8") if logs else "(no output channel log)"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Prepare code-server, install the .vsix, open a copy of examples/ and run the driver
    once; the tests below read its report."""
    code_server = prepared_code_server()
    chromium = shutil.which("chromium")
    if chromium is None:
        missing("Debian's chromium is not installed (.ci/setup-vscode-e2e installs it)")
    vsix = fresh_vsix()

    tmp = tmp_path_factory.mktemp("vscode-e2e")
    workspace, user_data, extensions = tmp / "workspace", tmp / "user-data", tmp / "extensions"
    shutil.copytree(ROOT / "examples", workspace)
    (workspace / ".vscode").mkdir()
    (workspace / ".vscode" / "settings.json").write_text(
        json.dumps({"twdsl.server.pythonPath": sys.executable}, indent=2))
    (workspace / ".vscode" / "launch.json").write_text(json.dumps(LAUNCH, indent=2))
    (user_data / "User").mkdir(parents=True)
    (user_data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS, indent=2))
    config = tmp / "code-server.yaml"
    config.write_text("")  # else code-server writes one into ~/.config
    entry = str(code_server / "out" / "node" / "entry.js")
    common = ["--config", str(config), "--user-data-dir", str(user_data),
              "--extensions-dir", str(extensions)]
    installed = subprocess.run(["node", entry, *common, "--install-extension", str(vsix)],
                               capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0 and "successfully installed" in installed.stdout, (
        f"installing {vsix.name} into code-server failed:\n{installed.stdout}{installed.stderr}")

    log = tmp / "code-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["node", entry, *common, "--auth", "none", "--bind-addr", "127.0.0.1:0",
             "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
             str(workspace)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)  # its own process group: stopped whole below
    try:
        url = None
        for _ in range(600):  # it says where it listens once it does
            found = re.search(r"HTTP server listening on (http://127\.0\.0\.1:\d+)/",
                              log.read_text(errors="replace"))
            if found:
                url = found[1]
                break
            assert server.poll() is None, f"code-server stopped:\n{log.read_text()}"
            time.sleep(0.1)
        assert url is not None, f"code-server did not listen within 60 s:\n{log.read_text()}"

        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        ARTIFACTS.mkdir(parents=True)
        driver_config = tmp / "driver.json"
        driver_config.write_text(json.dumps({
            "url": f"{url}/?folder={workspace}", "chromium": chromium,
            "workspace": str(workspace), "file": EXAMPLE, "artifacts": str(ARTIFACTS)}))
        driver = subprocess.run(["node", str(EXT / "e2e" / "run.mjs"), str(driver_config)],
                                cwd=EXT, capture_output=True, text=True, timeout=900,
                                check=False)
        if driver.returncode != 0:
            pytest.fail(f"the driver (editors/vscode/e2e/run.mjs) failed, exit "
                        f"{driver.returncode}:\n{driver.stderr[-5000:]}\n"
                        f"output channel:\n{output_log(user_data)}", pytrace=False)
        report: dict[str, Any] = json.loads(driver.stdout)
        report["workspace"] = str(workspace)
        report["outputLog"] = output_log(user_data)
        (ARTIFACTS / "report.json").write_text(json.dumps(report, indent=2))
        (ARTIFACTS / "output-channel.log").write_text(report["outputLog"])
        yield report
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        except ProcessLookupError:
            pass


def seen(report: dict[str, Any], name: str) -> dict[str, Any]:
    """What step ``name`` saw; a step that failed fails its test with what the editor showed."""
    [step] = [s for s in report["steps"] if s["name"] == name]
    if "error" in step:
        visible = json.dumps(step.get("visible"), indent=2, ensure_ascii=False)
        pytest.fail(
            f"step '{name}': {step['error']}\n"
            f"screenshot: {step.get('screenshot')}\n"
            f"what the editor showed:\n{visible.replace(chr(160), ' ')}\n"
            f"output channel ({ARTIFACTS / 'output-channel.log'}):\n{report['outputLog']}",
            pytrace=False)
    result: dict[str, Any] = step["seen"]
    return result


def on_failure(report: dict[str, Any], name: str) -> str:
    [step] = [s for s in report["steps"] if s["name"] == name]
    return f"step '{name}' saw {json.dumps(step['seen'], indent=2)[:4000]}\n" \
           f"screenshot: {step.get('screenshot')}"


def merged(spans: list[dict[str, str]]) -> list[tuple[str, str]]:
    """Spans of one colour joined (the editor splits long tokens for rendering)."""
    out: list[tuple[str, str]] = []
    for span in spans:
        if out and out[-1][1] == span["color"]:
            out[-1] = (out[-1][0] + span["text"], span["color"])
        else:
            out.append((span["text"], span["color"]))
    return [(text.strip() if text.strip() else text, color) for text, color in out]


def channel(text: str) -> list[tuple[str, str]]:
    """The entries of a log output channel: (level, message); a message may span lines."""
    out: list[tuple[str, str]] = []
    for line in text.split("\n"):
        m = re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(\w+)\] (.*)$", line)
        if m:
            out.append((m[1], m[2]))
        elif out and line:
            out[-1] = (out[-1][0], out[-1][1] + line)
    return out


def test_the_server_starts_and_says_it_is_ready(session: dict[str, Any]) -> None:
    got = seen(session, "open")
    assert got["language"] == "TWDSL", on_failure(session, "open")
    # Inlay hints come from the server: the type of the task's result after its name.
    assert got["inlayHint"] == "    task generateFrontend: { build_path: string } {"
    python, ws = sys.executable, session["workspace"]
    assert channel("\n".join(got["output"])) == [
        ("info", f"starting: {python} -m twdsl.cli lsp (in {ws})"),
        ("info", f"twdsl {twdsl.__version__} language server ready (pull diagnostics)"),
    ]


def test_highlighting_textmate_and_semantic(session: dict[str, Any]) -> None:
    got = seen(session, "highlighting")
    assert merged(got["commentLine"]) == [(LINES[0], COMMENT)]
    assert merged(got["agentLine"]) == [
        ("agent", KEYWORD), ("UISelectionAgent", TYPE), ("{", BRACKET)]
    assert merged(got["descriptionLine"]) == [
        ("description", PROPERTY), (":", PLAIN),
        ('"Generates the frontend for a framework and a set of UI features."', STRING)]
    # The grammar's scope, then the server's semantic token type, which decides the colour.
    assert got["agentReference"] == {
        "token": "UISelectionAgent", "textmateScope": "entity.name.type.agent.twdsl",
        "semanticTokenType": "interface", "foreground": TYPE}
    assert got["taskReference"] == {
        "token": "generateFrontend", "textmateScope": "variable.other.readwrite.twdsl",
        "semanticTokenType": "function", "foreground": FUNCTION}


TIMEOUT_LINE, TIMEOUT_COLUMN = find("timeout: 5m", 0, "task generateFrontend")


def test_a_typed_mistake_is_squiggled_and_listed_in_problems(session: dict[str, Any]) -> None:
    got = seen(session, "diagnostic")
    mistaken = SOURCE.replace("      timeout: 5m", "      timout: 5m", 1)
    [error] = [d for d in twdsl.analyze(mistaken, EXAMPLE).diagnostics
               if d.severity.value == "error"]
    assert (error.code, error.span.line, error.span.column) == (
        "TW120", TIMEOUT_LINE, TIMEOUT_COLUMN)
    assert got["squiggleLines"] == [TIMEOUT_LINE]
    assert got["problems"] == {
        "rows": [f"1 problems in file {EXAMPLE} of folder .",
                 f"Error: {error.message} at line {TIMEOUT_LINE} and character "
                 f"{TIMEOUT_COLUMN}. generated by twdsl"],
        "message": None,
    }


def test_the_quick_fix_repairs_it(session: dict[str, Any]) -> None:
    got = seen(session, "quick-fix")
    assert got["actions"] == ["rename to 'timeout'",
                              "Suppress TW120 (unknown-field) on this line"]
    assert got["line"] == LINES[TIMEOUT_LINE - 1]
    assert got["squiggleLines"] == []
    assert got["problems"] == {
        "rows": [], "message": "No problems have been detected in the workspace."}


def test_completion_in_a_task_body_offers_only_its_fields(session: dict[str, Any]) -> None:
    got = seen(session, "completion")
    line, _ = find("timeout: 10m", 0, "task generateBackend")
    assert got["position"] == {"line": line + 1, "column": 7}
    # What the server answers there (the text with the new line the driver typed)...
    offset = SOURCE.index("timeout: 10m\n", SOURCE.index("task generateBackend")) + 12
    text = SOURCE[:offset] + "\n      " + SOURCE[offset:]
    items, _ = ide.complete(text, offset + 7, None, EXAMPLE)
    expected = [it.label for it in sorted(items, key=lambda it: f"{it.sort}{it.label}")]
    assert expected[:8] == ["cache", "depends", "description", "on_error", "on_success",
                            "priority", "retry", "when"]
    # ...is the whole list: no static snippet (`workflow`, `parallel`...) crowds it.
    assert got["items"] == expected, on_failure(session, "completion")
    assert got["total"] == len(expected)
    # The selected item's documentation, from the server, as the details pane renders it.
    first = min(items, key=lambda it: f"{it.sort}{it.label}")
    assert got["details"] == first.documentation.replace("`", "")


def test_hover_on_an_agent(session: dict[str, Any]) -> None:
    got = seen(session, "hover")
    assert got["text"] == (
        "agent UISelectionAgent\n"
        "  input { framework: string, features: array<string> }\n"
        "  output { build_path: string }\n"
        "\n"
        "Generates the frontend for a framework and a set of UI features.")


def test_format_document(session: dict[str, Any]) -> None:
    got = seen(session, "format")
    assert got["before"] == "    " + LINES[TIMEOUT_LINE - 1]
    assert got["after"] == LINES[TIMEOUT_LINE - 1]
    # Saved after formatting: the file is the example again, byte for byte.
    assert got["saved"] == SOURCE


def test_go_to_definition(session: dict[str, Any]) -> None:
    got = seen(session, "definition")
    line, column = find("task generateFrontend", len("task "))
    assert got["cursor"] == {"line": line, "column": column}
    assert got["line"] == "    task generateFrontend {"


# run.mjs appends a blank line, `[check]` and a broken `ignore = ["TW504"]]` to twdsl.toml.
BROKEN_LINE = (ROOT / "examples" / "twdsl.toml").read_text(encoding="utf-8").count("\n") + 3


def test_a_broken_configuration_shows_without_an_edit(session: dict[str, Any]) -> None:
    got = seen(session, "configuration")
    toml = Path(session["workspace"]) / "twdsl.toml"
    line = BROKEN_LINE
    assert got["problems"] == {
        "rows": ["1 problems in file twdsl.toml of folder .",
                 f"Error: configuration ignored (the defaults are used): {toml}: not valid "
                 f"TOML: Expected newline or end of document after a statement (at line "
                 f"{line}, column 19) at line {line} and character 19. generated by twdsl"],
        "message": None,
    }
    assert got["fixed"] == {
        "rows": [], "message": "No problems have been detected in the workspace."}


def test_a_restart_is_not_an_error(session: dict[str, Any]) -> None:
    got = seen(session, "restart")
    # The channel shows its end; VS Code keeps the whole of it in its log folder.
    ready = f"twdsl {twdsl.__version__} language server ready (pull diagnostics)"
    assert channel("\n".join(got["output"]))[-1] == ("info", ready)
    entries = channel(session["outputLog"])
    python, ws = sys.executable, session["workspace"]
    starts = [i for i, e in enumerate(entries)
              if e == ("info", f"starting: {python} -m twdsl.cli lsp (in {ws})")]
    assert len(starts) == 2, entries
    assert entries[starts[1]:] == [
        ("info", f"starting: {python} -m twdsl.cli lsp (in {ws})"),
        ("info", "Server process exited with code 0."),
        ("info", ready),
    ]
    # The whole session: the one error is the broken configuration's (also shown once as a
    # notification); nothing from pygls (no "Ignoring notification for unknown method" on
    # save, no warning for a cancelled request).
    broken = (f"twdsl: configuration ignored: {ws}/twdsl.toml: not valid TOML: Expected "
              f"newline or end of document after a statement (at line {BROKEN_LINE}, column 19)")
    assert [e for e in entries if e[0] != "info"] == [("error", broken)]
    assert [e for e in entries if "notification" in e[1].lower()] == []
    assert got["notifications"] == [broken]


def test_a_breakpoint_stops_the_run_in_the_debugger(session: dict[str, Any]) -> None:
    got = seen(session, "debug")
    line, column = find("task generateFeatureTests {")
    assert got["breakpointLines"] == [line]
    # F5: the editor shows where the run stopped, before the loop's first task starts (the
    # icon VS Code puts at the frame's column aside)
    assert got["stoppedLines"] == [line]
    assert re.sub("[\ue000-\uf8ff]", "", got["stoppedLine"]) == LINES[line - 1]
    assert got["callStack"] == [
        f"generateFeatureTests[0] {EXAMPLE} {line}:{column}",
        f"foreach feature[0] {EXAMPLE} {line - 1}:{column - 2}",
        f"workflow CreateFullStackApp {EXAMPLE} {find('workflow CreateFullStackApp')[0]}:1"]
    inputs = json.loads((ROOT / "examples" / "create_full_stack_app.inputs.json").read_text())
    rows = got["variables"]
    # the stopped task (expanded by VS Code), then the inputs, opened by a click
    assert rows[:4] == ["Task", 'task = "generateFeatureTests[0]"',
                        'agent = "TestGenerationAgent"', 'status = "pending"'], rows
    assert rows[4].startswith('input = {"feature_name":"ui_cart","project_context":{'), rows
    assert rows[5:] == [
        "Locals", "Inputs",
        f"project_name = {json.dumps(inputs['project_name'])}",
        f"tech_stack = {json.dumps(inputs['tech_stack'], separators=(',', ':'))}",
        f"features = {json.dumps(inputs['features'], separators=(',', ':'))}",
        "Tasks", "Context"], rows
    # Shift+F5 cancelled the run: the debug console says so
    assert re.fullmatch(r"run \S+ cancelled: cancelled: the run was cancelled",
                        got["console"][-1]), got["console"]
