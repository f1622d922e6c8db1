"""The layering of shared/design/architecture.md, enforced: dependencies point one way
(syntax -> semantics -> lint/analysis -> front doors), front doors use only the public
analysis API, and the runtime never sees the AST."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# For each layer: the twdsl modules (prefixes) it may import.
_BASE = ("twdsl.diagnostics", "twdsl.source", "twdsl.suggest", "twdsl.recursion")
ALLOWED = {
    "twdsl.syntax": (*_BASE, "twdsl.syntax"),
    "twdsl.semantics": (*_BASE, "twdsl.syntax", "twdsl.semantics"),
    "twdsl.lint": (*_BASE, "twdsl.syntax", "twdsl.semantics", "twdsl.lint", "twdsl.codes"),
    # Front doors: the public API only, never the stages behind it.
    # The IR is plain data: it knows nothing of the compiler that makes it.
    "twdsl.ir": ("twdsl.ir",),
    # Optimizer passes: IR in, IR out.
    "twdsl.passes": ("twdsl.ir", "twdsl.passes"),
    # Lowering reads the checked AST and writes IR.
    "twdsl.lowering": (*_BASE, "twdsl.syntax", "twdsl.semantics", "twdsl.ir", "twdsl.lowering"),
    # The IDE layer: editor features computed on the analysis, in core types (spans).
    "twdsl.ide": ("twdsl", *_BASE, "twdsl.analysis", "twdsl.project", "twdsl.formatter",
                  "twdsl.config", "twdsl.codes", "twdsl.syntax", "twdsl.semantics",
                  "twdsl.ide"),
    # Front doors: the public API only, never the stages behind it.
    "twdsl.cli": ("twdsl", *_BASE, "twdsl.analysis", "twdsl.project", "twdsl.formatter",
                  "twdsl.config", "twdsl.fix", "twdsl.report", "twdsl.codes",
                  "twdsl.compiler", "twdsl.ir", "twdsl.runtime", "twdsl.lsp", "twdsl.server",
                  "twdsl.lint.schedule"),
    # The server is a front door like the CLI: the public API, the runtime and its store, the
    # schedule rule of twdsl/lint/schedule.py (what `check` says a schedule means).
    "twdsl.server": ("twdsl", *_BASE, "twdsl.analysis", "twdsl.config", "twdsl.compiler",
                     "twdsl.ir", "twdsl.runtime", "twdsl.lint.schedule", "twdsl.server"),
    "twdsl.lsp": ("twdsl", *_BASE, "twdsl.analysis", "twdsl.project", "twdsl.formatter",
                  "twdsl.config", "twdsl.codes", "twdsl.ide", "twdsl.lsp"),
    # The runtime runs IR only (twdsl.ir, once it exists): no AST, no checker.
    "twdsl.runtime": ("twdsl.ir", "twdsl.runtime", "twdsl.diagnostics", "twdsl.source"),
}
FOLDERS = {"twdsl.lsp": ROOT / "lsp", "twdsl.runtime": ROOT / "runtime"}


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((ROOT / "twdsl").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        out.append((".".join(p for p in rel.parts if p != "__init__"), path))
    for package, folder in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            out.append((".".join([package, *(p for p in rel.parts if p != "__init__")]), path))
    return out


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m == "twdsl" or m.startswith("twdsl.")}


def _layer(module: str) -> str | None:
    return next((layer for layer in ALLOWED if module == layer or
                 module.startswith(layer + ".")), None)


@pytest.mark.parametrize("module, path", _modules(), ids=[m for m, _ in _modules()])
def test_imports_follow_the_layers(module: str, path: Path) -> None:
    layer = _layer(module)
    if layer is None:
        return  # the core modules (analysis, project, formatter, …) sit above the stages
    allowed = ALLOWED[layer]
    bad = sorted(m for m in _imports(path)
                 if not any(m == a or m.startswith(a + ".") for a in allowed))
    assert bad == [], f"{module} ({layer}) imports {bad}"


def test_the_layers_exist() -> None:
    """The table above names real packages (a typo would make the test vacuous)."""
    modules = {m for m, _ in _modules()}
    for layer in ALLOWED:
        assert layer in modules, layer
