"""The language server end to end: a real ``python -m twdsl.cli lsp`` subprocess over stdio,
driven by pytest-lsp with the bundled VS Code and Neovim client capabilities."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsp_helpers import SERVER
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "lsp"


@pytest_lsp.fixture(config=SERVER, params=["visual-studio-code", "neovim"])
async def client(lsp_client: LanguageClient, request: pytest.FixtureRequest):
    """A server per test, initialised as VS Code (push diagnostics) or Neovim 0.11 (pull)."""
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities(request.param))
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def vscode(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=SERVER)
async def neovim(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("neovim"))
    )
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The two-file fixture project in a folder of its own (no configuration above it)."""
    for name in ("main.twdsl", "lib.twdsl"):
        shutil.copy(FIX / name, tmp_path / name)
    return tmp_path


def uri(path: Path) -> str:
    return path.as_uri()


def open_doc(client: LanguageClient, path: Path, text: str | None = None) -> str:
    u = uri(path)
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(u, "twdsl", 1, path.read_text() if text is None else text)
        )
    )
    return u


def at(text: str, marker: str, k: int = 0) -> lsp.Position:
    i = text.index(marker) + k
    line = text.count("\n", 0, i)
    return lsp.Position(line, i - (text.rfind("\n", 0, i) + 1))


def rng(a: tuple[int, int], b: tuple[int, int]) -> lsp.Range:
    return lsp.Range(lsp.Position(*a), lsp.Position(*b))


async def diagnostics(
    client: LanguageClient, u: str, version: int, since: int = 0
) -> list[lsp.Diagnostic]:
    """The diagnostics of ``u`` at ``version``, pulled if the client pulls, else the first
    published after the ``since``-th publication."""
    if (
        client.capabilities is not None
        and client.capabilities.text_document is not None
        and client.capabilities.text_document.diagnostic is not None
    ):
        report = await client.text_document_diagnostic_async(
            lsp.DocumentDiagnosticParams(lsp.TextDocumentIdentifier(u))
        )
        assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport)
        return list(report.items)
    published = client.published  # type: ignore[attr-defined]
    for _ in range(6000):  # a bounded wait for the server's notification
        for params in published[since:]:
            if params.uri == u and params.version == version:
                return list(params.diagnostics)
        await asyncio.sleep(0.005)
    raise AssertionError(f"no diagnostics for {u} at version {version}")


def errors_logged(client: LanguageClient) -> list[str]:
    return [m.message for m in client.log_messages if m.type == lsp.MessageType.Error]


# ------------------------------------------------------------------------------ diagnostics
async def test_diagnostics_follow_incremental_changes(
    client: LanguageClient, tmp_path: Path
) -> None:
    text = 'workflow W {\n  version: "1.0.0"\n  task a { agent: "X" timout: 5m }\n}\n'
    u = open_doc(client, tmp_path / "w.twdsl", text)
    got = await diagnostics(client, u, 1)
    assert [(d.range, d.code, d.message, d.severity) for d in got] == [
        (
            rng((2, 22), (2, 28)),
            "TW120",
            "unknown field 'timout' in task 'a'; did you mean 'timeout'?",
            lsp.DiagnosticSeverity.Error,
        )
    ]
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=u, version=2),
            [lsp.TextDocumentContentChangePartial(range=rng((2, 25), (2, 25)), text="e")],
        )
    )
    assert await diagnostics(client, u, 2) == []
    assert errors_logged(client) == []


async def test_pull_diagnostics_report_unchanged(neovim: LanguageClient, tmp_path: Path) -> None:
    """Neovim 0.11 pulls; the second pull of an unchanged document is 'unchanged'."""
    u = open_doc(neovim, tmp_path / "w.twdsl", "workflow W { version: }")
    first = await neovim.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(lsp.TextDocumentIdentifier(u))
    )
    assert isinstance(first, lsp.RelatedFullDocumentDiagnosticReport)
    assert [(d.code, d.range, d.message) for d in first.items] == [
        ("TW110", rng((0, 22), (0, 23)), "unexpected '}' in workflow 'W'; expected an expression")
    ]
    again = await neovim.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(
            lsp.TextDocumentIdentifier(u), previous_result_id=first.result_id
        )
    )
    assert isinstance(again, lsp.RelatedUnchangedDocumentDiagnosticReport)
    assert again.result_id == first.result_id
    assert u not in neovim.diagnostics  # nothing pushed to a client that pulls


async def test_editing_an_imported_file_republishes_its_importer(
    vscode: LanguageClient, project: Path
) -> None:
    lib_text = (project / "lib.twdsl").read_text()
    main = open_doc(vscode, project / "main.twdsl")
    assert await diagnostics(vscode, main, 1) == []
    lib = open_doc(vscode, project / "lib.twdsl")
    assert await diagnostics(vscode, lib, 1) == []
    # rename the agent's output `path` to `dir`: main reads build.result.path
    since = len(vscode.published)  # type: ignore[attr-defined]
    vscode.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=lib, version=2),
            [
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(at(lib_text, "path: string"), at(lib_text, "path: string", 4)),
                    text="dir",
                )
            ],
        )
    )
    assert await diagnostics(vscode, lib, 2, since) == []
    published = vscode.published  # type: ignore[attr-defined]
    # the importer is analysed with it, and published right after it
    after = next(i for i, p in enumerate(published) if p.uri == lib and p.version == 2)
    got = await diagnostics(vscode, main, 1, after + 1)
    assert [(d.code, d.message, d.range) for d in got] == [
        ("TW302", "{ dir: string, size: number } has no field 'path'", rng((11, 33), (11, 37)))
    ]


async def test_a_broken_configuration_is_reported_not_fatal(
    vscode: LanguageClient, tmp_path: Path
) -> None:
    (tmp_path / "twdsl.toml").write_text('[check]\nignore = ["TW999"]\n')
    u = open_doc(vscode, tmp_path / "w.twdsl", 'workflow W { version: "1.0.0" input { n: number } }')
    got = await diagnostics(vscode, u, 1)
    assert [d.code for d in got] == ["TW504"]  # checked with the defaults
    assert [m.message for m in vscode.messages] == [
        f"twdsl: configuration ignored: {tmp_path / 'twdsl.toml'}: check.ignore: unknown code "
        "'TW999' (see `twdsl check --explain CODE`)"
    ]


# ------------------------------------------------------------------------------- features
async def test_completion_of_result_fields(client: LanguageClient, project: Path) -> None:
    text = (project / "main.twdsl").read_text()
    u = open_doc(client, project / "main.twdsl")
    await diagnostics(client, u, 1)  # analysed once: completion reads that analysis
    new = text.replace("= build.result.path", "= build.result.")
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=u, version=2),
            [lsp.TextDocumentContentChangeWholeDocument(text=new)],
        )
    )
    result = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(u), position=at(new, "build.result.", 13)
        )
    )
    assert isinstance(result, lsp.CompletionList)
    items = [(i.label, i.kind, i.detail, i.text_edit) for i in result.items]
    here = at(new, "build.result.", 13)
    assert items[:2] == [
        (
            "path",
            lsp.CompletionItemKind.Property,
            "string",
            lsp.TextEdit(lsp.Range(here, here), "path"),
        ),
        (
            "size",
            lsp.CompletionItemKind.Property,
            "number",
            lsp.TextEdit(lsp.Range(here, here), "size"),
        ),
    ]
    assert [i[0] for i in items[2:]] == ["keys", "values", "has"]


async def test_navigation_across_files(client: LanguageClient, project: Path) -> None:
    text = (project / "main.twdsl").read_text()
    main = open_doc(client, project / "main.twdsl")
    lib = open_doc(client, project / "lib.twdsl")
    doc = lsp.TextDocumentIdentifier(main)
    where = at(text, "agent: Builder", 9)
    defs = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc, position=where)
    )
    assert list(defs or []) == [lsp.Location(lib, rng((0, 13), (0, 20)))]
    refs = await client.text_document_references_async(
        lsp.ReferenceParams(
            text_document=doc,
            position=where,
            context=lsp.ReferenceContext(include_declaration=True),
        )
    )
    assert list(refs or []) == [
        lsp.Location(lib, rng((0, 13), (0, 20))),
        lsp.Location(main, rng((0, 9), (0, 16))),
        lsp.Location(main, rng((15, 11), (15, 18))),
        lsp.Location(main, rng((22, 11), (22, 18))),
    ]
    prep = await client.text_document_prepare_rename_async(
        lsp.PrepareRenameParams(text_document=doc, position=where)
    )
    assert prep == lsp.PrepareRenamePlaceholder(rng((15, 11), (15, 18)), "Builder")
    edit = await client.text_document_rename_async(
        lsp.RenameParams(text_document=doc, position=where, new_name="Maker")
    )
    assert edit is not None and edit.changes is not None
    assert {k: list(v) for k, v in edit.changes.items()} == {
        lib: [lsp.TextEdit(rng((0, 13), (0, 20)), "Maker")],
        main: [
            lsp.TextEdit(rng((0, 9), (0, 16)), "Maker"),
            lsp.TextEdit(rng((15, 11), (15, 18)), "Maker"),
            lsp.TextEdit(rng((22, 11), (22, 18)), "Maker"),
        ],
    }
    hover = await client.text_document_hover_async(
        lsp.HoverParams(text_document=doc, position=at(text, "build.r"))
    )
    assert hover is not None and hover.range == rng((11, 20), (11, 25))
    assert isinstance(hover.contents, lsp.MarkupContent)
    assert hover.contents.value == (
        "```twdsl\ntask build\n  agent: Builder\n  result: { path: string, size: number }\n```"
    )


async def test_symbols(vscode: LanguageClient, project: Path) -> None:
    main = open_doc(vscode, project / "main.twdsl")
    open_doc(vscode, project / "lib.twdsl")
    syms = await vscode.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(lsp.TextDocumentIdentifier(main))
    )
    assert syms is not None
    outline = [
        (s.name, s.kind, s.selection_range, [c.name for c in s.children or []])
        for s in syms
        if isinstance(s, lsp.DocumentSymbol)
    ]
    assert outline == [
        ("Stack", lsp.SymbolKind.TypeParameter, rng((2, 5), (2, 10)), []),
        (
            "Ship",
            lsp.SymbolKind.Namespace,
            rng((4, 9), (4, 13)),
            ["project", "stack", "where", "build", "publish"],
        ),
    ]
    found = await vscode.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="pub"))
    assert found is not None
    assert [(s.name, s.kind, s.location) for s in found] == [
        ("publish", lsp.SymbolKind.Function, lsp.Location(main, rng((21, 7), (21, 14))))
    ]


async def test_formatting_and_code_actions(client: LanguageClient, tmp_path: Path) -> None:
    text = 'workflow W {\nversion:"1.0.0"\n  input { n: number }\n}\n'
    u = open_doc(client, tmp_path / "w.twdsl", text)
    doc = lsp.TextDocumentIdentifier(u)
    edits = await client.text_document_formatting_async(
        lsp.DocumentFormattingParams(
            text_document=doc, options=lsp.FormattingOptions(tab_size=2, insert_spaces=True)
        )
    )
    assert list(edits or []) == [
        lsp.TextEdit(
            rng((0, 0), (4, 0)), 'workflow W {\n  version: "1.0.0"\n  input {\n    n: number\n  }\n}\n'
        )
    ]
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=doc,
            range=rng((2, 10), (2, 10)),
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    assert [
        (a.title, {k: list(v) for k, v in (a.edit.changes or {}).items()})
        for a in actions
        if isinstance(a, lsp.CodeAction) and a.edit is not None
    ] == [
        (
            "Suppress TW504 (unused-input) on this line",
            {u: [lsp.TextEdit(rng((2, 0), (2, 0)), "  // twdsl-ignore: TW504\n")]},
        )
    ]


async def test_semantic_tokens_folding_inlay_hints_signature_help(
    client: LanguageClient, project: Path
) -> None:
    text = (project / "main.twdsl").read_text()
    u = open_doc(client, project / "main.twdsl")
    doc = lsp.TextDocumentIdentifier(u)
    toks = await client.text_document_semantic_tokens_full_async(
        lsp.SemanticTokensParams(text_document=doc)
    )
    assert toks is not None and list(toks.data[:10]) == [0, 9, 7, 2, 0, 0, 9, 6, 1, 0]
    folds = await client.text_document_folding_range_async(
        lsp.FoldingRangeParams(text_document=doc)
    )
    assert folds is not None
    assert [(f.start_line, f.end_line) for f in folds] == [
        (4, 27),
        (6, 8),
        (10, 11),
        (14, 18),
        (21, 24),
    ]
    hints = await client.text_document_inlay_hint_async(
        lsp.InlayHintParams(text_document=doc, range=rng((0, 0), (30, 0)))
    )
    assert hints is not None
    assert [(h.position, h.label) for h in hints] == [
        (at(text, "task build", 10), ": { path: string, size: number }"),
        (at(text, "retry: 3", 8), " ≤ 47s worst case"),
        (at(text, "task publish", 12), ": { path: string, size: number }"),
    ]
    new = text.replace("flags: []", "flags: [string(len(project), ")
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=u, version=2),
            [lsp.TextDocumentContentChangeWholeDocument(text=new)],
        )
    )
    sig = await client.text_document_signature_help_async(
        lsp.SignatureHelpParams(text_document=doc, position=at(new, "len(project), ", 14))
    )
    assert sig is not None
    assert [s.label for s in sig.signatures] == ["string(x)"]
    assert sig.active_parameter == 1


async def test_out_of_range_and_unknown_documents_get_empty_answers(
    vscode: LanguageClient, tmp_path: Path
) -> None:
    u = open_doc(vscode, tmp_path / "w.twdsl", "workflow")
    doc = lsp.TextDocumentIdentifier(u)
    far = lsp.Position(99, 99)
    assert (
        await vscode.text_document_hover_async(lsp.HoverParams(text_document=doc, position=far))
        is None
    )
    assert (
        await vscode.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc, position=far)
        )
        == []
    )
    result = await vscode.text_document_completion_async(
        lsp.CompletionParams(text_document=doc, position=far)
    )
    assert isinstance(result, lsp.CompletionList)
    # past the end is the end: the word `workflow` being typed at module level
    assert [i.label for i in result.items] == [
        "abstract",
        "agent",
        "export",
        "final",
        "import",
        "template",
        "type",
        "workflow",
        "workflow",
        "agent",
        "template",
    ]
    other = lsp.TextDocumentIdentifier((tmp_path / "never-opened.twdsl").as_uri())
    assert (
        await vscode.text_document_hover_async(lsp.HoverParams(text_document=other, position=far))
        is None
    )
    assert errors_logged(vscode) == []


def _frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read(sock: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, rest = data.split(b"\r\n\r\n", 1)
    length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
    while len(rest) < length:
        rest += sock.recv(4096)
    return json.loads(rest[:length])


def test_the_server_listens_on_tcp(tmp_path: Path) -> None:
    """`twdsl lsp --tcp --port N`: a real socket, initialize, shutdown and exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "twdsl.cli",
            "lsp",
            "--tcp",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):  # the server binds once Python has imported pygls
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("the server did not listen")
        with sock:
            sock.sendall(
                _frame(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {"processId": None, "capabilities": {}},
                    }
                )
            )
            reply = _read(sock)
            assert reply["id"] == 1
            caps = reply["result"]["capabilities"]
            assert caps["textDocumentSync"]["change"] == 2  # incremental
            assert caps["completionProvider"]["triggerCharacters"] == [".", ":", "[", "(", " ", '"']
            assert caps["renameProvider"] is True  # prepareRename only for clients that say so
            assert reply["result"]["serverInfo"]["name"] == "twdsl"
            sock.sendall(_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
            while (msg := _read(sock)).get("id") != 2:
                pass
            assert msg["result"] is None
            sock.sendall(_frame({"jsonrpc": "2.0", "method": "exit"}))
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest_lsp.fixture(config=SERVER)
async def misconfigured(lsp_client: LanguageClient):
    """A client passing an option the server cannot read: its handler fails."""
    await lsp_client.initialize_session(
        lsp.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"debounceMs": "soon"},
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_a_failing_handler_is_logged_and_the_server_goes_on(
    misconfigured: LanguageClient, tmp_path: Path
) -> None:
    errors = errors_logged(misconfigured)
    assert len(errors) == 1
    assert errors[0].startswith("twdsl: initialize failed:\nTraceback")
    assert "ValueError: could not convert string to float: 'soon'" in errors[0]
    u = open_doc(misconfigured, tmp_path / "w.twdsl", "workflow W { version: }")
    assert [d.code for d in await diagnostics(misconfigured, u, 1)] == ["TW110"]


@pytest_lsp.fixture(config=SERVER)
async def puller(lsp_client: LanguageClient):
    """Neovim's capabilities, plus support for workspace/diagnostic/refresh."""
    caps = client_capabilities("neovim")
    assert caps.workspace is not None
    caps.workspace.diagnostics = lsp.DiagnosticWorkspaceClientCapabilities(refresh_support=True)
    await lsp_client.initialize_session(lsp.InitializeParams(capabilities=caps))
    yield
    await lsp_client.shutdown_session()


async def test_a_pulling_client_is_asked_to_pull_again_when_an_import_changes(
    puller: LanguageClient, project: Path
) -> None:
    lib_text = (project / "lib.twdsl").read_text()
    main = open_doc(puller, project / "main.twdsl")
    assert await diagnostics(puller, main, 1) == []
    lib = open_doc(puller, project / "lib.twdsl")
    assert await diagnostics(puller, lib, 1) == []
    start = puller.diagnostic_refresh_count
    puller.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=lib, version=2),
            content_changes=[
                lsp.TextDocumentContentChangePartial(
                    range=lsp.Range(at(lib_text, "path: string"), at(lib_text, "path: string", 4)),
                    text="dir",
                )
            ],
        )
    )
    for _ in range(3000):  # a request from the server: the client counts them
        if puller.diagnostic_refresh_count > start:
            break
        await asyncio.sleep(0.01)
    assert puller.diagnostic_refresh_count == start + 1
    assert [d.code for d in await diagnostics(puller, main, 1)] == ["TW302"]


# ---------------------------------------------------------------- files changed on disk
def changed_on_disk(client: LanguageClient, *events: tuple[Path, lsp.FileChangeType]) -> None:
    """What an editor sends when files it watches for the server change on disk."""
    client.workspace_did_change_watched_files(
        lsp.DidChangeWatchedFilesParams([lsp.FileEvent(uri(p), t) for p, t in events])
    )


async def test_the_server_asks_the_client_to_watch_modules_and_configurations(
    vscode: LanguageClient,
) -> None:
    for _ in range(3000):  # a request from the server, answered by the client
        if vscode.registrations:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.01)
    assert [
        (r.id, r.method, r.register_options)
        for r in vscode.registrations  # type: ignore[attr-defined]
    ] == [
        (
            "twdsl-watched-files",
            "workspace/didChangeWatchedFiles",
            {
                "watchers": [
                    {"globPattern": "**/*.twdsl"},
                    {"globPattern": "**/twdsl.toml"},
                    {"globPattern": "**/pyproject.toml"},
                ]
            },
        )
    ]


async def test_a_configuration_changed_on_disk_is_applied_without_an_edit(
    vscode: LanguageClient, tmp_path: Path
) -> None:
    """twdsl.toml silences TW504; broken, it shows as a problem of twdsl.toml (where TOML
    says) and the document is checked with the defaults; fixed, both clear. No edit of the
    document in between: the server hears of the file through didChangeWatchedFiles."""
    toml = tmp_path / "twdsl.toml"
    toml.write_text('[check]\nignore = ["TW504"]\n')
    u = open_doc(vscode, tmp_path / "w.twdsl", 'workflow W { version: "1.0.0" input { n: number } }')
    assert await diagnostics(vscode, u, 1) == []

    since = len(vscode.published)  # type: ignore[attr-defined]
    toml.write_text('[check]\nignore = ["TW504"]]\n')
    changed_on_disk(vscode, (toml, lsp.FileChangeType.Changed))
    got = await diagnostics(vscode, u, 1, since)
    assert [d.code for d in got] == ["TW504"]
    [problem] = [p for p in vscode.published[since:]  # type: ignore[attr-defined]
                 if p.uri == uri(toml)]
    assert [(d.range, d.severity, d.message) for d in problem.diagnostics] == [
        (
            rng((1, 18), (1, 18)),
            lsp.DiagnosticSeverity.Error,
            f"configuration ignored (the defaults are used): {toml}: not valid TOML: "
            "Expected newline or end of document after a statement (at line 2, column 19)",
        )
    ]

    since = len(vscode.published)  # type: ignore[attr-defined]
    toml.write_text('[check]\nignore = ["TW504"]\n')
    changed_on_disk(vscode, (toml, lsp.FileChangeType.Changed))
    assert await diagnostics(vscode, u, 1, since) == []
    for _ in range(3000):
        if not vscode.diagnostics[uri(toml)]:
            break
        await asyncio.sleep(0.01)
    assert list(vscode.diagnostics[uri(toml)]) == []
    # a configuration file deleted: the defaults apply again
    since = len(vscode.published)  # type: ignore[attr-defined]
    toml.unlink()
    changed_on_disk(vscode, (toml, lsp.FileChangeType.Deleted))
    assert [d.code for d in await diagnostics(vscode, u, 1, since)] == ["TW504"]
    assert errors_logged(vscode) == [
        f"twdsl: configuration ignored: {toml}: not valid TOML: Expected newline or end of "
        "document after a statement (at line 2, column 19)"
    ]


async def test_an_imported_file_changed_on_disk_reanalyses_its_open_importers(
    vscode: LanguageClient, project: Path
) -> None:
    main = open_doc(vscode, project / "main.twdsl")
    assert await diagnostics(vscode, main, 1) == []
    other = open_doc(vscode, project / "other.twdsl", 'workflow O { version: "1.0.0" }')
    assert await diagnostics(vscode, other, 1) == []
    lib = project / "lib.twdsl"
    since = len(vscode.published)  # type: ignore[attr-defined]
    lib.write_text(lib.read_text().replace("path: string", "dir: string"))
    changed_on_disk(vscode, (lib, lsp.FileChangeType.Changed))
    got = await diagnostics(vscode, main, 1, since)
    assert [(d.code, d.message, d.range) for d in got] == [
        ("TW302", "{ dir: string, size: number } has no field 'path'", rng((11, 33), (11, 37)))
    ]
    # only the importer was analysed again
    assert [p.uri for p in vscode.published[since:]] == [main]  # type: ignore[attr-defined]

    # deleted: every open document is analysed again (an import may now be missing)
    since = len(vscode.published)  # type: ignore[attr-defined]
    lib.unlink()
    changed_on_disk(vscode, (lib, lsp.FileChangeType.Deleted))
    got = await diagnostics(vscode, main, 1, since)
    assert [(d.code, d.message, d.range) for d in got] == [
        ("TW220", f"cannot import './lib.twdsl': there is no file {lib}", rng((0, 32), (0, 45)))
    ]
    await diagnostics(vscode, other, 1, since)
    assert errors_logged(vscode) == []


async def test_a_pulling_client_is_asked_to_pull_again_when_a_configuration_changes(
    puller: LanguageClient, tmp_path: Path
) -> None:
    toml = tmp_path / "twdsl.toml"
    toml.write_text('[check]\nignore = ["TW504"]\n')
    u = open_doc(puller, tmp_path / "w.twdsl", 'workflow W { version: "1.0.0" input { n: number } }')
    assert await diagnostics(puller, u, 1) == []
    start = puller.diagnostic_refresh_count
    toml.write_text("[check]\n")
    changed_on_disk(puller, (toml, lsp.FileChangeType.Changed))
    for _ in range(3000):
        if puller.diagnostic_refresh_count > start:
            break
        await asyncio.sleep(0.01)
    assert puller.diagnostic_refresh_count == start + 1
    assert [d.code for d in await diagnostics(puller, u, 1)] == ["TW504"]


def test_a_normal_session_writes_nothing_to_stderr(tmp_path: Path) -> None:
    """What an editor shows as the server's output: nothing, for a session with a save (the
    file watcher's notification follows it) and a cancel of a request already answered.  And
    once `shutdown` is answered, nothing more is sent: an edit made just before it is not
    analysed and published after (CI once saw a late publishDiagnostics there)."""
    doc = tmp_path / "w.twdsl"
    doc.write_text('workflow W { version: "1.0.0" }\n')
    messages = [
        {"id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}},
        {"method": "initialized", "params": {}},
        {"method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": uri(doc), "languageId": "twdsl", "version": 1, "text": doc.read_text()}}},
        {"id": 2, "method": "textDocument/hover", "params": {
            "textDocument": {"uri": uri(doc)}, "position": {"line": 0, "character": 10}}},
        {"method": "$/cancelRequest", "params": {"id": 2}},
        {"method": "textDocument/didSave", "params": {"textDocument": {"uri": uri(doc)}}},
        {"method": "workspace/didChangeWatchedFiles", "params": {
            "changes": [{"uri": uri(doc), "type": 2}]}},
        {"method": "$/cancelRequest", "params": {"id": 999}},
        {"method": "textDocument/didChange", "params": {
            "textDocument": {"uri": uri(doc), "version": 2},
            "contentChanges": [{"text": "workflow W { version: 1 }\n"}]}},
        {"id": 3, "method": "shutdown"},
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "twdsl.cli", "lsp", "--stdio"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"".join(_frame({"jsonrpc": "2.0", **m}) for m in messages))
    proc.stdin.flush()
    replies = []
    while not replies or replies[-1].get("id") != 3:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = proc.stdout.read(1)
            assert byte, f"the server closed its output; it said {replies}"
            head += byte
        length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
        replies.append(json.loads(proc.stdout.read(length)))
    time.sleep(0.5)  # time for a late analysis of version 2 (debounce 5 ms) to be published
    proc.stdin.write(_frame({"jsonrpc": "2.0", "method": "exit"}))
    proc.stdin.close()
    late, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=60) == 0
    assert err.decode() == ""
    assert [r["id"] for r in replies if "id" in r] == [1, 2, 3]
    assert replies[-1] == {"id": 3, "jsonrpc": "2.0", "result": None}
    assert late == b""
