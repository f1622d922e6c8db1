"""Snapshots: one analysed version of a document, what every editor feature reads.

The language server keeps the last snapshot of each open document; features that need the
current text rather than the analysed one (completion while typing) reparse only what they
need (see :mod:`twdsl.ide.completion`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from twdsl.analysis import Analysis
from twdsl.config import DEFAULT, Config
from twdsl.ide.incremental import IncrementalParser
from twdsl.project import Project
from twdsl.recursion import gc_paused
from twdsl.semantics.declarations import Declarations
from twdsl.semantics.model import SemanticModel
from twdsl.semantics.modules import Imports
from twdsl.source import SourceFile
from twdsl.syntax import ast as A
from twdsl.syntax.parser import ParseResult


@dataclass(slots=True)
class Snapshot:
    """One file as analysed: the analysis plus what its imports lend it (agents, types,
    templates) and the modules of the project (for definitions across files)."""

    analysis: Analysis
    imports: Imports = field(default_factory=Imports)
    modules: dict[str, A.Module | None] = field(default_factory=dict)
    config: Config = DEFAULT
    #: the texts of the project's files (imported ones included), by path
    files: dict[str, SourceFile] = field(default_factory=dict)

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
    def declarations(self) -> Declarations:
        """The file's agents and types, resolved by the checker (imported ones lent by their
        files): what hover, completion and inlay hints show."""
        return self.analysis.scope.declarations

    @property
    def model(self) -> SemanticModel | None:
        """The file's semantic model (None when it has syntax errors)."""
        return self.analysis.model


def analyze_documents(sources: dict[str, str], load: Callable[[str], str | None] | None = None,
                      config_for: Callable[[str], Config] | None = None,
                      parser: IncrementalParser | None = None) -> dict[str, Snapshot]:
    """Analyse ``sources`` (path → text) as one project, like
    :func:`twdsl.project.analyze_project`, keeping what the editor features need.  With a
    ``parser``, the files of ``sources`` are parsed, and their workflows checked,
    incrementally (the same result, sooner).

    >>> snaps = analyze_documents({"w.twdsl": 'workflow W { version: "1.0.0" }'})
    >>> snaps["w.twdsl"].analysis.ok
    True
    """
    cfg = config_for or (lambda _: DEFAULT)
    project = Project(sources, load) if parser is None else _project(sources, load, parser)
    out: dict[str, Snapshot] = {}
    files = {p: r.source for p, r in project.parsed.items()}
    for path in sources:
        config = cfg(path)
        analysis = project.analysis(path, config,
                                    parser.reuse(path) if parser is not None else None)
        out[path] = Snapshot(analysis, project.imports[path][0], project.modules, config, files)
    return out


def _project(sources: dict[str, str], load: Callable[[str], str | None] | None,
             parser: IncrementalParser) -> Project:
    """:class:`twdsl.project.Project` with the open files parsed incrementally."""
    with gc_paused():
        return Project(sources, load, parser.parse)


def snapshot(text: str, path: str = "<string>", config: Config = DEFAULT) -> Snapshot:
    """A snapshot of one file on its own (imports not followed)."""
    return analyze_documents({path: text}, None, lambda _: config)[path]
