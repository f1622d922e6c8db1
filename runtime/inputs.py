"""Workflow inputs: parsed from the command line by their declared types and validated
before anything runs, with pydantic models generated from the IR's types.

Every problem is collected and reported at once, each naming the input:
``input 'retries': expected number, got "three"``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    create_model,
)

from twdsl.ir import model as M
from twdsl.ir.eval import EvalError, evaluate
from twdsl.lang.values import Duration


class InputError(Exception):
    """Inputs that do not fit the workflow's declaration: a user's mistake (exit 2)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")


def parse_duration(text: str) -> float:
    """``"90s"``, ``"5m"``, ``"1.5h"``, or a number of seconds."""
    m = _DURATION.match(text.strip())
    if m:
        return float(m.group(1)) * _UNITS[m.group(2)]
    return float(text)


def _annotation(t: M.TypeRef, name: str) -> Any:
    k = t.kind
    if k == "optional":
        assert t.of is not None
        return Optional[_annotation(t.of, name)]  # noqa: UP045 - built at run time
    if k == "array":
        assert t.of is not None
        return list[_annotation(t.of, name)]  # type: ignore[misc]
    if k == "record":
        fields = {f: (_annotation(ft, f"{name}.{f}"), ...) for f, ft in (t.fields or {}).items()}
        return create_model(f"Record_{abs(hash(name))}", __config__=ConfigDict(extra="allow"),
                            **fields)  # type: ignore[call-overload]
    return {
        "string": StrictStr, "url": StrictStr, "file": StrictStr,
        "number": Annotated[StrictInt | StrictFloat, Field()],
        "boolean": StrictBool,
        "object": dict[str, Any],
        "datetime": StrictStr,
        "duration": StrictInt | StrictFloat | StrictStr,
        "null": None,
    }.get(k, Any)


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
        try:
            v = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        return int(v) if v.is_integer() and re.fullmatch(r"-?\d+", text.strip()) else v
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
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"expected {t} written as JSON ({e.msg} at column {e.colno})") from None


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
        try:
            TypeAdapter(_annotation(d.type, d.name)).validate_python(values[d.name])
        except ValidationError as e:
            err = e.errors()[0]
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]
                            if p not in ("function-after", "int", "float", "str"))
            problems.append(f"input '{d.name}{_clean(where)}': expected {_expected(d.type)}, "
                            f"got {_show(values[d.name])}")
            continue
        values[d.name] = _convert(d.type, values[d.name], d.name, problems)
    if problems:
        raise InputError(problems)
    return values


def _clean(where: str) -> str:
    return re.sub(r"\.(constrained-|union\[|json-or-python)[^.\[]*", "", where)


def _expected(t: M.TypeRef) -> str:
    return {"number": "a number", "string": "a string", "boolean": "true or false",
            "object": "an object"}.get(t.kind, str(t))


def _show(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, (bytes, set)) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _convert(t: M.TypeRef, v: Any, name: str, problems: list[str]) -> Any:
    """Durations and datetimes to their runtime values, recursively."""
    if v is None:
        return None
    k = t.kind
    if k == "optional" and t.of is not None:
        return _convert(t.of, v, name, problems)
    if k == "duration":
        try:
            return Duration(parse_duration(v) if isinstance(v, str) else float(v))
        except ValueError:
            problems.append(f"input '{name}': expected a duration such as 30s, got {v!r}")
            return None
    if k == "datetime":
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


__all__ = ["BaseModel", "InputError", "parse_cli", "parse_duration", "validate_inputs"]
