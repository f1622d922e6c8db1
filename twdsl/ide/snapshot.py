"""Snapshots: one analysed version of a document, what every editor feature reads.

The language server keeps the last snapshot of each open document; features that need the
current text rather than the analysed one (completion while typing) reparse only what they
need (see :mod:`twdsl.ide.completion`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twdsl.analysis import Analysis, analyze_parsed
from twdsl.config import DEFAULT, Config
from twdsl.ide.incremental import IncrementalParser
from twdsl.project import Project
from twdsl.recursion import deep_recursion, gc_paused
from twdsl.semantics.modules import Imports
from twdsl.semantics.typecheck import Checker, Signature
from twdsl.semantics.types import Type
from twdsl.source import SourceFile
from twdsl.syntax import ast as A
from twdsl.syntax.parser import ParseResult


@dataclass(slots=True)
class Snapshot:
    """One file as analysed: the analysis plus what its imports lend it (agents, types,
    templates) and the modules of the project (for definitions across files)."""

    analysis: Analysis
    imports: Imports = field(default_factory=Imports)
    lent: dict[str, Signature | Type] = field(default_factory=dict)
    modules: dict[str, A.Module | None] = field(default_factory=dict)
    config: Config = DEFAULT
    #: the texts of the project's files (imported ones included), by path
    files: dict[str, SourceFile] = field(default_factory=dict)
    _checker: Checker | None = None

    @property
    def path(self) -> str:
        return self.analysis.source.path

    @property
    def module(self) -> A.Module:
        return self.analysis.module

    @property
    def source(self) -> SourceFile:
        return self.analysis.source

    @property
    def parse(self) -> ParseResult:
        return self.analysis.parse

    def text_of(self, node: A.Node) -> str:
        """The source text of a node of this file or of a file it imports."""
        src = self.source if node.span.file == self.path else self.files.get(node.span.file)
        return src.text[node.span.start:node.span.end] if src is not None else ""

    @property
    def checker(self) -> Checker:
        """A checker of the module, for declared types and agent signatures (built once;
        only its declaration tables are used, no body is re-checked)."""
        if self._checker is None:
            with deep_recursion(), gc_paused():
                self._checker = Checker(self.module, self.lent)
        return self._checker


def analyze_documents(sources: dict[str, str], load: Callable[[str], str | None] | None = None,
                      config_for: Callable[[str], Config] | None = None,
                      parser: IncrementalParser | None = None) -> dict[str, Snapshot]:
    """Analyse ``sources`` (path → text) as one project, like
    :func:`twdsl.project.analyze_project`, keeping what the editor features need.  With a
    ``parser``, the files of ``sources`` are parsed incrementally (the same result, sooner).

    >>> snaps = analyze_documents({"w.twdsl": 'workflow W { version: "1" }'})
    >>> snaps["w.twdsl"].analysis.ok
    True
    """
    cfg = config_for or (lambda _: DEFAULT)
    project = Project(sources, load) if parser is None else _project(sources, load, parser)
    out: dict[str, Snapshot] = {}
    files = {p: r.source for p, r in project.parsed.items()}
    for path in sources:
        imports, diags = project.imports[path]
        config = cfg(path)
        analysis = analyze_parsed(project.parsed[path], config, imports, project.lent(path),
                                  diags + project.cycles.get(path, []))
        out[path] = Snapshot(analysis, imports, project.lent(path), project.modules, config, files)
    return out


def _project(sources: dict[str, str], load: Callable[[str], str | None] | None,
             parser: IncrementalParser) -> Project:
    """:class:`twdsl.project.Project` with the open files parsed incrementally."""
    with gc_paused():
        return Project(sources, load, parser.parse)


def snapshot(text: str, path: str = "<string>", config: Config = DEFAULT) -> Snapshot:
    """A snapshot of one file on its own (imports not followed)."""
    return analyze_documents({path: text}, None, lambda _: config)[path]
