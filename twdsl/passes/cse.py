"""Common-subexpression elimination: within one expression, a sub-tree written twice or more is
computed once, as a lazy :class:`~twdsl.ir.expr.Let` around the whole expression.

Each expression of the program (a task's input, ``when`` and cache key, a condition, a switch
subject or case value, foreach items, a block's argument, an output, an input's default) is
treated on its own: the runtime evaluates each at its own time.

A sub-tree is shared when it occurs at least twice and

* it is worth a let: a call, a method call, a binary operator, an index, an interpolated
  string, a non-empty array or object, or a member read that is not of a plain name
  (``t.result.items``, ``x.a.b``, but not ``x.a``); a literal, a name or a task field alone
  costs no more to read again than the let would;
* it reads something of the run (a constant one is constant folding's);
* it reads no name bound inside the expression (a lambda's parameter, or a let's): the let
  around the whole expression could not see it, and the value differs per call.  Occurrences
  under such a binder are simply left alone, the others are still shared;
* it does not read ``current_time``: each read is a new time.

Sharing is invisible (docs/language.md, Q2) because the let is lazy: its value is computed at
the first place the original computed it, at most once, and not at all when no occurrence is
reached (the right side of ``&&``, ``||``, ``??``, a method's arguments on ``null``): the
same value, the same error at the same point, no work the original would not do.  Expressions
are pure but for ``current_time``, and a task field does not change during one evaluation.

Largest sub-trees first: a repeated sub-tree inside a larger repeated one is then counted
inside the let's value once.  Names are ``%cse1``, ``%cse2``… per expression: ``%`` cannot
start a TWDSL name.
"""

from __future__ import annotations

from typing import Any

from twdsl.ir import expr as X
from twdsl.ir.model import Change, Program
from twdsl.ir.render import expr_text
from twdsl.ir.tree import map_exprs
from twdsl.passes import change

NAME = "cse"
PREFIX = X.COMPILER_PREFIX + "cse"


def run(program: Program) -> tuple[Program, list[Change]]:
    changes: list[Change] = []

    def f(owner: object, what: str, e: X.Expr) -> X.Expr:
        new, shared = eliminate(e)
        for sub, n in shared:
            changes.append(change(NAME, owner, f"{what}: computed once: `{expr_text(sub)}` "
                                               f"appeared {n} times"))
        return new

    map_exprs(program, f)
    return program, changes


def eliminate(expr: X.Expr) -> tuple[X.Expr, list[tuple[X.Expr, int]]]:
    """``expr`` with its repeated sub-trees shared, and each shared sub-tree with the number
    of places it occupied.  No recursion: any depth."""
    shared: list[tuple[X.Expr, int]] = []
    taken: set[str] | None = None
    counter = 0
    if not _maybe_repeated(expr):
        return expr, shared
    facts: dict[int, _Fact] = {}
    numbers: dict[tuple[Any, ...], int] = {}
    keep = [expr]  # every tree seen stays alive, so no id in ``facts`` is reused
    if not _facts(expr, facts, numbers):
        return expr, shared
    while True:
        best = _best(expr, facts)
        if best is None:
            return expr, shared
        sub, count = best
        if taken is None:
            taken = {x.name for x in X.walk(expr) if x.k in ("var", "let")}
        counter += 1
        while f"{PREFIX}{counter}" in taken:
            counter += 1
        name = f"{PREFIX}{counter}"
        taken.add(name)
        body = _replace(expr, facts[id(sub)].key, X.Var(name=name), facts)
        expr = X.Let(name=name, value=sub, body=body)
        keep.append(expr)
        _facts(expr, facts, numbers)  # only the new nodes: the rebuilt path and the let
        shared.append((sub, count))


#: The own fields that tell nodes of a kind worth a let apart, by kind.
_SIGNATURE: dict[str, Any] = {
    "get": lambda e: e.name, "method": lambda e: e.name, "call": lambda e: e.fn,
    "bin": lambda e: e.op, "index": lambda e: None, "str": lambda e: None,
    "array": lambda e: None, "object": lambda e: None,
}


def _maybe_repeated(expr: X.Expr) -> bool:
    """False when no two nodes of a kind worth a let have the same kind and name (then no
    sub-tree worth a let repeats): most expressions stop here, for a cheap walk."""
    seen: set[tuple[str, Any]] = set()
    signature, children = _SIGNATURE, X.children
    stack: list[Any] = [expr]
    while stack:
        e = stack.pop()
        k = e.k
        f = signature.get(k)
        if f is not None:
            sig = (k, f(e))
            if sig in seen:
                return True
            seen.add(sig)
        stack.extend(children(e))
    return False


class _Fact:
    """What the pass knows of one sub-tree object: its structure's number (equal numbers,
    equal trees), its size, the names it reads freely, whether it reads a task, and whether
    it is worth a let."""

    __slots__ = ("key", "size", "free", "task", "worth")

    def __init__(self, key: int, size: int, free: frozenset[str], task: bool,
                 worth: bool) -> None:
        self.key, self.size, self.free, self.task, self.worth = key, size, free, task, worth


_EMPTY: frozenset[str] = frozenset()


def _facts(expr: X.Expr, facts: dict[int, _Fact], numbers: dict[tuple[Any, ...], int]) -> bool:
    """Adds a :class:`_Fact` per sub-tree object of ``expr`` (by ``id``) not in ``facts`` yet,
    bottom-up; whether two sub-trees worth a let may be equal (else there is nothing to
    share).  Structures are numbered by hash-consing (a node's kind, its own fields and its
    children's numbers: ``numbers``), so comparing two trees is comparing two ints."""
    worth_keys: set[int] = set()
    repeated = False
    children = X.children
    stack: list[tuple[Any, Any]] = [(expr, None)]
    while stack:
        e, kids = stack.pop()
        if kids is None:
            seen = facts.get(id(e))
            if seen is not None:  # one object at two places: _best counts places
                repeated = repeated or seen.size > 1
                continue
            kids = children(e)
            if kids:
                stack.append((e, kids))
                stack.extend([(c, None) for c in kids])
                continue
        k = e.k
        if not kids:  # a leaf
            if k == "var":
                shape: tuple[Any, ...] = ("var", e.name)
                free, task = frozenset([e.name]), False
            elif k == "task":
                shape, free, task = ("task", e.node, e.field), _EMPTY, True
            elif k == "lit":
                shape, free, task = ("lit", repr(e.v)), _EMPTY, False  # 1, 1.0, true differ
            else:
                shape, free, task = _own(e), _EMPTY, False
            facts[id(e)] = _Fact(numbers.setdefault(shape, len(numbers)), 1, free, task,
                                 False)
            continue
        fs = [facts[id(c)] for c in kids]
        shape = (*_own(e), *[f.key for f in fs])
        key = numbers.setdefault(shape, len(numbers))
        free, task, size = _EMPTY, False, 1
        for f in fs:
            if f.free:
                free = f.free if not free else free | f.free
            task = task or f.task
            size += f.size
        if free and k in ("lambda", "let"):
            free = free - set(e.params) if k == "lambda" else \
                fs[0].free | (fs[1].free - {e.name})
        worth = (bool(free) or task) and _worth(e) and "current_time" not in free
        if worth:
            if key in worth_keys:
                repeated = True
            worth_keys.add(key)
        facts[id(e)] = _Fact(key, size, free, task, worth)
    return repeated


def _own(e: Any) -> tuple[Any, ...]:
    """A node's own fields (not its children), for :func:`_facts`' numbering."""
    k = e.k
    if k == "lit":
        return ("lit", repr(e.v))  # 1, 1.0, true and -0.0 differ
    if k == "dur":
        return ("dur", repr(e.seconds))
    if k == "var":
        return ("var", e.name)
    if k == "task":
        return ("task", e.node, e.field)
    if k in ("get", "method"):
        return (k, e.name, len(X.children(e)))
    if k == "call":
        return ("call", e.fn, len(e.args))
    if k in ("un", "bin"):
        return (k, e.op)
    if k == "object":
        return ("object", *(key for key, _ in e.entries))
    if k == "str":
        return ("str", *(p if isinstance(p, str) else None for p in e.parts))
    if k == "lambda":
        return ("lambda", *e.params)
    if k == "let":
        return ("let", e.name)
    return (k, len(X.children(e)))  # index, array


def _worth(e: Any) -> bool:
    """Whether computing ``e`` costs more than reading a let's name (module docstring)."""
    k = e.k
    if k in ("call", "method", "bin", "index"):
        return True
    if k == "get":
        return e.obj.k != "var"
    if k == "str":
        return any(not isinstance(p, str) for p in e.parts)
    if k == "array":
        return bool(e.items)
    if k == "object":
        return bool(e.entries)
    return False


def _scopes(e: Any, scope: frozenset[str]) -> list[tuple[Any, frozenset[str]]]:
    """``e``'s children, each with the names bound inside the expression around it."""
    if e.k == "lambda":
        return [(e.body, scope | set(e.params))]
    if e.k == "let":
        return [(e.value, scope), (e.body, scope | {e.name})]
    return [(c, scope) for c in X.children(e)]


def _best(expr: X.Expr, facts: dict[int, _Fact]) -> tuple[X.Expr, int] | None:
    """The largest sub-tree worth sharing that occurs twice or more where it reads no bound
    name (the first such in written order among equals), with its number of occurrences."""
    count: dict[int, int] = {}
    first: dict[int, Any] = {}
    stack: list[tuple[Any, frozenset[str]]] = [(expr, _EMPTY)]
    while stack:
        e, scope = stack.pop()
        fact = facts[id(e)]
        if fact.worth and not (fact.free & scope):
            count[fact.key] = count.get(fact.key, 0) + 1
            first.setdefault(fact.key, e)
        stack.extend(reversed(_scopes(e, scope)))
    best: Any = None
    for key, n in count.items():  # written order: the first occurrence wins a tie
        if n >= 2 and (best is None or facts[id(first[key])].size > facts[id(best)].size):
            best = first[key]
    return None if best is None else (best, count[facts[id(best)].key])


def _replace(expr: X.Expr, key: int, var: X.Var, facts: dict[int, _Fact]) -> X.Expr:
    """``expr`` with every occurrence of the structure ``key`` that reads no bound name
    replaced by ``var`` (no recursion)."""
    out: list[Any] = []
    todo: list[tuple[Any, frozenset[str], bool]] = [(expr, _EMPTY, False)]
    while todo:
        e, scope, ready = todo.pop()
        if ready:
            n = len(X.children(e))
            kids = out[len(out) - n:]
            del out[len(out) - n:]
            out.append(_with_children(e, kids))
            continue
        fact = facts[id(e)]
        if fact.key == key and not (fact.free & scope):
            out.append(var)
            continue
        todo.append((e, scope, True))
        todo.extend((c, s, False) for c, s in reversed(_scopes(e, scope)))
    return out[-1]  # type: ignore[no-any-return]


def _with_children(e: Any, kids: list[Any]) -> Any:
    """``e`` with its children (in :func:`X.children` order) replaced by ``kids``; ``e``
    itself when none changed."""
    old = X.children(e)
    if all(a is b for a, b in zip(old, kids, strict=True)):
        return e
    k = e.k
    update: dict[str, Any]
    if k in ("get", "lambda"):
        update = {"obj" if k == "get" else "body": kids[0]}
    elif k == "index":
        update = {"obj": kids[0], "index": kids[1]}
    elif k == "method":
        update = {"obj": kids[0], "args": kids[1:]}
    elif k in ("call", "array"):
        update = {"args" if k == "call" else "items": kids}
    elif k == "un":
        update = {"e": kids[0]}
    elif k == "bin":
        update = {"l": kids[0], "r": kids[1]}
    elif k == "let":
        update = {"value": kids[0], "body": kids[1]}
    elif k == "object":
        update = {"entries": [(key, v) for (key, _), v in zip(e.entries, kids, strict=True)]}
    elif k == "str":
        it = iter(kids)
        update = {"parts": [p if isinstance(p, str) else next(it) for p in e.parts]}
    else:
        return e
    return e.model_copy(update=update)
