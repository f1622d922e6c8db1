"""The agent registry: names → agents, from the ``[agents]`` table, the ``twdsl.agents``
entry points and the built-ins (in that order: a configured name wins over the others).

Every binding is checked when the registry is made, before anything runs: a typo in
twdsl.toml is a one-line ConfigurationError naming the binding, the file, what is wrong and
what to write instead.  Python modules are imported on first use (``get``/``missing``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from twdsl.lang.agents import ENTRY_POINT_GROUP
from twdsl.runtime.agents.base import Agent
from twdsl.runtime.agents.breaker import BreakerAgent, BreakerSettings, CircuitBreaker
from twdsl.runtime.agents.builtin import BUILTINS, BuiltinAgent
from twdsl.runtime.agents.command_agent import (
    OUTPUT_MODES,
    CommandAgent,
    CommandSpec,
    Template,
    parse_argument,
)
from twdsl.runtime.agents.python_agent import PythonAgent, load_target
from twdsl.runtime.errors import ConfigurationError
from twdsl.suggest import closest, hint

KINDS = ("python", "command", "url")
COMMON_KEYS = ("timeout", "circuit_breaker", "description")
KEYS = {
    "python": ("python", *COMMON_KEYS, "ray"),
    "command": ("command", "cwd", "env", "output", "kill_grace", *COMMON_KEYS),
    "url": ("url", "headers", "poll_interval", "connect_timeout", "status_origins",
            *COMMON_KEYS),
}
DEFAULT_BREAKER = BreakerSettings()
#: The keys of a Python agent's ``ray`` table (what one call asks of a Ray cluster).
RAY_KEYS = ("num_cpus", "num_gpus", "memory", "resources", "max_retries", "kill_grace")
#: Ray's own default: a Ray task lost with its worker process or node is run again 3 times.
DEFAULT_MAX_RETRIES = 3
#: Seconds between asking a cancelled Ray task to stop and killing its worker process.
DEFAULT_KILL_GRACE = 2.0
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")
_RAY_OWN = {"CPU": "num_cpus", "GPU": "num_gpus", "memory": "memory"}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(slots=True)
class Binding:
    """One checked ``[agents.NAME]`` table."""

    name: str
    kind: str  #: python, command or url
    where: str  #: "[agents.NAME] in /path/twdsl.toml", for messages
    spec: dict[str, Any]
    breaker: BreakerSettings | None = None  #: this binding's own settings
    templates: list[Template] = field(default_factory=list)  #: command placeholders


class AgentRegistry:
    """What the scheduler asks for agents (``get``) and the CLI checks before a run
    (``missing``).  ``origin`` names the configuration file in messages; ``clock`` drives
    the circuit breakers (tests give a fake one)."""

    def __init__(self, specs: Mapping[str, Mapping[str, Any]], base_dir: Path,
                 breaker: BreakerSettings = DEFAULT_BREAKER, *, origin: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_dir = Path(base_dir)
        self.origin = origin
        self.breaker_settings = breaker
        self.clock = clock
        if not isinstance(specs, Mapping):
            raise ConfigurationError(
                f"[agents]{self._in()}: must be a table of [agents.NAME] tables, not "
                f"{_what(specs)}")
        self.bindings = {name: self._check(name, spec) for name, spec in specs.items()}
        self._agents: dict[str, Agent] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._entry_points: dict[str, metadata.EntryPoint] | None = None

    # -- lookups ---------------------------------------------------------------------------

    def get(self, name: str) -> Agent:
        """The agent bound to ``name`` (made once, then cached: one breaker and one HTTP
        connection pool per agent).  Raises ConfigurationError when nothing is bound or the
        binding cannot be loaded."""
        agent = self._agents.get(name)
        if agent is None:
            agent = self._agents[name] = self._make(name)
        return agent

    def missing(self, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that nothing is bound to, in order.  The others are made
        here (Python modules imported, entry points loaded), so that a binding that cannot
        work is reported, as a ConfigurationError, before the run starts."""
        out = []
        for name in names:
            if name in self.bindings or name in self.entry_points():
                self.get(name)
            elif name not in BUILTINS:
                out.append(name)
        return out

    def names(self) -> list[str]:
        """Every name that can be used: configured, entry points, built-ins."""
        return sorted({*self.bindings, *self.entry_points(), *BUILTINS})

    def suggestion(self, name: str) -> str | None:
        """The known name closest to ``name`` (for "did you mean"), if one is close."""
        known = self.names()
        lower = {n.lower(): n for n in known}
        if name.lower() in lower and lower[name.lower()] != name:
            return lower[name.lower()]
        close = closest(name.lower(), lower)
        return lower[close] if close is not None else None

    def breaker(self, name: str) -> CircuitBreaker | None:
        """The circuit breaker of ``name`` (None before its first ``get``, or for a
        built-in agent, which has none)."""
        return self._breakers.get(name)

    def entry_points(self) -> dict[str, metadata.EntryPoint]:
        if self._entry_points is None:
            found: dict[str, metadata.EntryPoint] = {}
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                found.setdefault(ep.name, ep)
            self._entry_points = found
        return self._entry_points

    async def aclose(self) -> None:
        """Close what the agents hold open (HTTP connection pools)."""
        for agent in self._agents.values():
            close = getattr(agent, "aclose", None)
            if close is not None:
                await close()

    # -- making agents ---------------------------------------------------------------------

    def _make(self, name: str) -> Agent:
        binding = self.bindings.get(name)
        if binding is not None:
            return self._guard(name, self._from_binding(binding), binding.breaker)
        ep = self.entry_points().get(name)
        if ep is not None:
            return self._guard(name, self._from_entry_point(name, ep), None)
        builtin = BUILTINS.get(name)
        if builtin is not None:
            return BuiltinAgent(name, builtin)
        hint = self.suggestion(name)
        raise ConfigurationError(
            f"no agent named '{name}'" + (f" (did you mean '{hint}'?)" if hint else "") +
            f"; bind it under [agents.{_key(name)}] in twdsl.toml, or install a package with a "
            f"'{ENTRY_POINT_GROUP}' entry point of that name (see docs/agents.md)")

    def _guard(self, name: str, agent: Agent, settings: BreakerSettings | None) -> Agent:
        settings = settings or self.breaker_settings
        if settings.failures <= 0:
            return agent
        breaker = self._breakers[name] = CircuitBreaker(name, settings, self.clock)
        return BreakerAgent(agent, breaker)

    def _from_binding(self, b: Binding) -> Agent:
        spec = b.spec
        if b.kind == "python":
            func = load_target(spec["python"], self.base_dir, b.where)
            return PythonAgent(b.name, func, spec["python"], spec.get("timeout"),
                               base_dir=self.base_dir, ray=spec.get("ray"))
        if b.kind == "command":
            cwd = self.base_dir / spec["cwd"] if "cwd" in spec else self.base_dir
            return CommandAgent(b.name, CommandSpec(
                argv=tuple(spec["command"]), templates=tuple(b.templates),
                base_dir=self.base_dir, cwd=cwd,
                env=tuple((k, _expand(v, b.where, f"env.{k}"))
                          for k, v in spec.get("env", {}).items()),
                timeout=spec.get("timeout"), output=spec.get("output", "auto"),
                kill_grace=spec.get("kill_grace", 2.0)), b.where)
        from twdsl.runtime.agents.http_agent import HttpAgent  # httpx only when used

        return HttpAgent(b.name, spec["url"], b.where, timeout=spec.get("timeout"),
                         headers={k: _expand(v, b.where, f"headers.{k}")
                                  for k, v in spec.get("headers", {}).items()},
                         poll_interval=spec.get("poll_interval", 0.2),
                         connect_timeout=spec.get("connect_timeout", 5.0),
                         status_origins=spec.get("status_origins", ()))

    def _from_entry_point(self, name: str, ep: metadata.EntryPoint) -> Agent:
        dist = f" of {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
        where = f"entry point '{name}' ({ep.value}{dist}, group {ENTRY_POINT_GROUP})"
        try:
            func = ep.load()
        except Exception as e:  # noqa: BLE001 - an installed package is broken: say which
            raise ConfigurationError(f"{where}: loading it raised {type(e).__name__}: {e}; "
                                     "fix or reinstall that package") from None
        if not callable(func):
            raise ConfigurationError(f"{where}: is a {type(func).__name__}, not a function "
                                     "f(input, ctx)")
        return PythonAgent(name, func, ep.value, base_dir=self.base_dir)

    # -- checking bindings -----------------------------------------------------------------

    def _in(self) -> str:
        return f" in {self.origin}" if self.origin else ""

    def _check(self, name: Any, spec: Any) -> Binding:
        where = f"[agents.{_key(str(name))}]{self._in()}"
        if not isinstance(spec, Mapping):
            raise ConfigurationError(
                f"{where}: must be a table such as python = \"module:function\", "
                f"command = [\"program\", \"arg\"] or url = \"http://host:port\", not "
                f"{_what(spec)}")
        spec = dict(spec)
        kinds = [k for k in KINDS if k in spec]
        if not kinds:
            typo = next((f" ('{k}' looks like '{m}')" for k in spec
                         if (m := closest(str(k), KINDS)) is not None), "")
            raise ConfigurationError(
                f"{where}: says neither python, command nor url{typo}; give exactly one: "
                "python = \"module:function\", command = [\"program\", \"arg\"] or "
                "url = \"http://host:port\"")
        if len(kinds) > 1:
            raise ConfigurationError(
                f"{where}: has both {' and '.join(repr(k) for k in kinds)}; give exactly one "
                "of python, command, url (one binding per agent)")
        kind = kinds[0]
        known = KEYS[kind]
        if "ray" in spec and kind != "python":
            raise ConfigurationError(
                f"{where}: ray applies to python agents only; a {kind} agent always runs "
                "where twdsl runs, whatever the executor (see docs/agents.md); remove it")
        for key in spec:
            if key not in known:
                raise ConfigurationError(
                    f"{where}: unknown key '{key}'{hint(str(key), known)}; a {kind} agent knows: "
                    f"{', '.join(known)}")
        b = Binding(str(name), kind, where, spec)
        getattr(self, f"_check_{kind}")(b)
        _number(b, "timeout")
        if "description" in spec and not isinstance(spec["description"], str):
            raise ConfigurationError(f"{where}: description must be a string, not "
                                     f"{_what(spec['description'])}")
        if "circuit_breaker" in spec:
            b.breaker = _breaker(b)
        return b

    def _check_python(self, b: Binding) -> None:
        target = b.spec["python"]
        if not isinstance(target, str):
            raise ConfigurationError(f"{b.where}: python must be a string \"module:function\", "
                                     f"not {_what(target)}")
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr:
            if not sep and "." in target.strip("."):
                fix = "write python = " + json.dumps(":".join(target.rsplit(".", 1)))
            else:
                fix = 'for example "agents:echo" for a function echo in agents.py beside the config'
            raise ConfigurationError(f"{b.where}: python = {json.dumps(target)} must be "
                                     f"\"module:function\"; {fix}")
        if "ray" in b.spec:
            b.spec["ray"] = _ray_table(b.spec["ray"], b.where)

    def _check_command(self, b: Binding) -> None:
        argv = b.spec["command"]
        if isinstance(argv, str):
            try:
                split = shlex.split(argv)
            except ValueError:
                split = argv.split()
            raise ConfigurationError(
                f"{b.where}: command must be a list of arguments, never a shell string; "
                f"write command = {json.dumps(split or ['program'])}")
        if not isinstance(argv, list) or not argv:
            raise ConfigurationError(
                f"{b.where}: command must be a non-empty list of strings such as "
                f"[\"program\", \"--flag\", \"{{name}}\"], not {_what(argv)}")
        for i, arg in enumerate(argv):
            if not isinstance(arg, str):
                raise ConfigurationError(
                    f"{b.where}: command[{i}] is {_what(arg)}; every argument must be a "
                    f"string, e.g. {json.dumps(json.dumps(arg))}")
            try:
                b.templates.append(parse_argument(arg))
            except ValueError as e:
                raise ConfigurationError(f"{b.where}: command[{i}] {arg!r} {e}") from None
        if any(not isinstance(p, str) for p in b.templates[0]):
            raise ConfigurationError(f"{b.where}: command[0] is the program and cannot be a "
                                     "placeholder; name the program")
        if not argv[0]:
            raise ConfigurationError(f"{b.where}: command[0] is empty; name the program")
        if "cwd" in b.spec and not isinstance(b.spec["cwd"], str):
            raise ConfigurationError(f"{b.where}: cwd must be a path (a string, relative to "
                                     f"the config file's folder), not {_what(b.spec['cwd'])}")
        _string_table(b, "env")
        output = b.spec.get("output", "auto")
        if output not in OUTPUT_MODES:
            raise ConfigurationError(
                f"{b.where}: output must be one of {', '.join(map(repr, OUTPUT_MODES))}, "
                f"not {json.dumps(output)}")
        _number(b, "kill_grace", zero=True)

    def _check_url(self, b: Binding) -> None:
        url = b.spec["url"]
        if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
            raise ConfigurationError(
                f"{b.where}: url must be an http:// or https:// address such as "
                f"\"http://127.0.0.1:9000\", not {json.dumps(url)}")
        _string_table(b, "headers")
        origins = b.spec.get("status_origins", [])
        bad = next((o for o in origins if not isinstance(o, str)
                    or not re.fullmatch(r"https?://[^/\s]+/?", o)), None) \
            if isinstance(origins, list) else origins
        if bad is not None:
            raise ConfigurationError(
                f"{b.where}: status_origins must be a list of origins such as "
                f"[\"https://jobs.example.com\"] (scheme, host and port; no path), and it "
                f"holds {_what(bad)}" if isinstance(origins, list) else
                f"{b.where}: status_origins must be a list of origins such as "
                f"[\"https://jobs.example.com\"], not {_what(bad)}")
        _number(b, "poll_interval")
        _number(b, "connect_timeout")


def _key(name: str) -> str:
    """``name`` as a TOML key (quoted when it is not a bare key)."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def _what(value: Any) -> str:
    """A value as a TOML reader sees it, for messages: 'the string "x"', 'the number 3'."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def _number(b: Binding, key: str, *, zero: bool = False) -> None:
    if key not in b.spec:
        return
    value = b.spec[key]
    ok = isinstance(value, int | float) and not isinstance(value, bool) and (
        value >= 0 if zero else value > 0)
    if not ok:
        bound = ">= 0" if zero else "> 0"
        raise ConfigurationError(f"{b.where}: {key} must be a number of seconds {bound} "
                                 f"(e.g. {key} = 30), not {_what(value)}")


def _string_table(b: Binding, key: str) -> None:
    table = b.spec.get(key, {})
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{b.where}: {key} must be a table of strings such as "
                                 f"{key} = {{ NAME = \"value\" }}, not {_what(table)}")
    for k, v in table.items():
        if not isinstance(v, str):
            shown = str(v).lower() if isinstance(v, bool) else str(v)
            raise ConfigurationError(f"{b.where}: {key}.{k} is {_what(v)}; write it as a "
                                     f"string: {json.dumps(shown)}")


def _ray_table(table: Any, where: str) -> dict[str, Any]:
    """A ``ray`` table checked and normalized (numbers as floats, ``memory`` in bytes)::

        >>> _ray_table({"num_cpus": 2, "memory": "512 MiB", "resources": {"ssd": 1}}, "[x]")
        {'num_cpus': 2.0, 'memory': 536870912, 'resources': {'ssd': 1.0}}
    """
    if not isinstance(table, Mapping):
        raise ConfigurationError(
            f"{where}: ray must be a table such as ray = {{ num_cpus = 1, memory = \"2 GiB\" }}, "
            f"not {_what(table)}")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in RAY_KEYS:
            raise ConfigurationError(f"{where}: unknown key 'ray.{key}'"
                                     f"{hint(str(key), RAY_KEYS)}; ray knows: "
                                     f"{', '.join(RAY_KEYS)}")
        if key == "max_retries":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(
                    f"{where}: ray.max_retries must be a whole number >= 0 (0: a Ray task lost "
                    f"with its node is not run again), not {_what(value)}")
            out[key] = value
        elif key == "memory":
            out[key] = _bytes(value, where)
        elif key == "resources":
            out[key] = _resources(value, where)
        else:
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ConfigurationError(f"{where}: ray.{key} must be a number >= 0 (e.g. "
                                         f"{key} = 1), not {_what(value)}")
            out[key] = float(value)
    return out


def _bytes(value: Any, where: str) -> int:
    """``ray.memory``: a whole number of bytes, or a size such as "512 MiB" or "2 GB"."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and (m := _SIZE.fullmatch(value)) is not None and (
            m.group(2).lower() in _UNITS) and float(m.group(1)) > 0:
        return max(1, int(float(m.group(1)) * _UNITS[m.group(2).lower()]))
    raise ConfigurationError(
        f"{where}: ray.memory must be a number of bytes > 0 or a size such as \"512 MiB\" or "
        f"\"2 GB\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), not {_what(value)}")


def _resources(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: ray.resources must be a table of custom resources "
                                 f"such as resources = {{ ssd = 1 }}, not {_what(value)}")
    out: dict[str, float] = {}
    for name, amount in value.items():
        if name in _RAY_OWN:
            raise ConfigurationError(
                f"{where}: ray.resources.{name}: write ray.{_RAY_OWN[name]} = "
                f"{json.dumps(amount)} instead")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
            raise ConfigurationError(f"{where}: ray.resources.{name} must be a number > 0, not "
                                     f"{_what(amount)}")
        out[str(name)] = float(amount)
    return out


def _breaker(b: Binding) -> BreakerSettings:
    table = b.spec["circuit_breaker"]
    if not isinstance(table, Mapping) or set(table) - {"failures", "reset_after"}:
        raise ConfigurationError(
            f"{b.where}: circuit_breaker must be a table with failures and reset_after, e.g. "
            "circuit_breaker = { failures = 5, reset_after = 60 } (failures = 0 turns it off)")
    failures = table.get("failures", 5)
    reset = table.get("reset_after", 60.0)
    if not isinstance(failures, int) or isinstance(failures, bool) or failures < 0:
        raise ConfigurationError(f"{b.where}: circuit_breaker.failures must be a whole number "
                                 f">= 0 (0 turns the breaker off), not {_what(failures)}")
    if not isinstance(reset, int | float) or isinstance(reset, bool) or reset <= 0:
        raise ConfigurationError(f"{b.where}: circuit_breaker.reset_after must be a number of "
                                 f"seconds > 0, not {_what(reset)}")
    return BreakerSettings(failures, float(reset))


def _expand(value: str, where: str, key: str) -> str:
    """``${NAME}`` in env and headers values is the environment variable NAME (so secrets
    stay out of twdsl.toml); ``$${`` is a literal ``${``."""
    def sub(m: re.Match[str]) -> str:
        if m.start() > 0 and value[m.start() - 1] == "$":
            return m.group(0)
        var = m.group(1)
        if var not in os.environ:
            raise ConfigurationError(f"{where}: {key} uses ${{{var}}}, but the environment "
                                     f"variable {var} is not set; set it before running")
        return os.environ[var]
    return _ENV_REF.sub(sub, value).replace("$${", "${")
