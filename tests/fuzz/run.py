"""The fuzzing campaign: see tests/fuzz/README.md.

    python tests/fuzz/run.py --seconds 100 --lsp-edits 150     # what CI runs (seeded)
    python tests/fuzz/run.py --seconds 3600 --seed $RANDOM     # a long campaign, on demand
    python tests/fuzz/run.py --sweep                           # a comment at every boundary

Cases are numbered; case ``i`` of seed ``s`` is always the same text, so a finding is
reproduced with ``--seed s --case i``.  The cases run in a worker process that the campaign
restarts after a crash of the interpreter itself (a segfault is a finding too).  Findings
whose signature is kept in tests/fuzz/crashes/known.json are counted, not reported; a new
one is written to tests/fuzz/found/ (text, and what failed) and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # programs, oracles...; tests/lsp_helpers.py

import mutate  # noqa: E402
import oracles  # noqa: E402
import programs  # noqa: E402

KNOWN = HERE / "crashes" / "known.json"
FOUND = HERE / "found"
KINDS = {"generate": 30, "structure": 15, "tokens": 20, "bytes": 12, "comment": 13, "deep": 10}
DEPTHS = [10, 50, 100, 300, 700, 1000, 1500]
MAX_DEPTH = [max(DEPTHS)]  # --max-depth
CASE_SECONDS = 20.0  # one case using more CPU seconds than this is a finding (a hang)


# ------------------------------------------------------------------------------ cases
_CORPUS: list[tuple[str, str]] | None = None


def corpus() -> list[tuple[str, str]]:
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = mutate.corpus()
    return _CORPUS


def make_case(seed: str, i: int) -> tuple[str, str]:
    """Case ``i`` of ``seed``: (kind, text)."""
    rng = random.Random(f"{seed}:{i}")
    kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
    files = corpus()
    if kind == "generate":
        c = programs.RandomChooser(rng)
        return kind, programs.program(c, comment_rate=rng.choice([0.0, 0.05, 0.2]),
                                     depth=rng.randint(1, 6), size=rng.randint(1, 12))
    if kind == "deep":
        name = rng.choice(sorted(programs.SHAPES))
        depth = rng.choice(DEPTHS)
        return f"deep:{name}", programs.shape(name, min(depth, MAX_DEPTH[0]))
    _, text = rng.choice(files)
    if kind == "structure":
        valid = [t for p, t in files if p.startswith(("examples/", "tests/fixtures/syntax/",
                                                      "tests/fixtures/lowering/",
                                                      "tests/fixtures/passes/"))]
        return kind, mutate.structural_mutation(rng.choice(valid), rng)
    if kind == "tokens":
        return kind, mutate.token_mutation(text, rng, [t for _, t in files])
    if kind == "bytes":
        return kind, mutate.byte_mutation(text, rng)
    at = rng.choice(mutate.boundaries(text))
    return kind, mutate.with_comment(text, at, rng.choice(mutate.COMMENTS))


def sweep_cases() -> list[tuple[str, str]]:
    """A comment at every token boundary of every corpus file, both kinds."""
    out = []
    for path, text in corpus():
        for at in mutate.boundaries(text):
            for comment in mutate.COMMENTS:
                out.append((f"sweep {path}@{at}", mutate.with_comment(text, at, comment)))
    return out


# ------------------------------------------------------------------------------ worker
class CaseTimeout(BaseException):
    """A case ran too long (a BaseException: the oracles' `except Exception` lets it by)."""


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout()


def worker(seed: str, start: int, stop: int, progress: Path, sweep: bool) -> None:
    """Run cases ``start..stop``: one JSON line per finding on stdout."""
    signal.signal(signal.SIGPROF, _alarm)  # CPU time, not wall time: load does not count
    cases = sweep_cases() if sweep else None
    for i in range(start, stop if cases is None else min(stop, len(cases))):
        progress.write_text(str(i))
        kind, text = cases[i] if cases is not None else make_case(seed, i)
        signal.setitimer(signal.ITIMER_PROF, CASE_SECONDS)
        try:
            findings = oracles.check(text)
        except CaseTimeout as exc:  # where it was is chance: the signature names the case
            findings = [oracles.Finding(oracles.STAGE[0], "timeout", kind,
                                        f"the case used more than {CASE_SECONDS:g}s of CPU; it was "
                                        f"in {oracles.where(exc)}")]
        except RecursionError as exc:  # raised outside the public APIs' own handling
            findings = [oracles.Finding("all", "RecursionError", oracles.where(exc), str(exc))]
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        for f in findings:
            print(json.dumps({"case": i, "kind": kind, "oracle": f.oracle, "type": f.kind,
                              "where": f.where, "detail": f.detail,
                              "signature": f.signature}), flush=True)
        print(json.dumps({"done": i, "kind": kind}), flush=True)


# ------------------------------------------------------------------------------ campaign
def known_signatures() -> dict[str, str]:
    """Signature -> the fixture that keeps it, for the bugs not fixed yet (an ``xfail`` or
    ``hang`` entry of tests/fuzz/crashes/known.json; a fixed one found again is new)."""
    if not KNOWN.exists():
        return {}
    return {v["signature"]: k for k, v in json.loads(KNOWN.read_text()).items()
            if v["test"] in ("xfail", "hang")}


def case_text(seed: str, i: int, sweep: bool) -> tuple[str, str]:
    return sweep_cases()[i] if sweep else make_case(seed, i)


def save(finding: dict[str, Any], text: str, seed: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(finding["signature"].encode()).hexdigest()[:12]
    path = out / f"{name}.twdsl"
    if not path.exists() or len(text) < len(path.read_text(encoding="utf-8",
                                                            errors="replace")):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        meta = {**finding, "seed": seed,
                "reproduce": f"python tests/fuzz/run.py --seed {seed} --case {finding['case']}"}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


def campaign(seed: str, seconds: float | None, cases: int | None, sweep: bool,
             out: Path) -> dict[str, Any]:
    """Run the cases in worker processes until the time or the cases are used up."""
    deadline = time.monotonic() + seconds if seconds else None
    total = len(sweep_cases()) if sweep else (cases if cases is not None else 10 ** 9)
    known = known_signatures()
    counts: Counter[str] = Counter()
    seen: dict[str, dict[str, Any]] = {}
    new: list[dict[str, Any]] = []
    next_case = 0
    with tempfile.TemporaryDirectory() as tmp:
        progress = Path(tmp) / "progress"
        while next_case < total and (deadline is None or time.monotonic() < deadline):
            cmd = [sys.executable, str(Path(__file__)), "--worker", "--seed", seed,
                   "--start", str(next_case), "--stop", str(total),
                   "--max-depth", str(MAX_DEPTH[0])]
            if sweep:
                cmd.append("--sweep")
            proc = subprocess.Popen([*cmd, "--progress", str(progress)],
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout is not None
            stopped = False
            with _killer(proc, deadline) as timer:
                for line in proc.stdout:
                    rec = json.loads(line)
                    if "done" in rec:
                        counts[rec["kind"].split(":")[0].split(" ")[0]] += 1
                        next_case = rec["done"] + 1
                        continue
                    _record(rec, known, seen, new, seed, sweep, out)
                proc.wait()
                stopped = timer.fired
            if proc.returncode != 0 and not stopped:
                crashed = int(progress.read_text()) if progress.exists() else next_case
                rec = {"case": crashed, "kind": "?", "oracle": "process",
                       "type": f"exit {proc.returncode}", "where": "",
                       "detail": "the interpreter died (a crash in C code or the stack)",
                       "signature": f"process|exit {proc.returncode}|"}
                _record(rec, known, seen, new, seed, sweep, out)
                next_case = crashed + 1
            if stopped:
                break
    return {"seed": seed, "cases": sum(counts.values()), "by_kind": dict(counts),
            "known": sorted({seen[s]["fixture"] for s in seen if "fixture" in seen[s]}),
            "new": new}


def _record(rec: dict[str, Any], known: dict[str, str], seen: dict[str, dict[str, Any]],
            new: list[dict[str, Any]], seed: str, sweep: bool, out: Path) -> None:
    sig = rec["signature"]
    if sig in known:
        seen.setdefault(sig, {**rec, "fixture": known[sig]})
        return
    _, text = case_text(seed, rec["case"], sweep)
    path = save(rec, text, seed, out)
    if sig not in seen:
        seen[sig] = rec
        new.append({**rec, "saved": str(path)})


class _Timer:
    fired = False


@contextlib.contextmanager
def _killer(proc: subprocess.Popen[str], deadline: float | None) -> Any:
    """Kill ``proc`` at the deadline (the campaign's time is up)."""
    timer = _Timer()
    done = threading.Event()

    def watch() -> None:
        if deadline is None:
            return
        if not done.wait(max(0.0, deadline - time.monotonic())):
            timer.fired = True
            proc.kill()

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    try:
        yield timer
    finally:
        done.set()


# ------------------------------------------------------------------------------ LSP
async def lsp_campaign(seed: str, edits: int, bound: float = 10.0) -> list[dict[str, Any]]:
    """Random edits to documents open in a real `twdsl lsp` (over stdio, pytest-lsp's
    client), each followed by a request; every request must be answered within ``bound``
    seconds, the server must log no failure, and it must shut down cleanly."""
    from lsp_helpers import SERVER
    from lsprotocol import types as lsp
    from pytest_lsp import client_capabilities

    rng = random.Random(f"{seed}:lsp")
    files = corpus()
    findings: list[dict[str, Any]] = []
    client = await SERVER.start()
    await client.initialize_session(
        lsp.InitializeParams(capabilities=client_capabilities("visual-studio-code"),
                             root_uri=None))
    folder = Path(tempfile.mkdtemp(prefix="twdsl-fuzz-lsp-"))
    docs: dict[str, str] = {}
    versions: dict[str, int] = {}

    def open_new() -> str:
        path, text = rng.choice(files)
        uri = (folder / f"d{len(docs)}_{Path(path).name}").as_uri()
        docs[uri], versions[uri] = text, 1
        client.text_document_did_open(lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id="twdsl", version=1, text=text)))
        return uri

    def position(text: str, offset: int) -> lsp.Position:
        line = text.count("\n", 0, offset)
        col = offset - (text.rfind("\n", 0, offset) + 1)
        units = len(text[offset - col:offset].encode("utf-16-le")) // 2
        return lsp.Position(line=line, character=units)

    uri = open_new()
    requests = ["symbols", "hover", "completion", "definition", "references", "highlight",
                "tokens", "format", "range_format", "folding", "actions", "hints",
                "signature", "prepare_rename", "rename", "diagnostic"]
    for _ in range(edits):
        if rng.random() < 0.05 and len(docs) < 4:
            uri = open_new()
        text = docs[uri]
        a = rng.randrange(len(text) + 1)
        b = min(len(text), a + rng.choice([0, 0, 1, 3, 20]))
        new = rng.choice([*mutate.INTERESTING, "", "", "task x { agent: \"echo\" }",
                          "agent A { description: x }", '"${', "\n", "  "])
        text = text[:a] + new + text[b:]
        docs[uri] = text
        versions[uri] += 1
        client.text_document_did_change(lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=versions[uri]),
            [lsp.TextDocumentContentChangeWholeDocument(text=text)]))
        kind = rng.choice(requests)
        at = position(text, rng.randrange(len(text) + 1))
        doc = lsp.TextDocumentIdentifier(uri=uri)
        whole = lsp.Range(start=lsp.Position(line=0, character=0), end=position(text, len(text)))
        before = len(client.log_messages)
        try:
            await asyncio.wait_for(_request(client, kind, doc, at, whole), bound)
        except TimeoutError:
            findings.append(_lsp_finding("timeout", kind, text, at,
                                         f"no answer within {bound:g}s"))
        except Exception as exc:  # noqa: BLE001 - an error answer is a finding too
            findings.append(_lsp_finding(type(exc).__name__, kind, text, at, str(exc)[:300]))
        await asyncio.sleep(0)
        for m in client.log_messages[before:]:
            if m.type == lsp.MessageType.Error:
                findings.append(_lsp_finding("failed", kind, text, at, m.message))
    try:
        await asyncio.wait_for(client.shutdown_session(), bound)
    except Exception as exc:  # noqa: BLE001
        findings.append({"oracle": "lsp", "type": "shutdown", "where": "",
                         "detail": f"the server did not shut down cleanly: {exc!r}",
                         "signature": "lsp|shutdown|"})
    return findings


def _request(client: Any, kind: str, doc: Any, at: Any, whole: Any) -> Any:
    """The request ``kind`` about the document ``doc`` (at ``at``, or over ``whole``)."""
    from lsprotocol import types as lsp

    options = lsp.FormattingOptions(tab_size=2, insert_spaces=True)
    if kind == "symbols":
        return client.text_document_document_symbol_async(
            lsp.DocumentSymbolParams(text_document=doc))
    if kind == "hover":
        return client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=at))
    if kind == "completion":
        return client.text_document_completion_async(
            lsp.CompletionParams(text_document=doc, position=at))
    if kind == "definition":
        return client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc, position=at))
    if kind == "references":
        return client.text_document_references_async(lsp.ReferenceParams(
            text_document=doc, position=at,
            context=lsp.ReferenceContext(include_declaration=True)))
    if kind == "highlight":
        return client.text_document_document_highlight_async(
            lsp.DocumentHighlightParams(text_document=doc, position=at))
    if kind == "tokens":
        return client.text_document_semantic_tokens_full_async(
            lsp.SemanticTokensParams(text_document=doc))
    if kind == "format":
        return client.text_document_formatting_async(
            lsp.DocumentFormattingParams(text_document=doc, options=options))
    if kind == "range_format":
        return client.text_document_range_formatting_async(
            lsp.DocumentRangeFormattingParams(text_document=doc, range=whole, options=options))
    if kind == "folding":
        return client.text_document_folding_range_async(
            lsp.FoldingRangeParams(text_document=doc))
    if kind == "actions":
        return client.text_document_code_action_async(lsp.CodeActionParams(
            text_document=doc, range=whole, context=lsp.CodeActionContext(diagnostics=[])))
    if kind == "hints":
        return client.text_document_inlay_hint_async(
            lsp.InlayHintParams(text_document=doc, range=whole))
    if kind == "signature":
        return client.text_document_signature_help_async(
            lsp.SignatureHelpParams(text_document=doc, position=at))
    if kind == "prepare_rename":
        return client.text_document_prepare_rename_async(
            lsp.PrepareRenameParams(text_document=doc, position=at))
    if kind == "rename":
        return client.text_document_rename_async(
            lsp.RenameParams(text_document=doc, position=at, new_name="renamed"))
    assert kind == "diagnostic", kind
    return client.text_document_diagnostic_async(
        lsp.DocumentDiagnosticParams(text_document=doc))


def _lsp_finding(kind: str, request: str, text: str, at: Any, detail: str) -> dict[str, Any]:
    where = ""
    for line in detail.splitlines():  # the innermost twdsl frame of a logged traceback
        line = line.strip()
        if line.startswith('File "') and ("/twdsl/" in line or "/lsp/" in line):
            path = line.split('"')[1]
            func = line.rsplit(" in ", 1)[-1]
            tail = path.split("/twdsl/" if "/twdsl/" in path else "/lsp/", 1)[1]
            where = f"{'twdsl' if '/twdsl/' in path else 'lsp'}/{tail}:{func}"
    return {"oracle": "lsp", "type": kind, "where": where, "request": request,
            "line": at.line, "character": at.character, "text": text, "detail": detail[-1500:],
            "signature": f"lsp|{kind}|{where}"}


def _minimize(path: Path) -> int:
    import minimize

    text = path.read_text(encoding="utf-8")
    found = oracles.check(text)
    if not found:
        print(f"{path}: every oracle holds; nothing to shrink")
        return 1
    sig = found[0].signature
    small = minimize.minimize(text, lambda t: any(f.signature == sig
                                                  for f in oracles.check(t)))
    out = path.with_name(f"{path.stem}.min{path.suffix}")
    out.write_text(small, encoding="utf-8")
    print(f"{sig}: {len(text)} -> {len(small)} characters in {out}")
    return 0


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", default=os.environ.get("TWDSL_FUZZ_SEED", "16"))
    ap.add_argument("--seconds", type=float, default=None, help="time for the cases")
    ap.add_argument("--cases", type=int, default=None, help="how many cases (default: all "
                    "the time allows)")
    ap.add_argument("--case", type=int, default=None, help="run this one case and show it")
    ap.add_argument("--sweep", action="store_true",
                    help="a comment at every token boundary of every corpus file")
    ap.add_argument("--lsp-edits", type=int, default=0, help="edits in the language server")
    ap.add_argument("--out", type=Path, default=FOUND, help="where new findings are written")
    ap.add_argument("--max-depth", type=int, default=MAX_DEPTH[0],
                    help="the deepest nesting shape generated")
    ap.add_argument("--minimize", type=Path, default=None, metavar="FILE",
                    help="shrink FILE (a finding's text) to a smaller one failing the same "
                    "way; writes FILE with .min before its suffix")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--progress", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    MAX_DEPTH[0] = args.max_depth
    if args.worker:
        worker(args.seed, args.start, args.stop, args.progress, args.sweep)
        return 0
    if args.minimize is not None:
        return _minimize(args.minimize)
    if args.case is not None:
        kind, text = case_text(args.seed, args.case, args.sweep)
        print(f"case {args.case} of seed {args.seed} ({kind}):\n{text}")
        for f in oracles.check(text):
            print(f"{f.signature}\n  {f.detail}")
        return 0
    start = time.monotonic()
    summary = campaign(args.seed, args.seconds, args.cases, args.sweep, args.out)
    if args.lsp_edits:
        lsp_new = []
        known = known_signatures()
        for f in asyncio.run(lsp_campaign(args.seed, args.lsp_edits)):
            if f["signature"] in known:
                summary["known"] = sorted({*summary["known"], known[f["signature"]]})
                continue
            if any(f["signature"] == g["signature"] for g in lsp_new):
                continue
            lsp_new.append(f)
            args.out.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha1(f["signature"].encode()).hexdigest()[:12]
            (args.out / f"{name}.twdsl").write_text(f["text"])
            meta = {k: v for k, v in f.items() if k != "text"}
            (args.out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
            summary["new"].append({**meta, "saved": str(args.out / f"{name}.twdsl")})
        summary["lsp_edits"] = args.lsp_edits
    summary["seconds"] = round(time.monotonic() - start, 1)
    print(json.dumps(summary, indent=2))
    return 1 if summary["new"] else 0


if __name__ == "__main__":
    sys.exit(main())
