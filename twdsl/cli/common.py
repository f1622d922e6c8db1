"""What every command of the command line shares: exit codes, reading the files named,
finding each file's configuration, reporting a bug, and writing output files safely.

Exit codes follow docs/cli.md: a user's mistake is reported in words, never as a Python
traceback; a traceback means a bug in twdsl and exits 3 with a request to report it.
"""

from __future__ import annotations

import math
import os
import stat
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from twdsl.config import DEFAULT, Config, ConfigError, find_config, load_config
from twdsl.diagnostics import Severity
from twdsl.source import NotUTF8, utf8_text

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
SUFFIX = ".twdsl"


_F = TypeVar("_F", bound=Callable[..., Any])


def program_options(config_help: str) -> Callable[[_F], _F]:
    """The options that name a program and its inputs, alike for ``run`` and ``submit``:
    ``--input``, ``--inputs-file``, ``--workflow``, ``--optimize``, ``--config`` (in this
    order in ``--help``)."""
    options = [
        click.option("--input", "-i", "pairs", multiple=True, metavar="NAME=VALUE",
                     help="An input, parsed by its declared type (repeatable)."),
        click.option("--inputs-file", type=click.Path(dir_okay=False), default=None,
                     help="A JSON object of inputs (--input values win)."),
        click.option("--workflow", "-w", default=None,
                     help="The workflow to run, when the file has several."),
        click.option("--optimize", "-O", type=click.IntRange(0, 1), default=1,
                     show_default=True, help="Optimization level of the compile (0: no pass)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help=config_help),
    ]

    def apply(fn: _F) -> _F:
        for option in reversed(options):  # the first listed is the outermost: first in help
            fn = option(fn)
        return fn

    return apply


class FiniteRange(click.FloatRange):
    """A FloatRange that refuses NaN and the infinities (which pass its bounds: a lease of
    NaN seconds is never over, nor ever lapses)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        number = float(super().convert(value, param, ctx))
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


#: The largest count a listing takes (--limit): more than any terminal shows, less than a
#: database's integers hold
MAX_LIMIT = 1_000_000


class UsageError(Exception):
    """A bad path or argument: reported in one line, exit 2."""


@dataclass(slots=True)
class InputFile:
    path: str  # as shown to the user
    text: str
    crlf: bool = False


def fail(message: str, code: int = EXIT_USAGE, prefix: str = "twdsl: error: ") -> NoReturn:
    """Print ``twdsl: error: MESSAGE`` (or ``prefix`` and MESSAGE) and exit (2 unless told
    otherwise)."""
    click.echo(f"{prefix}{message}", err=True)
    sys.exit(code)


def collect(paths: tuple[str, ...]) -> list[str]:
    """Files named, and ``*.twdsl`` files under folders named, in a stable order."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob(f"*{SUFFIX}") if f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(path).parts))
            out.extend(found)
        elif path.is_file():
            out.append(p)
        elif not path.exists():
            raise UsageError(f"'{p}' does not exist{missing_hint(p)}")
        else:
            raise UsageError(f"'{p}' is not a file or folder")
    return out


def read_input(path: str) -> InputFile:
    """A source file as text (UTF-8, a BOM dropped, CRLF noted and normalised)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read '{path}': {e.strerror}{missing_hint(path)}") from e
    return decode_input(path, raw)


def missing_hint(path: str) -> str:
    """What to say after "'path' does not exist": the file a dangling symbolic link points
    to, or `` (did you mean 'x'?)`` for a close name in the same folder; else ``""``."""
    p = Path(path)
    if p.is_symlink():
        return f"; it is a symbolic link to '{os.readlink(p)}', which does not exist"
    if p.exists():
        return ""
    from twdsl.suggest import closest

    try:  # names compared without their common suffix, which would make any two look alike
        stems = [c.stem for c in p.parent.iterdir() if c.suffix == p.suffix]
    except OSError:
        return ""
    best = closest(p.stem, stems)
    return f" (did you mean '{p.with_name(best + p.suffix)}'?)" if best is not None else ""


def decode_input(path: str, raw: bytes) -> InputFile:
    """The bytes of source file ``path`` as text, as :func:`read_input` reads them; a
    UsageError naming the line of the first byte that is not UTF-8."""
    try:
        text = utf8_text(raw)
    except NotUTF8 as e:
        raise UsageError(f"'{path}' is not UTF-8 text (invalid byte at line {e.line}); "
                         "save it as UTF-8") from e
    crlf = "\r\n" in text
    return InputFile(path, text.replace("\r\n", "\n") if crlf else text, crlf)


def load_import(path: str) -> str | None:
    """A file an import names, read from disk (None: it cannot be read)."""
    try:
        return Path(path).read_text(encoding="utf-8-sig").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return None


def internal_error(path: str, exc: BaseException) -> NoReturn:
    """A bug in twdsl: say so, with the trace to report, and exit 3.

    A structure nested deeper than a part of twdsl can walk (Python's recursion, the IR's
    JSON writer) is said in words, without a trace: the file is what to report."""
    if too_deep(exc):
        click.echo(f"twdsl: internal error while processing {path}: it nests too deeply for "
                   f"twdsl ({type(exc).__name__}: {exc}). This is a limit of twdsl that "
                   "`twdsl check` does not report yet; please report it with the file. Nesting "
                   "its blocks and expressions less deeply avoids it.", err=True)
        sys.exit(EXIT_INTERNAL)
    click.echo(f"twdsl: internal error while processing {path}: {exc!r}\n"
               "This is a bug in twdsl, not in your file; please report it with the file "
               "and this trace:", err=True)
    click.echo("".join(traceback.format_exception(exc)), err=True)
    sys.exit(EXIT_INTERNAL)


def too_deep(exc: BaseException) -> bool:
    """Whether ``exc`` says a structure was nested too deeply to walk or to write."""
    if isinstance(exc, RecursionError):
        return True
    from pydantic_core import PydanticSerializationError

    return isinstance(exc, PydanticSerializationError) and "depth" in str(exc)


def colour(text: str, severity: Severity) -> str:
    """The first line of a rendered diagnostic in its severity's colour (unless NO_COLOR)."""
    if os.environ.get("NO_COLOR"):
        return text
    head, sep, rest = text.partition("\n")
    hue = {"error": "red", "warning": "yellow"}.get(severity.value, "cyan")
    return click.style(head, fg=hue, bold=True) + sep + rest


class Configs:
    """The configuration of each file: --config, or the nearest file above it (cached).

    A configuration is checked whole when it is loaded, its ``[agents]`` bindings by the
    runtime's own rules (the same check ``twdsl run`` makes before a run: a binding ``run``
    would refuse, such as a command template with an unescaped brace, stops ``check`` too)."""

    def __init__(self, forced: str | None) -> None:
        self.forced = Path(forced) if forced else None
        self.loaded: dict[Path | None, Config] = {None: DEFAULT}

    def for_file(self, path: str) -> Config:
        where = self.forced or find_config(Path(path))
        if where not in self.loaded:
            if self.forced is not None and not self.forced.is_file():
                raise ConfigError(f"{self.forced}: no such configuration file")
            config = load_config(where)  # type: ignore[arg-type]
            check_bindings(config)
            self.loaded[where] = config
        return self.loaded[where]


def check_bindings(config: Config) -> None:
    """The configuration's ``[agents]`` bindings checked as the runtime checks them (nothing
    is imported or started); ConfigError naming the file and the binding otherwise."""
    if not config.agent_specs:
        return
    from twdsl.runtime.agents import AgentRegistry
    from twdsl.runtime.errors import ConfigurationError

    try:
        AgentRegistry(config.agent_specs, config.folder,
                      origin=str(config.path) if config.path else None)
    except ConfigurationError as e:
        raise ConfigError(str(e)) from None


def refuse_reading_as_output(output: str, inputs: Iterable[str | os.PathLike[str]],
                             flag: str) -> None:
    """Exit 2 when the output file ``output`` (given with ``flag``) is one of the files the
    command reads (the same file by any name): writing it would replace the user's file."""
    for read in inputs:
        try:
            same = os.path.samefile(output, read)
        except (OSError, ValueError):
            continue
        if same:
            fail(f"{flag} {output} is a file this command reads ({read}): it would be "
                 "replaced; write to another file")


def write_output(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` the way a user expects of any Unix tool.

    * a symlink is written through (the file it points to changes; the link stays);
    * a device, a pipe or a socket (``/dev/null``, ``/dev/stdout``, a FIFO) is written to
      directly, never replaced;
    * a regular file is replaced in one step (a temporary file beside it renamed over it,
      so an interruption never leaves half a file) and keeps its permission bits;
    * a new file gets the permissions the umask allows, as ``open()`` would give it.

    Raises OSError with the operating system's reason.
    """
    target = Path(os.path.realpath(path))
    try:
        st: os.stat_result | None = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)
        with open(target, "wb") as out:  # a device or a pipe: write, never replace
            out.write(data)
        return
    if st is not None:
        mode = stat.S_IMODE(st.st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, mode)
        if st is not None and os.geteuid() == 0:
            try:  # root replacing a user's file keeps the owner
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str, text: str, crlf: bool = False) -> None:
    """``write_output`` of UTF-8 text, with CRLF line ends if the file had them."""
    write_output(path, (text.replace("\n", "\r\n") if crlf else text).encode("utf-8"))
