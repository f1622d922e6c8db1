"""Output files are written the way a user expects of any Unix tool (`write_output`,
docs/cli.md): through symlinks, to devices and pipes directly, keeping an existing file's mode,
a new file's mode from the umask, and a clear error (exit 2) where nothing can be written.
`twdsl compile -o`, `graph -o` and `fmt` in place, each as a real process."""

from __future__ import annotations

import ctypes
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import PRETTY, UGLY

from twdsl.compiler import compile_source
from twdsl.ir import render

FLOW = 'workflow W {\n  version: "1.0.0"\n  task a {\n    agent: "echo"\n  }\n}\n'
WRITERS = ["compile", "graph", "fmt"]


def twdsl(*args: str, cwd: Path, umask: int = 0o022,
          preexec: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    def setup() -> None:
        os.umask(umask)
        if preexec is not None:
            preexec()

    return subprocess.run([sys.executable, "-m", "twdsl.cli", *args], cwd=cwd,
                          capture_output=True, text=True, preexec_fn=setup,
                          env={**os.environ, "NO_COLOR": "1"})


def write(tool: str, out: Path, cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    """Make ``tool`` write to ``out``: compile/graph with -o; fmt formats ``out`` in place
    (so for fmt, ``out`` must already hold the unformatted text)."""
    if tool == "fmt":
        return twdsl("fmt", str(out), cwd=cwd, **kw)  # type: ignore[arg-type]
    return twdsl(tool, "w.twdsl", "-o", str(out), cwd=cwd, **kw)  # type: ignore[arg-type]


def expected(tool: str) -> bytes:
    """What ``tool`` writes: the formatted file, the IR at -O1, the Mermaid graph at -O0."""
    if tool == "fmt":
        return PRETTY.encode()
    program = compile_source(FLOW, "w.twdsl", None, 1 if tool == "compile" else 0).program
    assert program is not None
    return (program.to_json() if tool == "compile" else render.mermaid(program)).encode()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "w.twdsl").write_text(FLOW)
    return tmp_path


@pytest.mark.parametrize("tool", WRITERS)
def test_a_symlink_is_written_through(work: Path, tool: str) -> None:
    target = work / "real" / "out.txt"
    target.parent.mkdir()
    target.write_text(UGLY)
    link = work / "link.txt"
    link.symlink_to(target)
    done = write(tool, link, work)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == expected(tool)
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]  # no temp left


def _null_device(work: Path) -> Path:
    """A character device to write to: as root, a /dev/null of our own (mknod 1,3) so that a
    regression cannot replace the machine's /dev/null; otherwise /dev/null itself, which a
    user cannot replace anyway."""
    if os.geteuid() != 0:
        return Path("/dev/null")
    dev = work / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return dev


@pytest.mark.parametrize("tool", ["compile", "graph"])
def test_a_character_device_is_written_to_not_replaced(work: Path, tool: str) -> None:
    dev = _null_device(work)
    before = os.stat(dev)
    done = write(tool, dev, work)
    assert (done.returncode, done.stderr) == (0, "")
    after = os.stat(dev)
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_rdev, after.st_ino, stat.S_IMODE(after.st_mode)) == (
        before.st_rdev, before.st_ino, stat.S_IMODE(before.st_mode))


@pytest.mark.parametrize("tool", ["compile", "graph"])
def test_a_fifo_is_written_to_not_replaced(work: Path, tool: str) -> None:
    fifo = work / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = write(tool, fifo, work)
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert received == [expected(tool)]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("tool", WRITERS)
def test_an_existing_files_mode_is_kept(work: Path, tool: str) -> None:
    out = work / "out.twdsl"
    out.write_text(UGLY)
    out.chmod(0o640)
    done = write(tool, out, work, umask=0o077)  # the umask does not apply to an existing file
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert out.read_bytes() == expected(tool)


@pytest.mark.parametrize("tool, umask, mode", [("compile", 0o022, 0o644),
                                               ("graph", 0o022, 0o644),
                                               ("compile", 0o077, 0o600)])
def test_a_new_file_gets_the_mode_the_umask_allows(work: Path, tool: str, umask: int,
                                                   mode: int) -> None:
    out = work / "new.out"
    done = write(tool, out, work, umask=umask)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == mode


def _honour_permissions() -> None:
    """Make root obey permission bits in the child: drop CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH from its bounding set (prctl PR_CAPBSET_DROP) before it execs."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) refused")


def _as_a_user() -> Callable[[], None] | None:
    if os.geteuid() != 0:
        return None
    probe = subprocess.run(["true"], preexec_fn=_honour_permissions, capture_output=True)
    if probe.returncode != 0:  # pragma: no cover - a container without CAP_SETPCAP
        if os.environ.get("CI"):
            pytest.fail("running as root and cannot drop CAP_DAC_OVERRIDE for the child "
                        "(prctl PR_CAPBSET_DROP needs CAP_SETPCAP): a read-only folder cannot "
                        "be made")
        pytest.skip("root writes into read-only folders, and dropping the capability failed")
    return _honour_permissions


@pytest.mark.parametrize("tool", WRITERS)
def test_a_read_only_folder_is_a_usage_error_and_nothing_changes(work: Path, tool: str) -> None:
    preexec = _as_a_user()
    folder = work / "ro"
    folder.mkdir()
    out = folder / ("w.twdsl" if tool == "fmt" else "out.json")
    if tool == "fmt":
        out.write_text(UGLY)
    folder.chmod(0o555)
    try:
        done = write(tool, out, work, preexec=preexec)
    finally:
        folder.chmod(0o755)
    assert done.returncode == 2
    assert done.stderr == f"twdsl: error: cannot write '{out}': Permission denied\n"
    assert sorted(p.name for p in folder.iterdir()) == (["w.twdsl"] if tool == "fmt" else [])
    if tool == "fmt":
        assert out.read_text() == UGLY


@pytest.mark.parametrize("tool", ["compile", "graph"])
def test_a_folder_as_output_is_a_usage_error(work: Path, tool: str) -> None:
    done = write(tool, work, work)
    assert (done.returncode, done.stderr) == (
        2, f"twdsl: error: cannot write '{work}': Is a directory\n")
