"""Types: what values are, whether one fits where another is expected, and how they combine.

Types know nothing of positions (architecture rule 5): the checker attaches positions when it
reports.  Coercions are explicit and few (docs/language.md, Types): a ``string`` fits where a
``url``, ``file`` or ``datetime`` is expected (the runtime validates the format), ``null`` fits
an optional, ``any`` fits everything and everything fits ``any``, and a record fits ``object``.
"""

from __future__ import annotations

from dataclasses import dataclass


class Type:
    """Base of types.  Instances are immutable and compare by value."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Prim(Type):
    """A named primitive: string, number, boolean, null, any, object, datetime, duration, file,
    url."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Arr(Type):
    elem: Type

    def __str__(self) -> str:
        return f"array<{self.elem}>"


@dataclass(frozen=True, slots=True)
class Rec(Type):
    """A record with known fields, in declaration order."""

    fields: tuple[tuple[str, Type], ...]

    def get(self, name: str) -> Type | None:
        for k, t in self.fields:
            if k == name:
                return t
        return None

    @property
    def names(self) -> list[str]:
        return [k for k, _ in self.fields]

    def __str__(self) -> str:
        inner = ", ".join(f"{k}: {t}" for k, t in self.fields)
        return "{ " + inner + " }" if inner else "{}"


@dataclass(frozen=True, slots=True)
class Opt(Type):
    """``T?``: a T or null."""

    inner: Type

    def __str__(self) -> str:
        return f"{self.inner}?"


@dataclass(frozen=True, slots=True)
class Fn(Type):
    """A lambda's type."""

    params: tuple[Type, ...]
    ret: Type

    def __str__(self) -> str:
        return f"({', '.join(map(str, self.params))}) => {self.ret}"


STRING, NUMBER, BOOLEAN, NULL, ANY, OBJECT = (Prim(n) for n in (
    "string", "number", "boolean", "null", "any", "object"))
DATETIME, DURATION, FILE, URL = (Prim(n) for n in ("datetime", "duration", "file", "url"))

PRIMITIVES: dict[str, Type] = {str(t): t for t in (
    STRING, NUMBER, BOOLEAN, NULL, ANY, OBJECT, DATETIME, DURATION, FILE, URL)}
_FROM_STRING = (URL, FILE, DATETIME)


def optional(t: Type) -> Type:
    """``t?`` without doubling: optional(T?) is T?, optional(any) is any.

    >>> str(optional(optional(STRING)))
    'string?'
    """
    if isinstance(t, Opt) or t == ANY or t == NULL:
        return t
    return Opt(t)


def strip(t: Type) -> Type:
    """The type without its optional marker."""
    return t.inner if isinstance(t, Opt) else t


def assignable(src: Type, dst: Type) -> bool:
    """Whether a value of type ``src`` fits where ``dst`` is expected.

    >>> assignable(STRING, URL), assignable(NULL, Opt(NUMBER)), assignable(Opt(NUMBER), NUMBER)
    (True, True, False)
    >>> assignable(Rec((("a", NUMBER), ("b", STRING))), Rec((("a", NUMBER),)))
    True
    """
    if src == dst or src == ANY or dst == ANY:
        return True
    if isinstance(dst, Opt):
        if src == NULL:
            return True
        return assignable(strip(src), dst.inner)
    if isinstance(src, Opt) or src == NULL:
        return False
    if src == STRING and dst in _FROM_STRING:
        return True
    if isinstance(src, Arr) and isinstance(dst, Arr):
        return assignable(src.elem, dst.elem)
    if dst == OBJECT:
        return isinstance(src, Rec) or src == OBJECT
    if isinstance(dst, Rec):
        if src == OBJECT:
            return True
        if not isinstance(src, Rec):
            return False
        for name, want in dst.fields:
            have = src.get(name)
            if have is None:
                if not isinstance(want, Opt):
                    return False
            elif not assignable(have, want):
                return False
        return True
    return False


def join(a: Type, b: Type) -> Type:
    """The type of a value that is either an ``a`` or a ``b`` (array elements, ``??``).

    >>> str(join(NULL, NUMBER)), str(join(NUMBER, STRING))
    ('number?', 'any')
    """
    if a == b:
        return a
    if a == ANY or b == ANY:
        return ANY
    if a == NULL:
        return optional(b)
    if b == NULL:
        return optional(a)
    if isinstance(a, Opt) or isinstance(b, Opt):
        inner = join(strip(a), strip(b))
        return ANY if inner == ANY else optional(inner)
    if assignable(a, b):
        return b
    if assignable(b, a):
        return a
    return ANY
