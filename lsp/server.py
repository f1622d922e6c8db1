"""The TWDSL language server (pygls 2).

Handlers only fetch the document, call :mod:`twdsl.ide` (or the analysis API) and convert with
:mod:`twdsl.lsp.convert`.  Analysis runs on one worker thread, debounced after each change;
its result is published with the document version it was computed for, and dropped when the
document changed meanwhile (a newer analysis is on its way).  Completion and signature help
never wait for it: they read the current text and the last analysis.

Every handler is wrapped: an exception is logged to the client (window/logMessage) and the
request gets an empty answer, so one failing feature never takes the server down.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import inspect
import logging
import os
import re
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

import twdsl.ide as ide
from twdsl import __version__
from twdsl.config import DEFAULT, Config, ConfigError, find_config, load_config
from twdsl.diagnostics import Diagnostic
from twdsl.ide.incremental import IncrementalParser
from twdsl.lsp.convert import Converter
from twdsl.source import SourceFile

F = TypeVar("F", bound=Callable[..., Any])

_COMPLETION_KIND = {
    "keyword": lsp.CompletionItemKind.Keyword, "field": lsp.CompletionItemKind.Field,
    "snippet": lsp.CompletionItemKind.Snippet, "agent": lsp.CompletionItemKind.Interface,
    "task": lsp.CompletionItemKind.Function, "input": lsp.CompletionItemKind.Variable,
    "variable": lsp.CompletionItemKind.Variable, "function": lsp.CompletionItemKind.Function,
    "method": lsp.CompletionItemKind.Method, "property": lsp.CompletionItemKind.Property,
    "template": lsp.CompletionItemKind.Class, "type": lsp.CompletionItemKind.TypeParameter,
    "value": lsp.CompletionItemKind.Value, "parameter": lsp.CompletionItemKind.Variable,
}
_SYMBOL_KIND = {
    "workflow": lsp.SymbolKind.Namespace, "template": lsp.SymbolKind.Class,
    "agent": lsp.SymbolKind.Interface, "type": lsp.SymbolKind.TypeParameter,
    "task": lsp.SymbolKind.Function, "input": lsp.SymbolKind.Variable,
    "output": lsp.SymbolKind.Property, "parameter": lsp.SymbolKind.Variable,
    "variable": lsp.SymbolKind.Variable,
}
_FOLD_KIND = {"comment": lsp.FoldingRangeKind.Comment, "imports": lsp.FoldingRangeKind.Imports,
              "region": lsp.FoldingRangeKind.Region}
LEGEND = lsp.SemanticTokensLegend(list(ide.info.TOKEN_TYPES), list(ide.info.TOKEN_MODIFIERS))
#: Files whose change on disk changes the analysis of open documents (watched on the client).
CONFIG_FILES = ("twdsl.toml", "pyproject.toml")
WATCHED = ("**/*.twdsl", *(f"**/{name}" for name in CONFIG_FILES))
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


#: Seconds without analysis after which the garbage collector runs again.
IDLE_COLLECT = 0.3


class TwdslServer(LanguageServer):
    """The server's state: the last snapshot of each open document, its pending analyses."""

    def __init__(self) -> None:
        super().__init__("twdsl", __version__,
                         text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.snapshots: dict[str, ide.Snapshot] = {}  # uri -> last analysis
        self.analysed: dict[str, int] = {}  # uri -> document version of that analysis
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.running: dict[str, asyncio.Future[None]] = {}
        self.debounce = 0.005  # seconds after the last change before analysing
        self.dirty: set[str] = set()  # changed while analysed: analyse again when it ends
        self._gc_timer: asyncio.TimerHandle | None = None
        self.push = True  # False when the client pulls (textDocument/diagnostic)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="twdsl-analysis")
        #: used on the analysis thread only (one worker): pieces of each file, by text
        self.parser: IncrementalParser | None = IncrementalParser()
        self._view: ide.Workspace | None = None
        self._configs: dict[Path, tuple[float, Config]] = {}
        self._config_errors: set[str] = set()
        self._config_diagnostics: dict[str, str] = {}  # config file uri -> its error, shown
        self.stopping = False  # after `shutdown`: nothing more is analysed or published

    # ------------------------------------------------------------------ helpers
    def log(self, message: str, kind: lsp.MessageType = lsp.MessageType.Log) -> None:
        self.window_log_message(lsp.LogMessageParams(kind, message))

    def encoding(self) -> str:
        enc: Any = self.workspace.position_encoding
        return str(getattr(enc, "value", enc) or "utf-16")

    def path_of(self, uri: str) -> str:
        return to_fs_path(uri) or uri

    def uri_of(self, path: str) -> str:
        for uri in self.workspace.text_documents:
            if self.path_of(uri) == path:
                return uri
        return from_fs_path(path) or path

    def text(self, uri: str) -> tuple[str, int]:
        doc = self.workspace.get_text_document(uri)
        return doc.source, doc.version or 0

    def converter(self, snap: ide.Snapshot) -> Converter:
        return Converter(snap.source, self.encoding())

    def current(self, uri: str) -> tuple[Converter, str]:
        text, _ = self.text(uri)
        return Converter(SourceFile(self.path_of(uri), text), self.encoding()), text

    def config_for(self, path: str) -> Config:
        """The configuration of a file's folder; a broken one is reported once and the
        defaults are used."""
        try:
            found = find_config(Path(path)) if os.path.isabs(path) else None
        except OSError:
            return DEFAULT
        if found is None:
            return DEFAULT
        try:
            mtime = found.stat().st_mtime
            cached = self._configs.get(found)
            if cached is not None and cached[0] == mtime:
                return cached[1]
            config = load_config(found)
        except (ConfigError, OSError) as e:
            message = f"twdsl: configuration ignored: {e}"
            if message not in self._config_errors:
                self._config_errors.add(message)
                self.log(message, lsp.MessageType.Error)
                self.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, message))
            self.config_problem(found, str(e))
            return DEFAULT
        self._configs[found] = (mtime, config)
        self.config_problem(found, None)
        return config

    def config_problem(self, path: Path, error: str | None) -> None:
        """Show a configuration file's error as a diagnostic of that file (cleared once it
        loads), so that it stays in the editor's problems until fixed."""
        if self.stopping:
            return
        uri = from_fs_path(str(path)) or str(path)
        if self._config_diagnostics.get(uri) == error:
            return
        diagnostics = []
        if error is None:
            self._config_diagnostics.pop(uri, None)
        else:
            self._config_diagnostics[uri] = error
            at = _TOML_AT.search(error)  # tomllib's position of a syntax error, 1-based
            pos = lsp.Position(int(at[1]) - 1, int(at[2]) - 1) if at else lsp.Position(0, 0)
            diagnostics.append(lsp.Diagnostic(
                lsp.Range(pos, pos), f"configuration ignored (the defaults are used): {error}",
                lsp.DiagnosticSeverity.Error, source="twdsl"))
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, diagnostics))

    def files_changed(self, changes: Sequence[lsp.FileEvent]) -> None:
        """Files changed on disk (workspace/didChangeWatchedFiles): analyse again the open
        documents they may change: all of them for a configuration file or a module created
        or deleted, the importers of a module changed.  An open file's own change is the
        editor's text, already analysed."""
        opened = set(self.workspace.text_documents)
        again: set[str] = set()
        for change in changes:
            path = self.path_of(change.uri)
            if os.path.basename(path) in CONFIG_FILES:
                self._config_errors.clear()  # a file broken again is reported again
                if change.type == lsp.FileChangeType.Deleted:
                    self.config_problem(Path(path), None)
                again |= opened
            elif path.endswith(".twdsl") and change.uri not in opened:
                if change.type == lsp.FileChangeType.Changed:
                    again |= {u for u in opened
                              if u in self.snapshots and path in self.snapshots[u].modules}
                else:
                    again |= opened
        for uri in again:
            self.analysed.pop(uri, None)  # a request analyses it again, not the last snapshot
            if self.push:
                self.schedule(uri)
        if again and not self.push and self._refresh_support():
            self.workspace_diagnostic_refresh(None)

    def load(self, path: str) -> str | None:
        """An imported file's text: the open document's, else the file on disk."""
        for uri in self.workspace.text_documents:
            if self.path_of(uri) == path:
                return self.text(uri)[0]
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ValueError):
            return None

    def workspace_view(self) -> ide.Workspace:
        """The open files' snapshots, indexed once per analysis (not once per request)."""
        if self._view is None:
            self._view = ide.Workspace(self.snapshots.values())
        return self._view

    # ------------------------------------------------------------------ analysis
    def schedule(self, uri: str) -> None:
        if self.stopping:
            return
        old = self.timers.pop(uri, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self.timers[uri] = loop.call_later(self.debounce, self._start, uri)

    def _start(self, uri: str) -> None:
        """Analyse ``uri`` now, or, when an analysis of it is running, once that one ends:
        edits made meanwhile are taken together (the latest text), never queued one by one."""
        self.timers.pop(uri, None)
        running = self.running.get(uri)
        if running is not None and not running.done():
            self.dirty.add(uri)
            return
        task = asyncio.ensure_future(self.analyse(uri))
        self.running[uri] = task
        task.add_done_callback(lambda _: self._again(uri))

    def _again(self, uri: str) -> None:
        if uri in self.dirty:
            self.dirty.discard(uri)
            self._start(uri)

    async def ensure(self, uri: str) -> ide.Snapshot | None:
        """The snapshot of the document's current version, analysing now if needed."""
        if uri not in self.workspace.text_documents:
            return self.snapshots.get(uri)
        _, version = self.text(uri)
        if self.analysed.get(uri) == version and uri in self.snapshots:
            return self.snapshots[uri]
        timer = self.timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        running = self.running.get(uri)
        if running is not None and not running.done():
            await running
        if self.analysed.get(uri) != version:
            await self.analyse(uri)
        return self.snapshots.get(uri)

    def group(self, uri: str) -> list[str]:
        """The document and the open documents whose last analysis read it (its importers)."""
        path = self.path_of(uri)
        out = [uri]
        for other, snap in self.snapshots.items():
            if other != uri and other in self.workspace.text_documents and \
                    path in snap.modules:
                out.append(other)
        return out

    async def analyse(self, uri: str) -> None:
        if uri not in self.workspace.text_documents:
            return
        uris = self.group(uri)
        versions = {u: self.text(u)[1] for u in uris}
        sources = {self.path_of(u): self.text(u)[0] for u in uris}
        configs = {p: self.config_for(p) for p in sources}
        opened = {self.path_of(u): self.text(u)[0] for u in self.workspace.text_documents}

        def load(path: str) -> str | None:
            if path in opened:
                return opened[path]
            try:
                return Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError, ValueError):
                return None

        def run() -> dict[str, ide.Snapshot]:
            return ide.analyze_documents(sources, load, lambda p: configs.get(p, DEFAULT),
                                         self.parser)

        loop = asyncio.get_running_loop()
        # The collector waits while the user types: a collection in the middle of an analysis
        # walks every node of the snapshots kept (tens of ms at 2,000 lines), so it runs when
        # the editor has been idle for a moment instead (_idle_collect).
        gc.disable()
        if self._gc_timer is not None:
            self._gc_timer.cancel()
        try:
            snaps = await loop.run_in_executor(self.executor, run)
        except Exception:
            self.log("twdsl: analysis failed:\n" + traceback.format_exc(), lsp.MessageType.Error)
            return
        finally:
            self._gc_timer = loop.call_later(IDLE_COLLECT, self._idle_collect)
        for u in uris:
            if u not in self.workspace.text_documents:
                continue
            snap = snaps[self.path_of(u)]
            version = versions[u]
            if self.text(u)[1] != version:
                continue  # stale: the document changed while it was analysed
            self.snapshots[u] = snap
            self.analysed[u] = version
            self._view = None
            if self.push:
                self.publish(u, snap, version)
        if not self.push and len(uris) > 1 and self._refresh_support():
            self.workspace_diagnostic_refresh(None)  # importers changed: pull them again

    def _refresh_support(self) -> bool:
        ws = self.client_capabilities.workspace
        return bool(ws is not None and ws.diagnostics is not None and
                    ws.diagnostics.refresh_support)

    def _idle_collect(self) -> None:
        """Collect now, while nothing is running or waiting, and turn the collector back on;
        otherwise try again later.  Turning it on alone would not do: it collects when
        allocations next cross its thresholds, which is in the middle of the next analysis."""
        self._gc_timer = None
        if self._busy() or self.timers:
            self._gc_timer = asyncio.get_running_loop().call_later(IDLE_COLLECT,
                                                                   self._idle_collect)
            return
        gc.collect()
        gc.enable()

    def _busy(self) -> bool:
        return any(not t.done() for t in self.running.values() if t is not asyncio.current_task())

    def diagnostics(self, uri: str, snap: ide.Snapshot) -> list[lsp.Diagnostic]:
        conv = self.converter(snap)
        uris = {snap.path: uri}
        return [conv.diagnostic(d, uris) for d in snap.analysis.diagnostics
                if d.span.file == snap.path]

    def stop(self) -> None:
        """The client asked the server to shut down: drop the analyses waiting to start
        and publish nothing more (one running on the analysis thread ends unseen)."""
        self.stopping = True
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        self.dirty.clear()

    def publish(self, uri: str, snap: ide.Snapshot, version: int) -> None:
        if self.stopping:
            return
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(
            uri, self.diagnostics(uri, snap), version))

    def result_id(self, uri: str, snap: ide.Snapshot) -> str:
        h = hashlib.sha1(snap.source.text.encode("utf-8", "surrogatepass"))
        for d in snap.analysis.diagnostics:
            h.update(repr((d.code, d.severity.value, d.message, d.span.start,
                           d.span.end)).encode("utf-8", "surrogatepass"))
        return h.hexdigest()[:16]


server = TwdslServer()


class _AnsweredCancels(logging.Filter):
    """pygls warns on stderr of each ``$/cancelRequest`` for a request already answered;
    editors send those all the time, and the protocol says to ignore them.  The warning
    filled the editor's output channel."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Cancel notification for unknown message id")


logging.getLogger("pygls.protocol.json_rpc").addFilter(_AnsweredCancels())


def safe(default: Callable[[], Any]) -> Callable[[F], F]:
    """Log any exception of the handler (window/logMessage) and answer ``default()``."""

    def wrap(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(ls: TwdslServer, params: Any) -> Any:
                try:
                    return await fn(ls, params)
                except Exception:
                    ls.log(f"twdsl: {fn.__name__} failed:\n{traceback.format_exc()}",
                           lsp.MessageType.Error)
                    return default()
            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(ls: TwdslServer, params: Any) -> Any:
            try:
                return fn(ls, params)
            except Exception:
                ls.log(f"twdsl: {fn.__name__} failed:\n{traceback.format_exc()}",
                       lsp.MessageType.Error)
                return default()
        return run  # type: ignore[return-value]

    return wrap


def _none() -> None:
    return None


def _empty() -> list[Any]:
    return []


# ---------------------------------------------------------------------- lifecycle and sync
@server.feature(lsp.INITIALIZE)
@safe(_none)
def initialize(ls: TwdslServer, params: lsp.InitializeParams) -> None:
    """Push diagnostics unless the client pulls them; ``initializationOptions`` may say
    ``{"pushDiagnostics": bool, "debounceMs": number, "incrementalParse": bool}``."""
    caps = params.capabilities
    ls.push = not (caps.text_document is not None and caps.text_document.diagnostic is not None)
    options = params.initialization_options
    if isinstance(options, dict):
        if "pushDiagnostics" in options:
            ls.push = bool(options["pushDiagnostics"])
        if "debounceMs" in options:
            ls.debounce = max(0.0, float(options["debounceMs"]) / 1000)
        if options.get("incrementalParse") is False:  # for measurements: parse whole files
            ls.parser = None


@server.feature(lsp.INITIALIZED)
@safe(_none)
async def initialized(ls: TwdslServer, params: lsp.InitializedParams) -> None:
    ls.log(f"twdsl {__version__} language server ready "
           f"({'push' if ls.push else 'pull'} diagnostics)", lsp.MessageType.Info)
    ws = ls.client_capabilities.workspace
    if ws is not None and ws.did_change_watched_files is not None and \
            ws.did_change_watched_files.dynamic_registration:
        watchers = [lsp.FileSystemWatcher(glob_pattern=g) for g in WATCHED]
        try:
            await ls.client_register_capability_async(lsp.RegistrationParams([lsp.Registration(
                "twdsl-watched-files", lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                lsp.DidChangeWatchedFilesRegistrationOptions(watchers))]))
        except Exception as e:  # the client refused: files changed on disk show on next edit
            ls.log(f"twdsl: the client did not watch {', '.join(WATCHED)}: {e}")


@server.feature(lsp.SHUTDOWN)
@safe(_none)
def shutdown(ls: TwdslServer, params: Any) -> None:
    ls.stop()


@server.feature(lsp.WORKSPACE_DID_CHANGE_WATCHED_FILES)
@safe(_none)
def did_change_watched_files(ls: TwdslServer, params: lsp.DidChangeWatchedFilesParams) -> None:
    ls.files_changed(params.changes)


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
@safe(_none)
def did_open(ls: TwdslServer, params: lsp.DidOpenTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
@safe(_none)
def did_change(ls: TwdslServer, params: lsp.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri)  # its open importers are analysed with it


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
@safe(_none)
def did_save(ls: TwdslServer, params: lsp.DidSaveTextDocumentParams) -> None:
    # analysed again even when the text is the one analysed: a client that does not watch
    # files has no other moment to see a configuration or an imported module changed on disk
    ls.schedule(params.text_document.uri)


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
@safe(_none)
def did_close(ls: TwdslServer, params: lsp.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    timer = ls.timers.pop(uri, None)
    if timer is not None:
        timer.cancel()
    ls.snapshots.pop(uri, None)
    ls.analysed.pop(uri, None)
    ls._view = None
    if ls.parser is not None:
        ls.executor.submit(ls.parser.forget, ls.path_of(uri))
    if ls.push:
        ls.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))


# ------------------------------------------------------------------------- diagnostics
@server.feature(lsp.TEXT_DOCUMENT_DIAGNOSTIC,
                lsp.DiagnosticOptions(identifier="twdsl", inter_file_dependencies=True,
                                      workspace_diagnostics=False))
@safe(lambda: lsp.RelatedFullDocumentDiagnosticReport(items=[]))
async def pull_diagnostics(ls: TwdslServer, params: lsp.DocumentDiagnosticParams
                           ) -> lsp.DocumentDiagnosticReport:
    uri = params.text_document.uri
    snap = await ls.ensure(uri)
    if snap is None:
        return lsp.RelatedFullDocumentDiagnosticReport(items=[])
    rid = ls.result_id(uri, snap)
    if params.previous_result_id == rid:
        return lsp.RelatedUnchangedDocumentDiagnosticReport(result_id=rid)
    return lsp.RelatedFullDocumentDiagnosticReport(items=ls.diagnostics(uri, snap), result_id=rid)


# ------------------------------------------------------------------------- completion
@server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                lsp.CompletionOptions(trigger_characters=[".", ":", "[", "(", " ", "\""],
                                      resolve_provider=False))
@safe(lambda: lsp.CompletionList(is_incomplete=False, items=[]))
def completion(ls: TwdslServer, params: lsp.CompletionParams) -> lsp.CompletionList:
    uri = params.text_document.uri
    conv, text = ls.current(uri)
    offset = conv.offset(params.position)
    items, start = ide.complete(text, offset, ls.snapshots.get(uri), ls.path_of(uri))
    rng = lsp.Range(conv.position(start), conv.position(offset))
    out = []
    for it in items:
        out.append(lsp.CompletionItem(
            label=it.label, kind=_COMPLETION_KIND.get(it.kind, lsp.CompletionItemKind.Text),
            detail=it.detail or None,
            documentation=lsp.MarkupContent(lsp.MarkupKind.Markdown, it.documentation)
            if it.documentation else None,
            sort_text=f"{it.sort}{it.label}",
            filter_text=it.label,
            insert_text_format=lsp.InsertTextFormat.Snippet if it.snippet else
            lsp.InsertTextFormat.PlainText,
            text_edit=lsp.TextEdit(rng, it.insert_text if it.insert_text is not None
                                   else it.label)))
    return lsp.CompletionList(is_incomplete=False, items=out)


@server.feature(lsp.TEXT_DOCUMENT_SIGNATURE_HELP,
                lsp.SignatureHelpOptions(trigger_characters=["(", ","],
                                         retrigger_characters=[","]))
@safe(_none)
def signature_help(ls: TwdslServer, params: lsp.SignatureHelpParams) -> lsp.SignatureHelp | None:
    uri = params.text_document.uri
    conv, text = ls.current(uri)
    help_ = ide.signature_help(text, conv.offset(params.position), ls.snapshots.get(uri),
                               ls.path_of(uri))
    if help_ is None:
        return None
    sigs = [lsp.SignatureInformation(
        label=s.label, documentation=s.documentation or None,
        parameters=[lsp.ParameterInformation(label=p) for p in s.params])
        for s in help_.signatures]
    return lsp.SignatureHelp(sigs, help_.active_signature, help_.active_parameter)


# ------------------------------------------------------------------------- navigation
async def _at(ls: TwdslServer, uri: str, pos: lsp.Position
              ) -> tuple[ide.Workspace, ide.Snapshot, int] | None:
    snap = await ls.ensure(uri)
    if snap is None:
        return None
    return ls.workspace_view(), snap, ls.converter(snap).offset(pos)


def _location(ls: TwdslServer, span: Any) -> lsp.Location:
    uri = ls.uri_of(span.file)
    snap = ls.snapshots.get(uri)
    if snap is not None:
        rng = ls.converter(snap).range(span)
    else:
        rng = lsp.Range(lsp.Position(span.line - 1, span.column - 1),
                        lsp.Position(span.end_line - 1, span.end_column - 1))
    return lsp.Location(uri, rng)


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
@safe(_none)
async def hover(ls: TwdslServer, params: lsp.HoverParams) -> lsp.Hover | None:
    found = await _at(ls, params.text_document.uri, params.position)
    if found is None:
        return None
    ws, snap, offset = found
    h = ide.hover(ws, snap.path, offset)
    if h is None:
        return None
    return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, h.markdown),
                     ls.converter(snap).range(h.span))


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
@safe(_empty)
async def definition(ls: TwdslServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
    found = await _at(ls, params.text_document.uri, params.position)
    if found is None:
        return []
    ws, snap, offset = found
    return [_location(ls, s) for s in ide.definition(ws, snap.path, offset)]


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
@safe(_empty)
async def references(ls: TwdslServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
    found = await _at(ls, params.text_document.uri, params.position)
    if found is None:
        return []
    ws, snap, offset = found
    spans = ide.references(ws, snap.path, offset, params.context.include_declaration)
    return [_location(ls, s) for s in spans]


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
@safe(_empty)
async def highlight(ls: TwdslServer, params: lsp.DocumentHighlightParams
                    ) -> list[lsp.DocumentHighlight]:
    found = await _at(ls, params.text_document.uri, params.position)
    if found is None:
        return []
    ws, snap, offset = found
    conv = ls.converter(snap)
    return [lsp.DocumentHighlight(conv.range(s), lsp.DocumentHighlightKind.Write if decl
                                  else lsp.DocumentHighlightKind.Read)
            for s, decl in ide.highlights(ws, snap.path, offset)]


@server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
@safe(_none)
async def prepare_rename(ls: TwdslServer, params: lsp.PrepareRenameParams
                         ) -> lsp.PrepareRenamePlaceholder | None:
    found = await _at(ls, params.text_document.uri, params.position)
    if found is None:
        return None
    ws, snap, offset = found
    span = ide.prepare_rename(ws, snap.path, offset)
    if span is None:
        return None
    return lsp.PrepareRenamePlaceholder(ls.converter(snap).range(span),
                                        snap.source.text[span.start:span.end])


@server.feature(lsp.TEXT_DOCUMENT_RENAME, lsp.RenameOptions(prepare_provider=True))
@safe(_none)
async def rename(ls: TwdslServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
    found = await _at(ls, params.text_document.uri, params.position)
    if found is None:
        return None
    ws, snap, offset = found
    try:
        edits = ide.rename(ws, snap.path, offset, params.new_name)
    except ide.RenameError as e:
        ls.window_show_message(lsp.ShowMessageParams(lsp.MessageType.Error, str(e)))
        return None
    changes: dict[str, list[lsp.TextEdit]] = {}
    for path, file_edits in edits.items():
        uri = ls.uri_of(path)
        other = ls.snapshots.get(uri)
        conv = ls.converter(other) if other is not None else None
        changes[uri] = [conv.edit(e) if conv else lsp.TextEdit(_location(ls, e.span).range,
                                                               e.new_text) for e in file_edits]
    return lsp.WorkspaceEdit(changes=changes)


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@safe(_empty)
async def document_symbols(ls: TwdslServer, params: lsp.DocumentSymbolParams
                           ) -> list[lsp.DocumentSymbol]:
    snap = await ls.ensure(params.text_document.uri)
    if snap is None:
        return []
    conv = ls.converter(snap)

    def convert(sym: ide.Symbol) -> lsp.DocumentSymbol:
        return lsp.DocumentSymbol(
            name=sym.name, kind=_SYMBOL_KIND.get(sym.kind, lsp.SymbolKind.Variable),
            range=conv.range(sym.span), selection_range=conv.range(sym.name_span),
            detail=sym.kind, children=[convert(c) for c in sym.children])

    return [convert(s) for s in ide.document_symbols(ls.workspace_view(), snap.path)]


@server.feature(lsp.WORKSPACE_SYMBOL)
@safe(_empty)
def workspace_symbols(ls: TwdslServer, params: lsp.WorkspaceSymbolParams
                      ) -> list[lsp.WorkspaceSymbol]:
    out = []
    for sym in ide.workspace_symbols(ls.workspace_view(), params.query):
        out.append(lsp.WorkspaceSymbol(
            name=sym.name, kind=_SYMBOL_KIND.get(sym.kind, lsp.SymbolKind.Variable),
            location=_location(ls, sym.name_span), container_name=sym.container))
    return out


# ------------------------------------------------------------------------- editing
@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
@safe(_empty)
async def formatting(ls: TwdslServer, params: lsp.DocumentFormattingParams
                     ) -> list[lsp.TextEdit]:
    snap = await ls.ensure(params.text_document.uri)
    if snap is None:
        return []
    conv = ls.converter(snap)
    return [conv.edit(e) for e in ide.format_edits(snap)]


@server.feature(lsp.TEXT_DOCUMENT_RANGE_FORMATTING)
@safe(_empty)
async def range_formatting(ls: TwdslServer, params: lsp.DocumentRangeFormattingParams
                           ) -> list[lsp.TextEdit]:
    snap = await ls.ensure(params.text_document.uri)
    if snap is None:
        return []
    conv = ls.converter(snap)
    r = params.range
    end_line = r.end.line + 1 if r.end.character > 0 or r.end.line == r.start.line else r.end.line
    return [conv.edit(e) for e in ide.format_edits(snap, r.start.line + 1, end_line)]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION,
                lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
@safe(_empty)
async def code_actions(ls: TwdslServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    uri = params.text_document.uri
    snap = await ls.ensure(uri)
    if snap is None:
        return []
    conv = ls.converter(snap)
    start, end = conv.offset(params.range.start), conv.offset(params.range.end)
    diags: list[Diagnostic] = [d for d in snap.analysis.diagnostics if d.span.file == snap.path
                               and d.span.start <= end and start <= d.span.end]
    out = []
    for action in ide.code_actions(snap, diags):
        out.append(lsp.CodeAction(
            title=action.title, kind=lsp.CodeActionKind.QuickFix,
            diagnostics=[conv.diagnostic(action.diagnostic, {snap.path: uri})],
            is_preferred=action.preferred or None,
            edit=lsp.WorkspaceEdit(changes={uri: [conv.edit(e) for e in action.edits]})))
    return out


# ------------------------------------------------------------------------- presentation
@server.feature(lsp.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL,
                lsp.SemanticTokensRegistrationOptions(legend=LEGEND, full=True))
@safe(lambda: lsp.SemanticTokens(data=[]))
async def semantic_tokens(ls: TwdslServer, params: lsp.SemanticTokensParams
                          ) -> lsp.SemanticTokens:
    snap = await ls.ensure(params.text_document.uri)
    if snap is None:
        return lsp.SemanticTokens(data=[])
    conv = ls.converter(snap)
    data: list[int] = []
    prev_line = prev_char = 0
    types = list(ide.info.TOKEN_TYPES)
    mods = list(ide.info.TOKEN_MODIFIERS)
    for tok in ide.semantic_tokens(ls.workspace_view(), snap.path):
        pos = conv.range(tok.span).start
        delta_line = pos.line - prev_line
        delta_char = pos.character - prev_char if delta_line == 0 else pos.character
        bits = sum(1 << mods.index(m) for m in tok.modifiers)
        data += [delta_line, delta_char, conv.length(tok.span), types.index(tok.type), bits]
        prev_line, prev_char = pos.line, pos.character
    return lsp.SemanticTokens(data=data)


@server.feature(lsp.TEXT_DOCUMENT_FOLDING_RANGE)
@safe(_empty)
async def folding(ls: TwdslServer, params: lsp.FoldingRangeParams) -> list[lsp.FoldingRange]:
    snap = await ls.ensure(params.text_document.uri)
    if snap is None:
        return []
    return [lsp.FoldingRange(start_line=f.start_line - 1, end_line=f.end_line - 1,
                             kind=_FOLD_KIND[f.kind]) for f in ide.folding_ranges(snap)]


@server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions(resolve_provider=False))
@safe(_empty)
async def inlay_hints(ls: TwdslServer, params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
    snap = await ls.ensure(params.text_document.uri)
    if snap is None:
        return []
    conv = ls.converter(snap)
    start, end = conv.offset(params.range.start), conv.offset(params.range.end)
    return [lsp.InlayHint(position=conv.position(h.offset), label=h.label,
                          kind=lsp.InlayHintKind.Type, tooltip=h.tooltip or None,
                          padding_left=False)
            for h in ide.inlay_hints(snap, start, end)]


def serve(tcp: bool = False, host: str = "127.0.0.1", port: int = 2087) -> None:
    """Run the server on stdio, or on a TCP port (``twdsl lsp --tcp``)."""
    if tcp:
        server.start_tcp(host, port)
    else:
        server.start_io()
