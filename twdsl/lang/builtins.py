"""The builtins of the language, each written once: name, signature, implementation and
documentation together (docs/language.md, Builtin functions, Methods, Builtin values).

The type checker reads the signatures, the evaluator calls the implementations, the editor
shows the documentation and the signature labels: a builtin cannot be known to one of them and
not to another.  An implementation takes plain values (:mod:`twdsl.lang.values`) and raises
:class:`~twdsl.lang.values.EvalError` with a one-line message when its arguments do not fit
(values of type ``any`` reach it unchecked).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twdsl.lang import types as T
from twdsl.lang.limits import MAX_ITEMS, check_items, check_text
from twdsl.lang.values import (
    EvalError,
    Lambda,
    count_of,
    equal,
    format_number,
    hash_key,
    is_number,
    number_result,
    render,
    type_name,
    whole,
)

# ---------------------------------------------------------------------------- argument kinds
#: What a function's argument may be: a test on its type, and the words for messages.
ARG_KINDS: dict[str, tuple[Callable[[T.Type], bool], str]] = {
    "any": (lambda t: True, "any value"),
    "number": (lambda t: T.assignable(t, T.NUMBER), "a number"),
    "numbers": (lambda t: T.assignable(t, T.Arr(T.NUMBER)), "an array of numbers"),
    "text": (lambda t: T.assignable(t, T.STRING) or T.assignable(t, T.NUMBER),
             "a string or a number"),
    "object": (lambda t: T.assignable(t, T.OBJECT), "an object"),
    "sized": (lambda t: t == T.ANY or isinstance(t, (T.Arr, T.Rec)) or t in (T.STRING, T.OBJECT),
              "a string, an array or an object"),
}


@dataclass(frozen=True, slots=True)
class Function:
    """A builtin function, called by name: ``len(x)``."""

    name: str
    required: tuple[str, ...]  # the kinds of the required arguments (ARG_KINDS)
    optional: tuple[str, ...]  # the kinds of the optional ones
    variadic: str | None  # the kind of any further arguments (None: no more)
    result: T.Type
    impl: Callable[[list[Any]], Any]
    forms: tuple[str, ...]  # how it is written, e.g. ("range(n)", "range(a, b)")
    doc: str

    @property
    def summary(self) -> str:
        """``range(n) or range(a, b): the numbers …``, for hover and completion."""
        return f"{' or '.join(self.forms)}: {self.doc}"


@dataclass(frozen=True, slots=True)
class Method:
    """A method of a receiver type: ``xs.filter(x => …)``."""

    name: str
    receiver: str  # "array", "string" or "object"
    arity: int
    #: the parameter types and the result, given the receiver's type; MAPPED as the result
    #: means "an array of what the lambda argument returns"
    signature: Callable[[T.Type], tuple[tuple[T.Type, ...], T.Type]]
    impl: Callable[..., Any]  # the receiver, then the arguments
    params: tuple[str, ...]  # the parameters as documented: ("T => boolean",)
    result: str  # the result as documented: "array<T>"
    doc: str

    @property
    def label(self) -> str:
        """``array<T>.filter(T => boolean) -> array<T>``."""
        recv = {"array": "array<T>", "string": "string", "object": "object"}[self.receiver]
        return f"{recv}.{self.name}({', '.join(self.params)}) -> {self.result}"


@dataclass(frozen=True, slots=True)
class Value:
    """A name every workflow can read without declaring it: ``env``, ``retry_count``…"""

    name: str
    type: T.Type
    doc: str


#: The result of ``map``: an array of the lambda's result type (the checker substitutes it).
MAPPED = T.Prim("<mapped>")

# ---------------------------------------------------------------------------- helpers


def _arity(name: str, args: list[Any], n: int) -> None:
    if len(args) != n:
        raise EvalError(f"{name}() takes {count_of(n, 'argument')}, and was given {len(args)}")


def _int_arg(name: str, v: Any) -> int:
    if type(v) is int:
        return v
    if type(v) is float and v.is_integer():
        return int(v)
    shown = format_number(v) if type(v) is float else type_name(v)
    raise EvalError(f"{name}() takes whole numbers, and this is {shown}")


def _lambda(method: str, f: Any) -> Lambda:
    if not isinstance(f, Lambda):
        raise EvalError(f"{method}() takes a lambda, and this is {type_name(f)}")
    return f


def _test(method: str, f: Lambda, x: Any) -> bool:
    r = f(x)
    if type(r) is not bool:
        raise EvalError(f"{method}(): the lambda returned {type_name(r)}, not a boolean")
    return r  # type: ignore[no-any-return]


def _string_arg(method: str, v: Any) -> str:
    if type(v) is not str:
        raise EvalError(f"{method}() takes a string, and this is {type_name(v)}")
    return v  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- functions


def _fn_len(args: list[Any]) -> int:
    _arity("len", args, 1)
    x = args[0]
    if type(x) in (str, list, dict):
        return len(x)
    raise EvalError(f"len() takes a string, an array or an object, and this is {type_name(x)}")


def _fn_range(args: list[Any]) -> list[int]:
    if len(args) not in (1, 2):
        raise EvalError(f"range() takes 1 or 2 arguments, and was given {len(args)}")
    a, b = (0, _int_arg("range", args[0])) if len(args) == 1 else \
        (_int_arg("range", args[0]), _int_arg("range", args[1]))
    check_items("range()", max(0, b - a))
    return list(range(a, b))


def _numbers(name: str, args: list[Any]) -> list[Any]:
    xs = args[0] if len(args) == 1 and type(args[0]) is list else args
    if not args:
        raise EvalError(f"{name}() takes numbers or one array of numbers, and was given none")
    for x in xs:
        if not is_number(x):
            raise EvalError(f"{name}() takes numbers, and this is {type_name(x)}")
    return xs  # type: ignore[no-any-return]


def _fn_min(args: list[Any]) -> Any:
    xs = _numbers("min", args)
    if not xs:
        raise EvalError("min() of an empty array")
    return min(xs)


def _fn_max(args: list[Any]) -> Any:
    xs = _numbers("max", args)
    if not xs:
        raise EvalError("max() of an empty array")
    return max(xs)


def _fn_sum(args: list[Any]) -> Any:
    _arity("sum", args, 1)
    if type(args[0]) is not list:
        raise EvalError(f"sum() takes an array of numbers, and this is {type_name(args[0])}")
    total: Any = 0
    for x in args[0]:
        if not is_number(x):
            raise EvalError(f"sum() takes numbers, and this is {type_name(x)}")
        total = number_result(total + x)
    return total


def _fn_round(args: list[Any]) -> Any:
    _arity("round", args, 1)
    x = args[0]
    if type(x) is int:
        return x
    if type(x) is not float:
        raise EvalError(f"round() takes a number, and this is {type_name(x)}")
    if abs(x) >= 2**52:  # already whole
        return whole(x)
    n = math.floor(abs(x))
    if abs(x) - n >= 0.5:  # exact: subtracting the floor loses nothing
        n += 1
    return -n if x < 0 else n


def _fn_string(args: list[Any]) -> str:
    _arity("string", args, 1)
    out = render(args[0])
    check_text("string()", len(out))
    return out


_NUMBER = re.compile(r"\s*[+-]?\d+(\.\d+)?([eE][+-]?\d+)?\s*")


def _fn_number(args: list[Any]) -> Any:
    _arity("number", args, 1)
    s = args[0]
    if is_number(s):
        return s
    if type(s) is not str:
        raise EvalError(f"number() takes a string, and this is {type_name(s)}")
    m = _NUMBER.fullmatch(s) if len(s) <= 400 else None
    shown = render([s[:40] + "…" if len(s) > 40 else s])[1:-1]
    if m is None:
        raise EvalError(f"number({shown}): not a number")
    try:
        return number_result(float(s) if m.group(1) or m.group(2) else int(s))
    except (ValueError, EvalError):
        raise EvalError(f"number({shown}): the number is too large") from None


def _object_arg(name: str, args: list[Any]) -> dict[str, Any]:
    _arity(name, args, 1)
    if type(args[0]) is not dict:
        raise EvalError(f"{name}() takes an object, and this is {type_name(args[0])}")
    return args[0]  # type: ignore[no-any-return]


def _fn_merge(args: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n, a in enumerate(args, 1):
        if type(a) is not dict:
            raise EvalError(f"merge() takes objects, and argument {n} is {type_name(a)}")
        out.update(a)
    return out


_ARRAY_NUMBER = T.Arr(T.NUMBER)
_ARRAY_STRING = T.Arr(T.STRING)

#: The builtin functions, in the order docs/language.md lists them.
FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("len", ("sized",), (), None, T.NUMBER, _fn_len, ("len(x)",),
             "the length of a string, array or object."),
    Function("range", ("number",), ("number",), None, _ARRAY_NUMBER, _fn_range,
             ("range(n)", "range(a, b)"), "the numbers a, a+1, …, b-1."),
    Function("min", ("number",), (), "number", T.NUMBER, _fn_min, ("min(a, b, …)", "min(array)"),
             "the smallest number."),
    Function("max", ("number",), (), "number", T.NUMBER, _fn_max, ("max(a, b, …)", "max(array)"),
             "the largest number."),
    Function("sum", ("numbers",), (), None, T.NUMBER, _fn_sum, ("sum(array)",),
             "the sum of an array of numbers."),
    Function("round", ("number",), (), None, T.NUMBER, _fn_round, ("round(x)",),
             "the nearest whole number."),
    Function("string", ("any",), (), None, T.STRING, _fn_string, ("string(x)",), "x as text."),
    Function("number", ("text",), (), None, T.NUMBER, _fn_number, ("number(s)",),
             "the number a string spells."),
    Function("keys", ("object",), (), None, _ARRAY_STRING,
             lambda a: list(_object_arg("keys", a)), ("keys(obj)",),
             "an object's keys, as an array of strings."),
    Function("values", ("object",), (), None, T.Arr(T.ANY),
             lambda a: list(_object_arg("values", a).values()), ("values(obj)",),
             "an object's values, as an array."),
    Function("merge", ("object",), (), "object", T.OBJECT, _fn_merge, ("merge(a, b, …)",),
             "the objects' fields combined, later ones winning."),
)}


def function_arity(f: Function, given: int) -> tuple[tuple[str, ...], str | None]:
    """The required kinds and the variadic kind of ``f`` for a call with ``given`` arguments:
    ``min(array)`` takes one array of numbers, ``min(a, b, …)`` numbers."""
    if f.name in ("min", "max") and given == 1:
        return ("numbers",), None
    return f.required, f.variadic


# ---------------------------------------------------------------------------- methods


def _sort(xs: list[Any]) -> list[Any]:
    if not xs:
        return []
    kind = type_name(xs[0])
    if kind not in ("number", "string", "duration", "datetime"):
        raise EvalError(f"sort() cannot order values of type {kind}")
    for x in xs:
        if type_name(x) != kind:
            raise EvalError(f"sort() cannot compare {kind} and {type_name(x)}")
    return sorted(xs)


def _slice(xs: list[Any], a: Any, b: Any) -> list[Any]:
    lo, hi = _int_arg("slice", a), _int_arg("slice", b)
    for n in (lo, hi):
        if n < 0:
            raise EvalError(f"slice() takes bounds of 0 or more, and this is {n}")
    return xs[lo:hi]


def _unique(xs: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for x in xs:
        k = hash_key(x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


def _flatten(xs: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in xs:
        if type(x) is list:
            out.extend(x)
        else:
            out.append(x)
    check_items("flatten()", len(out))
    return out


def _concat(xs: list[Any], ys: Any) -> list[Any]:
    if type(ys) is not list:
        raise EvalError(f"concat() takes an array, and this is {type_name(ys)}")
    check_items("concat()", len(xs) + len(ys))
    return xs + ys  # type: ignore[no-any-return]


def _find(xs: list[Any], f: Any) -> Any:
    f = _lambda("find", f)
    for x in xs:
        if _test("find", f, x):
            return x
    return None


def _reduce(xs: list[Any], f: Any, acc: Any) -> Any:
    f = _lambda("reduce", f)
    for x in xs:
        acc = f(acc, x)
    return acc


def _split(s: str, sep: Any) -> list[str]:
    sep = _string_arg("split", sep)
    if sep and len(s) // len(sep) > MAX_ITEMS:
        check_items("split()", s.count(sep) + 1)
    out = list(s) if sep == "" else s.split(sep)
    check_items("split()", len(out))
    return out


def _join(xs: list[Any], sep: Any) -> str:
    sep = _string_arg("join", sep)
    out = sep.join(render(x) for x in xs)
    check_text("join()", len(out))
    return out


def _replace(s: str, a: Any, b: Any) -> str:
    a, b = _string_arg("replace", a), _string_arg("replace", b)
    if a and b and len(b) > len(a):
        check_text("replace()", len(s) + s.count(a) * (len(b) - len(a)))
    elif not a:
        check_text("replace()", len(s) + (len(s) + 1) * len(b))
    return s.replace(a, b)


def _elem(t: T.Type) -> T.Type:
    return t.elem if isinstance(t, T.Arr) else T.ANY


def _pred(t: T.Type) -> T.Fn:
    return T.Fn((_elem(t),), T.BOOLEAN)


def _array_method(name: str, arity: int, sig: Callable[[T.Type], tuple[tuple[T.Type, ...],
                                                                         T.Type]],
                  impl: Callable[..., Any], params: tuple[str, ...], result: str,
                  doc: str) -> Method:
    return Method(name, "array", arity, sig, impl, params, result, doc)


#: Methods by receiver ("array", "string", "object") and name.
METHODS: dict[str, dict[str, Method]] = {
    "array": {m.name: m for m in (
        _array_method("filter", 1, lambda r: ((_pred(r),), r),
                      lambda xs, f: [x for x in xs if _test("filter", _lambda("filter", f), x)],
                      ("T => boolean",), "array<T>", "the items for which the lambda is true."),
        _array_method("map", 1, lambda r: ((T.Fn((_elem(r),), T.ANY),), MAPPED),
                      lambda xs, f: [_lambda("map", f)(x) for x in xs],
                      ("T => U",), "array<U>", "the lambda's result for each item."),
        _array_method("find", 1, lambda r: ((_pred(r),), T.optional(_elem(r))), _find,
                      ("T => boolean",), "T?", "the first item for which the lambda is true, "
                      "or null."),
        _array_method("any", 1, lambda r: ((_pred(r),), T.BOOLEAN),
                      lambda xs, f: any(_test("any", _lambda("any", f), x) for x in xs),
                      ("T => boolean",), "boolean", "whether the lambda is true for some item."),
        _array_method("all", 1, lambda r: ((_pred(r),), T.BOOLEAN),
                      lambda xs, f: all(_test("all", _lambda("all", f), x) for x in xs),
                      ("T => boolean",), "boolean", "whether the lambda is true for every item."),
        _array_method("count", 1, lambda r: ((_pred(r),), T.NUMBER),
                      lambda xs, f: sum(1 for x in xs if _test("count", _lambda("count", f), x)),
                      ("T => boolean",), "number", "how many items the lambda is true for."),
        _array_method("reduce", 2, lambda r: ((T.Fn((T.ANY, _elem(r)), T.ANY), T.ANY), T.ANY),
                      _reduce, ("(acc, T) => U", "initial"), "any",
                      "the lambda applied to an accumulator and each item in turn."),
        _array_method("contains", 1, lambda r: ((_elem(r),), T.BOOLEAN),
                      lambda xs, v: any(equal(x, v) for x in xs), ("T",), "boolean",
                      "whether an item equals the value (the language's ==)."),
        _array_method("join", 1, lambda r: ((T.STRING,), T.STRING), _join, ("string",),
                      "string", "the items as text, with the separator between them."),
        _array_method("length", 0, lambda r: ((), T.NUMBER), len, (), "number",
                      "the number of items."),
        _array_method("first", 0, lambda r: ((), T.optional(_elem(r))),
                      lambda xs: xs[0] if xs else None, (), "T?",
                      "the first item, or null when empty."),
        _array_method("last", 0, lambda r: ((), T.optional(_elem(r))),
                      lambda xs: xs[-1] if xs else None, (), "T?",
                      "the last item, or null when empty."),
        _array_method("sort", 0, lambda r: ((), r), _sort, (), "array<T>",
                      "the items in ascending order (numbers, strings, durations or datetimes)."),
        _array_method("reverse", 0, lambda r: ((), r), lambda xs: xs[::-1], (), "array<T>",
                      "the items in reverse order."),
        _array_method("unique", 0, lambda r: ((), r), _unique, (), "array<T>",
                      "the items without repeats, first occurrences kept."),
        _array_method("slice", 2, lambda r: ((T.NUMBER, T.NUMBER), r), _slice,
                      ("number", "number"), "array<T>", "the items from the first index up to, "
                      "not including, the second."),
        _array_method("concat", 1, lambda r: ((r,), r), _concat, ("array<T>",), "array<T>",
                      "the items followed by another array's."),
        _array_method("flatten", 0, lambda r: ((), T.Arr(T.ANY)), _flatten, (), "array<any>",
                      "the items, with arrays among them spread out one level."),
    )},
    "string": {m.name: m for m in (
        Method("startsWith", "string", 1, lambda r: ((T.STRING,), T.BOOLEAN),
               lambda s, p: s.startswith(_string_arg("startsWith", p)), ("string",), "boolean",
               "whether the text starts with the given text."),
        Method("endsWith", "string", 1, lambda r: ((T.STRING,), T.BOOLEAN),
               lambda s, p: s.endswith(_string_arg("endsWith", p)), ("string",), "boolean",
               "whether the text ends with the given text."),
        Method("contains", "string", 1, lambda r: ((T.STRING,), T.BOOLEAN),
               lambda s, p: _string_arg("contains", p) in s, ("string",), "boolean",
               "whether the given text occurs in the text."),
        Method("length", "string", 0, lambda r: ((), T.NUMBER), len, (), "number",
               "the number of characters."),
        Method("upper", "string", 0, lambda r: ((), T.STRING), str.upper, (), "string",
               "the text in upper case."),
        Method("lower", "string", 0, lambda r: ((), T.STRING), str.lower, (), "string",
               "the text in lower case."),
        Method("trim", "string", 0, lambda r: ((), T.STRING), str.strip, (), "string",
               "the text without leading and trailing white space."),
        Method("split", "string", 1, lambda r: ((T.STRING,), _ARRAY_STRING), _split,
               ("string",), "array<string>", "the parts between separators (\"\": the "
               "characters)."),
        Method("replace", "string", 2, lambda r: ((T.STRING, T.STRING), T.STRING), _replace,
               ("string", "string"), "string", "the text with every occurrence of the first "
               "text replaced by the second."),
    )},
    "object": {m.name: m for m in (
        Method("keys", "object", 0, lambda r: ((), _ARRAY_STRING), list, (), "array<string>",
               "the object's keys."),
        Method("values", "object", 0, lambda r: ((), T.Arr(T.ANY)), lambda o: list(o.values()),
               (), "array<any>", "the object's values."),
        Method("has", "object", 1, lambda r: ((T.STRING,), T.BOOLEAN),
               lambda o, k: _string_arg("has", k) in o, ("string",), "boolean",
               "whether the object has the key."),
    )},
}

#: Methods by the Python type of the receiver at run time.
METHODS_BY_TYPE: dict[type, dict[str, Method]] = {
    list: METHODS["array"], str: METHODS["string"], dict: METHODS["object"]}


def methods_for(t: T.Type) -> dict[str, Method] | None:
    """The methods a receiver of type ``t`` has ({}: none, e.g. a number; None: anything goes,
    e.g. on ``any``)."""
    if isinstance(t, T.Arr):
        return METHODS["array"]
    if t in (T.STRING, T.URL, T.FILE):
        return METHODS["string"]
    if isinstance(t, T.Rec) or t == T.OBJECT:
        return METHODS["object"]
    if t in (T.NUMBER, T.BOOLEAN, T.DURATION, T.DATETIME):
        return {}
    return None


def methods_named(name: str) -> list[Method]:
    """Every method called ``name``, whatever its receiver (for the editor's signature help)."""
    return [table[name] for table in METHODS.values() if name in table]


#: The methods that take a lambda, in the order of the reference (docs/language.md, Methods).
LAMBDA_METHODS = tuple(m.name for m in METHODS["array"].values()
                       if any("=>" in p for p in m.params))
#: A lambda written anywhere but as the argument of a method: it has no value a task, an
#: output or a string could take (reported by the checker, TW301).
LAMBDA_NOT_A_VALUE = ("a lambda is not a value: pass it to a method "
                      f"({', '.join(LAMBDA_METHODS)})")
#: A call whose callee is neither a builtin function's name nor a method (``(x => x)(1)``).
NOT_CALLABLE = "only builtin functions and methods can be called"


# ---------------------------------------------------------------------------- values
_ERROR = T.Rec((("kind", T.STRING), ("message", T.STRING), ("task", T.STRING)))

#: Builtin values (docs/language.md, Builtin values).
VALUES: dict[str, Value] = {v.name: v for v in (
    Value("env", T.OBJECT, "The environment variables of the run, as an object of strings."),
    Value("context", T.OBJECT,
          "The run's context: workflow name, version, inputs, and caller metadata."),
    Value("result", T.ANY, "Inside on_success: the result of the task that succeeded."),
    Value("error", _ERROR, "Inside on_error: the failure, with kind, message and task."),
    Value("retry_count", T.NUMBER, "How many times the current task has been retried so far."),
    Value("current_time", T.DATETIME, "The time the expression is evaluated (a datetime)."),
    Value("workflow_id", T.STRING, "The id of the current run."),
    Value("task_id", T.STRING, "The id of the current task attempt."),
)}

#: The type of a task's ``error`` field and of ``error`` in a handler.
ERROR_TYPE = _ERROR

#: The fields of a task read in expressions (docs/language.md, "A task in expressions"): the
#: type shown for each and what it holds.  The checker types them, the runtime reads them from
#: the task's record, the editor offers them.
TASK_FIELDS: dict[str, tuple[str, str]] = {
    "result": ("the agent's output", "The agent's answer (null when the task did not run)."),
    "status": ("string", "The task's status: pending before it runs."),
    "error": ("the failure, if any", "The failure, with kind, message and task."),
    "attempts": ("number", "How many attempts the task made (0 before it runs)."),
    "duration": ("duration?", "How long the task took."),
    "started_at": ("datetime?", "When the task started."),
    "finished_at": ("datetime?", "When the task finished."),
    "previous": ("result?", "Inside the loop that declares the task: its result in the "
                            "iteration before this one (null in the first)."),
}
