"""Configuration: the one module that reads ``twdsl.toml`` or ``[tool.twdsl]`` in pyproject.toml.

The nearest file wins, searching from the checked file's folder upwards; a ``twdsl.toml``
beats a ``pyproject.toml`` in the same folder, and a pyproject.toml without a
``[tool.twdsl]`` table is passed over.  CLI flags override what the file says.

```toml
[check]
ignore = ["TW503"]                 # codes (or rule names) never reported

[check.severity]                   # lint rules and warnings may change severity, or be "off"
TW501 = "error"
unused-input = "off"

[agents.Builder]                   # how tasks reach real work (docs/agents.md)
python = "agents:build"

[run]                              # `twdsl run` defaults (flags override)
state = ".twdsl/state.db"          # the state store, relative to this file's folder
max_concurrency = 16               # task attempts running at once, unless the workflow says
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twdsl.codes import CODES, Code
from twdsl.diagnostics import Severity

_BY_NAME = {c.name: c for c in CODES.values()}
_LEVELS = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO,
           "hint": Severity.HINT, "off": None}


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Config:
    """Settings for checking: severities (None = off) and ignored codes, by code."""

    severity: dict[str, Severity | None] = field(default_factory=dict)
    ignore: frozenset[str] = frozenset()
    path: Path | None = None
    #: Agents bound in the [agents] table (None: the file has no such table); the runtime
    #: reads the bindings, the checker only their names.
    agents: frozenset[str] | None = None
    #: The [agents] table as written: name -> binding table (the runtime validates them).
    agent_specs: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The [run] table: state (a path), max_concurrency (a number).
    run: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        """Where relative paths of the file are resolved from (the cwd without a file)."""
        return self.path.parent if self.path is not None else Path.cwd()

    def level(self, code: str, default: Severity) -> Severity | None:
        """The severity ``code`` is reported with, or None when it is not reported."""
        if code in self.ignore:
            return None
        return self.severity.get(code, default)


DEFAULT = Config()


def find_config(start: Path) -> Path | None:
    """The configuration file that applies to files in ``start`` (a folder or a file)."""
    folder = start if start.is_dir() else start.parent
    for d in [folder.resolve(), *folder.resolve().parents]:
        candidate = d / "twdsl.toml"
        if candidate.is_file():
            return candidate
        pyproject = d / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def load_config(path: Path) -> Config:
    """Read a twdsl.toml or a pyproject.toml's [tool.twdsl].

    Raises:
        ConfigError: the file is not valid TOML, or names an unknown code, level or key.
    """
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML: it nests too deeply to be read") from None
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (invalid byte at line {line}); save it as "
                          "UTF-8") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it: {e.strerror}") from e
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path}: 'tool' must be a table ([tool.twdsl] holds twdsl's "
                              "settings)")
        data = tool.get("twdsl", {})
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: 'tool.twdsl' must be a table: write [tool.twdsl] "
                              "and its settings under it")
        where = f"{path} [tool.twdsl]"
    else:
        where = str(path)
    return parse_config(data, where, path)


def parse_config(data: dict[str, Any], where: str, path: Path | None = None) -> Config:
    """Validate the parsed TOML of a configuration.

    >>> parse_config({"check": {"severity": {"TW501": "error"}, "ignore": ["TW503"]}}, "t").ignore
    frozenset({'TW503'})
    """
    unknown = set(data) - {"check", "agents", "run"}
    if unknown:
        first = sorted(unknown)[0]
        hint = ("; [tool.twdsl] is read from a file named pyproject.toml, a twdsl.toml holds "
                "the tables themselves" if first == "tool" else "")
        raise ConfigError(f"{where}: unknown table {first!r} (known: check, agents, run)"
                          f"{hint}")
    check = data.get("check", {})
    if not isinstance(check, dict):
        raise ConfigError(f"{where}: 'check' must be a table")
    extra = set(check) - {"severity", "ignore"}
    if extra:
        raise ConfigError(f"{where}: unknown key 'check.{sorted(extra)[0]}' "
                          "(known: check.severity, check.ignore)")
    severity: dict[str, Severity | None] = {}
    table = check.get("severity", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: 'check.severity' must be a table of code = level")
    for key, level in table.items():
        code = _code(key, where, "check.severity")
        if not isinstance(level, str) or level not in _LEVELS:
            raise ConfigError(f"{where}: check.severity.{key} = {level!r}: the level must be one "
                              f"of {', '.join(repr(k) for k in _LEVELS)}")
        if code.stage != "lint" and code.severity is Severity.ERROR:
            raise ConfigError(f"{where}: check.severity.{key}: {code.code} ({code.name}) is a "
                              f"{code.stage} error and cannot be downgraded; only lint rules and "
                              "warnings can (an inline '// twdsl-ignore: CODE' silences one "
                              "place)")
        severity[code.code] = _LEVELS[level]
    ignore = check.get("ignore", [])
    if not isinstance(ignore, list):
        raise ConfigError(f"{where}: 'check.ignore' must be a list of codes")
    codes = set()
    for key in ignore:
        code = _code(key, where, "check.ignore")
        if code.stage == "syntax":
            raise ConfigError(f"{where}: check.ignore: {code.code} is a syntax error; it cannot "
                              "be ignored")
        codes.add(code.code)
    agents = data.get("agents")
    if agents is not None and not isinstance(agents, dict):
        raise ConfigError(f"{where}: 'agents' must be a table of [agents.Name] tables")
    specs: dict[str, dict[str, Any]] = {}
    for name, spec in (agents or {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: agents.{name} must be a table, e.g. "
                              f"[agents.{name}] with python = \"module:function\"")
        specs[name] = spec
    run = data.get("run", {})
    if not isinstance(run, dict):
        raise ConfigError(f"{where}: 'run' must be a table")
    extra = set(run) - {"state", "max_concurrency"}
    if extra:
        raise ConfigError(f"{where}: unknown key 'run.{sorted(extra)[0]}' "
                          "(known: run.state, run.max_concurrency)")
    if "state" in run and not isinstance(run["state"], str):
        raise ConfigError(f"{where}: run.state must be a path (a string)")
    mc = run.get("max_concurrency")
    if mc is not None and (isinstance(mc, bool) or not isinstance(mc, int) or mc < 1):
        raise ConfigError(f"{where}: run.max_concurrency must be a whole number of at least 1")
    return Config(severity, frozenset(codes), path,
                  frozenset(agents) if agents is not None else None, specs, dict(run))


def _code(key: object, where: str, what: str) -> Code:
    if isinstance(key, str):
        code = CODES.get(key.upper()) or _BY_NAME.get(key)
        if code is not None:
            return code
    raise ConfigError(f"{where}: {what}: unknown code {key!r} (see `twdsl check --explain CODE`)")


def _has_tool_table(pyproject: Path) -> bool:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError, RecursionError):
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and isinstance(tool.get("twdsl"), dict)
