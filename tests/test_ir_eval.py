"""The sandboxed evaluator of the IR (twdsl.ir.eval) and its values (twdsl.lang.values).

Every case runs twice, compiled to closures and interpreted by the iterative walker, and both
must give the same value (same types: ``2`` is not ``2.0``) or the same error message.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twdsl.ir.closures import depth
from twdsl.ir.eval import (
    MAX_COMPILED_DEPTH,
    Closure,
    EvalError,
    compile_expr,
    evaluate,
    interpret,
)
from twdsl.ir.expr import (
    Array,
    Binary,
    Call,
    Dur,
    Get,
    Index,
    Lambda,
    Let,
    Lit,
    Method,
    Object,
    Str,
    TaskField,
    Unary,
    Var,
)
from twdsl.lang.values import Duration, equal, hash_key, render, to_json, type_name
from twdsl.passes.fold import fold, is_constant

D = Duration
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# -- helpers ------------------------------------------------------------------------------

class Names:
    """An Env over a dict of names and a dict of task fields (KeyError when missing)."""

    def __init__(self, names: dict[str, Any] | None = None,
                 tasks: dict[tuple[str, str], Any] | None = None) -> None:
        self.names = names or {}
        self.tasks = tasks or {}

    def lookup(self, name: str) -> Any:
        return self.names[name]

    def task_field(self, node: str, field: str) -> Any:
        return self.tasks[(node, field)]


def L(v: Any) -> Lit:  # noqa: N802 - short builders keep the tables readable
    return Lit(v=v)


def V(name: str) -> Var:  # noqa: N802
    return Var(name=name)


def B(op: str, l: Any, r: Any) -> Binary:  # noqa: N802, E741
    return Binary(op=op, l=l, r=r)  # type: ignore[arg-type]


def M(obj: Any, name: str, *args: Any) -> Method:  # noqa: N802
    return Method(obj=obj, name=name, args=list(args))


def C(fn: str, *args: Any) -> Call:  # noqa: N802
    return Call(fn=fn, args=list(args))


def lam(params: str, body: Any) -> Lambda:
    return Lambda(params=params.split(",") if params else [], body=body)


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types all the way down (``2`` is not ``2.0``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, Closure):
        return True
    return bool(a == b)


def run(e: Any, env: Names | None = None, **names: Any) -> Any:
    """The value of ``e``, compiled and interpreted (both must agree); EvalError raised."""
    env = env or Names(names)
    outcomes = []
    for how in (compile_expr(e), lambda en: interpret(e, en)):
        try:
            outcomes.append(("value", how(env)))
        except EvalError as err:
            outcomes.append(("error", err.message))
    (k1, v1), (k2, v2) = outcomes
    assert k1 == k2 and (v1 == v2 if k1 == "error" else same(v1, v2)), outcomes
    if k1 == "error":
        raise EvalError(v1)
    return v1


def check(e: Any, expected: Any, **names: Any) -> None:
    if isinstance(expected, Err):
        with pytest.raises(EvalError) as info:
            run(e, **names)
        assert info.value.message == expected.message
    else:
        got = run(e, **names)
        assert same(got, expected), (got, expected)


class Err:
    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"Err({self.message!r})"


# -- operators ----------------------------------------------------------------------------

BINARY = [
    ("+", 1, 2, 3), ("+", 1, 2.5, 3.5), ("+", 0.1, 0.2, 0.30000000000000004),
    ("+", "ab", "cd", "abcd"), ("+", [1], [2, "x"], [1, 2, "x"]), ("+", D(60), D(30), D(90)),
    ("+", T0, D(3600), T0 + timedelta(hours=1)), ("+", D(3600), T0, T0 + timedelta(hours=1)),
    ("+", "n = ", 1, Err("'+' cannot combine string and number")),
    ("+", True, 1, Err("'+' cannot combine boolean and number")),
    ("+", None, 1, Err("'+' cannot combine null and number")),
    ("+", {}, {}, Err("'+' cannot combine object and object")),
    ("+", T0, T0, Err("'+' cannot combine datetime and datetime")),
    ("+", D(1), 1, Err("'+' cannot combine duration and number")),
    ("+", 2**63, 1, 9.223372036854776e18), ("+", 2**62, 2**62, 2**63),
    ("+", 1.7e308, 1.7e308, Err("the number is too large")),
    ("-", 5, 7, -2), ("-", 0.5, 0.25, 0.25), ("-", D(90), D(30), D(60)),
    ("-", T0, D(60), T0 - timedelta(minutes=1)),
    ("-", T0 + timedelta(hours=2), T0, D(7200)),
    ("-", "a", "b", Err("'-' cannot combine string and string")),
    ("-", D(1), T0, Err("'-' cannot combine duration and datetime")),
    ("*", 3, 4, 12), ("*", 1.5, 2, 3.0), ("*", D(30), 2, D(60)), ("*", 2, D(30), D(60)),
    ("*", D(1), D(1), Err("'*' cannot combine duration and duration")),
    ("*", "ab", 3, Err("'*' cannot combine string and number")),
    ("*", 2**40, 2**40, 1.2089258196146292e24),
    ("/", 7, 2, 3.5), ("/", 6, 3, 2), ("/", -6, 3, -2), ("/", 6.0, 3, 2.0),
    ("/", D(90), 2, D(45)), ("/", D(90), D(30), 3), ("/", D(45), D(30), 1.5),
    ("/", 1, 0, Err("division by zero: 1 / 0")), ("/", 1.5, 0.0, Err("division by zero: 1.5 / 0")),
    ("/", D(60), 0, Err("division by zero: 1m / 0")),
    ("/", D(60), D(0), Err("division by zero: 1m / 0s")),
    ("/", "a", 1, Err("'/' cannot combine string and number")),
    ("%", 7, 3, 1), ("%", -4, 3, -1), ("%", 4, -3, 1), ("%", 5.5, 2, 1.5), ("%", -5.5, 2, -1.5),
    ("%", 1, 0, Err("division by zero: 1 % 0")),
    ("%", D(5), 2, Err("'%' cannot combine duration and number")),
    ("<", 1, 2, True), ("<", 2, 1.5, False), (">", 2, 1.5, True), ("<=", 2, 2.0, True),
    (">=", 1, 2, False), ("<", "a", "b", True), ("<", "B", "a", True), ("<", "ab", "a", False),
    ("<", D(1), D(2), True), (">", T0 + timedelta(seconds=1), T0, True),
    ("<", "a", 1, Err("'<' cannot compare string and number")),
    (">=", None, 1, Err("'>=' cannot compare null and number")),
    ("<", True, False, Err("'<' cannot compare boolean and boolean")),
    ("<", [1], [2], Err("'<' cannot compare array and array")),
    ("<", D(1), 1, Err("'<' cannot compare duration and number")),
    ("==", 1, 1.0, True), ("==", True, 1, False), ("==", None, None, True), ("==", 0, None, False),
    ("==", [1, {"a": 2}], [1.0, {"a": 2.0}], True), ("==", {"a": 1}, {"a": 1, "b": 2}, False),
    ("==", [1, 2], [2, 1], False), ("==", D(60), D(60.0), True), ("==", D(60), 60, False),
    ("==", "a", "a", True), ("==", "a", "A", False), ("==", T0, T0, True), ("==", "1", 1, False),
    ("!=", 1, 1.0, False), ("!=", False, 0, True), ("!=", [], {}, True),
    ("&&", True, True, True), ("&&", True, False, False), ("&&", False, True, False),
    ("||", False, False, False), ("||", False, True, True), ("||", True, False, True),
    ("&&", 1, True, Err("'&&' needs booleans, and its left side is number")),
    ("&&", True, "x", Err("'&&' needs booleans, and its right side is string")),
    ("||", None, True, Err("'||' needs booleans, and its left side is null")),
    ("||", False, [], Err("'||' needs booleans, and its right side is array")),
    ("??", None, 5, 5), ("??", 0, 5, 0), ("??", False, 5, False), ("??", "", 5, ""),
    ("??", None, None, None),
]


@pytest.mark.parametrize(("op", "a", "b", "expected"), BINARY)
def test_binary_operators(op: str, a: Any, b: Any, expected: Any) -> None:
    check(B(op, V("a"), V("b")), expected, a=a, b=b)


@pytest.mark.parametrize(("e", "expected"), [
    (B("&&", L(False), V("boom")), False),
    (B("||", L(True), V("boom")), True),
    (B("??", L(1), V("boom")), 1),
    (B("&&", L(True), V("boom")), Err("the name 'boom' has no value here")),
    (B("??", L(None), V("boom")), Err("the name 'boom' has no value here")),
])
def test_short_circuit_skips_the_right_side(e: Any, expected: Any) -> None:
    check(e, expected)


@pytest.mark.parametrize(("op", "v", "expected"), [
    ("!", True, False), ("!", False, True), ("-", 5, -5), ("-", -2.5, 2.5), ("-", D(60), D(-60)),
    ("!", 1, Err("'!' needs a boolean, and this is number")),
    ("!", None, Err("'!' needs a boolean, and this is null")),
    ("-", "a", Err("'-' needs a number or a duration, and this is string")),
    ("-", True, Err("'-' needs a number or a duration, and this is boolean")),
])
def test_unary_operators(op: str, v: Any, expected: Any) -> None:
    check(Unary(op=op, e=V("v")), expected, v=v)  # type: ignore[arg-type]


# -- members, indexes, names --------------------------------------------------------------

@pytest.mark.parametrize(("o", "name", "expected"), [
    ({"a": 1}, "a", 1), ({"a": 1}, "b", None), (None, "a", None), ("abc", "length", 3),
    ([1, 2], "length", 2), ({"length": 7}, "length", 7),
    (5, "a", Err("a number has no member 'a'")),
    ("abc", "size", Err("a string has no member 'size'")),
    (D(1), "seconds", Err("a duration has no member 'seconds'")),
    ([1], "first", Err("an array has no member 'first'")),
    (T0, "year", Err("a datetime has no member 'year'")),
])
def test_member(o: Any, name: str, expected: Any) -> None:
    check(Get(obj=V("o"), name=name), expected, o=o)


@pytest.mark.parametrize(("o", "i", "expected"), [
    ([1, 2, 3], 0, 1), ([1, 2, 3], 2.0, 3), ("abc", 1, "b"), ({"a": 1}, "a", 1),
    ({"a": 1}, "b", None), (None, 0, None), (None, "x", None),
    ([1, 2, 3], 3, Err("index 3 is out of range for an array of 3 items")),
    ([1], 1, Err("index 1 is out of range for an array of 1 item")),
    ([1, 2, 3], -1, Err("index -1 is out of range for an array of 3 items")),
    ([], 0, Err("index 0 is out of range for an empty array")),
    ("abc", 5, Err("index 5 is out of range for a string of 3 characters")),
    ("", 0, Err("index 0 is out of range for an empty string")),
    ([1, 2], 1.5, Err("index 1.5 is not a whole number")),
    ([1, 2], "a", Err("an array is indexed by a number, and this is string")),
    ([1, 2], True, Err("an array is indexed by a number, and this is boolean")),
    ("ab", None, Err("a string is indexed by a number, and this is null")),
    ({"a": 1}, 0, Err("an object is indexed by a string, and this is number")),
    (5, 0, Err("a number cannot be indexed")),
    (True, 0, Err("a boolean cannot be indexed")),
])
def test_index(o: Any, i: Any, expected: Any) -> None:
    check(Index(obj=V("o"), index=V("i")), expected, o=o, i=i)


def test_index_of_null_still_evaluates_the_index() -> None:
    check(Index(obj=L(None), index=V("boom")), Err("the name 'boom' has no value here"))


def test_names_and_task_fields_come_from_the_env() -> None:
    env = Names({"user": {"name": "Ann"}}, {("t1", "result"): {"score": 3}})
    assert run(Get(obj=V("user"), name="name"), env) == "Ann"
    assert run(Get(obj=TaskField(node="t1", field="result"), name="score"), env) == 3
    with pytest.raises(EvalError, match="^the name 'nope' has no value here$"):
        run(V("nope"), env)
    with pytest.raises(EvalError, match="^task 't2' has no 'result' here$"):
        run(TaskField(node="t2", field="result"), env)


# -- literals, arrays, objects, strings ---------------------------------------------------

def test_literals_arrays_objects() -> None:
    assert run(Dur(seconds=90)) == D(90)
    assert same(run(Array(items=[L(1), L("a"), L(None), Dur(seconds=1)])), [1, "a", None, D(1)])
    obj = Object(entries=[("a", L(1)), ("b", V("x")), ("a", L(3))])
    assert same(run(obj, x=[2]), {"a": 3, "b": [2]})  # a later duplicate wins, in place
    assert list(run(obj, x=[2])) == ["a", "b"]


@pytest.mark.parametrize(("v", "text"), [
    ("s", "s"), (3, "3"), (3.0, "3"), (-0.5, "-0.5"), (1e21, "1e+21"), (None, "null"),
    (True, "true"), (False, "false"), ([1, "a", None, 2.0], '[1,"a",null,2]'),
    ({"k": [True], "d": D(90)}, '{"k":[true],"d":90}'), ([], "[]"), ({}, "{}"),
    (D(90), "1m30s"), (D(0.25), "250ms"), (T0, "2024-05-01T12:00:00Z"), ("é\n", "é\n"),
])
def test_interpolation_renders_each_kind(v: Any, text: str) -> None:
    assert run(Str(parts=["<", V("v"), ">"]), v=v) == f"<{text}>"
    assert run(C("string", V("v")), v=v) == text


def test_interpolating_a_lambda_is_an_error() -> None:
    check(Str(parts=["f=", lam("x", V("x"))]), Err("a lambda cannot be shown as text"))


# -- builtin functions --------------------------------------------------------------------

FUNCTIONS = [
    ("len", ["abc"], 3), ("len", [[1, 2]], 2), ("len", [{"a": 1}], 1), ("len", [""], 0),
    ("len", [5], Err("len() takes a string, an array or an object, and this is number")),
    ("len", [None], Err("len() takes a string, an array or an object, and this is null")),
    ("len", [], Err("len() takes 1 argument, and was given 0")),
    ("len", ["a", "b"], Err("len() takes 1 argument, and was given 2")),
    ("range", [3], [0, 1, 2]), ("range", [2, 5], [2, 3, 4]), ("range", [5, 2], []),
    ("range", [-1], []), ("range", [2.0], [0, 1]),
    ("range", [1.5], Err("range() takes whole numbers, and this is 1.5")),
    ("range", ["3"], Err("range() takes whole numbers, and this is string")),
    ("range", [], Err("range() takes 1 or 2 arguments, and was given 0")),
    ("range", [1, 2, 3], Err("range() takes 1 or 2 arguments, and was given 3")),
    ("range", [0, 2_000_000], Err("range() would make an array of 2,000,000 items; at most 1,000,000")),
    ("min", [3, 1, 2], 1), ("min", [[3, 1.5]], 1.5), ("min", [5], 5), ("max", [3, 1, 2], 3),
    ("max", [[2, 7.5, -1]], 7.5),
    ("min", [[]], Err("min() of an empty array")), ("max", [[]], Err("max() of an empty array")),
    ("min", [], Err("min() takes numbers or one array of numbers, and was given none")),
    ("min", [1, "a"], Err("min() takes numbers, and this is string")),
    ("max", [[1, None]], Err("max() takes numbers, and this is null")),
    ("max", [[1], [2]], Err("max() takes numbers, and this is array")),
    ("sum", [[1, 2, 3]], 6), ("sum", [[]], 0), ("sum", [[1, 2.5]], 3.5),
    ("sum", [5], Err("sum() takes an array of numbers, and this is number")),
    ("sum", [[1, "a"]], Err("sum() takes numbers, and this is string")),
    ("sum", [[True]], Err("sum() takes numbers, and this is boolean")),
    ("round", [2.5], 3), ("round", [-2.5], -3), ("round", [2.4], 2), ("round", [-2.6], -3),
    ("round", [0.49999999999999994], 0), ("round", [7], 7), ("round", [1e300], 1e300),
    ("round", [-0.4], 0),
    ("round", ["2"], Err("round() takes a number, and this is string")),
    ("string", [1.0], "1"), ("string", [None], "null"), ("string", [[1, "a"]], '[1,"a"]'),
    ("string", [], Err("string() takes 1 argument, and was given 0")),
    ("number", ["3.5"], 3.5), ("number", ["42"], 42), ("number", [" -7 "], -7),
    ("number", ["+2"], 2), ("number", ["1e3"], 1000.0), ("number", ["2.50"], 2.5),
    ("number", [5], 5), ("number", [2.5], 2.5),
    ("number", ["abc"], Err('number("abc"): not a number')),
    ("number", [""], Err('number(""): not a number')),
    ("number", ["nan"], Err('number("nan"): not a number')),
    ("number", ["1_000"], Err('number("1_000"): not a number')),
    ("number", [".5"], Err('number(".5"): not a number')),
    ("number", ["1e400"], Err('number("1e400"): the number is too large')),
    ("number", [True], Err("number() takes a string, and this is boolean")),
    ("number", ["x" * 50], Err('number("' + "x" * 40 + '…"): not a number')),
    ("keys", [{"b": 1, "a": 2}], ["b", "a"]), ("values", [{"b": 1, "a": 2}], [1, 2]),
    ("keys", [[1]], Err("keys() takes an object, and this is array")),
    ("values", [None], Err("values() takes an object, and this is null")),
    ("merge", [{"a": 1, "b": 1}, {"b": 2}, {"c": 3}], {"a": 1, "b": 2, "c": 3}),
    ("merge", [], {}), ("merge", [{"a": {"x": 1}}, {"a": {"y": 2}}], {"a": {"y": 2}}),
    ("merge", [{}, None], Err("merge() takes objects, and argument 2 is null")),
    ("nope", [1], Err("unknown function 'nope'")),
]


@pytest.mark.parametrize(("fn", "args", "expected"), FUNCTIONS)
def test_builtin_functions(fn: str, args: list[Any], expected: Any) -> None:
    names = {f"a{i}": a for i, a in enumerate(args)}
    check(C(fn, *(V(n) for n in names)), expected, **names)


def test_merge_does_not_change_its_arguments() -> None:
    a = {"x": 1}
    assert run(C("merge", V("a"), V("b")), a=a, b={"x": 2}) == {"x": 2}
    assert a == {"x": 1}


# -- methods ------------------------------------------------------------------------------

IS_EVEN = lam("x", B("==", B("%", V("x"), L(2)), L(0)))
DOUBLE = lam("x", B("*", V("x"), L(2)))
ADD = lam("acc,x", B("+", V("acc"), V("x")))
IDENT = lam("x", V("x"))

METHODS = [
    ([1, 2, 3, 4], "filter", [IS_EVEN], [2, 4]), ([], "filter", [IS_EVEN], []),
    ([1, 2, 3], "map", [DOUBLE], [2, 4, 6]), ([1, 3, 4, 6], "find", [IS_EVEN], 4),
    ([1, 3], "find", [IS_EVEN], None), ([1, 2], "any", [IS_EVEN], True),
    ([1, 3], "any", [IS_EVEN], False), ([], "any", [IS_EVEN], False),
    ([2, 4], "all", [IS_EVEN], True), ([2, 3], "all", [IS_EVEN], False),
    ([], "all", [IS_EVEN], True), ([1, 2, 4], "count", [IS_EVEN], 2),
    ([1, 2, 3], "reduce", [ADD, L(0)], 6), ([], "reduce", [ADD, L("z")], "z"),
    (["a", "b"], "reduce", [ADD, L("")], "ab"),
    ([1, 2], "contains", [L(2.0)], True), ([1, 2], "contains", [L("2")], False),
    ([[1], {"a": 1}], "contains", [Object(entries=[("a", L(1.0))])], True),
    (["a", "b"], "join", [L(", ")], "a, b"), ([1, None, 2.5], "join", [L("-")], "1-null-2.5"),
    ([], "join", [L(",")], ""), ([1, 2], "length", [], 2), ([1, 2], "first", [], 1),
    ([1, 2], "last", [], 2), ([], "first", [], None), ([], "last", [], None),
    ([3, 1.5, 2], "sort", [], [1.5, 2, 3]), (["b", "B", "a"], "sort", [], ["B", "a", "b"]),
    ([D(3), D(1)], "sort", [], [D(1), D(3)]), ([], "sort", [], []),
    ([1, 2, 3], "reverse", [], [3, 2, 1]), ([1, 1.0, True, 1, "1", True], "unique", [],
                                            [1, True, "1"]),
    ([[1], [1.0], {"a": 1}, {"a": 1}], "unique", [], [[1], {"a": 1}]),
    ([0, 1, 2, 3], "slice", [L(1), L(3)], [1, 2]), ([0, 1, 2], "slice", [L(1), L(10)], [1, 2]),
    ([0, 1, 2], "slice", [L(2), L(1)], []), ([1], "concat", [Array(items=[L(2)])], [1, 2]),
    ([[1, [2]], 3, []], "flatten", [], [1, [2], 3]),
    ("Hello", "startsWith", [L("He")], True), ("Hello", "endsWith", [L("lo")], True),
    ("Hello", "contains", [L("ell")], True), ("Hello", "contains", [L("L")], False),
    ("héllo", "length", [], 5), ("Straße", "upper", [], "STRASSE"), ("ABC", "lower", [], "abc"),
    ("  a b \n", "trim", [], "a b"), ("a,b,,c", "split", [L(",")], ["a", "b", "", "c"]),
    ("abc", "split", [L("")], ["a", "b", "c"]), ("a-b-a", "replace", [L("a"), L("x")], "x-b-x"),
    ({"b": 1, "a": 2}, "keys", [], ["b", "a"]), ({"b": 1, "a": 2}, "values", [], [1, 2]),
    ({"a": None}, "has", [L("a")], True), ({"a": 1}, "has", [L("b")], False),
    (None, "map", [V("boom")], None), (None, "length", [], None),
    (5, "map", [DOUBLE], Err("a number has no method 'map'")),
    (True, "length", [], Err("a boolean has no method 'length'")),
    (D(1), "upper", [], Err("a duration has no method 'upper'")),
    ([1], "upper", [], Err("an array has no method 'upper'")),
    ("a", "map", [DOUBLE], Err("a string has no method 'map'")),
    ({"filter": 1}, "filter", [IS_EVEN], Err("an object has no method 'filter'")),
    ([1], "first", [L(1)], Err("first() takes no arguments, and was given 1")),
    ([1], "map", [], Err("map() takes 1 argument, and was given 0")),
    ([1], "reduce", [ADD], Err("reduce() takes 2 arguments, and was given 1")),
    ([1], "filter", [L(5)], Err("filter() takes a lambda, and this is number")),
    ([1], "map", [L(None)], Err("map() takes a lambda, and this is null")),
    ([1], "filter", [IDENT], Err("filter(): the lambda returned number, not a boolean")),
    ([1], "any", [IDENT], Err("any(): the lambda returned number, not a boolean")),
    ([1], "count", [lam("x", L(None))], Err("count(): the lambda returned null, not a boolean")),
    ([1], "find", [IDENT], Err("find(): the lambda returned number, not a boolean")),
    ([1], "reduce", [IDENT, L(0)],
     Err("the lambda (x) => … takes 1 argument, and was given 2")),
    ([1], "map", [ADD], Err("the lambda (acc, x) => … takes 2 arguments, and was given 1")),
    ([1, "a"], "sort", [], Err("sort() cannot compare number and string")),
    ([True, False], "sort", [], Err("sort() cannot order values of type boolean")),
    ([[2], [1]], "sort", [], Err("sort() cannot order values of type array")),
    ([1], "slice", [L(-1), L(2)], Err("slice() takes bounds of 0 or more, and this is -1")),
    ([1], "slice", [L(0), L(0.5)], Err("slice() takes whole numbers, and this is 0.5")),
    ([1], "concat", [L(2)], Err("concat() takes an array, and this is number")),
    ([1], "join", [L(5)], Err("join() takes a string, and this is number")),
    ([1], "join", [], Err("join() takes 1 argument, and was given 0")),
    ("a", "split", [L(None)], Err("split() takes a string, and this is null")),
    ("a", "replace", [L("a")], Err("replace() takes 2 arguments, and was given 1")),
    ("a", "startsWith", [L(1)], Err("startsWith() takes a string, and this is number")),
    ({"a": 1}, "has", [L(1)], Err("has() takes a string, and this is number")),
]


@pytest.mark.parametrize(("o", "name", "args", "expected"), METHODS)
def test_methods(o: Any, name: str, args: list[Any], expected: Any) -> None:
    check(M(V("o"), name, *args), expected, o=o)


def test_joining_lambdas_is_an_error() -> None:
    check(M(Array(items=[IDENT]), "join", L(",")), Err("a lambda cannot be shown as text"))


def test_methods_do_not_change_their_receiver() -> None:
    xs = [3, 1, 2]
    for name in ("sort", "reverse", "unique", "flatten"):
        run(M(V("xs"), name), xs=xs)
    run(M(V("xs"), "concat", Array(items=[L(4)])), xs=xs)
    assert xs == [3, 1, 2]


# -- lambdas ------------------------------------------------------------------------------

def test_lambdas_see_the_names_around_them() -> None:
    # xs.map(x => x + n): n comes from the env the lambda was made in
    assert run(M(V("xs"), "map", lam("x", B("+", V("x"), V("n")))), xs=[1, 2], n=10) == [11, 12]
    # a parameter shadows a name of the env
    assert run(M(V("xs"), "map", lam("n", B("*", V("n"), L(2)))), xs=[1, 2], n=10) == [2, 4]
    # an inner lambda sees the outer one's parameter; an inner parameter shadows it
    pairs = M(V("xs"), "map", lam("x", M(V("ys"), "map", lam("y", B("*", V("x"), V("y"))))))
    assert run(pairs, xs=[1, 2], ys=[10, 100]) == [[10, 100], [20, 200]]
    shadow = M(V("xs"), "map", lam("x", M(V("ys"), "map", lam("x", V("x")))))
    assert run(shadow, xs=[1, 2], ys=["a"]) == [["a"], ["a"]]


def test_a_lambda_is_a_closure_value() -> None:
    f = run(lam("a,b", B("-", V("a"), V("b"))), base=1)
    assert isinstance(f, Closure) and type_name(f) == "lambda"
    assert f(5, 3) == 2
    with pytest.raises(EvalError, match=r"^the lambda \(a, b\) => … takes 2 arguments, and "
                                        r"was given 3$"):
        f(1, 2, 3)
    const = run(lam("", L(42)))
    assert const() == 42
    with pytest.raises(EvalError, match="^a lambda has no JSON form$"):
        to_json({"f": const})
    assert not equal(const, run(lam("", L(42)))) and equal(const, const)


def test_a_closure_keeps_the_env_it_was_made_in() -> None:
    env = Names({"n": 1})
    f = evaluate(lam("x", B("+", V("x"), V("n"))), env)
    env.names["n"] = 5  # the env is read when the lambda runs (names are not reassigned)
    assert f(1) == 6


# -- the value domain ---------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (90, "1m30s"), (3600, "1h"), (86400, "1d"), (93784.005, "1d2h3m4s5ms"),
    (0.5, "500ms"), (0.0015, "1.5ms"), (1.5, "1s500ms"), (-90, "-1m30s"), (5400, "1h30m"),
    (0.1 + 0.2, "300ms"), (1e-7, "0s"),
])
def test_duration_text(seconds: float, text: str) -> None:
    assert str(D(seconds)) == text
    assert render(D(seconds)) == text


def test_duration_is_an_immutable_ordered_number_of_seconds() -> None:
    d = D(90)
    with pytest.raises(AttributeError):
        d.seconds = 5  # type: ignore[misc]
    assert d == D(90.0) and hash(d) == hash(D(90.0)) and len({d, D(90), D(30)}) == 2
    assert D(1) < D(2) <= D(2) and D(3) > D(2) >= D(2) and sorted([D(3), D(1)]) == [D(1), D(3)]
    assert d != 90 and d + D(30) == D(120) and d - D(30) == D(60) and -d == D(-90)
    assert d * 2 == D(180) == 2 * d and d / 2 == D(45) and d / D(45) == 2.0
    assert T0 + D(60) == T0 + timedelta(minutes=1) == D(60) + T0
    assert T0 - D(60) == T0 - timedelta(minutes=1)
    assert repr(d) == "Duration(90.0)"
    import pickle
    assert pickle.loads(pickle.dumps(d)) == d


def test_to_json() -> None:
    value = {"n": 2.0, "f": 2.5, "big": 1e300, "d": D(90), "ms": D(0.5), "t": T0,
             "xs": [None, True, "s", [D(1)]]}
    assert to_json(value) == {"n": 2, "f": 2.5, "big": 1e300, "d": 90, "ms": 0.5,
                              "t": "2024-05-01T12:00:00Z", "xs": [None, True, "s", [1]]}
    assert type(to_json(2.0)) is int and type(to_json(True)) is bool
    assert to_json(datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=timezone_plus2())) == \
        "2024-05-01T12:00:00.000005Z"


def test_to_json_takes_what_python_agents_return() -> None:
    from collections import OrderedDict
    from enum import Enum

    class Color(str, Enum):
        RED = "red"

    assert to_json((1, (2.0, "a"))) == [1, [2, "a"]]
    got = to_json(OrderedDict(c=Color.RED))
    assert got == {"c": "red"} and type(got) is dict and type(got["c"]) is str
    with pytest.raises(EvalError, match="^the number nan has no JSON form$"):
        to_json([float("nan")])
    with pytest.raises(EvalError, match="^an object's keys are strings, and this is number$"):
        to_json({1: "a"})
    with pytest.raises(EvalError, match=r"^an unsupported value \(set\) has no JSON form$"):
        to_json({1, 2})


def timezone_plus2() -> Any:
    from datetime import timezone
    return timezone(timedelta(hours=2))


@pytest.mark.parametrize(("v", "name"), [
    (None, "null"), (True, "boolean"), (1, "number"), (1.5, "number"), ("", "string"),
    ([], "array"), ({}, "object"), (D(1), "duration"), (T0, "datetime"),
    (object(), "an unsupported value (object)"),
])
def test_type_name(v: Any, name: str) -> None:
    assert type_name(v) == name


def test_hash_key_agrees_with_equality() -> None:
    values = [1, 1.0, True, "1", None, [1], [1.0], [True], {"a": 1}, {"a": 1.0}, D(1), T0,
              0, False, [], {}, ""]
    for a in values:
        for b in values:
            assert (hash_key(a) == hash_key(b)) == equal(a, b), (a, b)


# -- deep expressions ---------------------------------------------------------------------

def _chain(n: int, op: str = "+") -> Any:
    e: Any = L(1)
    for _ in range(n):
        e = B(op, e, L(1))
    return e


def test_deep_expressions_do_not_reach_the_recursion_limit() -> None:
    n = max(3000, sys.getrecursionlimit() * 2)
    assert run(_chain(n)) == n + 1
    assert evaluate(_chain(n), Names()) == n + 1
    right: Any = L(0)
    for _ in range(n):
        right = B("-", L(1), right)
    assert run(right) == 0
    nested: Any = L(7)
    for _ in range(n):
        nested = Array(items=[nested])
    for how in (evaluate, interpret):  # (values this deep are too deep for same())
        v = how(Index(obj=nested, index=L(0)), Names())
        for _ in range(n - 1):
            v = v[0]
        assert v == 7
    nots: Any = L(True)
    for _ in range(n + 1):
        nots = Unary(op="!", e=nots)
    assert run(nots) is False
    text: Any = L("x")
    for _ in range(n):
        text = Str(parts=["(", text, ")"])
    assert run(text) == "(" * n + "x" + ")" * n


def test_deeply_nested_lambda_calls_give_an_error_not_a_crash() -> None:
    e: Any = L(1)
    for _ in range(1000):
        e = M(Array(items=[L(0)]), "map", lam("x", e))
    with pytest.raises(EvalError, match="^the expression is nested too deeply to evaluate$"):
        run(e)
    folded = fold(e)  # must not crash either
    assert folded.k in ("method", "array")


def test_the_compiled_form_and_the_walker_split_at_max_depth() -> None:
    shallow, deep = _chain(MAX_COMPILED_DEPTH - 1), _chain(MAX_COMPILED_DEPTH)
    assert not hasattr(compile_expr(shallow), "func")  # closures
    assert compile_expr(deep).func is interpret  # type: ignore[attr-defined]
    assert run(shallow) == MAX_COMPILED_DEPTH and run(deep) == MAX_COMPILED_DEPTH + 1


def test_evaluate_caches_by_identity() -> None:
    e = B("+", V("a"), L(1))
    assert evaluate(e, Names({"a": 1})) == 2
    assert evaluate(e, Names({"a": 2})) == 3
    assert evaluate(B("+", V("a"), L(1)), Names({"a": 3})) == 4


# -- constant folding ---------------------------------------------------------------------

NOW = V("current_time")
FOLD = [
    ("arithmetic", B("+", B("*", L(2), L(3)), V("n")), B("+", L(6), V("n"))),
    ("true || x", B("||", L(True), V("x")), L(True)),
    ("false && x", B("&&", L(False), V("x")), L(False)),
    ("null ?? x", B("??", L(None), V("x")), V("x")),
    ("literal ?? x", B("??", L("a"), V("x")), L("a")),
    ("array ?? x", B("??", Array(items=[B("+", L(1), L(1))]), V("x")), Array(items=[L(2)])),
    ("false ?? x", B("??", L(False), V("x")), L(False)),
    ("x ?? 1 stays", B("??", V("x"), L(1)), B("??", V("x"), L(1))),
    ("true && x stays", B("&&", L(True), V("x")), B("&&", L(True), V("x"))),
    ("0 && x stays (an error at run time)", B("&&", L(0), V("x")), B("&&", L(0), V("x"))),
    ("1 || x stays", B("||", L(1), V("x")), B("||", L(1), V("x"))),
    ("division by zero stays", B("/", L(1), L(0)), B("/", L(1), L(0))),
    ("around an error", B("+", B("+", L(1), L(1)), B("/", L(1), L(0))),
     B("+", L(2), B("/", L(1), L(0)))),
    ("constant string", Str(parts=["a", B("+", L(1), L(2)), "b"]), L("a3b")),
    ("partly constant string", Str(parts=["a", L(1.5), "-", V("x"), Dur(seconds=90), "!"]),
     Str(parts=["a1.5-", V("x"), "1m30s!"])),
    ("string of one name", Str(parts=["", V("x"), ""]), Str(parts=[V("x")])),
    ("durations", B("*", Dur(seconds=90), L(2)), Dur(seconds=180)),
    ("negated duration", Unary(op="-", e=Dur(seconds=90)), Dur(seconds=-90)),
    ("negative number", Unary(op="-", e=L(5)), L(-5)),
    ("array", Array(items=[B("+", L(1), L(1)), V("n")]), Array(items=[L(2), V("n")])),
    ("object", Object(entries=[("a", B("+", L(1), L(1)))]), Object(entries=[("a", L(2))])),
    ("duplicate keys", Object(entries=[("a", L(1)), ("a", L(2))]), Object(entries=[("a", L(2))])),
    ("method with a lambda", M(C("range", L(3)), "map", DOUBLE),
     Array(items=[L(0), L(2), L(4)])),
    ("inside a lambda", M(V("xs"), "map", lam("x", B("*", V("x"), B("+", L(1), L(1))))),
     M(V("xs"), "map", lam("x", B("*", V("x"), L(2))))),
    ("a lambda's free name stays", M(V("xs"), "map", lam("x", B("+", V("x"), V("n")))),
     M(V("xs"), "map", lam("x", B("+", V("x"), V("n"))))),
    ("a method of null", M(L(None), "map", lam("x", B("+", V("x"), V("n")))), L(None)),
    ("a member of null", Get(obj=L(None), name="a"), L(None)),
    ("env", Get(obj=V("env"), name="HOME"), Get(obj=V("env"), name="HOME")),
    ("current_time", B("+", NOW, Dur(seconds=60)), B("+", NOW, Dur(seconds=60))),
    ("a task", Get(obj=TaskField(node="t", field="result"), name="x"),
     Get(obj=TaskField(node="t", field="result"), name="x")),
    ("builtin", B("==", C("len", L("abc")), L(3)), L(True)),
    ("merge", C("merge", Object(entries=[("a", L(1))]), Object(entries=[("a", L(2))])),
     Object(entries=[("a", L(2))])),
    ("too big to write out", C("range", L(5000)), C("range", L(5000))),
    ("a constant lambda stays", lam("x", V("x")), lam("x", V("x"))),
    ("long chain", _chain(1000), L(1001)),
]


@pytest.mark.parametrize(("title", "before", "after"), FOLD, ids=[f[0] for f in FOLD])
def test_fold(title: str, before: Any, after: Any) -> None:
    folded = fold(before)
    assert folded == after
    assert folded.model_dump() == after.model_dump()  # types too: Lit(v=0) is not Lit(v=False)


def test_fold_returns_the_same_tree_when_nothing_folds() -> None:
    e = Object(entries=[("a", V("x")), ("b", M(V("xs"), "map", IDENT))])
    assert fold(e) is e


def test_fold_keeps_types_exact() -> None:
    assert type(fold(B("/", L(6), L(3))).v) is int  # type: ignore[union-attr]
    assert type(fold(B("/", L(7), L(2))).v) is float  # type: ignore[union-attr]
    assert fold(B("==", L(1), L(1.0))) == L(True)


@pytest.mark.parametrize(("e", "constant"), [
    (L(1), True), (B("+", L(1), Dur(seconds=1)), True), (V("x"), False), (V("env"), False),
    (V("context"), False), (NOW, False), (TaskField(node="t", field="result"), False),
    (lam("x", V("x")), True), (lam("x", V("y")), False),
    (lam("x", lam("y", B("+", V("x"), V("y")))), True),
    (B("+", lam("x", V("x")), V("x")), False),
])
def test_is_constant(e: Any, constant: bool) -> None:
    assert is_constant(e) is constant


# -- property: folding never changes a value ----------------------------------------------

_leaf = st.one_of(
    st.builds(Lit, v=st.one_of(st.none(), st.booleans(), st.integers(-5, 20),
                               st.sampled_from([0.5, -1.5, 2.0, 0.1]),
                               st.sampled_from(["", "a", "b", "ab", "3", "1.5", " x "]))),
    st.builds(Dur, seconds=st.sampled_from([0.0, 0.5, 60.0, 90.0])),
    st.just(Var(name="x")),  # only ever bound by a lambda below, else unbound: an error
)
_OPS = ["+", "-", "*", "/", "%", "<", ">", "<=", ">=", "==", "!=", "&&", "||", "??"]
_FNS = ["len", "range", "min", "max", "sum", "round", "string", "number", "keys", "values",
        "merge"]
_METHOD_NAMES = ["filter", "map", "find", "any", "all", "count", "reduce", "contains", "join",
                 "length", "first", "last", "sort", "reverse", "unique", "slice", "concat",
                 "flatten", "startsWith", "split", "replace", "upper", "trim", "keys", "has"]


def _extend(sub: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    small = st.lists(sub, max_size=3)
    return st.one_of(
        st.builds(Binary, op=st.sampled_from(_OPS), l=sub, r=sub),
        st.builds(Unary, op=st.sampled_from(["!", "-"]), e=sub),
        st.builds(Array, items=small),
        st.builds(Object, entries=st.lists(st.tuples(st.sampled_from(["a", "b"]), sub),
                                           max_size=3)),
        st.builds(Str, parts=st.lists(st.one_of(st.sampled_from(["", "s", "-"]), sub),
                                      max_size=3)),
        st.builds(Get, obj=sub, name=st.sampled_from(["a", "length"])),
        st.builds(Index, obj=sub, index=sub),
        st.builds(Call, fn=st.sampled_from(_FNS), args=small),
        st.builds(Method, obj=sub, name=st.sampled_from(_METHOD_NAMES),
                  args=st.lists(st.one_of(sub, st.builds(Lambda, params=st.sampled_from(
                      [["x"], ["acc", "x"]]), body=sub)), max_size=2)),
    )


_exprs = st.recursive(_leaf, _extend, max_leaves=25)


def _outcome(f: Any) -> tuple[str, Any]:
    try:
        return ("value", f())
    except EvalError as e:
        return ("error", e.message)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_exprs)
def test_folding_and_walking_give_the_same_value(e: Any) -> None:
    env = Names()
    compiled = _outcome(lambda: compile_expr(e)(env))
    walked = _outcome(lambda: interpret(e, env))
    folded_tree = fold(e)
    folded = _outcome(lambda: evaluate(folded_tree, env))
    assert compiled[0] == walked[0] == folded[0], (compiled, walked, folded)
    if compiled[0] == "value":
        assert same(compiled[1], walked[1]) and same(compiled[1], folded[1])
    else:
        assert compiled[1] == walked[1] == folded[1]
    if is_constant(e) and compiled[0] == "value" and not _has_closure(compiled[1]):
        assert folded_tree.k in ("lit", "dur", "array", "object") or \
            _too_big(compiled[1]), folded_tree


def _has_closure(v: Any) -> bool:
    if isinstance(v, list):
        return any(_has_closure(x) for x in v)
    if isinstance(v, dict):
        return any(_has_closure(x) for x in v.values())
    return isinstance(v, Closure)


def _too_big(v: Any) -> bool:
    return len(repr(v)) > 2000


# -- let: lazy, at most once --------------------------------------------------------------

class Counting(Names):
    """An Env that counts the reads of task fields (what a let saves)."""

    def __init__(self, names: dict[str, Any] | None = None,
                 tasks: dict[tuple[str, str], Any] | None = None) -> None:
        super().__init__(names, tasks)
        self.reads = 0

    def task_field(self, node: str, field: str) -> Any:
        self.reads += 1
        return super().task_field(node, field)


def let(name: str, value: Any, body: Any) -> Let:
    return Let(name=name, value=value, body=body)


ITEMS = Get(obj=TaskField(node="t", field="result"), name="items")
BOOM = B("/", L(1), L(0))  # raises "division by zero: 1 / 0"


def _both(e: Any, names: dict[str, Any] | None = None,
          result: Any = None) -> list[tuple[str, Any, int]]:
    """(outcome, value or message, task reads) compiled and interpreted, each with a fresh
    env; they must agree."""
    out = []
    for how in (compile_expr(e), lambda en: interpret(e, en)):
        env = Counting(names, {("t", "result"): result})
        try:
            out.append(("value", how(env), env.reads))
        except EvalError as err:
            out.append(("error", err.message, env.reads))
    assert out[0][0] == out[1][0] and out[0][2] == out[1][2], out
    assert (out[0][1] == out[1][1]) if out[0][0] == "error" else same(out[0][1], out[1][1])
    return out


def test_let_value_is_computed_once_however_often_read() -> None:
    e = let("%v", ITEMS, B("+", M(V("%v"), "length"), Index(obj=V("%v"), index=L(0))))
    assert _both(e, result={"items": [5, 6]})[0] == ("value", 7, 1)
    original = B("+", M(ITEMS, "length"), Index(obj=ITEMS, index=L(0)))
    assert _both(original, result={"items": [5, 6]})[0] == ("value", 7, 2)


def test_let_read_inside_a_lambda_is_computed_once_for_every_call() -> None:
    e = let("%v", Get(obj=TaskField(node="t", field="result"), name="k"),
            M(V("xs"), "map", lam("x", B("+", V("x"), V("%v")))))
    assert _both(e, {"xs": [1, 2, 3]}, {"k": 10})[0] == ("value", [11, 12, 13], 1)
    empty = _both(e, {"xs": []}, {"k": 10})[0]
    assert empty == ("value", [], 0)  # no call: never read


@pytest.mark.parametrize(("title", "body", "names", "expected"), [
    ("never read", L(5), {}, 5),
    ("right of a false &&", B("&&", V("ok"), B("==", V("%v"), V("%v"))), {"ok": False}, False),
    ("right of a true ||", B("||", V("ok"), B("==", V("%v"), V("%v"))), {"ok": True}, True),
    ("right of a non-null ??", B("??", V("s"), V("%v")), {"s": "x"}, "x"),
    ("arguments of a method on null", M(V("o"), "contains", V("%v")), {"o": None}, None),
    ("a lambda never called", M(V("xs"), "map", lam("x", V("%v"))), {"xs": []}, []),
])
def test_a_let_value_not_reached_is_not_evaluated(title: str, body: Any,
                                                   names: dict[str, Any], expected: Any) -> None:
    e = let("%v", B("+", ITEMS, BOOM), body)
    assert _both(e, names, {"items": 1})[0] == ("value", expected, 0)


def test_a_let_value_that_raises_raises_where_it_is_read() -> None:
    e = let("%v", BOOM, B("||", V("ok"), B("==", V("%v"), L(1))))
    assert _both(e, {"ok": False})[0] == ("error", "division by zero: 1 / 0", 0)
    # the same error, at the same point, as the expression without the let
    assert _both(B("||", V("ok"), B("==", BOOM, L(1))), {"ok": False})[0] == \
        ("error", "division by zero: 1 / 0", 0)


def test_let_scopes() -> None:
    # a let's value sees the names around it; the body sees the let's name; nested lets
    e = let("%a", B("+", V("n"), L(1)), let("%b", B("*", V("%a"), L(10)),
                                            B("-", V("%b"), V("%a"))))
    assert _both(e, {"n": 1})[0] == ("value", 18, 0)
    # an inner let of the same name hides the outer one in its body, not in its value
    e = let("%a", L(1), let("%a", B("+", V("%a"), L(1)), B("*", V("%a"), L(10))))
    assert _both(e)[0] == ("value", 20, 0)
    # a let's name is not bound outside it, nor in its own value
    with pytest.raises(EvalError, match="^the name '%a' has no value here$"):
        run(let("%a", V("%a"), V("%a")))
    with pytest.raises(EvalError, match="^the name '%b' has no value here$"):
        run(B("+", let("%b", L(1), V("%b")), V("%b")))


def test_deep_lets_are_interpreted_with_the_same_laziness() -> None:
    deep = let("%v", B("+", _chain(MAX_COMPILED_DEPTH), ITEMS),
               B("+", V("%v"), B("&&", L(False), V("%v"))))
    assert compile_expr(deep).func is interpret  # type: ignore[attr-defined]
    with pytest.raises(EvalError, match="^'\\+' cannot combine number and boolean$"):
        run(deep, Counting(tasks={("t", "result"): {"items": 1}}))
    reads = let("%v", ITEMS, B("+", V("%v"), B("+", _chain(MAX_COMPILED_DEPTH), V("%v"))))
    assert _both(reads, result={"items": 1})[0] == ("value", MAX_COMPILED_DEPTH + 3, 1)


def test_depth_counts_a_lets_value_below_its_body() -> None:
    """The value is evaluated where the body reads it: both depths add up."""
    half = MAX_COMPILED_DEPTH // 2 + 1
    e = let("%v", _chain(half), B("+", _chain(half), V("%v")))
    assert depth(e) == 1 + (half + 1) + (half + 2)
    assert compile_expr(e).func is interpret  # type: ignore[attr-defined]
    assert run(e) == 2 * (half + 1)


FOLD_LET = [
    ("unread: the body alone", let("%v", BOOM, V("n")), V("n")),
    ("unread value that reads a task", let("%v", ITEMS, L(1)), L(1)),
    ("a literal value is substituted", let("%v", L(2), B("*", V("%v"), B("+", V("%v"), V("n")))),
     B("*", L(2), B("+", L(2), V("n")))),
    ("substituted, then folded", let("%v", B("+", L(1), L(2)), B("*", V("%v"), V("%v"))), L(9)),
    ("read once: inlined", let("%v", ITEMS, B("+", V("%v"), L(1))), B("+", ITEMS, L(1))),
    ("read twice: kept", let("%v", ITEMS, B("+", V("%v"), V("%v"))),
     let("%v", ITEMS, B("+", V("%v"), V("%v")))),
    ("read once in a lambda: kept (once per call otherwise)",
     let("%v", ITEMS, M(V("xs"), "map", lam("x", V("%v")))),
     let("%v", ITEMS, M(V("xs"), "map", lam("x", V("%v"))))),
    ("a value that raises, read twice, stays", let("%v", BOOM, B("+", V("%v"), V("%v"))),
     let("%v", BOOM, B("+", V("%v"), V("%v")))),
    ("its parts fold", let("%v", B("+", ITEMS, B("*", L(2), L(3))),
                           B("==", V("%v"), B("-", V("%v"), L(0)))),
     let("%v", B("+", ITEMS, L(6)), B("==", V("%v"), B("-", V("%v"), L(0))))),
    ("a constant array read twice folds whole",
     let("%v", Array(items=[L(1), L(2)]), B("+", M(V("%v"), "length"), Index(obj=V("%v"),
                                                                               index=L(0)))),
     L(3)),
    ("a shadowing inner let keeps its own", let("%v", L(1), let("%v", V("n"),
                                                                B("+", V("%v"), V("%v")))),
     let("%v", V("n"), B("+", V("%v"), V("%v")))),
]


@pytest.mark.parametrize(("title", "before", "after"), FOLD_LET, ids=[f[0] for f in FOLD_LET])
def test_fold_let(title: str, before: Any, after: Any) -> None:
    folded = fold(before)
    assert folded.model_dump() == after.model_dump()
    tasks = {("t", "result"): {"items": 3}}
    for names in ({"n": 4, "xs": [1]}, {"n": 0, "xs": []}):
        was = _outcome(lambda e=before, n=names: run(e, Counting(n, tasks)))
        now = _outcome(lambda e=folded, n=names: run(e, Counting(n, tasks)))
        assert was == now


@pytest.mark.parametrize(("e", "constant"), [
    (let("%v", L(1), V("%v")), True),
    (let("%v", V("n"), V("%v")), False),
    (let("%v", L(1), V("n")), False),
    (let("%v", ITEMS, L(1)), False),
    (let("%v", lam("x", V("x")), M(Array(items=[]), "map", V("%v"))), True),
])
def test_is_constant_let(e: Any, constant: bool) -> None:
    assert is_constant(e) is constant
