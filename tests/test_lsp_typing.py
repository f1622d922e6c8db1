"""Typing a real file into the server keystroke by keystroke: every intermediate text is
analysed, completed and hovered without a server error, and the end result is clean."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest_lsp
from lsp_helpers import SERVER
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "create_full_stack_app.twdsl"


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"))
    )
    yield
    await lsp_client.shutdown_session()


def position(text: str) -> lsp.Position:
    """The position at the end of ``text``."""
    return lsp.Position(text.count("\n"), len(text) - (text.rfind("\n") + 1))


async def test_typing_the_example_keystroke_by_keystroke(
    client: LanguageClient, tmp_path: Path
) -> None:
    shutil.copy(EXAMPLE.parent / "twdsl.toml", tmp_path / "twdsl.toml")
    target = tmp_path / "app.twdsl"
    uri = target.as_uri()
    full = EXAMPLE.read_text()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "twdsl", 1, ""))
    )
    doc = lsp.TextDocumentIdentifier(uri)
    version = 1
    answered = 0
    for i, ch in enumerate(full):
        typed = full[:i]
        version += 1
        here = position(typed)
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    lsp.TextDocumentContentChangePartial(range=lsp.Range(here, here), text=ch)
                ],
            )
        )
        if ch == "\n" or ch == ".":  # where an editor asks for completions
            after = position(full[: i + 1])
            result = await client.text_document_completion_async(
                lsp.CompletionParams(text_document=doc, position=after)
            )
            assert isinstance(result, lsp.CompletionList)
            answered += 1
        if i % 61 == 0:  # a pause: the debounced analysis runs on the partial text
            await client.text_document_hover_async(
                lsp.HoverParams(text_document=doc, position=here)
            )
            await asyncio.sleep(0.03)
    assert answered == full.count("\n") + full.count(".")
    final = None
    for _ in range(6000):  # a bounded wait for the final text's diagnostics
        final = next((p for p in client.published if p.version == version), None)  # type: ignore[attr-defined]
        if final is not None:
            break
        await asyncio.sleep(0.005)
    assert final is not None and list(final.diagnostics) == []  # the example is clean
    assert [m.message for m in client.log_messages if m.type == lsp.MessageType.Error] == []
    assert client.error is None
