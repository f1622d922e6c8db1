"""The versions compared: a source file, a compiled program (``.json``), or a file as a git
revision holds it (``REV:path``), each compiled to its workflows' programs with the places
the IR does not keep (:class:`~twdsl.versions.diff.Locations`).

Git is run as a subprocess (``git rev-parse``, ``git show``): the revision is resolved to a
commit first, so a revision is never read as an option.  Files a revision's file imports are
read from the same revision.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from twdsl.analysis import Analysis
from twdsl.compiler import compile_workflows
from twdsl.config import DEFAULT, Config
from twdsl.diagnostics import Diagnostic, Severity
from twdsl.ir.model import Program, SourceRef
from twdsl.project import Project
from twdsl.source import NotUTF8, Span, utf8_text
from twdsl.syntax import ast as A
from twdsl.versions.diff import Locations

Loader = Callable[[str], str | None]


class SourceError(Exception):
    """A version that cannot be read or compiled, said in one line for the user (exit 2)."""


class CompileError(SourceError):
    """A version with errors: its diagnostics, to show before the one-line message."""

    def __init__(self, message: str, analysis: Analysis | None,
                 diagnostics: list[Diagnostic], prefix: str = "") -> None:
        super().__init__(message)
        self.analysis = analysis
        self.diagnostics = diagnostics
        self.prefix = prefix  # shown before the diagnostics' paths (a revision's ``REV:``)


@dataclass(slots=True)
class Source:
    """One version of a file, read: ``label`` names it for people (``old.twdsl``,
    ``HEAD~1:flows/deploy.twdsl``), ``path`` for the compiler (positions carry it), ``prefix``
    is shown before a position's file (``HEAD~1:``), ``disk`` is where its configuration is
    looked for, and ``load`` reads the files it imports."""

    label: str
    path: str
    text: str
    load: Loader
    prefix: str = ""
    disk: Path | None = None

    @property
    def is_program(self) -> bool:
        return self.path.endswith(".json")


@dataclass(slots=True)
class Snapshot:
    """A version compiled: its workflows' programs (by name, in the file's order) and where
    their parts were written; ``analysis`` is None for a compiled program."""

    source: Source
    programs: dict[str, Program]
    locations: dict[str, Locations] = field(default_factory=dict)
    analysis: Analysis | None = None


# ------------------------------------------------------------------------ reading

def decode(raw: bytes, label: str) -> str:
    """Source text as twdsl reads it: UTF-8, a BOM dropped, CRLF read as LF."""
    try:
        return utf8_text(raw).replace("\r\n", "\n")
    except NotUTF8 as e:
        raise SourceError(f"'{label}' is {e}") from e


def disk_loader(path: str) -> str | None:
    """A file an import names, from disk (None: it cannot be read)."""
    try:
        return decode(Path(path).read_bytes(), path)
    except (OSError, SourceError):
        return None


def read_file(path: str) -> Source:
    """A file on disk."""
    p = Path(path)
    if not p.exists():
        raise SourceError(f"'{path}' does not exist (a git revision is written REV:path)")
    if not p.is_file():
        raise SourceError(f"'{path}' is not a file")
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise SourceError(f"cannot read '{path}': {e.strerror}") from e
    return Source(path, path, decode(raw, path), disk_loader, "", p)


def read_spec(spec: str) -> Source:
    """``spec`` as ``twdsl diff`` reads OLD and NEW: an existing file, else ``REV:path`` (the
    path as git reads it: from the repository's top, or from the current folder when it starts
    with ``./`` or ``../``)."""
    if Path(spec).exists() or ":" not in spec:
        return read_file(spec)
    rev, _, path = spec.partition(":")
    if not rev or not path:
        raise SourceError(f"'{spec}': write a file, or REV:path for a file in a git revision")
    repo = Repository.here(spec)
    top_path = repo.path_from_top(path, spec)
    source = repo.file(rev, top_path)
    if source is None:
        raise SourceError(f"'{top_path}' is not in revision '{rev}'")
    return source


@dataclass(slots=True)
class Repository:
    """A git repository, read at revisions."""

    top: Path  # the work tree's top folder
    cwd: Path  # where git was asked from
    commits: dict[str, str] = field(default_factory=dict)  # revision -> commit

    @classmethod
    def here(cls, what: str, where: Path | None = None) -> Repository:
        """The repository of ``where`` (the current folder by default)."""
        cwd = (where or Path.cwd()).resolve()
        run = _git(["rev-parse", "--show-toplevel"], cwd)
        if run.returncode != 0:
            raise SourceError(f"'{what}' names a git revision, and {_folder(cwd)} is not in a "
                              "git repository")
        return cls(Path(run.stdout.decode().strip()).resolve(), cwd)

    def commit(self, rev: str) -> str:
        """The commit ``rev`` names; SourceError when it names none."""
        if rev not in self.commits:
            if rev.startswith("-"):
                raise SourceError(f"'{rev}' is not a git revision")
            run = _git(["rev-parse", "--verify", "--quiet", "--end-of-options",
                        f"{rev}^{{commit}}"], self.cwd)
            if run.returncode != 0:
                raise SourceError(f"unknown git revision '{rev}' in {_folder(self.top)}")
            self.commits[rev] = run.stdout.decode().strip()
        return self.commits[rev]

    def path_from_top(self, path: str, what: str) -> str:
        """``path`` as git reads it after ``REV:`` (``./`` and ``../``: from the current
        folder), from the repository's top."""
        if path.startswith(("./", "../")) or path in (".", ".."):
            path = str(self.cwd.relative_to(self.top) / path)
        top_path = posixpath.normpath(path.replace(os.sep, "/"))
        if top_path.startswith("../") or top_path in ("..", ".") or top_path.startswith("/"):
            raise SourceError(f"'{what}': the path is outside the repository {self.top}")
        return top_path

    def relative(self, file: str) -> str | None:
        """A file's path from the repository's top (None: it is outside)."""
        try:
            return Path(file).resolve().relative_to(self.top).as_posix()
        except ValueError:
            return None

    def show(self, rev: str, top_path: str) -> bytes | None:
        """The bytes of a file at a revision (None: no such file there)."""
        commit = self.commit(rev)
        kind = _git(["cat-file", "-t", f"{commit}:{top_path}"], self.top)
        if kind.returncode != 0 or kind.stdout.strip() != b"blob":
            return None
        run = _git(["show", f"{commit}:{top_path}"], self.top)
        return run.stdout if run.returncode == 0 else None

    def file(self, rev: str, top_path: str) -> Source | None:
        """The file at ``top_path`` (from the top) as revision ``rev`` holds it, with its
        imports read from the same revision (None: the revision has no such file)."""
        raw = self.show(rev, top_path)
        if raw is None:
            return None
        label = f"{rev}:{top_path}"

        def load(p: str) -> str | None:
            target = posixpath.normpath(p)
            if target.startswith("../") or target.startswith("/"):
                return None
            data = self.show(rev, target)
            try:
                return decode(data, f"{rev}:{target}") if data is not None else None
            except SourceError:
                return None

        return Source(label, top_path, decode(raw, label), load, f"{rev}:",
                      self.top / top_path)


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError as e:
        raise SourceError("git is not installed, and a version names a git revision") from e


def _folder(p: Path) -> str:
    return f"the folder {p}"


# ------------------------------------------------------------------------ compiling

def compile_version(source: Source, config: Config = DEFAULT,
                    workflow: str | None = None) -> Snapshot:
    """Every workflow of ``source`` compiled as written (-O0), or only ``workflow`` (when the
    file does not hold it: an empty snapshot).  CompileError when the file has errors."""
    if source.is_program:
        return _program(source, workflow)
    project = Project({source.path: source.text}, source.load)
    analysis = project.analysis(source.path, config)
    errors = [d for d in analysis.diagnostics if d.severity is Severity.ERROR]
    if errors:
        raise CompileError(f"'{source.label}' has {_errors(len(errors))}; fix "
                           f"{'it' if len(errors) == 1 else 'them'} to compare it", analysis,
                           errors, source.prefix)
    decls = [d for d in analysis.module.items if isinstance(d, A.WorkflowDecl)
             and (workflow is None or d.name.name == workflow)]
    compiled = compile_workflows(analysis, 0, [d.name.name for d in decls])
    programs: dict[str, Program] = {}
    locations: dict[str, Locations] = {}
    agents = {name: _ref(d.name.span) for name, d in analysis.scope.agent_decls.items()}
    for decl in decls:
        name = decl.name.name
        comp = compiled[name]
        if comp.program is None:
            errors = [d for d in comp.diagnostics if d.severity is Severity.ERROR]
            raise CompileError(f"'{source.label}': workflow '{name}' does not compile "
                               f"({_errors(len(errors))})", analysis, errors, source.prefix)
        programs[name] = comp.program
        timeout = decl.body.get("timeout")
        locations[name] = Locations(_ref(decl.name.span),
                                    _ref(timeout.span) if timeout is not None else None, agents)
    return Snapshot(source, programs, locations, analysis)


def _program(source: Source, workflow: str | None) -> Snapshot:
    try:
        program = Program.from_json(source.text)
    except ValidationError as e:
        err = e.errors()[0]
        raise SourceError(f"'{source.label}' is not a compiled TWDSL program: {err['msg']} at "
                          f"{'.'.join(map(str, err['loc']))}") from None
    if workflow is not None and program.workflow != workflow:
        return Snapshot(source, {})
    return Snapshot(source, {program.workflow: program})


def _ref(s: Span) -> SourceRef:
    return SourceRef(file=s.file, line=s.line, column=s.column, end_line=s.end_line,
                     end_column=s.end_column)


def _errors(n: int) -> str:
    return f"{n} error{'s' if n != 1 else ''}"


def against(spec: str) -> Callable[[str], Source | None]:
    """What ``twdsl check --against SPEC`` compares each checked file with: one version for
    every file (SPEC an existing file, or ``REV:path``), or each file as git revision REV holds
    it (SPEC ``REV`` or ``REV:``; None for a file the revision does not have)."""
    if Path(spec).exists() or (":" in spec and not spec.endswith(":")):
        source = read_spec(spec)
        return lambda _: source
    rev = spec[:-1] if spec.endswith(":") else spec
    if not rev:
        raise SourceError("--against takes a file, REV:path, or a git revision REV")
    repos: dict[Path, Repository] = {}

    def at(file: str) -> Source | None:
        folder = Path(file).resolve().parent
        if folder not in repos:
            try:
                repos[folder] = Repository.here(spec, folder)
            except SourceError:
                raise SourceError(f"'{spec}' is neither a file nor a git revision of the "
                                  f"repository of {file} (which is in none)") from None
        repo = repos[folder]
        repo.commit(rev)
        top_path = repo.relative(file)
        if top_path is None:  # pragma: no cover - git found the repository from the folder
            raise SourceError(f"'{file}' is not in the git repository {repo.top}")
        return repo.file(rev, top_path)

    return at
