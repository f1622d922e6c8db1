"""Benchmark: language-server latency over a real server subprocess (issue 7).

Two figures, each p50 / p95 over many edits or requests, on documents of 200, 2,000 and
10,000 lines (``bench/gen.py``'s ``generate(lines, checked=True)``: valid, checked, no
diagnostic):

- ``diagnostics``: from sending a ``didChange`` (one character typed into, or deleted from, the
  description string of a task in the middle of the file) to receiving the
  ``publishDiagnostics`` tagged with that version.  It includes the server's debounce
  (``--debounce-ms``, the server's default 20 ms unless given) and the JSON-RPC round trip.
- ``completion``: the round trip of a ``textDocument/completion`` request at the start of a
  line inside a task (fields, keywords) and after ``t.result.`` (members by type), with the
  document analysed.

The server is ``python -m twdsl.cli lsp`` on stdio, driven by pytest-lsp's client; each edit
waits for its diagnostics before the next is sent, so edits do not merge in the debounce.
This measures; it never passes or fails.  Output: one JSON line per (size, what) on stdout,
a table on stderr.

    python bench/lsp_latency.py                    # 200, 2000, 10000 lines
    python bench/lsp_latency.py --sizes 2000 --edits 40 --requests 100
    python bench/lsp_latency.py --full-parse       # the server parsing whole files
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types as lsp
from pytest_lsp import client_capabilities, make_test_lsp_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen  # noqa: E402


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def _near(text: str, what: str, offset: int) -> int:
    """The occurrence of ``what`` at or after ``offset``, else the last before it."""
    found = text.find(what, offset)
    return found if found >= 0 else text.rindex(what, 0, offset)


def _pos(text: str, offset: int) -> lsp.Position:
    return lsp.Position(text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1))


async def _wait_version(client, uri: str, version: int) -> list[lsp.Diagnostic]:
    while True:
        params = await client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri and params.version == version:
            return list(params.diagnostics)


async def run_size(lines: int, edits: int, requests: int, debounce: float | None,
                   folder: Path, full_parse: bool = False) -> list[dict[str, object]]:
    text = gen.generate(lines, checked=True)
    # a workflow's task body to complete in, and a member access to complete after
    mid = _near(text, "// Task", len(text) // 2)
    typed_at = text.index('description: "', mid) + len('description: "')
    task_at = text.index("    agent:", mid)
    result_at = _near(text, ".result.", len(text) // 2) + len(".result.")

    client = make_test_lsp_client()
    await client.start_io(sys.executable, "-m", "twdsl.cli", "lsp")
    options: dict[str, object] = {}
    if debounce is not None:
        options["debounceMs"] = debounce
    if full_parse:
        options["incrementalParse"] = False
    await client.initialize_session(lsp.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        initialization_options=options or None))
    uri = (folder / f"bench{lines}.twdsl").as_uri()
    client.text_document_did_open(lsp.DidOpenTextDocumentParams(
        lsp.TextDocumentItem(uri, "twdsl", 1, text)))
    first = await _wait_version(client, uri, 1)
    assert first == [], [d.message for d in first][:3]

    diag_ms: list[float] = []
    version = 1
    at = _pos(text, typed_at)
    for k in range(edits):
        version += 1
        if k % 2 == 0:  # type a character into a task's description, then delete it
            change = lsp.TextDocumentContentChangePartial(range=lsp.Range(at, at), text="x")
        else:
            end = lsp.Position(at.line, at.character + 1)
            change = lsp.TextDocumentContentChangePartial(range=lsp.Range(at, end), text="")
        t0 = time.perf_counter()
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[change]))
        got = await _wait_version(client, uri, version)
        diag_ms.append((time.perf_counter() - t0) * 1000)
        assert got == []
    if edits % 2:  # leave the text as generated
        version += 1
        end = lsp.Position(at.line, at.character + 1)
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[lsp.TextDocumentContentChangePartial(range=lsp.Range(at, end),
                                                                  text="")]))
        await _wait_version(client, uri, version)

    comp_ms: list[float] = []
    doc = lsp.TextDocumentIdentifier(uri)
    spots = [_pos(text, task_at), _pos(text, result_at)]
    sizes = []
    for k in range(requests):
        t0 = time.perf_counter()
        result = await client.text_document_completion_async(lsp.CompletionParams(
            text_document=doc, position=spots[k % 2]))
        comp_ms.append((time.perf_counter() - t0) * 1000)
        assert isinstance(result, lsp.CompletionList) and result.items
        sizes.append(len(result.items))
    await client.shutdown_session()
    await client.stop()

    real = text.count("\n") + 1
    common = {"bench": "lsp_latency", "lines": real, "commit": _commit(),
              "debounce_ms": debounce if debounce is not None else 20,
              "parse": "full" if full_parse else "incremental"}
    return [
        {**common, "what": "diagnostics", "n": len(diag_ms),
         "p50_ms": round(statistics.median(diag_ms), 1), "p95_ms": round(_pct(diag_ms, 95), 1),
         "max_ms": round(max(diag_ms), 1)},
        {**common, "what": "completion", "n": len(comp_ms),
         "p50_ms": round(statistics.median(comp_ms), 1), "p95_ms": round(_pct(comp_ms, 95), 1),
         "max_ms": round(max(comp_ms), 1), "items": sorted(set(sizes))},
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="200,2000,10000")
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--debounce-ms", type=float, default=None)
    ap.add_argument("--full-parse", action="store_true",
                    help="the server parses whole files (the baseline of incremental parsing)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            edits = args.edits if size < 10000 else max(6, args.edits // 3)
            rows = asyncio.run(run_size(size, edits, args.requests, args.debounce_ms,
                                        Path(tmp), args.full_parse))
            for row in rows:
                print(json.dumps(row), flush=True)
                print(f"{row['lines']:>6} lines  {row['parse']:<11} {row['what']:<11}  "
                      f"p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms  (n={row['n']})",
                      file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
