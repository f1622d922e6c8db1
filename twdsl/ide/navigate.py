"""Definition, references, rename and symbols, across the files of a project."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from twdsl.diagnostics import TextEdit
from twdsl.ide.snapshot import Snapshot
from twdsl.ide.symbols import Index, Key, Symbol, build_index
from twdsl.source import Span
from twdsl.syntax.grammar import load as load_grammar

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class Workspace:
    """The snapshots of the open files, each indexed once (lazily)."""

    def __init__(self, snapshots: Iterable[Snapshot]) -> None:
        self.snapshots = {s.path: s for s in snapshots}
        self._indexes: dict[str, Index] = {}

    def index(self, path: str) -> Index | None:
        if path not in self._indexes:
            snap = self.snapshots.get(path)
            if snap is None:
                return None
            self._indexes[path] = build_index(snap.module, path, snap.modules)
        return self._indexes[path]

    def symbol(self, key: Key) -> Symbol | None:
        idx = self.index(key[0])
        if idx is None:  # a file not open: index it from the project's modules
            for snap in self.snapshots.values():
                module = snap.modules.get(key[0])
                if module is not None:
                    idx = self._indexes[key[0]] = build_index(module, key[0], snap.modules)
                    break
        return idx.symbols.get(key) if idx is not None else None


@dataclass(frozen=True, slots=True)
class Location:
    span: Span


def definition(ws: Workspace, path: str, offset: int) -> list[Span]:
    """Where the name at ``offset`` is declared (empty: no declared name there)."""
    idx = ws.index(path)
    occ = idx.at(offset) if idx else None
    if occ is None:
        return []
    sym = ws.symbol(occ.key)
    return [sym.name_span] if sym is not None else []


def references(ws: Workspace, path: str, offset: int, include_declaration: bool = True
               ) -> list[Span]:
    """Every place, in every open file, that names what the name at ``offset`` names."""
    idx = ws.index(path)
    occ = idx.at(offset) if idx else None
    if occ is None:
        return []
    out: list[Span] = []
    for p in ws.snapshots:
        other = ws.index(p)
        assert other is not None
        out.extend(o.span for o in other.refs(occ.key) if include_declaration or not o.is_decl)
    if include_declaration and occ.key[0] not in ws.snapshots:
        sym = ws.symbol(occ.key)
        if sym is not None:
            out.append(sym.name_span)
    return sorted(out, key=lambda s: (s.file, s.start))


def prepare_rename(ws: Workspace, path: str, offset: int) -> Span | None:
    """The span of the renameable name at ``offset``, or None."""
    idx = ws.index(path)
    occ = idx.at(offset) if idx else None
    if occ is None or ws.symbol(occ.key) is None:
        return None
    return occ.span


class RenameError(Exception):
    """The new name cannot be used; the message says why."""


def rename(ws: Workspace, path: str, offset: int, new_name: str) -> dict[str, list[TextEdit]]:
    """The edits, per file, that rename the name at ``offset`` (and its uses) to ``new_name``.

    Raises:
        RenameError: ``new_name`` is not a name, or is a keyword.
    """
    if not _NAME.match(new_name):
        raise RenameError(f"'{new_name}' is not a name (letters, digits and _, not first a digit)")
    if new_name in load_grammar().keywords:
        raise RenameError(f"'{new_name}' is a keyword")
    out: dict[str, list[TextEdit]] = {}
    for span in references(ws, path, offset):
        out.setdefault(span.file, []).append(TextEdit(span, new_name))
    return out


def document_symbols(ws: Workspace, path: str) -> list[Symbol]:
    """The outline: top-level declarations with their tasks, inputs, outputs, parameters."""
    idx = ws.index(path)
    return list(idx.outline) if idx else []


def workspace_symbols(ws: Workspace, query: str) -> list[Symbol]:
    """Declarations of every open file whose name contains the query's letters in order
    (case-insensitive), like editors' fuzzy pickers."""
    q = query.lower()
    out = []
    for p in sorted(ws.snapshots):
        idx = ws.index(p)
        assert idx is not None
        for top in idx.outline:
            for sym in (top, *top.children):
                if _fuzzy(q, sym.name.lower()):
                    out.append(sym)
    return out


def _fuzzy(q: str, name: str) -> bool:
    it = iter(name)
    return all(c in it for c in q)


def highlights(ws: Workspace, path: str, offset: int) -> list[tuple[Span, bool]]:
    """Uses of the name at ``offset`` in this file, with whether each is the declaration."""
    idx = ws.index(path)
    occ = idx.at(offset) if idx else None
    if idx is None or occ is None:
        return []
    return [(o.span, o.is_decl) for o in idx.refs(occ.key)]
