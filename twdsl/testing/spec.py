"""Test files (``*.test.toml``): read, checked and turned into :class:`TestCase` values.

The format is docs/testing.md's.  Everything a file says is checked here, before any
workflow is compiled: unknown keys (with "did you mean"), wrong types, error kinds, statuses,
task selectors and durations.  What needs the workflow (do the agents and tasks named exist,
do the inputs fit) is checked by :mod:`twdsl.testing.runner` once it is compiled.  Every
problem is a :class:`Problem` naming the file and line.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from twdsl.lang.kinds import ERROR_KINDS
from twdsl.source import NotUTF8, utf8_text
from twdsl.suggest import closest
from twdsl.testing.lines import LineMap
from twdsl.testing.lines import Path as KeyPath

#: What a test file is called (discovery looks for this suffix).
SUFFIX = ".test.toml"
#: The virtual "now" of a run when the test sets none (``current_time``, ``started_at``...).
DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: The final statuses of a run a test can expect.
RUN_STATUSES = ("completed", "failed", "timeout", "cancelled")
#: The statuses of a task instance a test can expect (``pending``: it never started).
TASK_STATUSES = ("pending", "completed", "failed", "timeout", "cancelled", "skipped")
#: The kinds an agent (a mock or a fault) can fail with; ``cancelled`` is the scheduler's.
AGENT_ERROR_KINDS = tuple(k for k in ERROR_KINDS if k != "cancelled")

#: A task selector: a task's name (``alias.task`` inside a template instance), optionally
#: with the loop indexes of one instance (``convert[3]``, ``inner[1,0]``).
SELECTOR = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_.]*)(?:\[(?P<index>\d+(?:,\d+)*)\])?")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


@dataclass(frozen=True, slots=True)
class Problem:
    """A mistake in a test file: ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class SpecError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Selector:
    """Which task instances a test names: every instance of ``name``, or the one at
    ``index`` (loop indexes, outermost first)."""

    name: str
    index: tuple[int, ...] | None = None

    def __str__(self) -> str:
        return self.name if self.index is None else \
            f"{self.name}[{','.join(map(str, self.index))}]"


@dataclass(slots=True)
class ErrorSpec:
    kind: str
    message: str | None = None


@dataclass(slots=True)
class Case:
    """``when`` the input matches (partially), answer ``result`` or fail with ``error``."""

    when: dict[str, Any]
    result: Any = None
    error: ErrorSpec | None = None
    line: int = 0


@dataclass(slots=True)
class Mock:
    """A mock agent: its cases first, then its default answer (one of ``result``,
    ``generate``, ``error``); ``delay`` seconds of virtual time before it answers."""

    agent: str
    line: int
    cases: list[Case] = field(default_factory=list)
    has_result: bool = False
    result: Any = None
    generate: bool = False
    seed: int | None = None
    error: ErrorSpec | None = None
    delay: float = 0.0


@dataclass(slots=True)
class Fault:
    """An injected fault: attempts ``attempts`` (None: every attempt) of ``task`` (or of every
    task calling ``agent``) fail with ``error``, or hang until their timeout."""

    line: int
    task: Selector | None = None
    agent: str | None = None
    attempts: frozenset[int] | None = None
    error: ErrorSpec | None = None
    hang: bool = False


@dataclass(slots=True)
class Expect:
    """One assertion: ``what`` is its key path under ``expect`` (``("status",)``,
    ``("tasks", "deploy", "attempts")``), ``value`` what it expects (checked for its type)."""

    what: tuple[str, ...]
    value: Any
    line: int
    task: Selector | None = None  # for expect.tasks.NAME.*


@dataclass(slots=True)
class TestCase:
    file: TestFile
    index: int  # in its file, from 0
    name: str
    line: int
    inputs: dict[str, Any]
    inputs_line: int
    mocks: dict[str, Mock]
    faults: list[Fault]
    expects: list[Expect]
    seed: int = 0
    now: datetime = DEFAULT_NOW
    env: dict[str, str] = field(default_factory=dict)
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.file.path}::{self.name}"


@dataclass(slots=True)
class TestFile:
    path: str  # as the user named it (for messages)
    target: Path  # the workflow file
    target_line: int
    workflow: str | None = None
    tests: list[TestCase] = field(default_factory=list)


# -- reading ------------------------------------------------------------------------------

FILE_KEYS = ("file", "workflow", "inputs", "inputs_json", "inputs_file", "agents", "seed",
             "now", "env", "test")
TEST_KEYS = ("name", "inputs", "inputs_json", "inputs_file", "agents", "faults", "expect",
             "seed", "now", "env", "skip")
MOCK_KEYS = ("result", "result_json", "cases", "generate", "seed", "error", "delay")
CASE_KEYS = ("when", "when_json", "result", "result_json", "error")
FAULT_KEYS = ("task", "agent", "attempts", "error", "message", "timeout")
ERROR_KEYS = ("kind", "message")
EXPECT_KEYS = ("status", "outputs", "outputs_json", "outputs_match", "outputs_match_json",
               "error", "ran", "not_ran", "order", "time", "tasks")
RUN_ERROR_KEYS = ("kind", "task", "message")
TASK_KEYS = ("status", "attempts", "error", "errors", "result", "result_json", "result_match",
             "result_match_json", "input", "input_json", "input_match", "input_match_json")


class _Reader:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.lines = LineMap(text)
        self.problems: list[Problem] = []

    def line(self, where: KeyPath) -> int:
        return self.lines.line(where)

    def problem(self, where: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.path, self.line(where), message))

    def table(self, value: Any, where: KeyPath, keys: tuple[str, ...], what: str
              ) -> dict[str, Any] | None:
        """``value`` as a table of known keys (unknown ones reported), or None."""
        if not isinstance(value, dict):
            self.problem(where, f"{what} must be a table, not {_what(value)}")
            return None
        for key in value:
            if key not in keys:
                hint = closest(key, keys)
                self.problem((*where, key), f"unknown key '{key}' in {what}"
                             + (f" (did you mean '{hint}'?)" if hint else "")
                             + f"; it knows: {', '.join(keys)}")
        return {k: v for k, v in value.items() if k in keys}

    def string(self, t: dict[str, Any], key: str, where: KeyPath, what: str,
               choices: tuple[str, ...] | None = None) -> str | None:
        if key not in t:
            return None
        v = t[key]
        if not isinstance(v, str):
            self.problem((*where, key), f"{_key(what, key)} must be a string, not {_what(v)}")
            return None
        if choices is not None and v not in choices:
            hint = closest(v, choices)
            self.problem((*where, key), f"{_key(what, key)} = {json.dumps(v)} is not one of "
                         f"{', '.join(choices)}" + (f" (did you mean '{hint}'?)" if hint
                                                     else ""))
            return None
        return v

    def integer(self, t: dict[str, Any], key: str, where: KeyPath, what: str,
                minimum: int = 0) -> int | None:
        if key not in t:
            return None
        v = t[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            self.problem((*where, key), f"{_key(what, key)} must be a whole number >= {minimum}, "
                         f"not {_show(v)}")
            return None
        return v

    def data(self, t: dict[str, Any], key: str, where: KeyPath, what: str
             ) -> tuple[bool, Any]:
        """A JSON value given as ``key`` (TOML) or ``key_json`` (JSON text, for nulls)."""
        plain, text = key in t, f"{key}_json" in t
        if plain and text:
            self.problem((*where, f"{key}_json"), f"{what}: give {key} or {key}_json, not both")
            return False, None
        if text:
            raw = t[f"{key}_json"]
            if not isinstance(raw, str):
                self.problem((*where, f"{key}_json"), f"{_key(what, key)}_json must be a string of "
                             f"JSON, not {_what(raw)}")
                return False, None
            try:
                return True, json.loads(raw)
            except json.JSONDecodeError as e:
                self.problem((*where, f"{key}_json"), f"{_key(what, key)}_json is not JSON: "
                             f"{e.msg} at column {e.colno}")
                return False, None
            except RecursionError:
                self.problem((*where, f"{key}_json"), f"{_key(what, key)}_json nests too "
                             "deeply to be read; nest its values less deeply")
                return False, None
        if not plain:
            return False, None
        try:
            return True, _json(t[key])
        except ValueError as e:
            self.problem((*where, key), f"{_key(what, key)}: {e}")
            return False, None

    def duration(self, t: dict[str, Any], key: str, where: KeyPath, what: str
                 ) -> float | None:
        if key not in t:
            return None
        v = t[key]
        seconds = parse_duration(v)
        if seconds is None:
            self.problem((*where, key), f"{_key(what, key)} must be a duration such as 90s, 5m or "
                         f"1h30m (or a number of seconds), not {_show(v)}")
        return seconds

    def error(self, v: Any, where: KeyPath, what: str) -> ErrorSpec | None:
        """``"kind"`` or ``{ kind, message }``."""
        if isinstance(v, str):
            v = {"kind": v}
        t = self.table(v, where, ERROR_KEYS, what)
        if t is None:
            return None
        if "kind" not in t:
            self.problem(where, f"{what} needs a kind: one of {', '.join(AGENT_ERROR_KINDS)}")
            return None
        kind = self.string(t, "kind", where, what, AGENT_ERROR_KINDS)
        message = self.string(t, "message", where, what)
        return ErrorSpec(kind, message) if kind is not None else None

    def selector(self, v: Any, where: KeyPath, what: str) -> Selector | None:
        if not isinstance(v, str) or SELECTOR.fullmatch(v) is None:
            self.problem(where, f"{what} must name a task (name, or name[i] for one iteration "
                         f"of its loop), not {_show(v)}")
            return None
        return parse_selector(v)


def _key(what: str, key: str) -> str:
    """``what.key``, or ``key`` alone for the test file's own keys (``what`` empty)."""
    return f"{what}.{key}" if what else key


def parse_selector(text: str) -> Selector:
    m = SELECTOR.fullmatch(text)
    assert m is not None
    index = tuple(int(i) for i in m.group("index").split(",")) if m.group("index") else None
    return Selector(m.group("name"), index)


def parse_duration(v: Any) -> float | None:
    """Seconds of a duration written as a number of seconds or as the language writes
    durations (``90s``, ``1m30s``, ``250ms``); None if it is neither."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v) if v >= 0 and math.isfinite(v) else None
    if not isinstance(v, str) or not v.strip():
        return None
    text = v.strip()
    parts = list(_DURATION.finditer(text))
    if not parts or "".join(p.group(0) for p in parts) != text:
        return None
    return sum(float(p.group(1)) * _UNITS[p.group(2)] for p in parts)


def _json(v: Any) -> Any:
    """A TOML value as JSON data: dates and times become ISO 8601 text."""
    if isinstance(v, dict):
        return {k: _json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{v} is not JSON data (write a finite number)")
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    if isinstance(v, (date, time)):
        return v.isoformat()
    return v


def _what(v: Any) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(v), type(v).__name__)


def _show(v: Any) -> str:
    try:
        return json.dumps(_json(v))
    except (TypeError, ValueError):
        return repr(v)


def read_test_file(path: str) -> TestFile:
    """The test file at ``path``, checked; SpecError with every problem otherwise."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise SpecError([Problem(path, 1, f"cannot read it: {e.strerror}")]) from None
    try:
        text = utf8_text(raw)
    except NotUTF8 as e:
        raise SpecError([Problem(path, e.line, "not UTF-8 text; save it as UTF-8")]) from None
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # deeper than Python's TOML parser goes
        raise SpecError([Problem(path, 1, "it nests too deeply to be read; nest its arrays "
                                 "and tables less deeply")]) from None
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)$", str(e))
        message = str(e)[: m.start()].rstrip() if m else str(e)
        where = f" (column {m.group(2)})" if m else ""
        raise SpecError([Problem(path, int(m.group(1)) if m else 1,
                                 f"not valid TOML: {message}{where}")]) from None
    return _read(path, text, doc)


def _read(path: str, text: str, doc: dict[str, Any]) -> TestFile:
    r = _Reader(path, text)
    folder = Path(path).parent
    top = r.table(doc, (), FILE_KEYS, "the test file") or {}
    target_name = r.string(top, "file", (), "")
    if "file" not in top:
        r.problem((), "the test file must name the workflow it tests: file = "
                  "\"flow.twdsl\" (relative to the test file)")
    tf = TestFile(path, folder / (target_name or ""), r.line(("file",)),
                  r.string(top, "workflow", (), ""))
    base_inputs = _inputs(r, top, (), folder, "the test file")
    base_mocks = _mocks(r, top.get("agents", {}), ("agents",), "agents")
    base_seed = r.integer(top, "seed", (), "")
    base_now = _now(r, top, ())
    base_env = _env(r, top, ())
    tests = top.get("test")
    if tests is None:
        r.problem((), "the test file has no test: add one with [[test]] and its name")
        tests = []
    elif not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        r.problem(("test",), "test must be an array of tables: write each test as [[test]]")
        tests = []
    names: dict[str, int] = {}
    for i, raw in enumerate(tests):
        where: KeyPath = ("test", i)
        t = r.table(raw, where, TEST_KEYS, "[[test]]")
        if t is None:
            continue
        name = r.string(t, "name", where, "[[test]]")
        if "name" not in t:
            r.problem(where, "[[test]] needs a name: name = \"what it checks\"")
        elif name is not None:
            if name in names:
                r.problem((*where, "name"), f"a test named {json.dumps(name)} is already "
                          f"at line {names[name]}: give each test its own name")
            names[name] = r.line((*where, "name"))
        label = f"test {json.dumps(name)}" if name else "[[test]]"
        inputs = dict(base_inputs)
        inputs.update(_inputs(r, t, where, folder, label))
        given = [k for k in ("inputs", "inputs_json", "inputs_file") if k in t]
        top_given = [k for k in ("inputs", "inputs_json", "inputs_file") if k in top]
        inputs_line = r.line((*where, given[0])) if given else \
            r.line((top_given[0],)) if top_given else r.line(where)
        mocks = dict(base_mocks)
        mocks.update(_mocks(r, t.get("agents", {}), (*where, "agents"), f"{label}: agents"))
        faults = _faults(r, t.get("faults", []), (*where, "faults"), label)
        expects = _expects(r, t.get("expect"), (*where, "expect"), label)
        seed = r.integer(t, "seed", where, label)
        skip = r.string(t, "skip", where, label)
        tf.tests.append(TestCase(
            tf, i, name or f"test {i + 1}", r.line(where), inputs, inputs_line, mocks, faults,
            expects, seed if seed is not None else base_seed or 0,
            _now(r, t, where) or base_now or DEFAULT_NOW,
            _env(r, t, where) if "env" in t else base_env, skip))
    if r.problems:
        raise SpecError(r.problems)
    return tf


def _inputs(r: _Reader, t: dict[str, Any], where: KeyPath, folder: Path, what: str
            ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = r.string(t, "inputs_file", where, what)
    if name is not None:
        file = folder / name
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as e:
            r.problem((*where, "inputs_file"), f"{what}: cannot read inputs_file {name}: "
                      f"{e.strerror}")
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            r.problem((*where, "inputs_file"), f"{what}: inputs_file {name} is not JSON: {e}")
        except RecursionError:
            r.problem((*where, "inputs_file"), f"{what}: inputs_file {name} nests too deeply "
                      "to be read; nest its values less deeply")
        else:
            if isinstance(data, dict):
                out.update(data)
            else:
                r.problem((*where, "inputs_file"), f"{what}: inputs_file {name} must hold a "
                          "JSON object of inputs")
    given, value = r.data(t, "inputs", where, what)
    if given:
        if isinstance(value, dict):
            out.update(value)
        else:
            r.problem((*where, "inputs"), f"{what}: inputs must be a table of inputs, not "
                      f"{_what(value)}")
    return out


def _now(r: _Reader, t: dict[str, Any], where: KeyPath) -> datetime | None:
    if "now" not in t:
        return None
    v = t["now"]
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v)
        except ValueError:
            pass
    if not isinstance(v, datetime):
        r.problem((*where, "now"), "now must be a date and time such as "
                  "2026-01-01T09:00:00Z")
        return None
    return v if v.tzinfo else v.replace(tzinfo=UTC)


def _env(r: _Reader, t: dict[str, Any], where: KeyPath) -> dict[str, str]:
    v = t.get("env", {})
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        r.problem((*where, "env"), "env must be a table of strings: env = { NAME = \"value\" }")
        return {}
    return dict(v)


def _mocks(r: _Reader, v: Any, where: KeyPath, what: str) -> dict[str, Mock]:
    if not isinstance(v, dict):
        r.problem(where, f"{what} must be a table of [agents.NAME] tables, not {_what(v)}")
        return {}
    out = {}
    for name, raw in v.items():
        here = (*where, name)
        label = f"agents.{name}"
        t = r.table(raw, here, MOCK_KEYS, f"mock {label}")
        if t is None:
            continue
        mock = Mock(name, r.line(here))
        mock.has_result, mock.result = r.data(t, "result", here, label)
        gen = t.get("generate", False)
        if not isinstance(gen, bool):
            r.problem((*here, "generate"), f"{label}.generate must be true or false")
        mock.generate = gen is True
        mock.seed = r.integer(t, "seed", here, label)
        if "error" in t:
            mock.error = r.error(t["error"], (*here, "error"), f"{label}.error")
        mock.delay = r.duration(t, "delay", here, label) or 0.0
        cases = t.get("cases", [])
        if not isinstance(cases, list):
            r.problem((*here, "cases"), f"{label}.cases must be an array of tables")
            cases = []
        for j, c in enumerate(cases):
            cw = (*here, "cases", j)
            ct = r.table(c, cw, CASE_KEYS, f"{label}.cases[{j}]")
            if ct is None:
                continue
            case = Case({}, line=r.line(cw))
            has_when, when = r.data(ct, "when", cw, f"{label}.cases[{j}]")
            if not has_when or not isinstance(when, dict):
                r.problem(cw, f"{label}.cases[{j}] needs when = {{ field = value, ... }}: the "
                          "input fields it matches")
            else:
                case.when = when
            has_result, case.result = r.data(ct, "result", cw, f"{label}.cases[{j}]")
            if "error" in ct:
                case.error = r.error(ct["error"], (*cw, "error"), f"{label}.cases[{j}].error")
            if has_result == ("error" in ct):
                r.problem(cw, f"{label}.cases[{j}] needs exactly one of result and error")
            mock.cases.append(case)
        answers = [k for k in ("result", "generate", "error")
                   if (k == "result" and mock.has_result) or (k == "generate" and gen is True)
                   or (k == "error" and "error" in t)]
        if len(answers) > 1:
            r.problem(here, f"mock {label} gives {' and '.join(answers)}: give one answer "
                      "(cases may come before it)")
        elif not answers and not cases:
            r.problem(here, f"mock {label} needs an answer: result = ..., cases = [...], "
                      "generate = true or error = \"kind\"")
        if mock.seed is not None and not mock.generate:
            r.problem((*here, "seed"), f"{label}.seed is for generate = true")
        out[name] = mock
    return out


def _faults(r: _Reader, v: Any, where: KeyPath, what: str) -> list[Fault]:
    if not isinstance(v, list):
        r.problem(where, f"{what}: faults must be an array of tables ([[test.faults]])")
        return []
    out = []
    for i, raw in enumerate(v):
        here = (*where, i)
        label = f"faults[{i}]"
        t = r.table(raw, here, FAULT_KEYS, f"{what}: {label}")
        if t is None:
            continue
        f = Fault(r.line(here))
        if ("task" in t) == ("agent" in t):
            r.problem(here, f"{what}: {label} names exactly one of task and agent")
        if "task" in t:
            f.task = r.selector(t["task"], (*here, "task"), f"{label}.task")
        f.agent = r.string(t, "agent", here, label)
        if "attempts" in t:
            a = t["attempts"]
            a = [a] if isinstance(a, int) and not isinstance(a, bool) else a
            if not isinstance(a, list) or not a or not all(
                    isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in a):
                r.problem((*here, "attempts"), f"{label}.attempts must be an attempt number "
                          "(1 is the first) or an array of them")
            else:
                f.attempts = frozenset(a)
        hang = t.get("timeout", False)
        if not isinstance(hang, bool):
            r.problem((*here, "timeout"), f"{label}.timeout must be true: the attempt hangs "
                      "until the task's timeout passes")
        f.hang = hang is True
        if "error" in t:
            f.error = r.error({"kind": t["error"], **({"message": t["message"]}
                                                       if "message" in t else {})},
                              (*here, "error"), f"{label}.error")
        elif "message" in t:
            r.problem((*here, "message"), f"{label}.message goes with error = \"kind\"")
        if ("error" in t) == f.hang:
            r.problem(here, f"{what}: {label} needs exactly one of error = \"kind\" (the "
                      "attempt fails) and timeout = true (it hangs until its timeout)")
        out.append(f)
    return out


def _expects(r: _Reader, v: Any, where: KeyPath, what: str) -> list[Expect]:
    if v is None:
        r.problem(where[:-1], f"{what} expects nothing: add [test.expect] with what the run "
                  "should do (status = \"completed\" at least)")
        return []
    t = r.table(v, where, EXPECT_KEYS, f"{what}: expect")
    if t is None:
        return []
    out: list[Expect] = []

    def add(key: str, value: Any, line_key: str | None = None) -> None:
        out.append(Expect((key,), value, r.line((*where, line_key or key))))

    for key in t:
        if key.endswith("_json"):
            continue  # read with its plain key
        if key == "status":
            s = r.string(t, "status", where, "expect", RUN_STATUSES)
            if s is not None:
                add(key, s)
        elif key in ("ran", "not_ran"):
            items = t[key]
            if not isinstance(items, list):
                r.problem((*where, key), f"expect.{key} must be an array of task names")
                continue
            sels = [r.selector(x, (*where, key), f"expect.{key}[{i}]")
                    for i, x in enumerate(items)]
            if all(s is not None for s in sels):
                add(key, sels)
        elif key == "order":
            items = t[key]
            if not isinstance(items, list):
                r.problem((*where, key), "expect.order must be an array such as "
                          "[\"build < test < deploy\"]")
                continue
            for i, x in enumerate(items):
                chain = [p.strip() for p in x.split("<")] if isinstance(x, str) else []
                sels = [r.selector(p, (*where, key), f"expect.order[{i}]: each part")
                        if SELECTOR.fullmatch(p) else None for p in chain]
                if len(chain) < 2 or not all(sels):
                    r.problem((*where, key), f"expect.order[{i}] must read \"a < b\" (a ended "
                              f"before b started), or a longer chain, not {_show(x)}")
                    continue
                add(key, sels)
        elif key == "time":
            seconds = r.duration(t, "time", where, "expect")
            if seconds is not None:
                add(key, seconds)
        elif key == "error":
            et = r.table(t[key], (*where, key), RUN_ERROR_KEYS, "expect.error")
            if et is None:
                continue
            if not et:
                r.problem((*where, key), "expect.error needs kind, task or message")
            kind = r.string(et, "kind", (*where, key), "expect.error", ERROR_KINDS)
            task = r.string(et, "task", (*where, key), "expect.error")
            message = r.string(et, "message", (*where, key), "expect.error")
            add(key, {k: x for k, x in (("kind", kind), ("task", task), ("message", message))
                      if x is not None})
        elif key == "tasks":
            _task_expects(r, t[key], (*where, key), out)
    for key in ("outputs", "outputs_match"):
        given, value = r.data(t, key, where, "expect")
        if given:
            if isinstance(value, dict):
                add(key, value, key if key in t else f"{key}_json")
            else:
                r.problem((*where, key), f"expect.{key} must be a table of outputs")
    return out


def _task_expects(r: _Reader, v: Any, where: KeyPath, out: list[Expect]) -> None:
    if not isinstance(v, dict):
        r.problem(where, "expect.tasks must be a table of [test.expect.tasks.NAME] tables")
        return
    for name, raw in v.items():
        here = (*where, name)
        sel = r.selector(name, here, "a key of expect.tasks")
        label = f"expect.tasks.{name}"
        t = r.table(raw, here, TASK_KEYS, label)
        if t is None or sel is None:
            continue
        if not t:
            r.problem(here, f"{label} expects nothing: give status, attempts, error, result "
                      "or input")
        for key in t:
            line = r.line((*here, key))
            if key == "status":
                s = r.string(t, key, here, label, TASK_STATUSES)
                if s is not None:
                    out.append(Expect(("tasks", name, key), s, line, sel))
            elif key == "attempts":
                n = r.integer(t, key, here, label)
                if n is not None:
                    out.append(Expect(("tasks", name, key), n, line, sel))
            elif key == "error":
                e = r.error(t[key], (*here, key), f"{label}.error")
                if e is not None:
                    out.append(Expect(("tasks", name, key), e, line, sel))
            elif key == "errors":
                kinds = t[key]
                if not isinstance(kinds, list) or not all(k in ERROR_KINDS for k in kinds):
                    r.problem((*here, key), f"{label}.errors must be an array of error kinds "
                              f"({', '.join(ERROR_KINDS)}), one per failed attempt, not "
                              f"{_show(kinds)}")
                else:
                    out.append(Expect(("tasks", name, key), kinds, line, sel))
        for key in ("result", "result_match", "input", "input_match"):
            given, value = r.data(t, key, here, label)
            if given:
                out.append(Expect(("tasks", name, key), value,
                                  r.line((*here, key if key in t else f"{key}_json")), sel))


def discover(paths: list[str]) -> list[str]:
    """Test files: each file named, and every ``*.test.toml`` under each folder named (hidden
    folders skipped), in a stable order.  ValueError for a path that does not exist."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out += sorted(str(f) for f in path.rglob(f"*{SUFFIX}") if f.is_file() and not any(
                part.startswith(".") for part in f.relative_to(path).parts))
        elif path.is_file():
            out.append(p)
        else:
            raise ValueError(f"'{p}' does not exist" if not path.exists()
                             else f"'{p}' is not a file or folder")
    return list(dict.fromkeys(out))
