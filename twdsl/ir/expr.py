"""Expressions of the IR: a small tree, discriminated by ``k``, run by :mod:`twdsl.ir.eval`.

Names are resolved by the compiler: a :class:`Var` is an input, a loop variable, a lambda
parameter, a template parameter or a builtin name (``env``, ``context``, ``result``,
``error``, ``item``…); a :class:`TaskField` reads a field of a task by its node id (the
evaluator picks the current iteration's value inside the task's loop, the array of all
iterations outside it: docs/language.md, Q5).  A :class:`Let` is made by the optimizer
(twdsl.passes.cse), never by the user: its names start with :data:`COMPILER_PREFIX`, which no
TWDSL name can (a name is ``[A-Za-z_][A-Za-z0-9_]*``), so they never shadow a user's name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The first character of the names the compiler invents (a :class:`Let`'s): no TWDSL name can
#: start with it.
COMPILER_PREFIX = "%"


class _E(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lit(_E):
    """A JSON literal: null, boolean, number, string (arrays and objects are built)."""

    k: Literal["lit"] = "lit"
    v: None | bool | int | float | str


class Dur(_E):
    """A duration literal, in seconds."""

    k: Literal["dur"] = "dur"
    seconds: float


class Var(_E):
    k: Literal["var"] = "var"
    name: str


class TaskField(_E):
    """``task.field``: ``result``, ``status``, ``error``, ``attempts``, ``duration``,
    ``started_at``, ``finished_at``."""

    k: Literal["task"] = "task"
    node: str  # the task's node id
    field: str


class Get(_E):
    """``obj.name``; on null, null (reading into an optional gives an optional)."""

    k: Literal["get"] = "get"
    obj: Expr
    name: str


class Index(_E):
    k: Literal["index"] = "index"
    obj: Expr
    index: Expr


class Call(_E):
    """A builtin function: ``len``, ``range``, ``min``, ``max``, ``sum``, ``round``,
    ``string``, ``number``, ``keys``, ``values``, ``merge``."""

    k: Literal["call"] = "call"
    fn: str
    args: list[Expr] = Field(default_factory=list)


class Method(_E):
    """``obj.name(args)``: the methods of docs/language.md, Methods."""

    k: Literal["method"] = "method"
    obj: Expr
    name: str
    args: list[Expr] = Field(default_factory=list)


class Unary(_E):
    k: Literal["un"] = "un"
    op: Literal["!", "-"]
    e: Expr


class Binary(_E):
    """Binary operators; ``&&``, ``||`` and ``??`` evaluate ``r`` only when needed."""

    k: Literal["bin"] = "bin"
    op: Literal["+", "-", "*", "/", "%", "<", ">", "<=", ">=", "==", "!=", "&&", "||", "??"]
    l: Expr  # noqa: E741 - the IR's short field names keep compiled programs small
    r: Expr


class Array(_E):
    k: Literal["array"] = "array"
    items: list[Expr] = Field(default_factory=list)


class Object(_E):
    """An object: entries in written order (a later duplicate key wins)."""

    k: Literal["object"] = "object"
    entries: list[tuple[str, Expr]] = Field(default_factory=list)


class Str(_E):
    """A string with interpolations: literal parts and expressions, rendered and joined."""

    k: Literal["str"] = "str"
    parts: list[str | Expr]


class Lambda(_E):
    k: Literal["lambda"] = "lambda"
    params: list[str]
    body: Expr


class Let(_E):
    """``name`` bound to ``value`` in ``body``, lazily and once: ``value`` is evaluated the
    first time ``body`` reads ``Var(name)``, and that value serves every later read; a body
    that never reads it never evaluates it.  Laziness keeps sharing safe: a value hoisted from
    the right of ``&&``, ``||``, ``??`` or from the arguments of a method on ``null`` is still
    not evaluated (no error, no work) where the original expression did not evaluate it.
    ``value`` sees the names around the let, not ``name`` itself."""

    k: Literal["let"] = "let"
    name: str
    value: Expr
    body: Expr


Expr = Annotated[
    Lit | Dur | Var | TaskField | Get | Index | Call | Method | Unary | Binary | Array | Object
    | Str | Lambda | Let,
    Field(discriminator="k"),
]

for _cls in (Get, Index, Call, Method, Unary, Binary, Array, Object, Str, Lambda, Let):
    _cls.model_rebuild()


def children(e: Any) -> list[Any]:
    """The sub-expressions of ``e``, in evaluation order (a let's value first, though it is
    evaluated only when its body reads it).  Dispatched on ``k``: every pass, the validator and
    the folder call this for every node, so it is kept cheap."""
    return _CHILDREN[e.k](e)


def _no_children(e: Any) -> list[Any]:
    return []


_CHILDREN: dict[str, Any] = {
    "lit": _no_children, "dur": _no_children, "var": _no_children, "task": _no_children,
    "get": lambda e: [e.obj],
    "index": lambda e: [e.obj] if e.index is None else [e.obj, e.index],
    "call": lambda e: list(e.args),
    "method": lambda e: [e.obj, *e.args],
    "un": lambda e: [e.e],
    "bin": lambda e: [e.l, e.r],
    "array": lambda e: list(e.items),
    "object": lambda e: [v for _, v in e.entries],
    "str": lambda e: [p for p in e.parts if not isinstance(p, str)],
    "lambda": lambda e: [e.body],
    "let": lambda e: [e.value, e.body],
}


def walk(e: Any) -> list[Any]:
    """Every expression node of ``e``, ``e`` first (iteratively: no recursion limit)."""
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        out.append(x)
        stack.extend(reversed(children(x)))
    return out


def task_reads(e: Any) -> set[str]:
    """The task node ids that ``e`` may read (a let's value counts, read or not)."""
    return {x.node for x in walk(e) if isinstance(x, TaskField)}


def free_names(e: Any) -> set[str]:
    """The names ``e`` reads from its surroundings: every :class:`Var` not bound inside ``e``
    by a lambda's parameter or a let (without recursion)."""
    out: set[str] = set()
    stack: list[tuple[Any, frozenset[str]]] = [(e, frozenset())]
    while stack:
        x, bound = stack.pop()
        if isinstance(x, Var):
            if x.name not in bound:
                out.add(x.name)
        elif isinstance(x, Lambda):
            stack.append((x.body, bound | set(x.params)))
        elif isinstance(x, Let):
            stack.append((x.value, bound))
            stack.append((x.body, bound | {x.name}))
        else:
            stack.extend((c, bound) for c in children(x))
    return out
