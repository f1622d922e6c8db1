"""Workflow inputs: parsed from the command line by their declared types and validated
before anything runs by the language's rule of types at run time (twdsl/lang/conform.py).

Every problem is collected and reported at once, each naming the input:
``input 'retries': expected number, got "three"``.

Values are bounded (docs/language.md, "Limits"): arrays and objects nest at most
``MAX_DEPTH`` levels, integers have at most ``MAX_DIGITS`` digits, and numbers are finite
(JSON has no NaN or Infinity; ``1e999`` is too large for a number).  Anything beyond is an
input error naming the input, never a crash.
"""

from __future__ import annotations

import json
import math
import re
import sys
from datetime import datetime
from typing import Any

from twdsl.ir import model as M
from twdsl.ir.eval import EvalError, evaluate
from twdsl.lang.conform import mismatch
from twdsl.lang.values import Duration, is_number

#: How deep input values (arrays and objects) may nest.
MAX_DEPTH = 100
#: The most digits of an integer: Python's limit for converting integers to and from text
#: (4,300 unless PYTHONINTMAXSTRDIGITS says otherwise; 0 is no limit), as for literals (TW105).
MAX_DIGITS = sys.get_int_max_str_digits()


_TOO_LONG = 10 ** MAX_DIGITS if MAX_DIGITS else None


class InputError(Exception):
    """Inputs that do not fit the workflow's declaration: a user's mistake (exit 2)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")


def parse_duration(text: str) -> float:
    """``"90s"``, ``"5m"``, ``"1.5h"``, or a number of seconds (finite: ValueError else)."""
    m = _DURATION.match(text.strip())
    seconds = float(m.group(1)) * _UNITS[m.group(2)] if m else float(text)
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is not a finite duration")
    return seconds


class _Refused:
    """A JSON value ``load_json`` could not take (NaN, a number too large, an integer of too
    many digits): kept in place so that ``validate_inputs`` names the input it is in."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def _refuse_constant(name: str) -> _Refused:
    return _Refused(f"{name} is not a number (JSON has no NaN or Infinity)")


def _checked_int(text: str) -> int | _Refused:
    digits = len(text.lstrip("-"))
    if MAX_DIGITS and digits > MAX_DIGITS:
        return _Refused(f"an integer of {digits:,} digits is too long (at most "
                        f"{MAX_DIGITS:,} digits)")
    return int(text)


def _checked_float(text: str) -> float | _Refused:
    value = float(text)
    if not math.isfinite(value):
        return _Refused(f"{_cut(text)} is too large for a number")
    return value


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}:]')


def _nested_too_deep(text: str, limit: int) -> tuple[int, str | None] | None:
    """Where the JSON ``text`` first nests deeper than ``limit``, as (offset, the key of
    the top-level object it is under, if any); None when it does not."""
    depth = 0
    key = last = None
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok[0] == '"':
            if depth == 1:
                last = tok
        elif tok in "[{":
            depth += 1
            if depth > limit:
                name = None
                if key is not None:
                    try:
                        name = json.loads(key)
                    except ValueError:
                        name = key
                return m.start(), name
        elif tok in "]}":
            depth -= 1
        elif depth == 1 and last is not None:  # ':' after a key of the top-level object
            key = last
    return None


def load_json(text: str, what: str, top_level_inputs: bool = False) -> Any:
    """JSON ``text`` of inputs (``what`` names it in messages: a file, or ``input 'n'``),
    parsed within the limits: nesting deeper than MAX_DEPTH is an InputError (naming the
    input when ``top_level_inputs``: the text is an object of inputs); NaN, Infinity,
    numbers too large and integers too long are kept as refusals that ``validate_inputs``
    reports, naming the input.  Raises ``json.JSONDecodeError`` for text that is not JSON.
    """
    deep = _nested_too_deep(text, MAX_DEPTH + 1 if top_level_inputs else MAX_DEPTH)
    if deep is not None:
        offset, key = deep
        line = text.count("\n", 0, offset) + 1
        col = offset - (text.rfind("\n", 0, offset) + 1) + 1
        reason = (f"nested more than {MAX_DEPTH} levels deep; input values nest at most "
                  f"{MAX_DEPTH} levels")
        if top_level_inputs and key is not None:
            reason = f"input '{key}': {reason} ({what}:{line}:{col})"
        elif what:
            reason = f"{what}:{line}:{col}: {reason}"
        raise InputError([reason])
    return json.loads(text, parse_constant=_refuse_constant, parse_int=_checked_int,
                      parse_float=_checked_float)


def _value_problem(value: Any) -> tuple[str, str] | None:
    """The first thing in ``value`` beyond the limits, as (where in it, why), or None.
    Iterative: a value too deep for recursion is reported, not crashed on."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        v, where, depth = stack.pop()
        if isinstance(v, _Refused):
            return where, v.why
        if isinstance(v, float) and not math.isfinite(v):
            return where, f"{v} is not a finite number"
        if isinstance(v, int) and not isinstance(v, bool) and _TOO_LONG is not None \
                and abs(v) >= _TOO_LONG:
            return where, f"an integer of more than {MAX_DIGITS:,} digits is too long"
        if isinstance(v, (list, tuple, dict)):
            if depth >= MAX_DEPTH:
                return where, f"nested more than {MAX_DEPTH} levels deep; input values " \
                              f"nest at most {MAX_DEPTH} levels"
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, x in reversed(list(items)):
                sub = f"[{k}]" if isinstance(k, int) else f".{k}"
                stack.append((x, where + sub, depth + 1))
    return None


def _cut(text: str) -> str:
    return text if len(text) <= 24 else text[:20] + "..."


def _describe(t: M.TypeRef) -> str:
    return str(t)


def parse_cli(program: M.Program, pairs: list[str]) -> dict[str, Any]:
    """``--input k=v`` values, each parsed by its input's declared type: strings as written,
    numbers and booleans by their text, arrays, objects and records as JSON, durations as
    ``5m``; ``null`` for an optional input."""
    decls = {d.name: d for d in program.inputs}
    out: dict[str, Any] = {}
    problems: list[str] = []
    for pair in pairs:
        if "=" not in pair:
            problems.append(f"--input {pair!r}: write name=value")
            continue
        name, text = pair.split("=", 1)
        name = name.strip()
        if not name:
            problems.append(f"--input {pair!r}: the name is missing; write name=value")
            continue
        decl = decls.get(name)
        if decl is None:
            known = ", ".join(decls) or "none"
            problems.append(f"--input {name}: the workflow has no input '{name}' (its inputs: "
                            f"{known})")
            continue
        try:
            out[name] = _parse_text(decl.type, text)
        except ValueError as e:
            problems.append(f"input '{name}': {e}")
    if problems:
        raise InputError(problems)
    return out


def _parse_text(t: M.TypeRef, text: str) -> Any:
    k = t.kind
    if k == "optional":
        assert t.of is not None
        return None if text == "null" else _parse_text(t.of, text)
    if k in ("string", "url", "file", "datetime"):
        return text
    if k == "number":
        return _parse_number(text)
    if k == "boolean":
        if text in ("true", "false"):
            return text == "true"
        raise ValueError(f"expected true or false, got {text!r}")
    if k == "duration":
        try:
            return parse_duration(text)
        except ValueError:
            raise ValueError(f"expected a duration such as 30s or 5m, got {text!r}") from None
    try:
        return load_json(text, "")
    except InputError as e:  # nested too deep
        raise ValueError(e.problems[0]) from None
    except json.JSONDecodeError as e:
        raise ValueError(f"expected {t} written as JSON ({e.msg} at column {e.colno})") from None


def _parse_number(text: str) -> int | float:
    """A number as written on the command line: an integer stays exact; NaN, infinities,
    numbers too large for a float and integers of more than MAX_DIGITS digits are refused."""
    stripped = text.strip()
    if re.fullmatch(r"[-+]?\d+", stripped):
        digits = len(stripped.lstrip("+-"))
        if MAX_DIGITS and digits > MAX_DIGITS:
            raise ValueError(f"an integer of {digits:,} digits is too long (at most "
                             f"{MAX_DIGITS:,} digits)")
        return int(stripped)
    try:
        v = float(stripped)
    except ValueError:
        raise ValueError(f"expected a number, got {_cut(text)!r}") from None
    if math.isnan(v) or math.isinf(v) and re.search(r"[iI][nN][fF]", stripped):
        raise ValueError(f"expected a finite number, got {_cut(text)!r}")
    if math.isinf(v):
        raise ValueError(f"{_cut(text)!r} is too large for a number")
    return v


class _NoTasks:
    def lookup(self, name: str) -> Any:
        raise KeyError(name)

    def task_field(self, node: str, field: str) -> Any:
        raise KeyError(node)


def validate_inputs(program: M.Program, given: dict[str, Any]) -> dict[str, Any]:
    """The run's inputs: ``given`` checked against the declarations, defaults filled in.
    Durations become :class:`Duration` values, datetimes aware ``datetime`` values."""
    decls = {d.name: d for d in program.inputs}
    problems = [f"the workflow has no input '{k}' (its inputs: {', '.join(decls) or 'none'})"
                for k in given if k not in decls]
    values: dict[str, Any] = {}
    for d in program.inputs:
        if d.name in given:
            bad = _value_problem(given[d.name])
            if bad is not None:
                problems.append(f"input '{d.name}{bad[0]}': {bad[1]}")
                continue
            values[d.name] = given[d.name]
        elif d.default is not None:
            try:
                values[d.name] = evaluate(d.default, _NoTasks())
            except (EvalError, KeyError) as e:
                problems.append(f"input '{d.name}': its default cannot be computed: {e}")
            continue
        elif d.type.kind == "optional":
            values[d.name] = None
            continue
        else:
            problems.append(f"input '{d.name}' ({_describe(d.type)}) is required: pass "
                            f"--input {d.name}=…")
            continue
        before = len(problems)
        value = _convert(d.type, values[d.name], d.name, problems)
        if len(problems) > before:
            continue
        # the rule of types at run time, as for agents' results and outputs
        found = mismatch(value, d.type)
        if found is not None:
            problems.append(f"input '{d.name}{found[0]}': expected {_expected(d.type)}, "
                            f"got {_show(values[d.name])}")
            continue
        values[d.name] = value
    if problems:
        raise InputError(problems)
    return values


def _expected(t: M.TypeRef) -> str:
    return {"number": "a number", "string": "a string", "boolean": "true or false",
            "object": "an object"}.get(t.kind, str(t))


def _show(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, (bytes, set)) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _convert(t: M.TypeRef, v: Any, name: str, problems: list[str]) -> Any:
    """Durations and datetimes to their runtime values, recursively (a value of another
    kind is left as it is, for :func:`mismatch` to refuse)."""
    if v is None:
        return None
    k = t.kind
    if k == "optional" and t.of is not None:
        return _convert(t.of, v, name, problems)
    if k == "duration" and (isinstance(v, str) or is_number(v)):
        try:
            return Duration(parse_duration(v) if isinstance(v, str) else float(v))
        except ValueError:
            problems.append(f"input '{name}': expected a duration such as 30s, got {v!r}")
            return None
    if k == "datetime" and isinstance(v, str):
        try:
            d = datetime.fromisoformat(v)
        except ValueError:
            problems.append(f"input '{name}': expected an ISO 8601 date-time, got {v!r}")
            return None
        from datetime import UTC
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    if k == "array" and t.of is not None and isinstance(v, list):
        return [_convert(t.of, x, f"{name}[{i}]", problems) for i, x in enumerate(v)]
    if k == "record" and isinstance(v, dict):
        return {f: _convert((t.fields or {}).get(f, M.TypeRef(kind="any")), x, f"{name}.{f}",
                            problems) for f, x in v.items()}
    return v


__all__ = ["MAX_DEPTH", "MAX_DIGITS", "InputError", "load_json", "parse_cli",
           "parse_duration", "validate_inputs"]
