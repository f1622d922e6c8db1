"""Modules: what a file's imports bring into scope, once the files they name are known.

Import paths are relative to the importing file.  ``import { a, b as c } from "./x.twdsl"``
brings the exported declarations ``a`` and ``b`` (as ``c``); ``import "./x.twdsl"`` brings every
export by its own name; ``import "./x.twdsl" as x`` brings them under ``x.`` (its templates
are resolved, ``use x.Template(…)``; its other names are not yet).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from twdsl.diagnostics import Diagnostic, Fix, Related, Severity, TextEdit
from twdsl.lang.cycles import find_cycle
from twdsl.source import Span
from twdsl.suggest import did_you_mean
from twdsl.syntax import ast as A


@dataclass(slots=True)
class Imports:
    """Declarations another module lends this one, by the local name they are known by."""

    decls: dict[str, tuple[str, A.Decl]] = field(default_factory=dict)  # name -> (path, decl)
    namespaces: set[str] = field(default_factory=set)
    complete: bool = True  # False when an import could not be resolved: do not guess


def target_path(importer: str, imported: str) -> str:
    """The path an import names, relative to the importing file's folder.

    >>> target_path("flows/main.twdsl", "../lib/agents.twdsl")
    'lib/agents.twdsl'
    """
    return posixpath.normpath(posixpath.join(posixpath.dirname(importer), imported))


def exports(module: A.Module) -> dict[str, A.Decl]:
    return {d.name.name: d for d in module.items if isinstance(d, A.Decl) and
            getattr(d, "exported", False)}


def resolve_imports(path: str, module: A.Module, modules: dict[str, A.Module | None],
                    broken: frozenset[str] = frozenset()) -> tuple[Imports, list[Diagnostic]]:
    """Resolve one module's imports against the other modules (None: the file is missing;
    ``broken``: files with syntax errors, whose exports cannot be trusted)."""
    out = Imports()
    diags: list[Diagnostic] = []
    if not any(isinstance(d, A.ImportDecl) for d in module.items):
        return out, diags  # (walking the module for the names it uses is most of the cost)
    used = _used_names(module)
    for imp in module.items:
        if not isinstance(imp, A.ImportDecl):
            continue
        raw = imp.path.value or ""
        target = target_path(path, raw)
        other = modules.get(target)
        if other is None:
            out.complete = False
            diags.append(Diagnostic("TW220", Severity.ERROR,
                                    f"cannot import '{raw}': there is no file {target}",
                                    imp.path.span))
            continue
        if target in broken:
            out.complete = False  # its own errors are reported where it is checked
            continue
        available = exports(other)
        if imp.names is not None:
            unused = []
            for n in imp.names:
                name = n.name.name
                local = (n.alias or n.name).name
                decl = available.get(name)
                if decl is None:
                    diags.append(_not_exported(other, raw, n.name))
                    continue
                out.decls[local] = (target, decl)
                if local not in used:
                    unused.append(n)
            if unused and len(unused) == len(imp.names):
                diags.append(_unused(imp, f"nothing imported from '{raw}' is used"))
            else:
                for n in unused:
                    diags.append(Diagnostic("TW223", Severity.WARNING,
                                            f"'{(n.alias or n.name).name}' is imported but "
                                            "never used", n.span))
        elif imp.alias is not None:
            out.namespaces.add(imp.alias.name)
            for name, decl in available.items():  # `use lib.Template(…)`
                if isinstance(decl, A.TemplateDecl):
                    out.decls.setdefault(f"{imp.alias.name}.{name}", (target, decl))
            if imp.alias.name not in used:
                diags.append(_unused(imp, f"'{imp.alias.name}' is imported but never used"))
        else:
            for name, decl in available.items():
                out.decls.setdefault(name, (target, decl))
            if not any(name in used for name in available):
                diags.append(_unused(imp, f"nothing exported by '{raw}' is used"))
    return out, diags


def import_cycles(modules: dict[str, A.Module | None]) -> dict[str, list[Diagnostic]]:
    """Import cycles, reported once per cycle at the first module's import that starts it."""
    spans: dict[tuple[str, str], Span] = {}
    imports: dict[str, list[str]] = {}
    for path, module in modules.items():
        if module is None:
            continue
        for imp in module.items:
            if isinstance(imp, A.ImportDecl):
                target = target_path(path, imp.path.value or "")
                if modules.get(target) is not None:
                    imports.setdefault(path, []).append(target)
                    imports.setdefault(target, [])
                    spans.setdefault((path, target), imp.span)
    out: dict[str, list[Diagnostic]] = {}
    if not find_cycle(imports):
        return out  # (networkx, to explain a cycle, is imported only when there is one)
    import networkx as nx

    g: nx.DiGraph = nx.DiGraph()
    g.add_edges_from(spans)
    for comp in nx.strongly_connected_components(g):
        if len(comp) == 1 and not g.has_edge(*(2 * tuple(comp))):
            continue
        start = min(comp)
        cycle = [start]
        node = start
        while True:  # follow the cycle in sorted order of successors inside the component
            node = min(s for s in g.successors(node) if s in comp)
            if node == start or node in cycle:
                break
            cycle.append(node)
        names = " -> ".join([*cycle, start])
        related = tuple(Related(spans[(a, b)], f"{a} imports {b}")
                        for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True)
                        if (a, b) in spans)
        out.setdefault(start, []).append(Diagnostic(
            "TW222", Severity.ERROR, f"import cycle: {names}; move what both need into a third "
            "file", spans[(start, cycle[1] if len(cycle) > 1 else start)], related))
    return out


def _not_exported(other: A.Module, raw: str, ident: A.Ident) -> Diagnostic:
    name = ident.name
    private = {d.name.name for d in other.items if isinstance(d, A.Decl)} - set(exports(other))
    if name in private:
        return Diagnostic("TW221", Severity.ERROR,
                          f"'{name}' is declared in '{raw}' but not exported: write 'export' "
                          "before its declaration", ident.span)
    hint, fix = did_you_mean(name, exports(other), ident.span)
    return Diagnostic("TW221", Severity.ERROR, f"'{raw}' exports no '{name}'{hint}", ident.span,
                      fix=fix)


def _unused(imp: A.ImportDecl, message: str) -> Diagnostic:
    return Diagnostic("TW223", Severity.WARNING, message, imp.span,
                      fix=Fix("remove the import", (TextEdit(imp.span, ""),)))


def _used_names(module: A.Module) -> set[str]:
    """Every name the module's declarations mention (values, agents, types, templates)."""
    used: set[str] = set()
    for node in module.walk():
        if isinstance(node, A.Name):
            used.add(node.name)
        elif isinstance(node, A.NamedType):
            used.add(node.name.name)
        elif isinstance(node, A.Ref):
            used.add(node.parts[0].name)
        elif isinstance(node, A.StringLit) and node.value is not None:
            used.add(node.value)  # agent: "Name" may name an imported signature
    return used
