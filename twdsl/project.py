"""Projects: check several files as one program, following their imports.

Pure like :func:`twdsl.analyze`: texts come in a map (the CLI reads them from disk, the
language server from open documents); files imported but not in the map are asked of
``load`` (None: no such file).
"""

from __future__ import annotations

from collections.abc import Callable

from twdsl.analysis import Analysis, analyze_parsed
from twdsl.config import DEFAULT, Config
from twdsl.semantics.modules import Imports, import_cycles, resolve_imports, target_path
from twdsl.semantics.typecheck import Checker, Signature
from twdsl.semantics.types import ANY, Rec, Type
from twdsl.syntax import ast as A
from twdsl.syntax.parser import ParseResult, parse


def analyze_project(sources: dict[str, str], load: Callable[[str], str | None] | None = None,
                    config_for: Callable[[str], Config] | None = None) -> dict[str, Analysis]:
    """Analyse every file of ``sources`` (path → text), resolving imports among them.

    >>> out = analyze_project({
    ...     "lib.twdsl": 'export agent Echo { input { x: number } output { y: number } }',
    ...     "main.twdsl": 'import { Echo } from "./lib.twdsl"\\n'
    ...                   'workflow W { version: "1" task t { agent: Echo input: { x: "1" } } }'})
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
        self._checkers: dict[str, Checker] = {}
        self._busy: set[str] = set()

    def analyze(self, config_for: Callable[[str], Config]) -> dict[str, Analysis]:
        out = {}
        for path in self.sources:
            imports, diags = self.imports[path]
            out[path] = analyze_parsed(self.parsed[path], config_for(path), imports,
                                       self.lent(path), diags + self.cycles.get(path, []))
        return out

    def lent(self, path: str) -> dict[str, Signature | Type]:
        """Imported agents and types of ``path``, resolved in the files that declare them."""
        imports: Imports = self.imports[path][0]
        out: dict[str, Signature | Type] = {}
        for name, (where, decl) in imports.decls.items():
            if isinstance(decl, A.AgentDecl):
                checker = self.checker(where)
                out[name] = checker.agents[decl.name.name] if checker else Signature(
                    Rec(()), frozenset(), ANY)
            elif isinstance(decl, A.TypeDecl):
                checker = self.checker(where)
                out[name] = checker.named(decl.name.name) if checker else ANY
        return out

    def checker(self, path: str) -> Checker | None:
        if path in self._checkers:
            return self._checkers[path]
        if path in self._busy or path not in self.parsed:
            return None  # an import cycle (reported) or a missing file: nothing to lend
        self._busy.add(path)
        checker = Checker(self.parsed[path].module, self.lent(path))
        self._busy.discard(path)
        self._checkers[path] = checker
        return checker

