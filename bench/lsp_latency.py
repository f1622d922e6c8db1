"""Benchmark: language-server latency over a real server subprocess (issue 7).

Two figures, each p50 / p95 over many edits or requests, on documents of 200, 2,000 and
10,000 lines (``bench/gen.py``'s ``generate(lines, checked=True)``: valid, checked, no
diagnostic):

- ``diagnostics``: from sending a ``didChange`` (one character typed into, or deleted from, the
  description string of a task in the middle of the file) to receiving the
  ``publishDiagnostics`` tagged with that version.  It includes the server's debounce
  (``--debounce-ms``, the server's default 5 ms unless given) and the JSON-RPC round trip.
- ``completion``: the round trip of a ``textDocument/completion`` request at the start of a
  line inside a task (fields, keywords) and after ``t.result.`` (members by type), with the
  document analysed.

The server is ``python -m twdsl.cli lsp`` on stdio, driven by pytest-lsp's client; each edit
waits for its diagnostics before the next is sent, so edits do not merge in the debounce.
This measures; it never passes or fails.  Output: one JSON line per (size, what) on stdout,
a table on stderr.

    python bench/lsp_latency.py                    # 200, 2000, 10000 lines
    python bench/lsp_latency.py --sizes 2000 --edits 40 --requests 100
    python bench/lsp_latency.py --parse incremental    # only the server as it runs

By default two servers run side by side, taking turns edit by edit: the server as it runs
(``incremental``: only the top-level declarations an edit touched are parsed again) and the
same server parsing whole files (``full``, initialization option ``incrementalParse: false``),
so that the comparison shares the machine's load.
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


class _Session:
    """One server subprocess with the generated document open."""

    def __init__(self, text: str, uri: str, full_parse: bool, debounce: float | None) -> None:
        self.text, self.uri, self.full_parse, self.debounce = text, uri, full_parse, debounce
        self.version = 1
        self.diag_ms: list[float] = []
        self.comp_ms: list[float] = []
        self.items: set[int] = set()

    async def start(self) -> None:
        self.client = make_test_lsp_client()
        await self.client.start_io(sys.executable, "-m", "twdsl.cli", "lsp")
        options: dict[str, object] = {}
        if self.debounce is not None:
            options["debounceMs"] = self.debounce
        if self.full_parse:
            options["incrementalParse"] = False
        await self.client.initialize_session(lsp.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options=options or None))
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(self.uri, "twdsl", 1, self.text)))
        first = await _wait_version(self.client, self.uri, 1)
        assert first == [], [d.message for d in first][:3]

    async def edit(self, at: lsp.Position, insert: bool, timed: bool = True) -> None:
        """Type a character at ``at``, or delete the one there; wait for its diagnostics."""
        self.version += 1
        if insert:
            change = lsp.TextDocumentContentChangePartial(range=lsp.Range(at, at), text="x")
        else:
            end = lsp.Position(at.line, at.character + 1)
            change = lsp.TextDocumentContentChangePartial(range=lsp.Range(at, end), text="")
        t0 = time.perf_counter()
        self.client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[change]))
        got = await _wait_version(self.client, self.uri, self.version)
        if timed:
            self.diag_ms.append((time.perf_counter() - t0) * 1000)
        assert got == []

    async def complete(self, where: lsp.Position) -> None:
        t0 = time.perf_counter()
        result = await self.client.text_document_completion_async(lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(self.uri), position=where))
        self.comp_ms.append((time.perf_counter() - t0) * 1000)
        assert isinstance(result, lsp.CompletionList) and result.items
        self.items.add(len(result.items))

    async def stop(self) -> None:
        await self.client.shutdown_session()
        await self.client.stop()

    def rows(self, lines: int) -> list[dict[str, object]]:
        common = {"bench": "lsp_latency", "lines": lines, "commit": _commit(),
                  "debounce_ms": self.debounce if self.debounce is not None else 5,
                  "parse": "full" if self.full_parse else "incremental"}
        d, c = self.diag_ms, self.comp_ms
        return [
            {**common, "what": "diagnostics", "n": len(d), "p50_ms": round(statistics.median(d), 1),
             "p95_ms": round(_pct(d, 95), 1), "max_ms": round(max(d), 1)},
            {**common, "what": "completion", "n": len(c), "p50_ms": round(statistics.median(c), 1),
             "p95_ms": round(_pct(c, 95), 1), "max_ms": round(max(c), 1),
             "items": sorted(self.items)},
        ]


async def run_size(lines: int, edits: int, requests: int, debounce: float | None,
                   folder: Path, modes: tuple[bool, ...] = (False,)) -> list[dict[str, object]]:
    """Measure one size; with several ``modes`` (full parse or not), their servers run side
    by side and take turns, edit by edit, so that they share the machine's load."""
    text = gen.generate(lines, checked=True)
    # where to type, a task body to complete in, and a member access to complete after
    mid = _near(text, "// Task", len(text) // 2)
    at = _pos(text, text.index('description: "', mid) + len('description: "'))
    spots = [_pos(text, text.index("    agent:", mid)),
             _pos(text, _near(text, ".result.", len(text) // 2) + len(".result."))]
    sessions = [_Session(text, (folder / f"bench{lines}-{k}.twdsl").as_uri(), full, debounce)
                for k, full in enumerate(modes)]
    for s in sessions:
        await s.start()
    for k in range(edits):
        for s in sessions:
            await s.edit(at, insert=k % 2 == 0)
    for s in sessions:
        if edits % 2:  # leave the text as generated
            await s.edit(at, insert=False, timed=False)
    for k in range(requests):
        for s in sessions:
            await s.complete(spots[k % 2])
    for s in sessions:
        await s.stop()
    real = text.count("\n") + 1
    return [row for s in sessions for row in s.rows(real)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="200,2000,10000")
    ap.add_argument("--edits", type=int, default=30)
    ap.add_argument("--requests", type=int, default=60)
    ap.add_argument("--debounce-ms", type=float, default=None)
    ap.add_argument("--parse", choices=["incremental", "full", "both"], default="both",
                    help="how the server parses after an edit: pieces (incremental), whole "
                         "files (the baseline), or both side by side (default)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            edits = args.edits if size < 10000 else max(6, args.edits // 3)
            modes = {"incremental": (False,), "full": (True,), "both": (False, True)}[args.parse]
            rows = asyncio.run(run_size(size, edits, args.requests, args.debounce_ms,
                                        Path(tmp), modes))
            for row in rows:
                print(json.dumps(row), flush=True)
                print(f"{row['lines']:>6} lines  {row['parse']:<11} {row['what']:<11}  "
                      f"p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms  (n={row['n']})",
                      file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
