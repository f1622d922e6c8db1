"""Packaging: the wheel installs twdsl with twdsl.lsp, twdsl.runtime and the grammar inside it,
and no bare top-level ``lsp``/``runtime``/``grammar`` package; the editable install maps the same
names onto the repository's folders."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

import twdsl

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, text=True)
    (whl,) = out.glob("twdsl-*.whl")
    return whl


def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "twdsl/grammar/twdsl.lark" in names
    assert "twdsl/lsp/__init__.py" in names
    assert "twdsl/runtime/__init__.py" in names
    tops = {n.split("/")[0] for n in names if not n.startswith("twdsl-")}
    assert tops == {"twdsl"}, tops  # no bare lsp/, runtime/, grammar/, tests/


def test_wheel_installs_into_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", str(wheel)], check=True,
                   capture_output=True, text=True)
    code = (
        "import twdsl, twdsl.lsp, twdsl.runtime, twdsl.grammar, importlib.util, pathlib;"
        "from twdsl.syntax.grammar import grammar_text;"
        "assert 'workflow_decl' in grammar_text();"
        "assert importlib.util.find_spec('lsp') is None;"
        "assert importlib.util.find_spec('runtime') is None;"
        "assert 'site-packages' in twdsl.__file__;"
        "r = twdsl.analyze('workflow W { version: \"1.0.0\" }', 'w.twdsl');"
        "print(r.ok, twdsl.__version__)"
    )
    run = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"True {twdsl.__version__}"
    cli = subprocess.run([str(env_dir / "bin" / "twdsl"), "--version"], capture_output=True,
                         text=True)
    assert cli.stdout.strip() == f"twdsl {twdsl.__version__}"


def test_editable_install_maps_folders() -> None:
    import twdsl.grammar
    import twdsl.lsp
    import twdsl.runtime

    if "site-packages" in twdsl.__file__:
        pytest.skip("twdsl is installed from a wheel here, not editable")
    assert Path(twdsl.lsp.__file__).parent == ROOT / "lsp"
    assert Path(twdsl.runtime.__file__).parent == ROOT / "runtime"
    assert Path(twdsl.grammar.__file__).parent == ROOT / "grammar"


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """A new twdsl/ subpackage must be added to [tool.setuptools] packages, or the wheel
    silently ships without it."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {"twdsl", "twdsl.grammar"}
    for folder, package in ((ROOT / "twdsl", "twdsl"), (ROOT / "lsp", "twdsl.lsp"),
                            (ROOT / "runtime", "twdsl.runtime")):
        for p in folder.rglob("__init__.py"):
            found.add(".".join([package, *p.parent.relative_to(folder).parts]))
    assert found == listed
