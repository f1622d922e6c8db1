"""Projects: check several files as one program, following their imports.

Pure like :func:`twdsl.analyze`: texts come in a map (the CLI reads them from disk, the
language server from open documents); files imported but not in the map are asked of
``load`` (None: no such file).  Each file's scope (:class:`~twdsl.semantics.model.FileScope`:
its agents, types and templates) is made once, and what a file imports is lent from the scope
of the file that declares it.
"""

from __future__ import annotations

from collections.abc import Callable

from twdsl.analysis import Analysis, analyze_parsed
from twdsl.config import DEFAULT, Config
from twdsl.lang.types import ANY, Rec
from twdsl.semantics.declarations import Declarations, Lent, Signature
from twdsl.semantics.model import FileScope
from twdsl.semantics.modules import import_cycles, resolve_imports, target_path
from twdsl.semantics.reuse import Reuse
from twdsl.semantics.templates import Templates
from twdsl.syntax import ast as A
from twdsl.syntax.parser import ParseResult, parse


def analyze_project(sources: dict[str, str], load: Callable[[str], str | None] | None = None,
                    config_for: Callable[[str], Config] | None = None) -> dict[str, Analysis]:
    """Analyse every file of ``sources`` (path → text), resolving imports among them.

    >>> out = analyze_project({
    ...     "lib.twdsl": 'export agent Echo { input { x: number } output { y: number } }',
    ...     "main.twdsl": 'import { Echo } from "./lib.twdsl"\\n'
    ...                   'workflow W { version: "1.0.0" '
    ...                   'task t { agent: Echo input: { x: "1" } } }'})
    >>> [d.message for d in out["main.twdsl"].diagnostics]
    ["input 'x' of agent 'Echo' expects number, and this is string"]
    """
    return Project(sources, load).analyze(config_for or (lambda _: DEFAULT))


class Project:
    """Files parsed and their imports resolved: what analysis and the compiler share."""

    def __init__(self, sources: dict[str, str], load: Callable[[str], str | None] | None,
                 parse_source: Callable[[str, str], ParseResult] = parse):
        """``parse_source(text, path)`` parses the files of ``sources`` (the language server
        gives its incremental parser); files reached through imports are parsed plainly."""
        self.sources = sources
        self.parsed: dict[str, ParseResult] = {p: parse_source(t, p)
                                               for p, t in sources.items()}
        self.modules: dict[str, A.Module | None] = {p: r.module for p, r in self.parsed.items()}
        queue = list(self.parsed)
        while queue:  # follow imports to files outside the map
            path = queue.pop()
            module = self.modules[path]
            if module is None:
                continue
            for imp in module.items:
                if isinstance(imp, A.ImportDecl):
                    target = target_path(path, imp.path.value or "")
                    if target in self.modules:
                        continue
                    text = load(target) if load is not None else None
                    if text is None:
                        self.modules[target] = None
                    else:
                        self.parsed[target] = parse(text, target)
                        self.modules[target] = self.parsed[target].module
                        queue.append(target)
        broken = frozenset(p for p, r in self.parsed.items() if not r.ok)
        self.imports = {p: resolve_imports(p, r.module, self.modules, broken)
                        for p, r in self.parsed.items()}
        self.cycles = import_cycles(self.modules)
        self._scopes: dict[str, FileScope] = {}
        self._busy: set[str] = set()

    def analyze(self, config_for: Callable[[str], Config]) -> dict[str, Analysis]:
        out = {}
        for path in self.sources:
            out[path] = self.analysis(path, config_for(path))
        return out

    def analysis(self, path: str, config: Config, reuse: Reuse | None = None) -> Analysis:
        """The analysis of one file of ``sources``, in its project (``reuse``: what the last
        analysis of the file found, twdsl.semantics.reuse)."""
        imports, diags = self.imports[path]
        return analyze_parsed(self.parsed[path], config, self.scope(path),
                              diags + self.cycles.get(path, []), reuse)

    def scope(self, path: str) -> FileScope | None:
        """The scope of a parsed file of the project, made once (None: a missing file, or
        one met again while its own imports are resolved: an import cycle, reported)."""
        if path in self._scopes:
            return self._scopes[path]
        if path in self._busy or path not in self.parsed:
            return None
        self._busy.add(path)
        imports = self.imports[path][0]
        lent: Lent = {}
        templates: dict[str, tuple[Templates, str]] = {}
        for name, (where, decl) in imports.decls.items():
            home = self.scope(where)
            if isinstance(decl, A.AgentDecl):
                lent[name] = home.declarations.agents.get(decl.name.name, _UNKNOWN_AGENT) \
                    if home is not None else _UNKNOWN_AGENT
            elif isinstance(decl, A.TypeDecl):
                lent[name] = home.declarations.named(decl.name.name) if home is not None \
                    else ANY
            elif isinstance(decl, A.TemplateDecl) and home is not None:
                templates[name] = (home.templates, decl.name.name)
        self._busy.discard(path)
        module = self.parsed[path].module
        declarations = Declarations(module, lent, not imports.complete)
        scope = FileScope.of(path, module, imports, declarations, templates)
        scope.text = self.parsed[path].source.text
        self._scopes[path] = scope
        return scope

    def lent(self, path: str) -> Lent:
        """Imported agents and types of ``path``, resolved in the files that declare them."""
        scope = self.scope(path)
        if scope is None:
            return {}
        return {**scope.declarations.agents, **scope.declarations.imported_types}


_UNKNOWN_AGENT = Signature(Rec(()), frozenset(), ANY)
