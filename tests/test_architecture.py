"""The layering of the architecture, enforced (README, Layout; docs/ir.md):

* dependencies point one way: lang -> syntax -> semantics -> lint / lowering -> ir -> runtime;
  the language's rules (:mod:`twdsl.lang`) import nothing else of twdsl, and everything may
  import them;
* front doors (the CLI, the language server, the editor features) use the public API (analysis,
  project, compiler, formatter, the semantic model) and never the stages behind it;
* the runtime runs IR only: no AST, no checker;
* no module imports a ``_private`` name of another module, and nothing imports the bare package
  ``twdsl`` for more than its version.

``violations(root)`` is the check; the tests run it on the repository and on a copy with a
forbidden import planted in it, so that the check itself is known to bite.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

_BASE = ("twdsl.diagnostics", "twdsl.source", "twdsl.suggest", "twdsl.recursion", "twdsl.lang")
_PUBLIC_API = ("twdsl.analysis", "twdsl.project", "twdsl.formatter", "twdsl.config",
               "twdsl.codes", "twdsl.policy")

#: For each layer (a module or package), the modules it may import (itself always).
ALLOWED: dict[str, tuple[str, ...]] = {
    "twdsl.lang": (),
    "twdsl.diagnostics": ("twdsl.source",),
    "twdsl.source": (),
    "twdsl.suggest": ("twdsl.diagnostics", "twdsl.source"),
    "twdsl.recursion": (),
    "twdsl.syntax": (*_BASE, "twdsl.grammar"),
    "twdsl.semantics": (*_BASE, "twdsl.syntax"),
    "twdsl.codes": (*_BASE,),
    "twdsl.rulesdoc": ("twdsl.codes",),
    "twdsl.lint": (*_BASE, "twdsl.syntax", "twdsl.semantics", "twdsl.codes"),
    "twdsl.config": (*_BASE, "twdsl.codes"),
    "twdsl.policy": (*_BASE, "twdsl.config", "twdsl.codes", "twdsl.syntax"),
    "twdsl.formatter": (*_BASE, "twdsl.syntax"),
    "twdsl.analysis": (*_BASE, "twdsl.config", "twdsl.policy", "twdsl.syntax",
                       "twdsl.semantics", "twdsl.lint"),
    "twdsl.project": (*_BASE, "twdsl.analysis", "twdsl.config", "twdsl.syntax",
                      "twdsl.semantics"),
    "twdsl.fix": (*_BASE, *_PUBLIC_API, "twdsl.syntax"),
    "twdsl.report": (*_BASE, "twdsl.codes"),
    # The IR is plain data with its evaluator: it knows nothing of the compiler that makes it.
    "twdsl.ir": ("twdsl.lang",),
    # Optimizer passes: IR in, IR out.
    "twdsl.passes": ("twdsl.lang", "twdsl.ir"),
    # Lowering reads the semantic model and writes IR.
    "twdsl.lowering": (*_BASE, "twdsl.syntax", "twdsl.semantics", "twdsl.ir"),
    "twdsl.compiler": (*_BASE, *_PUBLIC_API, "twdsl.syntax", "twdsl.semantics",
                       "twdsl.lowering", "twdsl.passes", "twdsl.ir"),
    # Editor features: computed on the analysis and its semantic model.
    "twdsl.ide": (*_BASE, *_PUBLIC_API, "twdsl.syntax", "twdsl.semantics"),
    # Versions: the pure comparison reads two programs (IR) only, so that the runtime may call
    # it; reading and compiling the versions uses the public API and the compiler.
    "twdsl.versions.diff": ("twdsl.lang", "twdsl.ir"),
    "twdsl.versions": (*_BASE, *_PUBLIC_API, "twdsl.syntax", "twdsl.compiler", "twdsl.ir"),
    # Front doors: the public API only, never the stages behind it.
    "twdsl.cli": (*_BASE, *_PUBLIC_API, "twdsl.fix", "twdsl.report", "twdsl.compiler",
                  "twdsl.ir", "twdsl.runtime", "twdsl.lsp", "twdsl.server", "twdsl.syntax.parser",
                  "twdsl.lint.schedule", "twdsl.testing", "twdsl.debug", "twdsl.versions"),
    # The debugger is a front door too: it runs programs on the runtime and compiles the
    # expressions typed in it with the compiler's public API (never the stages behind it).
    "twdsl.debug": (*_BASE, *_PUBLIC_API, "twdsl.compiler", "twdsl.ir", "twdsl.runtime"),
    # The server is a front door like the CLI: the public API, the runtime and its store, and
    # the schedule rule of twdsl/lint/schedule.py (what `check` says a schedule means).
    "twdsl.server": (*_BASE, *_PUBLIC_API, "twdsl.compiler", "twdsl.ir", "twdsl.runtime",
                     "twdsl.lint.schedule"),
    "twdsl.lsp": (*_BASE, *_PUBLIC_API, "twdsl.ide"),
    # Workflow tests (`twdsl test`): compiled programs (the CLI compiles them) run on the
    # runtime with mock agents; nothing of the compiler.
    "twdsl.testing": (*_BASE, "twdsl.ir", "twdsl.runtime"),
    # The runtime runs IR only: no AST, no checker.
    "twdsl.runtime": (*_BASE, "twdsl.ir"),
    "twdsl": (),  # the package's own __init__: lazy names only
}
FOLDERS = {"twdsl": ROOT / "twdsl", "twdsl.lsp": ROOT / "lsp", "twdsl.runtime": ROOT / "runtime"}


def _modules(folders: dict[str, Path]) -> list[tuple[str, Path]]:
    out = []
    for package, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            out.append((".".join([package, *(p for p in rel.parts if p != "__init__")]), path))
    return out


def _imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of each twdsl import of the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.module, a.name, node.lineno) for a in node.names]
    return [f for f in found if f[0] == "twdsl" or f[0].startswith("twdsl.")]


def _layer(module: str) -> str | None:
    return max((layer for layer in ALLOWED if module == layer or
                module.startswith(layer + ".")), key=len, default=None)


def violations(folders: dict[str, Path]) -> list[str]:
    """Every import that breaks the layering, as ``path:line: module imports x``."""
    out = []
    for module, path in _modules(folders):
        layer = _layer(module)
        where = f"{path.relative_to(path.parents[1])}"
        if layer is None:
            out.append(f"{where}: {module} belongs to no layer of ALLOWED")
            continue
        allowed = (layer, *ALLOWED[layer])
        for target, name, line in _imports(path):
            if name is not None and name.startswith("_") and not name.startswith("__"):
                out.append(f"{where}:{line}: {module} imports the private name {name} of "
                           f"{target}")
            if target == "twdsl" and layer != "twdsl":
                if name != "__version__":
                    out.append(f"{where}:{line}: {module} imports {name} from the bare package "
                               "twdsl: import it from its module")
                continue
            if not any(target == a or target.startswith(a + ".") for a in allowed):
                out.append(f"{where}:{line}: {module} ({layer}) imports {target}")
    return out


def test_the_repository_follows_the_layers() -> None:
    assert violations(FOLDERS) == []


def test_every_module_imports() -> None:
    """Each module imports as installed (mypy cannot follow lsp/ and runtime/ as twdsl.*, so
    an import of a module that moved would only fail when that code runs).  In a process of its
    own: importing every module here would import optional engines (Ray) in the test process
    before their tests set them up."""
    modules = [m for m, _ in _modules(FOLDERS) if not m.endswith("__main__")]
    code = ("import importlib, sys, traceback\nbad = []\n"
            f"for m in {modules!r}:\n"
            "    try:\n        importlib.import_module(m)\n"
            "    except Exception as e:\n        bad.append(f'{m}: {e!r}')\n"
            "print('\\n'.join(bad))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (r.returncode, r.stdout.strip()) == (0, ""), r.stderr[-2000:]


def test_every_layer_exists() -> None:
    """The table names real modules (a typo would make a rule vacuous)."""
    modules = {m for m, _ in _modules(FOLDERS)}
    for layer in ALLOWED:
        assert any(m == layer or m.startswith(layer + ".") for m in modules), layer


@pytest.mark.parametrize("where, planted, expected", [
    ("lsp/server.py", "from twdsl.runtime.engine import Engine",
     "twdsl.lsp.server (twdsl.lsp) imports twdsl.runtime.engine"),
    ("twdsl/ide/info.py", "from twdsl.lowering import lower_workflow",
     "twdsl.ide.info (twdsl.ide) imports twdsl.lowering"),
    ("twdsl/cli/check.py", "from twdsl.syntax.parser import _Driver",
     "twdsl.cli.check imports the private name _Driver of twdsl.syntax.parser"),
    ("twdsl/cli/run.py", "from twdsl.semantics.typecheck import Checker",
     "twdsl.cli.run (twdsl.cli) imports twdsl.semantics.typecheck"),
    ("twdsl/debug/expressions.py", "from twdsl.semantics.typecheck import Checker",
     "twdsl.debug.expressions (twdsl.debug) imports twdsl.semantics.typecheck"),
    ("twdsl/debug/session.py", "from twdsl.cli.run import load_program",
     "twdsl.debug.session (twdsl.debug) imports twdsl.cli.run"),
    ("runtime/engine.py", "from twdsl.syntax import ast",
     "twdsl.runtime.engine (twdsl.runtime) imports twdsl.syntax"),
    ("twdsl/lang/values.py", "from twdsl.ir import expr",
     "twdsl.lang.values (twdsl.lang) imports twdsl.ir"),
    ("twdsl/versions/diff.py", "from twdsl.compiler import compile_source",
     "twdsl.versions.diff (twdsl.versions.diff) imports twdsl.compiler"),
    ("twdsl/ide/completion.py", "from twdsl import analyze",
     "imports analyze from the bare package twdsl: import it from its module"),
])
def test_a_planted_violation_is_caught(tmp_path: Path, where: str, planted: str,
                                       expected: str) -> None:
    copy = {}
    for package, folder in FOLDERS.items():
        target = tmp_path / folder.name
        shutil.copytree(folder, target, ignore=shutil.ignore_patterns("__pycache__"))
        copy[package] = target
    assert violations(copy) == []
    victim = tmp_path / where
    victim.write_text(planted + "\n" + victim.read_text())
    found = violations(copy)
    assert len(found) == 1 and found[0].endswith(expected), found
