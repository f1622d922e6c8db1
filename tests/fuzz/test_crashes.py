"""Every finding of the fuzzer is kept here as a fixture (tests/fuzz/crashes/): the oracles
of oracles.py hold for it, or the language server answers the request that failed.  A bug not fixed yet is an xfail(strict=True) entry of
crashes/known.json (its owner removes the mark with the fix); a ``hang`` entry (too slow,
no crash) is timed by the campaign, not by the tests, which do not time anything."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import oracles
import pytest
import pytest_lsp
from lsp_helpers import SERVER
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient, client_capabilities

HERE = Path(__file__).resolve().parent
KNOWN = json.loads((HERE / "crashes" / "known.json").read_text())


def _params(lsp: bool) -> list[object]:
    out = []
    for name, entry in sorted(KNOWN.items()):
        assert entry["test"] in ("pass", "xfail", "hang"), name
        assert (HERE / "crashes" / f"{name}.twdsl").is_file(), name
        if entry["test"] == "hang" or entry["signature"].startswith("lsp|") != lsp:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=f"{entry['owner']}: {entry['what']}")
                 ] if entry["test"] == "xfail" else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _params(lsp=False))
def test_the_oracles_hold(name: str) -> None:
    text = (HERE / "crashes" / f"{name}.twdsl").read_text(encoding="utf-8")
    findings = oracles.check(text, f"{name}.twdsl")
    assert [f"{f.signature}: {f.detail}" for f in findings] == []


@pytest_lsp.fixture(config=SERVER)
async def server(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    """A real `twdsl lsp`; the test gets its client."""
    await lsp_client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


@pytest.mark.parametrize("name", _params(lsp=True))
async def test_the_language_server_answers(server: LanguageClient, tmp_path: Path,
                                           name: str) -> None:
    """The request that failed, on the document it failed on, in a real `twdsl lsp`."""
    from run import _request

    lsp_client = server
    entry = KNOWN[name]
    text = (HERE / "crashes" / f"{name}.twdsl").read_text(encoding="utf-8")
    uri = (tmp_path / f"{name}.twdsl").as_uri()
    lsp_client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri=uri, language_id="twdsl", version=1, text=text)))
    doc = lsp.TextDocumentIdentifier(uri=uri)
    at = lsp.Position(line=entry["line"], character=entry["character"])
    end = lsp.Position(line=text.count("\n"), character=0)
    await asyncio.wait_for(_request(lsp_client, entry["request"], doc, at,
                                    lsp.Range(start=lsp.Position(line=0, character=0),
                                              end=end)), 30)
    await asyncio.sleep(0.2)  # a failure is logged after the answer
    failures = [m.message for m in lsp_client.log_messages if m.type == lsp.MessageType.Error]
    assert failures == []


def test_every_fixture_is_listed() -> None:
    files = {p.stem for p in (HERE / "crashes").glob("*.twdsl")}
    assert files == set(KNOWN)
